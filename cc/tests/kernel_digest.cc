// Digests of what every GEMM and depthwise kernel this CPU runs writes, and of what the
// reference kernel writes, over one fixed set of cases, so that two builds (two compilers, two
// C++ libraries: Linux aarch64 with GCC and libstdc++, Android with zig's clang and libc++)
// can be compared output for output by comparing a few lines of text:
//
//   kernel_digest        (a shared object run by tools/android/qemu's runner on Android)
//
// prints, for the GEMM cases (sub-byte, then W8A8, each on the rows that take them) and then
// the depthwise cases,
//   cases <table> <count> <digest of the cases' inputs>
//   <table> reference <digest>
//   <table> <row name> <digest>           one line per row of the table this CPU runs
// and last `total <digest>` of every output byte printed above. A digest is FNV-1a (64 bits)
// of the float outputs' bytes, case after case. Exits 1 if any row's output differs from the
// reference's in any bit (then every row's digest equals the reference's).
//
// The cases come from a generator of our own (SplitMix64 and plain arithmetic on its
// integers), never from <random>'s distributions, whose results differ between libstdc++ and
// libc++: both builds must run the very same inputs.
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "conv_test_cases.h"
#include "kernels/cpu_features.h"
#include "kernels/depthwise/conv2d_depthwise.h"
#include "kernels/gemm/conv2d_gemm.h"
#include "op_geometry.h"
#include "threading/thread_pool.h"

namespace bitlite {
namespace testing {
namespace {

// SplitMix64: fully defined by its arithmetic, so every compiler and library draws the same.
class CaseRng {
 public:
  explicit CaseRng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
  // In [lo, hi] (the modulo's bias does not matter here).
  int Int(int lo, int hi) {
    return lo + static_cast<int>(Next() % static_cast<uint64_t>(int64_t{hi} - lo + 1));
  }
  bool Coin() { return (Next() >> 63) != 0; }
  template <size_t N>
  int Pick(const int (&choices)[N]) { return choices[Int(0, static_cast<int>(N) - 1)]; }
  // 24 random bits as a float in [0, 1): exact, then one rounding per operation.
  float Unit() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }
  float Range(float lo, float hi) { return lo + (hi - lo) * Unit(); }
  // Roughly normal with mean 0 and deviation `sigma`: a sum of four uniforms, drawn in order
  // (the operands of one + may be evaluated in either order).
  float Bell(float sigma) {
    float sum = -2.0f;
    for (int i = 0; i < 4; ++i) sum += Unit();
    return sum * 1.7320508f * sigma;
  }

