// Every depthwise kernel x ISA this CPU runs against the reference kernel, bit for bit: all 16
// sub-byte weight x activation widths and W8A8 on the unsigned, signed and binary grids,
// depth multipliers 1-3,
// channel counts around the 16- and 32-lane tiles, kernel sizes 1-5 (and one past the int16 chunk),
// strides, dilations, SAME/VALID, batches, quantization edge values (NaN, infinities, ties,
// denormals), extreme codes, and 1, 2 and 3 threads giving identical outputs.
#include "kernels/depthwise/conv2d_depthwise.h"

#include <climits>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/pack/activation_quantize.h"
#include "kernels/reference/conv2d_reference.h"
#include "op_geometry.h"
#include "conv_test_cases.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

ConvCase RandomCase(std::mt19937& rng, int weight_bits, int activation_bits, bool is_signed) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvCase c;
  OpParams& p = c.params;
  p.weight_bits = weight_bits;
  p.activation_bits = activation_bits;
  p.activation_signed = is_signed;
  p.input_scale = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
  // Channel counts below, at and across the 16- and 32-lane tiles (in_channels 1 is not
  // depthwise).
  const int channel_choices[] = {2, 3, 5, 15, 16, 17, 31, 33, 40};
  p.in_channels = channel_choices[uniform(0, 8)];
  p.groups = p.in_channels;
  p.out_channels = p.in_channels * uniform(1, 3);
  const int kernel_choices[] = {1, 3, 3, 5};
  p.kernel_h = kernel_choices[uniform(0, 3)];
  p.kernel_w = uniform(0, 3) == 0 ? kernel_choices[uniform(0, 3)] : p.kernel_h;
  p.stride_h = uniform(1, 2);
  p.stride_w = uniform(1, 2);
  p.dilation_h = uniform(1, 2);
  p.dilation_w = uniform(1, 2);
  p.padding = uniform(0, 1) ? Padding::kSame : Padding::kValid;
  SetRandomOutputStage(rng, &p);
  const int n = uniform(1, 3);
  const int h = (p.kernel_h - 1) * p.dilation_h + uniform(1, 9);
  const int w = (p.kernel_w - 1) * p.dilation_w + uniform(1, 9);
  c.input_shape = {n, h, w, p.in_channels};
  FillRandomData(rng, &c);
  return c;
}

// Returns false after reporting the first mismatch.
bool CheckCase(const ConvCase& c, ThreadPool* pools) {
  ConvGeometry g;
  std::vector<int> output_shape;
  std::string error;
  if (!IsDepthwise(c.params) ||
      !ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error)) {
    ReportFailure(__FILE__, __LINE__, "not a depthwise case: " + error);
    return false;
  }
  const std::vector<float> expected = RunReference(c, g);
  // The grids of the codes-out checks, one sequence per case.
  std::mt19937 rng(static_cast<uint32_t>(expected.size()));
  // As BitliteOp runs it: on the live taps, or on the reference kernel if there are none.
  const LiveTaps taps = FindLiveTaps(g);
  if (taps.Empty()) return true;
  const LiveTapConv live = CropToLiveTaps(c.params, g, taps, c.w_codes);
  for (const DwconvKernel* kernel : SupportedDwconvKernels(DetectCpuFeatures())) {
    Conv2DDepthwise conv(live.params, live.w_codes.data(), *kernel);
    // Shared as a large layer would be, so that every thread count runs its own split.
    if (!conv.Prepare(live.geometry, 3, kSmallScratchLimit, &error, /*min_work_per_thread=*/1)) {
      ReportFailure(__FILE__, __LINE__, error + ": " + DescribeCase(c, kernel->name, 3));
      return false;
    }
    for (int threads = 1; threads <= 3; ++threads) {
      std::vector<float> y(expected.size(), -1.0f);
      conv.Run(c.x.data(), y.data(), &pools[threads - 1]);
      if (!BitwiseEqual(y, expected)) {
        ReportFailure(__FILE__, __LINE__,
                      "mismatch: " + DescribeCase(c, kernel->name, threads));
        return false;
      }
    }
    const std::string codes = CheckCodesInAndOut(&conv, c, expected, &rng, &pools[2]);
    if (!codes.empty()) {
      ReportFailure(__FILE__, __LINE__, codes + ": " + DescribeCase(c, kernel->name, 3));
      return false;
    }
  }
  return true;
}

