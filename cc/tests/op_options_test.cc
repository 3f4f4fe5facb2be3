#include "op_options.h"

#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "flexbuffer_test_writer.h"
#include "python_golden_options.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

std::string ParseError(OpKind kind, const FlexMapWriter& writer) {
  const std::vector<uint8_t> buffer = writer.Finish();
  OpParams params;
  std::string error;
  return ParseOpOptions(kind, buffer.data(), buffer.size(), &params, &error) ? "ok" : error;
}

std::string ConvError(const FlexMapWriter& writer) { return ParseError(OpKind::kConv2D, writer); }

void ExpectValidConv(const OpParams& p) {
  EXPECT_TRUE(p.kind == OpKind::kConv2D);
  EXPECT_EQ(p.weight_bits, 2);
  EXPECT_EQ(p.activation_bits, 4);
  EXPECT_EQ(p.activation_signed, false);
  EXPECT_EQ(p.input_scale, 0.1f);
  EXPECT_EQ(p.in_channels, 3);
  EXPECT_EQ(p.out_channels, 2);
  EXPECT_EQ(p.kernel_h, 3);
  EXPECT_EQ(p.kernel_w, 3);
  EXPECT_EQ(p.stride_h, 1);
  EXPECT_EQ(p.stride_w, 2);
  EXPECT_EQ(p.dilation_h, 1);
  EXPECT_EQ(p.dilation_w, 1);
  EXPECT_TRUE(p.padding == Padding::kSame);
  EXPECT_EQ(p.groups, 1);
  EXPECT_TRUE(p.activation.kind == ActivationKind::kRelu);
  EXPECT_TRUE(p.multiplier == std::vector<float>({0.5f, 0.25f}));
  EXPECT_TRUE(p.offset == std::vector<float>({1.0f, -2.0f}));
  EXPECT_EQ(p.ReductionSize(), 27);
  EXPECT_EQ(p.RowBytes(), 7);
}

BITLITE_TEST(ParsesPythonAndTestWriterOptionsAlike) {
  OpParams params;
  std::string error;
  ASSERT_TRUE(ParseOpOptions(OpKind::kConv2D, kPythonConv2DOptions, sizeof(kPythonConv2DOptions),
                             &params, &error));
  ExpectValidConv(params);
  ASSERT_TRUE(ParseOpOptions(OpKind::kConv2D, kPythonConv2DOptionsFloat64,
                             sizeof(kPythonConv2DOptionsFloat64), &params, &error));
  ExpectValidConv(params);
  for (unsigned width : {2u, 4u, 8u}) {
    const std::vector<uint8_t> buffer =
        ValidOptions(true, width, /*indirect_scalars=*/true).Finish();
    params = OpParams();
    ASSERT_TRUE(ParseOpOptions(OpKind::kConv2D, buffer.data(), buffer.size(), &params, &error));
    ExpectValidConv(params);
  }
}

BITLITE_TEST(ParsesFullyConnectedAsOneByOne) {
  OpParams p;
  std::string error;
  ASSERT_TRUE(ParseOpOptions(OpKind::kFullyConnected, kPythonFullyConnectedOptions,
                             sizeof(kPythonFullyConnectedOptions), &p, &error));
  EXPECT_TRUE(p.kind == OpKind::kFullyConnected);
  EXPECT_EQ(p.weight_bits, 1);
  EXPECT_EQ(p.activation_signed, true);
  EXPECT_EQ(p.in_channels, 4);
  EXPECT_EQ(p.kernel_h * p.kernel_w * p.stride_h * p.stride_w * p.dilation_h * p.dilation_w, 1);
  EXPECT_TRUE(p.padding == Padding::kValid);
  EXPECT_EQ(p.ReductionSize(), 4);
  EXPECT_EQ(p.RowBytes(), 1);
}