 private:
  uint64_t state_;
};

// One input value for a grid of step `scale`: mostly ordinary values, with the quantizer's
// edges mixed in (ties, clipping, both zeros, denormals, the binary grid's -FLT_MIN boundary,
// values past int32, NaN and infinities).
float InputValue(CaseRng& rng, float scale) {
  const int kind = rng.Int(0, 15);
  if (kind < 8) return rng.Range(-12.0f, 12.0f) * scale;
  if (kind < 10) return static_cast<float>(rng.Int(-20, 20)) * 0.5f * scale;
  const float specials[] = {NAN,
                            INFINITY,
                            -INFINITY,
                            0.0f,
                            -0.0f,
                            std::numeric_limits<float>::denorm_min() * rng.Int(-20, 20),
                            -FLT_MIN,
                            std::nextafter(-FLT_MIN, 0.0f),
                            std::nextafter(-FLT_MIN, -1.0f),
                            3e9f * scale,
                            -3e9f * scale};
  return specials[rng.Int(0, 10)];
}

int64_t InputSize(const ConvCase& c) {
  int64_t size = 1;
  for (int d : c.input_shape) size *= d;
  return size;
}

void FillInputsAndWeights(CaseRng& rng, ConvCase* c) {
  c->x.resize(static_cast<size_t>(InputSize(*c)));
  for (float& v : c->x) v = InputValue(rng, c->params.input_scale);
  const CodeRange range = WeightCodeRange(c->params.weight_bits);
  c->w_codes.resize(static_cast<size_t>(c->params.out_channels * c->params.ReductionSize()));
  for (int8_t& code : c->w_codes) {
    int q = rng.Int(range.min, range.max);
    if (c->params.weight_bits == 1 && q == 0) q = 1;  // the 1-bit grid has no 0
    code = static_cast<int8_t>(q);
  }
}

// The bit pair, grid, scale, output stage and activation function of a case.
ConvCase NewCase(CaseRng& rng, int weight_bits, int activation_bits, bool is_signed) {
  ConvCase c;
  OpParams& p = c.params;
  p.weight_bits = weight_bits;
  p.activation_bits = activation_bits;
  p.activation_signed = is_signed;
  p.input_scale = rng.Range(0.05f, 2.0f);
  p.activation.kind = static_cast<ActivationKind>(rng.Int(0, 3));
  if (p.activation.kind == ActivationKind::kLeakyRelu) {
    constexpr float kSlopes[] = {0.1f, 1.0f, FLT_MIN, 0.3f};
    p.activation.alpha = kSlopes[rng.Int(0, 3)];
  }
  return c;
}

void SetOutputStage(CaseRng& rng, OpParams* p) {
  p->multiplier.clear();
  p->offset.clear();
  for (int i = 0; i < p->out_channels; ++i) {
    p->multiplier.push_back(rng.Bell(0.3f));
    p->offset.push_back(rng.Bell(1.2f));
  }
}

void SetWindow(CaseRng& rng, int max_stride_w, OpParams* p) {
  p->kind = OpKind::kConv2D;
  p->kernel_h = rng.Int(1, 3);
  p->kernel_w = rng.Int(1, 3);
  p->stride_h = rng.Int(1, 2);
  p->stride_w = rng.Int(1, max_stride_w);
  p->dilation_h = rng.Int(1, 2);
  p->dilation_w = rng.Int(1, 2);
  p->padding = rng.Coin() ? Padding::kSame : Padding::kValid;
}

std::vector<int> SpatialInput(CaseRng& rng, const OpParams& p, int extra) {
  return {rng.Int(1, 2), (p.kernel_h - 1) * p.dilation_h + rng.Int(1, extra),
          (p.kernel_w - 1) * p.dilation_w + rng.Int(1, extra), p.in_channels};
}

// The bit pairs of the cases: every sub-byte pair, or W8A8 twelve times over (about as many
// cases as the sub-byte pairs give).
std::vector<std::pair<int, int>> BitPairs(bool w8a8) {
  if (w8a8) return std::vector<std::pair<int, int>>(12, {8, 8});
  std::vector<std::pair<int, int>> pairs;
  for (int wb = 1; wb <= 4; ++wb) {
    for (int ab = 1; ab <= 4; ++ab) pairs.push_back({wb, ab});
  }
  return pairs;
}

// GEMM cases: for each of the 32 sub-byte bit pairs (or W8A8) x grids, convolutions and fully connected layers
// with channel counts below, at and across 64-bit words, a grouped convolution, and a deep
// reduction (3x3 x 300 channels) at the extreme codes; then windows reaching far past tiny
// inputs (dilations and strides up to 2^31 - 1, SAME padding).
std::vector<ConvCase> GemmCases(bool w8a8) {
  CaseRng rng(w8a8 ? 0x6e6d38 : 0x6e6d6d);
  std::vector<ConvCase> cases;
  const int channel_choices[] = {1, 3, 7, 31, 63, 64, 65, 100, 130};
  const int group_channel_choices[] = {2, 3, 5, 31, 64, 65};
  for (const auto& [wb, ab] : BitPairs(w8a8)) {
    for (bool is_signed : {false, true}) {
      for (int kind = 0; kind < 4; ++kind) {
        ConvCase c = NewCase(rng, wb, ab, is_signed);
        OpParams& p = c.params;
        p.in_channels = rng.Pick(channel_choices);
        p.out_channels = rng.Int(1, 21);
        if (kind == 2) {  // fully connected: [batch, rows, channels]
          p.kind = OpKind::kFullyConnected;
          c.input_shape = {rng.Int(1, 2), rng.Int(1, 9), p.in_channels};
        } else {
          if (kind == 3) {  // each group with a channel count of its own
            p.groups = rng.Int(2, 4);
            p.in_channels = p.groups * rng.Pick(group_channel_choices);
            p.out_channels = p.groups * rng.Int(1, 6);
          }
          SetWindow(rng, 3, &p);
          c.input_shape = SpatialInput(rng, p, 8);
        }
        SetOutputStage(rng, &p);
        FillInputsAndWeights(rng, &c);
        cases.push_back(c);
      }

      ConvCase deep = NewCase(rng, wb, ab, is_signed);
      OpParams& d = deep.params;
      d.in_channels = 300;
      d.out_channels = rng.Int(1, 9);
      d.kernel_h = d.kernel_w = 3;
      d.padding = Padding::kSame;
      deep.input_shape = {1, 4, 5, d.in_channels};
      SetOutputStage(rng, &d);
      const CodeRange range = WeightCodeRange(wb);
      deep.w_codes.assign(static_cast<size_t>(d.out_channels * d.ReductionSize()),
                          static_cast<int8_t>(rng.Coin() ? range.min : range.max));
      deep.x.assign(static_cast<size_t>(InputSize(deep)), is_signed && rng.Coin() ? -1e9f : 1e9f);
      cases.push_back(deep);
    }
  }
  const int reaches[] = {1, 2, 3, 1 << 13, (1 << 30) - 1, INT_MAX};
  for (int i = 0; i < 24 && !w8a8; ++i) {
    ConvCase c = NewCase(rng, i % 4 + 1, i / 4 % 4 + 1, i % 2 == 1);
    OpParams& p = c.params;
    p.in_channels = rng.Pick(channel_choices);
    p.out_channels = rng.Int(1, 9);
    p.kernel_h = rng.Int(1, 3);
    p.kernel_w = rng.Int(1, 3);
    p.dilation_h = rng.Pick(reaches);
    p.dilation_w = rng.Pick(reaches);
    p.stride_h = rng.Coin() ? rng.Int(1, 2) : rng.Pick(reaches);
    p.stride_w = rng.Coin() ? rng.Int(1, 2) : rng.Pick(reaches);
    p.padding = rng.Int(0, 3) != 0 ? Padding::kSame : Padding::kValid;
    c.input_shape = {rng.Int(1, 2), rng.Int(1, 3), rng.Int(1, 3), p.in_channels};
    SetOutputStage(rng, &p);
    FillInputsAndWeights(rng, &c);
    cases.push_back(c);
  }
  return cases;
}

// Depthwise cases: for each of the 32 sub-byte bit pairs and W8A8 x grids, channel counts below, at and across
// the 16- and 32-lane tiles, depth multipliers 1-3, kernels 1x1 to 5x5; then a 17x17 kernel
// (289 taps, past one int16 chunk) at the extreme codes of each weight width and grid.
std::vector<ConvCase> DepthwiseCases() {
  CaseRng rng(0x6477);
  std::vector<ConvCase> cases;
  const int channel_choices[] = {2, 3, 5, 15, 16, 17, 31, 33, 40};
  const int kernel_choices[] = {1, 3, 3, 5};
  auto depthwise = [&](int wb, int ab, bool is_signed) {
    ConvCase c = NewCase(rng, wb, ab, is_signed);
    OpParams& p = c.params;
    p.in_channels = rng.Pick(channel_choices);
    p.groups = p.in_channels;
    p.out_channels = p.in_channels * rng.Int(1, 3);
    SetWindow(rng, 2, &p);
    p.kernel_h = rng.Pick(kernel_choices);
    p.kernel_w = rng.Int(0, 3) == 0 ? rng.Pick(kernel_choices) : p.kernel_h;
    SetOutputStage(rng, &p);
    return c;
  };
  std::vector<std::pair<int, int>> pairs = BitPairs(false);
  pairs.push_back({8, 8});
  for (const auto& [wb, ab] : pairs) {
    for (bool is_signed : {false, true}) {
      for (int repeat = 0; repeat < 3; ++repeat) {
        ConvCase c = depthwise(wb, ab, is_signed);
        c.input_shape = SpatialInput(rng, c.params, 7);
        FillInputsAndWeights(rng, &c);
        cases.push_back(c);
      }
    }
  }
  for (int wb = 1; wb <= 4; ++wb) {
    for (bool is_signed : {false, true}) {
      ConvCase c = depthwise(wb, 4, is_signed);
      OpParams& p = c.params;
      p.kernel_h = p.kernel_w = 17;
      p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
      p.padding = Padding::kSame;
      c.input_shape = {1, 18, 19, p.in_channels};
      c.w_codes.assign(static_cast<size_t>(p.out_channels * p.ReductionSize()),
                       static_cast<int8_t>(WeightCodeRange(wb).min));
      c.x.assign(static_cast<size_t>(InputSize(c)), is_signed ? -1e9f : 1e9f);
      cases.push_back(c);
    }
  }
  return cases;
}

class Fnv1a {
 public:
  void Add(const void* data, size_t size) {
    const unsigned char* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) hash_ = (hash_ ^ bytes[i]) * 0x100000001b3u;
  }
  template <class T>
  void Add(const std::vector<T>& values) {
    if (!values.empty()) Add(values.data(), values.size() * sizeof(T));
  }
  template <class T>
  void AddValue(T value) { Add(&value, sizeof(value)); }
  std::string Hex() const {
    char text[17];
    std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash_));
    return text;
  }

 private:
  uint64_t hash_ = 0xcbf29ce484222325u;
};

