// AVX-512 VBMI lookup-table micro-kernel: one VPERMB looks up 64 nibbles in the 64-byte tables
// of 4 groups (the index's bits 4-5 pick the group), so each 32-bit lane holds 4 lookups of
// one channel, which VPDPBUSD multiplies by the weight plane's 2^i and adds to the channel's
// int32 sum exactly: no byte sums to widen. Tables are built 4 groups per vector with VPSHUFB
// popcount lookups. Compiled with -mavx512f -mavx512bw -mavx512vbmi -mavx512vnni; run only
// where CpuFeatures::avx512_vbmi.
#include <immintrin.h>

#include "kernels/lutgemm_tile.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace bitlite {
namespace {

using lut_tile::kBlockBytes;
using lut_tile::kTableBytes;

struct Avx512VbmiOps {
  // A 64-byte chunk: byte 4c + m holds channel c's nibbles of group 8 * chunk + m (low) and
  // 8 * chunk + 4 + m (high).
  static constexpr int kChunks = 2;
  static constexpr int NibbleByte(int g, int c) { return 64 * (g / 8) + 4 * c + g % 4; }
  static constexpr bool NibbleHigh(int g, int) { return g % 8 >= 4; }

  template <int kAB, bool kTwos>
  static void BuildTables(const uint64_t* x, int8_t* tables) {
    // Lane L of vector q: group 4q + L. Entry p = sum_j weight_j * popcount(p & nibble_j).
    const __m512i positions = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i tables_q[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(),
                           _mm512_setzero_si512(), _mm512_setzero_si512()};
    lut_tile::Unroll<kAB>([&](auto j) __attribute__((always_inline)) {
      constexpr int kWeight = lut_tile::PlaneWeight(j, kAB, kTwos);
      const __m512i popcounts = _mm512_broadcast_i32x4(_mm_setr_epi8(
          0, kWeight, kWeight, 2 * kWeight, kWeight, 2 * kWeight, 2 * kWeight, 3 * kWeight,
          kWeight, 2 * kWeight, 2 * kWeight, 3 * kWeight, 2 * kWeight, 3 * kWeight,
          3 * kWeight, 4 * kWeight));
      const __m512i plane = _mm512_set1_epi64(static_cast<long long>(x[j]));
      for (int q = 0; q < 4; ++q) {
        // Nibble 4q + L to byte 0 of lane L, then to all its bytes.
        const __m512i shifts = _mm512_setr_epi64(16 * q, 16 * q, 16 * q + 4, 16 * q + 4,
                                                 16 * q + 8, 16 * q + 8, 16 * q + 12, 16 * q + 12);
        const __m512i nibbles =
            _mm512_shuffle_epi8(_mm512_srlv_epi64(plane, shifts), _mm512_setzero_si512());
        const __m512i subsets = _mm512_and_si512(nibbles, positions);  // p & nibble, < 16
        tables_q[q] = _mm512_add_epi8(tables_q[q], _mm512_shuffle_epi8(popcounts, subsets));
      }
    });
    for (int q = 0; q < 4; ++q) _mm512_store_si512(tables + 4 * q * kTableBytes, tables_q[q]);
  }

  template <int kWB, int kAB, bool kTwos>
  struct Tile {
    __m512i positive = _mm512_setzero_si512();
    __m512i negative = _mm512_setzero_si512();  // the top weight plane's

    void Chunk(const int8_t* tables, const uint8_t* w, int k) {
      const __m512i low_tables = _mm512_load_si512(tables + 8 * k * kTableBytes);
      const __m512i high_tables = _mm512_load_si512(tables + (8 * k + 4) * kTableBytes);
      const __m512i nibble = _mm512_set1_epi8(0x0f);
      const __m512i group = _mm512_set1_epi32(0x30201000);  // byte m of a lane: table m
      lut_tile::Unroll<kWB>([&](auto i) __attribute__((always_inline)) {
        constexpr int kWeight = lut_tile::PlaneWeight(i, kWB, kWB >= 2);
        const __m512i scale = _mm512_set1_epi8(kWeight < 0 ? -kWeight : kWeight);
        const __m512i raw = _mm512_loadu_si512(w + i * kBlockBytes + 64 * k);
        // (raw & 0x0f) | group, in one VPTERNLOG each.
        const __m512i low = _mm512_ternarylogic_epi32(raw, nibble, group, 0xea);
        const __m512i high =
            _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw, 4), nibble, group, 0xea);
        __m512i& sum = kWeight < 0 ? negative : positive;
        sum = _mm512_dpbusd_epi32(sum, scale, _mm512_permutexvar_epi8(low, low_tables));
        sum = _mm512_dpbusd_epi32(sum, scale, _mm512_permutexvar_epi8(high, high_tables));
      });
    }

    void Store(int32_t* core, bool add) const {
      __m512i total = _mm512_sub_epi32(positive, negative);
      if (add) total = _mm512_add_epi32(total, _mm512_loadu_si512(core));
      _mm512_storeu_si512(core, total);
    }
  };
};

}  // namespace

LutGemmKernel LutGemmAvx512Vbmi(int weight_bits, int activation_bits,
                                bool activation_twos_complement) {
  return lut_tile::Select<Avx512VbmiOps>(weight_bits, activation_bits,
                                         activation_twos_complement);
}

}  // namespace bitlite
