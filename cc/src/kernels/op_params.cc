#include "kernels/op_params.h"

namespace bitlite {

CodeRange WeightCodeRange(int bits) {
  if (bits == 1) return {-1, 1};
  return {-(1 << (bits - 1)), (1 << (bits - 1)) - 1};
}

CodeRange ActivationCodeRange(int bits, bool is_signed) {
  if (!is_signed) return {0, (1 << bits) - 1};
  return WeightCodeRange(bits);
}

int64_t OpParams::ReductionSize() const {
  return int64_t{kernel_h} * kernel_w * (in_channels / groups);
}

int64_t OpParams::RowBytes() const { return (ReductionSize() * weight_bits + 7) / 8; }

namespace {
int64_t MaxMagnitude(CodeRange range) { return range.max > -range.min ? range.max : -range.min; }
}  // namespace

int64_t OpParams::MaxCodeProduct() const {
  return MaxMagnitude(WeightCodeRange(weight_bits)) *
         MaxMagnitude(ActivationCodeRange(activation_bits, activation_signed));
}

int64_t OpParams::MaxAccumulator() const { return ReductionSize() * MaxCodeProduct(); }

}  // namespace bitlite
