// AVX2 activation quantization to int8 codes: 32 values per step, bit-identical to
// ActivationCode. 1- and 2-bit grids count the ActivationPacking thresholds each value
// reaches (compares and subtracts, no division); wider grids use ActivationCode's IEEE
// operations (divide, round half to even, clip on floats, NaN to 0); the binary grid is its
// sign test. Compiled with -mavx2; run only where CpuFeatures says.
#include <immintrin.h>

#include "kernels/pack/activation_quantize.h"

namespace bitlite {
namespace {

// Codes of 8 values as int32, one way per grid kind; each is a template argument of
// Quantize32 so the choice is made once per call, not per vector.
struct BinaryCodes {
  explicit BinaryCodes(const ActivationPacking&) {}
  __m256i operator()(__m256 v) const {
    // -1 (all ones) where x <= -FLT_MIN (ordered: NaN gives +1), else +1.
    const __m256 negative = _mm256_cmp_ps(v, _mm256_set1_ps(-FLT_MIN), _CMP_LE_OQ);
    return _mm256_or_si256(_mm256_castps_si256(negative), _mm256_set1_epi32(1));
  }
};

// code = min + the thresholds x reaches: a compare gives -1 where it holds, so subtracting
// it counts; NaN, which reaches none ("ordered" compares), is then zeroed as ActivationCode
// does.
template <int kCount>
struct ThresholdCodes {
  explicit ThresholdCodes(const ActivationPacking& packing)
      : low(_mm256_set1_epi32(packing.grid.range.min)) {
    for (int i = 0; i < kCount; ++i) thresholds[i] = _mm256_set1_ps(packing.thresholds[i]);
  }
  __m256i operator()(__m256 v) const {
    __m256i code = low;
    for (int i = 0; i < kCount; ++i) {
      const __m256 reached = _mm256_cmp_ps(v, thresholds[i], _CMP_GE_OQ);
      code = _mm256_sub_epi32(code, _mm256_castps_si256(reached));
    }
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    return _mm256_andnot_si256(_mm256_castps_si256(nan), code);
  }
  __m256i low;
  __m256 thresholds[kCount];
};

struct DividingCodes {
  explicit DividingCodes(const ActivationPacking& packing)
      : scale(_mm256_set1_ps(packing.grid.scale)),
        low(_mm256_set1_ps(static_cast<float>(packing.grid.range.min))),
        high(_mm256_set1_ps(static_cast<float>(packing.grid.range.max))) {}
  __m256i operator()(__m256 v) const {
    const __m256 scaled = _mm256_div_ps(v, scale);
    const __m256 number = _mm256_cmp_ps(scaled, scaled, _CMP_ORD_Q);
    // max/min return their second operand for a NaN first operand: NaN lanes stay finite
    // and are zeroed below.
    __m256 code = _mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    code = _mm256_min_ps(_mm256_max_ps(code, low), high);
    return _mm256_and_si256(_mm256_cvttps_epi32(code), _mm256_castps_si256(number));
  }
  __m256 scale;
  __m256 low;
  __m256 high;
};

// 32 codes in order. The packs interleave 128-bit halves; the permute undoes it.
template <class Codes>
inline __attribute__((always_inline)) void Quantize32(const Codes& codes_of, const float* x, int8_t* codes) {
  const __m256i ab = _mm256_packs_epi32(codes_of(_mm256_loadu_ps(x)),
                                        codes_of(_mm256_loadu_ps(x + 8)));
  const __m256i cd = _mm256_packs_epi32(codes_of(_mm256_loadu_ps(x + 16)),
                                        codes_of(_mm256_loadu_ps(x + 24)));
  const __m256i bytes = _mm256_packs_epi16(ab, cd);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes),
                      _mm256_permutevar8x32_epi32(bytes, order));
}

template <class Codes>
void Quantize(const float* x, size_t count, const ActivationPacking& packing, int8_t* codes) {
  const Codes codes_of(packing);
  size_t i = 0;
  for (; i + 32 <= count; i += 32) Quantize32(codes_of, x + i, codes + i);
  if (i == count) return;
  // The tail through a zero-padded copy: no read or write past the caller's arrays.
  float tail_x[32] = {};
  int8_t tail_codes[32];
  for (size_t j = 0; j < count - i; ++j) tail_x[j] = x[i + j];
  Quantize32(codes_of, tail_x, tail_codes);
  for (size_t j = 0; j < count - i; ++j) codes[i + j] = tail_codes[j];
}

}  // namespace

void QuantizeActivationsAvx2(const float* x, size_t count, const ActivationPacking& packing,
                             int8_t* codes) {
  if (packing.grid.is_binary) return Quantize<BinaryCodes>(x, count, packing, codes);
  // 1- and 2-bit grids (1 or 3 thresholds). Seven compares and subtracts per vector (3 bits)
  // cost about what one division does, so 3-bit grids divide.
  if (packing.threshold_count == 1) return Quantize<ThresholdCodes<1>>(x, count, packing, codes);
  if (packing.threshold_count == 3) return Quantize<ThresholdCodes<3>>(x, count, packing, codes);
  Quantize<DividingCodes>(x, count, packing, codes);
}

}  // namespace bitlite
