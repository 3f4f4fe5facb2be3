// The delegate kernel against a fake interpreter: wiring of several nodes into one kernel
// (with an intermediate tensor only the kernel sees), resizes, malformed graphs, residual
// ADDs fused into convolutions, and many kernels created and destroyed (leaks).
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define BITLITE_HAVE_ALLOCATOR_STATS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BITLITE_HAVE_ALLOCATOR_STATS 1
#endif
#endif
#ifdef BITLITE_HAVE_ALLOCATOR_STATS
// ASan's runtime interface (sanitizer/allocator_interface.h, a header GCC does not ship).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

#include "conv_test_cases.h"
#include "fake_interpreter.h"
#include "flexbuffer_test_writer.h"
#include "glue/glue_kernels.h"
#include "partition_op.h"
#include "test_harness.h"
#include "tflite_tensors.h"

namespace bitlite {
namespace testing {
namespace {

// ValidOptions(): 3x3 SAME conv 3 -> 2 with stride 1x2, W2A4; K = 27, row_bytes = 7.
std::vector<uint8_t> ConvWeights() {
  std::vector<uint8_t> packed(14);
  for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<uint8_t>(i * 37 + 11);
  packed[6] &= 0x3f;  // 54 bits used of row 0's last byte
  packed[13] &= 0x3f;
  return packed;
}

// FullyConnected 2 -> 2, W2A4 (ValidOptions(false) with in_channels 2): K = 2, row_bytes = 1.
std::vector<uint8_t> FullyConnectedOptions() {
  return ValidOptions(false).Remove("in_channels").Int("in_channels", 2).Finish();
}

struct Graph {
  FakeInterpreter interpreter;
  int x, conv_w, mid, fc_w, y;
  Graph() {
    x = interpreter.AddFloatTensor({1, 5, 6, 3});
    conv_w = interpreter.AddWeights(ConvWeights(), 2);
    mid = interpreter.AddFloatTensor({1, 5, 3, 2});
    fc_w = interpreter.AddWeights({0x0b, 0x04}, 2);
    y = interpreter.AddFloatTensor({1, 5, 3, 2});
    interpreter.AddNode("BitliteConv2D", {x, conv_w}, {mid}, ValidOptions(true).Finish());
    interpreter.AddNode("BitliteFullyConnected", {mid, fc_w}, {y}, FullyConnectedOptions());
    interpreter.Fill(x, -1.0f, 0.07f);
  }
};

BITLITE_TEST(InternalIntermediateMatchesSeparateKernels) {
  Graph separate;
  EXPECT_EQ(separate.interpreter.Run({0}, {separate.x, separate.conv_w}, {separate.mid}), "ok");
  EXPECT_EQ(separate.interpreter.Run({1}, {separate.mid, separate.fc_w}, {separate.y}), "ok");
  Graph fused;
  // One kernel for both nodes: `mid` is neither an input nor an output of the subset.
  EXPECT_EQ(fused.interpreter.Run({0, 1}, {fused.x, fused.conv_w, fused.fc_w}, {fused.y}), "ok");
  EXPECT_TRUE(fused.interpreter.Values(fused.y) == separate.interpreter.Values(separate.y));
  EXPECT_TRUE(fused.interpreter.Shape(fused.y) == std::vector<int>({1, 5, 3, 2}));
}

BITLITE_TEST(FollowsInputResizes) {
  Graph graph;
  FakeInterpreter& interpreter = graph.interpreter;
  interpreter.SetDims(&interpreter.tensor(graph.x), NewIntArray({3, 4, 7, 3}));
  interpreter.Fill(graph.x, 0.5f, -0.03f);
  EXPECT_EQ(interpreter.Run({0, 1}, {graph.x, graph.conv_w, graph.fc_w}, {graph.y}, 2), "ok");
  EXPECT_TRUE(interpreter.Shape(graph.y) == std::vector<int>({3, 4, 4, 2}));
}

BITLITE_TEST(ReportsMalformedNodes) {
  {
    Graph graph;  // x index past the tensor array
    graph.interpreter.AddNode("BitliteConv2D", {99, graph.conv_w}, {graph.y},
                              ValidOptions(true).Finish());
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {99, graph.conv_w}, {graph.y}),
                    "bitlite: node 2 (BitliteConv2D): input x (tensor 99) is missing");
  }
  {
    Graph graph;  // weights that are not constant
    graph.interpreter.AddNode("BitliteConv2D", {graph.x, graph.y}, {graph.mid},
                              ValidOptions(true).Finish());
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {graph.x, graph.y}, {graph.mid}),
                    "weights w (tensor 4) must be uint8, got float32");
  }
  {
    Graph graph;  // writes into constant weights
    graph.interpreter.AddNode("BitliteConv2D", {graph.x, graph.conv_w}, {graph.fc_w},
                              ValidOptions(true).Finish());
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {graph.x, graph.conv_w}, {graph.fc_w}),
                    "output (tensor 3) must be float32, got uint8");
  }
  {
    Graph graph;  // reads a tensor of the subset that no earlier node writes
    EXPECT_CONTAINS(graph.interpreter.Run({1, 0}, {graph.x, graph.conv_w, graph.fc_w}, {graph.y}),
                    "bitlite: node 1 (BitliteFullyConnected): input (tensor 2) is not computed "
                    "before this node");
  }
  {
    Graph graph;  // options cut short
    std::vector<uint8_t> options = ValidOptions(true).Finish();
    options.resize(options.size() / 2);
    graph.interpreter.AddNode("BitliteConv2D", {graph.x, graph.conv_w}, {graph.mid}, options);
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {graph.x, graph.conv_w}, {graph.mid}),
                    "custom options are not a valid FlexBuffer map");
  }
  {
    Graph graph;  // not a bitlite node at all
    graph.interpreter.AddNode("Other", {graph.x, graph.conv_w}, {graph.mid}, {});
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {graph.x, graph.conv_w}, {graph.mid}),
                    "bitlite: node 2: is not a bitlite op");
  }
}

