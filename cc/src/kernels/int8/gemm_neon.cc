// NEON int8 micro-kernel without dot product instructions (Cortex-A53/A72, armv7): tiles of
// 3 pixels (1 on armv7) x 8 channels. One 16-byte load holds a word (8 codes) of 4 channels
// as nibbles (BitserialWeights' nibble layout, L = 2); an AND and a shift widen it to two
// registers of 2 channels x 8 bytes. UMLAL multiplies 8 weight bytes of one channel with the
// pixel's 8 activation bytes (u8 x u8, both <= 15) and adds them to 8 uint16 lanes: 8
// multiply-adds per instruction, no broadcast per code, one horizontal sum per channel at the
// end. A lane gains at most 15 * 15 per word, so the reduction runs in blocks of kBlockWords
// words that cannot overflow 16 bits, each added into core as int32.
// Narrow codes on in-order aarch64 cores (a product of at most 105, up to W3A4; the
// int8/neon-a53 row): weight bytes and MLA's 16 multiply-adds per instruction in byte lanes,
// widened every few words (NeonByteSumOps).
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
#define BITLITE_W8_NEXT(instruction) instruction
#define BITLITE_W8_LAST(instruction) ""
// One pair of words k, k + 1 of the 2 x 8 tile: v0-v7 hold their weights (group g of 4
// channels in v4g-v4g+3: word k's 2 x 2 channels, then word k + 1's), v8/v9 pixel 0's two
// words and v10/v11 pixel 1's, broadcast; per 2 channels and pixel, SMULL and SMLAL add the
// 16 products of both words in int16 lanes (NeonW8PairOps says why that is exact) and SADALP
// adds those into the accumulators a<pixel><2 channels><half>. NEXT keeps or drops the
// loads of the next pair among them, each placed after the last read of its registers.
#define BITLITE_W8_PAIR(NEXT)                                                       \
  "smull v12.8h, v0.8b, v8.8b\n"                                                    \
  "smull2 v13.8h, v0.16b, v8.16b\n"                                                 \
  "smull v14.8h, v0.8b, v10.8b\n"                                                   \
  "smull2 v15.8h, v0.16b, v10.16b\n"                                                \
  "smlal v12.8h, v2.8b, v9.8b\n"                                                    \
  "smlal2 v13.8h, v2.16b, v9.16b\n"                                                 \
  "smlal v14.8h, v2.8b, v11.8b\n"                                                   \
  "smlal2 v15.8h, v2.16b, v11.16b\n"                                                \
  "sadalp %[a000].4s, v12.8h\n"                                                     \
  "sadalp %[a001].4s, v13.8h\n"                                                     \
  "sadalp %[a100].4s, v14.8h\n"                                                     \
  "sadalp %[a101].4s, v15.8h\n"                                                     \
  "smull v12.8h, v1.8b, v8.8b\n"                                                    \
  "smull2 v13.8h, v1.16b, v8.16b\n"                                                 \
  "smull v14.8h, v1.8b, v10.8b\n"                                                   \
  "smull2 v15.8h, v1.16b, v10.16b\n"                                                \
  "smlal v12.8h, v3.8b, v9.8b\n"                                                    \
  "smlal2 v13.8h, v3.16b, v9.16b\n"                                                 \
  "smlal v14.8h, v3.8b, v11.8b\n"                                                   \
  "smlal2 v15.8h, v3.16b, v11.16b\n"                                                \
  NEXT("ldp q0, q1, [%[w0], #64]\n")                                                \
  "sadalp %[a010].4s, v12.8h\n"                                                     \
  "sadalp %[a011].4s, v13.8h\n"                                                     \
  "sadalp %[a110].4s, v14.8h\n"                                                     \
  "sadalp %[a111].4s, v15.8h\n"                                                     \
  "smull v12.8h, v4.8b, v8.8b\n"                                                    \
  "smull2 v13.8h, v4.16b, v8.16b\n"                                                 \
  "smull v14.8h, v4.8b, v10.8b\n"                                                   \
  "smull2 v15.8h, v4.16b, v10.16b\n"                                                \
  "smlal v12.8h, v6.8b, v9.8b\n"                                                    \
  "smlal2 v13.8h, v6.16b, v9.16b\n"                                                 \
  "smlal v14.8h, v6.8b, v11.8b\n"                                                   \
  "smlal2 v15.8h, v6.16b, v11.16b\n"                                                \
  "sadalp %[a020].4s, v12.8h\n"                                                     \
  "sadalp %[a021].4s, v13.8h\n"                                                     \
  "sadalp %[a120].4s, v14.8h\n"                                                     \
  "sadalp %[a121].4s, v15.8h\n"                                                     \
  "smull v12.8h, v5.8b, v8.8b\n"                                                    \
  NEXT("ldp q2, q3, [%[w0], #96]\n")                                                \
  "smull2 v13.8h, v5.16b, v8.16b\n"                                                 \
  "smull v14.8h, v5.8b, v10.8b\n"                                                   \
  "smull2 v15.8h, v5.16b, v10.16b\n"                                                \
  "smlal v12.8h, v7.8b, v9.8b\n"                                                    \
  NEXT("ldp q4, q5, [%[w1], #64]\n")                                                \
  "smlal2 v13.8h, v7.16b, v9.16b\n"                                                 \
  NEXT("ld2r {v8.2d, v9.2d}, [%[x0]], #16\n")                                       \
  "smlal v14.8h, v7.8b, v11.8b\n"                                                   \
  "smlal2 v15.8h, v7.16b, v11.16b\n"                                                \
  "sadalp %[a030].4s, v12.8h\n"                                                     \
  "sadalp %[a031].4s, v13.8h\n"                                                     \
  NEXT("ld2r {v10.2d, v11.2d}, [%[x1]], #16\n")                                     \
  "sadalp %[a130].4s, v14.8h\n"                                                     \
  NEXT("ldp q6, q7, [%[w1], #96]\n")                                                \
  "sadalp %[a131].4s, v15.8h\n"                                                     \
  NEXT("add %[w0], %[w0], #64\n")                                                   \
  NEXT("add %[w1], %[w1], #64\n")

