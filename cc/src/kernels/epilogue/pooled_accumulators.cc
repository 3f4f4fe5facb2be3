#include "kernels/epilogue/pooled_accumulators.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bitlite {

bool OutputStagePools(const float* multiplier, const float* offset, int64_t channels,
                      Activation activation) {
  // |float(acc)| <= 2^31; in double, |float(acc) * m| + |o| bounds every output before its
  // two float roundings, each of which grows it by at most half an ulp: kept well below the
  // largest float, the outputs are finite.
  const double largest = 0.5 * std::numeric_limits<float>::max();
  // LEAKY_RELU's v * alpha of a negative v rounds to -0.0 where |v * alpha| <= 2^-150. With
  // |m| and |o| each 0 or >= 2^-100, float(acc) * m and o are multiples of 2^-123, so is
  // their exact sum, and a nonzero v is at least 2^-123 in magnitude; times alpha >= 2^-24,
  // at least 2^-147: never -0.0.
  const bool leaky = activation.kind == ActivationKind::kLeakyRelu;
  const float tiny = std::ldexp(1.0f, -100);
  auto far_from_zero = [&](float value) { return value == 0.0f || std::fabs(value) >= tiny; };
  if (leaky && !(activation.alpha >= std::ldexp(1.0f, -24))) return false;
  for (int64_t c = 0; c < channels; ++c) {
    const float m = multiplier[c], o = offset[c];
    if (!std::isfinite(m) || !std::isfinite(o) || (o == 0.0f && std::signbit(o))) return false;
    if (2147483648.0 * std::fabs(double{m}) + std::fabs(double{o}) >= largest) return false;
    if (leaky && !(far_from_zero(m) && far_from_zero(o))) return false;
  }
  return true;
}

void AccumulatorFlips(const float* multiplier, int64_t channels, int32_t* flips) {
  for (int64_t c = 0; c < channels; ++c) flips[c] = multiplier[c] < 0.0f ? -1 : 0;
}

void FlippedAccumulators(const int32_t* core, int64_t core_stride, int64_t pixels,
                         int64_t channels, const EpilogueTerms& terms, const int32_t* flips,
                         int32_t* out, int64_t out_stride) {
  for (int64_t q = 0; q < pixels; ++q, core += core_stride, out += out_stride) {
    const uint32_t constant =
        terms.constants != nullptr ? static_cast<uint32_t>(terms.constants[q]) : 0;
    const int32_t* channel_terms =
        terms.channel_terms != nullptr ? terms.channel_terms[q] : nullptr;
    // Modulo 2^32, as the epilogue adds them: the true sum fits int32. Two loops, so that
    // each vectorizes without a branch.
    const int shift = terms.scale_shift;
    if (channel_terms == nullptr) {
      for (int64_t c = 0; c < channels; ++c) {
        const uint32_t acc = (static_cast<uint32_t>(core[c]) << shift) + constant;
        out[c] = static_cast<int32_t>(acc) ^ flips[c];
      }
      continue;
    }
    for (int64_t c = 0; c < channels; ++c) {
      const uint32_t acc = (static_cast<uint32_t>(core[c]) << shift) + constant +
                           static_cast<uint32_t>(channel_terms[c]);
      out[c] = static_cast<int32_t>(acc) ^ flips[c];
    }
  }
}

void MaxPoolFlippedRow(const PoolGeometry& g, int64_t pool_row, const int32_t* const* rows,
                       int64_t channels, const int32_t* flips, int32_t* pooled) {
  const PoolSpan ys = PoolRows(g, pool_row);
  for (int64_t ox = 0; ox < g.out_w; ++ox, pooled += channels) {
    const PoolSpan xs = PoolColumns(g, ox);
    std::fill_n(pooled, channels, std::numeric_limits<int32_t>::min());
    for (int64_t y = ys.lo; y < ys.hi; ++y) {
      const int32_t* row = rows[y % g.filter_h];
      for (int64_t x = xs.lo; x < xs.hi; ++x) {
        const int32_t* in = row + x * channels;
        for (int64_t c = 0; c < channels; ++c) pooled[c] = std::max(pooled[c], in[c]);
      }
    }
    for (int64_t c = 0; c < channels; ++c) pooled[c] ^= flips[c];
  }
}

PoolKernels BestPoolKernels(const CpuFeatures& cpu) {
#if BITLITE_X86_KERNELS
  if (cpu.avx512bw) return {&FlippedAccumulatorsAvx512, &MaxPoolFlippedRowAvx512};
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
  if (cpu.neon) return {&FlippedAccumulatorsNeon, &MaxPoolFlippedRowNeon};
#endif
  (void)cpu;
  return {&FlippedAccumulators, &MaxPoolFlippedRow};
}

}  // namespace bitlite
