// aarch64 NEON output epilogue: 4 channels per vector, the same IEEE operations as the
// reference (int32 to float conversion rounding to nearest even, multiply, add; no fused
// multiply-add under -ffp-contract=off) and activations as compare-and-select, which let NaN
// through and keep -0.0 (FMAX would turn max(-0.0, 0) into +0.0).
// armv7 keeps the scalar epilogue: its NEON float arithmetic flushes denormals to zero.
#include <arm_neon.h>

#include "kernels/output_epilogue.h"

namespace bitlite {
namespace {

template <Activation kActivation, bool kChannelTerms>
int64_t Loop(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
             const float* multiplier, const float* offset, float* y) {
  const int32x4_t scale_shift = vdupq_n_s32(terms.scale_shift);
  const int32x4_t constant = vdupq_n_s32(terms.constant);
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const float32x4_t six = vdupq_n_f32(6.0f);
  int64_t c = 0;
#pragma GCC unroll 2
  for (; c + 4 <= channels; c += 4) {
    // Modulo 2^32, as the scalar epilogue's uint32 arithmetic.
    int32x4_t acc = vaddq_s32(vshlq_s32(vld1q_s32(core + c), scale_shift), constant);
    if (kChannelTerms) acc = vaddq_s32(acc, vld1q_s32(terms.channel_terms + c));
    float32x4_t v = vmulq_f32(vcvtq_f32_s32(acc), vld1q_f32(multiplier + c));
    v = vaddq_f32(v, vld1q_f32(offset + c));
    if (kActivation != Activation::kNone) v = vbslq_f32(vcltq_f32(v, zero), zero, v);
    if (kActivation == Activation::kRelu6) v = vbslq_f32(vcgtq_f32(v, six), six, v);
    vst1q_f32(y + c, v);
  }
  return c;
}

template <Activation kActivation>
int64_t Run(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
            const float* multiplier, const float* offset, float* y) {
  return terms.channel_terms != nullptr
             ? Loop<kActivation, true>(core, channels, terms, multiplier, offset, y)
             : Loop<kActivation, false>(core, channels, terms, multiplier, offset, y);
}

}  // namespace

void OutputEpilogueNeon(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
                        const float* multiplier, const float* offset, Activation activation,
                        int32_t* acc, float* y) {
  static constexpr EpilogueVectorLoop kLoops[] = {
      Run<Activation::kNone>, Run<Activation::kRelu>, Run<Activation::kRelu6>};
  RunEpilogueWithScalarTail(kLoops, core, channels, terms, multiplier, offset, activation, acc,
                            y);
}

}  // namespace bitlite
