// aarch64 NEON output epilogue: 8 channels per step, the same IEEE operations as the
// reference (int32 to float conversion rounding to nearest even, multiply, add; no fused
// multiply-add under -ffp-contract=off) and activations as compare-and-select, which let NaN
// through and keep -0.0 (FMAX would turn max(-0.0, 0) into +0.0).
// armv7 keeps the scalar epilogue: its NEON float arithmetic flushes denormals to zero.
#include <arm_neon.h>

#include "kernels/epilogue/output_epilogue.h"

namespace bitlite {
namespace {

// 8 channels per step: two vectors, each array read by one two-register load.
template <Activation kActivation, bool kChannelTerms>
int64_t Loop(const int32_t* core, int64_t channels, int scale_shift, int32_t constant_value,
             const int32_t* channel_terms, const float* multiplier, const float* offset,
             float* y) {
  // (core << scale_shift) + constant (+ channel term) as a multiply-add, modulo 2^32 as the
  // scalar epilogue's uint32 arithmetic.
  const int32_t scale = static_cast<int32_t>(1u << scale_shift);
  const int32x4_t constant = vdupq_n_s32(constant_value);
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const float32x4_t six = vdupq_n_f32(6.0f);
  // Pointers stepped by 8, which the loads and the store post-increment.
  const int64_t steps = channels / 8;
  for (int64_t step = 0; step < steps; ++step, core += 8, channel_terms += kChannelTerms ? 8 : 0,
               multiplier += 8, offset += 8, y += 8) {
    const int32x4x2_t core_pair = vld1q_s32_x2(core);
    int32x4x2_t base = {{constant, constant}};
    if (kChannelTerms) {
      const int32x4x2_t term_pair = vld1q_s32_x2(channel_terms);
      for (int h = 0; h < 2; ++h) base.val[h] = vaddq_s32(constant, term_pair.val[h]);
    }
    const float32x4x2_t multiplier_pair = vld1q_f32_x2(multiplier);
    const float32x4x2_t offset_pair = vld1q_f32_x2(offset);
    float32x4x2_t out;
    for (int h = 0; h < 2; ++h) {
      const int32x4_t acc = vmlaq_n_s32(base.val[h], core_pair.val[h], scale);
      float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc), multiplier_pair.val[h]);
      v = vaddq_f32(v, offset_pair.val[h]);
      if (kActivation != Activation::kNone) v = vbslq_f32(vcltq_f32(v, zero), zero, v);
      if (kActivation == Activation::kRelu6) v = vbslq_f32(vcgtq_f32(v, six), six, v);
      out.val[h] = v;
    }
    vst1q_f32_x2(y, out);
  }
  return steps * 8;
}

template <Activation kActivation>
int64_t Run(const int32_t* core, int64_t channels, int scale_shift, int32_t constant,
            const int32_t* channel_terms, const float* multiplier, const float* offset,
            float* y) {
  return channel_terms != nullptr
             ? Loop<kActivation, true>(core, channels, scale_shift, constant, channel_terms,
                                       multiplier, offset, y)
             : Loop<kActivation, false>(core, channels, scale_shift, constant, channel_terms,
                                        multiplier, offset, y);
}

}  // namespace

void OutputEpilogueNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                        int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                        const float* offset, Activation activation, int32_t* acc, float* y,
                        int64_t y_stride) {
  static constexpr EpilogueVectorLoop kLoops[] = {
      Run<Activation::kNone>, Run<Activation::kRelu>, Run<Activation::kRelu6>};
  RunEpilogueWithScalarTail(kLoops, core, core_stride, pixels, channels, terms, multiplier,
                            offset, activation, acc, y, y_stride);
}

}  // namespace bitlite
