#include "kernels/reference/conv2d_transpose_reference.h"

#include <algorithm>

#include "kernels/reference/output_stage_reference.h"

namespace bitlite {
namespace {

// The input position tap `k` of output `out` reads, or -1: (out + pad - k) / stride where
// that divides exactly and lies in [0, in).
int64_t SourceOf(int64_t out, int64_t pad, int64_t k, int64_t stride, int64_t in) {
  const int64_t at = out + pad - k;
  if (at < 0 || at % stride != 0 || at / stride >= in) return -1;
  return at / stride;
}

}  // namespace

void Conv2DTransposeReference(const ConvGeometry& g, const ActivationCodeT* x_codes,
                              const int8_t* w_codes, const float* multiplier, const float* offset,
                              Activation activation, int32_t* acc, float* y) {
  const int64_t k = g.kernel_h * g.kernel_w * g.in_c;  // one weight row
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        std::fill(acc, acc + g.out_c, 0);
        for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
          const int64_t ih = SourceOf(oh, g.pad_top, kh, g.stride_h, g.in_h);
          if (ih < 0) continue;
          for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
            const int64_t iw = SourceOf(ow, g.pad_left, kw, g.stride_w, g.in_w);
            if (iw < 0) continue;
            const ActivationCodeT* x_tap = x_codes + ((n * g.in_h + ih) * g.in_w + iw) * g.in_c;
            const int8_t* w_tap = w_codes + (kh * g.kernel_w + kw) * g.in_c;
            for (int64_t c = 0; c < g.out_c; ++c) {
              const int8_t* w_row = w_tap + c * k;
              int32_t sum = 0;
              for (int64_t ci = 0; ci < g.in_c; ++ci) sum += w_row[ci] * x_tap[ci];
              acc[c] += sum;
            }
          }
        }
        OutputStageReference(acc, g.out_c, multiplier, offset, activation,
                             y + ((n * g.out_h + oh) * g.out_w + ow) * g.out_c);
      }
    }
  }
}

}  // namespace bitlite