// A W2A4 3x3 conv 3 -> 2 (ValidOptions) with its dilations and stride replaced, on input
// `shape`, run with kernel `choice`. Returns the errors or "ok" and the output in *y.
std::string RunDilated(const std::vector<int>& shape, int dilation, int stride,
                       KernelChoice choice, std::vector<float>* y) {
  FakeInterpreter interpreter;
  const int x = interpreter.AddFloatTensor(shape);
  const int w = interpreter.AddWeights(ConvWeights(), 2);
  const int out = interpreter.AddFloatTensor({1, 1, 1, 2});
  interpreter.AddNode("BitliteConv2D", {x, w}, {out},
                      ValidOptions(true)
                          .Remove("dilation_h").Int("dilation_h", dilation)
                          .Remove("dilation_w").Int("dilation_w", dilation)
                          .Remove("stride_h").Int("stride_h", stride)
                          .Remove("stride_w").Int("stride_w", stride)
                          .Finish());
  interpreter.Fill(x, -0.4f, 0.11f);
  interpreter.delegate_options().kernel = choice;
  const std::string result = interpreter.Run({0}, {x, w}, {out});
  *y = interpreter.Values(out);
  return result;
}

// The class of the out-of-bounds write of issue 9: SAME windows whose dilation reaches far
// past the input. Every kernel choice runs on the live taps only and equals the reference,
// including windows with no live tap at all (the output stage of 0).
BITLITE_TEST(HugeDilationsRunOnEveryKernelLikeTheReference) {
  const std::vector<std::vector<int>> shapes = {{1, 1, 1, 3}, {1, 2, 2, 3}, {2, 3, 1, 3}};
  for (const std::vector<int>& shape : shapes) {
    for (int dilation : {1 << 13, 1 << 30, INT_MAX}) {
      for (int stride : {1, INT_MAX}) {
        std::vector<float> expected;
        EXPECT_EQ(RunDilated(shape, dilation, stride, KernelChoice::kReference, &expected), "ok");
        for (KernelChoice choice : {KernelChoice::kAuto, KernelChoice::kBitserial,
                                    KernelChoice::kInt, KernelChoice::kLut}) {
          std::vector<float> y;
          EXPECT_EQ(RunDilated(shape, dilation, stride, choice, &y), "ok");
          EXPECT_TRUE(BitwiseEqual(y, expected));
        }
      }
    }
  }
}