// Every input of a case, so that both builds can show they ran the same ones.
void AddCase(const ConvCase& c, Fnv1a* digest) {
  const OpParams& p = c.params;
  const int32_t fields[] = {static_cast<int32_t>(p.kind), p.weight_bits, p.activation_bits,
                            p.activation_signed, p.in_channels, p.out_channels, p.kernel_h,
                            p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w,
                            static_cast<int32_t>(p.padding), p.groups,
                            static_cast<int32_t>(p.activation.kind)};
  digest->Add(fields, sizeof(fields));
  digest->AddValue(p.activation.alpha);
  digest->AddValue(p.input_scale);
  digest->Add(p.multiplier);
  digest->Add(p.offset);
  digest->Add(c.input_shape);
  digest->Add(c.x);
  digest->Add(c.w_codes);
}

struct Row {
  std::string name;
  Fnv1a digest;
};

// The rows of `rows` that take these widths.
std::vector<const GemmKernel*> Taking(const std::vector<const GemmKernel*>& rows, int weight_bits,
                                      int activation_bits) {
  std::vector<const GemmKernel*> taking;
  for (const GemmKernel* row : rows) {
    if (row->Takes(weight_bits, activation_bits)) taking.push_back(row);
  }
  return taking;
}

// Runs `Kernel` (Conv2DGemm or Conv2DDepthwise) of every row on every case as BitliteOp does
// (on the live taps), with 1 and 2 threads, and the reference; prints the digests. Returns
// the number of outputs that differed from the reference.
template <class Conv, class KernelRow>
int DigestTable(const char* table, const std::vector<ConvCase>& cases,
                const std::vector<const KernelRow*>& kernels, Fnv1a* total) {
  ThreadPool pools[2];
  pools[1].Resize(2);
  Fnv1a inputs;
  Row reference{"reference", {}};
  std::vector<Row> rows;
  for (const KernelRow* kernel : kernels) rows.push_back({kernel->name, {}});
  int ran = 0, mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConvCase& c = cases[i];
    ConvGeometry g;
    std::vector<int> output_shape;
    std::string error;
    if (!ComputeGeometry(c.params, c.input_shape, &g, &output_shape, &error)) continue;
    const LiveTaps taps = FindLiveTaps(g);
    if (taps.Empty()) continue;  // BitliteOp runs the reference alone
    ++ran;
    AddCase(c, &inputs);
    const std::vector<float> expected = RunReference(c, g);
    reference.digest.Add(expected);
    total->Add(expected);
    const LiveTapConv live = CropToLiveTaps(c.params, g, taps, c.w_codes);
    for (size_t k = 0; k < kernels.size(); ++k) {
      Conv conv(live.params, live.w_codes.data(), *kernels[k]);
      if (!conv.Prepare(live.geometry, 2, kSmallScratchLimit, &error, /*min_work_per_thread=*/1)) {
        std::fprintf(stderr, "%s: %s\n", DescribeCase(c, kernels[k]->name, 2).c_str(),
                     error.c_str());
        return mismatches + 1;
      }
      std::vector<float> y;
      for (ThreadPool& pool : pools) {
        y.assign(expected.size(), -1.0f);
        conv.Run(c.x.data(), y.data(), &pool);
        if (!BitwiseEqual(y, expected)) {
          ++mismatches;
          std::fprintf(stderr, "differs from the reference: case %zu, %s\n", i,
                       DescribeCase(c, kernels[k]->name, pool.threads()).c_str());
        }
      }
      rows[k].digest.Add(y);
      total->Add(y);
    }
  }
  std::printf("cases %s %d %s\n", table, ran, inputs.Hex().c_str());
  std::printf("%s %s %s\n", table, reference.name.c_str(), reference.digest.Hex().c_str());
  for (const Row& row : rows) std::printf("%s %s %s\n", table, row.name.c_str(), row.digest.Hex().c_str());
  return mismatches;
}

}  // namespace
}  // namespace testing
}  // namespace bitlite

// Visible: the Android build's copy is a shared object whose main() a runner looks up.
__attribute__((visibility("default"))) int main() {
  using namespace bitlite;
  using namespace bitlite::testing;
  const CpuFeatures& cpu = DetectCpuFeatures();
  Fnv1a total;
  const std::vector<const GemmKernel*> gemm = SupportedGemmKernels(cpu);
  int mismatches =
      DigestTable<Conv2DGemm>("gemm", GemmCases(false), Taking(gemm, 1, 1), &total);
  mismatches +=
      DigestTable<Conv2DGemm>("gemm-w8a8", GemmCases(true), Taking(gemm, 8, 8), &total);
  mismatches += DigestTable<Conv2DDepthwise>("depthwise", DepthwiseCases(),
                                             SupportedDwconvKernels(cpu), &total);
  std::printf("total %s\n", total.Hex().c_str());
  std::fflush(stdout);
  if (mismatches != 0) std::fprintf(stderr, "%d outputs differ from the reference\n", mismatches);
  return mismatches == 0 ? 0 : 1;
}
