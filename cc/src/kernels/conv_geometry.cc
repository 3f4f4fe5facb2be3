#include "kernels/conv_geometry.h"

#include <algorithm>
#include <cstring>

namespace bitlite {
namespace {

// Whether tap t of one axis reads inside the input for some output: the first output whose
// tap reads at or after position 0 must read before `in`. O(1), as outputs may be billions.
bool TapIsLive(int64_t t, int64_t in, int64_t out, int64_t stride, int64_t pad,
               int64_t dilation) {
  const int64_t first_read = t * dilation - pad;  // by output 0
  const int64_t o = first_read >= 0 ? 0 : (-first_read + stride - 1) / stride;
  return o < out && first_read + o * stride < in;
}

// The union of ValidTaps over the outputs of one axis, reported as the range from the first
// to the last live tap: with a stride wider than the input a tap between two live ones may
// read only padding, which costs a zero tap and keeps the cropped kernel a plain kernel.
TapRange LiveAxisTaps(int64_t in, int64_t out, int64_t stride, int64_t pad, int64_t dilation,
                      int64_t kernel) {
  TapRange live{0, 0};
  for (int64_t t = 0; t < kernel; ++t) {
    if (!TapIsLive(t, in, out, stride, pad, dilation)) continue;
    if (live.Empty()) live.lo = t;
    live.hi = t + 1;
  }
  return live;
}

}  // namespace

TapRange ValidTaps(int64_t out, int64_t stride, int64_t pad, int64_t dilation, int64_t kernel,
                   int64_t in) {
  // Tap t reads input start + t * dilation, which must lie in [0, in).
  const int64_t start = out * stride - pad;
  TapRange range{0, 0};
  if (start >= in) return range;
  range.lo = start < 0 ? (-start + dilation - 1) / dilation : 0;
  range.hi = std::min(kernel, (in - 1 - start) / dilation + 1);
  range.hi = std::max(range.hi, range.lo);
  return range;
}

LiveTaps FindLiveTaps(const ConvGeometry& g) {
  LiveTaps taps;
  taps.rows = LiveAxisTaps(g.in_h, g.out_h, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h);
  taps.cols = LiveAxisTaps(g.in_w, g.out_w, g.stride_w, g.pad_left, g.dilation_w, g.kernel_w);
  return taps;
}

ConvGeometry CropTaps(const ConvGeometry& g, const LiveTaps& taps) {
  ConvGeometry cropped = g;
  cropped.kernel_h = taps.rows.hi - taps.rows.lo;
  cropped.kernel_w = taps.cols.hi - taps.cols.lo;
  cropped.pad_top = g.pad_top - taps.rows.lo * g.dilation_h;
  cropped.pad_left = g.pad_left - taps.cols.lo * g.dilation_w;
  return cropped;
}

void CropWeightCodes(const ConvGeometry& g, const LiveTaps& taps, const int8_t* w_codes,
                     int8_t* cropped) {
  const int64_t group_in_c = g.InChannelsPerGroup();
  const int64_t row_codes = (taps.cols.hi - taps.cols.lo) * group_in_c;
  for (int64_t c = 0; c < g.out_c; ++c) {
    for (int64_t kh = taps.rows.lo; kh < taps.rows.hi; ++kh) {
      const int8_t* from =
          w_codes + ((c * g.kernel_h + kh) * g.kernel_w + taps.cols.lo) * group_in_c;
      std::memcpy(cropped, from, static_cast<size_t>(row_codes));
      cropped += row_codes;
    }
  }
}

PaddedAxis PadAxis(int64_t in, int64_t out, int64_t stride, int64_t pad, int64_t dilation,
                   int64_t kernel) {
  PaddedAxis axis;
  axis.before = std::max<int64_t>(pad, 0);
  axis.shift = axis.before - pad;
  // The last window's last tap, + 1; the buffer holds the whole input in any case, as it is
  // packed row by row.
  const CheckedSize reach = out > 0 ? CheckedSize(out - 1) * stride + axis.shift +
                                          CheckedSize(kernel - 1) * dilation + 1
                                    : CheckedSize(0);
  axis.size = Max(reach, CheckedSize(axis.before) + in);
  return axis;
}

std::string ScratchTooLarge(const ScratchBudget& budget, int64_t limit, const ConvGeometry& g) {
  auto pair = [](int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); };
  const std::string layer = "input " + std::to_string(g.batch) + "x" + pair(g.in_h, g.in_w) +
                            "x" + std::to_string(g.in_c) + ", kernel " +
                            pair(g.kernel_h, g.kernel_w) + ", stride " +
                            pair(g.stride_h, g.stride_w) + ", dilation " +
                            pair(g.dilation_h, g.dilation_w) + ", padding top " +
                            std::to_string(g.pad_top) + " left " + std::to_string(g.pad_left);
  if (!budget.bytes().ok()) return "the kernel's scratch size for " + layer + " overflows";
  return "the kernel's scratch for " + layer + " takes " + std::to_string(budget.bytes().value()) +
         " bytes, more than the limit of " + std::to_string(limit) +
         " (delegate option max_scratch_bytes)";
}

}  // namespace bitlite
