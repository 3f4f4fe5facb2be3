#include "kernels/reference/output_stage_reference.h"

namespace bitlite {
namespace {

// Written as comparisons so a NaN passes through, as NumPy's maximum/minimum do.
float Relu(float y) { return y < 0.0f ? 0.0f : y; }
float Relu6(float y) { return y > 6.0f ? 6.0f : Relu(y); }
// TensorFlow's LeakyRelu kernel (`tf.nn.leaky_relu`, Keras' LeakyReLU) and TFLite's LEAKY_RELU:
// a select, not max(y, y * alpha) (which differs on NaN and on 0 * infinity).
float LeakyRelu(float y, float alpha) { return y > 0.0f ? y : y * alpha; }

template <class Activate>
void Run(const int32_t* acc, int64_t channels, const float* multiplier, const float* offset,
         Activate activate, float* y) {
  for (int64_t c = 0; c < channels; ++c) {
    const float scaled = static_cast<float>(acc[c]) * multiplier[c];
    y[c] = activate(scaled + offset[c]);
  }
}

}  // namespace

void OutputStageReference(const int32_t* acc, int64_t channels, const float* multiplier,
                          const float* offset, Activation activation, float* y) {
  switch (activation.kind) {
    case ActivationKind::kNone:
      return Run(acc, channels, multiplier, offset, [](float v) { return v; }, y);
    case ActivationKind::kRelu:
      return Run(acc, channels, multiplier, offset, Relu, y);
    case ActivationKind::kRelu6:
      return Run(acc, channels, multiplier, offset, Relu6, y);
    case ActivationKind::kLeakyRelu: {
      const float alpha = activation.alpha;
      return Run(acc, channels, multiplier, offset,
                 [alpha](float v) { return LeakyRelu(v, alpha); }, y);
    }
  }
}

}  // namespace bitlite
