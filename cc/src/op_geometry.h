// Output shape and convolution geometry of a bitlite op for a given input shape
// (FORMAT.md, "Ops" and "Output size"). Recomputed at every Prepare: batch and spatial sizes
// may change between resizes.
#ifndef BITLITE_SRC_OP_GEOMETRY_H_
#define BITLITE_SRC_OP_GEOMETRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv_geometry.h"
#include "kernels/pool_geometry.h"
#include "op_options.h"

namespace bitlite {

// Returns false with a message in *error if the input shape does not suit the op, or if a
// tensor would be too large to index.
bool ComputeGeometry(const OpParams& params, const std::vector<int>& input_shape,
                     ConvGeometry* geometry, std::vector<int>* output_shape, std::string* error);

std::string ShapeToString(const std::vector<int>& shape);

// FORMAT.md "Output size" for one spatial axis (TFLite's ComputeOutSize and
// ComputePaddingWithOffset): the output size and the padding before the first input; false
// where a VALID window does not fit the input.
bool OutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, Padding padding,
                int64_t* out, int64_t* pad_before);

// The geometry of max pooling an NHWC tensor of shape `x` (rank 4) with `window`, by
// OutputSize's rule; false with a message where the shape or window does not suit.
bool ComputePoolGeometry(const MaxPoolWindow& window, const std::vector<int>& x,
                         PoolGeometry* g, std::string* error);

// A convolution cut down to its live taps (FindLiveTaps, not empty): what the fast kernels
// run. Its weight codes [out_c][kernel_h * kernel_w * in_c / groups] are those of the taps.
struct LiveTapConv {
  OpParams params;
  ConvGeometry geometry;
  std::vector<int8_t> w_codes;
};
LiveTapConv CropToLiveTaps(const OpParams& params, const ConvGeometry& g, const LiveTaps& taps,
                           std::vector<int8_t> w_codes);

}  // namespace bitlite

#endif  // BITLITE_SRC_OP_GEOMETRY_H_
