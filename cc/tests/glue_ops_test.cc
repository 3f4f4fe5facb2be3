// The float builtins the delegate claims between bitlite ops (src/glue): the kernels' TFLite
// semantics at the edges (ties, infinities, padding), which nodes are claimed, a partition of
// bitlite and glue nodes against the same nodes run one by one, and malformed glue nodes.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "claimed_nodes.h"
#include "fake_interpreter.h"
#include "flexbuffer_test_writer.h"
#include "glue/glue_kernels.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

using glue::Clamp;

uint32_t Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Bits(a[i]) != Bits(b[i])) return false;
  }
  return true;
}

BITLITE_TEST(RoundIsTfliteRoundToNearest) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, -0.3f, -0.0f,
                                8388609.0f, 1e30f, -INFINITY, 2.4999998f};
  std::vector<float> y(x.size());
  glue::Round(x.data(), y.data(), static_cast<int64_t>(x.size()));
  // -0.5 and -0.3 round to +0 (floor + 1), as TFLite's kernel computes, unlike nearbyint.
  const std::vector<float> expected = {0.0f, 2.0f, 2.0f, 0.0f, -2.0f, -2.0f, 0.0f, -0.0f,
                                       8388609.0f, 1e30f, -INFINITY, 2.0f};
  EXPECT_TRUE(SameBits(y, expected));
  float n = nan, out = 0;
  glue::Round(&n, &out, 1);
  EXPECT_TRUE(std::isnan(out));
  // TFLite's own definition (floor, then floor + 1 above a half and at an odd floor's tie) on
  // the ties next to 2^23, both signs of zero's neighbours and random bit patterns of every
  // exponent.
  auto tflite_round = [](float v) {
    const float floor_value = std::floor(v);
    const float diff = v - floor_value;
    const bool down =
        diff < 0.5f || (diff == 0.5f && static_cast<int64_t>(floor_value) % 2 == 0);
    return down ? floor_value : floor_value + 1.0f;
  };
  std::vector<float> edges = {8388607.5f, -8388607.5f, 4194304.5f, -4194304.5f, 8388608.0f,
                              -8388609.0f, 0.49999997f, -0.49999997f, 1e-45f, -1e-45f,
                              FLT_MIN, -FLT_MIN, 0.0f, INFINITY, 3.5f, -3.5f};
  for (int k = -4000; k <= 4000; ++k) edges.push_back(static_cast<float>(k) / 4.0f);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> near_zero(-100.0f, 100.0f);
  for (int i = 0; i < 20000; ++i) edges.push_back(near_zero(rng));
  for (int i = 0; i < 100000; ++i) {
    const uint32_t bits = static_cast<uint32_t>(rng());
    float v;
    std::memcpy(&v, &bits, sizeof(v));
    if (!std::isnan(v)) edges.push_back(v);
  }
  std::vector<float> rounded(edges.size()), reference(edges.size());
  glue::Round(edges.data(), rounded.data(), static_cast<int64_t>(edges.size()));
  for (size_t i = 0; i < edges.size(); ++i) reference[i] = tflite_round(edges[i]);
  EXPECT_TRUE(SameBits(rounded, reference));
}

// The geometry of one of the simple broadcast forms over `size` outputs.
glue::BinaryGeometry Form(glue::Broadcast broadcast, int64_t size, int64_t channels) {
  glue::BinaryGeometry g;
  g.broadcast = broadcast;
  g.size = size;
  g.channels = channels;
  return g;
}