// An 8-bit layer as a bitlite op (W8A8, FORMAT.md): ValidOptions()'s conv with int8 weight
// bytes (row_bytes = K = 27), on both activation grids, under every kernel choice (bitserial
// and lut fall back to an int kernel) gives the reference's output; a weight tensor sized for
// sub-byte rows is refused.
BITLITE_TEST(RunsW8A8UnderEveryKernelChoiceLikeTheReference) {
  std::vector<uint8_t> weights(2 * 27);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<uint8_t>(i * 97 + 128);
  for (bool is_signed : {false, true}) {
    const std::vector<uint8_t> options = ValidOptions(true)
                                             .Remove("weight_bits")
                                             .Remove("activation_bits")
                                             .Remove("activation_signed")
                                             .Int("weight_bits", 8)
                                             .Int("activation_bits", 8)
                                             .Bool("activation_signed", is_signed)
                                             .Finish();
    std::vector<float> expected;
    for (KernelChoice choice : {KernelChoice::kReference, KernelChoice::kAuto,
                                KernelChoice::kBitserial, KernelChoice::kInt, KernelChoice::kLut}) {
      FakeInterpreter interpreter;
      const int x = interpreter.AddFloatTensor({1, 5, 6, 3});
      const int w = interpreter.AddWeights(weights, 2);
      const int y = interpreter.AddFloatTensor({1, 5, 3, 2});
      interpreter.AddNode("BitliteConv2D", {x, w}, {y}, options);
      interpreter.Fill(x, -3.0f, 0.37f);  // codes from clipped low to clipped high
      DelegateOptions delegate_options;
      delegate_options.kernel = choice;
      interpreter.delegate_options() = delegate_options;
      EXPECT_EQ(interpreter.Run({0}, {x, w}, {y}), "ok");
      if (choice == KernelChoice::kReference) {
        expected = interpreter.Values(y);
      } else {
        EXPECT_TRUE(BitwiseEqual(interpreter.Values(y), expected));
      }
    }
    FakeInterpreter interpreter;
    const int x = interpreter.AddFloatTensor({1, 5, 6, 3});
    const int w = interpreter.AddWeights(ConvWeights(), 2);  // W2 rows: 7 bytes
    const int y = interpreter.AddFloatTensor({1, 5, 3, 2});
    interpreter.AddNode("BitliteConv2D", {x, w}, {y}, options);
    EXPECT_CONTAINS(interpreter.Run({0}, {x, w}, {y}), "must have shape [2, 27]");
  }
}

// ValidTransposeOptions() with 2 input channels: K = 18, row_bytes = 5.
std::vector<uint8_t> TransposeWeights() {
  std::vector<uint8_t> packed(10);
  for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<uint8_t>(i * 53 + 7);
  packed[4] &= 0x0f;  // 36 bits used of each row's last byte
  packed[9] &= 0x0f;
  return packed;
}

// A BitliteConv2DTranspose (ValidTransposeOptions with 2 input channels, or `options`) on input
// `shape` under kernel `choice`, between Graph's two ops (a W2A4 conv 3 -> 2 before it, with
// stride 1; the FullyConnected after it), so that DecideCodes sees it: codes_between_ops on or
// off gives the same outputs. Returns "ok" or the errors.
std::string RunTransposed(const std::vector<int>& shape, const FlexMapWriter& options,
                          KernelChoice choice, bool codes_between_ops, std::vector<float>* y,
                          std::vector<int>* y_shape) {
  FakeInterpreter interpreter;
  const int x = interpreter.AddFloatTensor(shape);
  const int conv_w = interpreter.AddWeights(ConvWeights(), 2);
  const int mid = interpreter.AddFloatTensor({1, 1, 1, 2});
  const int up_w = interpreter.AddWeights(TransposeWeights(), 2);
  const int up = interpreter.AddFloatTensor({1, 1, 1, 2});
  const int fc_w = interpreter.AddWeights({0x0b, 0x04}, 2);
  const int out = interpreter.AddFloatTensor({1, 1, 1, 2});
  interpreter.AddNode("BitliteConv2D", {x, conv_w}, {mid},
                      ValidOptions(true).Remove("stride_w").Int("stride_w", 1).Finish());
  interpreter.AddNode("BitliteConv2DTranspose", {mid, up_w}, {up},
                      FlexMapWriter(options).Remove("in_channels").Int("in_channels", 2).Finish());
  interpreter.AddNode("BitliteFullyConnected", {up, fc_w}, {out}, FullyConnectedOptions());
  interpreter.Fill(x, -0.9f, 0.13f);
  interpreter.delegate_options().kernel = choice;
  interpreter.delegate_options().codes_between_ops = codes_between_ops;
  const std::string result = interpreter.Run({0, 1, 2}, {x, conv_w, up_w, fc_w}, {out});
  *y = interpreter.Values(out);
  *y_shape = interpreter.Shape(out);
  return result;
}

