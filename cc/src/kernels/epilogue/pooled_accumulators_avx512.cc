// AVX-512 rows of pooled_accumulators.h: 16 channels a register, channel tails under masks.
// The pool keeps a window's maxima of up to 64 channels in up to 4 registers over its taps
// (the scalar row's loop, vectorized as it is, loads and stores them once per tap).
// Compiled with -mavx512f; run only where CpuFeatures::avx512bw (which implies AVX512F).
#include <immintrin.h>

#include <algorithm>

#include "kernels/epilogue/pooled_accumulators.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace bitlite {
namespace {

__mmask16 TailMask(int64_t left) {
  return left >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << left) - 1);
}

}  // namespace

void FlippedAccumulatorsAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                               int64_t channels, const EpilogueTerms& terms,
                               const int32_t* flips, int32_t* out, int64_t out_stride) {
  const __m128i shift = _mm_cvtsi32_si128(terms.scale_shift);
  for (int64_t q = 0; q < pixels; ++q, core += core_stride, out += out_stride) {
    const __m512i constant =
        _mm512_set1_epi32(terms.constants != nullptr ? terms.constants[q] : 0);
    const int32_t* channel_terms =
        terms.channel_terms != nullptr ? terms.channel_terms[q] : nullptr;
    for (int64_t c = 0; c < channels; c += 16) {
      const __mmask16 m = TailMask(channels - c);
      // Modulo 2^32, as the epilogue adds them.
      __m512i acc = _mm512_sll_epi32(_mm512_maskz_loadu_epi32(m, core + c), shift);
      acc = _mm512_add_epi32(acc, constant);
      if (channel_terms != nullptr) {
        acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(m, channel_terms + c));
      }
      acc = _mm512_xor_si512(acc, _mm512_maskz_loadu_epi32(m, flips + c));
      _mm512_mask_storeu_epi32(out + c, m, acc);
    }
  }
}

namespace {

// The window maxima of channels [c0, c0 + 16 * kRegs) (the last register's tail under its
// mask) for output column `xs`, flipped back into `pooled`. kRegs, a constant: a layer of 16
// or 32 channels (YOLO's first ones) loads and compares only the registers it has.
template <int kRegs>
inline void PoolChannels(const PoolGeometry& g, PoolSpan ys, PoolSpan xs,
                         const int32_t* const* rows, int64_t channels, int64_t c0,
                         const int32_t* flips, int32_t* pooled) {
  __mmask16 m[kRegs];
  __m512i best[kRegs];
#pragma GCC unroll 4
  for (int k = 0; k < kRegs; ++k) {
    m[k] = TailMask(std::max<int64_t>(channels - c0 - 16 * k, 0));
    best[k] = _mm512_set1_epi32(INT32_MIN);
  }
  for (int64_t y = ys.lo; y < ys.hi; ++y) {
    const int32_t* row = rows[y % g.filter_h] + c0;
    for (int64_t x = xs.lo; x < xs.hi; ++x) {
      const int32_t* in = row + x * channels;
#pragma GCC unroll 4
      for (int k = 0; k < kRegs; ++k) {
        best[k] = _mm512_max_epi32(best[k], _mm512_maskz_loadu_epi32(m[k], in + 16 * k));
      }
    }
  }
#pragma GCC unroll 4
  for (int k = 0; k < kRegs; ++k) {
    const __m512i flip = _mm512_maskz_loadu_epi32(m[k], flips + c0 + 16 * k);
    _mm512_mask_storeu_epi32(pooled + c0 + 16 * k, m[k], _mm512_xor_si512(best[k], flip));
  }
}

}  // namespace

void MaxPoolFlippedRowAvx512(const PoolGeometry& g, int64_t pool_row,
                             const int32_t* const* rows, int64_t channels,
                             const int32_t* flips, int32_t* pooled) {
  const PoolSpan ys = PoolRows(g, pool_row);
  for (int64_t ox = 0; ox < g.out_w; ++ox, pooled += channels) {
    const PoolSpan xs = PoolColumns(g, ox);
    for (int64_t c0 = 0; c0 < channels; c0 += 64) {
      const int64_t left = channels - c0;
      if (left > 48) {
        PoolChannels<4>(g, ys, xs, rows, channels, c0, flips, pooled);
      } else if (left > 32) {
        PoolChannels<3>(g, ys, xs, rows, channels, c0, flips, pooled);
      } else if (left > 16) {
        PoolChannels<2>(g, ys, xs, rows, channels, c0, flips, pooled);
      } else {
        PoolChannels<1>(g, ys, xs, rows, channels, c0, flips, pooled);
      }
    }
  }
}

}  // namespace bitlite
