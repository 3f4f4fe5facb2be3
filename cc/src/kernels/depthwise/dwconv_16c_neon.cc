// NEON depthwise micro-kernel (aarch64 and armv7, plain NEON): 16 channels as int8 lanes;
// VMLAL.S8 multiplies codes and weights and accumulates into two int16x8 sums, exact within a
// chunk (dwconv.h), widened to int32 once per chunk. W8A8: SMULL's int16 products (exact up to
// 128 * 128) widened and added to four int32x4 sums (SADDW) every tap.
#include <arm_neon.h>

#include "kernels/depthwise/dwconv_row.h"

namespace bitlite {
namespace {

// out[0..15] = (or +=) the four int32x4 sums.
inline void Store32(int32x4_t (&sums)[4], int32_t* out, bool add) {
  if (add) {
    for (int i = 0; i < 4; ++i) sums[i] = vaddq_s32(sums[i], vld1q_s32(out + 4 * i));
  }
  for (int i = 0; i < 4; ++i) vst1q_s32(out + 4 * i, sums[i]);
}

struct NeonOps {
  static constexpr int kLanes = 16;
  static constexpr int kTapBytes = kLanes / 2;
  using Weights = int8x16_t;
  using Acc = int16x8x2_t;
#if defined(__aarch64__)
  static constexpr int kPixels = 4;  // 32 vector registers
#else
  static constexpr int kPixels = 2;  // 16 quad registers
#endif
  static Weights DecodeWeights(const uint8_t* packed) {
    const int8x8_t bytes = vreinterpret_s8_u8(vld1_u8(packed));
    // Arithmetic shifts: the signed high nibble, and the low one moved up and back.
    return vcombine_s8(vshr_n_s8(vshl_n_s8(bytes, 4), 4), vshr_n_s8(bytes, 4));
  }
  static Acc Zero() { return {{vdupq_n_s16(0), vdupq_n_s16(0)}}; }
  static Acc MultiplyAdd(Acc acc, const int8_t* x, Weights w) {
    const int8x16_t codes = vld1q_s8(x);
    acc.val[0] = vmlal_s8(acc.val[0], vget_low_s8(codes), vget_low_s8(w));
#if defined(__aarch64__)
    acc.val[1] = vmlal_high_s8(acc.val[1], codes, w);  // SMLAL2: no move of the high halves
#else
    acc.val[1] = vmlal_s8(acc.val[1], vget_high_s8(codes), vget_high_s8(w));
#endif
    return acc;
  }
  static void Store(Acc acc, int32_t* out, bool add) {
    int32x4_t sums[4] = {vmovl_s16(vget_low_s16(acc.val[0])), vmovl_s16(vget_high_s16(acc.val[0])),
                         vmovl_s16(vget_low_s16(acc.val[1])), vmovl_s16(vget_high_s16(acc.val[1]))};
    Store32(sums, out, add);
  }
};

struct NeonW8A8Ops {
  static constexpr int kLanes = 16;
  static constexpr int kTapBytes = kLanes;
  using Weights = int8x16_t;
  using Acc = int32x4x4_t;
#if defined(__aarch64__)
  static constexpr int kPixels = 2;  // 8 accumulators beside 9 weights
#else
  static constexpr int kPixels = 1;  // 16 quad registers
#endif
  static Weights DecodeWeights(const uint8_t* packed) {
    return vreinterpretq_s8_u8(vld1q_u8(packed));
  }
  static Acc Zero() { return {{vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)}}; }
  static Acc MultiplyAdd(Acc acc, const int8_t* x, Weights w) {
    const int8x16_t codes = vld1q_s8(x);
    const int16x8_t low = vmull_s8(vget_low_s8(codes), vget_low_s8(w));
    const int16x8_t high = vmull_s8(vget_high_s8(codes), vget_high_s8(w));
    acc.val[0] = vaddw_s16(acc.val[0], vget_low_s16(low));
    acc.val[1] = vaddw_s16(acc.val[1], vget_high_s16(low));
    acc.val[2] = vaddw_s16(acc.val[2], vget_low_s16(high));
    acc.val[3] = vaddw_s16(acc.val[3], vget_high_s16(high));
    return acc;
  }
  static void Store(Acc acc, int32_t* out, bool add) {
    int32x4_t sums[4] = {acc.val[0], acc.val[1], acc.val[2], acc.val[3]};
    Store32(sums, out, add);
  }
};

}  // namespace

void DwconvRow16cNeon(const DwconvRowParams& params) { dwconv_row::Run<NeonOps>(params); }

void DwconvRow16cW8A8Neon(const DwconvRowParams& params) {
  dwconv_row::Run<NeonW8A8Ops>(params);
}

}  // namespace bitlite
