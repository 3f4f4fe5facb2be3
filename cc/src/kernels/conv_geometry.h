// The shape of one convolution as the kernels see it; a fully connected op is the 1x1 case.
// A grouped convolution (FORMAT.md `groups`) splits the channels into `groups` equal slices:
// output channel c reads only the input channels of its group, so each weight row holds
// ReductionSize() = kernel_h * kernel_w * in_c / groups codes.
#ifndef BITLITE_SRC_KERNELS_CONV_GEOMETRY_H_
#define BITLITE_SRC_KERNELS_CONV_GEOMETRY_H_

#include <cstdint>

namespace bitlite {

// Sizes are int64_t so index arithmetic never overflows; products of them were checked to
// fit when the geometry was computed.
struct ConvGeometry {
  int64_t batch = 0;
  int64_t in_h = 1;
  int64_t in_w = 1;
  int64_t in_c = 0;
  int64_t kernel_h = 1;
  int64_t kernel_w = 1;
  int64_t stride_h = 1;
  int64_t stride_w = 1;
  int64_t dilation_h = 1;
  int64_t dilation_w = 1;
  int64_t pad_top = 0;
  int64_t pad_left = 0;
  int64_t out_h = 1;
  int64_t out_w = 1;
  int64_t out_c = 0;
  int64_t groups = 1;  // divides in_c and out_c (checked when the options are parsed)

  int64_t InChannelsPerGroup() const { return in_c / groups; }
  int64_t OutChannelsPerGroup() const { return out_c / groups; }
  // Codes per weight row (per output channel): one group's slice of the input.
  int64_t ReductionSize() const { return kernel_h * kernel_w * InChannelsPerGroup(); }
  int64_t InputSize() const { return batch * in_h * in_w * in_c; }
  int64_t OutputSize() const { return batch * out_h * out_w * out_c; }
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_CONV_GEOMETRY_H_
