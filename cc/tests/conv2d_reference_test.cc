// The reference kernel path (quantize, unpack, convolve, output stage) against a deliberately
// naive loop written straight from FORMAT.md, bit for bit, for all 16 weight x activation
// bit widths, both activation grids, random shapes, strides, dilations, paddings and groups.
#include "kernels/reference/conv2d_reference.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/reference/activation_quantize_reference.h"
#include "kernels/reference/weight_unpack_reference.h"
#include "op_geometry.h"
#include "conv_test_cases.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

ActivationGrid Grid(int bits, bool is_signed, float scale) {
  OpParams params;
  params.activation_bits = bits;
  params.activation_signed = is_signed;
  params.input_scale = scale;
  return MakeActivationGrid(params);
}

BITLITE_TEST(QuantizesUnsignedWithHalfEvenRoundingAndClip) {
  const ActivationGrid grid = Grid(2, false, 0.5f);
  const float inf = std::numeric_limits<float>::infinity();
  const float x[] = {0.25f, 0.75f, 1.25f, 1.75f, -0.3f, -0.0f, NAN, inf, -inf, 1e38f};
  const int expected[] = {0, 2, 2, 3, 0, 0, 0, 3, 0, 3};
  for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); ++i)
    EXPECT_EQ(int{ActivationCode(x[i], grid)}, expected[i]);
}

BITLITE_TEST(QuantizesSigned) {
  const ActivationGrid grid = Grid(3, true, 1.0f);
  const float x[] = {-2.5f, -3.5f, -5.0f, 2.5f, 3.5f, -0.5f, 0.5f, NAN};
  const int expected[] = {-2, -4, -4, 2, 3, 0, 0, 0};
  for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); ++i)
    EXPECT_EQ(int{ActivationCode(x[i], grid)}, expected[i]);
}

BITLITE_TEST(QuantizesSignedBinaryBySign) {
  const ActivationGrid grid = Grid(1, true, 0.25f);
  const float x[] = {0.0f, -0.0f, -1e-30f, 3.0f, NAN, -INFINITY};
  const int expected[] = {1, 1, -1, 1, 1, -1};
  for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); ++i)
    EXPECT_EQ(int{ActivationCode(x[i], grid)}, expected[i]);
}

// FORMAT.md "Weight packing", one bit at a time.
std::vector<uint8_t> PackRows(const std::vector<int>& codes, int rows, int k, int bits) {
  const int row_bytes = (k * bits + 7) / 8;
  std::vector<uint8_t> packed(static_cast<size_t>(rows * row_bytes), 0);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < k; ++i) {
      const int code = codes[r * k + i];
      const int stored = bits == 1 ? (code + 1) / 2 : code + (1 << (bits - 1));
      for (int b = 0; b < bits; ++b) {
        const int bit = i * bits + b;
        packed[r * row_bytes + bit / 8] |= static_cast<uint8_t>(((stored >> b) & 1) << (bit % 8));
      }
    }
  }
  return packed;
}

// x: [n, h, w, c_in]; w: [c_out][kh][kw][c_in / groups] codes. Sizes per FORMAT.md
// "Output size"; channel c reads input channels g * c_in / G .. of its group g = c / (c_out / G).
std::vector<float> NaiveConv(const OpParams& p, int n, int h, int w, const std::vector<float>& x,
                             const std::vector<int>& w_codes) {
  const ActivationGrid grid = MakeActivationGrid(p);
  const int extent_h = (p.kernel_h - 1) * p.dilation_h + 1;
  const int extent_w = (p.kernel_w - 1) * p.dilation_w + 1;
  const bool same = p.padding == Padding::kSame;
  const int oh_size = same ? (h + p.stride_h - 1) / p.stride_h : (h - extent_h) / p.stride_h + 1;
  const int ow_size = same ? (w + p.stride_w - 1) / p.stride_w : (w - extent_w) / p.stride_w + 1;
  const int pad_top = same ? std::max((oh_size - 1) * p.stride_h + extent_h - h, 0) / 2 : 0;
  const int pad_left = same ? std::max((ow_size - 1) * p.stride_w + extent_w - w, 0) / 2 : 0;
  std::vector<float> y;
  for (int b = 0; b < n; ++b) {
    for (int oh = 0; oh < oh_size; ++oh) {
      for (int ow = 0; ow < ow_size; ++ow) {
        for (int c = 0; c < p.out_channels; ++c) {
          const int group_in = p.in_channels / p.groups;
          const int group = c / (p.out_channels / p.groups);
          int32_t acc = 0;
          for (int kh = 0; kh < p.kernel_h; ++kh) {
            for (int kw = 0; kw < p.kernel_w; ++kw) {
              for (int ci = 0; ci < group_in; ++ci) {
                const int ih = oh * p.stride_h - pad_top + kh * p.dilation_h;
                const int iw = ow * p.stride_w - pad_left + kw * p.dilation_w;
                if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;  // zero padding
                const int channel = group * group_in + ci;
                const float xv = x[((b * h + ih) * w + iw) * p.in_channels + channel];
                const int wv = w_codes[((c * p.kernel_h + kh) * p.kernel_w + kw) * group_in + ci];
                acc += wv * ActivationCode(xv, grid);
              }
            }
          }
          float out = static_cast<float>(acc) * p.multiplier[c];
          out = out + p.offset[c];
          y.push_back(NaiveActivation(out, p.activation));
        }
      }
    }
  }
  return y;
}

