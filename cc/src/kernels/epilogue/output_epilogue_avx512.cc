// AVX-512 output epilogue: 16 channels per step, the channel tail under a mask, with the same
// IEEE operations as the reference (int32 to float conversion rounding to nearest even,
// multiply, add, compare-and-select activations that let NaN through, LEAKY_RELU's select on
// v > 0). The codes variant
// then quantizes in registers with ActivationCode's operations (the binary grid's sign test,
// a multi-level grid's thresholds or its division, round half to even and clip; NaN to 0)
// and stores one byte per output; the fused ADD's variant (EpilogueAddFn) adds the residual
// to the same floats, clamps the sums, stores them and, with a side grid, their codes.
// Compiled with -mavx512f; run only where CpuFeatures says.
#include <immintrin.h>

#include <cfloat>
#include <cstring>
#include <type_traits>

#include "kernels/epilogue/output_epilogue.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bitlite {
namespace {

// Where the outputs go: floats, or the codes of one grid kind.
struct FloatOutput {
  float* y;
  int64_t stride;
  void Store(__m512 v, int64_t q, int64_t c, __mmask16 lanes) const {
    _mm512_mask_storeu_ps(y + q * stride + c, lanes, v);
  }
};

// The binary grid: -1 where v <= -FLT_MIN (ordered: NaN gives +1), else +1.
struct BinaryCodes {
  explicit BinaryCodes(const ActivationPacking&) {}
  __m512i operator()(__m512 v) const {
    const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-FLT_MIN), _CMP_LE_OQ);
    return _mm512_mask_blend_epi32(negative, _mm512_set1_epi32(1), _mm512_set1_epi32(-1));
  }
};

// The lowest code plus the thresholds v reaches (ordered compares: NaN reaches none and is
// then set to 0). kCount, the grid's threshold count, a constant: the compares unroll and
// the thresholds stay in registers (a run-time count kept MobileNetV2's expansions, whose
// outputs are codes, at 13% of its time).
template <int kCount>
struct ThresholdCodes {
  explicit ThresholdCodes(const ActivationPacking& packing)
      : low(_mm512_set1_epi32(packing.grid.range.min)) {
    for (int i = 0; i < kCount; ++i) thresholds[i] = _mm512_set1_ps(packing.thresholds[i]);
  }
  __m512i operator()(__m512 v) const {
    __m512i code = low;
    const __m512i one = _mm512_set1_epi32(1);
    for (int i = 0; i < kCount; ++i) {
      code = _mm512_mask_add_epi32(code, _mm512_cmp_ps_mask(v, thresholds[i], _CMP_GE_OQ),
                                   code, one);
    }
    return _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), code);
  }
  __m512i low;
  __m512 thresholds[kCount];
};

// ActivationCode's own operations: divide, round half to even, clip on floats, NaN to 0.
struct DividingCodes {
  explicit DividingCodes(const ActivationPacking& packing)
      : scale(_mm512_set1_ps(packing.grid.scale)),
        low(_mm512_set1_ps(static_cast<float>(packing.grid.range.min))),
        high(_mm512_set1_ps(static_cast<float>(packing.grid.range.max))) {}
  __m512i operator()(__m512 v) const {
    const __m512 scaled = _mm512_div_ps(v, scale);
    const __mmask16 number = _mm512_cmp_ps_mask(scaled, scaled, _CMP_ORD_Q);
    __m512 code = _mm512_roundscale_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // max/min give their second operand for a NaN first one: NaN lanes stay finite, and are
    // zeroed below.
    code = _mm512_min_ps(_mm512_max_ps(code, low), high);
    return _mm512_maskz_mov_epi32(number, _mm512_cvttps_epi32(code));
  }
  __m512 scale;
  __m512 low;
  __m512 high;
};

// 16 codes as bytes at `to` (VPMOVDB to a register, then a plain store: its memory form, and
// a masked one, is much slower on some cores, AMD Zen 4). The channel tail goes through a
// small buffer.
inline void StoreBytes(__m128i bytes, int8_t* to, __mmask16 lanes) {
  if (lanes == 0xffff) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to), bytes);
    return;
  }
  alignas(16) int8_t tail[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(tail), bytes);
  std::memcpy(to, tail, static_cast<size_t>(__builtin_popcount(lanes)));
}

template <class Codes>
struct CodesOutput {
  int8_t* codes;
  int64_t stride;
  Codes codes_of;
  void Store(__m512 v, int64_t q, int64_t c, __mmask16 lanes) const {
    StoreBytes(_mm512_cvtepi32_epi8(codes_of(v)), codes + q * stride + c, lanes);
  }
};

