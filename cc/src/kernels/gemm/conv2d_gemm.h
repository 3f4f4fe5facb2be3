// The convolution driver of the GEMM kernels (gemm_kernels.h), bit-identical to
// Conv2DReference: weights as bit planes (or nibbles, for the int family) packed once,
// activations quantized and packed once per Run into a zero-padded buffer, then per chunk of
// output pixels: the row's GEMM over plane pairs (bgemm.h: popcounts, int8 dot products or
// table lookups) that reads each window's taps in place (or from im2col columns, for kernels
// without an indirect form; a 1x1 layer's columns are its packed input itself), the exact
// corrections of the grids with an offset (bitserial_planes.h) and the output stage (the
// reference's, or a bit-identical SIMD one) for the whole chunk.
// A grouped convolution (FORMAT.md `groups`) is one such GEMM per group: each group's input
// channel slice is packed on its own (whole words per tap), with its own weights and output
// channels.
// Narrow inputs (an RGB stem, 16-channel layers): every tap starts a 64-bit word, so a tap of
// 3 byte codes or 16 bit codes leaves most of its word empty. Such a layer (WidthFolds) runs
// with its kernel's columns folded into the channels: the kernel_w taps of a row, contiguous
// in NHWC, become one tap of kernel_w * in_c codes, the convolution a kernel_h x 1 one over an
// input of out_w columns (packing gathers each window's row, zeros outside the input). The
// sum of products is the same, tap by tap: the width's zero padding becomes code 0 inside a
// tap, which adds w * 0 on every grid but the binary one, which never folds.
// Work is split into (pixel chunk, group, channel block) units over a ThreadPool; every unit
// is computed whole by one thread, so results do not depend on the thread count.
// A layer whose output a max pool reads alone can pool it itself (PoolOutput): output rows
// are then computed as the pool's windows need them, their accumulators max pooled
// (pooled_accumulators.h) and only the pooled outputs go through the output stage; units
// are ranges of pooled rows, each computing the convolution rows its windows reach.
// A 3x3 layer of stride 1 on an int row can run its GEMM as Winograd F(2x2, 3x3) on a W8A8
// row (winograd_f2x3.h): chunks are then whole output rows, taken two at a time, and the
// core, the terms and everything after them are the same.
#ifndef BITLITE_SRC_KERNELS_GEMM_CONV2D_GEMM_H_
#define BITLITE_SRC_KERNELS_GEMM_CONV2D_GEMM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "glue/glue_kernels.h"
#include "kernels/activation_io.h"
#include "kernels/epilogue/code_thresholds.h"
#include "kernels/epilogue/pooled_accumulators.h"
#include "kernels/cache_line_vector.h"
#include "kernels/pack/activation_pack.h"
#include "kernels/pack/activation_quantize.h"
#include "kernels/pool_geometry.h"
#include "kernels/gemm/gemm_kernels.h"
#include "kernels/gemm/bitserial_planes.h"
#include "kernels/conv_geometry.h"
#include "kernels/op_params.h"
#include "kernels/winograd/winograd_f2x3.h"
#include "kernels/winograd/winograd_workspace.h"
#include "threading/thread_pool.h"

namespace bitlite {

class Conv2DGemm {
 public:
  // Packs the weights: w_codes [out_c][kernel_h][kernel_w][in_c / groups] as the reference
  // unpacks them. `kernel` must take the params' bit widths (GemmKernel::Takes).
  // `winograd`: a row whose W8A8 GEMM runs the layer as F(2x2, 3x3) where it can (an int
  // `kernel`, WinogradFits, no width fold, no pooled output); null: the direct GEMM.
  Conv2DGemm(const OpParams& params, const int8_t* w_codes, const GemmKernel& kernel,
             const GemmKernel* winograd = nullptr);

  // Sizes the scratch for geometry `g` and up to `threads` workers, fewer if the layer is
  // too small to share (ThreadsForWork). Fails with a message, allocating nothing, if the
  // scratch would take more than `max_scratch_bytes`.
  // `min_work_per_thread`: ThreadsForWork's (tests lower it to share small layers).
  bool Prepare(const ConvGeometry& g, int threads, int64_t max_scratch_bytes,
               std::string* error, int64_t min_work_per_thread = kMinWorkPerThread);