// W8A8 for weights without the code -128: SMULL and SMLAL add the products of two words in
// int16 lanes before one SADALP, 3 instructions per 16 multiply-adds where NeonW8Ops takes 4.
// Exact: |w x| <= 127 * 128 per product, so two sum to at most 32512 (-128 * -128 twice
// would be 32768). 2 pixels: 16 accumulators, 8 registers of two words' weights, 4 of
// activations, 4 of products: all 32 registers, so the 2-pixel tile's loop over pairs of
// words is assembly (WordLoop, BITLITE_W8_PAIR), software-pipelined for in-order cores as
// XNNPACK's A53 kernels are: each load of the next pair sits after the last read of its
// registers, among the multiplies. Per 2 pixels and 2 words, under bench/arm's cycle model
// (llvm-mca's Cortex-A55 model, as it prices the A53): 58 instructions and 66 cycles. GCC's
// loop from DotPair took 68 and 90 (4 accumulators on the stack, the loads ahead of the
// multiplies), 60 and 104 with -fno-schedule-insns (each multiply waiting on the one
// before). DotPair serves the 1-pixel tiles of a layer's last odd pixel.
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
  // acc = the sums of the pairs of words [k0, k1) of 2 pixels' im2col columns; returns the
  // first word after them. Their first pair's operands are loaded ahead, every pair but the
  // last loads its successor's (nothing past the pairs is read), xp[p] steps 2 words a pair.
  // The accumulators are outputs only, zeroed here: as "+w" operands each would count twice
  // against GCC's limit of 30.
  static constexpr int kWordLoopPixels = 2;
  static int64_t WordLoop(Vec (&acc)[2][4][2], const uint64_t* (&xp)[2], const uint8_t* w,
                          int64_t words, int64_t k0, int64_t k1) {
    int64_t pairs = (k1 - k0) / 2;
    const uint8_t* w0 = w + 32 * k0;            // channels 0-3: 32 bytes a word
    const uint8_t* w1 = w + 32 * (words + k0);  // channels 4-7
    asm("movi %[a000].16b, #0\n" "movi %[a001].16b, #0\n" "movi %[a010].16b, #0\n"
        "movi %[a011].16b, #0\n" "movi %[a020].16b, #0\n" "movi %[a021].16b, #0\n"
        "movi %[a030].16b, #0\n" "movi %[a031].16b, #0\n" "movi %[a100].16b, #0\n"
        "movi %[a101].16b, #0\n" "movi %[a110].16b, #0\n" "movi %[a111].16b, #0\n"
        "movi %[a120].16b, #0\n" "movi %[a121].16b, #0\n" "movi %[a130].16b, #0\n"
        "movi %[a131].16b, #0\n"
        "cbz %[pairs], 3f\n"
        "ldp q0, q1, [%[w0]]\n"
        "ldp q2, q3, [%[w0], #32]\n"
        "ldp q4, q5, [%[w1]]\n"
        "ldp q6, q7, [%[w1], #32]\n"
        "ld2r {v8.2d, v9.2d}, [%[x0]], #16\n"
        "ld2r {v10.2d, v11.2d}, [%[x1]], #16\n"
        "subs %[pairs], %[pairs], #1\n"
        "b.eq 2f\n"
        "1:\n" BITLITE_W8_PAIR(BITLITE_W8_NEXT)
        "subs %[pairs], %[pairs], #1\n"
        "b.ne 1b\n"
        "2:\n" BITLITE_W8_PAIR(BITLITE_W8_LAST)
        "3:\n"
        : [a000] "=w"(acc[0][0][0]), [a001] "=w"(acc[0][0][1]), [a010] "=w"(acc[0][1][0]),
          [a011] "=w"(acc[0][1][1]), [a020] "=w"(acc[0][2][0]), [a021] "=w"(acc[0][2][1]),
          [a030] "=w"(acc[0][3][0]), [a031] "=w"(acc[0][3][1]), [a100] "=w"(acc[1][0][0]),
          [a101] "=w"(acc[1][0][1]), [a110] "=w"(acc[1][1][0]), [a111] "=w"(acc[1][1][1]),
          [a120] "=w"(acc[1][2][0]), [a121] "=w"(acc[1][2][1]), [a130] "=w"(acc[1][3][0]),
          [a131] "=w"(acc[1][3][1]), [w0] "+r"(w0), [w1] "+r"(w1), [x0] "+r"(xp[0]),
          [x1] "+r"(xp[1]), [pairs] "+r"(pairs)
        :
        : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12",
          "v13", "v14", "v15", "cc", "memory");
    return k0 + 2 * ((k1 - k0) / 2);
  }
};
#undef BITLITE_W8_PAIR
#undef BITLITE_W8_LAST
#undef BITLITE_W8_NEXT

