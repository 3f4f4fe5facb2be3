// Every bitserial, int8 and LUT kernel x ISA this CPU runs against the reference kernel, bit
// for bit: all 16 sub-byte weight x activation widths and W8A8 (every row that takes it) on
// both activation grids, random shapes with
// channel counts around the 64-bit word, grouped convolutions, tails in every dimension,
// strides, dilations, SAME/VALID, batches, and 1, 2 and 3 threads giving identical outputs;
// every case also with codes in and out (FORMAT.md "Codes between ops"). Layers that max
// pool their own output (PoolOutput) against the reference followed by the glue's max pool,
// and the pool rows of every ISA against the scalar ones; layers that add a residual to their
// output (AddOutput) against the reference followed by the glue's ADD.
#include "kernels/gemm/conv2d_gemm.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "glue/glue_kernels.h"
#include "kernels/pack/activation_pack.h"
#include "kernels/pool_geometry.h"
#include "kernels/reference/conv2d_reference.h"
#include "kernels/epilogue/code_thresholds.h"
#include "kernels/epilogue/output_epilogue.h"
#include "kernels/epilogue/pooled_accumulators.h"
#include "kernels/reference/activation_quantize_reference.h"
#include "kernels/reference/output_stage_reference.h"
#include "kernels/cpu_features.h"
#include "op_geometry.h"
#include "conv_test_cases.h"
#include "test_harness.h"
#include "threading/thread_pool.h"

namespace bitlite {
namespace testing {
namespace {

std::vector<const GemmKernel*> Kernels() { return SupportedGemmKernels(DetectCpuFeatures()); }

// The rows whose W8A8 GEMM can run F(2x2, 3x3) (winograd_f2x3.h): every int row that takes it.
std::vector<const GemmKernel*> W8A8Kernels() {
  std::vector<const GemmKernel*> rows;
  for (const GemmKernel* kernel : Kernels()) {
    if (kernel->family == GemmFamily::kInt && kernel->Takes(8, 8)) rows.push_back(kernel);
  }
  return rows;
}

// Layers CheckCase ran as F(2x2, 3x3).
int winograd_layers_checked = 0;

// One prepared layer against the reference at every thread count, with codes in and out.
bool CheckConv(Conv2DGemm* conv, const ConvCase& c, const ConvGeometry& g,
               const std::vector<float>& expected, const std::string& name, std::mt19937* rng,
               ThreadPool* pools) {
  const std::string failure = CheckEveryThreadCount(conv, c, g, expected, name, pools);
  if (!failure.empty()) {
    ReportFailure(__FILE__, __LINE__, failure);
    return false;
  }
  const std::string codes = CheckCodesInAndOut(conv, c, expected, rng, &pools[2]);
  if (!codes.empty()) {
    ReportFailure(__FILE__, __LINE__, codes + ": " + DescribeCase(c, name, 3));
    return false;
  }
  return true;
}

// `grouped`: a convolution of 2 to 4 groups (FORMAT.md `groups`, not depthwise), each with
// an odd or word-crossing channel count of its own.
ConvCase RandomCase(std::mt19937& rng, int weight_bits, int activation_bits, bool is_signed,
                bool grouped = false) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvCase c;
  OpParams& p = c.params;
  const bool conv = grouped || uniform(0, 3) != 0;
  p.kind = conv ? OpKind::kConv2D : OpKind::kFullyConnected;
  p.weight_bits = weight_bits;
  p.activation_bits = activation_bits;
  p.activation_signed = is_signed;
  p.input_scale = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
  if (grouped) {
    const int group_channel_choices[] = {2, 3, 5, 7, 31, 63, 64, 65, 100};
    p.groups = uniform(2, 4);
    p.in_channels = p.groups * group_channel_choices[uniform(0, 8)];
    p.out_channels = p.groups * uniform(1, 9);
  } else {
    // Channel counts below, at and across 64-bit word boundaries.
    const int channel_choices[] = {1, 3, 7, 31, 63, 64, 65, 100, 128, 130};
    p.in_channels = channel_choices[uniform(0, 9)];
    p.out_channels = uniform(1, 21);
  }
  if (conv) {
    p.kernel_h = uniform(1, 3);
    p.kernel_w = uniform(1, 3);
    p.stride_h = uniform(1, 2);
    p.stride_w = uniform(1, 3);
    p.dilation_h = uniform(1, 2);
    p.dilation_w = uniform(1, 2);
    p.padding = uniform(0, 1) ? Padding::kSame : Padding::kValid;
  }
  SetRandomOutputStage(rng, &p);
  const int n = uniform(1, 3);
  const int h = (p.kernel_h - 1) * p.dilation_h + uniform(1, 11);
  const int w = (p.kernel_w - 1) * p.dilation_w + uniform(1, 11);
  c.input_shape = conv ? std::vector<int>{n, h, w, p.in_channels}
                       : std::vector<int>{n, uniform(1, 9), p.in_channels};
  FillRandomData(rng, &c);
  return c;
}

// The CPU's int row for these widths, whose packed bytes F(2x2, 3x3) transforms; null where
// it packs none (no sub-byte int row: nothing runs Winograd here).
const GemmKernel* WinogradLayerRow(int weight_bits, int activation_bits) {
  const GemmKernel& row =
      BestGemmKernel(DetectCpuFeatures(), GemmFamily::kInt, weight_bits, activation_bits);
  return row.bytes() ? &row : nullptr;
}

// A random case of a 3x3 convolution of stride 1 and SAME padding (what F(2x2, 3x3) runs),
// input_shape NHWC.
ConvCase Same3x3Case(std::mt19937& rng, int weight_bits, int activation_bits, bool is_signed,
                     int out_channels, const std::vector<int>& input_shape) {
  ConvCase c = RandomCase(rng, weight_bits, activation_bits, is_signed);
  OpParams& p = c.params;
  p.kind = OpKind::kConv2D;
  p.in_channels = input_shape[3];
  p.out_channels = out_channels;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
  p.padding = Padding::kSame;
  SetRandomOutputStage(rng, &p);
  c.input_shape = input_shape;
  FillRandomData(rng, &c);
  return c;
}

void CheckCase(const ConvCase& c, ThreadPool* pools) {
  ConvGeometry g;
  std::vector<int> output_shape;
  std::string error;
  if (!ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error)) {
    ReportFailure(__FILE__, __LINE__, "geometry: " + error);
    return;
  }
  const std::vector<float> expected = RunReference(c, g);
  // The grids of the codes-out checks, one sequence per case.
  std::mt19937 rng(static_cast<uint32_t>(expected.size()));
  // As BitliteOp runs it: on the live taps, or on the reference kernel if there are none.
  const LiveTaps taps = FindLiveTaps(g);
  if (taps.Empty()) return;
  const LiveTapConv live = CropToLiveTaps(c.params, g, taps, c.w_codes);
  for (const GemmKernel* kernel : Kernels()) {
    if (!kernel->Takes(c.params.weight_bits, c.params.activation_bits)) continue;
    Conv2DGemm conv(live.params, live.w_codes.data(), *kernel);
    if (!CheckConv(&conv, c, live.geometry, expected, kernel->name, &rng, pools)) return;
    // Layers that can run F(2x2, 3x3): on each W8A8 row's GEMM too.
    if (!kernel->bytes() || !WinogradFits(live.params)) continue;
    for (const GemmKernel* w8a8 : W8A8Kernels()) {
      Conv2DGemm winograd(live.params, live.w_codes.data(), *kernel, w8a8);
      const std::string name = std::string(kernel->name) + " + winograd on " + w8a8->name;
      if (winograd.runs_winograd() == winograd.folds_width()) {
        ReportFailure(__FILE__, __LINE__, "runs winograd exactly where it does not fold: " + name);
        return;
      }
      if (!CheckConv(&winograd, c, live.geometry, expected, name, &rng, pools)) return;
      winograd_layers_checked += winograd.runs_winograd() ? 1 : 0;
      // Prepared for one thread, its chunks are several row pairs (Prepare): again.
      std::string error;
      std::vector<float> y(expected.size(), -1.0f);
      if (!winograd.Prepare(live.geometry, 1, kSmallScratchLimit, &error)) {
        ReportFailure(__FILE__, __LINE__, error + ": " + DescribeCase(c, name, 1));
        return;
      }
      winograd.Run(c.x.data(), y.data(), &pools[0]);
      if (!BitwiseEqual(y, expected)) {
        ReportFailure(__FILE__, __LINE__, "one-thread chunks: " + DescribeCase(c, name, 1));
        return;
      }
    }
  }
}

BITLITE_TEST(MatchesReferenceForAllBitWidthsIsasAndThreadCounts) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(1121);
  for (int weight_bits = 1; weight_bits <= 4; ++weight_bits) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      for (bool is_signed : {false, true}) {
        for (int repeat = 0; repeat < 10; ++repeat) {
          CheckCase(RandomCase(rng, weight_bits, activation_bits, is_signed), pools);
        }
      }
    }
  }
}

// F(2x2, 3x3) (winograd_f2x3.h) on every int row with every W8A8 row's GEMM: 3x3 layers of
// stride 1 on every sub-byte pair and both grids, odd and even sizes down to one pixel (blocks
// past the last row and column), batches (chunks across images), SAME and VALID, channels
// around the 8-byte word and past a 64-channel block.
BITLITE_TEST(WinogradMatchesReferenceOnEveryRow) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(2233);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int checked_before = winograd_layers_checked;
  for (int weight_bits = 1; weight_bits <= 4; ++weight_bits) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      for (bool is_signed : {false, true}) {
        for (int repeat = 0; repeat < 3; ++repeat) {
          ConvCase c = RandomCase(rng, weight_bits, activation_bits, is_signed);
          OpParams& p = c.params;
          // (1 folds its width instead, but on the binary grid.)
          const int channel_choices[] = {1, 8, 16, 24, 63, 64, 65, 130};
          p.kind = OpKind::kConv2D;
          p.in_channels = channel_choices[uniform(0, 7)];
          p.out_channels = uniform(0, 3) == 0 ? uniform(60, 90) : uniform(1, 21);
          p.kernel_h = p.kernel_w = 3;
          p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
          p.padding = uniform(0, 1) ? Padding::kSame : Padding::kValid;
          const int pad = p.padding == Padding::kValid ? 2 : 0;
          c.input_shape = {uniform(1, 3), uniform(1, 13) + pad, uniform(1, 13) + pad,
                           p.in_channels};
          SetRandomOutputStage(rng, &p);
          FillRandomData(rng, &c);
          CheckCase(c, pools);
        }
      }
    }
  }
  // Wherever the CPU has a sub-byte int row (its packed bytes), it ran.
  if (WinogradLayerRow(2, 2) != nullptr) {
    EXPECT_TRUE(winograd_layers_checked - checked_before > 50);
  }
}