// Floats with a fused ADD (EpilogueResidual) in the output's registers: the sum with the
// residual, the glue ADD's clamp by compares that let a NaN through (std::max, then
// std::min), the float stored and, unless SideCodes is NoSideCodes, the sum's codes beside it.
template <class SideCodes>
struct ResidualOutput {
  float* y;
  const float* residual;
  int8_t* side_codes;
  int64_t stride;
  bool residual_first;
  __m512 low;
  __m512 high;
  SideCodes codes_of;
  void Store(__m512 v, int64_t q, int64_t c, __mmask16 lanes) const {
    const int64_t at = q * stride + c;
    const __m512 r = _mm512_maskz_loadu_ps(lanes, residual + at);
    __m512 sum = residual_first ? _mm512_add_ps(r, v) : _mm512_add_ps(v, r);
    sum = _mm512_mask_mov_ps(sum, _mm512_cmp_ps_mask(sum, low, _CMP_LT_OQ), low);
    sum = _mm512_mask_mov_ps(sum, _mm512_cmp_ps_mask(high, sum, _CMP_LT_OQ), high);
    _mm512_mask_storeu_ps(y + at, lanes, sum);
    if constexpr (!std::is_same_v<SideCodes, NoSideCodes>) {
      StoreBytes(_mm512_cvtepi32_epi8(codes_of(sum)), side_codes + at, lanes);
    }
  }
};

// The int32 accumulators of 16 channels (the lanes in `lanes`) of one pixel.
template <bool kChannelTerms>
inline __attribute__((always_inline)) __m512i Accumulators(const int32_t* core, __m128i shift,
                                                           __m512i constant,
                                                           const int32_t* channel_terms,
                                                           __mmask16 lanes) {
  __m512i acc = _mm512_add_epi32(_mm512_sll_epi32(_mm512_maskz_loadu_epi32(lanes, core), shift),
                                 constant);
  if (kChannelTerms) acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(lanes, channel_terms));
  return acc;
}

// 16 channels (the lanes in `lanes`) of pixel q.
template <ActivationKind kActivation, bool kChannelTerms, class Output>
inline __attribute__((always_inline)) void Step(const int32_t* core, __m128i shift,
                                                __m512i constant, const int32_t* channel_terms,
                                                __m512 multiplier, __m512 offset,
                                                __m512 alpha, const Output& out, int64_t q,
                                                int64_t c, __mmask16 lanes) {
  const __m512i acc = Accumulators<kChannelTerms>(core, shift, constant, channel_terms, lanes);
  __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), multiplier), offset);
  if (kActivation == ActivationKind::kLeakyRelu) {
    const __mmask16 positive = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
    v = _mm512_mask_mov_ps(_mm512_mul_ps(v, alpha), positive, v);
  } else if (kActivation != ActivationKind::kNone) {
    const __m512 zero = _mm512_setzero_ps();
    v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
  }
  if (kActivation == ActivationKind::kRelu6) {
    const __m512 six = _mm512_set1_ps(6.0f);
    v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, six, _CMP_GT_OQ), six);
  }
  out.Store(v, q, c, lanes);
}

// Channels outside, pixels inside: a vector's multipliers and offsets stay in registers
// while the chunk's pixels (in L1) pass.
template <ActivationKind kActivation, bool kChannelTerms, class Output>
inline __attribute__((always_inline)) void Column(const int32_t* core, int64_t core_stride,
                                                  int64_t pixels, const EpilogueTerms& terms,
                                                  __m128i shift, const float* multiplier,
                                                  const float* offset, float alpha,
                                                  const Output& out, int64_t c,
                                                  __mmask16 lanes) {
  const __m512 m = _mm512_maskz_loadu_ps(lanes, multiplier + c);
  const __m512 o = _mm512_maskz_loadu_ps(lanes, offset + c);
  const __m512 a = _mm512_set1_ps(alpha);
  // Locals: the stores to the output (int8 codes alias anything) could change `terms` and
  // `out` for all the compiler knows, which would reload them after every store.
  const int32_t* constants = terms.constants;
  const int32_t* const* channel_terms = terms.channel_terms;
  const Output local = out;
  for (int64_t q = 0; q < pixels; ++q) {
    const __m512i constant = _mm512_set1_epi32(constants != nullptr ? constants[q] : 0);
    Step<kActivation, kChannelTerms>(core + q * core_stride + c, shift, constant,
                                     kChannelTerms ? channel_terms[q] + c : nullptr, m, o, a,
                                     local, q, c, lanes);
  }
}