// Codes beside floats (FORMAT.md): a glue ADD's sum that a second ADD reads as floats, two
// FullyConnected layers of one grid (one before that ADD, one after) and one of another grid.
// Returns the four outputs one after the other. Every code reaches an output: a wrong one
// shows.
std::vector<float> RunSideCodes(KernelChoice choice, bool codes_between_ops, int threads) {
  FakeInterpreter interpreter;
  const std::vector<int> shape = {2, 5, 3, 2};
  const int x = interpreter.AddFloatTensor(shape);
  const int sum = interpreter.AddFloatTensor(shape);
  // Weight codes (1, 1) and (-2, 1): both input channels reach output channel 0.
  const int fc_w = interpreter.AddWeights({0x0f, 0x0c}, 2);
  std::vector<int> outputs;
  for (int i = 0; i < 4; ++i) outputs.push_back(interpreter.AddFloatTensor(shape));
  const std::vector<uint8_t> other_grid = ValidOptions(false)
                                              .Remove("in_channels")
                                              .Int("in_channels", 2)
                                              .Remove("input_scale")
                                              .Float("input_scale", 0.3)
                                              .Finish();
  interpreter.AddBuiltinNode(kTfLiteBuiltinAdd, {x, x}, {sum}, TfLiteAddParams{kTfLiteActRelu});
  interpreter.AddNode("BitliteFullyConnected", {sum, fc_w}, {outputs[0]}, FullyConnectedOptions());
  interpreter.AddNode("BitliteFullyConnected", {sum, fc_w}, {outputs[1]}, other_grid);
  interpreter.AddBuiltinNode(kTfLiteBuiltinAdd, {sum, x}, {outputs[2]},
                             TfLiteAddParams{kTfLiteActNone});
  interpreter.AddNode("BitliteFullyConnected", {sum, fc_w}, {outputs[3]}, FullyConnectedOptions());
  // x from -0.2 by 0.025 (Fill repeats every 37 elements): sums of 0 .. 1.4, codes 0 .. 14
  // of the readers' step 0.1, none clipped.
  interpreter.Fill(x, -0.2f, 0.025f);
  interpreter.delegate_options().kernel = choice;
  interpreter.delegate_options().codes_between_ops = codes_between_ops;
  std::vector<float> y;
  if (interpreter.Run({0, 1, 2, 3, 4}, {x, fc_w}, outputs, threads) != "ok") return y;
  for (int output : outputs) {
    const std::vector<float> values = interpreter.Values(output);
    y.insert(y.end(), values.begin(), values.end());
  }
  return y;
}

BITLITE_TEST(CodesBesideFloatsChangeNothing) {
  const std::vector<float> expected = RunSideCodes(KernelChoice::kReference, false, 1);
  EXPECT_EQ(expected.size(), size_t{4 * 60});
  for (KernelChoice choice : {KernelChoice::kAuto, KernelChoice::kBitserial, KernelChoice::kInt,
                              KernelChoice::kLut}) {
    for (bool codes : {false, true}) {
      for (int threads : {1, 3}) EXPECT_TRUE(RunSideCodes(choice, codes, threads) == expected);
    }
  }
}

BITLITE_TEST(TransposedConvRunsOnEveryKernelChoiceLikeTheReference) {
  for (const std::vector<int>& shape :
       std::vector<std::vector<int>>{{1, 1, 1, 3}, {2, 4, 5, 3}, {1, 7, 2, 3}}) {
    std::vector<float> expected, y;
    std::vector<int> expected_shape, y_shape;
    ASSERT_TRUE(RunTransposed(shape, ValidTransposeOptions(), KernelChoice::kReference, false,
                              &expected, &expected_shape) == "ok");
    // 'same' with stride 2 doubles the spatial size.
    EXPECT_TRUE(expected_shape == std::vector<int>({shape[0], 2 * shape[1], 2 * shape[2], 2}));
    for (KernelChoice choice : {KernelChoice::kAuto, KernelChoice::kBitserial,
                                KernelChoice::kInt, KernelChoice::kLut}) {
      for (bool codes : {false, true}) {
        EXPECT_EQ(RunTransposed(shape, ValidTransposeOptions(), choice, codes, &y, &y_shape),
                  "ok");
        EXPECT_TRUE(y_shape == expected_shape && BitwiseEqual(y, expected));
      }
    }
  }
}