// A worker keeps its last chunk's transformed input for that chunk's other blocks of channels
// (WinogradGemm): a second Run on another input must not reuse it, at any thread count.
BITLITE_TEST(WinogradTransformsEachRunsInput) {
  TestThreadPools threads;
  std::mt19937 rng(4242);
  const GemmKernel* int_row = WinogradLayerRow(3, 3);
  if (int_row == nullptr) return;
  // 70 channels: 5 blocks of them at most, units share chunks; one chunk: each Run's first
  // unit is the last one's chunk.
  ConvCase a = Same3x3Case(rng, 3, 3, false, 70, {1, 2, 7, 64});
  const OpParams& p = a.params;
  ConvCase b = a;
  FillRandomData(rng, &b);
  b.w_codes = a.w_codes;
  b.params = a.params;
  ConvGeometry g;
  std::vector<int> output_shape;
  std::string error;
  ASSERT_TRUE(ComputeGeometry(p, a.input_shape, &g, &output_shape, &error));
  const std::vector<float> expected_b = RunReference(b, g);
  Conv2DGemm conv(p, a.w_codes.data(), *int_row,
                  &BestGemmKernel(DetectCpuFeatures(), GemmFamily::kInt, 8, 8));
  ASSERT_TRUE(conv.runs_winograd());
  ASSERT_TRUE(conv.Prepare(g, 3, kSmallScratchLimit, &error, /*min_work_per_thread=*/1));
  for (int t = 1; t <= 3; ++t) {
    std::vector<float> y(expected_b.size());
    conv.Run(a.x.data(), y.data(), &threads.pools[t - 1]);
    conv.Run(b.x.data(), y.data(), &threads.pools[t - 1]);
    EXPECT_TRUE(BitwiseEqual(y, expected_b));
  }
}

// Layers that share one set of F(2x2, 3x3) workspaces (a delegate partition's), run in turn
// on different inputs: each Run transforms its own input, though the layers' chunks start at
// the same pixel; a layer prepared later on more threads and a larger image grows the set
// under the earlier ones.
BITLITE_TEST(WinogradLayersShareWorkspaces) {
  TestThreadPools threads;
  std::mt19937 rng(4343);
  const GemmKernel* int_row = WinogradLayerRow(4, 2);
  if (int_row == nullptr) return;
  const GemmKernel* w8a8 = &BestGemmKernel(DetectCpuFeatures(), GemmFamily::kInt, 8, 8);
  struct Layer {
    ConvCase c;
    ConvGeometry g;
    std::vector<float> expected;
    std::unique_ptr<Conv2DGemm> conv;
  };
  WinogradWorkspaces shared;
  std::vector<Layer> layers(3);
  // The first two on one thread each: the second's first chunk is certainly the one the
  // first's worker 0 transformed.
  const std::vector<std::vector<int>> shapes = {{1, 4, 7, 64}, {1, 4, 7, 64}, {2, 9, 11, 64}};
  const int layer_threads[] = {1, 1, 3};
  for (size_t i = 0; i < layers.size(); ++i) {
    Layer& layer = layers[i];
    layer.c = Same3x3Case(rng, 4, 2, false, 24, shapes[i]);
    const OpParams& p = layer.c.params;
    std::vector<int> output_shape;
    std::string error;
    ASSERT_TRUE(ComputeGeometry(p, layer.c.input_shape, &layer.g, &output_shape, &error));
    layer.expected = RunReference(layer.c, layer.g);
    layer.conv = std::make_unique<Conv2DGemm>(p, layer.c.w_codes.data(), *int_row, w8a8);
    ASSERT_TRUE(layer.conv->runs_winograd());
    layer.conv->ShareWinogradWorkspaces(&shared);
    ASSERT_TRUE(layer.conv->Prepare(layer.g, layer_threads[i], kSmallScratchLimit, &error,
                                    /*min_work_per_thread=*/1));
  }
  EXPECT_EQ(shared.size(), size_t{3});
  for (int round = 0; round < 2; ++round) {
    for (Layer& layer : layers) {
      std::vector<float> y(layer.expected.size());
      layer.conv->Run(layer.c.x.data(), y.data(), &threads.pools[layer.conv->threads() - 1]);
      EXPECT_TRUE(BitwiseEqual(y, layer.expected));
    }
  }
}

// Kernels of 4 to 7 rows on 1-bit weights, whose shift needs each window's sum of activation
// values (PrepareChunk adds them two kernel rows a pass: an even and an odd last pair), with
// strides, dilations and both paddings: every row against the reference.
BITLITE_TEST(TallKernelsWithWindowSumsMatchReference) {
  TestThreadPools threads;
  std::mt19937 rng(4077);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int kernel_h = 4; kernel_h <= 7; ++kernel_h) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      ConvCase c = RandomCase(rng, 1, activation_bits, uniform(0, 1) == 1);
      OpParams& p = c.params;
      p.kind = OpKind::kConv2D;
      p.kernel_h = kernel_h;
      p.kernel_w = uniform(1, 3);
      p.stride_h = uniform(1, 2);
      p.stride_w = uniform(1, 2);
      p.dilation_h = uniform(1, 2);
      p.dilation_w = 1;
      p.padding = uniform(0, 1) ? Padding::kSame : Padding::kValid;
      c.input_shape = {uniform(1, 2), (kernel_h - 1) * p.dilation_h + uniform(1, 9),
                       p.kernel_w + uniform(0, 9), p.in_channels};
      FillRandomData(rng, &c);
      CheckCase(c, threads.pools);
    }
  }
}

BITLITE_TEST(GroupedConvolutionsMatchReferenceForAllBitWidthsIsasAndThreadCounts) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(2207);
  for (int weight_bits = 1; weight_bits <= 4; ++weight_bits) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      for (bool is_signed : {false, true}) {
        for (int repeat = 0; repeat < 6; ++repeat) {
          CheckCase(RandomCase(rng, weight_bits, activation_bits, is_signed, /*grouped=*/true),
                    pools);
        }
      }
    }
  }
}

// Layers as wide as the largest tiles and wider (the AMX row's 32 pixels x 32 channels, 2 x 2
// tiles of 16, over 64-code chunks): outputs of 65-300 pixels, so a driver chunk of 64 fills
// whole tiles and leaves a partial one, 17-70 output channels (one or two 16-channel tiles,
// and a 16-channel tail), reductions of whole and partial 8-word chunks, every bit pair and
// W8A8, on every row, against the reference.
BITLITE_TEST(WideLayersMatchReferenceAcrossWholeAndPartialTiles) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(3232);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const std::pair<int, int> pairs[] = {{1, 1}, {1, 2}, {2, 2}, {2, 3}, {3, 1}, {4, 4}, {8, 8}};
  for (const auto& [weight_bits, activation_bits] : pairs) {
    for (bool is_signed : {false, true}) {
      for (int repeat = 0; repeat < 2; ++repeat) {
        ConvCase c = RandomCase(rng, weight_bits, activation_bits, is_signed);
        OpParams& p = c.params;
        const int in_channel_choices[] = {3, 8, 24, 64, 72};
        const int out_channel_choices[] = {17, 32, 48, 70};
        p.in_channels = in_channel_choices[uniform(0, 4)];
        p.out_channels = out_channel_choices[uniform(0, 3)];
        SetRandomOutputStage(rng, &p);
        const int h = (p.kernel_h - 1) * p.dilation_h + uniform(8, 16) * p.stride_h;
        const int w = (p.kernel_w - 1) * p.dilation_w + uniform(8, 18) * p.stride_w;
        c.input_shape = p.kind == OpKind::kConv2D
                            ? std::vector<int>{uniform(1, 2), h, w, p.in_channels}
                            : std::vector<int>{1, uniform(65, 150), p.in_channels};
        FillRandomData(rng, &c);
        CheckCase(c, pools);
      }
      // 1x1 layers whose reduction is one chunk (under 64 codes: the AMX row's tiles are
      // configured that deep) or exactly one, over several blocks of 32 channels.
      for (int in_channels : {5, 16, 40, 64}) {
        ConvCase c = RandomCase(rng, weight_bits, activation_bits, is_signed);
        OpParams& p = c.params;
        p.kind = OpKind::kConv2D;
        p.in_channels = in_channels;
        p.out_channels = uniform(0, 1) == 0 ? 96 : 81;
        p.kernel_h = p.kernel_w = 1;
        p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
        SetRandomOutputStage(rng, &p);
        c.input_shape = {1, uniform(3, 9), uniform(7, 20), in_channels};
        FillRandomData(rng, &c);
        CheckCase(c, pools);
      }
      // Tiles of 16 windows read in place where evenly spaced: rows of 15 (every tile but
      // the first of an image wraps a row, the first only at its last window), 16 and 31.
      for (int width : {15, 16, 31}) {
        CheckCase(Same3x3Case(rng, weight_bits, activation_bits, is_signed, 32, {1, 5, width, 64}),
                  pools);
      }
    }
  }
}

// A deep reduction (3x3 x 300 channels, 45 words: several of the LUT kernels' 16-word table
// blocks, more than the int8 kernels' 16-bit accumulator blocks) and the extreme codes of
// every bit pair: the popcount sums, their two's complement corrections, the LUT kernels'
// byte and int16 sums and the int8 kernels' largest products v * v = 15 * 15 far from zero.
BITLITE_TEST(MatchesReferenceOnDeepReductionsWithExtremeCodes) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(7);
  for (int weight_bits = 1; weight_bits <= 4; ++weight_bits) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      for (bool is_signed : {false, true}) {
        const CodeRange range = WeightCodeRange(weight_bits);
        for (int weight_code : {range.min, range.max}) {
          for (float x : {-1e9f, 1e9f}) {
            if (x < 0 && !is_signed) continue;  // every code 0 on an unsigned grid
            ConvCase c = RandomCase(rng, weight_bits, activation_bits, is_signed);
            c.params.in_channels = 300;
            SetUniformCase(3, {1, 5, 6, 300}, weight_code, x, &c);
            CheckCase(c, pools);
          }
        }
      }
    }
  }
}

// W8A8 on every row that takes it: random plain and grouped cases on both grids.
BITLITE_TEST(W8A8MatchesReferenceOnEveryRowThatTakesIt) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(808);
  for (bool is_signed : {false, true}) {
    for (int repeat = 0; repeat < 40; ++repeat) {
      CheckCase(RandomCase(rng, 8, 8, is_signed, /*grouped=*/repeat % 4 == 3), pools);
    }
  }
}

// Narrow inputs fold the kernel's width into the channels (conv2d_gemm.h): RGB-stem-like
// 7x7 stride-2 layers and 3x3 ones of 1 to 24 channels, W8A8 and sub-byte, both grids (the
// binary one never folds), SAME and VALID, widths where no window or every window crosses a
// border, against the reference like every case, and the fold checked to happen.
BITLITE_TEST(NarrowInputsFoldTheKernelWidthAndMatchReference) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(77);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int folded = 0;
  for (int bits : {2, 4, 8}) {
    for (bool is_signed : {false, true}) {
      for (int repeat = 0; repeat < 6; ++repeat) {
        ConvCase c = RandomCase(rng, bits, bits, is_signed);
        OpParams& p = c.params;
        const bool stem = repeat % 2 == 0;
        p.kind = OpKind::kConv2D;
        p.groups = 1;
        p.in_channels = stem ? 3 : uniform(1, 24);
        p.kernel_h = stem ? 7 : 3;
        p.kernel_w = stem ? 7 : uniform(2, 3);
        p.stride_h = stem ? 2 : uniform(1, 2);
        p.stride_w = stem ? 2 : uniform(1, 3);
        p.dilation_h = uniform(1, 2);
        p.dilation_w = 1;
        p.padding = uniform(0, 1) ? Padding::kSame : Padding::kValid;
        const int w = (p.kernel_w - 1) + uniform(1, 12);
        c.input_shape = {uniform(1, 2), (p.kernel_h - 1) * p.dilation_h + uniform(1, 6), w,
                         p.in_channels};
        FillRandomData(rng, &c);
        CheckCase(c, pools);
        for (const GemmKernel* kernel : Kernels()) {
          if (!kernel->Takes(bits, bits)) continue;
          Conv2DGemm conv(p, c.w_codes.data(), *kernel);
          folded += conv.folds_width() ? 1 : 0;
        }
      }
    }
  }
  EXPECT_TRUE(folded > 0);
}

