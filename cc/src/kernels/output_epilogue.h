// Last step of a bitserial convolution, one output pixel at a time: the exact int32
// accumulators from the popcount GEMM row and the 1-bit grids' corrections, then FORMAT.md's
// output stage, bit-identical to OutputStageReference (multiply, then add: two roundings).
#ifndef BITLITE_SRC_KERNELS_OUTPUT_EPILOGUE_H_
#define BITLITE_SRC_KERNELS_OUTPUT_EPILOGUE_H_

#include <cstdint>

#include "op_options.h"

namespace bitlite {

// acc[c] = (core[c] << scale_shift) + constant + channel_terms[c], computed modulo 2^32:
// the true value fits int32 (FORMAT.md bounds the accumulator), so wrapping is exact.
struct EpilogueTerms {
  int scale_shift = 0;
  int32_t constant = 0;
  const int32_t* channel_terms = nullptr;  // [channels]; null: none
};

// acc: scratch for `channels` accumulators; y: the pixel's `channels` outputs.
using EpilogueFn = void (*)(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
                            const float* multiplier, const float* offset,
                            Activation activation, int32_t* acc, float* y);

// Integer step here, then OutputStageReference itself. The SIMD versions run their full
// vectors and hand the channel tail to this one.
void OutputEpilogueScalar(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
                          const float* multiplier, const float* offset, Activation activation,
                          int32_t* acc, float* y);

static_assert(static_cast<int>(Activation::kNone) == 0 &&
                  static_cast<int>(Activation::kRelu) == 1 &&
                  static_cast<int>(Activation::kRelu6) == 2,
              "RunEpilogueWithScalarTail indexes its loops by Activation");

// One SIMD epilogue loop, specialised for one activation: processes whole vectors and returns
// how many channels it did.
using EpilogueVectorLoop = int64_t (*)(const int32_t* core, int64_t channels,
                                       const EpilogueTerms& terms, const float* multiplier,
                                       const float* offset, float* y);

// What every SIMD epilogue does around its vector loops: picks the loop for `activation`
// (indexed by Activation's value), runs it, and hands the channel tail to the scalar epilogue.
void RunEpilogueWithScalarTail(const EpilogueVectorLoop (&loops)[3], const int32_t* core,
                               int64_t channels, const EpilogueTerms& terms,
                               const float* multiplier, const float* offset,
                               Activation activation, int32_t* acc, float* y);

#if BITLITE_X86_KERNELS
void OutputEpilogueAvx2(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
                        const float* multiplier, const float* offset, Activation activation,
                        int32_t* acc, float* y);
void OutputEpilogueAvx512(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
                          const float* multiplier, const float* offset, Activation activation,
                          int32_t* acc, float* y);
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
void OutputEpilogueNeon(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
                        const float* multiplier, const float* offset, Activation activation,
                        int32_t* acc, float* y);
#endif

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_OUTPUT_EPILOGUE_H_