BITLITE_TEST(BinaryOpsClampLikeTflite) {
  using glue::Broadcast;
  const float highest = std::numeric_limits<float>::max();
  const Clamp none{std::numeric_limits<float>::lowest(), highest};
  const std::vector<float> a = {1.0f, INFINITY, -3.0f, 0.25f, 5.0f, -7.0f};
  const std::vector<float> b = {2.0f, 1.0f, 1.0f, 0.5f, 2.0f, 4.0f};
  std::vector<float> y(6);
  glue::Binary(glue::BinaryOp::kAdd, Form(Broadcast::kNone, 6, 6), a.data(), b.data(), y.data(),
               none);
  // NONE clamps to the finite range, as TFLite's ActivationFunctionWithMinMax does.
  EXPECT_TRUE(SameBits(y, {3.0f, highest, -2.0f, 0.75f, 7.0f, -3.0f}));
  glue::Binary(glue::BinaryOp::kDiv, Form(Broadcast::kChannelB, 6, 2), a.data(), b.data(),
               y.data(), Clamp{0.0f, 6.0f});
  EXPECT_TRUE(SameBits(y, {0.5f, 6.0f, 0.0f, 0.25f, 2.5f, 0.0f}));
  glue::Binary(glue::BinaryOp::kSub, Form(Broadcast::kScalarA, 6, 6), b.data(), a.data(),
               y.data(), none);
  EXPECT_TRUE(SameBits(y, {1.0f, -highest, 5.0f, 1.75f, -3.0f, 9.0f}));
  glue::Binary(glue::BinaryOp::kMaximum, Form(Broadcast::kScalarB, 6, 6), a.data(), b.data(),
               y.data(), none);
  EXPECT_TRUE(SameBits(y, {2.0f, INFINITY, 2.0f, 2.0f, 5.0f, 2.0f}));
  // Ties take the second operand: MAXIMUM(-0, +0) is +0, MINIMUM(+0, -0) is -0.
  const float neg_zero = -0.0f, zero = 0.0f;
  float out = 1.0f;
  glue::Binary(glue::BinaryOp::kMaximum, Form(Broadcast::kNone, 1, 1), &neg_zero, &zero, &out,
               none);
  EXPECT_EQ(Bits(out), Bits(0.0f));
  glue::Binary(glue::BinaryOp::kMinimum, Form(Broadcast::kNone, 1, 1), &zero, &neg_zero, &out,
               none);
  EXPECT_EQ(Bits(out), Bits(-0.0f));
}

// BinaryRange over row ranges (as threads take them) writes what Binary writes, for every
// simple form and op: the broadcast operand stays whole while the others move with the range.
BITLITE_TEST(BinaryRangesEqualTheWholeOutput) {
  using glue::Broadcast;
  std::mt19937 rng(3);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const Broadcast forms[] = {Broadcast::kNone, Broadcast::kScalarA, Broadcast::kScalarB,
                             Broadcast::kChannelA, Broadcast::kChannelB};
  const glue::BinaryOp ops[] = {glue::BinaryOp::kAdd, glue::BinaryOp::kSub,
                                glue::BinaryOp::kMul, glue::BinaryOp::kDiv,
                                glue::BinaryOp::kMaximum, glue::BinaryOp::kMinimum};
  for (int repeat = 0; repeat < 60; ++repeat) {
    const Broadcast form = forms[repeat % 5];
    const glue::BinaryOp op = ops[uniform(0, 5)];
    const int64_t channels = uniform(1, 19), rows = uniform(1, 23), size = channels * rows;
    const glue::BinaryGeometry g = Form(form, size, channels);
    const bool a_small = form == Broadcast::kScalarA || form == Broadcast::kChannelA;
    const bool b_small = form == Broadcast::kScalarB || form == Broadcast::kChannelB;
    const int64_t small = form == Broadcast::kScalarA || form == Broadcast::kScalarB ? 1 : channels;
    std::vector<float> a(static_cast<size_t>(a_small ? small : size));
    std::vector<float> b(static_cast<size_t>(b_small ? small : size));
    for (float& v : a) v = std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
    for (float& v : b) v = std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
    const Clamp clamp{-2.0f, 3.0f};
    std::vector<float> whole(static_cast<size_t>(size)), split(whole.size(), -7.0f);
    glue::Binary(op, g, a.data(), b.data(), whole.data(), clamp);
    const int64_t middle = uniform(0, static_cast<int>(rows)) * channels;
    glue::BinaryRange(op, g, a.data(), b.data(), split.data(), clamp, middle, size);
    glue::BinaryRange(op, g, a.data(), b.data(), split.data(), clamp, 0, middle);
    EXPECT_TRUE(SameBits(split, whole));
  }
}

