// Every bitserial, int8 and LUT kernel x ISA this CPU runs against the reference kernel, bit
// for bit: all 16 weight x activation widths on both activation grids, random shapes with
// channel counts around the 64-bit word, tails in every dimension, strides, dilations,
// SAME/VALID, batches, and 1, 2 and 3 threads giving identical outputs.
#include "kernels/conv2d_bitserial.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/activation_pack.h"
#include "kernels/conv2d_reference.h"
#include "kernels/cpu_features.h"
#include "op_geometry.h"
#include "test_harness.h"
#include "threading/thread_pool.h"

namespace bitlite {
namespace testing {
namespace {

std::vector<BitserialIsa> Isas() { return SupportedIsas(DetectCpuFeatures()); }

// Quantization edge cases: exact ties, clipping, zeros of both signs, denormals, non-finite.
float EdgeValue(std::mt19937& rng, float scale) {
  std::uniform_int_distribution<int> pick(0, 9);
  std::uniform_int_distribution<int> half_steps(-20, 20);
  switch (pick(rng)) {
    case 0:
      return NAN;
    case 1:
      return std::uniform_int_distribution<int>(0, 1)(rng) ? INFINITY : -INFINITY;
    case 2:
      return std::uniform_int_distribution<int>(0, 1)(rng) ? 0.0f : -0.0f;
    case 3:
      return std::numeric_limits<float>::denorm_min() * half_steps(rng);
    case 4:
    case 5:
      return half_steps(rng) * 0.5f * scale;
    default:
      return std::uniform_real_distribution<float>(-12.0f, 12.0f)(rng) * scale;
  }
}

struct Case {
  OpParams params;
  std::vector<int> input_shape;
  std::vector<float> x;
  std::vector<int8_t> w_codes;
};

Case RandomCase(std::mt19937& rng, int weight_bits, int activation_bits, bool is_signed) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Case c;
  OpParams& p = c.params;
  const bool conv = uniform(0, 3) != 0;
  p.kind = conv ? OpKind::kConv2D : OpKind::kFullyConnected;
  p.weight_bits = weight_bits;
  p.activation_bits = activation_bits;
  p.activation_signed = is_signed;
  p.input_scale = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
  // Channel counts below, at and across 64-bit word boundaries.
  const int channel_choices[] = {1, 3, 7, 31, 63, 64, 65, 100, 128, 130};
  p.in_channels = channel_choices[uniform(0, 9)];
  p.out_channels = uniform(1, 21);
  if (conv) {
    p.kernel_h = uniform(1, 3);
    p.kernel_w = uniform(1, 3);
    p.stride_h = uniform(1, 2);
    p.stride_w = uniform(1, 3);
    p.dilation_h = uniform(1, 2);
    p.dilation_w = uniform(1, 2);
    p.padding = uniform(0, 1) ? Padding::kSame : Padding::kValid;
  }
  p.activation = static_cast<Activation>(uniform(0, 2));
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (int i = 0; i < p.out_channels; ++i) {
    p.multiplier.push_back(normal(rng));
    p.offset.push_back(normal(rng) * 4.0f);
  }
  const int n = uniform(1, 3);
  const int h = (p.kernel_h - 1) * p.dilation_h + uniform(1, 11);
  const int w = (p.kernel_w - 1) * p.dilation_w + uniform(1, 11);
  c.input_shape = conv ? std::vector<int>{n, h, w, p.in_channels}
                       : std::vector<int>{n, uniform(1, 9), p.in_channels};
  size_t size = 1;
  for (int d : c.input_shape) size *= static_cast<size_t>(d);
  for (size_t i = 0; i < size; ++i) c.x.push_back(EdgeValue(rng, p.input_scale));
  const CodeRange range = WeightCodeRange(weight_bits);
  for (int64_t i = 0; i < p.out_channels * p.ReductionSize(); ++i) {
    int code = uniform(range.min, range.max);
    if (weight_bits == 1 && code == 0) code = 1;  // the 1-bit grid has no 0
    c.w_codes.push_back(static_cast<int8_t>(code));
  }
  return c;
}

std::string Describe(const Case& c, BitserialIsa isa, int threads) {
  const OpParams& p = c.params;
  return std::string(IsaName(isa)) + " W" + std::to_string(p.weight_bits) + "A" +
         std::to_string(p.activation_bits) + (p.activation_signed ? " signed" : " unsigned") +
         " input " + ShapeToString(c.input_shape) + " out_c " + std::to_string(p.out_channels) +
         " kernel " + std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) +
         " stride " + std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) +
         " dilation " + std::to_string(p.dilation_h) + "x" + std::to_string(p.dilation_w) +
         (p.padding == Padding::kSame ? " SAME" : " VALID") + " threads " +
         std::to_string(threads);
}