BITLITE_TEST(MatchesReferenceForAllBitWidthsGridsAndThreadCounts) {
  TestThreadPools pools;
  std::mt19937 rng(2024);
  for (int weight_bits = 1; weight_bits <= 4; ++weight_bits) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      // Signed 1-bit activations are the binary grid.
      for (bool is_signed : {false, true}) {
        for (int repeat = 0; repeat < 8; ++repeat) {
          if (!CheckCase(RandomCase(rng, weight_bits, activation_bits, is_signed), pools.pools)) {
            return;
          }
        }
      }
    }
  }
}

// The largest codes of every grid (activations clipped at the top or bottom, weights at their
// most negative) on a 17x17 kernel: 289 taps, more than one int16 chunk and more than int16
// could hold in one (289 * 8 * 15 > 32767).
BITLITE_TEST(MatchesReferenceOnExtremeCodesAndLongReductions) {
  TestThreadPools pools;
  std::mt19937 rng(11);
  for (int bits = 1; bits <= 4; ++bits) {
    for (bool is_signed : {false, true}) {
      for (int kernel : {3, 17}) {
        ConvCase c = RandomCase(rng, bits, 4, is_signed);
        SetUniformCase(kernel, {2, kernel + 2, kernel + 1, c.params.in_channels},
                       WeightCodeRange(bits).min, is_signed ? -1e9f : 1e9f, &c);
        if (!CheckCase(c, pools.pools)) return;
      }
    }
  }
}

// W8A8 (8-bit depthwise layers, e.g. MobileNet's): random cases on both grids, and the
// extreme codes (-128 weights x 255 or -128 activations, 127 weights) over a 17x17 kernel,
// with the unsigned grid's border of code 0 stored as -128.
BITLITE_TEST(W8A8MatchesReferenceOnBothGridsAndExtremeCodes) {
  TestThreadPools pools;
  std::mt19937 rng(88);
  for (bool is_signed : {false, true}) {
    for (int repeat = 0; repeat < 24; ++repeat) {
      if (!CheckCase(RandomCase(rng, 8, 8, is_signed), pools.pools)) return;
    }
    for (int weight_code : {-128, 127}) {
      for (float x : {-1e9f, 1e9f}) {
        for (int kernel : {3, 17}) {
          ConvCase c = RandomCase(rng, 8, 8, is_signed);
          SetUniformCase(kernel, {2, kernel + 2, kernel + 1, c.params.in_channels}, weight_code,
                         x, &c);
          if (!CheckCase(c, pools.pools)) return;
        }
      }
    }
  }
}

// Kernels larger than the input (SAME pads it), inputs of one pixel, one column, and none
// (SAME gives an empty output).
BITLITE_TEST(MatchesReferenceOnTinyAndEmptyInputs) {
  TestThreadPools pools;
  std::mt19937 rng(5);
  const int shapes[][2] = {{1, 1}, {2, 1}, {2, 4}, {0, 4}, {3, 0}};
  for (const auto& shape : shapes) {
    ConvCase c = RandomCase(rng, 3, 2, true);
    OpParams& p = c.params;
    p.kernel_h = 5;
    p.kernel_w = 3;
    p.padding = Padding::kSame;
    c.input_shape = {2, shape[0], shape[1], p.in_channels};
    c.x.resize(static_cast<size_t>(2 * shape[0] * shape[1] * p.in_channels));
    c.w_codes.resize(static_cast<size_t>(p.out_channels * p.ReductionSize()), 1);
    if (!CheckCase(c, pools.pools)) return;
  }
}

// Windows that reach far past tiny inputs (dilations and strides up to 2^31 - 1, SAME padding
// of up to 2^61), depth multipliers 1 to 3: every ISA on its live taps equals the reference,
// within kSmallScratchLimit. The first case is the one that wrote out of bounds: a 2x2
// kernel at dilation 2^31 - 1, SAME, stride 1, on a 1x1 input, W2A2.
BITLITE_TEST(MatchesReferenceOnExtremeGeometries) {
  TestThreadPools pools;
  std::mt19937 rng(11);
  for (int repeat = 0; repeat < 120; ++repeat) {
    // Every fifth case W8A8.
    const int weight_bits = repeat % 5 == 4 ? 8 : repeat % 4 + 1;
    const int activation_bits = repeat % 5 == 4 ? 8 : repeat / 4 % 4 + 1;
    ConvCase c = RandomCase(rng, weight_bits, activation_bits, repeat % 2 == 1);
    SetExtremeGeometry(rng, &c);
    if (repeat == 0) {
      OpParams& p = c.params;
      p.weight_bits = p.activation_bits = 2;
      p.kernel_h = p.kernel_w = 2;
      p.stride_h = p.stride_w = 1;
      p.dilation_h = p.dilation_w = INT_MAX;
      p.padding = Padding::kSame;
      c.input_shape = {1, 1, 1, p.in_channels};
    }
    FillRandomData(rng, &c);
    ConvGeometry g;
    std::vector<int> output_shape;
    std::string error;
    if (!ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error)) continue;
    if (!CheckCase(c, pools.pools)) return;
  }
}

