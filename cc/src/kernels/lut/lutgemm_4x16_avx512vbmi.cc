// AVX-512 VBMI lookup-table micro-kernel: one VPERMB looks up 64 nibbles in the 64-byte tables
// of 4 groups (the index's bits 4-5 pick the group), so each 32-bit lane holds 4 lookups of
// one channel, which VPDPBUSD multiplies by the weight plane's 2^i and adds to the channel's
// int32 sum exactly: no byte sums to widen. Tables are built 4 groups per vector from the
// activation values as bytes, spread with VPERMB and added under byte masks. Compiled with
// -mavx512f -mavx512bw -mavx512vbmi -mavx512vnni; run only where CpuFeatures::avx512_vbmi.
#include <immintrin.h>

#include "kernels/lut/lutgemm_tile.h"

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
    // The word's 64 activation values as bytes: weight_j added where plane j has its bit.
    __m512i values = _mm512_setzero_si512();
    lut_tile::Unroll<kAB>([&](auto j) __attribute__((always_inline)) {
      values = _mm512_mask_add_epi8(values, static_cast<__mmask64>(x[j]), values,
                                    _mm512_set1_epi8(PlaneWeight(j, kAB, kTwos)));
    });
    // Vector q holds groups 4q + L in lane L: entry p sums value 4(4q + L) + m over the bits m
    // of p, so value 4(4q + L) + m is spread over lane L (VPERMB) and added to the entries
    // with bit m (a constant byte mask).
    constexpr __mmask64 kEntriesWithBit[4] = {0xaaaaaaaaaaaaaaaa, 0xcccccccccccccccc,
                                              0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00};
    const __m512i lane_codes = _mm512_setr_epi32(0, 0, 0, 0, 0x04040404, 0x04040404, 0x04040404,
                                                 0x04040404, 0x08080808, 0x08080808, 0x08080808,
                                                 0x08080808, 0x0c0c0c0c, 0x0c0c0c0c, 0x0c0c0c0c,
                                                 0x0c0c0c0c);  // byte 16L + p: 4L
    lut_tile::Unroll<4>([&](auto q) __attribute__((always_inline)) {
      __m512i table = _mm512_setzero_si512();
      lut_tile::Unroll<4>([&](auto m) __attribute__((always_inline)) {
        const __m512i spread = _mm512_permutexvar_epi8(
            _mm512_add_epi8(lane_codes, _mm512_set1_epi8(static_cast<char>(16 * q + m))), values);
        table = _mm512_mask_add_epi8(table, kEntriesWithBit[m], table, spread);
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
        constexpr int kWeight = PlaneWeight(i, kWB, kWB >= 2);
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
