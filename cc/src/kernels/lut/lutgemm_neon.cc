// NEON lookup-table micro-kernel (aarch64 and armv7): TBL looks up 16 channel nibbles in one
// group's table (aarch64 vqtbl1q_u8; armv7 vtbl2_u8 on each half), summed in bytes by
// lut_tile::ByteSumTile (widened with VSHLL and VADDW). A word's tables are
// sums of rows of constant tables (row n: weight * popcount(p & n)), one load per group and
// activation plane.
#include <arm_neon.h>

#include "kernels/lut/lutgemm_tile.h"

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

inline uint8x16_t Lookup16(uint8x16_t table, uint8x16_t indices) {
#if defined(__aarch64__)
  return vqtbl1q_u8(table, indices);
#else
  // VTBL reads the table from the two halves of its q register as they are: written with
  // vtbl2_u8 and vcombine_u8, GCC 12 copies both through other registers for every lookup.
  uint8x16_t result;
  __asm__("vtbl.8 %e0, {%e1, %f1}, %e2\n\tvtbl.8 %f0, {%e1, %f1}, %f2"
          : "=&w"(result)
          : "w"(table), "w"(indices));
  return result;
#endif
}

struct NeonVec {
  using Bytes = uint8x16_t;
  using Shorts = int16x8_t;
  struct Indices {
    uint8x16_t low, high;
  };
  static Bytes ZeroBytes() { return vdupq_n_u8(0); }
  static Shorts ZeroShorts() { return vdupq_n_s16(0); }
  static Indices LoadIndices(const uint8_t* p) {
    const uint8x16_t raw = vld1q_u8(p);
    return {vandq_u8(raw, vdupq_n_u8(0x0f)), vshrq_n_u8(raw, 4)};
  }
  static Bytes Lookup(const int8_t* low_table, const int8_t* high_table, const Indices& i) {
    return vaddq_u8(Lookup16(vreinterpretq_u8_s8(vld1q_s8(low_table)), i.low),
                    Lookup16(vreinterpretq_u8_s8(vld1q_s8(high_table)), i.high));
  }
  static Bytes AddBytes(Bytes a, Bytes b) { return vaddq_u8(a, b); }
  static Shorts Add16(Shorts a, Shorts b) { return vaddq_s16(a, b); }
  static Shorts Sub16(Shorts a, Shorts b) { return vsubq_s16(a, b); }
  template <int kShift, bool kSigned>
  static int16x8_t Scaled(uint8x8_t half) {
    if constexpr (kShift == 0) {
      return kSigned ? vmovl_s8(vreinterpret_s8_u8(half)) : vreinterpretq_s16_u16(vmovl_u8(half));
    } else {
      return kSigned ? vshll_n_s8(vreinterpret_s8_u8(half), kShift)
                     : vreinterpretq_s16_u16(vshll_n_u8(half, kShift));
    }
  }
  template <int kShift, bool kSigned>
  static void Widen(Bytes b, Shorts* low, Shorts* high) {
    *low = Scaled<kShift, kSigned>(vget_low_u8(b));
    *high = Scaled<kShift, kSigned>(vget_high_u8(b));
  }
  static void AddToSums(Shorts low, Shorts high, int32_t* sums) {
    vst1q_s32(sums, vaddw_s16(vld1q_s32(sums), vget_low_s16(low)));
    vst1q_s32(sums + 4, vaddw_s16(vld1q_s32(sums + 4), vget_high_s16(low)));
    vst1q_s32(sums + 8, vaddw_s16(vld1q_s32(sums + 8), vget_low_s16(high)));
    vst1q_s32(sums + 12, vaddw_s16(vld1q_s32(sums + 12), vget_high_s16(high)));
  }
};

struct NeonOps : lut_tile::LaneLayout<1> {
  template <int kAB, bool kTwos>
  static void BuildTables(const uint64_t* x, int8_t* tables) {
    for (int g = 0; g < lut_tile::kGroups; ++g) {
      int8x16_t table = vdupq_n_s8(0);
      lut_tile::Unroll<kAB>([&](auto j) __attribute__((always_inline)) {
        const auto& rows = kPlaneRows<PlaneWeight(j, kAB, kTwos)>.rows;
        table = vaddq_s8(table, vld1q_s8(rows[(x[j] >> (4 * g)) & 15]));
      });
      vst1q_s8(tables + g * kTableBytes, table);
    }
  }

  // Pixels per tile: as many as the vector registers hold (32 on aarch64, 16 on armv7).
#if defined(__aarch64__)
  static constexpr int kPixels = 4;
#else
  static constexpr int kPixels = 2;
#endif
  template <int kWB, int kAB, bool kTwos, int kTilePixels>
  using Tile = lut_tile::ByteSumTile<NeonVec, 1, kWB, kAB, kTwos, kTilePixels>;
};

}  // namespace

LutGemmKernel LutGemmNeon(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return lut_tile::Select<NeonOps>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
