// AVX2 lookup-table micro-kernel: VPSHUFB looks up channel nibbles in one group's table per
// 128-bit lane (2 groups per vector); each weight plane sums its lookups in bytes, widened to
// int16 (shifted by the plane's weight) before a byte can overflow and to int32 before an
// int16 can (lut_tile::ByteSumChunks, Int16Widenings). Compiled with -mavx2; run only where
// CpuFeatures::avx2.
#include <immintrin.h>

#include "kernels/lutgemm_tile.h"

namespace bitlite {
namespace {

using lut_tile::kBlockBytes;
using lut_tile::kTableBytes;

struct Avx2Ops : lut_tile::LaneLayout<2> {
  template <int kAB, bool kTwos>
  static void BuildTables(const uint64_t* x, int8_t* tables) {
    // Lane L of vector q: group 2q + L. Entry p = sum_j weight_j * popcount(p & nibble_j).
    const __m256i positions = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                               15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                               14, 15);
    __m256i tables_q[8];
    for (__m256i& t : tables_q) t = _mm256_setzero_si256();
    lut_tile::Unroll<kAB>([&](auto j) __attribute__((always_inline)) {
      constexpr int kW = lut_tile::PlaneWeight(j, kAB, kTwos);
      const __m256i popcounts = _mm256_broadcastsi128_si256(
          _mm_setr_epi8(0, kW, kW, 2 * kW, kW, 2 * kW, 2 * kW, 3 * kW, kW, 2 * kW, 2 * kW, 3 * kW,
                        2 * kW, 3 * kW, 3 * kW, 4 * kW));
      const __m256i plane = _mm256_set1_epi64x(static_cast<long long>(x[j]));
      for (int q = 0; q < 8; ++q) {
        // Nibble 2q + L to byte 0 of lane L, then to all its bytes.
        const __m256i shifts = _mm256_setr_epi64x(8 * q, 8 * q, 8 * q + 4, 8 * q + 4);
        const __m256i nibbles =
            _mm256_shuffle_epi8(_mm256_srlv_epi64(plane, shifts), _mm256_setzero_si256());
        const __m256i subsets = _mm256_and_si256(nibbles, positions);  // p & nibble, < 16
        tables_q[q] = _mm256_add_epi8(tables_q[q], _mm256_shuffle_epi8(popcounts, subsets));
      }
    });
    for (int q = 0; q < 8; ++q) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(tables + 2 * q * kTableBytes), tables_q[q]);
    }
  }

  template <int kWB, int kAB, bool kTwos>
  struct Tile {
    static constexpr int kChunksPerWidening = lut_tile::ByteSumChunks(kAB, kTwos);
    static constexpr int kWideningsPerInt32 = lut_tile::Int16Widenings(kWB);
    __m256i bytes[kWB];      // per weight plane; lane L byte c: channel c
    __m256i shorts[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};  // channels 0-7, 8-15
    __m256i ints[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};  // channels 4a..4a+3 in both lanes
    int chunks = 0;
    int widenings = 0;

    Tile() {
      for (__m256i& b : bytes) b = _mm256_setzero_si256();
    }

    void Chunk(const int8_t* tables, const uint8_t* w, int k) {
      const __m256i low_tables =
          _mm256_load_si256(reinterpret_cast<const __m256i*>(tables + 4 * k * kTableBytes));
      const __m256i high_tables =
          _mm256_load_si256(reinterpret_cast<const __m256i*>(tables + (4 * k + 2) * kTableBytes));
      const __m256i nibble = _mm256_set1_epi8(0x0f);
      for (int i = 0; i < kWB; ++i) {
        const __m256i raw =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i * kBlockBytes + 32 * k));
        const __m256i low = _mm256_and_si256(raw, nibble);
        const __m256i high = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble);
        bytes[i] = _mm256_add_epi8(bytes[i], _mm256_add_epi8(_mm256_shuffle_epi8(low_tables, low),
                                                             _mm256_shuffle_epi8(high_tables, high)));
      }
      if (++chunks == kChunksPerWidening) WidenBytes();
    }

    // Byte b, as (b << 8) in a 16-bit lane, times 2^kShift: shifted right by 8 - kShift,
    // arithmetically where the tables are signed.
    template <int kShift>
    static __m256i Scaled(__m256i high_bytes) {
      return kTwos ? _mm256_srai_epi16(high_bytes, 8 - kShift)
                   : _mm256_srli_epi16(high_bytes, 8 - kShift);
    }

    void WidenBytes() {
      const __m256i zero = _mm256_setzero_si256();
      lut_tile::Unroll<kWB>([&](auto i) __attribute__((always_inline)) {
        const __m256i low = Scaled<i>(_mm256_unpacklo_epi8(zero, bytes[i]));
        const __m256i high = Scaled<i>(_mm256_unpackhi_epi8(zero, bytes[i]));
        if (lut_tile::PlaneWeight(i, kWB, kWB >= 2) < 0) {
          shorts[0] = _mm256_sub_epi16(shorts[0], low);
          shorts[1] = _mm256_sub_epi16(shorts[1], high);
        } else {
          shorts[0] = _mm256_add_epi16(shorts[0], low);
          shorts[1] = _mm256_add_epi16(shorts[1], high);
        }
        bytes[i] = zero;
      });
      chunks = 0;
      if (++widenings == kWideningsPerInt32) WidenShorts();
    }

    void WidenShorts() {
      const __m256i zero = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        // (s << 16) >> 16 arithmetically: the sign-extended int16.
        ints[2 * h] = _mm256_add_epi32(ints[2 * h],
                                       _mm256_srai_epi32(_mm256_unpacklo_epi16(zero, shorts[h]), 16));
        ints[2 * h + 1] = _mm256_add_epi32(
            ints[2 * h + 1], _mm256_srai_epi32(_mm256_unpackhi_epi16(zero, shorts[h]), 16));
        shorts[h] = zero;
      }
      widenings = 0;
    }

    void Store(int32_t* core, bool add) {
      if (chunks > 0) WidenBytes();
      if (widenings > 0) WidenShorts();
      for (int a = 0; a < 4; ++a) {
        // The two lanes hold different groups of the same channels.
        __m128i total = _mm_add_epi32(_mm256_castsi256_si128(ints[a]),
                                      _mm256_extracti128_si256(ints[a], 1));
        __m128i* out = reinterpret_cast<__m128i*>(core + 4 * a);
        if (add) total = _mm_add_epi32(total, _mm_loadu_si128(out));
        _mm_storeu_si128(out, total);
      }
    }
  };
};

}  // namespace

LutGemmKernel LutGemmAvx2(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return lut_tile::Select<Avx2Ops>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
