// The NEON bitserial micro-kernels' policy (bgemm_tile.h's Ops): tiles of up to 4 pixels x
// 8 channels on aarch64 (a Vec is 4 q registers: one 64-bit word of each of 8 channels,
// contiguous, loaded by two LDP), and of up to 4 pixels x 4 channels (2 q registers) on armv7
// (16 q registers, aarch64 32) and for aarch64's widest codes (see BgemmNeon). Fewer pixels
// where the per-significance accumulators of wider codes need the registers.
//
// VCNT counts bits per byte. Its counts are added (or subtracted, for a negative plane pair)
// into byte accumulators, 3 instructions per 2 channel words (AND, CNT, ADD), and widened
// only once per block of words (bgemm_tile.h's BlockWords and Flush): widening every count to
// a 64-bit lane costs 3 more pairwise adds per count. A block is as many words as bytes hold
// exactly: a byte of significance s sums at most 8 * (pairs of s) per word.
// Its variants are instantiated in two files: bgemm_neon.cc (all but W2A2 on aarch64) and
// bgemm_1x8_w2a2_neon.cc (W2A2 on aarch64, whose word loop is assembly). Include only from
// those.
#ifndef BITLITE_SRC_KERNELS_BITSERIAL_BGEMM_NEON_OPS_H_
#define BITLITE_SRC_KERNELS_BITSERIAL_BGEMM_NEON_OPS_H_

#include <arm_neon.h>

#include <algorithm>

#include "kernels/bitserial/bgemm_tile.h"

namespace bitlite {
namespace {

#if defined(__aarch64__)
constexpr int kAccumulatorRegisters = 16;  // of the 32 q registers
#else
constexpr int kAccumulatorRegisters = 8;   // of the 16
#endif

// 4 channel sums from the pairwise-widened counts of two q registers: {c0 c0 c1 c1} and
// {c2 c2 c3 c3} -> {c0 c1 c2 c3}. armv7 has no q-register pairwise add.
inline __attribute__((always_inline)) int32x4_t PairwiseAdd(int32x4_t a, int32x4_t b) {
#if defined(__aarch64__)
  return vpaddq_s32(a, b);
#else
  return vcombine_s32(vpadd_s32(vget_low_s32(a), vget_high_s32(a)),
                      vpadd_s32(vget_low_s32(b), vget_high_s32(b)));
#endif
}

// kQ q registers per Vec: 2 kQ channels.
template <int kQ>
// Every member is always inlined: with two Vec widths in one file, GCC's inlining budget
// otherwise leaves some out of the tile.
struct NeonOps {
  struct Vec {
    uint8x16_t q[kQ];  // q[m] holds the words of channels 2m and 2m + 1
  };
  static constexpr int kLanes = 2 * kQ;
  static constexpr int kVectors = 1;
  static constexpr int kPixels = 4;
  static constexpr int kAccumulators = kAccumulatorRegisters / kQ;

  static __attribute__((always_inline)) Vec Zero() {
    Vec v;
#pragma GCC unroll 4
    for (uint8x16_t& q : v.q) q = vdupq_n_u8(0);
    return v;
  }
  static __attribute__((always_inline)) Vec Load(const uint64_t* p) {
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(p);
    Vec v;
#pragma GCC unroll 4
    for (int m = 0; m < kQ; ++m) v.q[m] = vld1q_u8(bytes + 16 * m);
    return v;
  }
  static __attribute__((always_inline)) Vec Broadcast(const uint64_t* p) {
    const uint8x16_t word = vreinterpretq_u8_u64(vld1q_dup_u64(p));
    Vec v;
#pragma GCC unroll 4
    for (uint8x16_t& q : v.q) q = word;
    return v;
  }
#if defined(__aarch64__)
  // A word's activation planes lie together: one LD2R or LD3R broadcasts 2 or 3 of them,
  // where each Broadcast is a load and a DUP (LD1R takes no register offset). Not LD4R: its
  // 4 live registers made the 4-plane tiles spill more accumulators.
  static constexpr int kMostBroadcastPlanes = 3;
  template <int kPlanes>
  static __attribute__((always_inline)) void BroadcastPlanes(const uint64_t* p,
                                                             Vec (&x)[kPlanes]) {
    uint64x2_t loaded[kPlanes];
    if constexpr (kPlanes == 2) {
      const uint64x2x2_t t = vld2q_dup_u64(p);
      loaded[0] = t.val[0];
      loaded[1] = t.val[1];
    } else {
      static_assert(kPlanes == 3, "LD2R or LD3R");
      const uint64x2x3_t t = vld3q_dup_u64(p);
      loaded[0] = t.val[0];
      loaded[1] = t.val[1];
      loaded[2] = t.val[2];
    }
#pragma GCC unroll 4
    for (int j = 0; j < kPlanes; ++j) {
#pragma GCC unroll 4
      for (uint8x16_t& q : x[j].q) q = vreinterpretq_u8_u64(loaded[j]);
    }
  }
#endif
  template <bool kNegative>
  static __attribute__((always_inline)) Vec Accumulate(Vec acc, const Vec& a, const Vec& b) {
#pragma GCC unroll 4
    for (int m = 0; m < kQ; ++m) {
      const uint8x16_t count = vcntq_u8(vandq_u8(a.q[m], b.q[m]));
      acc.q[m] = kNegative ? vsubq_u8(acc.q[m], count) : vaddq_u8(acc.q[m], count);
    }
    return acc;
  }

