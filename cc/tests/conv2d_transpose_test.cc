// The transposed convolution (FORMAT.md "BitliteConv2DTranspose"): the reference kernel
// against a naive scatter written straight from the format; the output sizes of Keras'
// Conv2DTranspose from the pads the converter writes; and the phase kernel
// (Conv2DTransposeGemm) on every GEMM row this CPU runs against the reference, bit for bit:
// all 16 sub-byte bit pairs and W8A8 on both grids, strides 1 to 3, SAME/VALID with and
// without output_padding, arbitrary pads, kernels smaller than the stride, odd channel counts,
// batches, 1-3 threads, and strides and pads near INT_MAX.
#include "kernels/gemm/conv2d_transpose_gemm.h"

#include <algorithm>
#include <climits>
#include <random>
#include <string>
#include <vector>

#include "conv_test_cases.h"
#include "kernels/cpu_features.h"
#include "kernels/reference/activation_quantize_reference.h"
#include "op_geometry.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

// Pads of one axis for Keras' Conv2DTranspose (`output_padding` -1: None), as the converter
// derives them (FORMAT.md "BitliteConv2DTranspose").
struct AxisPads {
  int before;
  int after;
};
AxisPads KerasPads(int kernel, int stride, bool same, int output_padding) {
  if (output_padding < 0) {
    if (!same) return {0, std::min(kernel - stride, 0)};
    const int before = std::max(kernel - stride, 0) / 2;
    return {before, kernel - stride - before};
  }
  if (!same) return {0, -output_padding};
  const int total = 2 * (kernel / 2) - output_padding;
  const int before = std::max(total, 0) / 2;
  return {before, total - before};
}

// Keras' deconv_output_length (tf_keras/utils/conv_utils.py) for dilation 1.
int KerasOutputLength(int in, int kernel, int stride, bool same, int output_padding) {
  if (output_padding < 0) return same ? in * stride : in * stride + std::max(kernel - stride, 0);
  const int pad = same ? kernel / 2 : 0;
  return (in - 1) * stride + kernel - 2 * pad + output_padding;
}

// A random transposed convolution: Keras-style pads (SAME/VALID, output_padding None or below
// the stride) or any pads in the format's range; odd channel counts and word boundaries.
ConvCase RandomCase(std::mt19937& rng, int weight_bits, int activation_bits, bool is_signed) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvCase c;
  OpParams& p = c.params;
  p.kind = OpKind::kConv2DTranspose;
  p.weight_bits = weight_bits;
  p.activation_bits = activation_bits;
  p.activation_signed = is_signed;
  p.input_scale = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
  const int channel_choices[] = {1, 3, 7, 31, 63, 64, 65, 100};
  p.in_channels = channel_choices[uniform(0, 7)];
  p.out_channels = uniform(1, 13);
  p.kernel_h = uniform(1, 5);
  p.kernel_w = uniform(1, 5);
  p.stride_h = uniform(1, 3);
  p.stride_w = uniform(1, 3);
  const int in_h = uniform(1, 6), in_w = uniform(1, 6);
  if (uniform(0, 3) != 0) {
    const bool same = uniform(0, 1) != 0;
    const AxisPads rows =
        KerasPads(p.kernel_h, p.stride_h, same, uniform(0, 1) ? -1 : uniform(0, p.stride_h - 1));
    const AxisPads cols =
        KerasPads(p.kernel_w, p.stride_w, same, uniform(0, 1) ? -1 : uniform(0, p.stride_w - 1));
    p.pad_top = rows.before;
    p.pad_bottom = rows.after;
    p.pad_left = cols.before;
    p.pad_right = cols.after;
  } else {
    p.pad_top = uniform(0, p.kernel_h + 1);
    p.pad_bottom = uniform(1 - p.stride_h, p.kernel_h + 1);
    p.pad_left = uniform(0, p.kernel_w + 1);
    p.pad_right = uniform(1 - p.stride_w, p.kernel_w + 1);
  }
  SetRandomOutputStage(rng, &p);
  c.input_shape = {uniform(1, 2), in_h, in_w, p.in_channels};
  FillRandomData(rng, &c);
  return c;
}