// A broadcast of no simple form ([2, 1, 3] * [2, 2, 1], a squeeze-excite's [N, 1, 1, C]
// against [N, H, W, C] at batch 2 alike) through a MUL node: NumPy's result.
BITLITE_TEST(GeneralBroadcastMatchesNumpy) {
  FakeInterpreter interpreter;
  const int a = interpreter.AddFloatTensor({2, 1, 3});
  const int b = interpreter.AddFloatTensor({2, 2, 1});
  const int y = interpreter.AddFloatTensor({2, 2, 3});
  interpreter.Fill(a, 1.0f, 1.0f);   // 1 2 3 | 4 5 6
  interpreter.Fill(b, 10.0f, 10.0f);  // 10 20 | 30 40
  TfLiteAddParams mul{kTfLiteActNone};  // MUL's options have ADD's layout
  const int node = interpreter.AddBuiltinNode(kTfLiteBuiltinMul, {a, b}, {y}, mul);
  EXPECT_EQ(interpreter.Run({node}, {a, b}, {y}), "ok");
  EXPECT_TRUE(SameBits(interpreter.Values(y), {10, 20, 30, 20, 40, 60,
                                               120, 150, 180, 160, 200, 240}));
}

BITLITE_TEST(MaxPoolSamePaddingSkipsPaddedTaps) {
  // 1x3x3x1, 2x2 window, stride 2, SAME: out 2x2, padding 0 before (total 1, after).
  const std::vector<float> x = {-5, -4, -3, -2, -1, -9, -8, -7, -6};
  PoolGeometry g{1, 3, 3, 1, 2, 2, 2, 2, 2, 2, 0, 0};
  std::vector<float> y(4);
  glue::MaxPool(g, x.data(), y.data(), Clamp{std::numeric_limits<float>::lowest(), 1e9f}, 0, 2);
  EXPECT_TRUE(SameBits(y, {-1, -3, -7, -6}));
  glue::MaxPool(g, x.data(), y.data(), Clamp{0.0f, 1e9f}, 0, 2);
  EXPECT_TRUE(SameBits(y, {0, 0, 0, 0}));
}

