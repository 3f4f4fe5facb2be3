// AVX2 W8A8 micro-kernel: tiles of 2 pixels x 8 channels over BitserialWeights' byte layout
// (L = 2). VPMADDUBSW would saturate int16 on 8-bit x 8-bit products (255 * 127 * 2 > 32767),
// so both sides are widened to int16 (weights VPMOVSXBW, activation bytes VPMOVZXBW: u8,
// v = q - min code) and VPMADDWD multiplies them and adds pairs into int32 (|2 * 255 * 128|
// fits): exact. One register holds 2 channels x 8 codes, the pixel's 8 codes sit in both
// halves; 16 multiply-adds per VPMADDWD + VPADDD. 2 pixels keep the 8 accumulators, 4 weight
// registers and the activations within the 16 ymm registers. Compiled with -mavx2; run only
// where CpuFeatures::avx2.
#include <immintrin.h>

#include <limits>

#include "kernels/int8/gemm_tile.h"

namespace bitlite {
namespace {

struct Avx2W8Ops {
  static constexpr int kWeightBits = 8;
  using Vec = __m256i;  // {channel a: 4 pair sums, channel b: 4 pair sums}
  static constexpr int kVecsPerWVec = 1;
  using WVec = __m256i;  // 2 channels x 8 codes as int16
  using XVec = __m256i;  // the pixel's 8 codes as int16, in both halves
  static constexpr int kLanes = 2;
  static constexpr int kPairs = 2;
  static constexpr int kPixels = 2;
  // The int32 lanes wrap modulo 2^32 like the epilogue: no block limit.
  static constexpr int64_t kBlockWords = std::numeric_limits<int64_t>::max();
  static Vec Zero() { return _mm256_setzero_si256(); }
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    *lo = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    *hi = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
  }
  static XVec LoadX(const uint64_t* p) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(bytes));
  }
  static void Dot(Vec (&acc)[1], WVec w, XVec x) {
    acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(w, x));
  }
  static void Store(const Vec (&acc)[4][1], int32_t* out, bool accumulate) {
    // acc[n] holds channel 2n in its low half, 2n + 1 in its high half. Two horizontal adds
    // leave (0, 2, 4, 6) in the low half and (1, 3, 5, 7) in the high half.
    const __m256i h01 = _mm256_hadd_epi32(acc[0][0], acc[1][0]);
    const __m256i h23 = _mm256_hadd_epi32(acc[2][0], acc[3][0]);
    __m256i sums = _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(h01, h23),
                                               _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    __m256i* dst = reinterpret_cast<__m256i*>(out);
    if (accumulate) sums = _mm256_add_epi32(sums, _mm256_loadu_si256(dst));
    _mm256_storeu_si256(dst, sums);
  }
};

}  // namespace

BgemmKernel BgemmW8A8Avx2() { return bgemm_int8_tile::ColumnsKernel<Avx2W8Ops>(); }

}  // namespace bitlite