BITLITE_TEST(RejectsUnknownAndMissingKeys) {
  EXPECT_EQ(ConvError(ValidOptions(true).Int("zero_point", 1)),
            "unknown key 'zero_point' (written by a newer converter?)");
  EXPECT_EQ(ParseError(OpKind::kFullyConnected, ValidOptions(false).Int("groups", 1)),
            "unknown key 'groups' (written by a newer converter?)");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("groups")), "missing key 'groups'");
  EXPECT_CONTAINS(ParseError(OpKind::kFullyConnected, ValidOptions(true)),
                  "unknown key 'kernel_h'");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("offset")), "missing key 'offset'");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("version")), "missing key 'version'");
  EXPECT_EQ(ParseError(OpKind::kFullyConnected, ValidOptions(false).Remove("activation")),
            "missing key 'activation'");
  EXPECT_EQ(ConvError(ValidOptions(true).Int("stride_h", 1)), "key 'stride_h' appears twice");
  EXPECT_CONTAINS(ConvError(ValidOptions(true).String("bad\x01key", "")), "unknown key 'bad?key'");
}

// BitliteConv2DTranspose has kernel and stride keys and its pads, no dilation, padding or
// groups (FORMAT.md).
void ExpectValidTransposedConv(const OpParams& p) {
  EXPECT_TRUE(p.kind == OpKind::kConv2DTranspose);
  EXPECT_EQ(p.weight_bits * 10 + p.activation_bits, 24);
  EXPECT_EQ(p.in_channels * 10 + p.out_channels, 32);
  EXPECT_TRUE(p.multiplier == std::vector<float>({0.5f, 0.25f}));
  EXPECT_EQ(p.kernel_h * 10 + p.kernel_w, 33);
  EXPECT_EQ(p.stride_h * 10 + p.stride_w, 22);
  EXPECT_EQ(p.pad_top, 0);
  EXPECT_EQ(p.pad_bottom, 1);
  EXPECT_EQ(p.pad_left, 0);
  EXPECT_EQ(p.pad_right, 1);
  EXPECT_EQ(p.dilation_h * p.dilation_w * p.groups, 1);
  EXPECT_EQ(p.ReductionSize(), 27);
}

BITLITE_TEST(ParsesTransposedConvOptionsOfPythonAndTheTestWriter) {
  OpParams p;
  std::string error;
  ASSERT_TRUE(ParseOpOptions(OpKind::kConv2DTranspose, kPythonConv2DTransposeOptions,
                             sizeof(kPythonConv2DTransposeOptions), &p, &error));
  ExpectValidTransposedConv(p);
  const std::vector<uint8_t> buffer = ValidTransposeOptions(4, /*indirect_scalars=*/true).Finish();
  ASSERT_TRUE(ParseOpOptions(OpKind::kConv2DTranspose, buffer.data(), buffer.size(), &p, &error));
  ExpectValidTransposedConv(p);
}

BITLITE_TEST(RejectsMalformedTransposedConvOptions) {
  auto error = [](const FlexMapWriter& writer) {
    return ParseError(OpKind::kConv2DTranspose, writer);
  };
  EXPECT_EQ(error(ValidTransposeOptions().Int("groups", 1)),
            "unknown key 'groups' (written by a newer converter?)");
  EXPECT_EQ(error(ValidTransposeOptions().String("padding", "SAME")),
            "unknown key 'padding' (written by a newer converter?)");
  EXPECT_EQ(error(ValidTransposeOptions().Remove("pad_right")), "missing key 'pad_right'");
  EXPECT_CONTAINS(ConvError(ValidTransposeOptions()), "unknown key 'pad_top'");
  EXPECT_EQ(error(ValidTransposeOptions().Remove("pad_top").Int("pad_top", -1)),
            "pad_top = -1 is out of range [0, 2147483647]");
  // At most stride - 1 rows past the last tap's reach.
  EXPECT_EQ(error(ValidTransposeOptions().Remove("pad_right").Int("pad_right", -2)),
            "pad_right = -2 is out of range [-1, 2147483647]");
  EXPECT_EQ(error(ValidTransposeOptions().Remove("pad_right").Int("pad_right", -1)), "ok");
  EXPECT_EQ(error(ValidTransposeOptions().Remove("stride_h").Int("stride_h", 0)),
            "stride_h = 0 is out of range [1, 2147483647]");
  EXPECT_EQ(error(ValidTransposeOptions().Remove("kernel_w").Float("kernel_w", 3.0)),
            "key 'kernel_w' must be an int, got float");
  EXPECT_CONTAINS(error(ValidTransposeOptions()
                            .Remove("kernel_h").Int("kernel_h", 1 << 20)
                            .Remove("kernel_w").Int("kernel_w", 1 << 10)),
                  "the int32 accumulator could overflow");
}

