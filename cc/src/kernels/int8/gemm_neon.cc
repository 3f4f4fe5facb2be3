// NEON int8 micro-kernel without dot product instructions (Cortex-A53/A72, armv7): tiles of
// 3 pixels (1 on armv7) x 8 channels. One 16-byte load holds a word (8 codes) of 4 channels
// as nibbles (BitserialWeights' nibble layout, L = 2); an AND and a shift widen it to two
// registers of 2 channels x 8 bytes. UMLAL multiplies 8 weight bytes of one channel with the
// pixel's 8 activation bytes (u8 x u8, both <= 15) and adds them to 8 uint16 lanes: 8
// multiply-adds per instruction, no broadcast per code, one horizontal sum per channel at the
// end. A lane gains at most 15 * 15 per word, so the reduction runs in blocks of kBlockWords
// words that cannot overflow 16 bits, each added into core as int32.
// W8A8: int8 weight bytes (BitserialWeights' byte layout, two plain loads) and int8
// activations (v = q - 128 on the unsigned grid, corrected like the nibbles' offset). SMULL
// gives 8 exact int16 products (|v * v| <= 128 * 128; SMLAL could not add two of them), SADALP
// adds them in pairs to 4 int32 lanes per channel: 8 multiply-adds per 2 instructions.
#include <arm_neon.h>

#include <limits>

#include "kernels/int8/gemm_tile.h"

namespace bitlite {
namespace {

// Pairwise sums of two uint32x4: {a0 + a1, a2 + a3, b0 + b1, b2 + b3} (armv7 has no VPADDQ).
uint32x4_t PairwiseAdd(uint32x4_t a, uint32x4_t b) {
#if defined(__aarch64__)
  return vpaddq_u32(a, b);
#else
  return vcombine_u32(vpadd_u32(vget_low_u32(a), vget_high_u32(a)),
                      vpadd_u32(vget_low_u32(b), vget_high_u32(b)));
#endif
}

// Adds the 4 channels' int32 sums of quads[2 * half], quads[2 * half + 1] (each {a0 + a1,
// a2 + a3, b0 + b1, b2 + b3}) to or into out[4 * half ..]: the tile's 8 channels of one pixel.
inline void StoreQuads(const uint32x4_t (&quads)[4], int32_t* out, bool accumulate) {
#pragma GCC unroll 4
  for (int half = 0; half < 2; ++half) {
    uint32x4_t sums = PairwiseAdd(quads[2 * half], quads[2 * half + 1]);
    uint32_t* dst = reinterpret_cast<uint32_t*>(out + 4 * half);
    if (accumulate) sums = vaddq_u32(sums, vld1q_u32(dst));
    vst1q_u32(dst, sums);
  }
}

struct NeonInt8Ops {
  static constexpr int kWeightBits = 4;
  using Vec = uint16x8_t;  // one channel's partial sums, per code j
  static constexpr int kVecsPerWVec = 2;  // the WVec's 2 channels
  using WVec = uint8x16_t;   // 2 channels x 8 codes
  using XVec = uint8x16_t;   // the pixel's word, twice
  static constexpr int kLanes = 2;
  static constexpr int kPairs = 2;
#if defined(__aarch64__)
  static constexpr int kPixels = 3;  // 24 of the 32 vector registers hold accumulators
#else
  static constexpr int kPixels = 1;  // armv7 has 16: 3 pixels spilled most accumulators
#endif
  static constexpr int64_t kBlockWords = 0xffff / (15 * 15);
  static Vec Zero() { return vdupq_n_u16(0); }
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    const uint8x16_t nibbles = vld1q_u8(p);
    *lo = vandq_u8(nibbles, vdupq_n_u8(0x0f));
    *hi = vshrq_n_u8(nibbles, 4);
  }
  static XVec LoadX(const uint64_t* p) { return vreinterpretq_u8_u64(vld1q_dup_u64(p)); }
  static void Dot(Vec (&acc)[2], WVec w, XVec x) {
    acc[0] = vmlal_u8(acc[0], vget_low_u8(w), vget_low_u8(x));
#if defined(__aarch64__)
    acc[1] = vmlal_high_u8(acc[1], w, x);  // UMLAL2: no move of the high halves
#else
    acc[1] = vmlal_u8(acc[1], vget_high_u8(w), vget_high_u8(x));  // d registers
#endif
  }
  static void Store(const Vec (&acc)[4][2], int32_t* out, bool accumulate) {
    // WVec n holds channels 2n and 2n + 1 (nibble group n / 2, low or high half).
    uint32x4_t quads[4];
#pragma GCC unroll 4  // constant indices: the accumulators stay registers
    for (int n = 0; n < 4; ++n) {
      quads[n] = PairwiseAdd(vpaddlq_u16(acc[n][0]), vpaddlq_u16(acc[n][1]));
    }
    StoreQuads(quads, out, accumulate);
  }
};

struct NeonW8Ops {
  static constexpr int kWeightBits = 8;
  using Vec = int32x4_t;  // one channel's partial sums
  static constexpr int kVecsPerWVec = 2;  // the WVec's 2 channels
  using WVec = int8x16_t;  // 2 channels x 8 codes
  using XVec = int8x16_t;  // the pixel's word, twice
  static constexpr int kLanes = 2;
  static constexpr int kPairs = 2;
  static constexpr int kPixels = NeonInt8Ops::kPixels;
  // The int32 lanes wrap modulo 2^32 like the epilogue: no block limit.
  static constexpr int64_t kBlockWords = std::numeric_limits<int64_t>::max();
  static Vec Zero() { return vdupq_n_s32(0); }
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    *lo = vreinterpretq_s8_u8(vld1q_u8(p));
    *hi = vreinterpretq_s8_u8(vld1q_u8(p + 16));
  }
  static XVec LoadX(const uint64_t* p) { return vreinterpretq_s8_u64(vld1q_dup_u64(p)); }
  static void Dot(Vec (&acc)[2], WVec w, XVec x) {
    acc[0] = vpadalq_s16(acc[0], vmull_s8(vget_low_s8(w), vget_low_s8(x)));
#if defined(__aarch64__)
    acc[1] = vpadalq_s16(acc[1], vmull_high_s8(w, x));  // SMULL2: no move of the high halves
#else
    acc[1] = vpadalq_s16(acc[1], vmull_s8(vget_high_s8(w), vget_high_s8(x)));
#endif
  }
  static void Store(const Vec (&acc)[4][2], int32_t* out, bool accumulate) {
    uint32x4_t quads[4];
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) {
      quads[n] = PairwiseAdd(vreinterpretq_u32_s32(acc[n][0]), vreinterpretq_u32_s32(acc[n][1]));
    }
    StoreQuads(quads, out, accumulate);
  }
};

