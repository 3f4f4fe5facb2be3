// What a convolution kernel reads and writes: float activations, or int8 activation codes
// where two bitlite ops meet (FORMAT.md "Codes between ops"). A consumer given codes skips
// its quantization; a producer asked for codes quantizes its float outputs, computed exactly
// as before, in registers, with the consumer's grid and ActivationCode's operations, so the
// consumer sees the codes it would have computed itself.
#ifndef BITLITE_SRC_KERNELS_ACTIVATION_IO_H_
#define BITLITE_SRC_KERNELS_ACTIVATION_IO_H_

#include <cstdint>

#include "kernels/pack/activation_pack.h"

namespace bitlite {

// Grids whose codes fit int8, the only ones kept as codes: every sub-byte grid and the signed
// 8-bit one (the unsigned 8-bit grid reaches 255).
inline bool CodesFitInt8(const ActivationGrid& grid) {
  return grid.range.min >= -128 && grid.range.max <= 127;
}

// Exactly one of the two is set.
struct ActivationInput {
  const float* values = nullptr;  // NHWC floats
  const int8_t* codes = nullptr;  // NHWC codes of the op's own input grid
};

struct ActivationOutput {
  float* values = nullptr;  // NHWC floats, or
  int8_t* codes = nullptr;  // NHWC codes of `grid` (one that fits int8)
  const ActivationPacking* grid = nullptr;
  // With floats, their codes of `side_grid` beside them (FORMAT.md "Codes beside floats"),
  // or null. Only a convolution with a fused op (Conv2DGemm::PoolOutput, AddOutput) takes
  // them.
  int8_t* side_codes = nullptr;
  const ActivationPacking* side_grid = nullptr;
  // With floats: the other operand of an ADD fused into the layer (Conv2DGemm::AddOutput),
  // one element per output, or null.
  const float* residual = nullptr;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_ACTIVATION_IO_H_