  // The threads Run takes part of its pool for (Prepare's choice).
  int threads() const { return threads_; }
  // Whether the last Prepare failed for want of scratch (max_scratch_bytes).
  bool over_scratch_limit() const { return over_scratch_limit_; }
  // Whether the layer runs with its kernel's width folded into the channels (above).
  bool folds_width() const { return fold_width_; }
  // Whether Run computes the GEMM as F(2x2, 3x3) (after Prepare; before it, whether it can).
  bool runs_winograd() const { return winograd_ != nullptr && !pools_; }
  // Before Prepare: F(2x2, 3x3)'s per-worker buffers come from `shared` (Prepare grows it to
  // this layer's need), which layers that never run at the same time may share; null: the
  // layer's own.
  void ShareWinogradWorkspaces(WinogradWorkspaces* shared) { shared_workspaces_ = shared; }

  // y = conv(x) for the geometry of the last Prepare; pool->threads() <= its `threads`.
  // x as floats or (where reads_codes()) as codes of input_packing()'s grid; y as floats or
  // (where writes_codes()) as another op's codes.
  void Run(const ActivationInput& x, const ActivationOutput& y, ThreadPool* pool);
  void Run(const float* x, float* y, ThreadPool* pool) {
    Run(ActivationInput{x, nullptr}, ActivationOutput{y}, pool);
  }

  // The grid the input is quantized to, and how (what a producer of its codes needs).
  const ActivationPacking& input_packing() const { return packing_; }
  // Whether Run takes its input, and writes its output, as codes: the kernel row has the
  // functions (GemmFunctions).
  bool reads_codes() const { return kernels_.pack_codes != nullptr; }
  bool writes_codes() const { return kernels_.epilogue_codes != nullptr; }
  // Before Run writes codes of `grid` (null: floats): folds the output stage into integer
  // compares for it (code_thresholds.h) where it can.
  void WillWriteCodes(const ActivationPacking* grid);

  // Before Prepare: Run writes the output max pooled by `pool` (whose input is this layer's
  // output) instead of the output itself; null: not pooled. False, and not pooled, where
  // the output stage does not allow pooling the accumulators (OutputStagePools), the
  // layer has groups or it runs as F(2x2, 3x3).
  bool PoolOutput(const PoolGeometry* pool);
  // Before Prepare: Run's float outputs become clamp(a + b) of each output and the element of
  // ActivationOutput::residual (an ADD fused into the layer, FORMAT.md "Fused ops"), a the
  // residual where `residual_first`, in the glue's ADD arithmetic; null: no ADD.
  void AddOutput(const glue::Clamp* clamp, bool residual_first);

 private:
  struct Scratch {
    std::vector<const uint64_t*> rows;          // [chunk pixels]: window corners in the input
    CacheLineVector<uint64_t> columns;          // im2col of one chunk (kernels without indirect)
    CacheLineVector<int32_t> core;              // [chunk pixels][block channels]
    std::vector<int32_t> constants;             // [chunk pixels], EpilogueTerms::constants
    std::vector<const int32_t*> channel_terms;  // [chunk pixels], EpilogueTerms::channel_terms
    std::vector<int32_t> acc;                   // one pixel's accumulators (scalar epilogue)
    // A folded layer (PackFoldedRow): its input row packed as one pixel between the codes
    // of 0.0 (FoldedRow); and, for byte codes and weights with a shift, the row's pixels
    // packed one by one and their sums.
    CacheLineVector<uint64_t> fold_row;
    std::vector<uint64_t> fold_pixels;
    std::vector<int32_t> fold_pixel_sums;
    // A pooled layer (PoolOutput): the flipped accumulators of the last pool.filter_h output
    // rows (row r at r % filter_h), and one pooled row's accumulators.
    CacheLineVector<int32_t> pool_rows;
    std::vector<const int32_t*> pool_ring;  // [filter_h]: the rows' places in pool_rows
    CacheLineVector<int32_t> pooled;
    // A fused ADD (AddOutput) on a row without epilogue_add: the chunk's outputs, [chunk
    // pixels][block channels].
    CacheLineVector<float> add_operand;
    // F(2x2, 3x3)'s buffers (WinogradGemm): the layer's own or a shared set's.
    WinogradWorkspace* winograd = nullptr;
  };

  struct PixelPosition {
    int64_t n = 0;
    int64_t oh = 0;
    int64_t ow = 0;
  };
  PixelPosition PositionOf(int64_t pixel) const;
  void Next(PixelPosition* position) const;  // the following output pixel

