// NEON dot-product int8 micro-kernel (aarch64 with the dotprod extension: Cortex-A55/A76 and
// later): tiles of 5 pixels x 8 channels. One 16-byte load holds a word (8 codes) of 4
// channels as nibbles (BitserialWeights' nibble layout, L = 2); an AND and a shift widen it
// to two registers of 2 channels x 8 bytes. UDOT multiplies them with the pixel's word loaded
// into both halves (u8 x u8, both <= 15) and adds the products in 4-byte groups to 32-bit
// lanes: 16 multiply-adds per instruction, each channel's two partial sums added at the end.
// W8A8: int8 weight bytes (BitserialWeights' byte layout, two plain loads) and int8
// activations (v = q - 128 on the unsigned grid, corrected like the nibbles' offset): SDOT,
// s8 x s8, whose 4 products of at most 128 * 128 each fit int32 exactly.
// Compiled with -march=armv8.2-a+dotprod; run only where CpuFeatures::dotprod (HWCAP_ASIMDDP).
#include <arm_neon.h>

#include <limits>

#include "kernels/int8/gemm_tile.h"

namespace bitlite {
namespace {

struct NeonDotInt8Ops {
  static constexpr int kWeightBits = 4;
  using Vec = uint32x4_t;   // {channel a: codes 0-3, 4-7; channel b: codes 0-3, 4-7}
  static constexpr int kVecsPerWVec = 1;
  using WVec = uint8x16_t;  // 2 channels x 8 codes
  using XVec = uint8x16_t;  // the pixel's word, twice
  static constexpr int kLanes = 2;
  static constexpr int kPairs = 2;
  static constexpr int kPixels = 5;  // 20 accumulator registers: 6 made GCC spill
  // The int32 lanes wrap modulo 2^32 like the epilogue: no block limit.
  static constexpr int64_t kBlockWords = std::numeric_limits<int64_t>::max();
  static Vec Zero() { return vdupq_n_u32(0); }
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    const uint8x16_t nibbles = vld1q_u8(p);
    *lo = vandq_u8(nibbles, vdupq_n_u8(0x0f));
    *hi = vshrq_n_u8(nibbles, 4);
  }
  static XVec LoadX(const uint64_t* p) { return vreinterpretq_u8_u64(vld1q_dup_u64(p)); }
  static void Dot(Vec (&acc)[1], WVec w, XVec x) { acc[0] = vdotq_u32(acc[0], w, x); }
  static void Store(const Vec (&acc)[4][1], int32_t* out, bool accumulate) {
    // Vec n holds channels 2n and 2n + 1: pairwise sums give 4 channels per register.
#pragma GCC unroll 4  // constant indices: the accumulators stay registers
    for (int half = 0; half < 2; ++half) {
      uint32x4_t sums = vpaddq_u32(acc[2 * half][0], acc[2 * half + 1][0]);
      uint32_t* dst = reinterpret_cast<uint32_t*>(out + 4 * half);
      if (accumulate) sums = vaddq_u32(sums, vld1q_u32(dst));
      vst1q_u32(dst, sums);
    }
  }
};

struct NeonDotW8Ops : NeonDotInt8Ops {
  static constexpr int kWeightBits = 8;
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    *lo = vld1q_u8(p);
    *hi = vld1q_u8(p + 16);
  }
  // The lanes wrap modulo 2^32 whether read as signed or unsigned.
  static void Dot(Vec (&acc)[1], WVec w, XVec x) {
    acc[0] = vreinterpretq_u32_s32(vdotq_s32(vreinterpretq_s32_u32(acc[0]),
                                             vreinterpretq_s8_u8(w), vreinterpretq_s8_u8(x)));
  }
};

}  // namespace

BgemmKernel BgemmInt8NeonDot() { return bgemm_int8_tile::ColumnsKernel<NeonDotInt8Ops>(); }

BgemmKernel BgemmW8A8NeonDot() { return bgemm_int8_tile::ColumnsKernel<NeonDotW8Ops>(); }

}  // namespace bitlite