  // Per significance s with P_s adding and N_s subtracting pairs, a byte's exact value after
  // B words lies in [-8 B N_s, 8 B P_s]: read as unsigned (N_s = 0) it must fit 255, else as
  // signed [-128, 127]. Flush's 16-bit lanes hold sum_s 2^s (2 bytes of s): int16.
  template <int kW, int kA, bool kTwos>
  static constexpr int64_t BlockWords() {
    int64_t block = 1 << 30;
    int64_t positive = 0, negative = 0;  // sum_s 2^s P_s, sum_s 2^s N_s
    for (int s = 0; s < bgemm_tile::kSignificances<kW, kA>; ++s) {
      const int p = bgemm_tile::PairsOfSign<kW, kA, kTwos>(s, false);
      const int n = bgemm_tile::PairsOfSign<kW, kA, kTwos>(s, true);
      if (n == 0) {
        block = std::min<int64_t>(block, 255 / (8 * p));
      } else {
        if (p > 0) block = std::min<int64_t>(block, 127 / (8 * p));
        block = std::min<int64_t>(block, 128 / (8 * n));
      }
      positive += int64_t{p} << s;
      negative += int64_t{n} << s;
    }
    if (positive > 0) block = std::min<int64_t>(block, 32767 / (16 * positive));
    if (negative > 0) block = std::min<int64_t>(block, 32768 / (16 * negative));
    return block;
  }

  // Per q register: the significances combined in 16-bit lanes (Horner: t = 2 t + widened
  // bytes of s, which stays exact modulo 2^16 and ends in int16), pairwise-widened to 32
  // bits, then the two halves of each channel added.
  template <int kW, int kA, bool kTwos, int kS>
  static __attribute__((always_inline)) void Flush(const Vec (&acc)[kVectors][kS], int32_t* out,
                                                    bool first) {
#pragma GCC unroll 4
    for (int n = 0; n < kVectors; ++n, out += kLanes) {
      int32x4_t halves[kQ];
#pragma GCC unroll 4
      for (int m = 0; m < kQ; ++m) {
        uint16x8_t t;
        bgemm_tile::Unroll<kS>([&](auto r) __attribute__((always_inline)) {
          constexpr int s = kS - 1 - r;
          constexpr bool kSigned = bgemm_tile::PairsOfSign<kW, kA, kTwos>(s, true) > 0;
          const uint8x16_t bytes = acc[n][s].q[m];
          if constexpr (r == 0) {
            t = kSigned ? vreinterpretq_u16_s16(vpaddlq_s8(vreinterpretq_s8_u8(bytes)))
                        : vpaddlq_u8(bytes);
          } else if constexpr (kSigned) {
            t = vreinterpretq_u16_s16(vpadalq_s8(vreinterpretq_s16_u16(vshlq_n_u16(t, 1)),
                                                 vreinterpretq_s8_u8(bytes)));
          } else {
            t = vpadalq_u8(vshlq_n_u16(t, 1), bytes);
          }
        });
        halves[m] = vpaddlq_s16(vreinterpretq_s16_u16(t));
      }
#pragma GCC unroll 4
      for (int m = 0; m < kQ; m += 2) {
        int32x4_t sums = PairwiseAdd(halves[m], halves[m + 1]);
        if (!first) sums = vaddq_s32(sums, vld1q_s32(out + 2 * m));
        vst1q_s32(out + 2 * m, sums);
      }
    }
  }
};

}  // namespace

#if defined(__aarch64__)
// bgemm_1x8_w2a2_neon.cc: the W2A2 kernel (NeonOps<4>'s tile, its word loop software-pipelined
// in assembly).
BgemmKernel BgemmW2A2Neon(bool activation_twos_complement);
#endif

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_BITSERIAL_BGEMM_NEON_OPS_H_
