// Bitserial convolution (DeepliteRT-style), bit-identical to Conv2DReference: weights as bit
// planes packed once, activations quantized and packed once per Run, then per chunk of
// output pixels: im2col of whole words, a popcount GEMM over plane pairs (bgemm.h), the exact
// corrections of the grids with an offset (bitserial_planes.h) and the output stage (the
// reference's, or a bit-identical SIMD one). With the int8 ISA (BitserialIsa::kAvx512Vnni)
// the same steps run on one byte per code and an int8 dot-product GEMM.
// Work is split into (pixel chunk, channel block) units over a ThreadPool; every unit is
// computed whole by one thread, so results do not depend on the thread count.
#ifndef BITLITE_SRC_KERNELS_CONV2D_BITSERIAL_H_
#define BITLITE_SRC_KERNELS_CONV2D_BITSERIAL_H_

#include <cstdint>
#include <vector>

#include "kernels/activation_quantize_reference.h"
#include "kernels/bitserial_isa.h"
#include "kernels/bitserial_planes.h"
#include "kernels/conv_geometry.h"
#include "op_options.h"
#include "threading/thread_pool.h"

namespace bitlite {

class Conv2DBitserial {
 public:
  // Packs the weights: w_codes [out_c][kernel_h][kernel_w][in_c] as the reference unpacks.
  // Ungrouped convolutions only (params.groups == 1).
  Conv2DBitserial(const OpParams& params, const int8_t* w_codes, BitserialIsa isa);

  // Sizes the scratch for geometry `g` and up to `threads` workers.
  void Prepare(const ConvGeometry& g, int threads);

  // y = conv(x) for the geometry of the last Prepare; pool->threads() <= its `threads`.
  void Run(const float* x, float* y, ThreadPool* pool);

 private:
  struct Scratch {
    std::vector<uint64_t> columns;     // im2col of one chunk, the bgemm x layout
    std::vector<int32_t> core;         // [chunk pixels][block channels]
    std::vector<int32_t> pixel_sums;   // sum of activation v over each pixel's taps
    std::vector<int32_t> acc;          // one pixel's accumulators for the output stage
  };

  struct PixelPosition {
    int64_t n = 0;
    int64_t oh = 0;
    int64_t ow = 0;
  };
  PixelPosition PositionOf(int64_t pixel) const;
  void Next(PixelPosition* position) const;  // the following output pixel

  void RunUnit(int64_t unit, Scratch* scratch, float* y) const;
  // Writes the im2col columns of pixels [first, first + count) and their activation sums.
  void Im2Col(int64_t first, int64_t count, Scratch* scratch) const;
  // How the accumulators of the pixel at `at`, channels from c0, follow from its GEMM row:
  // the 1-bit grids' corrections (bitserial_planes.h).
  EpilogueTerms TermsAt(const PixelPosition& at, int32_t pixel_sum, int64_t c0) const;
  // Activations with a shift (binary; signed in bytes): the weight term of every
  // (row class, column class) of valid taps.
  void PrepareBorderTerms();

  ActivationGrid grid_;
  PlaneGrid x_planes_;
  BitserialWeights weights_;
  BitserialFunctions kernels_;
  Activation activation_;
  std::vector<float> multiplier_;
  std::vector<float> offset_;

  ConvGeometry g_;
  int64_t words_per_tap_ = 0;
  int64_t chunk_pixels_ = 0;   // pixels per unit, a multiple of the bgemm lanes
  int64_t chunks_ = 0;
  int64_t block_channels_ = 0;  // channels per unit, a multiple of kChannelAlign
  int64_t blocks_ = 0;
  // The valid kernel rows of each output row, as an index into row_ranges_; same for
  // columns. Output rows with the same range share a class, so the weight sums over valid
  // taps are computed at Prepare once per (row class, column class).
  std::vector<TapRange> row_ranges_;
  std::vector<TapRange> col_ranges_;
  std::vector<int32_t> row_class_;  // [out_h]
  std::vector<int32_t> col_class_;  // [out_w]
  // Activations with a shift: [row class][column class][weights_.channels], the weight
  // term sw * hx * (sum of weight v over the valid taps); empty otherwise.
  std::vector<int32_t> border_terms_;
  // Input pixel offset of each tap (kernel_h x kernel_w) from the window's top-left pixel.
  std::vector<int64_t> tap_offsets_;
  std::vector<uint64_t> packed_input_;  // [batch * in_h * in_w][words_per_tap_][x bits]
  std::vector<int32_t> input_sums_;     // [batch * in_h * in_w]: sum of activation v
  std::vector<Scratch> scratch_;  // one per worker
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_CONV2D_BITSERIAL_H_
