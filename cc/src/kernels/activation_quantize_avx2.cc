// AVX2 activation quantization to int8 codes: 32 values per step, the same IEEE operations as
// ActivationCode (divide, round half to even, clip on floats, NaN to 0; the binary grid's
// sign test). Compiled with -mavx2; run only where CpuFeatures says.
#include <immintrin.h>

#include "kernels/activation_quantize.h"

namespace bitlite {
namespace {

struct Quantizer {
  explicit Quantizer(const ActivationGrid& grid)
      : binary(grid.is_binary),
        scale(_mm256_set1_ps(grid.scale)),
        low(_mm256_set1_ps(static_cast<float>(grid.range.min))),
        high(_mm256_set1_ps(static_cast<float>(grid.range.max))) {}

  // 8 codes as int32.
  __m256i Codes(const float* x) const {
    const __m256 v = _mm256_loadu_ps(x);
    if (binary) {
      // -1 (all ones) where x <= -FLT_MIN (ordered: NaN gives +1), else +1.
      const __m256 negative = _mm256_cmp_ps(v, _mm256_set1_ps(-FLT_MIN), _CMP_LE_OQ);
      return _mm256_or_si256(_mm256_castps_si256(negative), _mm256_set1_epi32(1));
    }
    const __m256 scaled = _mm256_div_ps(v, scale);
    const __m256 number = _mm256_cmp_ps(scaled, scaled, _CMP_ORD_Q);
    // max/min return their second operand for a NaN first operand: NaN lanes stay finite
    // and are zeroed below.
    __m256 code = _mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    code = _mm256_min_ps(_mm256_max_ps(code, low), high);
    return _mm256_and_si256(_mm256_cvttps_epi32(code), _mm256_castps_si256(number));
  }

  // 32 codes in order. The packs interleave 128-bit halves; the permute undoes it.
  void Quantize32(const float* x, int8_t* codes) const {
    const __m256i ab = _mm256_packs_epi32(Codes(x), Codes(x + 8));
    const __m256i cd = _mm256_packs_epi32(Codes(x + 16), Codes(x + 24));
    const __m256i bytes = _mm256_packs_epi16(ab, cd);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes),
                        _mm256_permutevar8x32_epi32(bytes, order));
  }

  bool binary;
  __m256 scale;
  __m256 low;
  __m256 high;
};

}  // namespace

void QuantizeActivationsAvx2(const float* x, size_t count, const ActivationGrid& grid,
                             int8_t* codes) {
  const Quantizer quantizer(grid);
  size_t i = 0;
  for (; i + 32 <= count; i += 32) quantizer.Quantize32(x + i, codes + i);
  if (i == count) return;
  // The tail through a zero-padded copy: no read or write past the caller's arrays.
  float tail_x[32] = {};
  int8_t tail_codes[32];
  for (size_t j = 0; j < count - i; ++j) tail_x[j] = x[i + j];
  quantizer.Quantize32(tail_x, tail_codes);
  for (size_t j = 0; j < count - i; ++j) codes[i + j] = tail_codes[j];
}

}  // namespace bitlite
