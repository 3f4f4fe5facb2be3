// Depthwise convolution (groups == in_channels, any depth multiplier M), bit-identical to
// Conv2DReference: a widened-integer direct convolution with channels as SIMD lanes
// (dwconv.h), for layers whose reduction (kernel_h * kernel_w codes per output) is too short
// for bitserial popcounts.
//
// At construction the weights are packed once, 4 bits per code, in tiles of the
// micro-kernel's lanes (16 or 32 channels). Per Run the input is quantized once into int8
// codes laid out [batch][padded_h][padded_w][channels]: output channels (in_channels * M,
// rounded up to the tile width) with each input code repeated M times, so output channel c
// finds its input at lane c; zero codes around the input and in the padding channels. Zero
// codes make padded taps add nothing on every grid, {-1, +1} included (its int8 scratch can
// hold a 0 that no packed code can), so no tap or border needs a correction term. Then each
// output row is a work unit: the micro-kernel sums the taps of every tile, and the output
// epilogue (output_epilogue.h) writes the row. Every unit is computed whole by one thread, so
// results do not depend on the thread count.
//
// W8A8 (8-bit layers): weights one int8 byte per code, in tiles of kDwconvW8A8Lanes; codes in
// the buffer as int8 v = q - shift (shift 0 on the signed grid, 128 on the unsigned one, whose
// codes reach 255), quantized by the reference; the buffer's border and padding channels hold
// v = -shift (code 0), so every tap, padded or not, adds w * (v + shift) = w * q once the
// epilogue adds the per-channel term shift * sum(w over the taps).
#ifndef BITLITE_SRC_KERNELS_DEPTHWISE_CONV2D_DEPTHWISE_H_
#define BITLITE_SRC_KERNELS_DEPTHWISE_CONV2D_DEPTHWISE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/activation_io.h"
#include "kernels/epilogue/code_thresholds.h"
#include "kernels/cache_line_vector.h"
#include "kernels/pack/activation_quantize.h"
#include "kernels/conv_geometry.h"
#include "kernels/depthwise/dwconv_kernels.h"
#include "kernels/op_params.h"
#include "threading/thread_pool.h"

namespace bitlite {

// Whether the depthwise kernel runs a layer: groups == in_channels (groups == 1 is an
// ordinary convolution).
bool IsDepthwise(const OpParams& params);

class Conv2DDepthwise {
 public:
  // Packs the weights: w_codes [out_c][kernel_h * kernel_w] as the reference unpacks a
  // depthwise layer (IsDepthwise(params)).
  Conv2DDepthwise(const OpParams& params, const int8_t* w_codes, const DwconvKernel& kernel);

  // Sizes the code buffer and scratch for geometry `g` and up to `threads` workers, fewer
  // if the layer is too small to share (ThreadsForWork). Fails with a message, allocating
  // nothing, if they would take more than `max_scratch_bytes`.
  // `min_work_per_thread`: ThreadsForWork's (tests lower it to share small layers).
  bool Prepare(const ConvGeometry& g, int threads, int64_t max_scratch_bytes,
               std::string* error, int64_t min_work_per_thread = kMinWorkPerThread);

  // The threads Run takes part of its pool for (Prepare's choice).
  int threads() const { return threads_; }

  // y = conv(x) for the geometry of the last Prepare; pool->threads() <= its `threads`.
  // x as floats or as codes of input_packing()'s grid; y as floats or (where writes_codes())
  // as another op's codes.
  void Run(const ActivationInput& x, const ActivationOutput& y, ThreadPool* pool);
  void Run(const float* x, float* y, ThreadPool* pool) {
    Run(ActivationInput{x, nullptr}, ActivationOutput{y}, pool);
  }

  // The grid the input is quantized to, and how (what a producer of its codes needs).
  const ActivationPacking& input_packing() const { return packing_; }
  // Codes are copied in place of the quantized input on every row; the output needs the
  // row's codes epilogue (DwconvFunctions).
  bool reads_codes() const { return true; }
  bool writes_codes() const { return kernels_.epilogue_codes != nullptr; }
  // Before Run writes codes of `grid` (null: floats): folds the output stage into integer
  // compares for it (code_thresholds.h) where it can.
  void WillWriteCodes(const ActivationPacking* grid);

 private:
  struct Scratch {
    std::vector<int8_t> row_codes;  // one input row's codes before they are spread out
    CacheLineVector<int32_t> core;  // [out_w][channels_]: one output row's accumulators
    std::vector<int32_t> acc;       // the epilogue's scratch
  };

  void QuantizeRow(const ActivationInput& x, int64_t row, Scratch* scratch);
  void ComputeRow(int64_t row, Scratch* scratch, const ActivationOutput& y) const;

  ActivationPacking packing_;  // the grid, and its thresholds for the quantizers
  DwconvFunctions kernels_;
  bool w8a8_ = false;
  int64_t lanes_ = 16;     // channels per tile: kernels_.lanes, or kDwconvW8A8Lanes
  DwconvRowFn row_ = nullptr;
  int code_shift_ = 0;     // W8A8 unsigned: codes are stored as q - 128
  // code_shift_ * sum(w) per channel, and out_w pointers to it (EpilogueTerms::channel_terms
  // rows); empty without a shift.
  CacheLineVector<int32_t> channel_terms_;
  std::vector<const int32_t*> term_rows_;
  Activation activation_;
  CacheLineVector<float> multiplier_;
  CacheLineVector<float> offset_;
  // For the grid WillWriteCodes named (Run takes the float path for any other), folded for
  // accumulators within max_accumulator_ (OpParams::MaxAccumulator).
  CodeThresholds code_thresholds_;
  int64_t max_accumulator_ = 0;
  int64_t depth_multiplier_ = 1;
  int64_t taps_ = 0;
  int64_t channels_ = 0;          // out_c rounded up to the tile width (lanes_)
  // [channels_ / lanes][taps_][lanes / 2] (dwconv.h); W8A8: [...][lanes] bytes
  CacheLineVector<uint8_t> weights_;

  ConvGeometry g_;
  int threads_ = 1;  // that Run uses: ThreadsForWork of Prepare's `threads`
  PaddedAxis rows_;  // the code buffer's zero padding
  PaddedAxis cols_;
  int64_t padded_h_ = 0;
  int64_t padded_w_ = 0;
  std::vector<int64_t> tap_offsets_;  // [taps_]: codes from a window's top-left to the tap
  CacheLineVector<int8_t> codes_;     // [batch][padded_h_][padded_w_][channels_]
  std::vector<Scratch> scratch_;      // one per worker
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_DEPTHWISE_CONV2D_DEPTHWISE_H_
