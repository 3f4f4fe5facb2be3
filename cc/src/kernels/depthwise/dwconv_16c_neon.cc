// NEON depthwise micro-kernel (aarch64 and armv7, plain NEON): 16 channels as int8 lanes;
// VMLAL.S8 multiplies codes and weights and accumulates into two int16x8 sums, exact within a
// chunk (dwconv.h), widened to int32 once per chunk.
#include <arm_neon.h>

#include "kernels/depthwise/dwconv_row.h"

namespace bitlite {
namespace {

struct NeonOps {
  static constexpr int kLanes = 16;
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
    if (add) {
      for (int i = 0; i < 4; ++i) sums[i] = vaddq_s32(sums[i], vld1q_s32(out + 4 * i));
    }
    vst1q_s32(out, sums[0]);
    vst1q_s32(out + 4, sums[1]);
    vst1q_s32(out + 8, sums[2]);
    vst1q_s32(out + 12, sums[3]);
  }
};

}  // namespace

void DwconvRow16cNeon(const DwconvRowParams& params) { dwconv_row::Run<NeonOps>(params); }

}  // namespace bitlite