// W8A8's worst magnitudes: weights all -128 (or 127) times activations all 255 (or -128,
// 127) over the longest reduction the accumulator bound allows on the unsigned grid
// (K = 3 * 3 * 7310 = 65790 of at most 65793: |acc| = 2^31 - 32640 * 3), and a 1x1 one just
// under it (K = 65793), with SAME borders so the signed grid's offset correction runs over
// partial windows. Sums past int32 before the correction must wrap back exactly.
BITLITE_TEST(W8A8MatchesReferenceAtTheAccumulatorBound) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(65793);
  for (bool is_signed : {false, true}) {
    for (int weight_code : {-128, 127}) {
      for (float x : {-1e9f, 1e9f}) {
        for (int kernel : {3, 1}) {
          ConvCase c = RandomCase(rng, 8, 8, is_signed);
          OpParams& p = c.params;
          p.groups = 1;
          p.in_channels = kernel == 3 ? 7310 : 65793;
          p.out_channels = 3;
          p.multiplier.resize(3);
          p.offset.resize(3);
          SetUniformCase(kernel, {1, 2, 3, p.in_channels}, weight_code, x, &c);
          CheckCase(c, pools);
        }
      }
    }
  }
}

// W8A8 weights without the code -128, which kernels with a faster run for them
// (BgemmKernel::run_without_min_weight: int16 sums of two products) take: random plain,
// grouped and stem-like (7x7 stride 2, 3 channels: the fold) cases on both grids, and the
// int16 bound, weights all -127 (or 127) times activations all -128.
BITLITE_TEST(W8A8WithoutTheMinimumWeightMatchesReference) {
  ThreadPool pools[3];
  for (int i = 0; i < 3; ++i) pools[i].Resize(i + 1);
  std::mt19937 rng(127);
  for (bool is_signed : {false, true}) {
    for (int repeat = 0; repeat < 30; ++repeat) {
      ConvCase c = RandomCase(rng, 8, 8, is_signed, /*grouped=*/repeat % 5 == 4);
      if (repeat % 5 == 3) {
        OpParams& p = c.params;
        p.kind = OpKind::kConv2D;
        p.groups = 1;
        p.in_channels = 3;
        p.kernel_h = p.kernel_w = 7;
        p.stride_h = p.stride_w = 2;
        p.dilation_h = p.dilation_w = 1;
        p.padding = Padding::kSame;
        c.input_shape = {1, 6 + repeat % 7, 7 + repeat % 5, 3};
        FillRandomData(rng, &c);
      }
      std::replace(c.w_codes.begin(), c.w_codes.end(), int8_t{-128}, int8_t{-127});
      CheckCase(c, pools);
    }
    for (int weight_code : {-127, 127}) {
      ConvCase c = RandomCase(rng, 8, 8, is_signed);
      c.params.groups = 1;
      c.params.in_channels = 67;  // an odd word count: a word after the last pair
      SetUniformCase(3, {1, 4, 5, 67}, weight_code, -1e9f, &c);
      CheckCase(c, pools);
    }
  }
}

// Windows that reach far past tiny inputs (dilations and strides up to 2^31 - 1, SAME padding
// of up to 2^61): every kernel on its live taps equals the reference, within
// kSmallScratchLimit. Before live taps, the padded input was materialised: its size
// overflowed (an out-of-bounds write) or took gigabytes.
BITLITE_TEST(MatchesReferenceOnExtremeGeometries) {
  TestThreadPools threads;
  ThreadPool* pools = threads.pools;
  std::mt19937 rng(9);
  for (int repeat = 0; repeat < 200; ++repeat) {
    // Every fifth case W8A8.
    const int weight_bits = repeat % 5 == 4 ? 8 : repeat % 4 + 1;
    const int activation_bits = repeat % 5 == 4 ? 8 : repeat / 4 % 4 + 1;
    ConvCase c = RandomCase(rng, weight_bits, activation_bits, repeat % 32 >= 16,
                            /*grouped=*/repeat % 3 == 0);
    SetExtremeGeometry(rng, &c);
    FillRandomData(rng, &c);
    ConvGeometry g;
    std::vector<int> output_shape;
    std::string error;
    if (ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error)) CheckCase(c, pools);
  }
}

// A random convolution whose output a max pool reads (PoolOutput): one group, output
// channels below, at and past the pool rows' 16-channel vectors, batch 1 or 2, and an output
// stage that pools (OutputStagePools) with multipliers of both signs (the flipped channels),
// zeros of both signs (every output the offset), huge ones, and zero offsets.
ConvCase RandomPooledCase(std::mt19937& rng, int weight_bits, int activation_bits,
                          bool is_signed) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvCase c = RandomCase(rng, weight_bits, activation_bits, is_signed);
  OpParams& p = c.params;
  const int out_channel_choices[] = {1, 3, 16, 17, 33, 64, 70};
  p.kind = OpKind::kConv2D;
  p.groups = 1;
  p.out_channels = out_channel_choices[uniform(0, 6)];
  p.kernel_h = uniform(1, 3);
  p.kernel_w = uniform(1, 3);
  p.stride_h = uniform(1, 2);
  p.stride_w = uniform(1, 2);
  p.dilation_h = uniform(1, 2);
  p.dilation_w = uniform(1, 2);
  p.padding = uniform(0, 1) ? Padding::kSame : Padding::kValid;
  SetRandomOutputStage(rng, &p);
  // A slope whose products could round to -0.0 does not pool (PoolOutputRefusesOutputStages...).
  if (p.activation.kind == ActivationKind::kLeakyRelu && p.activation.alpha < 1e-7f) {
    p.activation.alpha = 0.5f;
  }
  const float special_multipliers[] = {0.0f, -0.0f, 1e20f, -1e20f};
  for (int i = 0; i < p.out_channels; ++i) {
    if (uniform(0, 3) == 0) p.multiplier[i] = special_multipliers[uniform(0, 3)];
    if (uniform(0, 7) == 0) p.offset[i] = 0.0f;
  }
  c.input_shape = {uniform(1, 2), (p.kernel_h - 1) * p.dilation_h + uniform(1, 12),
                   (p.kernel_w - 1) * p.dilation_w + uniform(1, 12), p.in_channels};
  FillRandomData(rng, &c);
  return c;
}

// A random max pool: filters of 1 to 3, strides of 1 to 3 (past the filter too, where no
// window reads some rows and columns), SAME or VALID.
MaxPoolWindow RandomPoolWindow(std::mt19937& rng) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  MaxPoolWindow window;
  window.filter_h = uniform(1, 3);
  window.filter_w = uniform(1, 3);
  window.stride_h = uniform(1, 3);
  window.stride_w = uniform(1, 3);
  window.padding = uniform(0, 1) ? Padding::kSame : Padding::kValid;
  return window;
}

// The reference output of `c` max pooled by `pool` as an unfused layer's is: by the glue's
// MAX_POOL_2D with the NONE clamp (BitliteOp::Run).
std::vector<float> PooledReference(const ConvCase& c, const ConvGeometry& g,
                                   const PoolGeometry& pool) {
  const std::vector<float> conv = RunReference(c, g);
  const int64_t rows = int64_t{pool.batch} * pool.out_h;
  std::vector<float> y(static_cast<size_t>(rows * pool.out_w * pool.channels));
  const glue::Clamp none{std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max()};
  glue::MaxPool(pool, conv.data(), y.data(), none, 0, rows);
  return y;
}

// What CheckCodesInAndOut leaves out, for a pooling layer whose pooled reference output is
// `expected`: floats with codes of `grid` beside them are `expected` and the reference
// quantizer's codes of the floats written; and with the output stage folded into compares
// for `grid` (WillWriteCodes), its codes of `grid` are those of `expected`. Returns "" or
// what differs.
std::string CheckPooledCodes(Conv2DGemm* conv, const ConvCase& c,
                             const std::vector<float>& expected, const ActivationPacking& grid,
                             ThreadPool* pool) {
  ActivationInput x;
  x.values = c.x.data();
  std::vector<float> y(expected.size(), -1.0f);
  std::vector<int8_t> side_codes(expected.size(), 99);
  ActivationOutput beside;
  beside.values = y.data();
  beside.side_codes = side_codes.data();
  beside.side_grid = &grid;
  conv->Run(x, beside, pool);
  if (!BitwiseEqual(y, expected)) return "side codes: floats differ";
  if (side_codes != ReferenceCodes(y, grid)) return "side codes differ";
  if (!conv->writes_codes()) return "";
  conv->WillWriteCodes(&grid);
  std::vector<int8_t> codes(expected.size(), 99);
  ActivationOutput coded;
  coded.codes = codes.data();
  coded.grid = &grid;
  conv->Run(x, coded, pool);
  if (codes != ReferenceCodes(expected, grid)) return "codes after WillWriteCodes differ";
  return "";
}

// `c` pooling its output by `window` on every kernel row this CPU runs against the
// reference followed by the glue's max pool, bit for bit: floats on 1 to 3 threads, codes in,
// codes out with and without thresholds, side codes. False, with nothing checked, where
// BitliteOp would not pool in the kernel: the window does not fit the output (VALID), or the
// layer has no live taps (it runs the reference kernel).
bool CheckPooledCase(const ConvCase& c, const MaxPoolWindow& window, std::mt19937* rng,
                     ThreadPool* pools) {
  ConvGeometry g;
  std::vector<int> output_shape;
  std::string error;
  if (!ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error)) {
    ReportFailure(__FILE__, __LINE__, "geometry: " + error);
    return false;
  }
  PoolGeometry pool;
  const LiveTaps taps = FindLiveTaps(g);
  if (taps.Empty() || !ComputePoolGeometry(window, output_shape, &pool, &error)) return false;
  const std::vector<float> expected = PooledReference(c, g, pool);
  const std::string pool_text =
      ", pool " + std::to_string(pool.filter_h) + "x" + std::to_string(pool.filter_w) +
      " stride " + std::to_string(pool.stride_h) + "x" + std::to_string(pool.stride_w) +
      " pads " + std::to_string(pool.pad_top) + " " + std::to_string(pool.pad_left);
  const LiveTapConv live = CropToLiveTaps(c.params, g, taps, c.w_codes);
  for (const GemmKernel* kernel : Kernels()) {
    if (!kernel->Takes(c.params.weight_bits, c.params.activation_bits)) continue;
    Conv2DGemm conv(live.params, live.w_codes.data(), *kernel);
    if (!conv.PoolOutput(&pool)) {
      ReportFailure(__FILE__, __LINE__, "not pooled: " + DescribeCase(c, kernel->name, 1));
      return true;
    }
    const std::string floats =
        CheckEveryThreadCount(&conv, c, live.geometry, expected, kernel->name, pools);
    if (!floats.empty()) {
      ReportFailure(__FILE__, __LINE__, floats + pool_text);
      return true;
    }
    std::string codes = CheckCodesInAndOut(&conv, c, expected, rng, &pools[1]);
    if (codes.empty()) {
      codes = CheckPooledCodes(&conv, c, expected, RandomCodeGrid(*rng), &pools[1]);
    }
    if (!codes.empty()) {
      ReportFailure(__FILE__, __LINE__,
                    codes + ": " + DescribeCase(c, kernel->name, 2) + pool_text);
      return true;
    }
  }
  return true;
}

