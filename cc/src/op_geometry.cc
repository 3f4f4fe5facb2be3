#include "op_geometry.h"

#include <climits>
#include <cstdint>
#include <utility>

#include "error_message.h"

namespace bitlite {

bool OutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, Padding padding,
                int64_t* out, int64_t* pad_before) {
  const int64_t extent = (kernel - 1) * dilation + 1;
  if (padding == Padding::kValid) {
    if (in < extent) return false;
    *out = (in - extent) / stride + 1;
    *pad_before = 0;
    return true;
  }
  *out = (in + stride - 1) / stride;
  const int64_t pad_total = (*out - 1) * stride + extent - in;
  *pad_before = pad_total > 0 ? pad_total / 2 : 0;
  return true;
}

bool ComputePoolGeometry(const MaxPoolWindow& window, const std::vector<int>& x,
                         PoolGeometry* g, std::string* error) {
  if (x.size() != 4) return Fail("input must have rank 4, got " + ShapeToString(x), error);
  if (window.stride_h < 1 || window.stride_w < 1 || window.filter_h < 1 || window.filter_w < 1) {
    return Fail("strides and filter sizes must be at least 1", error);
  }
  g->batch = x[0];
  g->in_h = x[1];
  g->in_w = x[2];
  g->channels = x[3];
  g->filter_h = window.filter_h;
  g->filter_w = window.filter_w;
  g->stride_h = window.stride_h;
  g->stride_w = window.stride_w;
  // The convolutions' rule (the padding offset only matters to TFLite's own bookkeeping: the
  // window starts at out * stride - padding either way).
  int64_t oh = 0, ow = 0, pad_top = 0, pad_left = 0;
  if (!OutputSize(g->in_h, g->filter_h, g->stride_h, 1, window.padding, &oh, &pad_top) ||
      !OutputSize(g->in_w, g->filter_w, g->stride_w, 1, window.padding, &ow, &pad_left) ||
      oh > INT_MAX || ow > INT_MAX) {
    return Fail("the pooling window does not fit the input " + ShapeToString(x), error);
  }
  g->out_h = static_cast<int>(oh);
  g->out_w = static_cast<int>(ow);
  g->pad_top = static_cast<int>(pad_top);
  g->pad_left = static_cast<int>(pad_left);
  return true;
}

namespace {

// FORMAT.md "BitliteConv2DTranspose", output size of one axis: the full output
// (in - 1) * stride + kernel cut by the pads; an empty input gives an empty output. Negative
// where the pads crop more than that.
int64_t TransposedAxis(int64_t in, int64_t kernel, int64_t stride, int64_t pad_before,
                       int64_t pad_after) {
  return in == 0 ? 0 : (in - 1) * stride + kernel - pad_before - pad_after;
}

bool TransposedOutputSize(const OpParams& p, const std::vector<int>& input_shape, ConvGeometry* g,
                          std::string* error) {
  g->in_h = input_shape[1];
  g->in_w = input_shape[2];
  g->kernel_h = p.kernel_h;
  g->kernel_w = p.kernel_w;
  g->stride_h = p.stride_h;
  g->stride_w = p.stride_w;
  g->pad_top = p.pad_top;
  g->pad_left = p.pad_left;
  g->out_h = TransposedAxis(g->in_h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom);
  g->out_w = TransposedAxis(g->in_w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right);
  if (g->out_h < 0 || g->out_h > INT_MAX || g->out_w < 0 || g->out_w > INT_MAX) {
    return Fail("input " + ShapeToString(input_shape) + " gives a transposed output of " +
                    std::to_string(g->out_h) + "x" + std::to_string(g->out_w) +
                    " pixels (kernel " + std::to_string(p.kernel_h) + "x" +
                    std::to_string(p.kernel_w) + ", stride " + std::to_string(p.stride_h) + "x" +
                    std::to_string(p.stride_w) + ", pads top " + std::to_string(p.pad_top) +
                    " bottom " + std::to_string(p.pad_bottom) + " left " +
                    std::to_string(p.pad_left) + " right " + std::to_string(p.pad_right) +
                    "): the pads crop more than the output, or it is too large",
                error);
  }
  return true;
}

}  // namespace

