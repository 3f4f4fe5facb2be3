// Where a max pool's windows lie: what the glue's MAX_POOL_2D (glue/glue_kernels.h) and a
// convolution that pools its own output (kernels/epilogue/pooled_accumulators.h) compute.
#ifndef BITLITE_SRC_KERNELS_POOL_GEOMETRY_H_
#define BITLITE_SRC_KERNELS_POOL_GEOMETRY_H_

#include <algorithm>
#include <cstdint>

#include "kernels/op_params.h"

namespace bitlite {

// A max pool's options: TFLite's TfLitePoolParams without the fused activation.
struct MaxPoolWindow {
  int filter_h = 1, filter_w = 1;
  int stride_h = 1, stride_w = 1;
  Padding padding = Padding::kValid;
};

// The window of output (row, column) starts at (row * stride_h - pad_top, column * stride_w -
// pad_left) of the input; its elements outside the input are left out.
struct PoolGeometry {
  int batch, in_h, in_w, channels;
  int out_h, out_w;
  int filter_h, filter_w;
  int stride_h, stride_w;
  int pad_top, pad_left;
};

// The input rows [lo, hi) that output row `row` of an image pools, inside the input; the
// same for columns.
struct PoolSpan {
  int64_t lo;
  int64_t hi;
};
inline PoolSpan PoolRows(const PoolGeometry& g, int64_t row) {
  const int64_t origin = row * g.stride_h - g.pad_top;
  return {std::max<int64_t>(origin, 0), std::min<int64_t>(origin + g.filter_h, g.in_h)};
}
inline PoolSpan PoolColumns(const PoolGeometry& g, int64_t column) {
  const int64_t origin = column * g.stride_w - g.pad_left;
  return {std::max<int64_t>(origin, 0), std::min<int64_t>(origin + g.filter_w, g.in_w)};
}

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_POOL_GEOMETRY_H_