BITLITE_TEST(PooledOutputMatchesReferenceThenMaxPool) {
  TestThreadPools threads;
  std::mt19937 rng(2112);
  int checked = 0;
  for (int weight_bits : {1, 2, 3, 4, 8}) {
    for (bool is_signed : {false, true}) {
      for (int repeat = 0; repeat < 20; ++repeat) {
        // Equal widths first (W1A1 on the binary grid where signed), then random ones.
        const int activation_bits = weight_bits == 8 || repeat == 0
                                        ? weight_bits
                                        : std::uniform_int_distribution<int>(1, 4)(rng);
        const ConvCase c = RandomPooledCase(rng, weight_bits, activation_bits, is_signed);
        const MaxPoolWindow window = RandomPoolWindow(rng);
        checked += CheckPooledCase(c, window, &rng, threads.pools) ? 1 : 0;
      }
    }
  }
  // The windows that do not fit (VALID, larger than the output) are few.
  EXPECT_TRUE(checked >= 150);
}

// Whether a 3x3 SAME layer of 4 channels (SetThreadsCase) in `groups` groups, whose last
// channel has `multiplier` and `offset`, pools its output by a 2x2 stride 2 window.
bool LayerPools(float multiplier, float offset, int groups, Activation activation = {}) {
  ConvCase c;
  ConvGeometry g;
  std::vector<int> output_shape;
  std::string error;
  PoolGeometry pool;
  MaxPoolWindow window;
  window.filter_h = window.filter_w = window.stride_h = window.stride_w = 2;
  if (!SetThreadsCase(4, 4, groups, 2, 2, &c, &g) ||
      !ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error) ||
      !ComputePoolGeometry(window, output_shape, &pool, &error)) {
    ReportFailure(__FILE__, __LINE__, "setup: " + error);
    return false;
  }
  c.params.multiplier.back() = multiplier;
  c.params.offset.back() = offset;
  c.params.activation = activation;
  Conv2DGemm conv(c.params, c.w_codes.data(),
                  AutoGemmKernelFor(DetectCpuFeatures(), c.params));
  return conv.PoolOutput(&pool);
}

// PoolOutput pools where max pooling commutes with the output stage (pooled_accumulators.h)
// and refuses, on any channel, a -0.0 offset, multipliers or offsets that are not finite, and
// multipliers that would take outputs past the largest float; and layers with groups. With
// LEAKY_RELU, also where v * alpha could round a negative output to -0.0: a slope below 2^-24,
// or a multiplier or offset in (0, 2^-100).
BITLITE_TEST(PoolOutputRefusesOutputStagesThatDoNotPool) {
  EXPECT_TRUE(LayerPools(0.5f, 1.0f, 1));
  EXPECT_TRUE(LayerPools(-0.5f, 0.0f, 1));
  EXPECT_TRUE(LayerPools(0.0f, -3.0f, 1));
  EXPECT_TRUE(LayerPools(-0.0f, 0.0f, 1));
  EXPECT_TRUE(LayerPools(1e-42f, 2.0f, 1));
  EXPECT_TRUE(LayerPools(-1e28f, 1e30f, 1));
  EXPECT_TRUE(!LayerPools(0.5f, -0.0f, 1));
  EXPECT_TRUE(!LayerPools(-0.5f, -0.0f, 1));
  EXPECT_TRUE(!LayerPools(NAN, 1.0f, 1));
  EXPECT_TRUE(!LayerPools(INFINITY, 1.0f, 1));
  EXPECT_TRUE(!LayerPools(-INFINITY, 1.0f, 1));
  EXPECT_TRUE(!LayerPools(0.5f, NAN, 1));
  EXPECT_TRUE(!LayerPools(0.5f, -INFINITY, 1));
  EXPECT_TRUE(!LayerPools(1e30f, 1.0f, 1));
  EXPECT_TRUE(!LayerPools(-1e30f, 1.0f, 1));
  EXPECT_TRUE(!LayerPools(0.5f, 1.0f, 2));
  const Activation leaky{ActivationKind::kLeakyRelu, 0.1f};
  EXPECT_TRUE(LayerPools(0.5f, 1.0f, 1, leaky));
  EXPECT_TRUE(LayerPools(0.0f, 0.0f, 1, leaky));
  EXPECT_TRUE(LayerPools(-0.5f, std::ldexp(1.0f, -100), 1, leaky));
  EXPECT_TRUE(LayerPools(0.5f, 1.0f, 1, {ActivationKind::kLeakyRelu, std::ldexp(1.0f, -24)}));
  EXPECT_TRUE(!LayerPools(0.5f, 1.0f, 1, {ActivationKind::kLeakyRelu, FLT_MIN}));
  EXPECT_TRUE(!LayerPools(1e-42f, 2.0f, 1, leaky));
  EXPECT_TRUE(!LayerPools(0.5f, -1e-35f, 1, leaky));
  ConvCase c;
  ConvGeometry g;
  ASSERT_TRUE(SetThreadsCase(4, 4, 1, 2, 2, &c, &g));
  Conv2DGemm conv(c.params, c.w_codes.data(),
                  AutoGemmKernelFor(DetectCpuFeatures(), c.params));
  EXPECT_TRUE(!conv.PoolOutput(nullptr));
}

// An ADD's fused activations as the glue's clamps (CalculateActivationRange): NONE, RELU,
// RELU6, RELU_N1_TO_1.
const glue::Clamp kAddClamps[] = {
    {std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max()},
    {0.0f, std::numeric_limits<float>::max()},
    {0.0f, 6.0f},
    {-1.0f, 1.0f}};

// A convolution whose output an ADD reads (AddOutput). `shape` 0: the pooled tests' case (one
// group, 1 to 70 output channels, odd counts among them, batch 1 or 2, outputs of zeros of
// both signs); 1: a grouped one (a group's channels are not a whole pixel); 2: one output
// pixel per image and 64 to 70 channels (threads can share it only in blocks of channels).
// Some channels' multipliers are NaNs of their own payloads or infinities (0 * inf: NaN): NaN
// outputs, whose payloads the sums must keep; others give zeros of both signs (a zero
// multiplier, a -0 offset).
ConvCase RandomAddedCase(std::mt19937& rng, int weight_bits, int activation_bits,
                         bool is_signed, int shape) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvCase c = shape == 1 ? RandomCase(rng, weight_bits, activation_bits, is_signed, true)
                          : RandomPooledCase(rng, weight_bits, activation_bits, is_signed);
  OpParams& p = c.params;
  if (shape == 2) {
    p.out_channels = uniform(64, 70);
    p.padding = Padding::kValid;
    SetRandomOutputStage(rng, &p);
    c.input_shape = {uniform(1, 2), (p.kernel_h - 1) * p.dilation_h + 1,
                     (p.kernel_w - 1) * p.dilation_w + 1, p.in_channels};
    FillRandomData(rng, &c);
  }
  for (size_t i = 0; i < p.multiplier.size(); ++i) {
    switch (uniform(0, 15)) {
      case 0:
      case 1:
        p.multiplier[i] = uniform(0, 1)
                              ? FloatOfBits(0x7fc00000u | static_cast<uint32_t>(uniform(1, 999)))
                              : (uniform(0, 1) ? INFINITY : -INFINITY);
        break;
      case 2:
        // Outputs of -0 (where the product is -0 too) and +0.
        p.multiplier[i] = uniform(0, 1) ? 0.0f : -0.0f;
        p.offset[i] = -0.0f;
        break;
      default:
        break;
    }
  }
  return c;
}

// The other operand of an ADD of the layer's output `conv`: values of its scale, its negation (sums
// of exactly zero), a zero output's own zero (sums of -0), and sprinkled in, NaNs of random
// payloads and signs, infinities, zeros of both signs and the largest floats (sums past them). No
// NaN meets a NaN output: which payload their sum keeps, glue::Binary decides by the length of its
// call (its vectorized loop commutes the add), and the kernel adds a block of channels pixel by
// pixel.
std::vector<float> RandomResidual(std::mt19937& rng, const std::vector<float>& conv) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto pick = [&](float y) {
    const float sign = uniform(0, 1) ? 1.0f : -1.0f;
    switch (uniform(0, 15)) {
      case 0:
        return FloatOfBits((sign < 0 ? 0xffc00000u : 0x7fc00000u) |
                           static_cast<uint32_t>(uniform(1000, (1 << 22) - 1)));
      case 1:
        return sign * INFINITY;
      case 2:
        return sign * 0.0f;
      case 3:
        return sign * FLT_MAX;
      case 4:
        return -y;
      case 5:
        // A zero output's own zero: -0 + -0 is the one sum of -0, which a clamp at 0 keeps.
        return y == 0.0f ? y : sign * 0.0f;
      default:
        return std::uniform_real_distribution<float>(-8.0f, 8.0f)(rng);
    }
  };
  std::vector<float> residual;
  for (float y : conv) {
    const float r = pick(y);
    residual.push_back(std::isnan(y) && std::isnan(r) ? 2.5f : r);
  }
  return residual;
}

// `c` with an ADD fused into its output (AddOutput: `clamp`, the residual its first operand
// where `residual_first`) on every kernel row this CPU runs, prepared for 3 threads sharing
// it as a large layer, against the glue's ADD of the reference output and a random residual,
// bit for bit: floats on 1 to 3 threads, and floats with side codes of a random grid, which
// must be the reference quantizer's codes of the floats written. Nothing is checked where the
// layer has no live taps (BitliteOp runs the reference kernel and the glue's ADD). Returns
// how many rows shared among threads a layer of at most 2 output pixels and 64 or more
// channels, whose units can only be blocks of channels (AddResidual's runs of one pixel).
int CheckAddedCase(const ConvCase& c, const glue::Clamp& clamp, bool residual_first,
                   std::mt19937* rng, ThreadPool* pools) {
  ConvGeometry g;
  std::vector<int> output_shape;
  std::string error;
  if (!ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error)) {
    ReportFailure(__FILE__, __LINE__, "geometry: " + error);
    return 0;
  }
  const LiveTaps taps = FindLiveTaps(g);
  if (taps.Empty()) return 0;
  const std::vector<float> unfused = RunReference(c, g);
  const std::vector<float> residual = RandomResidual(*rng, unfused);
  std::vector<float> expected(unfused.size());
  glue::BinaryGeometry same;
  same.size = static_cast<int64_t>(expected.size());
  glue::Binary(glue::BinaryOp::kAdd, same, residual_first ? residual.data() : unfused.data(),
               residual_first ? unfused.data() : residual.data(), expected.data(), clamp);
  const ActivationPacking grid = RandomCodeGrid(*rng);
  std::ostringstream add_text;
  add_text << ", ADD clamp [" << clamp.low << ", " << clamp.high << "], residual "
           << (residual_first ? "first" : "second");
  const LiveTapConv live = CropToLiveTaps(c.params, g, taps, c.w_codes);
  int shared = 0;
  // Each row, and each int row as F(2x2, 3x3) on each W8A8 row where the layer allows it.
  std::vector<std::pair<const GemmKernel*, const GemmKernel*>> rows;
  for (const GemmKernel* kernel : Kernels()) {
    if (!kernel->Takes(c.params.weight_bits, c.params.activation_bits)) continue;
    rows.emplace_back(kernel, nullptr);
    if (!kernel->bytes() || !WinogradFits(live.params)) continue;
    for (const GemmKernel* w8a8 : W8A8Kernels()) rows.emplace_back(kernel, w8a8);
  }
  for (const auto& [kernel, winograd] : rows) {
    Conv2DGemm conv(live.params, live.w_codes.data(), *kernel, winograd);
    conv.AddOutput(&clamp, residual_first);
    const std::string name =
        std::string(kernel->name) + (winograd ? std::string(" + winograd on ") + winograd->name
                                              : std::string());
    if (!conv.Prepare(live.geometry, 3, kSmallScratchLimit, &error, /*min_work_per_thread=*/1)) {
      ReportFailure(__FILE__, __LINE__, error + ": " + DescribeCase(c, name, 3));
      return shared;
    }
    winograd_layers_checked += conv.runs_winograd() ? 1 : 0;
    shared += g.batch * g.out_h * g.out_w <= 2 && g.out_c >= 64 && conv.threads() > 1 ? 1 : 0;
    ActivationInput x;
    x.values = c.x.data();
    std::vector<float> y(expected.size());
    ActivationOutput out;
    out.values = y.data();
    out.residual = residual.data();
    for (int threads = 1; threads <= 3; ++threads) {
      std::fill(y.begin(), y.end(), -1.0f);
      conv.Run(x, out, &pools[threads - 1]);
      if (!BitwiseEqual(y, expected)) {
        ReportFailure(__FILE__, __LINE__,
                      "mismatch: " + DescribeCase(c, name, threads) + add_text.str());
        return shared;
      }
    }
    std::fill(y.begin(), y.end(), -1.0f);
    std::vector<int8_t> side_codes(expected.size(), 99);
    out.side_codes = side_codes.data();
    out.side_grid = &grid;
    conv.Run(x, out, &pools[2]);
    if (!BitwiseEqual(y, expected) || side_codes != ReferenceCodes(y, grid)) {
      ReportFailure(__FILE__, __LINE__,
                    "side codes: " + DescribeCase(c, name, 3) + add_text.str());
      return shared;
    }
  }
  return shared;
}

