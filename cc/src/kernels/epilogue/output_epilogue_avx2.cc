// AVX2 output epilogue: 8 channels per step, the same IEEE operations as the reference
// (int32 to float conversion rounding to nearest even, multiply, add, compare-and-select
// activations that let NaN through; LEAKY_RELU's select on y > 0). Compiled with -mavx2; run
// only where CpuFeatures says.
#include <immintrin.h>

#include "kernels/epilogue/output_epilogue.h"

namespace bitlite {
namespace {

template <ActivationKind kActivation>
int64_t Run(const int32_t* core, int64_t channels, int scale_shift, int32_t constant,
            const int32_t* channel_terms, const float* multiplier, const float* offset,
            float alpha, float* y) {
  const __m128i shift = _mm_cvtsi32_si128(scale_shift);
  const __m256i constant_vector = _mm256_set1_epi32(constant);
  const __m256 zero = _mm256_setzero_ps();
  const __m256 six = _mm256_set1_ps(6.0f);
  const __m256 alpha_vector = _mm256_set1_ps(alpha);
  int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    const __m256i core_vector = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(core + c));
    __m256i acc = _mm256_add_epi32(_mm256_sll_epi32(core_vector, shift), constant_vector);
    if (channel_terms != nullptr) {
      acc = _mm256_add_epi32(
          acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(channel_terms + c)));
    }
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(multiplier + c));
    v = _mm256_add_ps(v, _mm256_loadu_ps(offset + c));
    if (kActivation == ActivationKind::kLeakyRelu) {
      v = _mm256_blendv_ps(_mm256_mul_ps(v, alpha_vector), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
    } else if (kActivation != ActivationKind::kNone) {
      v = _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    }
    if (kActivation == ActivationKind::kRelu6) {
      v = _mm256_blendv_ps(v, six, _mm256_cmp_ps(v, six, _CMP_GT_OQ));
    }
    _mm256_storeu_ps(y + c, v);
  }
  return c;
}

}  // namespace

void OutputEpilogueAvx2(const int32_t* core, int64_t core_stride, int64_t pixels,
                        int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                        const float* offset, Activation activation, int32_t* acc, float* y,
                        int64_t y_stride) {
  static constexpr EpilogueVectorLoop kLoops[] = {
      Run<ActivationKind::kNone>, Run<ActivationKind::kRelu>, Run<ActivationKind::kRelu6>,
      Run<ActivationKind::kLeakyRelu>};
  RunEpilogueWithScalarTail(kLoops, core, core_stride, pixels, channels, terms, multiplier,
                            offset, activation, acc, y, y_stride);
}

}  // namespace bitlite
