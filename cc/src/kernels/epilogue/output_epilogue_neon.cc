// aarch64 NEON output epilogue: 8 channels per step, the same IEEE operations as the
// reference (int32 to float conversion rounding to nearest even, multiply, add; no fused
// multiply-add under -ffp-contract=off) and activations as compare-and-select, which let NaN
// through and keep -0.0 (FMAX would turn max(-0.0, 0) into +0.0); LEAKY_RELU selects on v > 0.
// armv7 keeps the scalar epilogue: its NEON float arithmetic flushes denormals to zero.
// The codes variant (FORMAT.md "Codes between ops") computes the same floats, then quantizes
// them in registers with ActivationCode's operations: the binary grid's ordered compare with
// -FLT_MIN, else the IEEE division, FCVTNS (round half to even, saturating, NaN to 0) and the
// clip on the narrowed codes, as QuantizeActivationsNeon does; one byte per output. The fused
// ADD's variant (EpilogueAddFn) adds the residual to the same floats, clamps the sums, stores
// them and, with a side grid, their codes the same way.
#include <arm_neon.h>

#include <algorithm>
#include <cfloat>
#include <cstring>
#include <type_traits>

#include "kernels/epilogue/output_epilogue.h"

namespace bitlite {
namespace {

// The output stage of the 8 channels at the pointers: two vectors, each array read by one
// two-register load. (core << scale_shift) + constant (+ channel term) as a multiply-add,
// modulo 2^32 as the scalar epilogue's uint32 arithmetic.
template <ActivationKind kActivation, bool kChannelTerms>
inline __attribute__((always_inline)) float32x4x2_t Outputs8(const int32_t* core, int32_t scale,
                                                             int32x4_t constant,
                                                             const int32_t* channel_terms,
                                                             const float* multiplier,
                                                             const float* offset,
                                                             float32x4_t alpha) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const float32x4_t six = vdupq_n_f32(6.0f);
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
    if (kActivation == ActivationKind::kLeakyRelu) {
      v = vbslq_f32(vcgtq_f32(v, zero), v, vmulq_f32(v, alpha));
    } else if (kActivation != ActivationKind::kNone) {
      v = vbslq_f32(vcltq_f32(v, zero), zero, v);
    }
    if (kActivation == ActivationKind::kRelu6) v = vbslq_f32(vcgtq_f32(v, six), six, v);
    out.val[h] = v;
  }
  return out;
}

// 8 channels per step.
template <ActivationKind kActivation, bool kChannelTerms>
int64_t Loop(const int32_t* core, int64_t channels, int scale_shift, int32_t constant_value,
             const int32_t* channel_terms, const float* multiplier, const float* offset,
             float alpha_value, float* y) {
  const int32_t scale = static_cast<int32_t>(1u << scale_shift);
  const int32x4_t constant = vdupq_n_s32(constant_value);
  const float32x4_t alpha = vdupq_n_f32(alpha_value);
  // Pointers stepped by 8, which the loads and the store post-increment.
  const int64_t steps = channels / 8;
  for (int64_t step = 0; step < steps; ++step, core += 8, channel_terms += kChannelTerms ? 8 : 0,
               multiplier += 8, offset += 8, y += 8) {
    // A local first: clang's vst1q_f32_x2 is a macro, and the template's comma would split
    // its arguments.
    const float32x4x2_t outputs = Outputs8<kActivation, kChannelTerms>(
        core, scale, constant, channel_terms, multiplier, offset, alpha);
    vst1q_f32_x2(y, outputs);
  }
  return steps * 8;
}

template <ActivationKind kActivation>
int64_t Run(const int32_t* core, int64_t channels, int scale_shift, int32_t constant,
            const int32_t* channel_terms, const float* multiplier, const float* offset,
            float alpha, float* y) {
  return channel_terms != nullptr
             ? Loop<kActivation, true>(core, channels, scale_shift, constant, channel_terms,
                                       multiplier, offset, alpha, y)
             : Loop<kActivation, false>(core, channels, scale_shift, constant, channel_terms,
                                        multiplier, offset, alpha, y);
}