// MaxPool against its definition, output by output and channel by channel (std::max over the
// window from lowest, then the clamp), bit for bit: random geometries with 1 to 40 channels
// (the 4-lane blocks of 16 on aarch64 and x86, and the channels after them), SAME and
// VALID-like paddings, and values with NaNs, signed zeros, infinities and denormals.
BITLITE_TEST(MaxPoolEqualsItsDefinitionOnRandomGeometriesAndSpecialValues) {
  std::mt19937 rng(2);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const float special[] = {std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f,
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::denorm_min(), -1e-40f, 3.5f, -2.25f};
  for (int repeat = 0; repeat < 60; ++repeat) {
    PoolGeometry g{};
    g.batch = uniform(1, 2);
    g.in_h = uniform(1, 6);
    g.in_w = uniform(1, 6);
    g.channels = uniform(1, 40);
    g.filter_h = uniform(1, 3);
    g.filter_w = uniform(1, 3);
    g.stride_h = uniform(1, 2);
    g.stride_w = uniform(1, 2);
    g.pad_top = uniform(0, g.filter_h - 1);
    g.pad_left = uniform(0, g.filter_w - 1);
    g.out_h = (g.in_h + g.pad_top - 1) / g.stride_h + 1;
    g.out_w = (g.in_w + g.pad_left - 1) / g.stride_w + 1;
    std::vector<float> x(static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.channels);
    for (float& v : x) {
      v = uniform(0, 2) == 0 ? special[uniform(0, 8)]
                             : std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
    }
    const Clamp clamp = repeat % 3 == 0 ? Clamp{0.0f, 6.0f}
                                        : Clamp{std::numeric_limits<float>::lowest(),
                                                std::numeric_limits<float>::max()};
    std::vector<float> y(static_cast<size_t>(g.batch) * g.out_h * g.out_w * g.channels);
    std::vector<float> expected(y.size());
    size_t i = 0;
    for (int n = 0; n < g.batch; ++n) {
      for (int oy = 0; oy < g.out_h; ++oy) {
        for (int ox = 0; ox < g.out_w; ++ox) {
          for (int c = 0; c < g.channels; ++c) {
            float m = std::numeric_limits<float>::lowest();
            for (int fy = 0; fy < g.filter_h; ++fy) {
              for (int fx = 0; fx < g.filter_w; ++fx) {
                const int iy = oy * g.stride_h - g.pad_top + fy;
                const int ix = ox * g.stride_w - g.pad_left + fx;
                if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
                m = std::max(m, x[((static_cast<size_t>(n) * g.in_h + iy) * g.in_w + ix) *
                                      g.channels + c]);
              }
            }
            expected[i++] = std::min(std::max(m, clamp.low), clamp.high);
          }
        }
      }
    }
    const int64_t rows = int64_t{g.batch} * g.out_h;
    glue::MaxPool(g, x.data(), y.data(), clamp, 0, rows);
    EXPECT_TRUE(SameBits(y, expected));
    // Split into row ranges (as threads take them): the same bits.
    std::fill(y.begin(), y.end(), -7.0f);
    const int64_t middle = uniform(0, static_cast<int>(rows));
    glue::MaxPool(g, x.data(), y.data(), clamp, middle, rows);
    glue::MaxPool(g, x.data(), y.data(), clamp, 0, middle);
    EXPECT_TRUE(SameBits(y, expected));
  }
}

BITLITE_TEST(PadConcatSplitAndSliceMoveElements) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};  // [2, 3]
  std::vector<float> padded(4 * 4);
  glue::Pad({2, 3}, {1, 1, 0, 1}, x.data(), padded.data());
  EXPECT_TRUE(SameBits(padded, {0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0}));
  const std::vector<float> b = {7, 8};  // [2, 1]
  const float* parts[] = {x.data(), b.data()};
  std::vector<float> joined(8);
  glue::Concatenate(2, 1, {3, 1}, parts, joined.data());
  EXPECT_TRUE(SameBits(joined, {1, 2, 3, 7, 4, 5, 6, 8}));
  std::vector<float> first(6), second(2);
  float* outs[] = {first.data(), second.data()};
  glue::Split(2, 1, {3, 1}, joined.data(), outs);
  EXPECT_TRUE(SameBits(first, x) && SameBits(second, b));
  // x[:, ::2] of [2, 3] as 5-dim [1, 1, 1, 2, 3].
  const int in[5] = {1, 1, 1, 2, 3}, begin[5] = {0, 0, 0, 0, 0}, stride[5] = {1, 1, 1, 1, 2},
            out_shape[5] = {1, 1, 1, 2, 2};
  std::vector<float> sliced(4);
  glue::StridedSlice(in, begin, stride, out_shape, x.data(), sliced.data());
  EXPECT_TRUE(SameBits(sliced, {1, 3, 4, 6}));
}