// A residual ADD fused into the layer (AddOutput) is the glue's ADD of the reference output
// and the residual, bit for bit: every bit width (W8A8 and the binary grid included), kernel
// row and clamp, both operand orders, 1 to 3 threads in units of whole pixels and of channel
// blocks, NaN payloads, infinities, zeros' signs and sums past the largest float.
BITLITE_TEST(AddedOutputMatchesReferenceThenAdd) {
  TestThreadPools threads;
  std::mt19937 rng(4096);
  int shared_in_channel_blocks = 0;
  for (int weight_bits : {1, 2, 3, 4, 8}) {
    for (bool is_signed : {false, true}) {
      for (int repeat = 0; repeat < 15; ++repeat) {
        // Equal widths first (W1A1 on the binary grid where signed), then random ones.
        const int activation_bits = weight_bits == 8 || repeat == 0
                                        ? weight_bits
                                        : std::uniform_int_distribution<int>(1, 4)(rng);
        const ConvCase c =
            RandomAddedCase(rng, weight_bits, activation_bits, is_signed, repeat % 3);
        shared_in_channel_blocks += CheckAddedCase(c, kAddClamps[repeat % 4], repeat / 4 % 2 == 1,
                                                   &rng, threads.pools);
      }
    }
  }
  EXPECT_TRUE(shared_in_channel_blocks > 0);
}

// Layers that run as F(2x2, 3x3) with a fused ADD (AddOutput: the same output stages on its
// core) are the glue's ADD of the reference output, on every W8A8 row; such a layer does not
// pool its output (PoolOutput says no: its chunks are row pairs, a pool's rows are its
// windows').
BITLITE_TEST(WinogradLayersAddButDoNotPool) {
  TestThreadPools threads;
  std::mt19937 rng(3131);
  const int checked_before = winograd_layers_checked;
  for (int repeat = 0; repeat < 12; ++repeat) {
    const int weight_bits = 1 + repeat % 4, activation_bits = 4 - repeat % 4;
    ConvCase c = RandomAddedCase(rng, weight_bits, activation_bits, repeat % 2 == 1, 0);
    OpParams& p = c.params;
    p.in_channels = repeat % 3 == 0 ? 64 : 9 + repeat;
    p.kernel_h = p.kernel_w = 3;
    p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
    c.input_shape = {1 + repeat % 2, 4 + repeat, 9 - repeat % 5, p.in_channels};
    FillRandomData(rng, &c);
    CheckAddedCase(c, kAddClamps[repeat % 4], repeat % 3 == 1, &rng, threads.pools);
  }
  const GemmKernel* int_row = WinogradLayerRow(2, 2);
  if (int_row == nullptr) return;
  EXPECT_TRUE(winograd_layers_checked - checked_before >= 12);
  ConvCase c;
  ConvGeometry g;
  ASSERT_TRUE(SetThreadsCase(8, 64, 1, 2, 2, &c, &g));
  const GemmKernel& w8a8 = BestGemmKernel(DetectCpuFeatures(), GemmFamily::kInt, 8, 8);
  Conv2DGemm conv(c.params, c.w_codes.data(), *int_row, &w8a8);
  ASSERT_TRUE(conv.runs_winograd());
  const PoolGeometry pool{1, 8, 8, 64, 4, 4, 2, 2, 2, 2, 0, 0};
  EXPECT_TRUE(!conv.PoolOutput(&pool));
  Conv2DGemm direct(c.params, c.w_codes.data(), *int_row);  // the same layer pools
  EXPECT_TRUE(direct.PoolOutput(&pool));
}

// An accumulator for the pool rows: any int32, the ends (INT32_MIN: where a pool starts)
// often.
std::vector<int32_t> RandomAccumulators(std::mt19937& rng, int64_t count) {
  std::vector<int32_t> values;
  for (int64_t i = 0; i < count; ++i) {
    const int pick = std::uniform_int_distribution<int>(0, 7)(rng);
    values.push_back(pick == 0   ? INT32_MIN
                     : pick == 1 ? INT32_MAX
                                 : std::uniform_int_distribution<int32_t>(INT32_MIN,
                                                                          INT32_MAX)(rng));
  }
  return values;
}

// Channel flips of random multiplier signs (AccumulatorFlips).
std::vector<int32_t> RandomFlips(std::mt19937& rng, int64_t channels) {
  std::vector<int32_t> flips;
  for (int64_t c = 0; c < channels; ++c) {
    flips.push_back(std::uniform_int_distribution<int>(0, 1)(rng) ? -1 : 0);
  }
  return flips;
}

// `row` and the scalar FlippedAccumulators on the same random cores, terms and flips, rows
// strided past the channels (whose gaps must stay as they were); buffers end at the last
// channel, so that the sanitized build catches reads and writes past them.
bool FlippedAccumulatorsMatchScalar(FlippedAccumulatorsFn row, std::mt19937& rng,
                                    int64_t channels) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int64_t pixels = uniform(1, 4);
  const int64_t core_stride = channels + uniform(0, 1) * uniform(1, 20);
  const int64_t out_stride = channels + uniform(0, 3);
  const int64_t core_size = (pixels - 1) * core_stride + channels;
  const std::vector<int32_t> core = RandomAccumulators(rng, core_size);
  const std::vector<int32_t> constants = RandomAccumulators(rng, pixels);
  const std::vector<int32_t> channel_terms = RandomAccumulators(rng, core_size);
  std::vector<const int32_t*> term_rows;
  for (int64_t q = 0; q < pixels; ++q) {
    term_rows.push_back(channel_terms.data() + q * core_stride);
  }
  EpilogueTerms terms;
  terms.scale_shift = uniform(0, 1);
  terms.constants = uniform(0, 1) ? constants.data() : nullptr;
  terms.channel_terms = uniform(0, 1) ? term_rows.data() : nullptr;
  const std::vector<int32_t> flips = RandomFlips(rng, channels);
  std::vector<int32_t> expected(static_cast<size_t>((pixels - 1) * out_stride + channels),
                                0x5a5a5a5a);
  std::vector<int32_t> actual = expected;
  FlippedAccumulators(core.data(), core_stride, pixels, channels, terms, flips.data(),
                      expected.data(), out_stride);
  row(core.data(), core_stride, pixels, channels, terms, flips.data(), actual.data(), out_stride);
  return actual == expected;
}

// `row` and the scalar MaxPoolFlippedRow on a random pooled row of `g` (one image), over a
// ring of random flipped accumulators with random flips.
bool MaxPoolFlippedRowMatchesScalar(MaxPoolFlippedRowFn row, const PoolGeometry& g,
                                    std::mt19937& rng) {
  std::vector<std::vector<int32_t>> ring;
  for (int r = 0; r < g.filter_h; ++r) {
    ring.push_back(RandomAccumulators(rng, int64_t{g.in_w} * g.channels));
  }
  std::vector<const int32_t*> rows;
  for (const std::vector<int32_t>& r : ring) rows.push_back(r.data());
  const int64_t pool_row = std::uniform_int_distribution<int>(0, g.out_h - 1)(rng);
  const std::vector<int32_t> flips = RandomFlips(rng, g.channels);
  std::vector<int32_t> expected(static_cast<size_t>(int64_t{g.out_w} * g.channels));
  std::vector<int32_t> actual(expected.size(), 0x5a5a5a5a);
  MaxPoolFlippedRow(g, pool_row, rows.data(), g.channels, flips.data(), expected.data());
  row(g, pool_row, rows.data(), g.channels, flips.data(), actual.data());
  return actual == expected;
}

// The pool rows BestPoolKernels picks equal the scalar ones (the specification) on every
// channel count up to 70 (16-channel vectors, their tails, the max pool's 64-channel
// blocks), random terms, flips and pool geometries.
BITLITE_TEST(PoolRowsMatchScalar) {
  const CpuFeatures& cpu = DetectCpuFeatures();
  const PoolKernels best = BestPoolKernels(cpu);
#if BITLITE_X86_KERNELS
  // Where AVX-512 runs, its rows are the ones picked (else nothing below would be compared).
  EXPECT_EQ(best.flipped_accumulators == &FlippedAccumulatorsAvx512, cpu.avx512bw);
  EXPECT_EQ(best.max_pool_flipped_row == &MaxPoolFlippedRowAvx512, cpu.avx512bw);
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
  EXPECT_EQ(best.flipped_accumulators == &FlippedAccumulatorsNeon, cpu.neon);
  EXPECT_EQ(best.max_pool_flipped_row == &MaxPoolFlippedRowNeon, cpu.neon);
#endif
  // Without a SIMD row (x86 without AVX-512, armv7) the rows picked are the scalar ones: with
  // no other row to compare them with, they are checked only against the reference
  // (PooledOutputMatchesReferenceThenMaxPool).
  if (best.flipped_accumulators == &FlippedAccumulators &&
      best.max_pool_flipped_row == &MaxPoolFlippedRow) {
    return;
  }
  std::mt19937 rng(70);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int pooled = 0;
  for (int channels = 1; channels <= 70; ++channels) {
    for (int repeat = 0; repeat < 8; ++repeat) {
      if (!FlippedAccumulatorsMatchScalar(best.flipped_accumulators, rng, channels)) {
        ReportFailure(__FILE__, __LINE__,
                      "flipped accumulators differ, channels " + std::to_string(channels));
        return;
      }
      PoolGeometry g;
      std::string error;
      const std::vector<int> shape = {1, uniform(1, 7), uniform(1, 9), channels};
      if (!ComputePoolGeometry(RandomPoolWindow(rng), shape, &g, &error)) continue;
      ++pooled;
      if (!MaxPoolFlippedRowMatchesScalar(best.max_pool_flipped_row, g, rng)) {
        ReportFailure(__FILE__, __LINE__,
                      "max pool row differs, channels " + std::to_string(channels) + " input " +
                          ShapeToString(shape) + " pool " + std::to_string(g.filter_h) + "x" +
                          std::to_string(g.filter_w) + " stride " + std::to_string(g.stride_h) +
                          "x" + std::to_string(g.stride_w));
        return;
      }
    }
  }
  EXPECT_TRUE(pooled > 70 * 8 / 2);
}

