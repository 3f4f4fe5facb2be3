// The loop nest shared by the depthwise micro-kernels (dwconv.h), written once over an ISA
// policy `Ops` that each dwconv_16c_<isa>.cc file defines in an anonymous namespace and
// instantiates in a translation unit compiled for that ISA:
//   Weights (one tap's 16 decoded weight codes), Acc (16 sums);
//   DecodeWeights(packed) (8 bytes of nibbles, the dwconv.h layout); Zero();
//   MultiplyAdd(acc, x, w) = acc + (the 16 codes at x) * w per lane;
//   Store(acc, out, add): out[0..15] = (or +=) acc widened to int32.
// Include only from such a file; it uses no library functions, so nothing compiled for an
// ISA here can be linked into code that runs on CPUs without it.
#ifndef BITLITE_SRC_KERNELS_DWCONV_ROW_H_
#define BITLITE_SRC_KERNELS_DWCONV_ROW_H_

#include <cstdint>

#include "kernels/dwconv.h"

namespace bitlite {
namespace dwconv_row {

// Weights are decoded once per chunk of taps and row, then reused by every output pixel of
// the row; the packed layout stays 4 bits per code in memory.
template <class Ops>
inline __attribute__((always_inline)) void Run(const DwconvRowParams& p) {
  typename Ops::Weights w[kDwconvChunkTaps];
  for (int64_t first = 0; first < p.taps; first += kDwconvChunkTaps) {
    const int64_t n = p.taps - first < kDwconvChunkTaps ? p.taps - first : kDwconvChunkTaps;
    for (int64_t t = 0; t < n; ++t) {
      w[t] = Ops::DecodeWeights(p.weights + (first + t) * (kDwconvLanes / 2));
    }
    const int64_t* offsets = p.tap_offsets + first;
    const int8_t* window = p.x;
    int32_t* out = p.acc;
    for (int64_t ow = 0; ow < p.out_w; ++ow, window += p.pixel_step, out += p.acc_stride) {
      typename Ops::Acc acc = Ops::Zero();
      for (int64_t t = 0; t < n; ++t) acc = Ops::MultiplyAdd(acc, window + offsets[t], w[t]);
      Ops::Store(acc, out, first > 0);
    }
  }
}

}  // namespace dwconv_row
}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_DWCONV_ROW_H_
