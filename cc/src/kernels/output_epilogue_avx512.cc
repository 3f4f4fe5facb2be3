// AVX-512 output epilogue: 16 channels per step, the same IEEE operations as the reference
// (int32 to float conversion rounding to nearest even, multiply, add, compare-and-select
// activations that let NaN through). Compiled with -mavx512f; run only where CpuFeatures says.
#include <immintrin.h>

#include "kernels/output_epilogue.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bitlite {
namespace {

template <Activation kActivation>
int64_t Run(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
            const float* multiplier, const float* offset, float* y) {
  const __m128i scale_shift = _mm_cvtsi32_si128(terms.scale_shift);
  const __m512i constant = _mm512_set1_epi32(terms.constant);
  const __m512 zero = _mm512_setzero_ps();
  const __m512 six = _mm512_set1_ps(6.0f);
  int64_t c = 0;
  for (; c + 16 <= channels; c += 16) {
    __m512i acc = _mm512_add_epi32(_mm512_sll_epi32(_mm512_loadu_si512(core + c), scale_shift), constant);
    if (terms.channel_terms != nullptr) {
      acc = _mm512_add_epi32(acc, _mm512_loadu_si512(terms.channel_terms + c));
    }
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(multiplier + c));
    v = _mm512_add_ps(v, _mm512_loadu_ps(offset + c));
    if (kActivation != Activation::kNone) {
      v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
    }
    if (kActivation == Activation::kRelu6) {
      v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, six, _CMP_GT_OQ), six);
    }
    _mm512_storeu_ps(y + c, v);
  }
  return c;
}

}  // namespace

void OutputEpilogueAvx512(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
                          const float* multiplier, const float* offset, Activation activation,
                          int32_t* acc, float* y) {
  static constexpr EpilogueVectorLoop kLoops[] = {
      Run<Activation::kNone>, Run<Activation::kRelu>, Run<Activation::kRelu6>};
  RunEpilogueWithScalarTail(kLoops, core, channels, terms, multiplier, offset, activation, acc,
                            y);
}

}  // namespace bitlite
