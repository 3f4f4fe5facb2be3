// NEON int8 micro-kernel for sub-byte codes on aarch64 without a dot product (Cortex-A53/A72):
// tiles of 2 pixels x 8 channels, each register 16 codes of one channel or one pixel.
// Weights are one byte per code in bitserial_planes.h's word-pair layout, so a step's 8
// channels are two LD1 of 4 registers and need no widening; x is im2col columns, where words
// 2s and 2s + 1 of a pixel are one 16-byte load. Both codes are unsigned (bitserial_planes.h)
// and a product is at most kMaxProduct = (2^wb - 1)(2^ab - 1). Two ways to sum:
//   ByteSums (kMaxProduct <= 127, every pair but W4A4): MLA .16B adds 16 products to 16 byte
//     lanes, 16 multiply-adds an instruction; a block of 255 / kMaxProduct steps (28 at W2A2)
//     cannot wrap a lane, then a UADDLP and three ADDP levels reduce each channel's lanes.
//   HalfSums (W4A4): UMLAL + UMLAL2 add them to 8 uint16 lanes, 8 an instruction (the 3x8
//     nibble kernel's rate, without its AND, shift and duplicated activation loads); a lane
//     gains 2 * 225 a step, so blocks of 145 steps.
// The reduced sums go to uint32 sums per pixel and channel, which wrap like the epilogue's
// int32. 16 accumulators, 2 pixels, 4 weight registers (half the channels at a time) and 4
// sums take 26 of the 32 vector registers.
// An odd last word is loaded as 8 bytes and multiplied with the 64 bytes of that word's 8
// channels ([channel][8 codes], two channels a register) through the register halves.
#include <arm_neon.h>

#include <cstdint>
#include <type_traits>

#include "kernels/gemm/bgemm.h"

namespace bitlite {
namespace {

constexpr int kTileChannels = 8;
constexpr int kTilePixels = 2;

struct ByteSums {
  using Vec = uint8x16_t;
  static constexpr int kParts = 1;
  static Vec Zero() { return vdupq_n_u8(0); }
  static constexpr int64_t BlockSteps(int max_product) { return 255 / max_product; }
  static void Dot(Vec& acc, uint8x16_t w, uint8x16_t x, int) { acc = vmlaq_u8(acc, w, x); }
  // x8 in the low half of a zeroed register, w = [channel 2i | channel 2i + 1]: the even
  // channel meets it as is, the odd one moved to the high half.
  static void DotTail(Vec& even, Vec& odd, uint8x16_t w, uint8x8_t x8) {
    const uint8x16_t x_low = vcombine_u8(x8, vdup_n_u8(0));
    even = vmlaq_u8(even, w, x_low);
    odd = vmlaq_u8(odd, w, vextq_u8(x_low, x_low, 8));
  }
  // Adds channel c's 16 lanes to sums[c / 4] lane c % 4.
  static void Reduce(const Vec (&acc)[kTileChannels], uint32x4_t (&sums)[2]) {
    // ADDP of two registers sums adjacent lanes of each: [c 2i: 4 lanes][c 2i + 1: 4], then
    // [c0 c0 c1 c1 c2 c2 c3 c3] (at most 8 * 255 each) and [c4 c4 .. c7 c7].
    uint16x8_t quarters[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      quarters[i] = vpaddq_u16(vpaddlq_u8(acc[2 * i]), vpaddlq_u8(acc[2 * i + 1]));
    }
    sums[0] = vpadalq_u16(sums[0], vpaddq_u16(quarters[0], quarters[1]));
    sums[1] = vpadalq_u16(sums[1], vpaddq_u16(quarters[2], quarters[3]));
  }
};

struct HalfSums {
  using Vec = uint16x8_t;
  // UMLAL (part 0: codes 0-7), then UMLAL2 (part 1: codes 8-15), each over the tile before
  // the other: back to back on one accumulator the second waits out the first's latency
  // (4 cycles on the in-order Cortex-A53/A55), which tripled the loop's cycles.
  static constexpr int kParts = 2;
  static Vec Zero() { return vdupq_n_u16(0); }
  static constexpr int64_t BlockSteps(int max_product) { return 0xffff / (2 * max_product); }
  static void Dot(Vec& acc, uint8x16_t w, uint8x16_t x, int part) {
    acc = part == 0 ? vmlal_u8(acc, vget_low_u8(w), vget_low_u8(x)) : vmlal_high_u8(acc, w, x);
  }
  static void DotTail(Vec& even, Vec& odd, uint8x16_t w, uint8x8_t x8) {
    even = vmlal_u8(even, vget_low_u8(w), x8);
    odd = vmlal_high_u8(odd, w, vcombine_u8(x8, x8));
  }
  static void Reduce(const Vec (&acc)[kTileChannels], uint32x4_t (&sums)[2]) {
    // [c 2i: 2 lanes][c 2i + 1: 2 lanes] as uint32 (UADDLP first: two lanes could wrap 16
    // bits), then one lane per channel.
    uint32x4_t halves[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      halves[i] = vpaddq_u32(vpaddlq_u16(acc[2 * i]), vpaddlq_u16(acc[2 * i + 1]));
    }
    sums[0] = vaddq_u32(sums[0], vpaddq_u32(halves[0], halves[1]));
    sums[1] = vaddq_u32(sums[1], vpaddq_u32(halves[2], halves[3]));
  }
};

// kPixels pixels x 8 channels over all `words` words into core (core_stride apart): x at the
// tile's first pixel, `x_stride` bytes a pixel; w at the channel group. The accumulators are
// reduced every block_steps steps (a word pair, or the odd last word).
template <class Sums, int kPixels>
void Tile(const uint8_t* x, int64_t x_stride, const uint8_t* w, int64_t words,
          int64_t block_steps, int32_t* core, int64_t core_stride) {
  const uint8_t* xp[kPixels];
  uint32x4_t sums[kPixels][2];
#pragma GCC unroll 2
  for (int p = 0; p < kPixels; ++p) {
    xp[p] = x + p * x_stride;
    sums[p][0] = sums[p][1] = vdupq_n_u32(0);
  }
  int64_t pairs_left = words / 2;
  bool tail_left = words % 2 != 0;
  do {
    const int64_t pairs = pairs_left < block_steps ? pairs_left : block_steps;
    pairs_left -= pairs;
    // The odd last word is a step of its own, in the last block if it has room.
    const bool tail = tail_left && pairs_left == 0 && pairs < block_steps;
    tail_left = tail_left && !tail;
    typename Sums::Vec acc[kPixels][kTileChannels];
#pragma GCC unroll 2
    for (int p = 0; p < kPixels; ++p) {
#pragma GCC unroll 8
      for (auto& a : acc[p]) a = Sums::Zero();
    }
    // Every pointer steps on its own: the empty asms keep GCC from folding them into one
    // base + index per pixel, which costs an ADD per load where LD1 and LDR post-increment.
#pragma GCC unroll 2
    for (int64_t s = pairs; s > 0; --s) {
      uint8x16_t xv[kPixels];
#pragma GCC unroll 2
      for (int p = 0; p < kPixels; ++p) {
        xv[p] = vld1q_u8(xp[p]);
        xp[p] += 16;
        __asm__("" : "+r"(xp[p]));
      }
      // Channels 0-3, then 4-7: 4 weight registers live, not 8 (UMLAL spilled with 8).
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        const uint8x16x4_t wv = vld1q_u8_x4(w);
        w += 64;
        __asm__("" : "+r"(w));
#pragma GCC unroll 2
        for (int part = 0; part < Sums::kParts; ++part) {
#pragma GCC unroll 2
          for (int p = 0; p < kPixels; ++p) {
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) Sums::Dot(acc[p][4 * half + c], wv.val[c], xv[p], part);
          }
        }
      }
    }
    if (tail) {
      const uint8x16x4_t wt = vld1q_u8_x4(w);
#pragma GCC unroll 2
      for (int p = 0; p < kPixels; ++p) {
        const uint8x8_t x8 = vld1_u8(xp[p]);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) Sums::DotTail(acc[p][2 * i], acc[p][2 * i + 1], wt.val[i], x8);
      }
    }
#pragma GCC unroll 2
    for (int p = 0; p < kPixels; ++p) Sums::Reduce(acc[p], sums[p]);
  } while (pairs_left > 0 || tail_left);
