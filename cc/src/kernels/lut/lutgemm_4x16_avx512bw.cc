// AVX-512BW lookup-table micro-kernel, for CPUs without VBMI (Skylake-SP, Cascade Lake): the
// AVX2 kernel's form on 512-bit vectors, VPSHUFB looking up channel nibbles in one group's
// table per 128-bit lane (4 groups per vector), summed in bytes by lut_tile::ByteSumTile.
// Compiled with -mavx512f -mavx512bw; run only where CpuFeatures::avx512bw.
#include <immintrin.h>

#include "kernels/lut/lutgemm_tile.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace bitlite {
namespace {

using lut_tile::kTableBytes;

struct Avx512BwVec {
  using Bytes = __m512i;
  using Shorts = __m512i;
  struct Indices {
    __m512i low, high;
  };
  static Bytes ZeroBytes() { return _mm512_setzero_si512(); }
  static Shorts ZeroShorts() { return _mm512_setzero_si512(); }
  static Indices LoadIndices(const uint8_t* p) {
    const __m512i nibble = _mm512_set1_epi8(0x0f);
    const __m512i raw = _mm512_loadu_si512(p);
    return {_mm512_and_si512(raw, nibble), _mm512_and_si512(_mm512_srli_epi16(raw, 4), nibble)};
  }
  static Bytes Lookup(const int8_t* low_tables, const int8_t* high_tables, const Indices& i) {
    return _mm512_add_epi8(_mm512_shuffle_epi8(_mm512_load_si512(low_tables), i.low),
                           _mm512_shuffle_epi8(_mm512_load_si512(high_tables), i.high));
  }
  static Bytes AddBytes(Bytes a, Bytes b) { return _mm512_add_epi8(a, b); }
  static Shorts Add16(Shorts a, Shorts b) { return _mm512_add_epi16(a, b); }
  static Shorts Sub16(Shorts a, Shorts b) { return _mm512_sub_epi16(a, b); }
  // Byte b as (b << 8) in a 16-bit lane, shifted right by 8 - kShift (arithmetically where
  // signed): b * 2^kShift.
  template <int kShift, bool kSigned>
  static void Widen(Bytes b, Shorts* low, Shorts* high) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i low_bytes = _mm512_unpacklo_epi8(zero, b);
    const __m512i high_bytes = _mm512_unpackhi_epi8(zero, b);
    *low = kSigned ? _mm512_srai_epi16(low_bytes, 8 - kShift) : _mm512_srli_epi16(low_bytes, 8 - kShift);
    *high = kSigned ? _mm512_srai_epi16(high_bytes, 8 - kShift) : _mm512_srli_epi16(high_bytes, 8 - kShift);
  }
  static void AddToSums(Shorts low, Shorts high, int32_t* sums) {
    // The four lanes hold different groups of the same 8 channels.
    const Shorts halves[2] = {low, high};
    for (int h = 0; h < 2; ++h) {
      const __m512i lanes = _mm512_add_epi32(
          _mm512_cvtepi16_epi32(_mm512_castsi512_si256(halves[h])),
          _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(halves[h], 1)));  // L0+L2, L1+L3
      const __m256i both = _mm256_add_epi32(_mm512_castsi512_si256(lanes),
                                            _mm512_extracti64x4_epi64(lanes, 1));
      __m256i* out = reinterpret_cast<__m256i*>(sums + 8 * h);
      _mm256_storeu_si256(out, _mm256_add_epi32(_mm256_loadu_si256(out), both));
    }
  }
};

struct Avx512BwOps : lut_tile::LaneLayout<4> {
  template <int kAB, bool kTwos>
  static void BuildTables(const uint64_t* x, int8_t* tables) {
    // Lane L of vector q: group 4q + L. Entry p = sum_j weight_j * popcount(p & nibble_j).
    const __m512i positions = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    // Lane L's qwords shifted by 4L: nibble 4q + L of (plane >> 16q) in byte 0 of lane L.
    const __m512i lane_shifts = _mm512_setr_epi64(0, 0, 4, 4, 8, 8, 12, 12);
    lut_tile::Unroll<4>([&](auto q) __attribute__((always_inline)) {
      __m512i table = _mm512_setzero_si512();
      lut_tile::Unroll<kAB>([&](auto j) __attribute__((always_inline)) {
        constexpr int kW = PlaneWeight(j, kAB, kTwos);
        const __m512i popcounts = _mm512_broadcast_i32x4(
            _mm_setr_epi8(0, kW, kW, 2 * kW, kW, 2 * kW, 2 * kW, 3 * kW, kW, 2 * kW, 2 * kW,
                          3 * kW, 2 * kW, 3 * kW, 3 * kW, 4 * kW));
        const __m512i plane = _mm512_set1_epi64(static_cast<long long>(x[j] >> (16 * q)));
        // The nibble in every byte of its lane, then p & nibble (< 16) for every entry p.
        const __m512i nibbles =
            _mm512_shuffle_epi8(_mm512_srlv_epi64(plane, lane_shifts), _mm512_setzero_si512());
        const __m512i subsets = _mm512_and_si512(nibbles, positions);
        table = _mm512_add_epi8(table, _mm512_shuffle_epi8(popcounts, subsets));
      });
      _mm512_store_si512(tables + 4 * q * kTableBytes, table);
    });
  }

  static constexpr int kPixels = 4;
  template <int kWB, int kAB, bool kTwos, int kTilePixels>
  using Tile = lut_tile::ByteSumTile<Avx512BwVec, 4, kWB, kAB, kTwos, kTilePixels>;
};

}  // namespace

LutGemmKernel LutGemmAvx512Bw(int weight_bits, int activation_bits,
                              bool activation_twos_complement) {
  return lut_tile::Select<Avx512BwOps>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