// One word of the byte-sum tile: v0-v3 hold its weights (channels 2n, 2n + 1 in vn), v4-v6 the
// codes of pixels 0-2, broadcast; OP (MUL, or MLA) sets or adds their products into the byte
// sums v(8 + 4p + n). NEXT keeps or drops the loads of the next word, each after the last read
// of its registers, and the steps of the pointers before them, paired with the multiplies
// (the in-order cores issue an integer add beside a NEON one). Plain loads and adds, not
// post-indexed loads: under bench/arm's cycle model a word took 35 cycles with LDP and LD1R
// writing their base back, 24 so.
#define BITLITE_BYTE_SUM_NEXT(instruction) instruction
#define BITLITE_BYTE_SUM_LAST(instruction) ""
#define BITLITE_BYTE_SUM_WORD(OP, NEXT)  \
  OP " v8.16b, v0.16b, v4.16b\n"         \
  NEXT("add %[x0], %[x0], #8\n")         \
  OP " v9.16b, v1.16b, v4.16b\n"         \
  NEXT("add %[x1], %[x1], #8\n")         \
  OP " v10.16b, v2.16b, v4.16b\n"        \
  NEXT("add %[x2], %[x2], #8\n")         \
  OP " v11.16b, v3.16b, v4.16b\n"        \
  NEXT("ld1r {v4.2d}, [%[x0]]\n")        \
  OP " v12.16b, v0.16b, v5.16b\n"        \
  NEXT("add %[w0], %[w0], #32\n")        \
  OP " v13.16b, v1.16b, v5.16b\n"        \
  NEXT("add %[w1], %[w1], #32\n")        \
  OP " v14.16b, v2.16b, v5.16b\n"        \
  OP " v15.16b, v3.16b, v5.16b\n"        \
  NEXT("ld1r {v5.2d}, [%[x1]]\n")        \
  OP " v16.16b, v0.16b, v6.16b\n"        \
  OP " v17.16b, v1.16b, v6.16b\n"        \
  NEXT("ldr q0, [%[w0]]\n")              \
  NEXT("ldr q1, [%[w0], #16]\n")         \
  OP " v18.16b, v2.16b, v6.16b\n"        \
  OP " v19.16b, v3.16b, v6.16b\n"        \
  NEXT("ldr q2, [%[w1]]\n")              \
  NEXT("ldr q3, [%[w1], #16]\n")         \
  NEXT("ld1r {v6.2d}, [%[x2]]\n")