// The binary grid: -1 where v <= -FLT_MIN (ordered: NaN gives +1), else +1.
struct BinaryCodes {
  explicit BinaryCodes(const ActivationPacking&) {}
  int8x8_t operator()(float32x4x2_t v) const {
    const float32x4_t limit = vdupq_n_f32(-FLT_MIN);
    const uint16x8_t negative =
        vcombine_u16(vmovn_u32(vcleq_f32(v.val[0], limit)), vmovn_u32(vcleq_f32(v.val[1], limit)));
    return vorr_s8(vreinterpret_s8_u8(vmovn_u16(negative)), vdup_n_s8(1));
  }
};

// Every multi-level grid: the division (the thresholds of ActivationPacking give the same
// codes; one FDIV per 4 values is fewer instructions than up to 7 compares, as in
// PackActivationsNeon). FCVTNS saturates and gives 0 for NaN, and saturating narrows keep the
// sign, so clipping the int8 lanes equals ActivationCode's clip on floats.
struct DividingCodes {
  explicit DividingCodes(const ActivationPacking& packing)
      : scale(vdupq_n_f32(packing.grid.scale)),
        low(vdup_n_s8(static_cast<int8_t>(packing.grid.range.min))),
        high(vdup_n_s8(static_cast<int8_t>(packing.grid.range.max))) {}
  int8x8_t operator()(float32x4x2_t v) const {
    const int32x4_t first = vcvtnq_s32_f32(vdivq_f32(v.val[0], scale));
    const int32x4_t second = vcvtnq_s32_f32(vdivq_f32(v.val[1], scale));
    const int8x8_t narrow = vqmovn_s16(vcombine_s16(vqmovn_s32(first), vqmovn_s32(second)));
    return vmin_s8(vmax_s8(narrow, low), high);
  }
  float32x4_t scale;
  int8x8_t low;
  int8x8_t high;
};

// One pixel's outputs, 8 channels per step, each step's handed to `sink(outputs, c, count)`
// (channels c to c + count - 1; count 8 but for the tail). The tail's inputs go through
// zero-padded copies, so nothing is read past the caller's arrays.
template <ActivationKind kActivation, bool kChannelTerms, class Sink>
inline __attribute__((always_inline)) void PixelOutputs(const int32_t* core, int64_t channels,
                                                        int32_t scale, int32x4_t constant,
                                                        const int32_t* channel_terms,
                                                        const float* multiplier,
                                                        const float* offset, float32x4_t alpha,
                                                        const Sink& sink) {
  int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    sink(Outputs8<kActivation, kChannelTerms>(core + c, scale, constant,
                                              kChannelTerms ? channel_terms + c : nullptr,
                                              multiplier + c, offset + c, alpha),
         c, size_t{8});
  }
  if (c == channels) return;
  const size_t left = static_cast<size_t>(channels - c);
  int32_t core_tail[8] = {}, terms_tail[8] = {};
  float multiplier_tail[8] = {}, offset_tail[8] = {};
  std::memcpy(core_tail, core + c, left * sizeof(int32_t));
  if (kChannelTerms) std::memcpy(terms_tail, channel_terms + c, left * sizeof(int32_t));
  std::memcpy(multiplier_tail, multiplier + c, left * sizeof(float));
  std::memcpy(offset_tail, offset + c, left * sizeof(float));
  sink(Outputs8<kActivation, kChannelTerms>(core_tail, scale, constant, terms_tail,
                                            multiplier_tail, offset_tail, alpha),
       c, left);
}

// 8 codes (of which `count` are stored) at `to`; the tail through a copy.
inline void StoreCodes(int8x8_t codes, int8_t* to, size_t count) {
  if (count == 8) {
    vst1_s8(to, codes);
    return;
  }
  int8_t tail[8];
  vst1_s8(tail, codes);
  std::memcpy(to, tail, count);
}