// The delegate's path: geometry, unpack, quantize, convolve.
std::vector<float> ReferenceConv(const OpParams& p, const std::vector<int>& input_shape,
                                 const std::vector<float>& x, const std::vector<uint8_t>& packed,
                                 std::string* error) {
  ConvGeometry g;
  std::vector<int> output_shape;
  if (!ComputeGeometry(p, input_shape, &g, &output_shape, error)) return {};
  std::vector<int8_t> w_codes(static_cast<size_t>(p.out_channels * p.ReductionSize()));
  if (!UnpackWeightsReference(packed.data(), p.out_channels, p.ReductionSize(), p.weight_bits,
                              w_codes.data())) {
    *error = "unpack failed";
    return {};
  }
  std::vector<ActivationCodeT> x_codes(x.size());
  QuantizeActivationsReference(x.data(), x.size(), MakeActivationGrid(p), x_codes.data());
  std::vector<int32_t> acc(static_cast<size_t>(p.out_channels));
  std::vector<float> y(static_cast<size_t>(g.OutputSize()));
  Conv2DReference(g, x_codes.data(), w_codes.data(), p.multiplier.data(), p.offset.data(),
                  p.activation, acc.data(), y.data());
  return y;
}

// Inputs hit rounding ties, clipping and non-finite values, not only smooth noise.
std::vector<float> RandomInput(std::mt19937& rng, size_t size, float scale) {
  std::uniform_int_distribution<int> half_steps(-40, 40);
  std::uniform_real_distribution<float> noise(-20.0f, 20.0f);
  std::uniform_int_distribution<int> pick(0, 19);
  std::vector<float> x(size);
  for (float& v : x) {
    const int kind = pick(rng);
    v = kind == 0   ? NAN
        : kind == 1 ? -INFINITY
        : kind < 10 ? half_steps(rng) * 0.5f * scale
                    : noise(rng) * scale;
  }
  return x;
}

OpParams RandomParams(std::mt19937& rng, int weight_bits, int activation_bits, bool is_signed,
                      bool conv) {
  std::uniform_int_distribution<int> small(1, 3);
  OpParams p;
  p.kind = conv ? OpKind::kConv2D : OpKind::kFullyConnected;
  p.weight_bits = weight_bits;
  p.activation_bits = activation_bits;
  p.activation_signed = is_signed;
  p.input_scale = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
  p.in_channels = std::uniform_int_distribution<int>(1, 19)(rng);
  p.out_channels = std::uniform_int_distribution<int>(1, 9)(rng);
  if (conv && small(rng) == 1) {
    // Grouped, a third of the time depthwise (one input channel per group).
    p.groups = std::uniform_int_distribution<int>(2, 5)(rng);
    const int group_in = small(rng) == 1 ? 1 : small(rng);
    p.in_channels = p.groups * group_in;
    p.out_channels = p.groups * small(rng);
  }
  if (conv) {
    p.kernel_h = small(rng);
    p.kernel_w = small(rng);
    p.stride_h = small(rng);
    p.stride_w = small(rng);
    p.dilation_h = small(rng);
    p.dilation_w = small(rng);
    p.padding = small(rng) == 1 ? Padding::kValid : Padding::kSame;
  }
  p.activation = RandomActivation(rng);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (int c = 0; c < p.out_channels; ++c) {
    p.multiplier.push_back(normal(rng));
    p.offset.push_back(normal(rng) * 4.0f);
  }
  return p;
}

std::vector<int> RandomWeightCodes(std::mt19937& rng, size_t size, int bits) {
  const CodeRange range = WeightCodeRange(bits);
  std::uniform_int_distribution<int> code(range.min, range.max);
  std::vector<int> codes(size);
  for (int& c : codes) {
    c = code(rng);
    if (bits == 1 && c == 0) c = 1;  // the 1-bit grid has no 0
  }
  return codes;
}