// The entry points of `kernel` for activation_bits (W8A8 at 8, else 1 weight bit), or for
// W8A8 where the row takes only that: its packing and output stage serve every grid.
GemmFunctions FunctionsFor(const GemmKernel& kernel, int activation_bits, bool is_signed) {
  const bool w8a8 = activation_bits == 8 || !kernel.Takes(1, activation_bits);
  return w8a8 ? kernel.functions(8, 8, is_signed)
              : kernel.functions(1, activation_bits, is_signed);
}

// Every ISA's activation packing (bit planes or bytes, u8 or s8) equals the scalar one on
// edge values and odd channel counts; byte packers on every grid, W8A8's included; and so
// does its packing of the same values' codes, where it has one.
BITLITE_TEST(ActivationPackingMatchesScalar) {
  std::mt19937 rng(3);
  for (int bits : {1, 2, 3, 4, 8}) {
    for (bool is_signed : {false, true}) {
      for (int channels : {1, 3, 8, 15, 16, 17, 24, 31, 33, 63, 64, 65, 127, 128, 129, 200}) {
        OpParams p;
        p.activation_bits = bits;
        p.activation_signed = is_signed;
        p.input_scale = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
        const ActivationGrid grid = MakeActivationGrid(p);
        // Rows with and without a gap after the channels (x_stride > channels).
        for (int stride : {channels, channels + 1 + channels % 3}) {
          const int pixels = 5;
          std::vector<float> x;
          for (int i = 0; i < pixels * stride; ++i) x.push_back(EdgeValue(rng, p.input_scale));
          for (const GemmKernel* kernel : Kernels()) {
            if (bits == 8 && !kernel->bytes()) continue;  // bit planes stop at 4 bits
            const GemmFunctions functions = FunctionsFor(*kernel, bits, is_signed);
            const PlaneGrid planes = ActivationPlaneGrid(bits, is_signed, kernel->bytes(),
                                                         functions.signed_activation_bytes);
            const size_t words = static_cast<size_t>(
                pixels * planes.Planes() * WordsPerTap(channels, planes.CodeBits()));
            std::vector<uint64_t> expected(words), actual(words, ~uint64_t{0});
            std::vector<int32_t> expected_sums(pixels), actual_sums(pixels);
            const ActivationPacking packing = MakeActivationPacking(grid, planes);
            PackActivationsScalar(x.data(), stride, pixels, channels, packing, expected.data(),
                                  expected_sums.data());
            functions.pack(x.data(), stride, pixels, channels, packing, actual.data(),
                           actual_sums.data());
            if (actual != expected || actual_sums != expected_sums) {
              ReportFailure(__FILE__, __LINE__,
                            std::string(kernel->name) + " packing, bits " + std::to_string(bits) +
                                " channels " + std::to_string(channels) + " stride " +
                                std::to_string(stride));
            }
            // The same words and sums from the codes (FORMAT.md "Codes between ops").
            if (functions.pack_codes == nullptr || !CodesFitInt8(grid)) continue;
            const std::vector<int8_t> codes = ReferenceCodes(x, packing);
            std::fill(actual.begin(), actual.end(), ~uint64_t{0});
            std::fill(actual_sums.begin(), actual_sums.end(), -1);
            functions.pack_codes(codes.data(), stride, pixels, channels, planes, actual.data(),
                                 actual_sums.data());
            if (actual != expected || actual_sums != expected_sums) {
              ReportFailure(__FILE__, __LINE__,
                            std::string(kernel->name) + " packing codes, bits " +
                                std::to_string(bits) + " channels " + std::to_string(channels) +
                                " stride " + std::to_string(stride));
            }
          }
        }
      }
    }
  }
}

// Grids of each kind the codes epilogues quantize to: binary, with thresholds (up to 3
// bits, both signs), by division (4 bits, signed 8 bits); steps 0.5 and 0.25 so that the
// epilogue test's ties land on them.
std::vector<ActivationPacking> CodeGridsOfEveryKind() {
  std::vector<ActivationPacking> grids;
  for (int bits : {1, 2, 3, 4, 8}) {
    for (bool is_signed : {false, true}) {
      if (bits == 8 && !is_signed) continue;  // codes up to 255: never kept as int8 codes
      OpParams p;
      p.activation_bits = bits;
      p.activation_signed = is_signed;
      p.input_scale = bits % 2 == 0 ? 0.5f : 0.25f;
      grids.push_back(MakeActivationPacking(MakeActivationGrid(p),
                                            ActivationPlaneGrid(bits, is_signed, false)));
    }
  }
  return grids;
}

// A fused ADD's output stage (`add`) against its specification: the scalar epilogue's outputs
// `expected` (`pixels` rows of `y_stride`), the glue's ADD of them and a residual of special
// values (RandomResidual) under every clamp and operand order, and the sums' codes of every
// grid kind, or none. The gaps between rows keep their sentinels. Returns what differs, or "".
std::string CheckEpilogueAdd(EpilogueAddFn add, const int32_t* core, int core_stride,
                             int pixels, int channels, const EpilogueTerms& terms,
                             const float* multiplier, const float* offset, Activation act,
                             const std::vector<float>& expected, int y_stride,
                             std::mt19937& rng) {
  const std::vector<float> residual = RandomResidual(rng, expected);
  std::vector<const ActivationPacking*> side_grids = {nullptr};
  const std::vector<ActivationPacking> grids = CodeGridsOfEveryKind();
  for (const ActivationPacking& grid : grids) side_grids.push_back(&grid);
  for (const glue::Clamp& clamp : kAddClamps) {
    for (bool residual_first : {false, true}) {
      std::vector<float> want(expected.size(), 7.0f);
      glue::BinaryGeometry row;
      row.size = channels;
      for (int q = 0; q < pixels; ++q) {
        const float* y = expected.data() + q * y_stride;
        const float* r = residual.data() + q * y_stride;
        glue::Binary(glue::BinaryOp::kAdd, row, residual_first ? r : y, residual_first ? y : r,
                     want.data() + q * y_stride, clamp);
      }
      for (const ActivationPacking* grid : side_grids) {
        std::vector<float> sums(expected.size(), 7.0f);
        std::vector<int8_t> codes(expected.size(), 99);
        EpilogueResidual fused;
        fused.residual = residual.data();
        fused.residual_first = residual_first;
        fused.low = clamp.low;
        fused.high = clamp.high;
        fused.side_grid = grid;
        fused.side_codes = grid != nullptr ? codes.data() : nullptr;
        add(core, core_stride, pixels, channels, terms, multiplier, offset, act, fused,
            sums.data(), y_stride);
        std::string what;
        if (!BitwiseEqual(sums, want)) what = "sums";
        if (grid != nullptr) {
          std::vector<int8_t> want_codes = ReferenceCodes(want, *grid);
          for (int q = 0; q < pixels; ++q) {
            for (int c = channels; c < y_stride; ++c) want_codes[q * y_stride + c] = 99;
          }
          if (codes != want_codes) what += " side codes";
        }
        if (!what.empty()) {
          return what + ", clamp [" + std::to_string(clamp.low) + ", " +
                 std::to_string(clamp.high) + "]" + (residual_first ? ", residual first" : "") +
                 (grid != nullptr ? ", grid of " + std::to_string(grid->grid.range.max -
                                                                    grid->grid.range.min) +
                                        " steps"
                                  : "");
        }
      }
    }
  }
  return "";
}