template <ActivationKind kActivation, bool kChannelTerms, class Codes>
void CodesRows(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
               const EpilogueTerms& terms, const float* multiplier, const float* offset,
               float alpha_value, const Codes& codes_of, int8_t* codes, int64_t codes_stride) {
  const int32_t scale = static_cast<int32_t>(1u << terms.scale_shift);
  const float32x4_t alpha = vdupq_n_f32(alpha_value);
  for (int64_t q = 0; q < pixels; ++q) {
    const int32x4_t constant = vdupq_n_s32(terms.constants != nullptr ? terms.constants[q] : 0);
    int8_t* pixel_codes = codes + q * codes_stride;
    auto store = [&](float32x4x2_t outputs, int64_t c, size_t count) {
      StoreCodes(codes_of(outputs), pixel_codes + c, count);
    };
    PixelOutputs<kActivation, kChannelTerms>(core + q * core_stride, channels, scale, constant,
                                             kChannelTerms ? terms.channel_terms[q] : nullptr,
                                             multiplier, offset, alpha, store);
  }
}

// The outputs with a fused ADD (EpilogueResidual): the sum with the residual, the glue ADD's
// clamp by compares that let a NaN through (std::max, then std::min), the floats stored and,
// unless SideCodes is NoSideCodes, their codes beside. The tail's residual and sums go
// through copies.
template <ActivationKind kActivation, bool kChannelTerms, class SideCodes>
void ResidualRows(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
                  const EpilogueTerms& terms, const float* multiplier, const float* offset,
                  float alpha_value, const EpilogueResidual& add, const SideCodes& codes_of,
                  float* y, int64_t y_stride) {
  const int32_t scale = static_cast<int32_t>(1u << terms.scale_shift);
  const float32x4_t alpha = vdupq_n_f32(alpha_value);
  const float32x4_t low = vdupq_n_f32(add.low);
  const float32x4_t high = vdupq_n_f32(add.high);
  const bool residual_first = add.residual_first;
  for (int64_t q = 0; q < pixels; ++q) {
    const int32x4_t constant = vdupq_n_s32(terms.constants != nullptr ? terms.constants[q] : 0);
    const float* residual = add.residual + q * y_stride;
    float* sums = y + q * y_stride;
    auto store = [&](float32x4x2_t outputs, int64_t c, size_t count) {
      float32x4x2_t r;
      if (count == 8) {
        r = vld1q_f32_x2(residual + c);
      } else {
        float tail[8] = {};
        std::memcpy(tail, residual + c, count * sizeof(float));
        r = vld1q_f32_x2(tail);
      }
      float32x4x2_t sum;
      for (int h = 0; h < 2; ++h) {
        float32x4_t v = residual_first ? vaddq_f32(r.val[h], outputs.val[h])
                                       : vaddq_f32(outputs.val[h], r.val[h]);
        v = vbslq_f32(vcltq_f32(v, low), low, v);
        sum.val[h] = vbslq_f32(vcltq_f32(high, v), high, v);
      }
      if (count == 8) {
        vst1q_f32_x2(sums + c, sum);
      } else {
        float tail[8];
        vst1q_f32_x2(tail, sum);
        std::memcpy(sums + c, tail, count * sizeof(float));
      }
      if constexpr (!std::is_same_v<SideCodes, NoSideCodes>) {
        StoreCodes(codes_of(sum), add.side_codes + q * y_stride + c, count);
      }
    };
    PixelOutputs<kActivation, kChannelTerms>(core + q * core_stride, channels, scale, constant,
                                             kChannelTerms ? terms.channel_terms[q] : nullptr,
                                             multiplier, offset, alpha, store);
  }
}

// Channels 4h .. 4h + 3 of a pixel's accumulators: (core << scale_shift) + constant (+ channel
// term), modulo 2^32.
template <bool kChannelTerms>
inline int32x4_t Accumulators(const int32_t* core, int32_t scale, int32x4_t constant,
                              const int32_t* channel_terms, int h) {
  int32x4_t start = constant;
  if (kChannelTerms) start = vaddq_s32(start, vld1q_s32(channel_terms + 4 * h));
  return vmlaq_n_s32(start, vld1q_s32(core + 4 * h), scale);
}