  // Packs input row `row` (n * in_h + ih) of group g; `scratch` is the worker's.
  void PackRow(const ActivationInput& x, int64_t row, int64_t g, Scratch* scratch);
  // A folded layer's input row from x_row (floats or codes) with `pack` (PackRow): each value
  // packed once into scratch->fold_row, each output column's window row copied out of it as
  // one pixel (bit planes shifted into place), the code of 0.0 outside the input. Packing
  // every window row instead packs each value kernel_w / stride times: 3 for a 3x3 layer,
  // 3.5 for ResNet's 7x7 stride-2 stem.
  template <class T, class Pack>
  void PackFoldedRow(const T* x_row, Pack pack, Scratch* scratch, uint64_t* packed,
                     int32_t* sums) const;
  void RunUnit(int64_t unit, Scratch* scratch, const ActivationOutput& y) const;
  // The GEMM of the chunk's `count` pixels from `first`, channels [c0, c0 + channels) of
  // group g, into scratch->core; returns the terms that complete its accumulators.
  EpilogueTerms ChunkGemm(int64_t first, int64_t count, int64_t g, int64_t c0,
                          int64_t channels, Scratch* scratch) const;
  // The fused ADD of the chunk's `count` pixels from `first`, channels [oc, oc + channels),
  // whose outputs are at `outputs` ([count][channels]), into y (AddOutput).
  void AddResidual(const float* outputs, int64_t first, int64_t count, int64_t oc,
                   int64_t channels, const ActivationOutput& y) const;
  // Pooled rows [first, end) of the batch * pool_.out_h (PoolOutput).
  void RunPooledRows(int64_t first, int64_t end, Scratch* scratch,
                     const ActivationOutput& y) const;
  // ChunkGemm's core by F(2x2, 3x3) for channels [c0, c0 + channels): the chunk's 2x2 blocks
  // transformed (TransformChunk, once per worker and chunk), multiplied and transformed back.
  void WinogradGemm(int64_t first, int64_t count, int64_t c0, int64_t channels,
                    Scratch* scratch) const;
  // The chunk's rows in pairs (a row alone at an image's or the chunk's end), each pair's 2x2
  // blocks' input transformed into `workspace`, which then holds this Run's chunk `first`.
  void TransformChunk(int64_t first, int64_t count, WinogradWorkspace* workspace) const;
  // The im2col columns of the chunk's `count` pixels (scratch->rows), for kernels without
  // an indirect form.
  void Im2Col(int64_t count, int64_t words, Scratch* scratch) const;
  // Points rows at the windows of pixels [first, first + count) in group g's packed input and
  // writes their epilogue terms for channels from c0 of the group.
  void PrepareChunk(int64_t first, int64_t count, int64_t g, int64_t c0, Scratch* scratch) const;
  // Activations with a shift (binary; signed in bytes): the weight term of every
  // (group, row class, column class) of valid taps.
  void PrepareBorderTerms();

  PlaneGrid x_planes_;
  ActivationPacking packing_;
  std::vector<BitserialWeights> weights_;  // [groups]
  GemmFunctions kernels_;
  Activation activation_;
  CacheLineVector<float> multiplier_;
  CacheLineVector<float> offset_;
  // For the grid WillWriteCodes named (Run takes the float path for any other), folded for
  // accumulators within max_accumulator_ (OpParams::MaxAccumulator).
  CodeThresholds code_thresholds_;
  int64_t max_accumulator_ = 0;
  // PoolOutput's pool, its channel flips and kernels (pooled_accumulators.h), its units of
  // pooled rows (from Prepare).
  bool pools_ = false;
  PoolGeometry pool_{};
  std::vector<int32_t> pool_flips_;
  int64_t pool_units_ = 0;
  PoolKernels pool_kernels_{};
  // AddOutput's ADD.
  bool adds_ = false;
  glue::Clamp add_clamp_{};
  bool residual_first_ = false;
  QuantizeActivationsFn quantize_ = nullptr;  // side codes of fused ops