// Every ISA's output epilogue equals the scalar one (integer terms, then the reference
// output stage) bit for bit: channel counts around the vector widths, with and without
// per-channel terms, every shift, wrapping sums, and outputs that are NaN, infinite, -0.0,
// denormal or at the activations' edges; and so do its codes epilogue's codes, where it has
// one, on every grid kind, and its fused ADD's sums and side codes (CheckEpilogueAdd).
BITLITE_TEST(OutputEpilogueMatchesScalar) {
  std::mt19937 rng(5);
  auto pick_float = [&]() {
    // With the binary grid's boundary and ties of the code grids below (steps 0.5, 0.25).
    const float special[] = {NAN,      INFINITY, -INFINITY, 0.0f,  -0.0f,
                             FLT_MIN,  std::numeric_limits<float>::denorm_min(), -1e-40f,
                             6.0f,     1e30f,    -FLT_MIN, std::nextafter(-FLT_MIN, 0.0f),
                             0.25f,    0.75f,    -0.125f,  1.375f, -0.375f, 3.75f};
    constexpr int kSpecial = sizeof(special) / sizeof(special[0]);
    const int k = std::uniform_int_distribution<int>(0, 2 * kSpecial - 1)(rng);
    return k < kSpecial ? special[k] : std::normal_distribution<float>(0.0f, 3.0f)(rng);
  };
  auto pick_int = [&]() { return std::uniform_int_distribution<int32_t>(INT32_MIN, INT32_MAX)(rng); };
  constexpr int kPixels = 3;
  for (int channels : {1, 3, 4, 7, 8, 15, 16, 17, 33, 64, 100}) {
    // Rows wider than the channels, as the driver's core and output blocks are.
    const int core_stride = channels + 5, y_stride = channels + 3;
    for (const Activation act : EveryActivation()) {
      for (bool with_terms : {false, true}) {
        std::vector<int32_t> core, constants, channel_terms;
        std::vector<float> multiplier, offset;
        for (int i = 0; i < kPixels * core_stride; ++i) {
          core.push_back(pick_int() >> std::uniform_int_distribution<int>(0, 31)(rng));
          channel_terms.push_back(pick_int());
        }
        for (int q = 0; q < kPixels; ++q) constants.push_back(pick_int());
        for (int c = 0; c < channels; ++c) {
          multiplier.push_back(pick_float());
          offset.push_back(pick_float());
        }
        std::vector<const int32_t*> term_rows;
        for (int q = 0; q < kPixels; ++q) term_rows.push_back(channel_terms.data() + q * core_stride);
        EpilogueTerms terms;
        terms.scale_shift = std::uniform_int_distribution<int>(0, 2)(rng);
        terms.constants = constants.data();
        terms.channel_terms = with_terms ? term_rows.data() : nullptr;
        std::vector<int32_t> acc(static_cast<size_t>(channels));
        // The reference codes of outputs y; the gaps between rows stay as they were (99).
        auto want_codes = [&](const std::vector<float>& y, const ActivationPacking& grid) {
          std::vector<int8_t> want = ReferenceCodes(y, grid);
          for (int q = 0; q < kPixels; ++q) {
            for (int c = channels; c < y_stride; ++c) {
              want[static_cast<size_t>(q * y_stride + c)] = 99;
            }
          }
          return want;
        };
        std::vector<float> expected(static_cast<size_t>(kPixels * y_stride), 1.0f);
        OutputEpilogueScalar(core.data(), core_stride, kPixels, channels, terms, multiplier.data(),
                             offset.data(), act, acc.data(), expected.data(), y_stride);
        for (const GemmKernel* kernel : Kernels()) {
          const GemmFunctions functions = FunctionsFor(*kernel, 1, false);
          std::vector<float> actual(static_cast<size_t>(kPixels * y_stride), 1.0f);
          functions.epilogue(core.data(), core_stride, kPixels, channels, terms, multiplier.data(),
                             offset.data(), act, acc.data(), actual.data(), y_stride);
          if (!BitwiseEqual(actual, expected)) {
            ReportFailure(__FILE__, __LINE__,
                          std::string(kernel->name) + " epilogue, channels " +
                              std::to_string(channels) + " activation " +
                              DescribeActivation(act));
          }
          if (functions.epilogue_add != nullptr) {
            const std::string differs = CheckEpilogueAdd(
                functions.epilogue_add, core.data(), core_stride, kPixels, channels, terms,
                multiplier.data(), offset.data(), act, expected, y_stride, rng);
            if (!differs.empty()) {
              ReportFailure(__FILE__, __LINE__,
                            std::string(kernel->name) + " fused ADD epilogue, channels " +
                                std::to_string(channels) + " activation " +
                                DescribeActivation(act) + ": " + differs);
            }
          }
          if (functions.epilogue_codes == nullptr) continue;
          // The codes of the same outputs on every grid kind (sign test, thresholds, division).
          for (const ActivationPacking& grid : CodeGridsOfEveryKind()) {
            std::vector<int8_t> codes(static_cast<size_t>(kPixels * y_stride), 99);
            functions.epilogue_codes(core.data(), core_stride, kPixels, channels, terms,
                                     multiplier.data(), offset.data(), act, grid,
                                     CodeThresholdsView(), codes.data(), y_stride);
            if (codes != want_codes(expected, grid)) {
              ReportFailure(__FILE__, __LINE__,
                            std::string(kernel->name) + " codes epilogue, channels " +
                                std::to_string(channels) + " activation " +
                                DescribeActivation(act) + " bits " +
                                std::to_string(grid.grid.range.max - grid.grid.range.min));
            }
          }
          // The same with the output stage folded into integer compares, which need finite
          // terms (the special values above but NaN and the infinities). Pixels 0 and 1 put
          // every channel's accumulator at one of its bounds and one past it.
          std::vector<float> finite_multiplier = multiplier, finite_offset = offset;
          for (int c = 0; c < channels; ++c) {
            if (!std::isfinite(finite_multiplier[c])) finite_multiplier[c] = -0.75f;
            if (!std::isfinite(finite_offset[c])) finite_offset[c] = 1.5f;
          }
          for (const ActivationPacking& grid : CodeGridsOfEveryKind()) {
            CodeThresholds thresholds;
            thresholds.Fold(&grid, finite_multiplier.data(), finite_offset.data(), channels, act,
                            INT32_MAX);
            const CodeThresholdsView t = thresholds.View(&grid, 0);
            EXPECT_EQ(thresholds.View(nullptr, 0).count, 0);
            const int steps = grid.grid.is_binary ? 1 : grid.grid.range.max - grid.grid.range.min;
            EXPECT_EQ(t.count, steps <= 7 ? steps : 0);
            EpilogueTerms unscaled = terms;
            unscaled.scale_shift = 0;
            std::vector<int32_t> at_bounds = core;
            for (int q = 0; q < 2 && t.count > 0; ++q) {
              for (int c = 0; c < channels; ++c) {
                const uint32_t bound = static_cast<uint32_t>(
                    t.bounds[(c % t.count) * t.stride + c] ^ t.flip[c]);
                const uint32_t term =
                    with_terms ? static_cast<uint32_t>(channel_terms[q * core_stride + c]) : 0u;
                // Wrapping as the epilogue does: acc = core + constant + term.
                at_bounds[static_cast<size_t>(q * core_stride + c)] = static_cast<int32_t>(
                    bound + static_cast<uint32_t>(q) - static_cast<uint32_t>(constants[q]) - term);
              }
            }
            std::vector<float> finite_expected(static_cast<size_t>(kPixels * y_stride), 1.0f);
            OutputEpilogueScalar(at_bounds.data(), core_stride, kPixels, channels, unscaled,
                                 finite_multiplier.data(), finite_offset.data(), act, acc.data(),
                                 finite_expected.data(), y_stride);
            std::vector<int8_t> codes(static_cast<size_t>(kPixels * y_stride), 99);
            functions.epilogue_codes(at_bounds.data(), core_stride, kPixels, channels, unscaled,
                                     finite_multiplier.data(), finite_offset.data(), act, grid,
                                     t, codes.data(), y_stride);
            if (codes != want_codes(finite_expected, grid)) {
              ReportFailure(__FILE__, __LINE__,
                            std::string(kernel->name) + " threshold codes epilogue, channels " +
                                std::to_string(channels) + " activation " +
                                DescribeActivation(act) + " steps " + std::to_string(steps));
            }
          }
        }
      }
    }
  }
}

// CodeThresholds gives the reference code (output stage, then ActivationCode) for every
// accumulator the layer can reach (|acc| <= max_accumulator): at each bound and one past it,
// at both ends of the range and at random ones, for multipliers of both signs, zero,
// denormal and large enough to overflow to infinity; within int16 (narrow) its bounds too.
BITLITE_TEST(CodeThresholdsGiveTheReferenceCodes) {
  std::mt19937 rng(8);
  const float multipliers[] = {0.37f, -0.37f, 0.0f, -0.0f, 1e-42f, -3e-39f, 1e30f, -1e30f,
                               2.0f, 1.0f / 3.0f, 3e-4f, -2e-3f};
  for (const int64_t max_accumulator : {int64_t{INT32_MAX}, int64_t{32768}, int64_t{32767},
                                        int64_t{1000}, int64_t{1}}) {
    for (const ActivationPacking& grid : CodeGridsOfEveryKind()) {
      for (const Activation act : EveryActivation()) {
        std::vector<float> multiplier, offset;
        for (float m : multipliers) {
          for (float o : {0.0f, -0.0f, 0.3f, -1.25f, 7.0f}) {
            multiplier.push_back(m * (std::uniform_real_distribution<float>(0.5f, 2.0f)(rng)));
            offset.push_back(o);
          }
        }
        const int64_t channels = static_cast<int64_t>(multiplier.size());
        CodeThresholds folded;
        folded.Fold(&grid, multiplier.data(), offset.data(), channels, act, max_accumulator);
        const CodeThresholdsView t = folded.View(&grid, 0);
        if (t.count == 0) continue;  // 4 and 8 bits: not folded (checked in the epilogue test)
        EXPECT_TRUE(t.narrow == (max_accumulator <= 32767));
        const int64_t a = max_accumulator;
        for (int64_t c = 0; c < channels; ++c) {
          std::vector<int64_t> accs = {-a, a, -a + 1, a - 1, 0, -1, 1};
          for (int j = 0; j < t.count; ++j) {
            const int32_t bound = t.bounds[j * t.stride + c];
            if (t.narrow && bound != INT32_MAX) EXPECT_TRUE(bound >= -32768 && bound <= 32766);
            const int64_t at = bound ^ t.flip[c];  // as an accumulator
            for (int64_t d : {-1, 0, 1}) accs.push_back(at + d);
          }
          for (int i = 0; i < 20; ++i) {
            accs.push_back(std::uniform_int_distribution<int64_t>(-a, a)(rng));
          }
          for (int64_t value : accs) {
            if (value < -a || value > a) continue;
            const int32_t acc = static_cast<int32_t>(value);
            float y = 0.0f;
            OutputStageReference(&acc, 1, &multiplier[c], &offset[c], act, &y);
            int code = t.base[c];
            for (int j = 0; j < t.count; ++j) {
              if ((acc ^ t.flip[c]) > t.bounds[j * t.stride + c]) code += t.step;
            }
            if (code != ActivationCode(y, grid.grid)) {
              ReportFailure(__FILE__, __LINE__,
                            "channel " + std::to_string(c) + " acc " + std::to_string(acc) +
                                " of at most " + std::to_string(a) + " activation " +
                                DescribeActivation(act));
              return;
            }
          }
        }
      }
    }
  }
}

// Every codes epilogue on thresholds folded for accumulators within int16 (the NEON rows
// then compare 16-bit lanes) and just past it: the reference codes for accumulators across
// the whole range, at its ends and at every bound, with and without channel terms and shifts.
BITLITE_TEST(ThresholdCodesMatchTheReferenceWithinTheAccumulatorRange) {
  std::mt19937 rng(21);
  constexpr int kPixels = 24;
  for (const int64_t max_accumulator : {int64_t{32767}, int64_t{40000}, int64_t{700}}) {
    const int32_t a = static_cast<int32_t>(max_accumulator);
    for (int channels : {5, 8, 13, 16, 37}) {
      const int core_stride = channels + 3, y_stride = channels + 1;
      for (bool with_terms : {false, true}) {
        for (const ActivationPacking& grid : CodeGridsOfEveryKind()) {
          std::vector<float> multiplier, offset;
          for (int c = 0; c < channels; ++c) {
            // About one code step per few hundred accumulator units, of both signs.
            const float m = std::uniform_real_distribution<float>(1e-3f, 2e-2f)(rng);
            multiplier.push_back(c % 3 == 1 ? -m : m);
            offset.push_back(std::uniform_real_distribution<float>(-2.0f, 4.0f)(rng));
          }
          const Activation act = EveryActivation()[channels % EveryActivation().size()];
          CodeThresholds folded;
          folded.Fold(&grid, multiplier.data(), offset.data(), channels, act, max_accumulator);
          const CodeThresholdsView t = folded.View(&grid, 0);
          if (t.count == 0) continue;
          // The wanted accumulators: random, the range's ends, each channel's bounds and one
          // past them where in range; then core = acc - constant - term (shift 0), or with
          // a shift, accumulators of the form (core << shift) + constant + term.
          const int shift = with_terms ? 1 : 0;
          std::vector<int32_t> core(static_cast<size_t>(kPixels * core_stride), 0);
          std::vector<int32_t> constants(kPixels), channel_terms(core.size(), 0);
          std::vector<int32_t> wanted(core.size(), 0);
          for (int q = 0; q < kPixels; ++q) {
            constants[static_cast<size_t>(q)] =
                std::uniform_int_distribution<int32_t>(-a / 4, a / 4)(rng);
            for (int c = 0; c < channels; ++c) {
              const size_t i = static_cast<size_t>(q * core_stride + c);
              int64_t acc = std::uniform_int_distribution<int32_t>(-a, a)(rng);
              if (q < 2) acc = q == 0 ? -a : a;
              if (q >= 2 && q < 2 + 2 * t.count) {
                const int j = (q - 2) / 2;
                acc = int64_t{t.bounds[j * t.stride + c] ^ t.flip[c]} + (q - 2) % 2;
                if (acc < -a || acc > a) acc = 0;
              }
              if (with_terms) {
                channel_terms[i] = std::uniform_int_distribution<int32_t>(-a / 4, a / 4)(rng);
              }
              int64_t rest = acc - constants[static_cast<size_t>(q)] - channel_terms[i];
              if (rest % 2 != 0 && shift == 1) {  // (core << 1) is even: move 1 into the term
                channel_terms[i] += 1;
                rest -= 1;
              }
              core[i] = static_cast<int32_t>(rest >> shift);
              wanted[i] = static_cast<int32_t>(acc);
            }
          }
          std::vector<const int32_t*> term_rows;
          for (int q = 0; q < kPixels; ++q) {
            term_rows.push_back(channel_terms.data() + q * core_stride);
          }
          EpilogueTerms terms;
          terms.scale_shift = shift;
          terms.constants = constants.data();
          terms.channel_terms = with_terms ? term_rows.data() : nullptr;
          std::vector<float> y(static_cast<size_t>(kPixels * y_stride), 0.0f);
          std::vector<int32_t> scratch(static_cast<size_t>(channels));
          EpilogueTerms plain;
          OutputEpilogueScalar(wanted.data(), core_stride, kPixels, channels, plain,
                               multiplier.data(), offset.data(), act, scratch.data(), y.data(),
                               y_stride);
          std::vector<int8_t> want = ReferenceCodes(y, grid);
          for (int q = 0; q < kPixels; ++q) {
            for (int c = channels; c < y_stride; ++c) {
              want[static_cast<size_t>(q * y_stride + c)] = 99;
            }
          }
          for (const GemmKernel* kernel : Kernels()) {
            const GemmFunctions functions = FunctionsFor(*kernel, 1, false);
            if (functions.epilogue_codes == nullptr) continue;
            std::vector<int8_t> codes(static_cast<size_t>(kPixels * y_stride), 99);
            functions.epilogue_codes(core.data(), core_stride, kPixels, channels, terms,
                                     multiplier.data(), offset.data(), act, grid, t,
                                     codes.data(), y_stride);
            if (codes != want) {
              ReportFailure(__FILE__, __LINE__,
                            std::string(kernel->name) + " channels " + std::to_string(channels) +
                                " range " + std::to_string(a) + " terms " +
                                std::to_string(with_terms) + " steps " + std::to_string(t.count));
            }
          }
        }
      }
    }
  }
}