// Values worked out by hand from TFLite's GetNearestNeighbor: floor(out * in / size), with a
// half pixel floor((out + 0.5) * in / size), with aligned corners
// round(out * (in - 1) / (size - 1)) (halves away from zero), each capped at in - 1.
BITLITE_TEST(NearestSourceIsTflitesGetNearestNeighbor) {
  auto sources = [](int in, int size, bool align, bool half) {
    std::vector<int> indices;
    for (int i = 0; i < size; ++i) indices.push_back(glue::NearestSource(i, in, size, align, half));
    return indices;
  };
  EXPECT_TRUE(sources(2, 4, false, false) == (std::vector<int>{0, 0, 1, 1}));
  EXPECT_TRUE(sources(2, 4, false, true) == (std::vector<int>{0, 0, 1, 1}));
  EXPECT_TRUE(sources(3, 5, false, false) == (std::vector<int>{0, 0, 1, 1, 2}));
  EXPECT_TRUE(sources(3, 5, false, true) == (std::vector<int>{0, 0, 1, 2, 2}));
  EXPECT_TRUE(sources(3, 5, true, false) == (std::vector<int>{0, 1, 1, 2, 2}));
  EXPECT_TRUE(sources(5, 2, false, false) == (std::vector<int>{0, 2}));
  EXPECT_TRUE(sources(5, 2, false, true) == (std::vector<int>{1, 3}));
  EXPECT_TRUE(sources(5, 2, true, false) == (std::vector<int>{0, 4}));
  EXPECT_TRUE(sources(4, 1, true, false) == (std::vector<int>{0}));  // one output: in / size
}

BITLITE_TEST(ResizeNearestCopiesWholePixels) {
  // x [2, 2, 3, 2]: value = 100 b + 10 row + 2 col + channel.
  std::vector<float> x;
  for (int b = 0; b < 2; ++b) {
    for (int row = 0; row < 2; ++row) {
      for (int col = 0; col < 3; ++col) {
        for (int c = 0; c < 2; ++c) x.push_back(100.0f * b + 10.0f * row + 2.0f * col + c);
      }
    }
  }
  const std::vector<int> rows = {1, 0, 1}, cols = {2, 2};
  std::vector<float> y(2 * 3 * 2 * 2, -1.0f);
  glue::ResizeNearest(2, 2, 3, 2, rows, cols, x.data(), y.data());
  EXPECT_TRUE(SameBits(y, {14, 15, 14, 15, 4, 5, 4, 5, 14, 15, 14, 15,
                           114, 115, 114, 115, 104, 105, 104, 105, 114, 115, 114, 115}));
}

BITLITE_TEST(LeakyReluKeepsZeroSignsAndSpecialValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {2.0f, -2.0f, 0.0f, -0.0f, INFINITY, -INFINITY, -1e-45f};
  std::vector<float> y(x.size());
  glue::LeakyRelu(x.data(), y.data(), static_cast<int64_t>(x.size()), 0.25f);
  EXPECT_TRUE(SameBits(y, {2.0f, -0.5f, 0.0f, -0.0f, INFINITY, -INFINITY, -0.0f}));
  float n = nan, out = 0;
  glue::LeakyRelu(&n, &out, 1, 0.25f);
  EXPECT_TRUE(std::isnan(out));
}

