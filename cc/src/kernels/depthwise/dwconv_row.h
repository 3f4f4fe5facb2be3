// The loop nest shared by the depthwise micro-kernels (dwconv.h), written once over an ISA
// policy `Ops` that each dwconv_<tile>_<isa>.cc file defines in an anonymous namespace and
// instantiates in a translation unit compiled for that ISA:
//   kLanes (channels per tile, L); kTapBytes (one tap's packed weights: L / 2 bytes of
//   nibbles, or L int8 bytes for W8A8); Weights (one tap's L decoded weight codes); Acc (L
//   sums); kPixels (output pixels per step: as many accumulators as the registers hold beside
//   9 taps' weights); DecodeWeights(packed) (kTapBytes bytes, the dwconv.h layout);
//   Zero(); MultiplyAdd(acc, x, w) = acc + (the L codes at x) * w per lane;
//   Store(acc, out, add): out[0..L-1] = (or +=) acc widened to int32.
// Include only from such a file; it uses no library functions, so nothing compiled for an
// ISA here can be linked into code that runs on CPUs without it.
#ifndef BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_ROW_H_
#define BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_ROW_H_

#include <cstdint>
#include <utility>

#include "kernels/depthwise/dwconv.h"

namespace bitlite {
namespace dwconv_row {

// Calls f(0) ... f(N - 1) unrolled: GCC at -O2 keeps short loops over register arrays as
// loops over memory.
template <class F, int... I>
inline __attribute__((always_inline)) void Unroll(F&& f, std::integer_sequence<int, I...>) {
  (f(I), ...);
}
template <int N, class F>
inline __attribute__((always_inline)) void Unroll(F&& f) {
  Unroll(f, std::make_integer_sequence<int, N>{});
}

// Calls f(t) for t in [0, n); with kTaps > 0, n == kTaps and the loop unrolls fully, so the
// weights indexed by t can live in registers.
template <int kTaps, class F>
inline __attribute__((always_inline)) void ForTaps(int64_t n, F&& f) {
  if constexpr (kTaps > 0) {
    Unroll<kTaps>(f);
  } else {
    for (int64_t t = 0; t < n; ++t) f(t);
  }
}

// kPixels output pixels (kPixels accumulators) over the n taps of one chunk: each tap's
// offset and weights are loaded once for all of them.
template <class Ops, int kTaps, int kPixels>
inline __attribute__((always_inline)) void Pixels(const typename Ops::Weights* w,
                                                  const int64_t* offsets, int64_t n,
                                                  const int8_t* window, int64_t step,
                                                  int32_t* out, int64_t out_stride, bool add) {
  typename Ops::Acc acc[kPixels];
  const int8_t* pixel[kPixels];
  Unroll<kPixels>([&](int i) __attribute__((always_inline)) {
    acc[i] = Ops::Zero();
    pixel[i] = window + i * step;
  });
  ForTaps<kTaps>(n, [&](int64_t t) __attribute__((always_inline)) {
    Unroll<kPixels>([&](int i) __attribute__((always_inline)) {
      acc[i] = Ops::MultiplyAdd(acc[i], pixel[i] + offsets[t], w[t]);
    });
  });
  Unroll<kPixels>([&](int i) __attribute__((always_inline)) {
    Ops::Store(acc[i], out + i * out_stride, add);
  });
}

// Taps [first, first + n) for every output pixel of the row. Weights are decoded once per
// chunk and row and reused by every pixel; in memory they stay 4 bits per code.
template <class Ops, int kTaps>
inline __attribute__((always_inline)) void Chunk(const DwconvRowParams& p, int64_t first,
                                                 int64_t n) {
  typename Ops::Weights w[kTaps > 0 ? kTaps : kDwconvChunkTaps];
  ForTaps<kTaps>(n, [&](int64_t t) __attribute__((always_inline)) {
    w[t] = Ops::DecodeWeights(p.weights + (first + t) * Ops::kTapBytes);
  });
  // With kTaps, a local copy the compiler keeps in registers across the row.
  int64_t local_offsets[kTaps > 0 ? kTaps : 1];
  if constexpr (kTaps > 0) {
    Unroll<kTaps>([&](int t) __attribute__((always_inline)) {
      local_offsets[t] = p.tap_offsets[first + t];
    });
  }
  const int64_t* offsets = kTaps > 0 ? local_offsets : p.tap_offsets + first;
  const bool add = first > 0;
  const int8_t* window = p.x;
  int32_t* out = p.acc;
  int64_t ow = 0;
  for (; ow + Ops::kPixels <= p.out_w; ow += Ops::kPixels) {
    Pixels<Ops, kTaps, Ops::kPixels>(w, offsets, n, window, p.pixel_step, out, p.acc_stride, add);
    window += Ops::kPixels * p.pixel_step;
    out += Ops::kPixels * p.acc_stride;
  }
  for (; ow < p.out_w; ++ow, window += p.pixel_step, out += p.acc_stride) {
    Pixels<Ops, kTaps, 1>(w, offsets, n, window, p.pixel_step, out, p.acc_stride, add);
  }
}

// 3x3 kernels (MobileNet's) get the compile-time tap count.
template <class Ops>
inline __attribute__((always_inline)) void Run(const DwconvRowParams& p) {
  if (p.taps == 9) return Chunk<Ops, 9>(p, 0, 9);
  for (int64_t first = 0; first < p.taps; first += kDwconvChunkTaps) {
    const int64_t n = p.taps - first < kDwconvChunkTaps ? p.taps - first : kDwconvChunkTaps;
    Chunk<Ops, 0>(p, first, n);
  }
}

}  // namespace dwconv_row
}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_ROW_H_