// Strides and pads near the format's limits with small outputs: most phases read nothing of
// the input, the others start far inside or outside it.
ConvCase ExtremeCase(std::mt19937& rng, int bits) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvCase c = RandomCase(rng, bits, bits, uniform(0, 1) != 0);
  OpParams& p = c.params;
  const int strides[] = {1, 2, 3, 1 << 13, 1 << 30, INT_MAX};
  auto axis = [&](int kernel, int in, int* stride, int* before, int* after) {
    *stride = strides[uniform(0, 5)];
    const int64_t full = int64_t{in - 1} * *stride + kernel;
    const int64_t befores[] = {0, 1, kernel, *stride - 1, full - 1};
    *before = static_cast<int>(std::clamp<int64_t>(befores[uniform(0, 4)], 0, full));
    const int64_t out = std::min<int64_t>(uniform(0, 4), full - *before);
    *after = static_cast<int>(std::max<int64_t>(full - *before - out, 1 - int64_t{*stride}));
  };
  axis(p.kernel_h, c.input_shape[1], &p.stride_h, &p.pad_top, &p.pad_bottom);
  axis(p.kernel_w, c.input_shape[2], &p.stride_w, &p.pad_left, &p.pad_right);
  return c;
}

// FORMAT.md's scatter: every input pixel adds w * x to the outputs its taps reach.
std::vector<float> NaiveScatter(const ConvCase& c, const ConvGeometry& g) {
  const OpParams& p = c.params;
  const ActivationGrid grid = MakeActivationGrid(p);
  std::vector<int64_t> acc(static_cast<size_t>(g.OutputSize()), 0);
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t ih = 0; ih < g.in_h; ++ih) {
      for (int64_t iw = 0; iw < g.in_w; ++iw) {
        for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
          const int64_t oh = ih * g.stride_h - g.pad_top + kh;
          for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
            const int64_t ow = iw * g.stride_w - g.pad_left + kw;
            if (oh < 0 || oh >= g.out_h || ow < 0 || ow >= g.out_w) continue;
            for (int64_t co = 0; co < g.out_c; ++co) {
              for (int64_t ci = 0; ci < g.in_c; ++ci) {
                const float x = c.x[static_cast<size_t>(((n * g.in_h + ih) * g.in_w + iw) *
                                                            g.in_c + ci)];
                const int w = c.w_codes[static_cast<size_t>(
                    ((co * g.kernel_h + kh) * g.kernel_w + kw) * g.in_c + ci)];
                acc[static_cast<size_t>(((n * g.out_h + oh) * g.out_w + ow) * g.out_c + co)] +=
                    w * ActivationCode(x, grid);
              }
            }
          }
        }
      }
    }
  }
  std::vector<float> y(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    const size_t co = i % static_cast<size_t>(g.out_c);
    float v = static_cast<float>(acc[i]) * p.multiplier[co];
    v = v + p.offset[co];
    y[i] = NaiveActivation(v, p.activation);
  }
  return y;
}

bool Geometry(const ConvCase& c, ConvGeometry* g) {
  std::vector<int> output_shape;
  std::string error;
  return ComputeGeometry(c.params, c.input_shape, g, &output_shape, &error);
}

BITLITE_TEST(ReferenceMatchesTheFormatsScatter) {
  std::mt19937 rng(14);
  int checked = 0;
  for (int bits = 1; bits <= 4; ++bits) {
    for (bool is_signed : {false, true}) {
      for (int repeat = 0; repeat < 12; ++repeat) {
        const ConvCase c = RandomCase(rng, bits, 5 - bits, is_signed);
        ConvGeometry g;
        if (!Geometry(c, &g)) continue;  // pads that crop more than the output
        ++checked;
        if (!BitwiseEqual(RunReference(c, g), NaiveScatter(c, g))) {
          ReportFailure(__FILE__, __LINE__, "mismatch: " + DescribeCase(c, "reference", 1));
        }
      }
    }
  }
  EXPECT_TRUE(checked > 60);
}

BITLITE_TEST(OutputSizesAreKerasConv2DTransposes) {
  for (int kernel = 1; kernel <= 5; ++kernel) {
    for (int stride = 1; stride <= 3; ++stride) {
      for (bool same : {false, true}) {
        for (int output_padding = -1; output_padding < stride; ++output_padding) {
          const AxisPads pads = KerasPads(kernel, stride, same, output_padding);
          for (int in = 1; in <= 7; ++in) {
            OpParams p;
            p.kind = OpKind::kConv2DTranspose;
            p.in_channels = p.out_channels = 1;
            p.kernel_h = p.kernel_w = kernel;
            p.stride_h = p.stride_w = stride;
            p.pad_top = p.pad_left = pads.before;
            p.pad_bottom = p.pad_right = pads.after;
            ConvGeometry g;
            std::vector<int> output_shape;
            std::string error;
            const int expected = KerasOutputLength(in, kernel, stride, same, output_padding);
            ASSERT_TRUE(ComputeGeometry(p, {1, in, in, 1}, &g, &output_shape, &error));
            EXPECT_TRUE(output_shape == (std::vector<int>{1, expected, expected, 1}));
          }
        }
      }
    }
  }
}