// After a run's first word, which multiplies: its other words with a successor (`run` - 1 of
// them), which add, one if their count is odd, then in pairs; PAIRS and DONE are labels.
#define BITLITE_BYTE_SUM_ADDS(PAIRS, DONE)                          \
  "subs %[run], %[run], #1\n"                                       \
  "b.eq " DONE "f\n"                                                \
  "tbz %[run], #0, " PAIRS "f\n"                                    \
  BITLITE_BYTE_SUM_WORD("mla", BITLITE_BYTE_SUM_NEXT)               \
  "subs %[run], %[run], #1\n"                                       \
  "b.eq " DONE "f\n"                                                \
  PAIRS ":\n"                                                       \
  BITLITE_BYTE_SUM_WORD("mla", BITLITE_BYTE_SUM_NEXT)               \
  BITLITE_BYTE_SUM_WORD("mla", BITLITE_BYTE_SUM_NEXT)               \
  "subs %[run], %[run], #2\n"                                       \
  "b.ne " PAIRS "b\n"                                               \
  DONE ":\n"
// The byte sums' pairs added into the uint16 accumulators.
#define BITLITE_BYTE_SUM_WIDEN                                                                    \
  "uadalp %[a00].8h, v8.16b\n" "uadalp %[a01].8h, v9.16b\n" "uadalp %[a02].8h, v10.16b\n"       \
  "uadalp %[a03].8h, v11.16b\n" "uadalp %[a10].8h, v12.16b\n" "uadalp %[a11].8h, v13.16b\n"     \
  "uadalp %[a12].8h, v14.16b\n" "uadalp %[a13].8h, v15.16b\n" "uadalp %[a20].8h, v16.16b\n"     \
  "uadalp %[a21].8h, v17.16b\n" "uadalp %[a22].8h, v18.16b\n" "uadalp %[a23].8h, v19.16b\n"

