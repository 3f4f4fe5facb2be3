// aarch64 NEON rows of pooled_accumulators.h: 4 channels a register, the channel tail by the
// scalar rows. The pool keeps a window's maxima of 16 channels in 4 registers over its taps
// (the scalar row, vectorized as written, loads and stores them once per tap), and the
// accumulators take one multiply-add: (core << scale_shift) as core * 2^scale_shift, modulo
// 2^32 like the scalar row's uint32 arithmetic.
#include <arm_neon.h>

#include <algorithm>
#include <climits>

#include "kernels/epilogue/pooled_accumulators.h"

namespace bitlite {

void FlippedAccumulatorsNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                             int64_t channels, const EpilogueTerms& terms, const int32_t* flips,
                             int32_t* out, int64_t out_stride) {
  const int32x4_t scale = vdupq_n_s32(1 << terms.scale_shift);
  const int64_t vector_channels = channels / 4 * 4;
  for (int64_t q = 0; q < pixels; ++q) {
    const int32_t constant = terms.constants != nullptr ? terms.constants[q] : 0;
    const int32_t* channel_terms =
        terms.channel_terms != nullptr ? terms.channel_terms[q] : nullptr;
    const int32_t* in = core + q * core_stride;
    int32_t* row = out + q * out_stride;
    const int32x4_t base = vdupq_n_s32(constant);
    for (int64_t c = 0; c < vector_channels; c += 4) {
      int32x4_t acc = vmlaq_s32(base, vld1q_s32(in + c), scale);
      if (channel_terms != nullptr) acc = vaddq_s32(acc, vld1q_s32(channel_terms + c));
      vst1q_s32(row + c, veorq_s32(acc, vld1q_s32(flips + c)));
    }
    if (vector_channels == channels) continue;
    EpilogueTerms tail;
    tail.scale_shift = terms.scale_shift;
    const int32_t* tail_terms = channel_terms != nullptr ? channel_terms + vector_channels : nullptr;
    tail.constants = &constant;
    tail.channel_terms = channel_terms != nullptr ? &tail_terms : nullptr;
    FlippedAccumulators(in + vector_channels, core_stride, 1, channels - vector_channels, tail,
                        flips + vector_channels, row + vector_channels, out_stride);
  }
}

void MaxPoolFlippedRowNeon(const PoolGeometry& g, int64_t pool_row, const int32_t* const* rows,
                           int64_t channels, const int32_t* flips, int32_t* pooled) {
  const PoolSpan ys = PoolRows(g, pool_row);
  const int64_t blocks = channels / 16 * 16;
  for (int64_t ox = 0; ox < g.out_w; ++ox, pooled += channels) {
    const PoolSpan xs = PoolColumns(g, ox);
    for (int64_t c0 = 0; c0 < blocks; c0 += 16) {
      int32x4x4_t best;
      best.val[0] = best.val[1] = best.val[2] = best.val[3] = vdupq_n_s32(INT32_MIN);
      for (int64_t y = ys.lo; y < ys.hi; ++y) {
        const int32_t* row = rows[y % g.filter_h] + c0;
        for (int64_t x = xs.lo; x < xs.hi; ++x) {
          const int32x4x4_t in = vld1q_s32_x4(row + x * channels);
          best.val[0] = vmaxq_s32(best.val[0], in.val[0]);
          best.val[1] = vmaxq_s32(best.val[1], in.val[1]);
          best.val[2] = vmaxq_s32(best.val[2], in.val[2]);
          best.val[3] = vmaxq_s32(best.val[3], in.val[3]);
        }
      }
      const int32x4x4_t flip = vld1q_s32_x4(flips + c0);
      best.val[0] = veorq_s32(best.val[0], flip.val[0]);
      best.val[1] = veorq_s32(best.val[1], flip.val[1]);
      best.val[2] = veorq_s32(best.val[2], flip.val[2]);
      best.val[3] = veorq_s32(best.val[3], flip.val[3]);
      vst1q_s32_x4(pooled + c0, best);
    }
    // Channels past the 16-channel blocks: the scalar row's loop on them alone.
    for (int64_t c = blocks; c < channels; ++c) {
      int32_t best = INT32_MIN;
      for (int64_t y = ys.lo; y < ys.hi; ++y) {
        for (int64_t x = xs.lo; x < xs.hi; ++x) {
          best = std::max(best, rows[y % g.filter_h][x * channels + c]);
        }
      }
      pooled[c] = best ^ flips[c];
    }
  }
}

}  // namespace bitlite
