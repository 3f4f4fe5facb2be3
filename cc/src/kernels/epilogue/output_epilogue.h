// Last step of a bitserial convolution, for a block of output pixels at once: the exact int32
// accumulators from the popcount GEMM rows and the 1-bit grids' corrections, then FORMAT.md's
// output stage, bit-identical to OutputStageReference (multiply, then add: two roundings).
#ifndef BITLITE_SRC_KERNELS_EPILOGUE_OUTPUT_EPILOGUE_H_
#define BITLITE_SRC_KERNELS_EPILOGUE_OUTPUT_EPILOGUE_H_

#include <cstdint>
#include <type_traits>

#include "kernels/epilogue/code_thresholds.h"
#include "kernels/op_params.h"
#include "kernels/pack/activation_pack.h"

namespace bitlite {

// acc[q][c] = (core[q][c] << scale_shift) + constants[q] + channel_terms[q][c] for pixel q,
// computed modulo 2^32: the true value fits int32 (FORMAT.md bounds the accumulator), so
// wrapping is exact.
struct EpilogueTerms {
  int scale_shift = 0;
  const int32_t* constants = nullptr;             // [pixels]; null: all 0
  const int32_t* const* channel_terms = nullptr;  // [pixels] rows of [channels]; null: none
};

// The constants of EpilogueTerms as a pixel loop reads them without a branch: pixel q's is
// at[q * stride], a zero read at stride 0 where there are none.
struct PixelConstants {
  const int32_t* at;
  int64_t stride;
};
inline constexpr int32_t kNoPixelConstant = 0;
inline PixelConstants PixelConstantsOf(const EpilogueTerms& terms) {
  return terms.constants != nullptr ? PixelConstants{terms.constants, 1}
                                    : PixelConstants{&kNoPixelConstant, 0};
}

// Pixel q's `channels` GEMM results at core + q * core_stride, its outputs at
// y + q * y_stride; acc: scratch for `channels` accumulators.
using EpilogueFn = void (*)(const int32_t* core, int64_t core_stride, int64_t pixels,
                            int64_t channels, const EpilogueTerms& terms,
                            const float* multiplier, const float* offset,
                            Activation activation, int32_t* acc, float* y, int64_t y_stride);

// The same outputs, written as the int8 codes of another op's input grid (FORMAT.md "Codes
// between ops"): ActivationCode(y, grid.grid) at codes + q * codes_stride, bit-identical to
// quantizing the float epilogue's y with QuantizeActivationsReference, without the floats
// ever leaving the registers. `grid`'s codes fit int8.
// `thresholds`: the same codes folded into integer compares (code_thresholds.h) for these
// channels, which an implementation may use instead of the floats; count 0: none.
using EpilogueCodesFn = void (*)(const int32_t* core, int64_t core_stride, int64_t pixels,
                                 int64_t channels, const EpilogueTerms& terms,
                                 const float* multiplier, const float* offset,
                                 Activation activation, const ActivationPacking& grid,
                                 const CodeThresholdsView& thresholds, int8_t* codes,
                                 int64_t codes_stride);

// An ADD fused into the layer (Conv2DGemm::AddOutput, FORMAT.md "Fused ops"): each output y
// becomes clamp(r + y), or clamp(y + r) where the residual is not first, with r the residual's
// element at y's place; clamp(v) = min(max(v, low), high) as the glue's ADD computes it (a NaN
// stays a NaN). The order only decides a NaN + NaN's payload, which is not specified (FORMAT.md:
// compilers swap a vector add's operands): kept as the node has it where the compiler allows.
// Where side_grid is set, the sums' codes of that grid go beside them (ActivationCode, as
// QuantizeActivationsReference writes them).
struct EpilogueResidual {
  const float* residual = nullptr;  // at the outputs' places (y_stride apart)
  bool residual_first = false;
  float low = 0.0f;
  float high = 0.0f;
  const ActivationPacking* side_grid = nullptr;
  int8_t* side_codes = nullptr;  // at the outputs' places
};

// EpilogueFn's outputs with the fused ADD (and side codes) in the same pass. The
// specification is EpilogueFn, then the glue's ADD, then the quantizer: Conv2DGemm composes
// them where a kernel row has no such function.
using EpilogueAddFn = void (*)(const int32_t* core, int64_t core_stride, int64_t pixels,
                               int64_t channels, const EpilogueTerms& terms,
                               const float* multiplier, const float* offset,
                               Activation activation, const EpilogueResidual& add, float* y,
                               int64_t y_stride);

// Integer step here, then OutputStageReference itself, pixel by pixel.
void OutputEpilogueScalar(const int32_t* core, int64_t core_stride, int64_t pixels,
                          int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                          const float* offset, Activation activation, int32_t* acc, float* y,
                          int64_t y_stride);

static_assert(static_cast<int>(ActivationKind::kNone) == 0 &&
                  static_cast<int>(ActivationKind::kRelu) == 1 &&
                  static_cast<int>(ActivationKind::kRelu6) == 2 &&
                  static_cast<int>(ActivationKind::kLeakyRelu) == 3,
              "the SIMD epilogues index their loops by ActivationKind");

// run(kind, with_terms) with the call's activation kind and whether it has channel terms as
// compile-time constants (std::integral_constant): a SIMD epilogue instantiates one loop per
// pair and picks it here.
template <class Run>
inline void WithEpilogueForm(ActivationKind kind, bool channel_terms, Run&& run) {
  auto with_terms = [&](auto terms) {
    switch (kind) {
      case ActivationKind::kNone:
        return run(std::integral_constant<ActivationKind, ActivationKind::kNone>{}, terms);
      case ActivationKind::kRelu:
        return run(std::integral_constant<ActivationKind, ActivationKind::kRelu>{}, terms);
      case ActivationKind::kRelu6:
        return run(std::integral_constant<ActivationKind, ActivationKind::kRelu6>{}, terms);
      case ActivationKind::kLeakyRelu:
        return run(std::integral_constant<ActivationKind, ActivationKind::kLeakyRelu>{}, terms);
    }
  };
  if (channel_terms) return with_terms(std::true_type{});
  with_terms(std::false_type{});
}

// A fused ADD's side codes where it has none (EpilogueResidual::side_grid null), and the
// SIMD epilogues' side-codes functor of type SideCodes for `add`: its grid's, or none.
struct NoSideCodes {};
template <class SideCodes>
SideCodes SideCodesOf(const EpilogueResidual& add) {
  if constexpr (std::is_same_v<SideCodes, NoSideCodes>) {
    return NoSideCodes{};
  } else {
    return SideCodes(*add.side_grid);
  }
}

// One SIMD epilogue loop over one pixel, specialised for one activation kind (`alpha`: the
// activation's): processes whole vectors and returns how many channels it did.
using EpilogueVectorLoop = int64_t (*)(const int32_t* core, int64_t channels, int scale_shift,
                                       int32_t constant, const int32_t* channel_terms,
                                       const float* multiplier, const float* offset,
                                       float alpha, float* y);

// What a SIMD epilogue without masked stores does around its vector loops: picks the loop for
// `activation` (indexed by its kind), runs it on every pixel, and hands each pixel's channel
// tail to the scalar epilogue.
void RunEpilogueWithScalarTail(const EpilogueVectorLoop (&loops)[4], const int32_t* core,
                               int64_t core_stride, int64_t pixels, int64_t channels,
                               const EpilogueTerms& terms, const float* multiplier,
                               const float* offset, Activation activation, int32_t* acc,
                               float* y, int64_t y_stride);

#if BITLITE_X86_KERNELS
void OutputEpilogueAvx2(const int32_t* core, int64_t core_stride, int64_t pixels,
                        int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                        const float* offset, Activation activation, int32_t* acc, float* y,
                        int64_t y_stride);
// Channel tails with masked loads and stores: no scalar part.
void OutputEpilogueAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                          int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                          const float* offset, Activation activation, int32_t* acc, float* y,
                          int64_t y_stride);
void OutputEpilogueCodesAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                               int64_t channels, const EpilogueTerms& terms,
                               const float* multiplier, const float* offset,
                               Activation activation, const ActivationPacking& grid,
                               const CodeThresholdsView& thresholds, int8_t* codes,
                               int64_t codes_stride);
void OutputEpilogueAddAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                             int64_t channels, const EpilogueTerms& terms,
                             const float* multiplier, const float* offset, Activation activation,
                             const EpilogueResidual& add, float* y, int64_t y_stride);
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
void OutputEpilogueNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                        int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                        const float* offset, Activation activation, int32_t* acc, float* y,
                        int64_t y_stride);
void OutputEpilogueAddNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                           int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                           const float* offset, Activation activation,
                           const EpilogueResidual& add, float* y, int64_t y_stride);
// Vector channel tails through zero-padded copies: no scalar part.
void OutputEpilogueCodesNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                             int64_t channels, const EpilogueTerms& terms,
                             const float* multiplier, const float* offset,
                             Activation activation, const ActivationPacking& grid,
                             const CodeThresholdsView& thresholds, int8_t* codes,
                             int64_t codes_stride);
#endif

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_EPILOGUE_OUTPUT_EPILOGUE_H_
