// The output stage and the next op's input quantization folded into integer compares on the
// accumulator (the threshold folding of FINN and DeepliteRT), exact by construction.
//
// A channel's code is code(acc) = ActivationCode(OutputStage(acc)), with OutputStage FORMAT.md's
// float(acc) * multiplier + offset and the activation (clamps, or LEAKY_RELU's select with a
// slope > 0). Every one of those steps is monotone (IEEE rounding is), so for a finite
// multiplier m and offset o the code is a non-decreasing step function of acc where m >= 0
// and of ~acc = -acc - 1 where m < 0 (`flip`). Its steps are found once per layer by binary
// search over all of int32 with the scalar reference itself, and then
//   code(acc) = base + step * #{ j : (acc ^ flip) > bounds[j] }
// for every acc the layer can reach, |acc| <= max_accumulator (OpParams::MaxAccumulator),
// NaN and infinity included where they cannot arise (a finite m and o never make NaN: acc * m
// overflows to an infinity at most, which ActivationCode clips). A step no reachable acc
// crosses becomes no compare: one beyond the top never counts, one below the bottom always
// does and moves into base. Unused compares hold INT32_MAX, which no acc exceeds.
// Cheaper than the float path (2 integer instructions a threshold instead of a conversion,
// a multiply, an add, the clamps and the float compares), for grids of up to 3 bits.
// Where max_accumulator <= 32767 (`narrow`), every accumulator fits int16 and every bound
// but INT32_MAX lies in [-32768, 32766]: a kernel may compare 16-bit lanes, twice as many an
// instruction, with INT32_MAX saturated to 32767, which no int16 exceeds.
#ifndef BITLITE_SRC_KERNELS_EPILOGUE_CODE_THRESHOLDS_H_
#define BITLITE_SRC_KERNELS_EPILOGUE_CODE_THRESHOLDS_H_

#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/op_params.h"
#include "kernels/pack/activation_pack.h"

namespace bitlite {

// Channels [c0, c0 + n) of a CodeThresholds, as the epilogue reads them; count 0: none (the
// float path).
struct CodeThresholdsView {
  int count = 0;                  // compares per output: 0, 1, 3 or 7
  int step = 1;                   // code difference per compare reached (2 on the binary grid)
  bool narrow = false;            // the compares hold on accumulators saturated to int16
  const int32_t* base = nullptr;  // [channels]: the code no compare reaches
  const int32_t* flip = nullptr;  // [channels]: 0, or -1 where the multiplier is negative
  const int32_t* bounds = nullptr;  // [count] rows of `stride`
  int64_t stride = 0;
};

class CodeThresholds {
 public:
  // Folds `channels` channels' output stage into `grid`'s codes (null: none), for
  // accumulators of at most `max_accumulator` in magnitude. Leaves none where a multiplier or
  // offset is not finite, or the grid's codes are not 1, 3 or 7 steps apart (1 to 3 bits; at
  // 4 bits the float path's division is cheaper than 15 compares).
  void Fold(const ActivationPacking* grid, const float* multiplier, const float* offset,
            int64_t channels, Activation activation, int64_t max_accumulator);
  // Channels from c0 for codes of `grid`: count 0 unless folded for that grid.
  CodeThresholdsView View(const ActivationPacking* grid, int64_t c0) const;

 private:
  const ActivationPacking* grid_ = nullptr;
  int count_ = 0;
  int step_ = 1;
  bool narrow_ = false;
  int64_t channels_ = 0;
  std::vector<int32_t> base_, flip_, bounds_;
};

// run(std::bool_constant<kChannelTerms>{}, std::integral_constant<int, N>{}) for whether the
// epilogue has channel terms and the view's compare count N (1, 3 or 7): the two constants
// the ISAs' threshold loops are specialised for.
template <class Run>
void WithThresholdLoop(const CodeThresholdsView& t, bool channel_terms, Run&& run) {
  auto with_count = [&](auto terms) {
    if (t.count == 1) return run(terms, std::integral_constant<int, 1>{});
    if (t.count == 3) return run(terms, std::integral_constant<int, 3>{});
    return run(terms, std::integral_constant<int, 7>{});
  };
  return channel_terms ? with_count(std::true_type{}) : with_count(std::false_type{});
}

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_EPILOGUE_CODE_THRESHOLDS_H_