#pragma GCC unroll 2
  for (int p = 0; p < kPixels; ++p) {
    uint32_t* dst = reinterpret_cast<uint32_t*>(core + p * core_stride);
    vst1q_u32(dst, sums[p][0]);
    vst1q_u32(dst + 4, sums[p][1]);
  }
}

// BgemmFn over im2col columns, for codes whose products are at most kMaxProduct.
template <class Sums, int kMaxProduct>
void Bgemm(const uint64_t* x, int64_t pixels, const uint64_t* w, int64_t channels, int64_t words,
           int32_t* core, int64_t core_stride) {
  constexpr int64_t kBlockSteps = Sums::BlockSteps(kMaxProduct);
  const uint8_t* x_bytes = reinterpret_cast<const uint8_t*>(x);
  for (int64_t c0 = 0; c0 < channels; c0 += kTileChannels) {
    // The group's weights (8 bytes per channel and word) stream once per pixel pair.
    const uint8_t* w_group = reinterpret_cast<const uint8_t*>(w) + c0 * words * 8;
    int64_t p = 0;
    for (; p + kTilePixels <= pixels; p += kTilePixels) {
      Tile<Sums, kTilePixels>(x_bytes + p * words * 8, words * 8, w_group, words, kBlockSteps,
                              core + p * core_stride + c0, core_stride);
    }
    if (p < pixels) {
      Tile<Sums, 1>(x_bytes + p * words * 8, words * 8, w_group, words, kBlockSteps,
                    core + p * core_stride + c0, core_stride);
    }
  }
}

template <int kMaxProduct>
BgemmKernel Kernel() {
  using Sums = std::conditional_t<(kMaxProduct <= 127), ByteSums, HalfSums>;
  return {&Bgemm<Sums, kMaxProduct>, kTileChannels / 2};
}

}  // namespace

BgemmKernel BgemmInt8NeonMla(int weight_bits, int activation_bits) {
  // The largest product of the two grids' unsigned codes: (2^wb - 1)(2^ab - 1).
  switch (((1 << weight_bits) - 1) * ((1 << activation_bits) - 1)) {
    case 1: return Kernel<1>();
    case 3: return Kernel<3>();
    case 7: return Kernel<7>();
    case 9: return Kernel<9>();
    case 15: return Kernel<15>();
    case 21: return Kernel<21>();
    case 45: return Kernel<45>();
    case 49: return Kernel<49>();
    case 105: return Kernel<105>();
    default: return Kernel<225>();
  }
}

}  // namespace bitlite
