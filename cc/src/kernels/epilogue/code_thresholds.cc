#include "kernels/epilogue/code_thresholds.h"

#include <climits>
#include <cmath>

#include "kernels/reference/activation_quantize_reference.h"
#include "kernels/reference/output_stage_reference.h"

namespace bitlite {
namespace {

// The reference code of one accumulator of one channel.
int CodeOf(int32_t acc, const float* multiplier, const float* offset, Activation activation,
           const ActivationGrid& grid) {
  float y = 0.0f;
  OutputStageReference(&acc, 1, multiplier, offset, activation, &y);
  return ActivationCode(y, grid);
}

}  // namespace

void CodeThresholds::Fold(const ActivationPacking* grid, const float* multiplier,
                          const float* offset, int64_t channels, Activation activation,
                          int64_t max_accumulator) {
  grid_ = grid;
  count_ = 0;
  if (grid == nullptr) return;
  const ActivationGrid& g = grid->grid;
  const int compares = g.is_binary ? 1 : g.range.max - g.range.min;
  if (compares != 1 && compares != 3 && compares != 7) return;
  for (int64_t c = 0; c < channels; ++c) {
    if (!std::isfinite(multiplier[c]) || !std::isfinite(offset[c])) return;
  }
  channels_ = channels;
  step_ = g.is_binary ? 2 : 1;
  base_.assign(static_cast<size_t>(channels), 0);
  flip_.assign(static_cast<size_t>(channels), 0);
  bounds_.assign(static_cast<size_t>(compares * channels), INT32_MAX);
  for (int64_t c = 0; c < channels; ++c) {
    const int32_t flip = multiplier[c] < 0.0f ? -1 : 0;
    // The code at flipped accumulator a (a ^ flip is the accumulator itself).
    auto code = [&](int64_t a) {
      return CodeOf(static_cast<int32_t>(a) ^ flip, multiplier + c, offset + c, activation, g);
    };
    const int base = code(INT32_MIN);
    const int top = code(INT32_MAX);
    flip_[static_cast<size_t>(c)] = flip;
    base_[static_cast<size_t>(c)] = base;
    // Compare j: the largest a whose code is below base + step * (j + 1).
    for (int j = 0; base + step_ * (j + 1) <= top; ++j) {
      const int want = base + step_ * (j + 1);
      int64_t below = INT32_MIN, reached = INT32_MAX;  // code(below) < want <= code(reached)
      while (reached - below > 1) {
        const int64_t middle = below + (reached - below) / 2;
        (code(middle) >= want ? reached : below) = middle;
      }
      bounds_[static_cast<size_t>(j * channels + c)] = static_cast<int32_t>(below);
    }
    // The flipped accumulator lies in [-max_accumulator - 1, max_accumulator].
    for (int j = 0; j < compares; ++j) {
      int32_t& bound = bounds_[static_cast<size_t>(j * channels + c)];
      if (bound < -max_accumulator - 1) base_[static_cast<size_t>(c)] += step_;
      if (bound < -max_accumulator - 1 || bound >= max_accumulator) bound = INT32_MAX;
    }
  }
  count_ = compares;
  narrow_ = max_accumulator <= 32767;
}

CodeThresholdsView CodeThresholds::View(const ActivationPacking* grid, int64_t c0) const {
  CodeThresholdsView view;
  if (count_ == 0 || grid != grid_) return view;
  view.count = count_;
  view.step = step_;
  view.narrow = narrow_;
  view.base = base_.data() + c0;
  view.flip = flip_.data() + c0;
  view.bounds = bounds_.data() + c0;
  view.stride = channels_;
  return view;
}

}  // namespace bitlite
