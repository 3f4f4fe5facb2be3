#include "conv_test_cases.h"

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "kernels/reference/activation_quantize_reference.h"
#include "kernels/reference/conv2d_reference.h"
#include "kernels/reference/conv2d_transpose_reference.h"
#include "op_geometry.h"

namespace bitlite {
namespace testing {

float EdgeValue(std::mt19937& rng, float scale) {
  std::uniform_int_distribution<int> pick(0, 10);
  std::uniform_int_distribution<int> half_steps(-20, 20);
  switch (pick(rng)) {
    case 10: {
      const float boundary[] = {-FLT_MIN, std::nextafter(-FLT_MIN, 0.0f),
                                std::nextafter(-FLT_MIN, -1.0f), 3e9f * scale, -3e9f * scale};
      return boundary[std::uniform_int_distribution<int>(0, 4)(rng)];
    }
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

namespace {
// YOLO's 0.1, and the ends of [FLT_MIN, 1] (FLT_MIN's products are subnormal).
constexpr float kSlopes[] = {0.1f, 1.0f, FLT_MIN};
}  // namespace

Activation RandomActivation(std::mt19937& rng) {
  Activation activation;
  activation.kind = static_cast<ActivationKind>(std::uniform_int_distribution<int>(0, 3)(rng));
  if (activation.kind == ActivationKind::kLeakyRelu) {
    const int pick = std::uniform_int_distribution<int>(0, 3)(rng);
    activation.alpha = pick < 3 ? kSlopes[pick]
                                : std::uniform_real_distribution<float>(0.001f, 1.0f)(rng);
  }
  return activation;
}

float NaiveActivation(float y, const Activation& activation) {
  switch (activation.kind) {
    case ActivationKind::kNone:
      return y;
    case ActivationKind::kRelu:
      return y < 0.0f ? 0.0f : y;
    case ActivationKind::kRelu6:
      return y < 0.0f ? 0.0f : y > 6.0f ? 6.0f : y;
    case ActivationKind::kLeakyRelu:
      return y > 0.0f ? y : y * activation.alpha;
  }
  return y;
}

std::string DescribeActivation(const Activation& activation) {
  char alpha[32];
  std::snprintf(alpha, sizeof(alpha), "%.9g", activation.alpha);
  return "kind " + std::to_string(static_cast<int>(activation.kind)) + " alpha " + alpha;
}

std::vector<Activation> EveryActivation() {
  std::vector<Activation> every = {{ActivationKind::kNone, 0.0f},
                                   {ActivationKind::kRelu, 0.0f},
                                   {ActivationKind::kRelu6, 0.0f}};
  for (float alpha : kSlopes) every.push_back({ActivationKind::kLeakyRelu, alpha});
  return every;
}

void SetRandomOutputStage(std::mt19937& rng, OpParams* p) {
  p->activation = RandomActivation(rng);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  p->multiplier.clear();
  p->offset.clear();
  for (int i = 0; i < p->out_channels; ++i) {
    p->multiplier.push_back(normal(rng));
    p->offset.push_back(normal(rng) * 4.0f);
  }
}

void FillRandomData(std::mt19937& rng, ConvCase* c) {
  size_t size = 1;
  for (int d : c->input_shape) size *= static_cast<size_t>(d);
  c->x.clear();
  for (size_t i = 0; i < size; ++i) c->x.push_back(EdgeValue(rng, c->params.input_scale));
  const CodeRange range = WeightCodeRange(c->params.weight_bits);
  c->w_codes.clear();
  for (int64_t i = 0; i < c->params.out_channels * c->params.ReductionSize(); ++i) {
    int code = std::uniform_int_distribution<int>(range.min, range.max)(rng);
    if (c->params.weight_bits == 1 && code == 0) code = 1;  // the 1-bit grid has no 0
    c->w_codes.push_back(static_cast<int8_t>(code));
  }
}

void SetExtremeGeometry(std::mt19937& rng, ConvCase* c) {
  // 2^13 and 2^14 made gigabyte scratch of 1x1 inputs; 2^30 and 2^31 - 1 overflowed it.
  const int reaches[] = {1, 2, 3, 1 << 13, 1 << 14, (1 << 30) - 1, 1 << 30, INT_MAX};
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto reach = [&] { return reaches[uniform(0, 7)]; };
  OpParams& p = c->params;
  p.kind = OpKind::kConv2D;
  p.kernel_h = uniform(1, 3);
  p.kernel_w = uniform(1, 3);
  p.dilation_h = reach();
  p.dilation_w = reach();
  p.stride_h = uniform(0, 1) ? uniform(1, 2) : reach();
  p.stride_w = uniform(0, 1) ? uniform(1, 2) : reach();
  // VALID needs the dilated kernel inside the input: only small dilations pass geometry.
  p.padding = uniform(0, 3) != 0 ? Padding::kSame : Padding::kValid;
  c->input_shape = {uniform(1, 2), uniform(1, 3), uniform(1, 3), p.in_channels};
}

void SetUniformCase(int kernel, const std::vector<int>& input_shape, int weight_code, float x,
                    ConvCase* c) {
  OpParams& p = c->params;
  p.kind = OpKind::kConv2D;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = p.dilation_h = p.dilation_w = 1;
  p.padding = Padding::kSame;
  c->input_shape = input_shape;
  c->w_codes.assign(static_cast<size_t>(p.out_channels * p.ReductionSize()),
                    static_cast<int8_t>(weight_code));
  size_t size = 1;
  for (int d : input_shape) size *= static_cast<size_t>(d);
  c->x.assign(size, x);
}

bool SetThreadsCase(int size, int channels, int groups, int weight_bits, int activation_bits,
                    ConvCase* c, ConvGeometry* g) {
  OpParams& p = c->params;
  p.in_channels = p.out_channels = channels;
  p.groups = groups;
  p.weight_bits = weight_bits;
  p.activation_bits = activation_bits;
  p.input_scale = 0.1f;
  p.multiplier.assign(static_cast<size_t>(channels), 1.0f);
  p.offset.assign(static_cast<size_t>(channels), 0.0f);
  SetUniformCase(3, {1, size, size, channels}, 1, 0.0f, c);
  std::vector<int> output_shape;
  std::string error;
  return ComputeGeometry(p, c->input_shape, g, &output_shape, &error);
}

std::vector<float> RunReference(const ConvCase& c, const ConvGeometry& g) {
  std::vector<ActivationCodeT> codes(c.x.size());
  QuantizeActivationsReference(c.x.data(), c.x.size(), MakeActivationGrid(c.params),
                               codes.data());
  std::vector<int32_t> acc(static_cast<size_t>(g.out_c));
  std::vector<float> y(static_cast<size_t>(g.OutputSize()));
  if (c.params.kind == OpKind::kConv2DTranspose) {
    Conv2DTransposeReference(g, codes.data(), c.w_codes.data(), c.params.multiplier.data(),
                             c.params.offset.data(), c.params.activation, acc.data(), y.data());
    return y;
  }
  Conv2DReference(g, codes.data(), c.w_codes.data(), c.params.multiplier.data(),
                  c.params.offset.data(), c.params.activation, acc.data(), y.data());
  return y;
}

std::string DescribeCase(const ConvCase& c, const std::string& kernel, int threads) {
  const OpParams& p = c.params;
  return kernel + " W" + std::to_string(p.weight_bits) + "A" +
         std::to_string(p.activation_bits) + (p.activation_signed ? " signed" : " unsigned") +
         " input " + ShapeToString(c.input_shape) + " out_c " + std::to_string(p.out_channels) +
         " groups " + std::to_string(p.groups) + " kernel " + std::to_string(p.kernel_h) + "x" +
         std::to_string(p.kernel_w) + " stride " + std::to_string(p.stride_h) + "x" +
         std::to_string(p.stride_w) + " dilation " + std::to_string(p.dilation_h) + "x" +
         std::to_string(p.dilation_w) + (p.padding == Padding::kSame ? " SAME" : " VALID") +
         " activation " + DescribeActivation(p.activation) +
         (p.kind == OpKind::kConv2DTranspose
              ? " transposed, pads " + std::to_string(p.pad_top) + " " +
                    std::to_string(p.pad_bottom) + " " + std::to_string(p.pad_left) + " " +
                    std::to_string(p.pad_right)
              : std::string()) +
         " threads " + std::to_string(threads);
}

bool BitwiseEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

float FloatOfBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

ActivationPacking RandomCodeGrid(std::mt19937& rng) {
  const int bits_choices[] = {1, 2, 3, 4, 8};
  OpParams p;
  p.activation_bits = bits_choices[std::uniform_int_distribution<int>(0, 4)(rng)];
  p.activation_signed = p.activation_bits == 8 || std::uniform_int_distribution<int>(0, 1)(rng);
  p.input_scale = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
  return MakeActivationPacking(
      MakeActivationGrid(p), ActivationPlaneGrid(p.activation_bits, p.activation_signed, false));
}

std::vector<int8_t> ReferenceCodes(const std::vector<float>& values,
                                   const ActivationPacking& packing) {
  std::vector<int8_t> codes(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    codes[i] = static_cast<int8_t>(ActivationCode(values[i], packing.grid));
  }
  return codes;
}

}  // namespace testing
}  // namespace bitlite