template <ActivationKind kActivation, bool kChannelTerms, class Output>
void Run(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
         const EpilogueTerms& terms, const float* multiplier, const float* offset,
         float alpha, const Output& out) {
  const __m128i shift = _mm_cvtsi32_si128(terms.scale_shift);
  const int64_t full = channels / 16 * 16;
  for (int64_t c = 0; c < full; c += 16) {
    Column<kActivation, kChannelTerms>(core, core_stride, pixels, terms, shift, multiplier,
                                       offset, alpha, out, c, 0xffff);
  }
  if (full < channels) {
    Column<kActivation, kChannelTerms>(core, core_stride, pixels, terms, shift, multiplier,
                                       offset, alpha, out, full,
                                       static_cast<__mmask16>((1u << (channels - full)) - 1));
  }
}

// Run for the activation and channel terms of this call: one loop each.
template <class Output>
void Dispatch(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
              const EpilogueTerms& terms, const float* multiplier, const float* offset,
              Activation activation, const Output& out) {
  const bool channel_terms = terms.channel_terms != nullptr;
  WithEpilogueForm(activation.kind, channel_terms, [&](auto kind, auto with_terms) {
    Run<decltype(kind)::value, decltype(with_terms)::value>(
        core, core_stride, pixels, channels, terms, multiplier, offset, activation.alpha, out);
  });
}

// The codes of 16 channels (the lanes in `lanes`, all of them where kFull) of `pixels`
// pixels through CodeThresholds: kCount integer compares per output, no floats. The codes are
// counted in bytes under the compares' masks (AVX512BW, which the rows with codes have): no
// VPMOVDB per output vector, whose cost made most of this loop's time on Zen 4. kFull: plain
// loads and a plain 16-byte store, no mask test per pixel.
template <bool kChannelTerms, int kCount, bool kFull>
inline __attribute__((always_inline)) void ThresholdColumn(
    const int32_t* core, int64_t core_stride, int64_t pixels, __m128i shift,
    PixelConstants constants, const int32_t* const* channel_terms, const CodeThresholdsView& t,
    int64_t c, __mmask16 lanes, int8_t* codes, int64_t codes_stride) {
  const __m512i step = _mm512_set1_epi8(static_cast<char>(t.step));
  // The base codes as bytes 0-15 of a register (only those are stored).
  const __m512i base =
      _mm512_zextsi128_si512(_mm512_cvtepi32_epi8(_mm512_maskz_loadu_epi32(lanes, t.base + c)));
  const __m512i flip = _mm512_maskz_loadu_epi32(lanes, t.flip + c);
  __m512i bounds[kCount];
  for (int j = 0; j < kCount; ++j) {
    bounds[j] = _mm512_maskz_loadu_epi32(lanes, t.bounds + j * t.stride + c);
  }
  for (int64_t q = 0; q < pixels; ++q) {
    const __m512i constant = _mm512_set1_epi32(constants.at[q * constants.stride]);
    const int32_t* pixel_core = core + q * core_stride + c;
    __m512i acc = _mm512_sll_epi32(kFull ? _mm512_loadu_si512(pixel_core)
                                         : _mm512_maskz_loadu_epi32(lanes, pixel_core),
                                   shift);
    acc = _mm512_add_epi32(acc, constant);
    if (kChannelTerms) {
      const int32_t* terms = channel_terms[q] + c;
      acc = _mm512_add_epi32(acc, kFull ? _mm512_loadu_si512(terms)
                                        : _mm512_maskz_loadu_epi32(lanes, terms));
    }
    acc = _mm512_xor_si512(acc, flip);
    __m512i code = base;
    for (int j = 0; j < kCount; ++j) {
      code = _mm512_mask_add_epi8(code, _mm512_cmpgt_epi32_mask(acc, bounds[j]), code, step);
    }
    int8_t* to = codes + q * codes_stride + c;
    if (kFull) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(to), _mm512_castsi512_si128(code));
    } else {
      StoreBytes(_mm512_castsi512_si128(code), to, lanes);
    }
  }
}