BITLITE_TEST(ReportsMalformedTransposedConvs) {
  std::vector<float> y;
  std::vector<int> shape;
  const std::string prefix = "bitlite: node 1 (BitliteConv2DTranspose): ";
  EXPECT_CONTAINS(RunTransposed({1, 3, 3, 3},
                                ValidTransposeOptions().Remove("pad_top").Int("pad_top", 40),
                                KernelChoice::kAuto, true, &y, &shape),
                  prefix + "input [1, 3, 3, 2] gives a transposed output of -34x6 pixels");
  EXPECT_CONTAINS(RunTransposed({1, 3, 3, 3},
                                ValidTransposeOptions().Remove("pad_bottom").Int("pad_bottom", -2),
                                KernelChoice::kAuto, true, &y, &shape),
                  prefix + "pad_bottom = -2 is out of range [-1, 2147483647]");
  EXPECT_CONTAINS(RunTransposed({1, 3, 3, 3}, ValidTransposeOptions().Int("dilation_h", 1),
                                KernelChoice::kReference, true, &y, &shape),
                  prefix + "unknown key 'dilation_h'");
  {
    FakeInterpreter interpreter;  // an input of rank 3
    const int x = interpreter.AddFloatTensor({4, 5, 3});
    const int w = interpreter.AddWeights(ConvWeights(), 2);
    const int out = interpreter.AddFloatTensor({1, 1, 1, 2});
    interpreter.AddNode("BitliteConv2DTranspose", {x, w}, {out}, ValidTransposeOptions().Finish());
    EXPECT_CONTAINS(interpreter.Run({0}, {x, w}, {out}),
                    "bitlite: node 0 (BitliteConv2DTranspose): input must be [N, H, W, C_in], "
                    "got [4, 5, 3]");
  }
  {
    FakeInterpreter interpreter;  // weights of one row for two output channels
    const int x = interpreter.AddFloatTensor({1, 2, 2, 3});
    const int w = interpreter.AddWeights(std::vector<uint8_t>(7, 0), 1);
    const int out = interpreter.AddFloatTensor({1, 1, 1, 2});
    interpreter.AddNode("BitliteConv2DTranspose", {x, w}, {out}, ValidTransposeOptions().Finish());
    EXPECT_CONTAINS(interpreter.Run({0}, {x, w}, {out}), "must have shape [2, 7]");
  }
}

// ValidOptions()'s conv with activation NONE (outputs of both signs, for the ADD's clamps)
// and channel 1's multiplier `nan`: every output of that channel is that NaN, and its sum
// with a NaN of the other operand keeps the payload the operand order picks.
std::vector<uint8_t> ResidualConvOptions(float nan) {
  return ValidOptions(true)
      .Remove("activation")
      .String("activation", "NONE")
      .Remove("multiplier")
      .Floats("multiplier", {0.5f, nan})
      .Finish();
}

// What a node of the fused graphs below may be placed between the conv and its ADD.
enum class Between { kNothing, kRound, kConv };

// x [1, 5, 6, 3] -> BitliteConv2D (ResidualConvOptions) -> conv [1, 5, 3, 2], then ADD with
// `activation` of conv and other (other first where `residual_first`) -> sum, the partition's
// output. `other` [1, 5, 3, 2] is a partition input, or the output of a node between the conv
// and the ADD in plan order: ROUND of z [1, 5, 3, 2], or a second conv of z [1, 5, 6, 3].
struct ResidualGraph {
  // The NaNs its operands carry: the convs' (their multiplier's, below) and FillResidual's.
  static constexpr uint32_t kConvNaN = 0x7fc00123u;
  static constexpr uint32_t kSecondConvNaN = 0xffc00456u;
  static constexpr uint32_t kResidualNaNs[2] = {0x7fc00abcu, 0xffc00defu};
  FakeInterpreter interpreter;
  int x, w, conv, z = -1, other, sum;
  std::vector<int> nodes, inputs;

  ResidualGraph(int activation, bool residual_first, Between between = Between::kNothing) {
    x = interpreter.AddFloatTensor({1, 5, 6, 3});
    w = interpreter.AddWeights(ConvWeights(), 2);
    conv = interpreter.AddFloatTensor({1, 5, 3, 2});
    other = interpreter.AddFloatTensor({1, 5, 3, 2});
    sum = interpreter.AddFloatTensor({1, 5, 3, 2});
    inputs = {x, w};
    nodes.push_back(interpreter.AddNode("BitliteConv2D", {x, w}, {conv},
                                        ResidualConvOptions(FloatOfBits(kConvNaN))));
    if (between == Between::kNothing) {
      FillResidual(other);
      inputs.push_back(other);
    } else if (between == Between::kRound) {
      z = interpreter.AddFloatTensor({1, 5, 3, 2});
      FillResidual(z);
      nodes.push_back(interpreter.AddBuiltinNode(kTfLiteBuiltinRound, {z}, {other}));
    } else {
      z = interpreter.AddFloatTensor({1, 5, 6, 3});
      interpreter.Fill(z, 0.9f, -0.05f);
      nodes.push_back(interpreter.AddNode("BitliteConv2D", {z, w}, {other},
                                          ResidualConvOptions(FloatOfBits(kSecondConvNaN))));
    }
    if (z >= 0) inputs.push_back(z);
    const std::vector<int> operands =
        residual_first ? std::vector<int>{other, conv} : std::vector<int>{conv, other};
    nodes.push_back(interpreter.AddBuiltinNode(
        kTfLiteBuiltinAdd, operands, {sum},
        TfLiteAddParams{static_cast<TfLiteFusedActivation>(activation)}));
    interpreter.Fill(x, -1.0f, 0.07f);
  }