// x [1, 5, 6, 3] -> BitliteConv2D -> conv [1, 5, 3, 2] -> ADD(+offset [2], RELU6)
// -> MAX_POOL 2x2 SAME stride 1 -> RESHAPE [-1, 30] -> y.
struct GlueGraph {
  FakeInterpreter interpreter;
  int x, w, conv, offset, sum, pooled, shape, y;
  int conv_node, add_node, pool_node, reshape_node;
  explicit GlueGraph(int activation = kTfLiteActRelu6) {
    x = interpreter.AddFloatTensor({1, 5, 6, 3});
    std::vector<uint8_t> packed(14);
    for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<uint8_t>(i * 37 + 11);
    packed[6] &= 0x3f;
    packed[13] &= 0x3f;
    w = interpreter.AddWeights(packed, 2);
    conv = interpreter.AddFloatTensor({1, 5, 3, 2});
    const std::vector<float> offset_values = {0.75f, -0.5f};
    std::vector<uint8_t> bytes(8);
    std::memcpy(bytes.data(), offset_values.data(), 8);
    offset = interpreter.AddConstantTensor(kTfLiteFloat32, kTfLiteMmapRo, {2}, bytes);
    sum = interpreter.AddFloatTensor({1, 5, 3, 2});
    pooled = interpreter.AddFloatTensor({1, 5, 3, 2});
    const int32_t shape_values[2] = {-1, 30};
    std::vector<uint8_t> shape_bytes(8);
    std::memcpy(shape_bytes.data(), shape_values, 8);
    shape = interpreter.AddConstantTensor(kTfLiteInt32, kTfLiteMmapRo, {2}, shape_bytes);
    y = interpreter.AddFloatTensor({1, 30});
    conv_node = interpreter.AddNode("BitliteConv2D", {x, w}, {conv}, ValidOptions(true).Finish());
    TfLiteAddParams add{static_cast<TfLiteFusedActivation>(activation)};
    add_node = interpreter.AddBuiltinNode(kTfLiteBuiltinAdd, {conv, offset}, {sum}, add);
    TfLitePoolParams pool{};
    pool.padding = kTfLitePaddingSame;
    pool.stride_width = pool.stride_height = 1;
    pool.filter_width = pool.filter_height = 2;
    pool_node = interpreter.AddBuiltinNode(kTfLiteBuiltinMaxPool2d, {sum}, {pooled}, pool);
    reshape_node = interpreter.AddBuiltinNode(kTfLiteBuiltinReshape, {pooled, shape}, {y});
    interpreter.Fill(x, -1.0f, 0.07f);
  }

  std::vector<int> Claimed(bool claim_builtins, std::string* error) {
    ClaimedNodes claimed;
    if (!FindClaimedNodes(interpreter.context(), claim_builtins, &claimed, error)) return {};
    return claimed.nodes;
  }
};

BITLITE_TEST(PartitionOfBitliteAndGlueMatchesNodeByNode) {
  std::string error;
  GlueGraph glued;
  EXPECT_TRUE(glued.Claimed(false, &error) == std::vector<int>{glued.conv_node});
  const std::vector<int> claimed = glued.Claimed(true, &error);
  ASSERT_TRUE(claimed.size() == 4);
  // One partition: conv, sum and pooled live only inside it (liveness-shared buffers).
  EXPECT_EQ(glued.interpreter.Run(claimed, {glued.x, glued.w, glued.offset, glued.shape},
                                  {glued.y}, /*resizes_before_invoke=*/1),
            "ok");
  // The same nodes one kernel each, every tensor the runtime's.
  GlueGraph apart;
  for (int node : claimed) {
    const std::vector<std::vector<int>> io = {
        {apart.x, apart.w, apart.conv}, {apart.conv, apart.offset, apart.sum},
        {apart.sum, apart.pooled}, {apart.pooled, apart.shape, apart.y}};
    std::vector<int> inputs = io[node];
    const int output = inputs.back();
    inputs.pop_back();
    EXPECT_EQ(apart.interpreter.Run({node}, inputs, {output}), "ok");
  }
  const std::vector<float> y = glued.interpreter.Values(glued.y);
  EXPECT_TRUE(SameBits(y, apart.interpreter.Values(apart.y)));
  EXPECT_TRUE(glued.interpreter.Shape(glued.y) == (std::vector<int>{1, 30}));
  // RELU6 and max pooling leave values in [0, 6], and not all zero.
  float most = 0;
  for (float v : y) most = std::max(most, v);
  EXPECT_TRUE(most > 0 && most <= 6);
}