inline int32x4_t BitSelect(int32x4_t mask, int32x4_t a, int32x4_t b) {
  return vbslq_s32(vreinterpretq_u32_s32(mask), a, b);
}
inline int16x8_t BitSelect(int16x8_t mask, int16x8_t a, int16x8_t b) {
  return vbslq_s16(vreinterpretq_u16_s16(mask), a, b);
}
inline int32x4_t Subtract(int32x4_t a, int32x4_t b) { return vsubq_s32(a, b); }
inline int16x8_t Subtract(int16x8_t a, int16x8_t b) { return vsubq_s16(a, b); }

// base + step * #{ j : acc > bounds[j] } from the compares' masks (-1 where reached): a
// select between base and above = base + step for one compare (the binary grid's step 2 takes
// one), else base minus the masks (step 1: code_thresholds.h's grids of 3 and 7 compares;
// OutputEpilogueCodesNeon takes no other).
template <int kCount, class V>
inline V CodeOfMasks(V base, V above, const V (&masks)[kCount]) {
  if constexpr (kCount == 1) {
    return BitSelect(masks[0], above, base);
  } else {
    V code = base;
#pragma GCC unroll 7
    for (int j = 0; j < kCount; ++j) code = Subtract(code, masks[j]);
    return code;
  }
}
// The codes through CodeThresholds: kCount integer compares per output, no floats. Channels
// outside (8 at a time, their bounds in registers: plain vectors, as GCC keeps arrays of
// NEON's structs in memory), pixels inside.
template <int kCount>
struct ThresholdColumn {
  static constexpr int kCompares = kCount;
  int32x4_t base[2], above[2], flip[2], bounds[kCount][2];

  // From the channels' 8 entries at `base`, `flip` and the bounds rows (`stride` apart).
  ThresholdColumn(const int32_t* base_at, const int32_t* flip_at, const int32_t* bounds_at,
                  int64_t stride, int32_t step) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      base[h] = vld1q_s32(base_at + 4 * h);
      above[h] = vaddq_s32(base[h], vdupq_n_s32(step));
      flip[h] = vld1q_s32(flip_at + 4 * h);
#pragma GCC unroll 7
      for (int j = 0; j < kCount; ++j) bounds[j][h] = vld1q_s32(bounds_at + j * stride + 4 * h);
    }
  }

  // The 8 codes of one pixel: acc = (core << scale_shift) + constant (+ channel term) modulo
  // 2^32, flipped; base plus step per bound it exceeds.
  template <bool kChannelTerms>
  int8x8_t Codes(const int32_t* core, int32_t scale, int32x4_t constant,
                 const int32_t* channel_terms) const {
    int16x4_t halves[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const int32x4_t acc = veorq_s32(
          Accumulators<kChannelTerms>(core, scale, constant, channel_terms, h), flip[h]);
      int32x4_t masks[kCount];
#pragma GCC unroll 7
      for (int j = 0; j < kCount; ++j) {
        masks[j] = vreinterpretq_s32_u32(vcgtq_s32(acc, bounds[j][h]));
      }
      halves[h] = vmovn_s32(CodeOfMasks<kCount>(base[h], above[h], masks));
    }
    return vmovn_s16(vcombine_s16(halves[0], halves[1]));
  }
};

// The same codes from 8 int16 lanes where the view is narrow (the accumulators fit int16,
// code_thresholds.h): each compare, the flip and the sums cover 8 channels, not 4.
template <int kCount>
struct NarrowThresholdColumn {
  static constexpr int kCompares = kCount;
  int16x8_t base, above, flip, bounds[kCount];

  // 8 int32 entries from `at`, saturated to int16 (a bound of INT32_MAX to 32767, which no
  // int16 exceeds).
  static int16x8_t Narrow(const int32_t* at) {
    return vcombine_s16(vqmovn_s32(vld1q_s32(at)), vqmovn_s32(vld1q_s32(at + 4)));
  }