std::vector<float> RunReference(const Case& c, const ConvGeometry& g) {
  std::vector<int8_t> codes(c.x.size());
  QuantizeActivationsReference(c.x.data(), c.x.size(), MakeActivationGrid(c.params),
                               codes.data());
  std::vector<int32_t> acc(static_cast<size_t>(g.out_c));
  std::vector<float> y(static_cast<size_t>(g.OutputSize()));
  Conv2DReference(g, codes.data(), c.w_codes.data(), c.params.multiplier.data(),
                  c.params.offset.data(), c.params.activation, acc.data(), y.data());
  return y;
}

bool BitwiseEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void CheckCase(const Case& c, ThreadPool* pools) {
  ConvGeometry g;
  std::vector<int> output_shape;
  std::string error;
  if (!ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error)) {
    ReportFailure(__FILE__, __LINE__, "geometry: " + error);
    return;
  }
  const std::vector<float> expected = RunReference(c, g);
  for (BitserialIsa isa : Isas()) {
    Conv2DBitserial conv(c.params, c.w_codes.data(), isa);
    conv.Prepare(g, 3);
    for (int threads = 1; threads <= 3; ++threads) {
      std::vector<float> y(expected.size(), -1.0f);
      conv.Run(c.x.data(), y.data(), &pools[threads - 1]);
      if (!BitwiseEqual(y, expected)) {
        ReportFailure(__FILE__, __LINE__, "mismatch: " + Describe(c, isa, threads));
        return;
      }
    }
  }
}

BITLITE_TEST(MatchesReferenceForAllBitWidthsIsasAndThreadCounts) {
  ThreadPool pools[3];
  for (int i = 0; i < 3; ++i) pools[i].Resize(i + 1);
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

// A deep reduction (3x3 x 300 channels, 45 words: several of the LUT kernels' 16-word table
// blocks) and the largest codes of every bit pair: the popcount sums, their two's
// complement corrections and the LUT kernels' byte and int16 sums far from zero.
BITLITE_TEST(MatchesReferenceOnDeepReductionsWithExtremeCodes) {
  ThreadPool pools[3];
  for (int i = 0; i < 3; ++i) pools[i].Resize(i + 1);
  std::mt19937 rng(7);
  for (int weight_bits = 1; weight_bits <= 4; ++weight_bits) {
    for (int activation_bits = 1; activation_bits <= 4; ++activation_bits) {
      for (bool is_signed : {false, true}) {
        const CodeRange range = WeightCodeRange(weight_bits);
        for (int weight_code : {range.min, range.max}) {
          Case c = RandomCase(rng, weight_bits, activation_bits, is_signed);
          OpParams& p = c.params;
          p.kind = OpKind::kConv2D;
          p.in_channels = 300;
          p.kernel_h = p.kernel_w = 3;
          p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
          p.padding = Padding::kSame;
          c.input_shape = {1, 5, 6, p.in_channels};
          c.w_codes.assign(static_cast<size_t>(p.out_channels * p.ReductionSize()),
                           static_cast<int8_t>(weight_code));
          c.x.assign(static_cast<size_t>(5 * 6 * p.in_channels), is_signed ? -1e9f : 1e9f);
          CheckCase(c, pools);
        }
      }
    }
  }
}

// Every ISA's activation packing (bit planes or bytes) equals the scalar one on edge values
// and odd channel counts.
BITLITE_TEST(ActivationPackingMatchesScalar) {
  std::mt19937 rng(3);
  for (int bits = 1; bits <= 4; ++bits) {
    for (bool is_signed : {false, true}) {
      for (int channels : {1, 8, 15, 16, 17, 63, 64, 65, 200}) {
        OpParams p;
        p.activation_bits = bits;
        p.activation_signed = is_signed;
        p.input_scale = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
        const ActivationGrid grid = MakeActivationGrid(p);
        const int pixels = 3;
        std::vector<float> x;
        for (int i = 0; i < pixels * channels; ++i) x.push_back(EdgeValue(rng, p.input_scale));
        for (BitserialIsa isa : Isas()) {
          const BitserialFunctions functions = BitserialFunctionsFor(isa, 1, bits, is_signed);
          const PlaneGrid planes = ActivationPlaneGrid(bits, is_signed, functions.bytes);
          const size_t words = static_cast<size_t>(
              pixels * planes.Planes() * WordsPerTap(channels, planes.CodeBits()));
          std::vector<uint64_t> expected(words), actual(words, ~uint64_t{0});
          std::vector<int32_t> expected_sums(pixels), actual_sums(pixels);
          PackActivationsScalar(x.data(), pixels, channels, grid, planes, expected.data(),
                                expected_sums.data());
          functions.pack(x.data(), pixels, channels, grid, planes, actual.data(),
                         actual_sums.data());
          if (actual != expected || actual_sums != expected_sums) {
            ReportFailure(__FILE__, __LINE__,
                          std::string(IsaName(isa)) + " packing, bits " + std::to_string(bits) +
                              " channels " + std::to_string(channels));
          }
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
