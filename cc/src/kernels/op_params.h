// What a kernel needs to know of a bitlite op, as a plain struct: the parsed custom options
// (FORMAT.md "Custom options"). Kept apart from the FlexBuffer parsing (op_options.h), as
// kernels depend on the parameters, never on how they were stored.
#ifndef BITLITE_SRC_KERNELS_OP_PARAMS_H_
#define BITLITE_SRC_KERNELS_OP_PARAMS_H_

#include <cstdint>
#include <vector>

namespace bitlite {

enum class OpKind { kConv2D, kFullyConnected, kConv2DTranspose };
enum class Padding { kSame, kValid };
enum class ActivationKind { kNone, kRelu, kRelu6, kLeakyRelu };

// The activation an op fuses (FORMAT.md "Arithmetic"). `alpha` is LEAKY_RELU's slope below
// zero, a normal float in [FLT_MIN, 1] (op_options.cc checks): `y > 0 ? y : y * alpha`,
// monotone like the others.
struct Activation {
  ActivationKind kind = ActivationKind::kNone;
  float alpha = 0.0f;
};

// Code grids of FORMAT.md, "Quantization grids".
struct CodeRange {
  int min;
  int max;
};
CodeRange WeightCodeRange(int bits);
CodeRange ActivationCodeRange(int bits, bool is_signed);

struct OpParams {
  OpKind kind = OpKind::kConv2D;
  int weight_bits = 0;
  int activation_bits = 0;
  bool activation_signed = false;
  float input_scale = 0.0f;
  int in_channels = 0;
  int out_channels = 0;
  // A fully connected op is the 1x1, stride 1, VALID convolution these defaults describe.
  int kernel_h = 1;
  int kernel_w = 1;
  int stride_h = 1;
  int stride_w = 1;
  int dilation_h = 1;
  int dilation_w = 1;
  Padding padding = Padding::kValid;
  // Channel groups (FORMAT.md `groups`): divides in_channels and out_channels; depthwise is
  // groups = in_channels.
  int groups = 1;
  // A transposed convolution's cropping of its full output (FORMAT.md
  // "BitliteConv2DTranspose"): the padding of the convolution it transposes. pad_bottom and
  // pad_right may be negative, down to 1 - stride (rows no tap reaches).
  int pad_top = 0;
  int pad_bottom = 0;
  int pad_left = 0;
  int pad_right = 0;
  Activation activation;
  std::vector<float> multiplier;  // [out_channels]
  std::vector<float> offset;      // [out_channels]

  // Codes per output channel: kernel_h * kernel_w * (in_channels / groups).
  int64_t ReductionSize() const;
  // Bytes of one packed weight row: ceil(ReductionSize() * weight_bits / 8).
  int64_t RowBytes() const;
  // The largest |weight code x activation code|.
  int64_t MaxCodeProduct() const;
  // FORMAT.md's bound on |accumulator|: ReductionSize() * MaxCodeProduct(), which op_options.cc
  // keeps within INT32_MAX for every op it accepts.
  int64_t MaxAccumulator() const;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_OP_PARAMS_H_