  // The other operand: a ramp across the clamps' bounds (-1.5 to 1.74) with NaNs of their
  // own payloads on channel 1 (where the conv's NaNs are), and on channel 0 infinities, 7
  // (past RELU6) and the largest float.
  void FillResidual(int tensor) {
    interpreter.Fill(tensor, -1.5f, 0.09f);
    float* values = interpreter.tensor(tensor).data.f;
    values[1] = FloatOfBits(kResidualNaNs[0]);
    values[3] = FloatOfBits(kResidualNaNs[1]);
    values[4] = INFINITY;
    values[6] = -INFINITY;
    values[8] = 7.0f;
    values[10] = FLT_MAX;
  }

  // Every node as one delegate kernel, prepared twice, with profiling on. Returns "ok" or the
  // errors, and in *ran the output tensor of each op the kernel ran (node_profile.h's lines,
  // in plan order): a node fused into another is not among them.
  std::string Run(KernelChoice choice, bool fuse_ops, std::vector<int>* ran) {
    char path[] = "/tmp/bitlite_fusion_profile_XXXXXX";
    const int file = mkstemp(path);
    if (file < 0) return "cannot create a profile file";
    close(file);
    DelegateOptions& options = interpreter.delegate_options();
    options.kernel = choice;
    options.fuse_ops = fuse_ops;
    options.profile_path = path;
    const std::string result = interpreter.Run(nodes, inputs, {sum}, 1);
    std::ifstream profile(path);
    ran->clear();
    for (std::string line; std::getline(profile, line);) ran->push_back(std::stoi(line));
    std::remove(path);
    return result;
  }
};

// An ADD's fused activation and its clamp (CalculateActivationRange).
struct AddActivation {
  int activation;
  glue::Clamp clamp;
};
const AddActivation kAddActivations[] = {
    {kTfLiteActNone, {std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max()}},
    {kTfLiteActRelu, {0.0f, std::numeric_limits<float>::max()}},
    {kTfLiteActReluN1To1, {-1.0f, 1.0f}},
    {kTfLiteActRelu6, {0.0f, 6.0f}}};

const KernelChoice kEveryKernelChoice[] = {KernelChoice::kReference, KernelChoice::kAuto,
                                           KernelChoice::kBitserial, KernelChoice::kInt,
                                           KernelChoice::kLut};

// ShapeElements: the product of the dims, -1 for a negative dim or a product past int64.
BITLITE_TEST(ShapeElementsRefusesNegativeDimsAndOverflow) {
  EXPECT_EQ(ShapeElements({}), int64_t{1});
  EXPECT_EQ(ShapeElements({2, 3, 5}), int64_t{30});
  EXPECT_EQ(ShapeElements({4, 0, -1}), int64_t{-1});
  EXPECT_EQ(ShapeElements({0, 1 << 30, 1 << 30, 1 << 30}), int64_t{0});
  EXPECT_EQ(ShapeElements({1 << 30, 1 << 30, 4}), int64_t{1} << 62);
  EXPECT_EQ(ShapeElements({1 << 30, 1 << 30, 8}), int64_t{-1});
  EXPECT_EQ(ShapeElements({1 << 30, 1 << 30, 1 << 30, 0}), int64_t{-1});
}

// Whether `sum` is `expected` bit for bit, but where both operands (`a`, `b`) are NaNs: then
// either one's (FORMAT.md: the payload of a NaN + NaN is not specified; compilers swap a
// vectorized add's operands).
bool SameSumsButNaNPayloads(const std::vector<float>& sum, const std::vector<float>& expected,
                            const std::vector<float>& a, const std::vector<float>& b) {
  if (sum.size() != expected.size() || a.size() != sum.size() || b.size() != sum.size()) {
    return false;
  }
  auto same = [](float x, float y) { return std::memcmp(&x, &y, sizeof(float)) == 0; };
  for (size_t i = 0; i < sum.size(); ++i) {
    const bool both_nan = std::isnan(a[i]) && std::isnan(b[i]);
    if (!same(sum[i], expected[i]) && !(both_nan && (same(sum[i], a[i]) || same(sum[i], b[i])))) {
      return false;
    }
  }
  return true;
}