  NarrowThresholdColumn(const int32_t* base_at, const int32_t* flip_at, const int32_t* bounds_at,
                        int64_t stride, int32_t step)
      : base(Narrow(base_at)),
        above(vaddq_s16(base, vdupq_n_s16(static_cast<int16_t>(step)))),
        flip(Narrow(flip_at)) {
#pragma GCC unroll 7
    for (int j = 0; j < kCount; ++j) bounds[j] = Narrow(bounds_at + j * stride);
  }

  template <bool kChannelTerms>
  int8x8_t Codes(const int32_t* core, int32_t scale, int32x4_t constant,
                 const int32_t* channel_terms) const {
    int16x4_t halves[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      halves[h] = vqmovn_s32(Accumulators<kChannelTerms>(core, scale, constant, channel_terms, h));
    }
    const int16x8_t acc = veorq_s16(vcombine_s16(halves[0], halves[1]), flip);
    int16x8_t masks[kCount];
#pragma GCC unroll 7
    for (int j = 0; j < kCount; ++j) masks[j] = vreinterpretq_s16_u16(vcgtq_s16(acc, bounds[j]));
    return vmovn_s16(CodeOfMasks<kCount>(base, above, masks));
  }
};

template <bool kChannelTerms, class Column>
void ThresholdCodes(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
                    const EpilogueTerms& terms, const CodeThresholdsView& t, int8_t* codes,
                    int64_t codes_stride) {
  const int32_t scale = static_cast<int32_t>(1u << terms.scale_shift);
  // Locals: the int8 stores could change `terms` for all the compiler knows.
  const int32_t* const* channel_terms = terms.channel_terms;
  // No branch on the constants in the pixel loop: it would keep GCC from interleaving its two
  // pixels.
  const PixelConstants constants = PixelConstantsOf(terms);
  auto constant = [&](int64_t q) { return vld1q_dup_s32(constants.at + q * constants.stride); };
  int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    const Column column(t.base + c, t.flip + c, t.bounds + c, t.stride, t.step);
    auto codes_of = [&](int64_t q) __attribute__((always_inline)) {
      return column.template Codes<kChannelTerms>(core + q * core_stride + c, scale, constant(q),
                                                  kChannelTerms ? channel_terms[q] + c : nullptr);
    };
    int64_t q = 0;
    // Two pixels a step: each pixel's codes are one chain (multiply, narrow, compares, sums)
    // whose every instruction waits on the one before, which an in-order core (Cortex-A53)
    // cannot hide; two independent chains interleave. Under bench/arm's cycle model (llvm-mca's
    // Cortex-A55 model) a pixel of 3 compares in int16 lanes takes 30 cycles instead of 59.
    for (; q + 2 <= pixels; q += 2) {
      // Locals before the stores: clang's NEON stores are macros (see Loop).
      const int8x8_t first = codes_of(q), second = codes_of(q + 1);
      vst1_s8(codes + q * codes_stride + c, first);
      vst1_s8(codes + (q + 1) * codes_stride + c, second);
    }
    if (q < pixels) {
      const int8x8_t last = codes_of(q);
      vst1_s8(codes + q * codes_stride + c, last);
    }
  }
  if (c == channels) return;
  // The tail (under 8 channels) through zero-padded copies, as PixelOutputs.
  const size_t left = static_cast<size_t>(channels - c), bytes = left * sizeof(int32_t);
  constexpr int kCount = Column::kCompares;
  int32_t base[8] = {}, flip[8] = {}, bounds[kCount][8] = {};
  std::memcpy(base, t.base + c, bytes);
  std::memcpy(flip, t.flip + c, bytes);
  for (int j = 0; j < kCount; ++j) std::memcpy(bounds[j], t.bounds + j * t.stride + c, bytes);
  const Column column(base, flip, bounds[0], 8, t.step);
  for (int64_t q = 0; q < pixels; ++q) {
    int32_t core_tail[8] = {}, terms_tail[8] = {};
    std::memcpy(core_tail, core + q * core_stride + c, bytes);
    if (kChannelTerms) std::memcpy(terms_tail, channel_terms[q] + c, bytes);
    int8_t codes_tail[8];
    const int8x8_t tail_codes =
        column.template Codes<kChannelTerms>(core_tail, scale, constant(q), terms_tail);
    vst1_s8(codes_tail, tail_codes);
    std::memcpy(codes + q * codes_stride + c, codes_tail, left);
  }
}