BITLITE_TEST(RejectsOtherFormatVersionsFirst) {
  const std::string expected =
      "this model needs bitlite format version 2, this delegate reads version 1";
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("version").Int("version", 2)), expected);
  // A newer format may add keys: the version is the message that helps.
  EXPECT_EQ(
      ConvError(ValidOptions(true).Remove("version").Int("version", 2).Int("zero_point", 1)),
      expected);
  EXPECT_CONTAINS(ConvError(ValidOptions(true).Remove("version").Int("version", -1)),
                  "needs bitlite format version -1");
}

BITLITE_TEST(RejectsWrongTypes) {
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("weight_bits").String("weight_bits", "2")),
            "key 'weight_bits' must be an int, got string");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("version").Float("version", 1.0)),
            "key 'version' must be an int, got float");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("activation_signed").Int("activation_signed", 0)),
            "key 'activation_signed' must be a bool, got int");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("input_scale").Int("input_scale", 1)),
            "key 'input_scale' must be a float, got int");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("padding").Null("padding")),
            "key 'padding' must be a string, got null");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("multiplier").String("multiplier", "12345678")),
            "key 'multiplier' must be a blob, got string");
}

BITLITE_TEST(RejectsValuesOutOfRange) {
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("weight_bits").Int("weight_bits", 9)),
            "weight_bits = 9 is out of range [1, 8]");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("activation_bits").Int("activation_bits", 0)),
            "activation_bits = 0 is out of range [1, 8]");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("stride_w").Int("stride_w", 0)),
            "stride_w = 0 is out of range [1, 2147483647]");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("kernel_h").Int("kernel_h", int64_t{1} << 40)),
            "kernel_h = 1099511627776 is out of range [1, 2147483647]");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("padding").String("padding", "FULL")),
            "padding = \"FULL\" is out of range (expected one of \"SAME\", \"VALID\")");
  EXPECT_EQ(
      ConvError(ValidOptions(true).Remove("activation").String("activation", "relu")),
      "activation = \"relu\" is out of range (expected one of \"NONE\", \"RELU\", \"RELU6\", "
      "\"LEAKY_RELU\")");
  // 1e-40 is a float32 denormal: flush-to-zero CPUs would divide by 0.
  for (double scale : {0.0, -1.0, 1e300, 1e-50, 1e-40, std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_CONTAINS(ConvError(ValidOptions(true).Remove("input_scale").Float("input_scale", scale)),
                    "is out of range (must be finite and >= FLT_MIN, a normal float)");
  }
}

// LEAKY_RELU takes its slope from `alpha`, a normal float in [FLT_MIN, 1], on every op kind;
// no other activation has one.
BITLITE_TEST(ReadsLeakyReluAndItsAlpha) {
  auto leaky = [](FlexMapWriter writer) {
    return writer.Remove("activation").String("activation", "LEAKY_RELU");
  };
  for (OpKind kind : {OpKind::kConv2D, OpKind::kFullyConnected}) {
    const std::vector<uint8_t> buffer =
        leaky(ValidOptions(kind == OpKind::kConv2D)).Float("alpha", 0.1).Finish();
    OpParams p;
    std::string error;
    ASSERT_TRUE(ParseOpOptions(kind, buffer.data(), buffer.size(), &p, &error));
    EXPECT_TRUE(p.activation.kind == ActivationKind::kLeakyRelu);
    EXPECT_EQ(p.activation.alpha, 0.1f);
  }
  const std::vector<uint8_t> buffer =
      ValidTransposeOptions(4).Remove("activation").String("activation", "LEAKY_RELU")
          .Float("alpha", 1.0).Finish();
  OpParams p;
  std::string error;
  ASSERT_TRUE(ParseOpOptions(OpKind::kConv2DTranspose, buffer.data(), buffer.size(), &p, &error));
  EXPECT_EQ(p.activation.alpha, 1.0f);
  EXPECT_EQ(ConvError(leaky(ValidOptions(true))), "activation \"LEAKY_RELU\" needs key 'alpha'");
  EXPECT_EQ(ConvError(ValidOptions(true).Float("alpha", 0.1)),
            "key 'alpha' is only read with activation \"LEAKY_RELU\"");
  EXPECT_EQ(ConvError(leaky(ValidOptions(true)).Int("alpha", 1)),
            "key 'alpha' must be a float, got int");
  // 0 would make 0 * infinity a NaN (1e-50 and 1e-40 become 0 and a subnormal as floats);
  // above 1, max(y, alpha * y) and the select differ.
  for (double alpha : {0.0, -0.0, -0.1, 1e-50, 1e-40, 1.0000001, 2.0, 1e300,
                       std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_CONTAINS(ConvError(leaky(ValidOptions(true)).Float("alpha", alpha)),
                    "is out of range (a normal float in [FLT_MIN, 1])");
  }
  const std::vector<uint8_t> smallest =
      leaky(ValidOptions(true)).Float("alpha", static_cast<double>(FLT_MIN)).Finish();
  ASSERT_TRUE(ParseOpOptions(OpKind::kConv2D, smallest.data(), smallest.size(), &p, &error));
  EXPECT_EQ(p.activation.alpha, FLT_MIN);
}

BITLITE_TEST(RejectsBlobsOfWrongLength) {
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("multiplier").Floats("multiplier", {1, 2, 3})),
            "multiplier must hold out_channels = 2 float32 values (8 bytes), got 12 bytes");
  EXPECT_EQ(ConvError(ValidOptions(true).Remove("offset").Blob("offset", {0, 0, 0, 0, 0, 0, 0})),
            "offset must hold out_channels = 2 float32 values (8 bytes), got 7 bytes");
}