std::vector<const GemmKernel*> Kernels() { return SupportedGemmKernels(DetectCpuFeatures()); }

// Every row that takes the widths against the reference, at every thread count.
void CheckCase(const ConvCase& c, ThreadPool* pools) {
  ConvGeometry g;
  if (!Geometry(c, &g)) return;
  const std::vector<float> expected = RunReference(c, g);
  for (const GemmKernel* kernel : Kernels()) {
    if (!kernel->Takes(c.params.weight_bits, c.params.activation_bits)) continue;
    Conv2DTransposeGemm conv(c.params, c.w_codes.data(), *kernel);
    const std::string failure = CheckEveryThreadCount(&conv, c, g, expected, kernel->name, pools);
    if (!failure.empty()) {
      ReportFailure(__FILE__, __LINE__, failure);
      return;
    }
  }
}

BITLITE_TEST(PhasesMatchReferenceForAllBitWidthsIsasAndThreadCounts) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(1414);
  for (int weight_bits = 1; weight_bits <= 4; ++weight_bits) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      for (bool is_signed : {false, true}) {
        for (int repeat = 0; repeat < 6; ++repeat) {
          CheckCase(RandomCase(rng, weight_bits, activation_bits, is_signed), pools);
        }
      }
    }
  }
  for (bool is_signed : {false, true}) {
    for (int repeat = 0; repeat < 12; ++repeat) CheckCase(RandomCase(rng, 8, 8, is_signed), pools);
  }
}

BITLITE_TEST(PhasesMatchReferenceAtExtremeStridesAndPads) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(31);
  for (int bits : {1, 2, 4, 8}) {
    for (int repeat = 0; repeat < 16; ++repeat) CheckCase(ExtremeCase(rng, bits), pools);
  }
}

// A resize changes which taps of each phase are live: the kernel repacks them from the
// weights it was built with and stays equal to the reference.
BITLITE_TEST(ResizedInputsRepackThePhases) {
  ThreadPool pool;
  std::mt19937 rng(5);
  ConvCase c = RandomCase(rng, 2, 3, true);
  OpParams& p = c.params;
  p.kernel_h = p.kernel_w = 5;
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = 3;
  p.pad_bottom = p.pad_right = 2;
  FillRandomData(rng, &c);
  const std::vector<int8_t> w_codes = c.w_codes;
  for (const GemmKernel* kernel : Kernels()) {
    if (!kernel->Takes(2, 3)) continue;
    Conv2DTransposeGemm conv(p, w_codes.data(), *kernel);
    for (int size : {1, 4, 2, 7, 1}) {
      c.input_shape = {1, size, size + 1, p.in_channels};
      FillRandomData(rng, &c);
      c.w_codes = w_codes;
      ConvGeometry g;
      ASSERT_TRUE(Geometry(c, &g));
      std::string error;
      ASSERT_TRUE(conv.Prepare(g, 1, kSmallScratchLimit, &error));
      std::vector<float> y(static_cast<size_t>(g.OutputSize()), -1.0f);
      conv.Run(c.x.data(), y.data(), &pool);
      if (!BitwiseEqual(y, RunReference(c, g))) {
        ReportFailure(__FILE__, __LINE__, "mismatch: " + DescribeCase(c, kernel->name, 1));
      }
    }
  }
}

// The phases' buffer counts against the scratch limit: a limit below it refuses the layer
// with the message every kernel gives.
BITLITE_TEST(ScratchAboveTheLimitIsRefused) {
  std::mt19937 rng(9);
  ConvCase c = RandomCase(rng, 2, 2, false);
  c.params.stride_h = c.params.stride_w = 2;
  c.params.pad_top = c.params.pad_bottom = c.params.pad_left = c.params.pad_right = 0;
  c.input_shape = {1, 8, 8, c.params.in_channels};
  FillRandomData(rng, &c);
  ConvGeometry g;
  ASSERT_TRUE(Geometry(c, &g));
  Conv2DTransposeGemm conv(c.params, c.w_codes.data(), *Kernels().front());
  std::string error;
  EXPECT_TRUE(!conv.Prepare(g, 1, 16, &error));
  EXPECT_CONTAINS(error, "more than the limit of 16");
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