template <class Codes>
void DispatchCodes(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
                   const EpilogueTerms& terms, const float* multiplier, const float* offset,
                   Activation activation, const ActivationPacking& grid, int8_t* codes,
                   int64_t codes_stride) {
  const bool channel_terms = terms.channel_terms != nullptr;
  WithEpilogueForm(activation.kind, channel_terms, [&](auto kind, auto with_terms) {
    CodesRows<decltype(kind)::value, decltype(with_terms)::value>(
        core, core_stride, pixels, channels, terms, multiplier, offset, activation.alpha,
        Codes(grid), codes, codes_stride);
  });
}

template <class SideCodes>
void DispatchResidual(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
                      const EpilogueTerms& terms, const float* multiplier, const float* offset,
                      Activation activation, const EpilogueResidual& add, float* y,
                      int64_t y_stride) {
  const bool channel_terms = terms.channel_terms != nullptr;
  WithEpilogueForm(activation.kind, channel_terms, [&](auto kind, auto with_terms) {
    ResidualRows<decltype(kind)::value, decltype(with_terms)::value>(
        core, core_stride, pixels, channels, terms, multiplier, offset, activation.alpha, add,
        SideCodesOf<SideCodes>(add), y, y_stride);
  });
}

}  // namespace

void OutputEpilogueNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                        int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                        const float* offset, Activation activation, int32_t* acc, float* y,
                        int64_t y_stride) {
  static constexpr EpilogueVectorLoop kLoops[] = {
      Run<ActivationKind::kNone>, Run<ActivationKind::kRelu>, Run<ActivationKind::kRelu6>,
      Run<ActivationKind::kLeakyRelu>};
  RunEpilogueWithScalarTail(kLoops, core, core_stride, pixels, channels, terms, multiplier,
                            offset, activation, acc, y, y_stride);
}

void OutputEpilogueCodesNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                             int64_t channels, const EpilogueTerms& terms,
                             const float* multiplier, const float* offset,
                             Activation activation, const ActivationPacking& grid,
                             const CodeThresholdsView& thresholds, int8_t* codes,
                             int64_t codes_stride) {
  if (thresholds.count == 1 || (thresholds.count > 1 && thresholds.step == 1)) {
    WithThresholdLoop(thresholds, terms.channel_terms != nullptr, [&](auto with_terms, auto count) {
      constexpr bool kTerms = decltype(with_terms)::value;
      constexpr int kCount = decltype(count)::value;
      const auto run = thresholds.narrow ? ThresholdCodes<kTerms, NarrowThresholdColumn<kCount>>
                                         : ThresholdCodes<kTerms, ThresholdColumn<kCount>>;
      run(core, core_stride, pixels, channels, terms, thresholds, codes, codes_stride);
    });
    return;
  }
  const auto run = grid.grid.is_binary ? DispatchCodes<BinaryCodes> : DispatchCodes<DividingCodes>;
  run(core, core_stride, pixels, channels, terms, multiplier, offset, activation, grid, codes,
      codes_stride);
}

void OutputEpilogueAddNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                           int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                           const float* offset, Activation activation,
                           const EpilogueResidual& add, float* y, int64_t y_stride) {
  // The side grid's kind as in OutputEpilogueCodesNeon's float path (no grid: floats alone).
  const ActivationPacking* grid = add.side_grid;
  const auto run = grid == nullptr          ? DispatchResidual<NoSideCodes>
                   : grid->grid.is_binary   ? DispatchResidual<BinaryCodes>
                                            : DispatchResidual<DividingCodes>;
  run(core, core_stride, pixels, channels, terms, multiplier, offset, activation, add, y,
      y_stride);
}

}  // namespace bitlite
