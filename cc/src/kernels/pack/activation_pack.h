// First step of a bitserial convolution: quantize float activations to codes (FORMAT.md,
// bit-identical to ActivationCode) and store their plane values (bitserial_planes.h) as bit
// planes, in one pass over the input.
#ifndef BITLITE_SRC_KERNELS_PACK_ACTIVATION_PACK_H_
#define BITLITE_SRC_KERNELS_PACK_ACTIVATION_PACK_H_

#include <cstdint>

#include "kernels/reference/activation_quantize_reference.h"
#include "kernels/gemm/bitserial_planes.h"

namespace bitlite {

// What the packers need of one op's activations, computed once at Prepare.
struct ActivationPacking {
  ActivationGrid grid;
  PlaneGrid planes;
  // Where nonzero: a multi-level grid of up to 3 bits whose codes follow from compares, no
  // division. ActivationCode is monotone in x, so for non-NaN x
  //   code >= grid.range.min + 1 + i  <=>  x >= thresholds[i],
  // and a code is min plus the thresholds it reaches. NaN (code 0) reaches exactly the
  // first -grid.range.min of them. The thresholds are normal floats or infinite, so a CPU
  // that treats denormals as zero decides every input like ActivationCode does there.
  int threshold_count = 0;
  float thresholds[7] = {};
};

ActivationPacking MakeActivationPacking(const ActivationGrid& grid, const PlaneGrid& planes);

// x: pixel p's `channels` floats at x + p * x_stride; out: [pixels][WordsPerTap][planes.Planes()]
// words (the bgemm.h x layout of one tap, so taps are read whole). Bit planes: bit ci % 64 of
// word ci / 64 of plane j is bit j of the plane value of channel ci. Bytes (planes.bytes):
// byte ci of the pixel's words is its value v. Codes past `channels` are 0.
// sums[p]: the sum of the plane values of pixel p (what 1-bit weights need).
using ActivationPackFn = void (*)(const float* x, int64_t x_stride, int64_t pixels,
                                  int64_t channels, const ActivationPacking& packing,
                                  uint64_t* out, int32_t* sums);

void PackActivationsScalar(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                           const ActivationPacking& packing, uint64_t* out, int32_t* sums);
// The same layout from int8 codes of the op's grid (FORMAT.md "Codes between ops": another
// op quantized them): no quantization left, only the plane bits or bytes and the sums.
using ActivationCodePackFn = void (*)(const int8_t* codes, int64_t codes_stride, int64_t pixels,
                                      int64_t channels, const PlaneGrid& planes, uint64_t* out,
                                      int32_t* sums);

#if BITLITE_X86_KERNELS
// AVX512BW (byte masks).
void PackActivationCodesAvx512(const int8_t* codes, int64_t codes_stride, int64_t pixels,
                               int64_t channels, const PlaneGrid& planes, uint64_t* out,
                               int32_t* sums);
void PackActivationsAvx2(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                         const ActivationPacking& packing, uint64_t* out, int32_t* sums);
void PackActivationsAvx512(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                           const ActivationPacking& packing, uint64_t* out, int32_t* sums);
// Bytes only (planes.bytes), for the int8 kernels; the scalar packer does both encodings.
void PackActivationBytesAvx2(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                             const ActivationPacking& packing, uint64_t* out, int32_t* sums);
void PackActivationBytesAvx512(const float* x, int64_t x_stride, int64_t pixels,
                               int64_t channels, const ActivationPacking& packing,
                               uint64_t* out, int32_t* sums);
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
// Bit planes only (the NEON GEMM's encoding).
void PackActivationsNeon(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                         const ActivationPacking& packing, uint64_t* out, int32_t* sums);
// Bytes only (planes.bytes), for the int8 kernels.
void PackActivationBytesNeon(const float* x, int64_t x_stride, int64_t pixels,
                             int64_t channels, const ActivationPacking& packing, uint64_t* out,
                             int32_t* sums);
// Both encodings, from codes.
void PackActivationCodesNeon(const int8_t* codes, int64_t codes_stride, int64_t pixels,
                             int64_t channels, const PlaneGrid& planes, uint64_t* out,
                             int32_t* sums);
#endif

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_PACK_ACTIVATION_PACK_H_