// Narrow codes: weights one byte per code (the byte layout: two plain loads per word of 4
// channels, nothing to widen) and MLA, which multiplies a register of 2 channels x 8 codes by
// the pixel's 8 codes and adds the products in byte lanes: 16 multiply-adds per instruction,
// twice UMLAL's. Every v is unsigned (bitserial_planes.h), so a product is at most
// MostCodeProduct(w, a) = (2^w - 1) * (2^a - 1), which kMostProduct bounds (BgemmByteSumNeon
// takes the least of its classes that does), and a byte lane holds the sums of kFastWords =
// 255 / kMostProduct words; UADALP then adds its pairs into the uint16 accumulators (one per 2
// channels: the first one's 4 code pairs in lanes 0-3, the second's in 4-7), which hold
// kBlockWords = 0xffff / (2 * kMostProduct) words.
// The 3-pixel tile's word loop is assembly (WordLoop): its 12 byte sums, 12 accumulators, 4
// weight and 3 activation registers take 31 of the 32, and GCC's loop from intrinsics kept
// them on the stack or copied them (3x3 conv 64->64 56x56 W2A2 on the A53: 25.7-26.8M
// instructions; this loop 19.0M, bitserial/neon's 15.8M). Tiles of 1 or 2 pixels (a layer's
// last ones) multiply and add pairs at once: Dot, MUL + UADALP, exact as a product fits a byte.
template <int kMostProduct>
struct NeonByteSumOps {
  static constexpr int kWeightBits = 8;
  using Vec = uint16x8_t;
  static constexpr int kVecsPerWVec = 1;
  using WVec = uint8x16_t;  // 2 channels x 8 codes
  using XVec = uint8x16_t;  // the pixel's word, twice
  static constexpr int kLanes = 2;
  static constexpr int kPairs = 2;
  static constexpr int kPixels = 3;
  static constexpr int64_t kFastWords = 255 / kMostProduct;
  static constexpr int64_t kBlockWords = 0xffff / (2 * kMostProduct);
  static Vec Zero() { return vdupq_n_u16(0); }
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    *lo = vld1q_u8(p);
    *hi = vld1q_u8(p + 16);
  }
  static XVec LoadX(const uint64_t* p) { return vreinterpretq_u8_u64(vld1q_dup_u64(p)); }
  static void Dot(Vec (&acc)[1], WVec w, XVec x) { acc[0] = vpadalq_u8(acc[0], vmulq_u8(w, x)); }
  static void Store(const Vec (&acc)[4][1], int32_t* out, bool accumulate) {
    uint32x4_t quads[4];
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) quads[n] = vpaddlq_u16(acc[n][0]);
    StoreQuads(quads, out, accumulate);
  }
  // acc = the sums of words [k0, k1) of 3 pixels' im2col columns; returns k1. The first word's
  // operands are loaded ahead and every word but the last loads its successor's (nothing past
  // the words is read). The words go in runs of at most kFastWords into the byte sums (the
  // first of a run multiplies, the others add), each run then widened.
  static constexpr int kWordLoopPixels = 3;
  static int64_t WordLoop(Vec (&acc)[3][4][1], const uint64_t* (&xp)[3], const uint8_t* w,
                          int64_t words, int64_t k0, int64_t k1) {
    if (k1 <= k0) {  // an empty reduction
      for (auto& pixel : acc) {
        for (auto& a : pixel) a[0] = Zero();
      }
      return k1;
    }
    const uint8_t* w0 = w + 32 * k0;            // channels 0-3: 32 bytes a word
    const uint8_t* w1 = w + 32 * (words + k0);  // channels 4-7
    int64_t left = k1 - k0;  // words not yet in a run
    int64_t run;
    asm("ldr q0, [%[w0]]\n"
        "ldr q1, [%[w0], #16]\n"
        "ldr q2, [%[w1]]\n"
        "ldr q3, [%[w1], #16]\n"
        "ld1r {v4.2d}, [%[x0]]\n"
        "ld1r {v5.2d}, [%[x1]]\n"
        "ld1r {v6.2d}, [%[x2]]\n"
        "movi %[a00].16b, #0\n" "movi %[a01].16b, #0\n" "movi %[a02].16b, #0\n"
        "movi %[a03].16b, #0\n" "movi %[a10].16b, #0\n" "movi %[a11].16b, #0\n"
        "movi %[a12].16b, #0\n" "movi %[a13].16b, #0\n" "movi %[a20].16b, #0\n"
        "movi %[a21].16b, #0\n" "movi %[a22].16b, #0\n" "movi %[a23].16b, #0\n"
        "1:\n"
        "cmp %[left], %[fast]\n"
        "b.ls 5f\n"
        "sub %[left], %[left], %[fast]\n"  // a run of kFastWords words, each with a successor
        "mov %[run], %[fast]\n"
        BITLITE_BYTE_SUM_WORD("mul", BITLITE_BYTE_SUM_NEXT)
        BITLITE_BYTE_SUM_ADDS("2", "3")
        BITLITE_BYTE_SUM_WIDEN
        "b 1b\n"
        "5:\n"  // the last run: `left` words, the last word last
        "subs %[run], %[left], #1\n"
        "b.eq 7f\n"
        BITLITE_BYTE_SUM_WORD("mul", BITLITE_BYTE_SUM_NEXT)
        BITLITE_BYTE_SUM_ADDS("4", "6")
        BITLITE_BYTE_SUM_WORD("mla", BITLITE_BYTE_SUM_LAST)
        BITLITE_BYTE_SUM_WIDEN
        "b 9f\n"
        "7:\n"
        BITLITE_BYTE_SUM_WORD("mul", BITLITE_BYTE_SUM_LAST)
        BITLITE_BYTE_SUM_WIDEN
        "9:\n"
        "add %[x0], %[x0], #8\n"  // past the last word
        "add %[x1], %[x1], #8\n"
        "add %[x2], %[x2], #8\n"
        : [a00] "=w"(acc[0][0][0]), [a01] "=w"(acc[0][1][0]), [a02] "=w"(acc[0][2][0]),
          [a03] "=w"(acc[0][3][0]), [a10] "=w"(acc[1][0][0]), [a11] "=w"(acc[1][1][0]),
          [a12] "=w"(acc[1][2][0]), [a13] "=w"(acc[1][3][0]), [a20] "=w"(acc[2][0][0]),
          [a21] "=w"(acc[2][1][0]), [a22] "=w"(acc[2][2][0]), [a23] "=w"(acc[2][3][0]),
          [w0] "+r"(w0), [w1] "+r"(w1), [x0] "+r"(xp[0]), [x1] "+r"(xp[1]), [x2] "+r"(xp[2]),
          [left] "+r"(left), [run] "=&r"(run)
        : [fast] "r"(kFastWords)
        : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v8", "v9", "v10", "v11", "v12", "v13",
          "v14", "v15", "v16", "v17", "v18", "v19", "cc", "memory");
    return k1;
  }
};
#undef BITLITE_BYTE_SUM_WIDEN
#undef BITLITE_BYTE_SUM_ADDS
#undef BITLITE_BYTE_SUM_WORD
#undef BITLITE_BYTE_SUM_LAST
#undef BITLITE_BYTE_SUM_NEXT
#endif

