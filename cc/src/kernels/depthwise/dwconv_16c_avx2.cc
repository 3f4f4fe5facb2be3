// AVX2 depthwise micro-kernel: 16 channels as int16 lanes of one ymm register; codes
// sign-extended from bytes (VPMOVSXBW), multiplied (VPMULLW: products fit int16) and summed
// in int16 within a chunk (dwconv.h proves it exact). Compiled with -mavx2; run only where
// CpuFeatures says.
#include <immintrin.h>

#include "kernels/depthwise/dwconv_row.h"

namespace bitlite {
namespace {

struct Avx2Ops {
  static constexpr int kLanes = 16;
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
    __m256i low = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc));
    __m256i high = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc, 1));
    __m256i* out_low = reinterpret_cast<__m256i*>(out);
    __m256i* out_high = reinterpret_cast<__m256i*>(out + 8);
    if (add) {
      low = _mm256_add_epi32(low, _mm256_loadu_si256(out_low));
      high = _mm256_add_epi32(high, _mm256_loadu_si256(out_high));
    }
    _mm256_storeu_si256(out_low, low);
    _mm256_storeu_si256(out_high, high);
  }
};

}  // namespace

void DwconvRow16cAvx2(const DwconvRowParams& params) { dwconv_row::Run<Avx2Ops>(params); }

}  // namespace bitlite