// The int8 kernels' weights stay packed: 4 bits per code in memory, in the nibble layout of
// bitserial_planes.h, each nibble FORMAT.md's stored code u; W8A8's one int8 byte per code,
// in the byte layout (the nibble layout's two halves side by side). 0 past the real codes.
BITLITE_TEST(Int8WeightsArePackedAsNibblesOrBytesOfTheCodes) {
  std::mt19937 rng(5);
  for (int bits : {1, 2, 3, 4, 8}) {
    const CodeRange range = WeightCodeRange(bits);
    const bool bytes = bits == 8;
    for (int lanes : {2, 8}) {
      for (int64_t out_c : {1, 5, 16, 17}) {
        for (int64_t in_c : {1, 7, 8, 9, 20}) {
          const int64_t taps = 3;
          std::vector<int8_t> codes;
          for (int64_t i = 0; i < out_c * taps * in_c; ++i) {
            int code = std::uniform_int_distribution<int>(range.min, range.max)(rng);
            if (bits == 1 && code == 0) code = 1;
            codes.push_back(static_cast<int8_t>(code));
          }
          BitserialWeights w;
          PackBitserialWeights(out_c, taps, in_c, codes.data(), WeightPlaneGrid(bits, true),
                               lanes, false, &w);
          const int64_t words_per_tap = (in_c + 7) / 8;
          EXPECT_TRUE(w.grid.nibbles != bytes && w.grid.bytes == bytes);
          EXPECT_EQ(w.words_per_plane, taps * words_per_tap);
          EXPECT_EQ(static_cast<int64_t>(w.planes.size()) * (bytes ? 8 : 16),
                    w.channels * w.words_per_plane * 8);
          const uint8_t* stored = reinterpret_cast<const uint8_t*>(w.planes.data());
          for (int64_t c = 0; c < w.channels; ++c) {
            const int half = c % (2 * lanes) < lanes ? 0 : 1;
            for (int64_t k = 0; k < w.words_per_plane; ++k) {
              for (int64_t j = 0; j < 8; ++j) {
                const int64_t block = (c / (2 * lanes) * w.words_per_plane + k) * (bytes ? 2 : 1) +
                                      (bytes ? half : 0);
                const uint8_t byte = stored[(block * lanes + c % lanes) * 8 + j];
                const int value = bytes ? static_cast<int8_t>(byte) : (byte >> (4 * half)) & 0xf;
                const int64_t t = k / words_per_tap, ci = k % words_per_tap * 8 + j;
                int expected = 0;
                if (c < out_c && ci < in_c) {
                  const int q = codes[static_cast<size_t>((c * taps + t) * in_c + ci)];
                  expected = bytes ? q : bits == 1 ? (q + 1) / 2 : q + (1 << (bits - 1));
                }
                if (value != expected) {
                  ReportFailure(__FILE__, __LINE__, "code of channel " + std::to_string(c) +
                                                        " word " + std::to_string(k) + " code " +
                                                        std::to_string(j) + " bits " +
                                                        std::to_string(bits));
                  return;
                }
              }
            }
          }
        }
      }
    }
  }
}

// ActivationPacking's thresholds decide codes exactly like ActivationCode, right at and
// next to every threshold, for steps from the smallest normal float to huge ones; where a
// threshold would be denormal (tiny steps) there are none and the packers divide.
BITLITE_TEST(ActivationThresholdsMatchActivationCode) {
  std::mt19937 rng(5);
  for (int bits = 1; bits <= 3; ++bits) {
    for (bool is_signed : {false, true}) {
      if (is_signed && bits == 1) continue;  // the binary grid has its own compare
      for (float scale : {FLT_MIN, 1.5f * FLT_MIN, 1e-30f, 0.07f, 1.0f, 3.3f, 1e30f, 1e38f}) {
        OpParams p;
        p.activation_bits = bits;
        p.activation_signed = is_signed;
        p.input_scale = scale;
        const ActivationGrid grid = MakeActivationGrid(p);
        const ActivationPacking packing =
            MakeActivationPacking(grid, ActivationPlaneGrid(bits, is_signed, false));
        if (packing.threshold_count == 0) {
          EXPECT_TRUE(scale < 4 * FLT_MIN);  // only where a threshold is denormal
          continue;
        }
        EXPECT_EQ(packing.threshold_count, grid.range.max - grid.range.min);
        std::vector<float> probes = {0.0f, -0.0f, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX};
        for (int i = 0; i < packing.threshold_count; ++i) {
          const float t = packing.thresholds[i];
          probes.insert(probes.end(),
                        {t, std::nextafter(t, -INFINITY), std::nextafter(t, INFINITY)});
        }
        for (int i = 0; i < 200; ++i) {
          probes.push_back(std::uniform_real_distribution<float>(-8.0f, 8.0f)(rng) * scale);
        }
        for (const float x : probes) {
          int reached = 0;
          for (int i = 0; i < packing.threshold_count; ++i) reached += x >= packing.thresholds[i];
          EXPECT_EQ(grid.range.min + reached, ActivationCode(x, grid));
        }
      }
    }
  }
}

BITLITE_TEST(ValidTapsMatchesBruteForce) {
  for (int64_t in = 1; in <= 7; ++in) {
    for (int64_t kernel = 1; kernel <= 4; ++kernel) {
      for (int64_t stride = 1; stride <= 3; ++stride) {
        for (int64_t dilation = 1; dilation <= 3; ++dilation) {
          for (int64_t pad = 0; pad <= 4; ++pad) {
            for (int64_t out = 0; out < 6; ++out) {
              const TapRange range = ValidTaps(out, stride, pad, dilation, kernel, in);
              for (int64_t t = 0; t < kernel; ++t) {
                const int64_t i = out * stride - pad + t * dilation;
                EXPECT_EQ(i >= 0 && i < in, t >= range.lo && t < range.hi);
              }
            }
          }
        }
      }
    }
  }
}

// FindLiveTaps (one range per axis, in O(1)) against reading every tap of every output, on
// SAME and VALID geometries with strides up to beyond the input.
BITLITE_TEST(LiveTapsMatchBruteForce) {
  OpParams p;
  p.kind = OpKind::kConv2D;
  p.in_channels = p.out_channels = 1;
  for (int in = 1; in <= 8; ++in) {
    for (int kernel = 1; kernel <= 5; ++kernel) {
      for (int stride = 1; stride <= 10; ++stride) {
        for (int dilation = 1; dilation <= 4; ++dilation) {
          for (Padding padding : {Padding::kSame, Padding::kValid}) {
            p.kernel_h = kernel;
            p.stride_h = stride;
            p.dilation_h = dilation;
            p.padding = padding;
            ConvGeometry g;
            std::vector<int> output_shape;
            std::string error;
            if (!ComputeGeometry(p, {1, in, 1, 1}, &g, &output_shape, &error)) continue;
            const TapRange live = FindLiveTaps(g).rows;
            for (int64_t t = 0; t < kernel; ++t) {
              bool reads_input = false;
              for (int64_t o = 0; o < g.out_h; ++o) {
                const int64_t i = o * stride - g.pad_top + t * dilation;
                reads_input = reads_input || (i >= 0 && i < in);
              }
              EXPECT_EQ(reads_input, t >= live.lo && t < live.hi);
            }
          }
        }
      }
    }
  }
}

// A layer prepared for `threads`: how many Run takes (ThreadsForWork's default bound).
int GemmThreads(int size, int channels, int weight_bits, int activation_bits, int threads) {
  ConvCase c;
  ConvGeometry g;
  if (!SetThreadsCase(size, channels, 1, weight_bits, activation_bits, &c, &g)) return -1;
  Conv2DGemm conv(c.params, c.w_codes.data(),
                  AutoGemmKernel(DetectCpuFeatures(), weight_bits, activation_bits, 64));
  std::string error;
  return conv.Prepare(g, threads, kSmallScratchLimit, &error) ? conv.threads() : -1;
}

BITLITE_TEST(SmallLayersTakeOneThreadAndLargeOnesAll) {
  // ResNet-20's first stage at W1A1 (32x32, 16 channels: 18 us on one AVX-512 core), where
  // two threads gained nothing, and smaller layers stay on one thread. (At W2A2 the stage
  // counts 2^17-2^18 word operations, on one thread or two by kernel row: UDOT's bytes make
  // more words than the folded bit planes.)
  EXPECT_EQ(GemmThreads(32, 16, 1, 1, 4), 1);
  EXPECT_EQ(GemmThreads(16, 16, 2, 2, 4), 1);
  EXPECT_EQ(GemmThreads(8, 32, 2, 2, 4), 1);
  // CIFAR ResNet-18's first stage at W1A1 (64 channels, 55 us: 4 x 2^17 words) shares
  // between up to four threads (thread_pool.h), and a layer of a quarter of its work
  // (8x8 pixels, 2^17 words) stays on one.
  EXPECT_EQ(GemmThreads(32, 64, 1, 1, 4), 4);
  EXPECT_EQ(GemmThreads(16, 64, 1, 1, 4), 1);
  // CIFAR ResNet-18's first stage at W2A2 (32x32, 64 channels, 160 us) takes every thread.
  EXPECT_EQ(GemmThreads(32, 64, 2, 2, 4), 4);
  EXPECT_EQ(GemmThreads(32, 64, 2, 2, 2), 2);
  EXPECT_EQ(GemmThreads(32, 64, 2, 2, 1), 1);
}

BITLITE_TEST(ThreadPoolRunsEveryUnitOnceOnValidWorkers) {
  ThreadPool pool;
  for (int threads : {1, 2, 3, 4, 2, 1}) {
    pool.Resize(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t units : {0, 1, 5, 100}) {
      std::vector<int> runs(static_cast<size_t>(units), 0);
      bool workers_ok = true;
      auto task = [&](int64_t unit, int worker) {
        ++runs[static_cast<size_t>(unit)];
        if (worker < 0 || worker >= threads) workers_ok = false;
      };
      for (int repeat = 0; repeat < 20; ++repeat) pool.ParallelFor(units, task);
      EXPECT_TRUE(workers_ok);
      for (int count : runs) EXPECT_EQ(count, 20);
    }
  }
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
