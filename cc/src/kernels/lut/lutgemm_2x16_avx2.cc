// AVX2 lookup-table micro-kernel: VPSHUFB looks up channel nibbles in one group's table per
// 128-bit lane (2 groups per vector), summed in bytes by lut_tile::ByteSumTile. Tables are
// built 2 groups per vector with VPSHUFB popcount lookups. Compiled with -mavx2; run only
// where CpuFeatures::avx2.
#include <immintrin.h>

#include "kernels/lut/lutgemm_tile.h"

namespace bitlite {
namespace {

using lut_tile::kBlockBytes;
using lut_tile::kTableBytes;

struct Avx2Vec {
  using Bytes = __m256i;
  using Shorts = __m256i;
  struct Indices {
    __m256i low, high;
  };
  static Bytes ZeroBytes() { return _mm256_setzero_si256(); }
  static Shorts ZeroShorts() { return _mm256_setzero_si256(); }
  static Indices LoadIndices(const uint8_t* p) {
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {_mm256_and_si256(raw, nibble), _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble)};
  }
  static Bytes Lookup(const int8_t* low_tables, const int8_t* high_tables, const Indices& i) {
    const __m256i low = _mm256_load_si256(reinterpret_cast<const __m256i*>(low_tables));
    const __m256i high = _mm256_load_si256(reinterpret_cast<const __m256i*>(high_tables));
    return _mm256_add_epi8(_mm256_shuffle_epi8(low, i.low), _mm256_shuffle_epi8(high, i.high));
  }
  static Bytes AddBytes(Bytes a, Bytes b) { return _mm256_add_epi8(a, b); }
  static Shorts Add16(Shorts a, Shorts b) { return _mm256_add_epi16(a, b); }
  static Shorts Sub16(Shorts a, Shorts b) { return _mm256_sub_epi16(a, b); }
  // Byte b as (b << 8) in a 16-bit lane, shifted right by 8 - kShift (arithmetically where
  // signed): b * 2^kShift.
  template <int kShift, bool kSigned>
  static void Widen(Bytes b, Shorts* low, Shorts* high) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i low_bytes = _mm256_unpacklo_epi8(zero, b);
    const __m256i high_bytes = _mm256_unpackhi_epi8(zero, b);
    *low = kSigned ? _mm256_srai_epi16(low_bytes, 8 - kShift) : _mm256_srli_epi16(low_bytes, 8 - kShift);
    *high = kSigned ? _mm256_srai_epi16(high_bytes, 8 - kShift) : _mm256_srli_epi16(high_bytes, 8 - kShift);
  }
  static void AddToSums(Shorts low, Shorts high, int32_t* sums) {
    // The two lanes hold different groups of the same channels.
    const Shorts halves[2] = {low, high};
    for (int h = 0; h < 2; ++h) {
      const __m256i both = _mm256_add_epi32(
          _mm256_cvtepi16_epi32(_mm256_castsi256_si128(halves[h])),
          _mm256_cvtepi16_epi32(_mm256_extracti128_si256(halves[h], 1)));
      __m256i* out = reinterpret_cast<__m256i*>(sums + 8 * h);
      _mm256_storeu_si256(out, _mm256_add_epi32(_mm256_loadu_si256(out), both));
    }
  }
};

struct Avx2Ops : lut_tile::LaneLayout<2> {
  template <int kAB, bool kTwos>
  static void BuildTables(const uint64_t* x, int8_t* tables) {
    // Lane L of vector q: group 2q + L. Entry p = sum_j weight_j * popcount(p & nibble_j).
    const __m256i positions = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    // Lane L's qwords shifted by 4L: nibble 2q + L of (plane >> 8q) in byte 0 of lane L.
    const __m256i lane_shifts = _mm256_setr_epi64x(0, 0, 4, 4);
    lut_tile::Unroll<8>([&](auto q) __attribute__((always_inline)) {
      __m256i table = _mm256_setzero_si256();
      lut_tile::Unroll<kAB>([&](auto j) __attribute__((always_inline)) {
        constexpr int kW = PlaneWeight(j, kAB, kTwos);
        const __m256i popcounts = _mm256_broadcastsi128_si256(
            _mm_setr_epi8(0, kW, kW, 2 * kW, kW, 2 * kW, 2 * kW, 3 * kW, kW, 2 * kW, 2 * kW,
                          3 * kW, 2 * kW, 3 * kW, 3 * kW, 4 * kW));
        const __m256i plane = _mm256_set1_epi64x(static_cast<long long>(x[j] >> (8 * q)));
        // The nibble in every byte of its lane, then p & nibble (< 16) for every entry p.
        const __m256i nibbles =
            _mm256_shuffle_epi8(_mm256_srlv_epi64(plane, lane_shifts), _mm256_setzero_si256());
        const __m256i subsets = _mm256_and_si256(nibbles, positions);
        table = _mm256_add_epi8(table, _mm256_shuffle_epi8(popcounts, subsets));
      });
      _mm256_store_si256(reinterpret_cast<__m256i*>(tables + 2 * q * kTableBytes), table);
    });
  }

  static constexpr int kPixels = 2;
  template <int kWB, int kAB, bool kTwos, int kTilePixels>
  using Tile = lut_tile::ByteSumTile<Avx2Vec, 2, kWB, kAB, kTwos, kTilePixels>;
};

}  // namespace

LutGemmKernel LutGemmAvx2(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return lut_tile::Select<Avx2Ops>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
