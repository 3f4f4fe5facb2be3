// Custom options of the bitlite ops (cc/FORMAT.md, "Custom options"), parsed and validated
// once when the delegate takes a node over.
#ifndef BITLITE_SRC_OP_OPTIONS_H_
#define BITLITE_SRC_OP_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bitlite {

constexpr int kFormatVersion = 1;

enum class OpKind { kConv2D, kFullyConnected };
enum class Padding { kSame, kValid };
enum class Activation { kNone, kRelu, kRelu6 };

// The custom code the converter writes for each op kind.
const char* OpName(OpKind kind);

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
  Activation activation = Activation::kNone;
  std::vector<float> multiplier;  // [out_channels]
  std::vector<float> offset;      // [out_channels]

  // Codes per output channel: kernel_h * kernel_w * (in_channels / groups).
  int64_t ReductionSize() const;
  // Bytes of one packed weight row: ceil(ReductionSize() * weight_bits / 8).
  int64_t RowBytes() const;
};

// Parses the FlexBuffer map `data` for an op of `kind`. Returns false with a message in
// *error (without op or node prefix) when the options break FORMAT.md in any way, including
// layers whose int32 accumulator could overflow.
bool ParseOpOptions(OpKind kind, const uint8_t* data, size_t size, OpParams* params,
                    std::string* error);

}  // namespace bitlite

#endif  // BITLITE_SRC_OP_OPTIONS_H_