// W8A8 bytes whose every product has magnitude at most 32767 / kBlock (Winograd's points of
// 1-4 bit codes, winograd_f2x3.h): SMLAL adds kBlock words' products in each int16 lane before
// the framework adds them into core, 8 multiply-adds an instruction where SMULL + SADALP take
// two for 8 (and the pair tile three for 16).
template <int64_t kBlock>
struct NeonW8Int16Ops : NeonW8Ops {
  using Vec = int16x8_t;  // one channel's 8 code positions
  static constexpr int64_t kBlockWords = kBlock;
  static Vec Zero() { return vdupq_n_s16(0); }
  static void Dot(Vec (&acc)[2], WVec w, XVec x) {
    acc[0] = vmlal_s8(acc[0], vget_low_s8(w), vget_low_s8(x));
#if defined(__aarch64__)
    acc[1] = vmlal_high_s8(acc[1], w, x);  // SMLAL2: no move of the high halves
#else
    acc[1] = vmlal_s8(acc[1], vget_high_s8(w), vget_high_s8(x));
#endif
  }
  static void Store(const Vec (&acc)[4][2], int32_t* out, bool accumulate) {
    uint32x4_t quads[4];
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) {
      quads[n] = PairwiseAdd(vreinterpretq_u32_s32(vpaddlq_s16(acc[n][0])),
                             vreinterpretq_u32_s32(vpaddlq_s16(acc[n][1])));
    }
    StoreQuads(quads, out, accumulate);
  }
};

// BgemmKernel::run_for_products of the NEON W8A8 row: the longest block that keeps every
// int16 lane exact; null where fewer than 16 words do (W8A8's own products; Winograd's at
// W4A4, where widening every 8 words saves fewer cycles than it costs: ResNet-18 224 W4A4 on
// the Cortex-A53, whose trained weights' points allow 8, 3.3M fewer instructions of 315M but
// 8 more modelled ms of 363; every 4 words, 14x14 256->256 alone 13.7M -> 18.9M instructions).
BgemmFn W8A8Int16Run(int32_t most_product) {
  if (most_product <= 0 || most_product > 32767 / 16) return nullptr;
  const int32_t words = 32767 / most_product;
  if (words >= 64) return &bgemm_int8_tile::Bgemm<NeonW8Int16Ops<64>>;
  if (words >= 32) return &bgemm_int8_tile::Bgemm<NeonW8Int16Ops<32>>;
  return &bgemm_int8_tile::Bgemm<NeonW8Int16Ops<16>>;
}

}  // namespace

BgemmKernel BgemmInt8Neon() { return bgemm_int8_tile::ColumnsKernel<NeonInt8Ops>(); }

#if defined(__aarch64__)
BgemmKernel BgemmByteSumNeon(int weight_bits, int activation_bits) {
  const int most = MostCodeProduct(weight_bits, activation_bits);
  // The least bound of these that holds `most` (fewer widenings): W1A1; W1A2, W2A1; W2A2, W1A3,
  // W3A1; W1A4, W4A1, W2A3, W3A2; W2A4, W4A2, W3A3; W3A4, W4A3.
  static_assert(kByteSumMostProduct == 105, "the bounds below end at kByteSumMostProduct");
  if (most <= 1) return bgemm_int8_tile::ColumnsKernel<NeonByteSumOps<1>>();
  if (most <= 3) return bgemm_int8_tile::ColumnsKernel<NeonByteSumOps<3>>();
  if (most <= 9) return bgemm_int8_tile::ColumnsKernel<NeonByteSumOps<9>>();
  if (most <= 21) return bgemm_int8_tile::ColumnsKernel<NeonByteSumOps<21>>();
  if (most <= 49) return bgemm_int8_tile::ColumnsKernel<NeonByteSumOps<49>>();
  if (most <= 105) return bgemm_int8_tile::ColumnsKernel<NeonByteSumOps<105>>();
  return {};  // W4A4: its byte lanes would overflow within a word pair; UMLAL's row
}
#endif

BgemmKernel BgemmW8A8Neon() {
  BgemmKernel kernel = bgemm_int8_tile::ColumnsKernel<NeonW8Ops>();
#if defined(__aarch64__)
  kernel.run_without_min_weight = &bgemm_int8_tile::Bgemm<NeonW8PairOps>;
#endif
  kernel.run_for_products = &W8A8Int16Run;
  return kernel;
}

}  // namespace bitlite