#if defined(__aarch64__)
// W8A8 for weights without the code -128: SMULL and SMLAL add the products of two words in
// int16 lanes before one SADALP, 3 instructions per 16 multiply-adds where NeonW8Ops takes 4.
// Exact: |w x| <= 127 * 128 per product, so two sum to at most 32512 (-128 * -128 twice
// would be 32768). 2 pixels: 16 accumulators, 8 registers of two words' weights, 4 of
// activations; GCC keeps 4 accumulators on the stack (a load and a store each per two words,
// issued beside the multiplies). Per 2 pixels and 2 words (llvm-mca's Cortex-A55 model, as
// bench/arm prices the A53): 68 instructions and 90 cycles, against 70 and 96 for 1 pixel
// twice; with -fno-schedule-insns nothing spills (60) but each multiply waits on the one
// before: 104 cycles.
struct NeonW8PairOps : NeonW8Ops {
  static constexpr int kPixels = 2;
  static constexpr int kDotWords = 2;
  static void DotPair(Vec (&acc)[2], WVec w0, WVec w1, XVec x0, XVec x1) {
    const int16x8_t low = vmlal_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), vget_low_s8(w1),
                                   vget_low_s8(x1));
    const int16x8_t high = vmlal_high_s8(vmull_high_s8(w0, x0), w1, x1);
    acc[0] = vpadalq_s16(acc[0], low);
    acc[1] = vpadalq_s16(acc[1], high);
  }
};
#endif

}  // namespace

BgemmKernel BgemmInt8Neon() {
  return {&bgemm_int8_tile::Bgemm<NeonInt8Ops>, NeonInt8Ops::kLanes};
}

BgemmKernel BgemmW8A8Neon() {
  BgemmKernel kernel{&bgemm_int8_tile::Bgemm<NeonW8Ops>, NeonW8Ops::kLanes};
#if defined(__aarch64__)
  kernel.run_without_min_weight = &bgemm_int8_tile::Bgemm<NeonW8PairOps>;
#endif
  return kernel;
}

}  // namespace bitlite