void CheckRandomCase(std::mt19937& rng, int weight_bits, int activation_bits, bool is_signed,
                     bool conv) {
  const OpParams p = RandomParams(rng, weight_bits, activation_bits, is_signed, conv);
  std::uniform_int_distribution<int> dim(1, 9);
  const int n = std::uniform_int_distribution<int>(1, 2)(rng);
  // VALID needs the input to cover the dilated kernel.
  const int h = (p.kernel_h - 1) * p.dilation_h + dim(rng);
  const int w = (p.kernel_w - 1) * p.dilation_w + dim(rng);
  const int k = static_cast<int>(p.ReductionSize());
  const std::vector<int> w_codes =
      RandomWeightCodes(rng, static_cast<size_t>(p.out_channels * k), weight_bits);
  const std::vector<uint8_t> packed = PackRows(w_codes, p.out_channels, k, weight_bits);
  // A fully connected input [n, h, w, K] folds its leading dimensions into the batch.
  const std::vector<int> shape =
      conv ? std::vector<int>{n, h, w, p.in_channels} : std::vector<int>{n, h, p.in_channels};
  const int rows = conv ? n : n * h;
  const std::vector<float> x =
      RandomInput(rng, static_cast<size_t>(n * h * (conv ? w : 1) * p.in_channels), p.input_scale);
  std::string error;
  const std::vector<float> actual = ReferenceConv(p, shape, x, packed, &error);
  const std::vector<float> expected =
      conv ? NaiveConv(p, n, h, w, x, w_codes) : NaiveConv(p, rows, 1, 1, x, w_codes);
  if (!BitwiseEqual(actual, expected)) {
    ReportFailure(__FILE__, __LINE__,
                  std::string(conv ? "conv" : "fully connected") + " W" +
                      std::to_string(weight_bits) + "A" + std::to_string(activation_bits) +
                      (is_signed ? " signed" : " unsigned") + " input " + ShapeToString(shape) +
                      " mismatch " + error);
  }
}

BITLITE_TEST(MatchesNaiveLoopForAllBitWidths) {
  std::mt19937 rng(20261121);
  for (int weight_bits = 1; weight_bits <= 4; ++weight_bits) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      for (bool is_signed : {false, true}) {
        for (int repeat = 0; repeat < 12; ++repeat) {
          CheckRandomCase(rng, weight_bits, activation_bits, is_signed, /*conv=*/true);
          CheckRandomCase(rng, weight_bits, activation_bits, is_signed, /*conv=*/false);
        }
      }
    }
  }
}

BITLITE_TEST(ComputesSameAndValidOutputShapes) {
  OpParams p;
  p.in_channels = 2;
  p.out_channels = 5;
  p.kernel_h = 3;
  p.kernel_w = 2;
  p.stride_h = 2;
  p.stride_w = 3;
  p.dilation_h = 2;
  ConvGeometry g;
  std::vector<int> out;
  std::string error;
  p.padding = Padding::kSame;
  ASSERT_TRUE(ComputeGeometry(p, {4, 10, 7, 2}, &g, &out, &error));
  EXPECT_TRUE(out == std::vector<int>({4, 5, 3, 5}));
  // pad_total h = (5 - 1) * 2 + 5 - 10 = 3 -> top 1; w = (3 - 1) * 3 + 2 - 7 = 1 -> left 0.
  EXPECT_EQ(g.pad_top, 1);
  EXPECT_EQ(g.pad_left, 0);
  p.padding = Padding::kValid;
  ASSERT_TRUE(ComputeGeometry(p, {4, 10, 7, 2}, &g, &out, &error));
  EXPECT_TRUE(out == std::vector<int>({4, 3, 2, 5}));
  EXPECT_TRUE(!ComputeGeometry(p, {4, 4, 7, 2}, &g, &out, &error));
  EXPECT_CONTAINS(error, "smaller than the dilated 3x2 kernel");
  EXPECT_TRUE(!ComputeGeometry(p, {4, 10, 7, 3}, &g, &out, &error));
  EXPECT_CONTAINS(error, "does not end in in_channels = 2");
  EXPECT_TRUE(!ComputeGeometry(p, {10, 7, 2}, &g, &out, &error));
  p.kind = OpKind::kFullyConnected;
  ASSERT_TRUE(ComputeGeometry(p, {3, 4, 2}, &g, &out, &error));
  EXPECT_TRUE(out == std::vector<int>({3, 4, 5}));
  EXPECT_EQ(g.batch, 12);
  EXPECT_TRUE(!ComputeGeometry(p, {2}, &g, &out, &error));
  EXPECT_TRUE(!ComputeGeometry(p, {65536, 65536, 65536, 65536, 2}, &g, &out, &error));
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
