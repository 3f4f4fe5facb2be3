// The shape of one convolution as the kernels see it; a fully connected op is the 1x1 case.
// A grouped convolution (FORMAT.md `groups`) splits the channels into `groups` equal slices:
// output channel c reads only the input channels of its group, so each weight row holds
// kernel_h * kernel_w * in_c / groups codes (OpParams::ReductionSize(), fixed by the options).
#ifndef BITLITE_SRC_KERNELS_CONV_GEOMETRY_H_
#define BITLITE_SRC_KERNELS_CONV_GEOMETRY_H_

#include <cstdint>
#include <string>

#include "kernels/checked_size.h"

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
  int64_t InputSize() const { return batch * in_h * in_w * in_c; }
  int64_t OutputSize() const { return batch * out_h * out_w * out_c; }
};

// Taps of one kernel axis, [lo, hi).
struct TapRange {
  int64_t lo;
  int64_t hi;
  bool Empty() const { return hi <= lo; }
  bool operator==(const TapRange& other) const { return lo == other.lo && hi == other.hi; }
};

// The taps of one axis that land inside the input for output position `out`.
TapRange ValidTaps(int64_t out, int64_t stride, int64_t pad, int64_t dilation, int64_t kernel,
                   int64_t in);

// The taps of each axis that some window reads inside the input: the union of ValidTaps over
// the outputs, always one range. Taps outside it read zero padding for every output and add nothing, so the
// fast kernels run the convolution cropped to it (CropTaps): a window whose dilation reaches
// far past the input then costs what the taps it really reads cost, as in the reference.
struct LiveTaps {
  TapRange rows;
  TapRange cols;
  bool Empty() const { return rows.Empty() || cols.Empty(); }
  bool operator==(const LiveTaps& other) const {
    return rows == other.rows && cols == other.cols;
  }
  bool All(const ConvGeometry& g) const {
    return rows.lo == 0 && rows.hi == g.kernel_h && cols.lo == 0 && cols.hi == g.kernel_w;
  }
};
LiveTaps FindLiveTaps(const ConvGeometry& g);

// The same convolution on the live taps only (not Empty()): a smaller kernel whose windows
// start at the first live tap, so pad_top or pad_left may become negative (the window
// starts inside the input).
ConvGeometry CropTaps(const ConvGeometry& g, const LiveTaps& taps);

// Weight codes [out_c][kernel_h][kernel_w][in_c / groups] of `g` cut to the live taps.
void CropWeightCodes(const ConvGeometry& g, const LiveTaps& taps, const int8_t* w_codes,
                     int8_t* cropped);

// One spatial axis of a zero-padded input buffer that holds the input and every position a
// window reads: input position i sits at buffer index i + before, and window o starts at
// buffer index o * stride + shift. Checked: `size` overflows unless the taps were cropped
// to the live ones (or the geometry is otherwise sane).
struct PaddedAxis {
  int64_t before = 0;
  int64_t shift = 0;
  CheckedSize size;
};
PaddedAxis PadAxis(int64_t in, int64_t out, int64_t stride, int64_t pad, int64_t dilation,
                   int64_t kernel);

// Why a kernel refuses geometry `g`: its scratch (`budget`) overflows or exceeds `limit`.
std::string ScratchTooLarge(const ScratchBudget& budget, int64_t limit, const ConvGeometry& g);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_CONV_GEOMETRY_H_
