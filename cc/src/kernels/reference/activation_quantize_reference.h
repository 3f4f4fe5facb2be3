// Input quantization to activation codes, exactly as FORMAT.md "Quantization grids" says.
#ifndef BITLITE_SRC_KERNELS_REFERENCE_ACTIVATION_QUANTIZE_REFERENCE_H_
#define BITLITE_SRC_KERNELS_REFERENCE_ACTIVATION_QUANTIZE_REFERENCE_H_

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/op_params.h"

namespace bitlite {

// One activation code: int16, because the unsigned 8-bit grid reaches 255.
using ActivationCodeT = int16_t;

struct ActivationGrid {
  float scale = 1.0f;
  CodeRange range = {0, 1};
  bool is_binary = false;  // signed 1 bit: the {-1, +1} grid, decided by sign alone
};

ActivationGrid MakeActivationGrid(const OpParams& params);

// The binary grid's sign test: -1 only at or below the smallest normal float, so a CPU that
// flushes denormals (TensorFlow's, or armv7 under tflite-runtime) decides like one that does
// not, and NaN (unordered) gives +1.
inline bool IsBinaryNegative(float x) { return x <= -FLT_MIN; }

// One code. NaN never reaches the float-to-int conversion: it maps to 0 (to +1 on the
// binary grid), and the clip happens on floats, so no value is UB.
inline ActivationCodeT ActivationCode(float x, const ActivationGrid& grid) {
  if (grid.is_binary) return IsBinaryNegative(x) ? -1 : 1;
  const float scaled = x / grid.scale;
  if (std::isnan(scaled)) return 0;
  float code = std::nearbyint(scaled);
  code = code < grid.range.min ? static_cast<float>(grid.range.min) : code;
  code = code > grid.range.max ? static_cast<float>(grid.range.max) : code;
  return static_cast<ActivationCodeT>(code);
}

void QuantizeActivationsReference(const float* x, size_t count, const ActivationGrid& grid,
                                  ActivationCodeT* codes);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_REFERENCE_ACTIVATION_QUANTIZE_REFERENCE_H_