// Channels outside, pixels inside, as Column; the whole vectors apart from the tail.
template <bool kChannelTerms, int kCount>
void RunThresholds(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
                   const EpilogueTerms& terms, const CodeThresholdsView& t, int8_t* codes,
                   int64_t codes_stride) {
  const __m128i shift = _mm_cvtsi32_si128(terms.scale_shift);
  const PixelConstants constants = PixelConstantsOf(terms);
  const int32_t* const* channel_terms = terms.channel_terms;
  const int64_t full = channels / 16 * 16;
  for (int64_t c = 0; c < full; c += 16) {
    ThresholdColumn<kChannelTerms, kCount, true>(core, core_stride, pixels, shift, constants,
                                                 channel_terms, t, c, 0xffff, codes,
                                                 codes_stride);
  }
  if (full < channels) {
    ThresholdColumn<kChannelTerms, kCount, false>(
        core, core_stride, pixels, shift, constants, channel_terms, t, full,
        static_cast<__mmask16>((1u << (channels - full)) - 1), codes, codes_stride);
  }
}

// run(Tag<Codes>) with the Codes of `grid`'s kind, one of MakeActivationPacking's: the sign
// test, thresholds where they exist (1, 3 or 7: up to 3 bits), else the division.
template <class T>
struct Tag {
  using type = T;
};
template <class Run>
void WithGridCodes(const ActivationPacking& grid, Run&& run) {
  if (grid.grid.is_binary) return run(Tag<BinaryCodes>{});
  if (grid.threshold_count == 1) return run(Tag<ThresholdCodes<1>>{});
  if (grid.threshold_count == 3) return run(Tag<ThresholdCodes<3>>{});
  if (grid.threshold_count == 7) return run(Tag<ThresholdCodes<7>>{});
  run(Tag<DividingCodes>{});
}

template <class Codes>
void DispatchCodes(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
                   const EpilogueTerms& terms, const float* multiplier, const float* offset,
                   Activation activation, const ActivationPacking& grid, int8_t* codes,
                   int64_t codes_stride) {
  const CodesOutput<Codes> out{codes, codes_stride, Codes(grid)};
  Dispatch(core, core_stride, pixels, channels, terms, multiplier, offset, activation, out);
}

template <class SideCodes>
void DispatchAdd(const int32_t* core, int64_t core_stride, int64_t pixels, int64_t channels,
                 const EpilogueTerms& terms, const float* multiplier, const float* offset,
                 Activation activation, const EpilogueResidual& add, float* y,
                 int64_t y_stride) {
  const ResidualOutput<SideCodes> out{y,
                                      add.residual,
                                      add.side_codes,
                                      y_stride,
                                      add.residual_first,
                                      _mm512_set1_ps(add.low),
                                      _mm512_set1_ps(add.high),
                                      SideCodesOf<SideCodes>(add)};
  Dispatch(core, core_stride, pixels, channels, terms, multiplier, offset, activation, out);
}

}  // namespace

void OutputEpilogueAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                          int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                          const float* offset, Activation activation, int32_t*, float* y,
                          int64_t y_stride) {
  Dispatch(core, core_stride, pixels, channels, terms, multiplier, offset, activation,
           FloatOutput{y, y_stride});
}

void OutputEpilogueCodesAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                               int64_t channels, const EpilogueTerms& terms,
                               const float* multiplier, const float* offset,
                               Activation activation, const ActivationPacking& grid,
                               const CodeThresholdsView& thresholds, int8_t* codes,
                               int64_t codes_stride) {
  if (thresholds.count > 0) {
    WithThresholdLoop(thresholds, terms.channel_terms != nullptr, [&](auto with_terms, auto count) {
      RunThresholds<decltype(with_terms)::value, decltype(count)::value>(
          core, core_stride, pixels, channels, terms, thresholds, codes, codes_stride);
    });
    return;
  }
  WithGridCodes(grid, [&](auto codes_kind) {
    DispatchCodes<typename decltype(codes_kind)::type>(core, core_stride, pixels, channels, terms,
                                                       multiplier, offset, activation, grid,
                                                       codes, codes_stride);
  });
}

void OutputEpilogueAddAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                             int64_t channels, const EpilogueTerms& terms,
                             const float* multiplier, const float* offset, Activation activation,
                             const EpilogueResidual& add, float* y, int64_t y_stride) {
  if (add.side_grid == nullptr) {
    return DispatchAdd<NoSideCodes>(core, core_stride, pixels, channels, terms, multiplier,
                                    offset, activation, add, y, y_stride);
  }
  WithGridCodes(*add.side_grid, [&](auto codes_kind) {
    DispatchAdd<typename decltype(codes_kind)::type>(core, core_stride, pixels, channels, terms,
                                                     multiplier, offset, activation, add, y,
                                                     y_stride);
  });
}

}  // namespace bitlite