  bool fold_width_ = false;
  // A 1x1 layer of stride s without padding runs as stride 1 on every s-th input row and
  // pixel (Subsample in conv2d_gemm.cc): the steps PackRow takes through the input; else 1.
  int64_t step_h_ = 1;
  int64_t step_w_ = 1;
  // The layer's F(2x2, 3x3) weights and GEMM (constructor), the 2x2 blocks a chunk holds at
  // most (Prepare).
  std::unique_ptr<WinogradF2x3> winograd_;
  int64_t winograd_blocks_ = 0;
  bool over_scratch_limit_ = false;
  WinogradWorkspaces own_workspaces_;
  WinogradWorkspaces* shared_workspaces_ = nullptr;
  uint64_t run_id_ = 0;  // the last Run's, unique across layers (WinogradWorkspace::run)
  // Copies `count` window rows from a folded layer's packed row (conv2d_gemm.cc).
  using CopyWindowsFn = void (*)(const uint64_t* row, int64_t first_bit, int64_t bit_step,
                                 int64_t count, int64_t words, uint64_t last_word_mask,
                                 int64_t tap_words, uint64_t* out);
  // A folded layer's input row in scratch->fold_row (PackFoldedRow): in each plane, the
  // code of 0.0's bits in lead_words before the packed row and in the words after it, so that
  // every window row, the border's too, is `words_per_tap_` words read from one bit offset.
  struct FoldedRow {
    int64_t pixel_bits = 0;  // an input pixel's bits in one plane
    int64_t row_words = 0;   // the packed row's words per plane
    int64_t lead_words = 0;  // before it: the left padding's bits, rounded up
    int64_t words = 0;       // lead, row and the words the last window's copy reads after it
    uint64_t last_word_mask = 0;  // a window's bits in its last word
    uint64_t zero_bits[4] = {};   // each plane's word of codes of 0.0 (v = Value(0))
    CopyWindowsFn copy_windows = nullptr;  // for the planes or bytes
  } folded_;
  ConvGeometry g_;         // what the GEMM runs: the layer's geometry, or its folded one
  ConvGeometry unfolded_;  // the layer's geometry
  int64_t group_in_c_ = 0;
  int64_t group_out_c_ = 0;
  int64_t group_channels_ = 0;  // weights_[g].channels: group_out_c_ rounded up
  int64_t words_per_tap_ = 0;   // of one group's channels
  int64_t tap_words_ = 0;       // words_per_tap_ * activation planes: one packed pixel
  bool indirect_ = false;       // the GEMM reads the windows in place, not im2col columns
  // A 1x1 convolution of stride 1 without padding: the packed input, pixel after pixel, is
  // already its im2col columns, which `run` reads in place.
  bool columns_in_place_ = false;
  // The packed input is zero-padded so that every window lies inside it.
  PaddedAxis rows_;
  PaddedAxis cols_;
  int64_t padded_h_ = 0;
  int64_t padded_w_ = 0;
  int64_t padded_pixels_ = 0;  // batch * padded_h_ * padded_w_
  int64_t chunk_pixels_ = 0;   // pixels per unit
  int64_t chunks_ = 0;
  int64_t block_channels_ = 0;  // channels per unit, a multiple of kChannelAlign
  int64_t blocks_ = 0;          // per group
  int threads_ = 1;             // that Run uses: ThreadsForWork of Prepare's `threads`
  // The valid kernel rows of each output row, as an index into row_ranges_; same for
  // columns. Output rows with the same range share a class, so the weight sums over valid
  // taps are computed at Prepare once per (row class, column class).
  std::vector<TapRange> row_ranges_;
  std::vector<TapRange> col_ranges_;
  std::vector<int32_t> row_class_;  // [out_h]
  std::vector<int32_t> col_class_;  // [out_w]
  // Activations with a shift: [group][row class][column class][group_channels_], the weight
  // term sw * hx * (sum of weight v over the valid taps); empty otherwise.
  CacheLineVector<int32_t> border_terms_;
  std::vector<int64_t> x_offsets_;   // [words per plane]: GEMM word k's offset from a corner
  CacheLineVector<uint64_t> packed_input_;  // [groups][padded pixels][tap_words_]
  std::vector<int32_t> input_sums_;     // [groups][padded pixels]: sum of activation v
  // Weights with a shift (binary) need each window's sum of activation v: summed per padded
  // row over each output column's kernel_w taps when a row is packed, [groups][batch *
  // padded_h_][out_w], then over kernel_h rows per pixel. Empty otherwise.
  std::vector<int32_t> window_row_sums_;
  std::vector<Scratch> scratch_;        // one per worker
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_GEMM_CONV2D_GEMM_H_
