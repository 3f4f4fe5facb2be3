#include "kernels/reference/output_stage_reference.h"

namespace bitlite {
namespace {

float Identity(float y) { return y; }
// Written as comparisons so a NaN passes through, as NumPy's maximum/minimum do.
float Relu(float y) { return y < 0.0f ? 0.0f : y; }
float Relu6(float y) { return y > 6.0f ? 6.0f : Relu(y); }

template <float (*kActivation)(float)>
void Run(const int32_t* acc, int64_t channels, const float* multiplier, const float* offset,
         float* y) {
  for (int64_t c = 0; c < channels; ++c) {
    const float scaled = static_cast<float>(acc[c]) * multiplier[c];
    y[c] = kActivation(scaled + offset[c]);
  }
}

}  // namespace

void OutputStageReference(const int32_t* acc, int64_t channels, const float* multiplier,
                          const float* offset, Activation activation, float* y) {
  switch (activation) {
    case Activation::kNone:
      return Run<Identity>(acc, channels, multiplier, offset, y);
    case Activation::kRelu:
      return Run<Relu>(acc, channels, multiplier, offset, y);
    case Activation::kRelu6:
      return Run<Relu6>(acc, channels, multiplier, offset, y);
  }
}

}  // namespace bitlite
