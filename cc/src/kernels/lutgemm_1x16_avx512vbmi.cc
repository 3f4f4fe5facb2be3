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
    // Lane L's qwords shifted by 4L: nibble 4q + L of (plane >> 16q) in byte 0 of lane L.
    const __m512i lane_shifts = _mm512_setr_epi64(0, 0, 4, 4, 8, 8, 12, 12);
    lut_tile::Unroll<4>([&](auto q) __attribute__((always_inline)) {
      __m512i table = _mm512_setzero_si512();
      lut_tile::Unroll<kAB>([&](auto j) __attribute__((always_inline)) {
        constexpr int kW = lut_tile::PlaneWeight(j, kAB, kTwos);
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

  // 4 pixels x (low, high) x (positive, negative) accumulators: enough independent VPDPBUSD
  // chains to cover its latency.
  static constexpr int kPixels = 4;

  template <int kWB, int kAB, bool kTwos, int kTilePixels>
  struct Tile {
    __m512i positive[kTilePixels][2];
    __m512i negative[kTilePixels][2];  // the top weight plane's
    int32_t* core;
    int64_t core_stride;
    bool add;

    __attribute__((always_inline)) Tile(int32_t* core_rows, int64_t stride, bool add_to_rows)
        : core(core_rows), core_stride(stride), add(add_to_rows) {
      for (int n = 0; n < kTilePixels; ++n) {
        for (int h = 0; h < 2; ++h) positive[n][h] = negative[n][h] = _mm512_setzero_si512();
      }
    }

    __attribute__((always_inline)) void Chunk(const int8_t* tables, const uint8_t* w, int k) {
      const __m512i nibble = _mm512_set1_epi8(0x0f);
      const __m512i group = _mm512_set1_epi32(0x30201000);  // byte m of a lane: table m
      lut_tile::Unroll<kWB>([&](auto i) __attribute__((always_inline)) {
        constexpr int kWeight = lut_tile::PlaneWeight(i, kWB, kWB >= 2);
        const __m512i scale = _mm512_set1_epi8(kWeight < 0 ? -kWeight : kWeight);
        const __m512i raw = _mm512_loadu_si512(w + i * kBlockBytes + 64 * k);
        // (raw & 0x0f) | group, in one VPTERNLOG each.
        const __m512i indices[2] = {
            _mm512_ternarylogic_epi32(raw, nibble, group, 0xea),
            _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw, 4), nibble, group, 0xea)};
        lut_tile::Unroll<kTilePixels>([&](auto n) __attribute__((always_inline)) {
          lut_tile::Unroll<2>([&](auto h) __attribute__((always_inline)) {
            // Chunk k's low nibbles index groups 8k..8k+3, its high ones 8k+4..8k+7.
            const __m512i groups_tables = _mm512_load_si512(
                tables + n * lut_tile::kPixelTables + (8 * k + 4 * h) * kTableBytes);
            const __m512i lookups = _mm512_permutexvar_epi8(indices[h], groups_tables);
            if constexpr (kWeight < 0) {
              negative[n][h] = _mm512_dpbusd_epi32(negative[n][h], scale, lookups);
            } else {
              positive[n][h] = _mm512_dpbusd_epi32(positive[n][h], scale, lookups);
            }
          });
        });
      });
    }

    __attribute__((always_inline)) void Store() const {
      for (int n = 0; n < kTilePixels; ++n) {
        __m512i total = _mm512_sub_epi32(_mm512_add_epi32(positive[n][0], positive[n][1]),
                                         _mm512_add_epi32(negative[n][0], negative[n][1]));
        int32_t* out = core + n * core_stride;
        if (add) total = _mm512_add_epi32(total, _mm512_loadu_si512(out));
        _mm512_storeu_si512(out, total);
      }
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