// A residual ADD (of the conv's output and a partition input) runs inside the conv: the
// kernel runs one op, which writes the sum. With fuse_ops on and off, on every kernel choice
// (the reference one adds with the glue's ADD after the conv), for every activation and both
// operand orders, the sum is the glue's ADD of the conv's output alone, bit for bit, but for
// the payload of a NaN + NaN.
BITLITE_TEST(ResidualAddFusedIntoTheConvMatchesTheGlueAdd) {
  for (const AddActivation& add : kAddActivations) {
    for (bool residual_first : {false, true}) {
      ResidualGraph graph(add.activation, residual_first);
      FakeInterpreter& interpreter = graph.interpreter;
      interpreter.delegate_options().kernel = KernelChoice::kReference;
      ASSERT_TRUE(interpreter.Run({graph.nodes[0]}, {graph.x, graph.w}, {graph.conv}) == "ok");
      const std::vector<float> conv = interpreter.Values(graph.conv);
      const std::vector<float> other = interpreter.Values(graph.other);
      std::vector<float> expected(conv.size());
      glue::BinaryGeometry same;
      same.size = static_cast<int64_t>(conv.size());
      glue::Binary(glue::BinaryOp::kAdd, same, residual_first ? other.data() : conv.data(),
                   residual_first ? conv.data() : other.data(), expected.data(), add.clamp);
      for (KernelChoice choice : kEveryKernelChoice) {
        for (bool fuse_ops : {true, false}) {
          std::vector<int> ran;
          EXPECT_EQ(graph.Run(choice, fuse_ops, &ran), "ok");
          EXPECT_TRUE(SameSumsButNaNPayloads(interpreter.Values(graph.sum), expected, conv, other));
          EXPECT_TRUE(ran == (fuse_ops ? std::vector<int>{graph.sum}
                                       : std::vector<int>{graph.conv, graph.sum}));
        }
      }
    }
  }
}

// The ADD fused when the partition was built, whose operands had equal declared shapes: a
// resize that gives the conv's output another shape ([1, 4, 4, 2]) than the other operand's
// is refused at Prepare, on the fast and the reference kernels, with the ADD's prefix.
// Unfused, the glue ADD refuses the shapes itself.
BITLITE_TEST(FusedResidualAddRefusesOperandsResizedApart) {
  for (KernelChoice choice : {KernelChoice::kAuto, KernelChoice::kReference}) {
    for (bool fuse_ops : {true, false}) {
      ResidualGraph graph(kTfLiteActRelu, false);
      graph.interpreter.SetDims(&graph.interpreter.tensor(graph.x), NewIntArray({1, 4, 7, 3}));
      std::vector<int> ran;
      const std::string result = graph.Run(choice, fuse_ops, &ran);
      EXPECT_CONTAINS(result, fuse_ops ? "bitlite: node 1 (ADD): the inputs have shapes "
                                         "[1, 4, 4, 2] and [1, 5, 3, 2]: a residual ADD run "
                                         "inside the convolution before it needs equal shapes"
                                       : "do not broadcast");
      EXPECT_TRUE(ran.empty());
    }
  }
}

// The ADD's other operand written by a node between the conv and the ADD: the conv cannot
// run the ADD (that node would run after it), so nothing fuses where that node is a ROUND,
// and where it is a second conv, that conv takes the ADD over (the first conv's output its
// residual, the ADD's first operand). Every kernel choice, fused or not, gives the unfused
// reference's sum (but for the payload of a NaN + NaN).
BITLITE_TEST(ResidualAddFusesOnlyIntoAConvAfterItsOtherOperand) {
  for (Between between : {Between::kRound, Between::kConv}) {
    for (bool residual_first : {false, true}) {
      std::vector<int> ran;
      ResidualGraph reference(kTfLiteActRelu6, residual_first, between);
      ASSERT_TRUE(reference.Run(KernelChoice::kReference, false, &ran) == "ok");
      const std::vector<float> expected = reference.interpreter.Values(reference.sum);
      // The ADD's operands, each node run alone: the conv's output and the node between's.
      FakeInterpreter& alone = reference.interpreter;
      ASSERT_TRUE(alone.Run({reference.nodes[0]}, {reference.x, reference.w}, {reference.conv}) ==
                  "ok");
      const std::vector<int> between_inputs =
          between == Between::kRound ? std::vector<int>{reference.z}
                                     : std::vector<int>{reference.z, reference.w};
      ASSERT_TRUE(alone.Run({reference.nodes[1]}, between_inputs, {reference.other}) == "ok");
      const std::vector<float> conv = alone.Values(reference.conv);
      const std::vector<float> other = alone.Values(reference.other);
      for (KernelChoice choice : kEveryKernelChoice) {
        for (bool fuse_ops : {true, false}) {
          ResidualGraph graph(kTfLiteActRelu6, residual_first, between);
          EXPECT_EQ(graph.Run(choice, fuse_ops, &ran), "ok");
          EXPECT_TRUE(
              SameSumsButNaNPayloads(graph.interpreter.Values(graph.sum), expected, conv, other));
          const bool second_conv_fuses = fuse_ops && between == Between::kConv;
          EXPECT_TRUE(ran == (second_conv_fuses
                                  ? std::vector<int>{graph.conv, graph.sum}
                                  : std::vector<int>{graph.conv, graph.other, graph.sum}));
        }
      }
    }
  }
}