// ValidOptions() with the bit widths, the activation grid, the kernel size and in_channels
// replaced.
FlexMapWriter BitsConv(int64_t weight_bits, int64_t activation_bits, bool is_signed,
                       int64_t kernel, int64_t in_channels) {
  FlexMapWriter writer = ValidOptions(true);
  for (const char* key : {"weight_bits", "activation_bits", "activation_signed", "kernel_h",
                          "kernel_w", "in_channels"}) {
    writer.Remove(key);
  }
  return writer.Int("weight_bits", weight_bits)
      .Int("activation_bits", activation_bits)
      .Bool("activation_signed", is_signed)
      .Int("kernel_h", kernel)
      .Int("kernel_w", kernel)
      .Int("in_channels", in_channels);
}

FlexMapWriter W4A4Conv(int64_t kernel, int64_t in_channels) {
  FlexMapWriter writer = ValidOptions(true);
  for (const char* key :
       {"weight_bits", "activation_bits", "kernel_h", "kernel_w", "in_channels"}) {
    writer.Remove(key);
  }
  return writer.Int("weight_bits", 4)
      .Int("activation_bits", 4)
      .Int("kernel_h", kernel)
      .Int("kernel_w", kernel)
      .Int("in_channels", in_channels);
}

BITLITE_TEST(RejectsLayersThatCouldOverflowTheAccumulator) {
  // W4A4 unsigned: |qw| <= 8, |qx| <= 15, so K may be at most floor((2^31 - 1) / 120).
  EXPECT_EQ(ConvError(W4A4Conv(3, 1988410)), "ok");  // K = 17895690
  EXPECT_EQ(ConvError(W4A4Conv(3, 1988411)),
            "kernel_h * kernel_w * in_channels / groups = 3 * 3 * 1988411 / 1 is too large for "
            "W4A4: the int32 accumulator could overflow (at most 17895697)");
  EXPECT_CONTAINS(ConvError(W4A4Conv(2147483647, 2147483647)), "could overflow");
  // The bound is per group: a row reads in_channels / groups channels.
  FlexMapWriter grouped = W4A4Conv(3, 1988411 * 2);
  grouped.Remove("groups").Remove("out_channels").Remove("multiplier").Remove("offset");
  EXPECT_EQ(ConvError(grouped.Int("groups", 2)
                          .Int("out_channels", 2)
                          .Floats("multiplier", {1, 1})
                          .Floats("offset", {0, 0})),
            "kernel_h * kernel_w * in_channels / groups = 3 * 3 * 3976822 / 2 is too large for "
            "W4A4: the int32 accumulator could overflow (at most 17895697)");
  EXPECT_EQ(ConvError(grouped.Remove("in_channels").Int("in_channels", 1988410 * 2)), "ok");
}

