// AVX2 depthwise micro-kernel: 16 channels as int16 lanes of one ymm register; codes
// sign-extended from bytes (VPMOVSXBW), multiplied (VPMULLW: products fit int16) and summed
// in int16 within a chunk (dwconv.h proves it exact). W8A8: the same int16 products (exact up
// to 128 * 128), each widened to two int32 registers (VPMOVSXWD) before it is added.
// Compiled with -mavx2; run only where CpuFeatures says.
#include <immintrin.h>

#include "kernels/depthwise/dwconv_row.h"

namespace bitlite {
namespace {

// out[0..15] = (or +=) the int32 lanes of low and high.
inline void Store32(__m256i low, __m256i high, int32_t* out, bool add) {
  __m256i* out_low = reinterpret_cast<__m256i*>(out);
  __m256i* out_high = reinterpret_cast<__m256i*>(out + 8);
  if (add) {
    low = _mm256_add_epi32(low, _mm256_loadu_si256(out_low));
    high = _mm256_add_epi32(high, _mm256_loadu_si256(out_high));
  }
  _mm256_storeu_si256(out_low, low);
  _mm256_storeu_si256(out_high, high);
}

struct Avx2Ops {
  static constexpr int kLanes = 16;
  static constexpr int kTapBytes = kLanes / 2;
  using Weights = __m256i;
  using Acc = __m256i;
  static constexpr int kPixels = 2;
  static Weights DecodeWeights(const uint8_t* packed) {
    // Sign-extended bytes: an arithmetic shift right by 4 leaves the signed high nibble, a
    // shift left by 12 and back the signed low nibble.
    const __m128i bytes =
        _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed)));
    const __m128i low = _mm_srai_epi16(_mm_slli_epi16(bytes, 12), 12);
    const __m128i high = _mm_srai_epi16(bytes, 4);
    return _mm256_set_m128i(high, low);
  }
  static Acc Zero() { return _mm256_setzero_si256(); }
  static Acc MultiplyAdd(Acc acc, const int8_t* x, Weights w) {
    const __m256i codes =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
    return _mm256_add_epi16(acc, _mm256_mullo_epi16(codes, w));
  }
  static void Store(Acc acc, int32_t* out, bool add) {
    Store32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc)),
            _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc, 1)), out, add);
  }
};

struct Avx2W8A8Ops {
  static constexpr int kLanes = 16;
  static constexpr int kTapBytes = kLanes;
  using Weights = __m256i;  // 16 int16
  struct Acc {
    __m256i low;   // lanes 0-7, int32
    __m256i high;  // lanes 8-15
  };
  static constexpr int kPixels = 2;
  static Weights DecodeWeights(const uint8_t* packed) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(packed)));
  }
  static Acc Zero() { return {_mm256_setzero_si256(), _mm256_setzero_si256()}; }
  static Acc MultiplyAdd(Acc acc, const int8_t* x, Weights w) {
    const __m256i codes =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
    const __m256i products = _mm256_mullo_epi16(codes, w);
    acc.low = _mm256_add_epi32(acc.low, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(products)));
    acc.high =
        _mm256_add_epi32(acc.high, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(products, 1)));
    return acc;
  }
  static void Store(const Acc& acc, int32_t* out, bool add) {
    Store32(acc.low, acc.high, out, add);
  }
};

}  // namespace

void DwconvRow16cAvx2(const DwconvRowParams& params) { dwconv_row::Run<Avx2Ops>(params); }

void DwconvRow16cW8A8Avx2(const DwconvRowParams& params) {
  dwconv_row::Run<Avx2W8A8Ops>(params);
}

}  // namespace bitlite