// The pooling options' own activation (NONE here) is the one applied, whatever the padding.
BITLITE_TEST(MaxPoolReadsItsOwnFusedActivation) {
  GlueGraph graph(kTfLiteActNone);
  TfLitePoolParams pool{};
  pool.padding = kTfLitePaddingValid;  // 2, the value of RELU_N1_TO_1 among activations
  pool.stride_width = pool.stride_height = 1;
  pool.filter_width = pool.filter_height = 2;
  pool.activation = kTfLiteActNone;
  const int pooled = graph.interpreter.AddFloatTensor({1, 4, 2, 2});
  const int node = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinMaxPool2d, {graph.sum},
                                                    {pooled}, pool);
  graph.interpreter.MarkGraphOutput(graph.sum);
  EXPECT_EQ(graph.interpreter.Run({graph.conv_node, graph.add_node, node},
                                  {graph.x, graph.w, graph.offset}, {graph.sum, pooled}),
            "ok");
  const std::vector<float> sum = graph.interpreter.Values(graph.sum);  // [1, 5, 3, 2]
  std::vector<float> expected;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 2; ++x) {
      for (int c = 0; c < 2; ++c) {
        float most = std::numeric_limits<float>::lowest();
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) most = std::max(most, sum[((y + dy) * 3 + x + dx) * 2 + c]);
        }
        expected.push_back(most);
      }
    }
  }
  EXPECT_TRUE(SameBits(graph.interpreter.Values(pooled), expected));
  float largest = 0;
  for (float v : expected) largest = std::max(largest, std::fabs(v));
  EXPECT_TRUE(largest > 1.0f);  // outside RELU_N1_TO_1's range: a misread activation shows
}

BITLITE_TEST(UnsupportedGlueIsLeftToTheRuntime) {
  std::string error;
  {
    GlueGraph graph(kTfLiteActTanh);  // an activation the delegate does not run
    EXPECT_TRUE(graph.Claimed(true, &error) == std::vector<int>{graph.conv_node});
  }
  {
    GlueGraph graph;  // an int32 input
    graph.interpreter.tensor(graph.offset).type = kTfLiteInt32;
    EXPECT_TRUE(graph.Claimed(true, &error) == std::vector<int>{graph.conv_node});
  }
  {
    GlueGraph graph;  // broadcasting [1, 5, 3, 2] with [5, 1, 1]: the strided form, claimed
    const int other = graph.interpreter.AddConstantTensor(kTfLiteFloat32, kTfLiteMmapRo,
                                                          {5, 1, 1}, std::vector<uint8_t>(20));
    const int out = graph.interpreter.AddFloatTensor({1, 5, 3, 2});
    TfLiteAddParams add{kTfLiteActNone};
    graph.interpreter.AddBuiltinNode(kTfLiteBuiltinMul, {graph.y, other}, {out}, add);
    const std::vector<int> claimed = graph.Claimed(true, &error);
    EXPECT_EQ(claimed.size(), size_t{5});
  }
  {
    GlueGraph graph;  // an ADD without options, a dynamic output
    graph.interpreter.AddBuiltinNode(kTfLiteBuiltinAdd, {graph.y, graph.y},
                                     {graph.interpreter.AddFloatTensor({1, 30})});
    const int dynamic = graph.interpreter.AddFloatTensor({1, 30});
    graph.interpreter.tensor(dynamic).allocation_type = kTfLiteDynamic;
    graph.interpreter.AddBuiltinNode(kTfLiteBuiltinRound, {graph.y}, {dynamic});
    EXPECT_EQ(graph.Claimed(true, &error).size(), size_t{4});
    // Arena again, so that the fake frees the data it allocated for the tensor.
    graph.interpreter.tensor(dynamic).allocation_type = kTfLiteArenaRw;
  }
  {
    GlueGraph graph;  // a glue node reading a tensor a later node writes: not claimed
    const int later = graph.interpreter.AddFloatTensor({1, 30});
    const int out = graph.interpreter.AddFloatTensor({1, 30});
    graph.interpreter.AddBuiltinNode(kTfLiteBuiltinRound, {later}, {out});
    graph.interpreter.AddBuiltinNode(kTfLiteBuiltinRound, {graph.y}, {later});
    const std::vector<int> claimed = graph.Claimed(true, &error);
    EXPECT_EQ(claimed.size(), size_t{5});
  }
}