// 8 bits only as W8A8; every sub-byte pair is accepted, 5-7 bits nowhere.
BITLITE_TEST(AcceptsSubByteWidthsAndW8A8Only) {
  for (int w = 1; w <= 8; ++w) {
    for (int a = 1; a <= 8; ++a) {
      const bool supported = (w <= 4 && a <= 4) || (w == 8 && a == 8);
      const std::string error = ConvError(BitsConv(w, a, false, 3, 3));
      if (supported) {
        EXPECT_EQ(error, "ok");
      } else {
        EXPECT_EQ(error, "weight_bits = " + std::to_string(w) + " with activation_bits = " +
                             std::to_string(a) +
                             " is not supported: weight_bits and activation_bits take 1..4 "
                             "each, or are both 8 (W8A8)");
      }
    }
  }
}

BITLITE_TEST(BoundsTheW8A8Accumulator) {
  // Unsigned: |qw| <= 128, qx <= 255, so K <= floor((2^31 - 1) / 32640) = 65793.
  EXPECT_EQ(ConvError(BitsConv(8, 8, false, 1, 65793)), "ok");
  EXPECT_EQ(ConvError(BitsConv(8, 8, false, 1, 65794)),
            "kernel_h * kernel_w * in_channels / groups = 1 * 1 * 65794 / 1 is too large for "
            "W8A8: the int32 accumulator could overflow (at most 65793)");
  EXPECT_EQ(ConvError(BitsConv(8, 8, false, 3, 7310)), "ok");  // K = 65790
  EXPECT_CONTAINS(ConvError(BitsConv(8, 8, false, 3, 7311)), "(at most 65793)");
  // Signed: |qx| <= 128, so K <= floor((2^31 - 1) / 16384) = 131071.
  EXPECT_EQ(ConvError(BitsConv(8, 8, true, 1, 131071)), "ok");
  EXPECT_EQ(ConvError(BitsConv(8, 8, true, 1, 131072)),
            "kernel_h * kernel_w * in_channels / groups = 1 * 1 * 131072 / 1 is too large for "
            "W8A8: the int32 accumulator could overflow (at most 131071)");
}

// ValidOptions() with in_channels, out_channels and groups replaced.
FlexMapWriter GroupedConv(int64_t in_channels, int64_t out_channels, int64_t groups) {
  FlexMapWriter writer = ValidOptions(true);
  writer.Remove("in_channels").Remove("out_channels").Remove("groups");
  writer.Remove("multiplier").Remove("offset");
  const std::vector<float> ones(static_cast<size_t>(out_channels), 1.0f);
  return writer.Int("in_channels", in_channels)
      .Int("out_channels", out_channels)
      .Int("groups", groups)
      .Floats("multiplier", ones)
      .Floats("offset", ones);
}

BITLITE_TEST(ParsesGroupsAndSizesRowsPerGroup) {
  // Depthwise 6 -> 12 (multiplier 2): each row reads 3 * 3 * 1 codes.
  const std::vector<uint8_t> buffer = GroupedConv(6, 12, 6).Finish();
  OpParams p;
  std::string error;
  ASSERT_TRUE(ParseOpOptions(OpKind::kConv2D, buffer.data(), buffer.size(), &p, &error));
  EXPECT_EQ(p.groups, 6);
  EXPECT_EQ(p.ReductionSize(), 9);
  EXPECT_EQ(p.RowBytes(), 3);  // ceil(9 * 2 / 8)
  EXPECT_EQ(ConvError(GroupedConv(6, 4, 2)), "ok");
}

BITLITE_TEST(RejectsGroupsThatDoNotDivideTheChannels) {
  EXPECT_EQ(ConvError(GroupedConv(6, 4, 4)),
            "groups = 4 must divide in_channels = 6 and out_channels = 4");
  EXPECT_EQ(ConvError(GroupedConv(6, 9, 3)), "ok");
  EXPECT_EQ(ConvError(GroupedConv(6, 8, 3)),
            "groups = 3 must divide in_channels = 6 and out_channels = 8");
  EXPECT_EQ(ConvError(GroupedConv(6, 6, 0)), "groups = 0 is out of range [1, 2147483647]");
  EXPECT_EQ(ConvError(GroupedConv(6, 6, -2)), "groups = -2 is out of range [1, 2147483647]");
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