// Every ISA's quantizer writes the reference's codes, on edge values and on counts around its
// vector width; and never past `count`. Scales whose thresholds are normal (compared, up to 3
// bits) and one so small that they are not (divided).
BITLITE_TEST(ActivationQuantizersMatchReference) {
  std::vector<QuantizeActivationsFn> quantizers;
#if BITLITE_X86_KERNELS
  if (DetectCpuFeatures().avx2) quantizers.push_back(QuantizeActivationsAvx2);
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
  if (DetectCpuFeatures().neon) quantizers.push_back(QuantizeActivationsNeon);
#endif
  std::mt19937 rng(3);
  for (int bits = 1; bits <= 4; ++bits) {
    for (bool is_signed : {false, true}) {
      for (float scale : {0.37f, 1.0f, 3.0f, 1e-39f}) {
        OpParams p;
        p.activation_bits = bits;
        p.activation_signed = is_signed;
        p.input_scale = scale;
        const ActivationGrid grid = MakeActivationGrid(p);
        const ActivationPacking packing =
            MakeActivationPacking(grid, ActivationPlaneGrid(bits, is_signed, true));
        // Both paths are covered: the first three scales have thresholds up to 3 bits.
        EXPECT_EQ(packing.threshold_count > 0, !grid.is_binary && bits <= 3 && scale > 0.1f);
        for (size_t count : {1, 15, 16, 17, 31, 32, 33, 100}) {
          std::vector<float> x;
          for (size_t i = 0; i < count; ++i) x.push_back(EdgeValue(rng, p.input_scale));
          std::vector<int8_t> expected(count + 1, 42);
          for (size_t i = 0; i < count; ++i) {
            expected[i] = static_cast<int8_t>(ActivationCode(x[i], grid));
          }
          for (QuantizeActivationsFn quantize : quantizers) {
            std::vector<int8_t> codes(count + 1, 42);
            quantize(x.data(), count, packing, codes.data());
            EXPECT_TRUE(codes == expected);
          }
        }
      }
    }
  }
}

BITLITE_TEST(DepthwiseMeansGroupsEqualToInputChannels) {
  OpParams p;
  p.in_channels = 8;
  p.groups = 8;
  EXPECT_TRUE(IsDepthwise(p));
  p.groups = 4;
  EXPECT_TRUE(!IsDepthwise(p));
  p.in_channels = 1;
  p.groups = 1;  // one input channel: an ordinary convolution
  EXPECT_TRUE(!IsDepthwise(p));
  const std::vector<const DwconvKernel*> kernels = SupportedDwconvKernels(DetectCpuFeatures());
  EXPECT_EQ(std::string(kernels.front()->name), "depthwise/scalar");
  EXPECT_TRUE(kernels.back() == &BestDwconvKernel(DetectCpuFeatures()));
  EXPECT_EQ(std::string(BestDwconvKernel(CpuFeatures{}).name), "depthwise/scalar");
}

// Threads Prepare gives a 3x3 stride-1 depthwise layer of size x size x channels at W2A2.
int DepthwiseThreads(int size, int channels, int threads) {
  ConvCase c;
  ConvGeometry g;
  if (!SetThreadsCase(size, channels, channels, 2, 2, &c, &g)) return -1;
  Conv2DDepthwise conv(c.params, c.w_codes.data(), BestDwconvKernel(DetectCpuFeatures()));
  std::string error;
  return conv.Prepare(g, threads, kSmallScratchLimit, &error) ? conv.threads() : -1;
}

BITLITE_TEST(DepthwiseLayersShareThreadsByTheirMultiplyAdds) {
  // MobileNetV2's 56x56x144 and bench_conv's 56x56x128 (0.15 ms on one AVX-512 core, 1.4x
  // faster on two) share; a 14x14x64 one (about 6 us) stays on one thread.
  EXPECT_EQ(DepthwiseThreads(56, 128, 2), 2);
  EXPECT_EQ(DepthwiseThreads(56, 144, 4), 4);
  EXPECT_EQ(DepthwiseThreads(14, 64, 4), 1);
  EXPECT_EQ(DepthwiseThreads(56, 128, 1), 1);
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