std::string ShapeToString(const std::vector<int>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

bool ComputeGeometry(const OpParams& params, const std::vector<int>& input_shape,
                     ConvGeometry* geometry, std::vector<int>* output_shape, std::string* error) {
  const bool is_conv = params.kind != OpKind::kFullyConnected;
  const size_t rank = input_shape.size();
  if (is_conv ? rank != 4 : rank < 2) {
    return Fail(std::string("input must be ") +
                    (is_conv ? "[N, H, W, C_in]" : "[..., K] (rank >= 2)") + ", got " +
                    ShapeToString(input_shape),
                error);
  }
  for (int d : input_shape) {
    if (d < 0) return Fail("input shape " + ShapeToString(input_shape) + " is negative", error);
  }
  if (input_shape.back() != params.in_channels) {
    return Fail("input shape " + ShapeToString(input_shape) +
                    " does not end in in_channels = " + std::to_string(params.in_channels),
                error);
  }
  ConvGeometry g;
  g.in_c = params.in_channels;
  g.out_c = params.out_channels;
  g.groups = params.groups;
  g.batch = 1;
  // A fully connected op folds every leading dimension into the batch.
  const size_t batch_dims = is_conv ? 1 : rank - 1;
  // Element counts stay within kMaxSize, so byte sizes and int64 indices never overflow,
  // even for the int32 accumulators and float outputs of a 32-bit build.
  CheckedSize batch = 1;
  for (size_t i = 0; i < batch_dims; ++i) batch *= input_shape[i];
  if (!batch.ok()) {
    return Fail("input shape " + ShapeToString(input_shape) + " is too large", error);
  }
  g.batch = batch.value();
  *output_shape = input_shape;
  output_shape->back() = params.out_channels;
  if (params.kind == OpKind::kConv2DTranspose) {
    if (!TransposedOutputSize(params, input_shape, &g, error)) return false;
    (*output_shape)[1] = static_cast<int>(g.out_h);
    (*output_shape)[2] = static_cast<int>(g.out_w);
  } else if (is_conv) {
    g.in_h = input_shape[1];
    g.in_w = input_shape[2];
    g.kernel_h = params.kernel_h;
    g.kernel_w = params.kernel_w;
    g.stride_h = params.stride_h;
    g.stride_w = params.stride_w;
    g.dilation_h = params.dilation_h;
    g.dilation_w = params.dilation_w;
    if (!OutputSize(g.in_h, g.kernel_h, g.stride_h, g.dilation_h, params.padding, &g.out_h,
                    &g.pad_top) ||
        !OutputSize(g.in_w, g.kernel_w, g.stride_w, g.dilation_w, params.padding, &g.out_w,
                    &g.pad_left)) {
      return Fail("input " + ShapeToString(input_shape) + " is smaller than the dilated " +
                      std::to_string(params.kernel_h) + "x" + std::to_string(params.kernel_w) +
                      " kernel (VALID padding)",
                  error);
    }
    (*output_shape)[1] = static_cast<int>(g.out_h);
    (*output_shape)[2] = static_cast<int>(g.out_w);
  }
  if (!(CheckedSize(g.batch) * g.in_h * g.in_w * g.in_c).ok() ||
      !(CheckedSize(g.batch) * g.out_h * g.out_w * g.out_c).ok()) {
    return Fail("input shape " + ShapeToString(input_shape) + " is too large", error);
  }
  *geometry = g;
  return true;
}

LiveTapConv CropToLiveTaps(const OpParams& params, const ConvGeometry& g, const LiveTaps& taps,
                           std::vector<int8_t> w_codes) {
  LiveTapConv conv;
  conv.params = params;
  conv.geometry = CropTaps(g, taps);
  conv.params.kernel_h = static_cast<int>(conv.geometry.kernel_h);
  conv.params.kernel_w = static_cast<int>(conv.geometry.kernel_w);
  if (taps.All(g)) {
    conv.w_codes = std::move(w_codes);
  } else {
    conv.w_codes.resize(static_cast<size_t>(g.out_c * conv.params.ReductionSize()));
    CropWeightCodes(g, taps, w_codes.data(), conv.w_codes.data());
  }
  return conv;
}

}  // namespace bitlite
