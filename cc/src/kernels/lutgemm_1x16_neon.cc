// NEON lookup-table micro-kernel (aarch64 and armv7): TBL looks up 16 channel nibbles in one
// group's table (aarch64 vqtbl1q_u8; armv7 vtbl2_u8 on each half); each weight plane sums
// its lookups in bytes, widened to int16 with the plane's shift (VSHLL) before a byte can
// overflow and to int32 (VADDW) before an int16 can, as the AVX2 kernel. A word's tables are
// sums of rows of constant tables (row n: weight * popcount(p & n)), one load per group and
// activation plane.
#include <arm_neon.h>

#include "kernels/lutgemm_tile.h"

namespace bitlite {
namespace {

using lut_tile::kBlockBytes;
using lut_tile::kTableBytes;

// Row n (a nibble of an activation plane of weight kWeight), entry p: the plane's part of
// table entry p, kWeight * popcount(p & n).
template <int kWeight>
struct PlaneRows {
  int8_t rows[16][16];
  constexpr PlaneRows() : rows() {
    for (int n = 0; n < 16; ++n) {
      for (int p = 0; p < 16; ++p) rows[n][p] = static_cast<int8_t>(kWeight * __builtin_popcount(n & p));
    }
  }
};
template <int kWeight>
constexpr PlaneRows<kWeight> kPlaneRows{};

inline uint8x16_t Lookup(uint8x16_t table, uint8x16_t indices) {
#if defined(__aarch64__)
  return vqtbl1q_u8(table, indices);
#else
  const uint8x8x2_t halves = {{vget_low_u8(table), vget_high_u8(table)}};
  return vcombine_u8(vtbl2_u8(halves, vget_low_u8(indices)),
                     vtbl2_u8(halves, vget_high_u8(indices)));
#endif
}

struct NeonOps : lut_tile::LaneLayout<1> {
  template <int kAB, bool kTwos>
  static void BuildTables(const uint64_t* x, int8_t* tables) {
    for (int g = 0; g < lut_tile::kGroups; ++g) {
      int8x16_t table = vdupq_n_s8(0);
      lut_tile::Unroll<kAB>([&](auto j) __attribute__((always_inline)) {
        const auto& rows = kPlaneRows<lut_tile::PlaneWeight(j, kAB, kTwos)>.rows;
        table = vaddq_s8(table, vld1q_s8(rows[(x[j] >> (4 * g)) & 15]));
      });
      vst1q_s8(tables + g * kTableBytes, table);
    }
  }

  template <int kWB, int kAB, bool kTwos>
  struct Tile {
    static constexpr int kChunksPerWidening = lut_tile::ByteSumChunks(kAB, kTwos);
    static constexpr int kWideningsPerInt32 = lut_tile::Int16Widenings(kWB);
    uint8x16_t bytes[kWB];  // per weight plane, byte c: channel c
    int16x8_t shorts[2] = {vdupq_n_s16(0), vdupq_n_s16(0)};                   // channels 0-7, 8-15
    int32x4_t ints[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    int chunks = 0;
    int widenings = 0;

    Tile() {
      for (uint8x16_t& b : bytes) b = vdupq_n_u8(0);
    }

    void Chunk(const int8_t* tables, const uint8_t* w, int k) {
      const uint8x16_t low_table =
          vreinterpretq_u8_s8(vld1q_s8(tables + 2 * k * kTableBytes));
      const uint8x16_t high_table =
          vreinterpretq_u8_s8(vld1q_s8(tables + (2 * k + 1) * kTableBytes));
      for (int i = 0; i < kWB; ++i) {
        const uint8x16_t raw = vld1q_u8(w + i * kBlockBytes + 16 * k);
        const uint8x16_t low = Lookup(low_table, vandq_u8(raw, vdupq_n_u8(0x0f)));
        const uint8x16_t high = Lookup(high_table, vshrq_n_u8(raw, 4));
        bytes[i] = vaddq_u8(bytes[i], vaddq_u8(low, high));
      }
      if (++chunks == kChunksPerWidening) WidenBytes();
    }

    // Byte sums times 2^kShift in int16: signed where the tables are.
    template <int kShift>
    static int16x8_t Scaled(uint8x8_t half) {
      if constexpr (kShift == 0) {
        return kTwos ? vmovl_s8(vreinterpret_s8_u8(half)) : vreinterpretq_s16_u16(vmovl_u8(half));
      } else {
        return kTwos ? vshll_n_s8(vreinterpret_s8_u8(half), kShift)
                     : vreinterpretq_s16_u16(vshll_n_u8(half, kShift));
      }
    }

    void WidenBytes() {
      lut_tile::Unroll<kWB>([&](auto i) __attribute__((always_inline)) {
        const int16x8_t low = Scaled<i>(vget_low_u8(bytes[i]));
        const int16x8_t high = Scaled<i>(vget_high_u8(bytes[i]));
        if (lut_tile::PlaneWeight(i, kWB, kWB >= 2) < 0) {
          shorts[0] = vsubq_s16(shorts[0], low);
          shorts[1] = vsubq_s16(shorts[1], high);
        } else {
          shorts[0] = vaddq_s16(shorts[0], low);
          shorts[1] = vaddq_s16(shorts[1], high);
        }
        bytes[i] = vdupq_n_u8(0);
      });
      chunks = 0;
      if (++widenings == kWideningsPerInt32) WidenShorts();
    }

    void WidenShorts() {
      for (int h = 0; h < 2; ++h) {
        ints[2 * h] = vaddw_s16(ints[2 * h], vget_low_s16(shorts[h]));
        ints[2 * h + 1] = vaddw_s16(ints[2 * h + 1], vget_high_s16(shorts[h]));
        shorts[h] = vdupq_n_s16(0);
      }
      widenings = 0;
    }

    void Store(int32_t* core, bool add) {
      if (chunks > 0) WidenBytes();
      if (widenings > 0) WidenShorts();
      for (int a = 0; a < 4; ++a) {
        int32x4_t total = ints[a];
        if (add) total = vaddq_s32(total, vld1q_s32(core + 4 * a));
        vst1q_s32(core + 4 * a, total);
      }
    }
  };
};

}  // namespace

LutGemmKernel LutGemmNeon(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return lut_tile::Select<NeonOps>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
