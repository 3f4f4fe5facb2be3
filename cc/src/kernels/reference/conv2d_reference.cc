#include "kernels/reference/conv2d_reference.h"

#include <algorithm>

#include "kernels/reference/output_stage_reference.h"

namespace bitlite {

void Conv2DReference(const ConvGeometry& g, const ActivationCodeT* x_codes, const int8_t* w_codes,
                     const float* multiplier, const float* offset, Activation activation,
                     int32_t* acc, float* y) {
  const int64_t group_in_c = g.InChannelsPerGroup();
  // A weight row, [kernel_h][kernel_w][group_in_c] codes (FORMAT.md "Weight packing").
  const int64_t k = g.kernel_h * g.kernel_w * group_in_c;
  const int64_t group_out_c = g.OutChannelsPerGroup();
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        std::fill(acc, acc + g.out_c, 0);
        for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
          const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) continue;
          for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
            const int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
            if (iw < 0 || iw >= g.in_w) continue;
            const ActivationCodeT* x_pixel = x_codes + ((n * g.in_h + ih) * g.in_w + iw) * g.in_c;
            const int8_t* w_tap = w_codes + (kh * g.kernel_w + kw) * group_in_c;
            for (int64_t c = 0; c < g.out_c; ++c) {
              // Output channel c sees only the input channels of its group.
              const ActivationCodeT* x_tap = x_pixel + (c / group_out_c) * group_in_c;
              const int8_t* w_row = w_tap + c * k;
              int32_t sum = 0;
              for (int64_t ci = 0; ci < group_in_c; ++ci) sum += w_row[ci] * x_tap[ci];
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