BITLITE_TEST(MalformedGlueNodesAreRefusedAtPrepare) {
  {
    GlueGraph graph;  // shapes that do not broadcast, forced into a kernel
    const int other = graph.interpreter.AddFloatTensor({1, 7});
    const int out = graph.interpreter.AddFloatTensor({1, 30});
    TfLiteAddParams add{kTfLiteActNone};
    const int node =
        graph.interpreter.AddBuiltinNode(kTfLiteBuiltinAdd, {graph.y, other}, {out}, add);
    EXPECT_CONTAINS(graph.interpreter.Run({node}, {graph.y, other}, {out}), "do not broadcast");
  }
  {
    GlueGraph graph;  // RESHAPE to a shape of other size
    const int32_t values[2] = {7, 4};
    std::vector<uint8_t> bytes(8);
    std::memcpy(bytes.data(), values, 8);
    const int shape = graph.interpreter.AddConstantTensor(kTfLiteInt32, kTfLiteMmapRo, {2}, bytes);
    const int out = graph.interpreter.AddFloatTensor({7, 4});
    const int node = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinReshape, {graph.y, shape}, {out});
    EXPECT_CONTAINS(graph.interpreter.Run({node}, {graph.y, shape}, {out}), "cannot reshape");
  }
  {
    GlueGraph graph;  // RESIZE_NEAREST_NEIGHBOR of the rank-2 [1, 30]
    const int32_t values[2] = {4, 4};
    std::vector<uint8_t> bytes(8);
    std::memcpy(bytes.data(), values, 8);
    const int size = graph.interpreter.AddConstantTensor(kTfLiteInt32, kTfLiteMmapRo, {2}, bytes);
    const int out = graph.interpreter.AddFloatTensor({1, 4, 4, 30});
    TfLiteResizeNearestNeighborParams params{false, true};
    const int node = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinResizeNearestNeighbor,
                                                      {graph.y, size}, {out}, params);
    EXPECT_CONTAINS(graph.interpreter.Run({node}, {graph.y, size}, {out}), "must have rank 4");
    const int leaky = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinLeakyRelu, {graph.y}, {out});
    EXPECT_CONTAINS(graph.interpreter.Run({leaky}, {graph.y}, {out}), "has no options");
  }
  {
    GlueGraph graph;  // wrong input counts, missing options, missing tensors
    const int out = graph.interpreter.AddFloatTensor({1, 30});
    const int add = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinAdd, {graph.y}, {out});
    EXPECT_CONTAINS(graph.interpreter.Run({add}, {graph.y}, {out}), "must have 2 input(s)");
    const int pool = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinMaxPool2d, {graph.y}, {out});
    EXPECT_CONTAINS(graph.interpreter.Run({pool}, {graph.y}, {out}), "has no options");
    TfLitePoolParams params{};
    params.padding = kTfLitePaddingValid;
    params.stride_width = params.stride_height = 1;
    params.filter_width = params.filter_height = 2;
    const int rank2 = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinMaxPool2d, {graph.y}, {out},
                                                       params);
    EXPECT_CONTAINS(graph.interpreter.Run({rank2}, {graph.y}, {out}), "rank 4");
    const int missing = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinRound, {999}, {out});
    EXPECT_CONTAINS(graph.interpreter.Run({missing}, {}, {out}), "missing");
    TfLiteSplitParams split{3};
    const int axis = graph.interpreter.AddConstantTensor(kTfLiteInt32, kTfLiteMmapRo, {},
                                                         std::vector<uint8_t>(4));
    const int a = graph.interpreter.AddFloatTensor({1, 10});
    const int b = graph.interpreter.AddFloatTensor({1, 10});
    const int c = graph.interpreter.AddFloatTensor({1, 10});
    // Splitting axis 0 (size 1) in 3.
    const int node = graph.interpreter.AddBuiltinNode(kTfLiteBuiltinSplit, {axis, graph.y},
                                                      {a, b, c}, split);
    EXPECT_CONTAINS(graph.interpreter.Run({node}, {axis, graph.y}, {a, b, c}), "cannot split");
  }
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
