// AVX-512 VNNI int8 micro-kernel (the widened-int path for 3-4 bit codes): tiles of 8 pixels
// x 16 channels, 16 independent accumulators to cover VPDPBUSD's latency (12 pixels made GCC
// spill accumulators and ran 1.5x slower; 8 divides the driver's 64-pixel chunks). One
// 64-byte load holds a word (8 codes) of 16 channels as nibbles (BitserialWeights' nibble
// layout, L = 8); an AND and a shift widen it to two registers of 8 channels x 8 bytes.
// VPDPBUSD multiplies the broadcast activation bytes (uint8 v) with those bytes (v <= 15, so
// non-negative as int8) and adds the products in 4-byte groups to 32-bit lanes, so each
// channel's 64-bit lane holds two partial sums, added at the end. One instruction does 64
// multiply-adds, where the bitserial kernel needs weight_bits * activation_bits popcounts for
// 8 x 64 one-bit products.
// W8A8: the weights are int8 bytes (BitserialWeights' byte layout), two plain loads instead of
// the AND and shift; VPDPBUSD's u8 x s8 takes them as they are, with the activations as u8
// (v = q + 128 on the signed grid, corrected like the nibbles' offset). 255 * -128 * 4 fits
// int32, and VPDPBUSD (unlike VPDPBUSDS) does not saturate: exact.
// Compiled with -mavx512f -mavx512vnni; run only where CpuFeatures::avx512_vnni.
#include <immintrin.h>

#include <limits>

#include "kernels/int8/gemm_tile.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace bitlite {
namespace {

struct Avx512VnniOps {
  static constexpr int kWeightBits = 4;
  using Vec = __m512i;
  static constexpr int kVecsPerWVec = 1;
  using WVec = __m512i;
  using XVec = __m512i;
  static constexpr int kLanes = 8;
  static constexpr int kPairs = 1;
  static constexpr int kPixels = 8;
  // The int32 lanes wrap modulo 2^32 like the epilogue: no block limit.
  static constexpr int64_t kBlockWords = std::numeric_limits<int64_t>::max();
  static Vec Zero() { return _mm512_setzero_si512(); }
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    const __m512i nibbles = _mm512_loadu_si512(p);
    const __m512i mask = _mm512_set1_epi8(0x0f);
    *lo = _mm512_and_si512(nibbles, mask);
    *hi = _mm512_and_si512(_mm512_srli_epi64(nibbles, 4), mask);
  }
  static XVec LoadX(const uint64_t* p) { return _mm512_set1_epi64(static_cast<long long>(*p)); }
  // Inline assembly, not _mm512_dpbusd_epi32: with the intrinsic GCC 12 copies and spills
  // the accumulators around every VPDPBUSD of the tile.
  static void Dot(Vec (&acc)[1], WVec w, XVec x) {
    __asm__("vpdpbusd %[w], %[x], %[acc]" : [acc] "+v"(acc[0]) : [x] "v"(x), [w] "v"(w));
  }
  // The two 32-bit partial sums of each channel's 64-bit lane (channels 0-7 in acc[0], 8-15
  // in acc[1]) gathered into the 16 channels' order, the first of each pair in one register,
  // the second in another, and added modulo 2^32: one store per pixel (a shift, a narrowing
  // VPMOVQD and a 256-bit store for each half took most of a 2-word tile's time).
  static void Store(const Vec (&acc)[2][1], int32_t* out, bool accumulate) {
    const __m512i first = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                            28, 30);
    const __m512i second = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                             29, 31);
    __m512i sums = _mm512_add_epi32(_mm512_permutex2var_epi32(acc[0][0], first, acc[1][0]),
                                    _mm512_permutex2var_epi32(acc[0][0], second, acc[1][0]));
    if (accumulate) sums = _mm512_add_epi32(sums, _mm512_loadu_si512(out));
    _mm512_storeu_si512(out, sums);
  }
};

struct Avx512VnniW8Ops : Avx512VnniOps {
  static constexpr int kWeightBits = 8;
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    *lo = _mm512_loadu_si512(p);
    *hi = _mm512_loadu_si512(p + 64);
  }
};

}  // namespace

// Both forms: the driver takes the indirect one (no im2col); the columns stay for callers
// that have them.
BgemmKernel BgemmInt8Avx512Vnni() {
  return {&bgemm_int8_tile::Bgemm<Avx512VnniOps>, Avx512VnniOps::kLanes,
          &bgemm_int8_tile::BgemmIndirect<Avx512VnniOps>};
}

BgemmKernel BgemmW8A8Avx512Vnni() {
  return {&bgemm_int8_tile::Bgemm<Avx512VnniW8Ops>, Avx512VnniW8Ops::kLanes,
          &bgemm_int8_tile::BgemmIndirect<Avx512VnniW8Ops>};
}

}  // namespace bitlite
