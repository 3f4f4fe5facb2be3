// AVX-512 output epilogue: 16 channels per step, the channel tail under a mask, with the same
// IEEE operations as the reference (int32 to float conversion rounding to nearest even,
// multiply, add, compare-and-select activations that let NaN through). Compiled with
// -mavx512f; run only where CpuFeatures says.
#include <immintrin.h>

#include "kernels/epilogue/output_epilogue.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bitlite {
namespace {

// 16 channels (the lanes in `lanes`) of one pixel.
template <Activation kActivation, bool kChannelTerms>
inline __attribute__((always_inline)) void Step(const int32_t* core, __m128i shift,
                                                __m512i constant, const int32_t* channel_terms,
                                                __m512 multiplier, __m512 offset, float* y,
                                                __mmask16 lanes) {
  __m512i acc = _mm512_add_epi32(_mm512_sll_epi32(_mm512_maskz_loadu_epi32(lanes, core), shift),
                                 constant);
  if (kChannelTerms) acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(lanes, channel_terms));
  __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), multiplier), offset);
  if (kActivation != Activation::kNone) {
    const __m512 zero = _mm512_setzero_ps();
    v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
  }
  if (kActivation == Activation::kRelu6) {
    const __m512 six = _mm512_set1_ps(6.0f);
    v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, six, _CMP_GT_OQ), six);
  }
  _mm512_mask_storeu_ps(y, lanes, v);
}

// Channels outside, pixels inside: a vector's multipliers and offsets stay in registers
// while the chunk's pixels (in L1) pass.
template <Activation kActivation, bool kChannelTerms>
inline __attribute__((always_inline)) void Column(const int32_t* core, int64_t core_stride,
                                                  int64_t pixels, const EpilogueTerms& terms,
                                                  __m128i shift, const float* multiplier,
                                                  const float* offset, float* y,
                                                  int64_t y_stride, int64_t c, __mmask16 lanes) {
  const __m512 m = _mm512_maskz_loadu_ps(lanes, multiplier + c);
  const __m512 o = _mm512_maskz_loadu_ps(lanes, offset + c);
  // Locals: the stores to y could alias `terms` for all the compiler knows.
  const int32_t* constants = terms.constants;
  const int32_t* const* channel_terms = terms.channel_terms;
  for (int64_t q = 0; q < pixels; ++q) {
    const __m512i constant = _mm512_set1_epi32(constants != nullptr ? constants[q] : 0);
    Step<kActivation, kChannelTerms>(core + q * core_stride + c, shift, constant,
                                     kChannelTerms ? channel_terms[q] + c : nullptr, m, o,
                                     y + q * y_stride + c, lanes);
  }
}

template <Activation kActivation, bool kChannelTerms>
void Run(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
         const EpilogueTerms& terms, const float* multiplier, const float* offset, float* y,
         int64_t y_stride) {
  const __m128i shift = _mm_cvtsi32_si128(terms.scale_shift);
  const int64_t full = channels / 16 * 16;
  for (int64_t c = 0; c < full; c += 16) {
    Column<kActivation, kChannelTerms>(core, core_stride, pixels, terms, shift, multiplier,
                                       offset, y, y_stride, c, 0xffff);
  }
  if (full < channels) {
    Column<kActivation, kChannelTerms>(core, core_stride, pixels, terms, shift, multiplier,
                                       offset, y, y_stride, full,
                                       static_cast<__mmask16>((1u << (channels - full)) - 1));
  }
}

using RowsLoop = void (*)(const int32_t* core, int64_t core_stride, int64_t pixels,
                          int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                          const float* offset, float* y, int64_t y_stride);

}  // namespace

void OutputEpilogueAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                          int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                          const float* offset, Activation activation, int32_t*, float* y,
                          int64_t y_stride) {
  // [has channel terms][activation]
  static constexpr RowsLoop kLoops[2][3] = {
      {Run<Activation::kNone, false>, Run<Activation::kRelu, false>,
       Run<Activation::kRelu6, false>},
      {Run<Activation::kNone, true>, Run<Activation::kRelu, true>,
       Run<Activation::kRelu6, true>}};
  kLoops[terms.channel_terms != nullptr ? 1 : 0][static_cast<int>(activation)](
      core, core_stride, pixels, channels, terms, multiplier, offset, y, y_stride);
}

}  // namespace bitlite