BITLITE_TEST(RefusesScratchOverTheLimit) {
  Graph graph;
  DelegateOptions options;
  options.max_scratch_bytes = 1000;
  graph.interpreter.delegate_options() = options;
  EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                  "bitlite: node 0 (BitliteConv2D): the kernel's scratch for input 1x5x6x3, "
                  "kernel 3x3, stride 1x2, dilation 1x1, padding top 1 left 0 takes");
  EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                  "more than the limit of 1000 (delegate option max_scratch_bytes)");
  // The reference's scratch: 90 int16 codes (W8A8's unsigned codes reach 255), 2 accumulators.
  options.kernel = KernelChoice::kReference;
  options.max_scratch_bytes = 188;
  graph.interpreter.delegate_options() = options;
  EXPECT_EQ(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}), "ok");
  options.max_scratch_bytes = 187;
  graph.interpreter.delegate_options() = options;
  EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                  "takes 188 bytes, more than the limit of 187");
}

// Shapes near INT32_MAX. Products past 64 bits are refused by the geometry; an input that
// fits the index arithmetic but would need gigabytes of packed scratch by the default limit
// (the runtime has not allocated the tensors yet when Prepare runs). Nothing is allocated.
BITLITE_TEST(RefusesSizesThatOverflowOrExceedTheDefaultLimit) {
  {
    Graph graph;
    graph.interpreter.SetDims(&graph.interpreter.tensor(graph.x),
                              NewIntArray({INT_MAX, INT_MAX, INT_MAX, 3}));
    EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                    "input shape [2147483647, 2147483647, 2147483647, 3] is too large");
  }
  {
    Graph graph;
    graph.interpreter.SetDims(&graph.interpreter.tensor(graph.x),
                              NewIntArray({1, 1, INT_MAX, 3}));
    // 6.4e9 input values index fine in 64 bits, and need more than the default limit; a
    // 32-bit target cannot index them at all (kMaxSize is 2^28 there).
    EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                    sizeof(void*) == 8
                        ? "more than the limit of 1073741824 (delegate option max_scratch_bytes)"
                        : "input shape [1, 1, 2147483647, 3] is too large");
  }
}

// Heap bytes in use, where ASan's allocator counts them (the sanitized build), else 0.
size_t AllocatedBytes() {
#ifdef BITLITE_HAVE_ALLOCATOR_STATS
  return __sanitizer_get_current_allocated_bytes();
#else
  return 0;
#endif
}

// Every kernel choice, 1 and 2 threads, 0 to 2 resizes: in the sanitized build LeakSanitizer
// fails the test at exit for any block left unreachable (ctest sets detect_leaks=1), and the
// bytes in use after 400 cycles must equal those after the warm-up, which also catches memory
// that stays reachable but grows with every kernel (a cache that never shrinks).
BITLITE_TEST(CreatingAndDestroyingKernelsLeavesNothingBehind) {
  const KernelChoice kernels[] = {KernelChoice::kAuto, KernelChoice::kBitserial,
                                  KernelChoice::kInt, KernelChoice::kLut,
                                  KernelChoice::kReference};
  const auto cycle = [&](int i) {
    Graph graph;
    graph.interpreter.delegate_options().kernel = kernels[i % 5];
    graph.interpreter.delegate_options().num_threads = 1 + i % 2;
    EXPECT_EQ(graph.interpreter.Run({0, 1}, {graph.x, graph.conv_w, graph.fc_w}, {graph.y}, i % 3),
              "ok");
  };
  // One-time state (CPU features, kernel tables, the thread library's caches) settles here.
  for (int i = 0; i < 30; ++i) cycle(i);
  const size_t before = AllocatedBytes();
  for (int i = 0; i < 400; ++i) cycle(i);
  EXPECT_EQ(AllocatedBytes(), before);
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
