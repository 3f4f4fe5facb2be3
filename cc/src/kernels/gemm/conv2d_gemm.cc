#include "kernels/gemm/conv2d_gemm.h"

#include <algorithm>
#include <cstring>

#include "error_message.h"

namespace bitlite {
namespace {

// Output pixels per work unit at most: enough to amortize a unit, few enough to keep a
// chunk's GEMM results in L1 and to give every thread several units.
constexpr int64_t kChunkPixels = 64;
// Chunks are as equal as multiples of this allow (the NEON W1A1 tile's 4 pixels): a 14x14
// layer's 196 pixels are chunks of 52, 52, 52 and 40 rather than 64, 64, 64 and 4, which
// gave 2 threads runs of 128, 128, 128 and 8 pixels (ResNet-18 224's 14x14 layers 1.6x at 2
// threads on Zen 5).
constexpr int64_t kChunkPixelMultiple = 4;
// Units per thread worth having when a layer has few pixels (fully connected, late layers):
// below that, units also split the output channels.
constexpr int64_t kUnitsPerThread = 4;

// Classes of equal TapRanges over the output positions of one axis.
void ClassifyRanges(const std::vector<TapRange>& ranges, std::vector<TapRange>* distinct,
                    std::vector<int32_t>* class_of) {
  distinct->clear();
  class_of->clear();
  for (const TapRange& range : ranges) {
    auto same = [&](const TapRange& other) { return other.lo == range.lo && other.hi == range.hi; };
    const auto found = std::find_if(distinct->begin(), distinct->end(), same);
    class_of->push_back(static_cast<int32_t>(found - distinct->begin()));
    if (found == distinct->end()) distinct->push_back(range);
  }
}

// At most how many distinct TapRanges (ClassifyRanges) the outputs of one axis have: those
// whose window starts before the input or ends past it, and one class for the full window;
// and at most 2 kernel + 1, as a range's lo and hi (in [0, kernel]) never grow with the
// output. O(1), so Prepare bounds the border terms' scratch before it classifies anything.
int64_t MaxRangeClasses(int64_t out, int64_t stride, int64_t pad, int64_t dilation,
                        int64_t kernel, int64_t in) {
  auto ceil_div = [](int64_t num, int64_t den) { return num <= 0 ? 0 : (num + den - 1) / den; };
  const int64_t leading = std::min(out, ceil_div(pad, stride));
  const int64_t first_trailing =
      std::min(out, ceil_div(in + pad - (kernel - 1) * dilation, stride));
  return std::min({out, leading + (out - first_trailing) + 1, 2 * kernel + 1});
}

// Whether the layer folds its kernel's width into the channels (conv2d_gemm.h): an
// ordinary convolution of contiguous kernel columns on a non-binary grid, whose folded taps
// take at most 3/4 of the words its taps take now.
bool WidthFolds(const OpParams& p, const PlaneGrid& x_planes) {
  if (p.kind != OpKind::kConv2D || p.groups != 1 || p.kernel_w <= 1 || p.dilation_w != 1 ||
      x_planes.binary) {
    return false;
  }
  const int code_bits = x_planes.CodeBits();
  const int64_t folded = WordsPerTap(int64_t{p.kernel_w} * p.in_channels, code_bits);
  return 4 * folded <= 3 * p.kernel_w * WordsPerTap(p.in_channels, code_bits);
}

// The geometry the folded GEMM runs: kernel_h x 1 over out_w columns of kernel_w * in_c.
ConvGeometry FoldWidth(const ConvGeometry& g) {
  ConvGeometry folded = g;
  folded.in_w = g.out_w;
  folded.in_c = g.kernel_w * g.in_c;
  folded.kernel_w = 1;
  folded.stride_w = 1;
  folded.dilation_w = 1;
  folded.pad_left = 0;
  return folded;
}

// The geometry a 1x1 layer of stride s without padding runs: stride 1 over the input's every
// s-th row and pixel, the only ones its windows read (PackRow packs just those).
ConvGeometry Subsample(const ConvGeometry& g) {
  ConvGeometry subsampled = g;
  subsampled.in_h = g.out_h;
  subsampled.in_w = g.out_w;
  subsampled.stride_h = subsampled.stride_w = 1;
  return subsampled;
}

// The windows of `count` output columns, the first at bit first_bit of the row's kPlanes
// bit planes (interleaved word by word) and each `bit_step` bits after the one before, into
// out (`tap_words` apart), `words` a plane; the row has a word after the last one read.
template <int kPlanes>
void CopyWindowPlanes(const uint64_t* row, int64_t first_bit, int64_t bit_step, int64_t count,
                      int64_t words, uint64_t last_word_mask, int64_t tap_words,
                      uint64_t* out) {
  for (int64_t i = 0; i < count; ++i, out += tap_words) {
    int64_t bit = first_bit + i * bit_step;  // not stepped past the last window: no overflow
    for (int64_t w = 0; w < words; ++w, bit += 64) {
      const uint64_t* at = row + (bit >> 6) * kPlanes;
      const int shift = static_cast<int>(bit & 63);
      const uint64_t keep = w + 1 == words ? last_word_mask : ~uint64_t{0};
#pragma GCC unroll 4
      for (int j = 0; j < kPlanes; ++j) {
        // (x << 1) << (63 - shift): no shift by 64 where shift is 0.
        out[w * kPlanes + j] =
            ((at[j] >> shift) | ((at[kPlanes + j] << 1) << (63 - shift))) & keep;
      }
    }
  }
}

// The same for byte codes (one plane, every offset a whole byte): unaligned word loads.
void CopyWindowBytes(const uint64_t* row, int64_t first_bit, int64_t bit_step, int64_t count,
                     int64_t words, uint64_t last_word_mask, int64_t tap_words, uint64_t* out) {
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(row);
  for (int64_t i = 0; i < count; ++i, out += tap_words) {
    const uint8_t* src = bytes + (first_bit + i * bit_step) / 8;
    for (int64_t w = 0; w < words; ++w) std::memcpy(out + w, src + 8 * w, 8);
    out[words - 1] &= last_word_mask;
  }
}

// The sums of plane values of `count` packed pixels (`tap_words` apart, `words` a plane, the
// planes' weights in `weights`): popcounts, compiled twice on x86, whose baseline has no POPCNT
// (a library call per word, 4% of ResNet-20 W1A1's time), the CPU's choice taken at load.
// (GCC on glibc, which has the ifunc that target_clones needs; elsewhere a plain function.)
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
void PlaneValueSums(const uint64_t* packed, int64_t count, int64_t tap_words, int64_t words,
                    int planes, const int32_t* weights, int32_t* sums) {
  for (int64_t i = 0; i < count; ++i, packed += tap_words) {
    int32_t sum = 0;
    for (int j = 0; j < planes; ++j) {
      int32_t ones = 0;
      for (int64_t w = 0; w < words; ++w) ones += __builtin_popcountll(packed[w * planes + j]);
      sum += ones * weights[j];
    }
    sums[i] = sum;
  }
}

}  // namespace

Conv2DGemm::Conv2DGemm(const OpParams& params, const int8_t* w_codes, const GemmKernel& kernel,
                       const GemmKernel* winograd)
    : kernels_(kernel.functions(params.weight_bits, params.activation_bits,
                                params.activation_signed && params.activation_bits >= 2)),
      activation_(params.activation),
      multiplier_(params.multiplier.begin(), params.multiplier.end()),
      offset_(params.offset.begin(), params.offset.end()),
      max_accumulator_(params.MaxAccumulator()) {
  x_planes_ = ActivationPlaneGrid(params.activation_bits, params.activation_signed,
                                  kernel.bytes(), kernels_.signed_activation_bytes);
  packing_ = MakeActivationPacking(MakeActivationGrid(params), x_planes_);
  fold_width_ = WidthFolds(params, x_planes_);
  const int64_t groups = params.groups;
  // Folded, w_codes [out_c][kernel_h][kernel_w][in_c] is [out_c][kernel_h][kernel_w * in_c]:
  // the same codes as kernel_h taps of kernel_w * in_c channels.
  const int64_t fold = fold_width_ ? params.kernel_w : 1;
  const int64_t taps = int64_t{params.kernel_h} * params.kernel_w / fold;
  const int64_t group_in_c = params.in_channels / groups * fold;
  const int64_t group_out_c = params.out_channels / groups;
  const int64_t code_count = params.out_channels * taps * group_in_c;
  if (kernels_.bgemm.run_without_min_weight != nullptr &&
      std::find(w_codes, w_codes + code_count, int8_t{-128}) == w_codes + code_count) {
    kernels_.bgemm.run = kernels_.bgemm.run_without_min_weight;
  }
  weights_.resize(static_cast<size_t>(groups));
  for (int64_t group = 0; group < groups; ++group) {
    BitserialWeights& weights = weights_[static_cast<size_t>(group)];
    PackBitserialWeights(group_out_c, taps, group_in_c,
                         w_codes + group * group_out_c * taps * group_in_c,
                         WeightPlaneGrid(params.weight_bits, kernel.bytes(),
                                         kernels_.byte_weights),
                         kernels_.bgemm.lanes, /*need_tap_sums=*/x_planes_.Shift() != 0,
                         &weights);
    if (kernels_.relayout_weights != nullptr) {
      kernels_.relayout_weights(weights.planes.data(), weights.planes.size(),
                                weights.words_per_plane);
    }
  }
  if (winograd != nullptr && kernel.bytes() && !fold_width_ && WinogradFits(params)) {
    winograd_ = std::make_unique<WinogradF2x3>(
        params.out_channels, params.in_channels, w_codes,
        WeightPlaneGrid(params.weight_bits, /*bytes=*/true), params.activation_bits,
        winograd->functions(8, 8, false));
    // Its own weights replace the direct ones (their tap sums, channels and grid stay).
    CacheLineVector<uint64_t>().swap(weights_.front().planes);
  }
}

bool Conv2DGemm::Prepare(const ConvGeometry& geometry, int threads, int64_t max_scratch_bytes,
                         std::string* error, int64_t min_work_per_thread) {
  over_scratch_limit_ = false;
  unfolded_ = geometry;
  const bool subsamples = !fold_width_ && geometry.kernel_h == 1 && geometry.kernel_w == 1 &&
                          geometry.pad_top == 0 && geometry.pad_left == 0 &&
                          (geometry.stride_h > 1 || geometry.stride_w > 1);
  step_h_ = subsamples ? geometry.stride_h : 1;
  step_w_ = subsamples ? geometry.stride_w : 1;
  g_ = fold_width_ ? FoldWidth(geometry) : subsamples ? Subsample(geometry) : geometry;
  const ConvGeometry& g = g_;
  group_in_c_ = g.InChannelsPerGroup();
  group_out_c_ = g.OutChannelsPerGroup();
  group_channels_ = weights_.front().channels;
  words_per_tap_ = WordsPerTap(group_in_c_, x_planes_.CodeBits());
  tap_words_ = words_per_tap_ * x_planes_.Planes();
  rows_ = PadAxis(g.in_h, g.out_h, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h);
  cols_ = PadAxis(g.in_w, g.out_w, g.stride_w, g.pad_left, g.dilation_w, g.kernel_w);
  const CheckedSize padded_pixels = CheckedSize(g.batch) * rows_.size * cols_.size;
  const int64_t pixels = g.batch * g.out_h * g.out_w;
  const int64_t some_pixels = std::max<int64_t>(pixels, 1);  // an empty output runs nothing
  const int64_t fewest_chunks = (some_pixels + kChunkPixels - 1) / kChunkPixels;
  const int64_t even = (some_pixels + fewest_chunks - 1) / fewest_chunks;
  chunk_pixels_ = std::min({(even + kChunkPixelMultiple - 1) / kChunkPixelMultiple *
                                kChunkPixelMultiple,
                            some_pixels, kChunkPixels});
  // The GEMM's word operations (kMinWorkPerThread): every output pixel and channel, for
  // every tap's words and plane pair. Packing and the output stage grow with it.
  const CheckedSize work = CheckedSize(pixels) * g.groups * group_channels_ * g.kernel_h *
                           g.kernel_w * words_per_tap_ * x_planes_.Planes() *
                           weights_.front().grid.Planes();
  threads_ = work.ok() ? ThreadsForWork(work.value() / kernels_.words_per_work, threads,
                                        min_work_per_thread)
                       : std::max(threads, 1);
  if (runs_winograd()) {
    // Whole output rows, pairs of them (the 2x2 blocks' rows). Shared by threads, one pair a
    // chunk: a 14x14 layer's 7 split evenly with its blocks of channels, whose units of one
    // chunk transform its input once per worker (WinogradGemm). On one thread, about
    // kChunkPixels pixels (the whole image for 7x7): every chunk reads all the transformed
    // weights, which the A53's model prices (ResNet-18 224 W4A4 341 ms so, 403 with single
    // pairs). A chunk that starts in one image and ends in the next holds at most one row
    // more than R / 2 pairs as blocks.
    const int64_t out_w = std::max<int64_t>(g.out_w, 1);
    const int64_t rows = std::min<int64_t>(
        threads_ > 1 ? 2 : 2 * std::max<int64_t>(1, kChunkPixels / (2 * out_w)), g.out_h);
    chunk_pixels_ = std::max<int64_t>(rows * g.out_w, 1);
    winograd_blocks_ = ((rows + 1) / 2 + 1) * ((g.out_w + 1) / 2);
  }
  chunks_ = (pixels + chunk_pixels_ - 1) / chunk_pixels_;
  // One thread: the whole channel range per unit, so each chunk's terms are computed once.
  const int64_t channel_tiles = group_channels_ / kChannelAlign;
  const int64_t pixel_units = std::max<int64_t>(chunks_ * g.groups, 1);
  const int64_t wanted_blocks =
      threads_ > 1 ? (kUnitsPerThread * threads_ + pixel_units - 1) / pixel_units : 1;
  // A pooled layer's units are ranges of pooled rows, each over every channel.
  const int64_t blocks =
      pools_ ? 1 : std::clamp<int64_t>(wanted_blocks, 1, channel_tiles);
  block_channels_ = (channel_tiles + blocks - 1) / blocks * kChannelAlign;
  blocks_ = (group_channels_ + block_channels_ - 1) / block_channels_;
  if (pools_ && (pool_.batch != g.batch || pool_.in_h != g.out_h || pool_.in_w != g.out_w ||
                 pool_.channels != g.out_c)) {
    return Fail("internal error: the pool's input is not the convolution's output", error);
  }
  pool_units_ = pools_ ? std::min<int64_t>(int64_t{pool_.batch} * pool_.out_h, threads_) : 0;

  // Every buffer below, added up before any is allocated.
  const bool shifted = x_planes_.Shift() != 0;
  // Output pixel q's window is input pixel q alone (a 1x1 kernel of stride 1 or a 1-pixel
  // axis: nothing else has as many windows as pixels in an unpadded buffer).
  auto same_pixels = [](const PaddedAxis& axis, int64_t in, int64_t out) {
    return out == in && axis.before == 0 && axis.shift == 0 && axis.size.ok() &&
           axis.size.value() == in;
  };
  columns_in_place_ = !runs_winograd() && kernels_.bgemm.run != nullptr &&
                      same_pixels(rows_, g.in_h, g.out_h) && same_pixels(cols_, g.in_w, g.out_w);
  indirect_ = !runs_winograd() && !columns_in_place_ && kernels_.bgemm.indirect != nullptr &&
              (kernels_.bgemm.run == nullptr ||
               tap_words_ % kernels_.bgemm.indirect_tap_words == 0);
  const bool im2col = !runs_winograd() && !indirect_ && !columns_in_place_;
  const int64_t words = weights_.front().words_per_plane;
  const CheckedSize chunk = chunk_pixels_;
  // F(2x2, 3x3)'s outputs past the layer's last row or column (WinogradGemm).
  const int64_t unread_rows = runs_winograd() ? 3 : 0;
  // F(2x2, 3x3)'s blocks past the last output row or column read a row and a pixel past the
  // windows (winograd_f2x3.h): the packed input has them after its last pixel.
  const CheckedSize input_slack = runs_winograd() ? cols_.size + 1 : CheckedSize(0);
  ScratchBudget budget;
  budget.Add((CheckedSize(g.groups) * padded_pixels + input_slack) * tap_words_,
             sizeof(uint64_t));
  budget.Add(CheckedSize(g.groups) * padded_pixels, sizeof(int32_t));
  if (weights_.front().grid.Shift() != 0) {
    budget.Add(CheckedSize(g.groups) * g.batch * rows_.size * g.out_w, sizeof(int32_t));
  }
  // The tap ranges of every output row and column, and their classes.
  budget.Add(CheckedSize(g.out_h) + g.out_w, 2 * sizeof(TapRange) + sizeof(int32_t));
  budget.Add(CheckedSize(g.kernel_h) * g.kernel_w * words_per_tap_, sizeof(int64_t));
  const CheckedSize per_thread =
      chunk * (sizeof(const uint64_t*) + 2 * sizeof(int32_t) + sizeof(const int32_t*)) +
      (im2col ? chunk * words * x_planes_.Planes() * sizeof(uint64_t) : CheckedSize(0)) +
      (chunk + unread_rows + 1) * block_channels_ * sizeof(int32_t);
  budget.Add(per_thread * threads_, 1);
  if (runs_winograd()) {
    const CheckedSize blocks = CheckedSize(winograd_blocks_) * threads_;
    budget.Add(blocks * kWinogradPoints * winograd_->words(), sizeof(uint64_t));
    budget.Add(blocks * kWinogradPoints * block_channels_, sizeof(int32_t));
    budget.Add(blocks * kWinogradPoints, sizeof(int32_t));
    budget.Add(blocks, sizeof(const uint8_t*) + 4 * sizeof(int64_t));
  }
  // A fused ADD's outputs before the glue's ADD, where the row has no epilogue_add.
  const bool add_scratch = adds_ && kernels_.epilogue_add == nullptr;
  if (add_scratch) budget.Add(CheckedSize(threads_) * chunk * block_channels_, sizeof(float));
  if (pools_) {
    budget.Add(CheckedSize(threads_) * (CheckedSize(pool_.filter_h) * g.out_w + pool_.out_w) *
                   group_out_c_,
               sizeof(int32_t));
  }
  const bool window_sums = weights_.front().grid.Shift() != 0;
  const int64_t code_bits = x_planes_.CodeBits(), planes = x_planes_.Planes();
  if (fold_width_) {
    // PackFoldedRow's row and, for window sums of byte codes, its pixels. Checked: the
    // geometry comes from the model. The buffer holds the padding's bits rounded up to
    // words, the row's, and what the copies read after it: the last window ends
    // (out_w - 1) * stride - pad_left + kernel_w pixels after the row's start (counted here
    // without pad_left > 0; pad_left < 0 in a transposed convolution's phase), and BitsAt
    // reads a word past a window's last bit.
    const int64_t pixel_bits = unfolded_.in_c * code_bits;
    const CheckedSize lead_bits = CheckedSize(std::max<int64_t>(0, unfolded_.pad_left)) *
                                  unfolded_.in_c * code_bits;
    const CheckedSize row_bits = CheckedSize(unfolded_.in_w) * unfolded_.in_c * code_bits;
    const CheckedSize window_end_bits =
        (CheckedSize(std::max<int64_t>(0, g.out_w - 1)) * unfolded_.stride_w + unfolded_.kernel_w +
         std::max<int64_t>(0, -unfolded_.pad_left)) *
        unfolded_.in_c * code_bits;
    const CheckedSize buffer_bits = lead_bits + 63 + Max(row_bits, window_end_bits) + 2 * 64;
    const CheckedSize buffer_words =
        buffer_bits.ok() ? CheckedSize(buffer_bits.value() / 64) : buffer_bits;
    if (buffer_words.ok()) {
      folded_.pixel_bits = pixel_bits;
      folded_.lead_words = (lead_bits.value() + 63) / 64;
      folded_.row_words = WordsPerTap(unfolded_.in_w * unfolded_.in_c, code_bits);  // the packer's
      folded_.words = buffer_words.value();
    }
    // The window's bits in its last word: kernel_w * pixel_bits modulo 64, or 64.
    const int64_t window_bit_phase = unfolded_.kernel_w % 64 * (pixel_bits % 64) % 64;
    folded_.last_word_mask =
        window_bit_phase == 0 ? ~uint64_t{0} : (uint64_t{1} << window_bit_phase) - 1;
    const int zero_v = x_planes_.Value(0);
    for (int j = 0; j < planes; ++j) {
      folded_.zero_bits[j] = x_planes_.bytes ? 0x0101010101010101u * static_cast<uint8_t>(zero_v)
                             : ((zero_v >> j) & 1) != 0 ? ~uint64_t{0}
                                                        : 0;
    }
    static constexpr Conv2DGemm::CopyWindowsFn kCopies[] = {
        CopyWindowBytes, CopyWindowPlanes<1>, CopyWindowPlanes<2>, CopyWindowPlanes<3>,
        CopyWindowPlanes<4>};
    folded_.copy_windows = kCopies[x_planes_.bytes ? 0 : planes];
    budget.Add(CheckedSize(threads_) * buffer_words * planes, sizeof(uint64_t));
    if (window_sums && x_planes_.bytes) {
      budget.Add(CheckedSize(threads_) * unfolded_.in_w * WordsPerTap(unfolded_.in_c, code_bits),
                 sizeof(uint64_t));
      budget.Add(CheckedSize(threads_) * unfolded_.in_w, sizeof(int32_t));
    }
  }
  // The border terms: one per class of row ranges x class of column ranges (at most).
  const int64_t row_classes =
      MaxRangeClasses(g.out_h, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h, g.in_h);
  const int64_t col_classes =
      MaxRangeClasses(g.out_w, g.stride_w, g.pad_left, g.dilation_w, g.kernel_w, g.in_w);
  if (shifted) {
    budget.Add(CheckedSize(g.groups) * row_classes * col_classes * group_channels_,
               sizeof(int32_t));
  }
  over_scratch_limit_ = !budget.Within(max_scratch_bytes);
  if (over_scratch_limit_) {
    return Fail(ScratchTooLarge(budget, max_scratch_bytes, unfolded_), error);
  }
  std::vector<TapRange> ranges;
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    ranges.push_back(ValidTaps(oh, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h, g.in_h));
  }
  ClassifyRanges(ranges, &row_ranges_, &row_class_);
  ranges.clear();
  for (int64_t ow = 0; ow < g.out_w; ++ow) {
    ranges.push_back(ValidTaps(ow, g.stride_w, g.pad_left, g.dilation_w, g.kernel_w, g.in_w));
  }
  ClassifyRanges(ranges, &col_ranges_, &col_class_);
  if (static_cast<int64_t>(row_ranges_.size()) > row_classes ||
      static_cast<int64_t>(col_ranges_.size()) > col_classes) {
    return Fail("internal error: more classes of tap ranges than budgeted", error);
  }

  padded_h_ = rows_.size.value();
  padded_w_ = cols_.size.value();
  padded_pixels_ = padded_pixels.value();
  PrepareBorderTerms();
  x_offsets_.clear();
  for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const int64_t tap = kh * g.dilation_h * padded_w_ + kw * g.dilation_w;
      for (int64_t i = 0; i < words_per_tap_; ++i) {
        x_offsets_.push_back(tap * tap_words_ + i * x_planes_.Planes());
      }
    }
  }
  packed_input_.assign(
      static_cast<size_t>((g.groups * padded_pixels_ + input_slack.value()) * tap_words_), 0);
  input_sums_.assign(static_cast<size_t>(g.groups * padded_pixels_), 0);
  window_row_sums_.assign(weights_.front().grid.Shift() != 0
                              ? static_cast<size_t>(g.groups * g.batch * padded_h_ * g.out_w)
                              : 0,
                          0);
  scratch_.resize(static_cast<size_t>(threads_));
  for (Scratch& s : scratch_) {
    const size_t count = static_cast<size_t>(chunk_pixels_);
    s.rows.assign(count, nullptr);
    s.columns.assign(im2col ? count * static_cast<size_t>(words * x_planes_.Planes()) : 0, 0);
    const size_t core_rows = count + static_cast<size_t>(unread_rows);
    s.core.assign(core_rows * static_cast<size_t>(block_channels_), 0);
    s.constants.assign(count, 0);
    s.channel_terms.assign(count, nullptr);
    s.acc.assign(static_cast<size_t>(block_channels_), 0);
    // The folded row's lead and tail hold the code of 0.0 from here on; PackFoldedRow writes
    // only the row between them.
    s.fold_row.assign(fold_width_ ? static_cast<size_t>(folded_.words * planes) : 0, 0);
    for (int64_t w = 0; fold_width_ && w < folded_.words; ++w) {
      for (int j = 0; j < planes; ++j) s.fold_row[w * planes + j] = folded_.zero_bits[j];
    }
    const bool fold_sums = fold_width_ && window_sums && x_planes_.bytes;
    const int64_t in_w = unfolded_.in_w, in_c = unfolded_.in_c;
    s.fold_pixels.assign(fold_sums ? static_cast<size_t>(in_w * WordsPerTap(in_c, code_bits)) : 0,
                         0);
    s.fold_pixel_sums.assign(fold_sums ? static_cast<size_t>(in_w) : 0, 0);
    s.pool_rows.assign(pools_ ? static_cast<size_t>(pool_.filter_h * g.out_w * group_out_c_) : 0,
                       0);
    s.pooled.assign(pools_ ? static_cast<size_t>(pool_.out_w * group_out_c_) : 0, 0);
    s.add_operand.assign(add_scratch ? count * static_cast<size_t>(block_channels_) : 0, 0.0f);
    s.pool_ring.clear();
    for (int64_t r = 0; pools_ && r < pool_.filter_h; ++r) {
      s.pool_ring.push_back(s.pool_rows.data() + r * g.out_w * group_out_c_);
    }
  }
  if (runs_winograd()) {
    WinogradWorkspaces* set =
        shared_workspaces_ != nullptr ? shared_workspaces_ : &own_workspaces_;
    if (shared_workspaces_ != nullptr) own_workspaces_.clear();
    GrowWinogradWorkspaces(threads_, winograd_blocks_, winograd_->words(), block_channels_, set);
    for (size_t w = 0; w < scratch_.size(); ++w) scratch_[w].winograd = (*set)[w].get();
  }
  return true;
}

bool Conv2DGemm::PoolOutput(const PoolGeometry* pool) {
  pools_ = pool != nullptr && weights_.size() == 1 && winograd_ == nullptr &&
           OutputStagePools(multiplier_.data(), offset_.data(),
                            static_cast<int64_t>(multiplier_.size()), activation_);
  if (!pools_) return false;
  pool_ = *pool;
  pool_flips_.resize(multiplier_.size());
  AccumulatorFlips(multiplier_.data(), static_cast<int64_t>(multiplier_.size()),
                   pool_flips_.data());
  pool_kernels_ = BestPoolKernels(DetectCpuFeatures());
  if (quantize_ == nullptr) quantize_ = BestQuantizeActivations(DetectCpuFeatures());
  return true;
}

void Conv2DGemm::AddOutput(const glue::Clamp* clamp, bool residual_first) {
  adds_ = clamp != nullptr;
  if (!adds_) return;
  add_clamp_ = *clamp;
  residual_first_ = residual_first;
  if (quantize_ == nullptr) quantize_ = BestQuantizeActivations(DetectCpuFeatures());
}

void Conv2DGemm::Run(const ActivationInput& x, const ActivationOutput& y, ThreadPool* pool) {
  // An empty input or output has nothing to pack or compute (and its buffers no data).
  if (unfolded_.InputSize() == 0 || g_.OutputSize() == 0) return;
  run_id_ = NextWinogradRunId();  // a transformed chunk of an earlier Run is stale (WinogradGemm)
  auto pack = [this, &x](int64_t unit, int worker) {
    PackRow(x, unit / g_.groups, unit % g_.groups, &scratch_[static_cast<size_t>(worker)]);
  };
  pool->ParallelFor(g_.batch * g_.in_h * g_.groups, pack, threads_);
  if (pools_) {
    const int64_t rows = int64_t{pool_.batch} * pool_.out_h;
    auto compute = [this, &y, rows](int64_t unit, int worker) {
      RunPooledRows(unit * rows / pool_units_, (unit + 1) * rows / pool_units_,
                    &scratch_[static_cast<size_t>(worker)], y);
    };
    return pool->ParallelFor(pool_units_, compute, threads_);
  }
  auto compute = [this, &y](int64_t unit, int worker) {
    RunUnit(unit, &scratch_[static_cast<size_t>(worker)], y);
  };
  pool->ParallelFor(chunks_ * g_.groups * blocks_, compute, threads_);
}

void Conv2DGemm::PackRow(const ActivationInput& x, int64_t row, int64_t g, Scratch* scratch) {
  // Quantize and pack into the padded buffer's interior; its border stays 0.
  const int64_t padded_row = row / g_.in_h * padded_h_ + row % g_.in_h + rows_.before;
  const int64_t at = g * padded_pixels_ + padded_row * padded_w_ + cols_.before;
  uint64_t* packed = packed_input_.data() + at * tap_words_;
  int32_t* sums = input_sums_.data() + at;
  // Row `row` of the layer's input (of its every step_h_-th row where it subsamples), from
  // group g's first channel; group_in_c_ codes a pixel (kernel_w times the layer's channels,
  // folded), every step_w_-th pixel.
  const int64_t source_row = row / g_.in_h * unfolded_.in_h + row % g_.in_h * step_h_;
  const int64_t first =
      source_row * unfolded_.in_w * unfolded_.in_c + g * unfolded_.InChannelsPerGroup();
  const int64_t pixel_stride = g_.in_c * step_w_;
  // pack(values, stride, pixels, channels, out, sums): the packer of x's kind.
  auto pack_codes = [this](const int8_t* codes, int64_t stride, int64_t pixels,
                           int64_t channels, uint64_t* out, int32_t* out_sums) {
    kernels_.pack_codes(codes, stride, pixels, channels, x_planes_, out, out_sums);
  };
  auto pack_values = [this](const float* values, int64_t stride, int64_t pixels,
                            int64_t channels, uint64_t* out, int32_t* out_sums) {
    kernels_.pack(values, stride, pixels, channels, packing_, out, out_sums);
  };
  if (fold_width_ && x.codes != nullptr) {
    PackFoldedRow(x.codes + first, pack_codes, scratch, packed, sums);
  } else if (fold_width_) {
    PackFoldedRow(x.values + first, pack_values, scratch, packed, sums);
  } else if (x.codes != nullptr) {
    pack_codes(x.codes + first, pixel_stride, g_.in_w, group_in_c_, packed, sums);
  } else {
    pack_values(x.values + first, pixel_stride, g_.in_w, group_in_c_, packed, sums);
  }
  if (window_row_sums_.empty()) return;
  const int32_t* row_sums_in =
      input_sums_.data() + g * padded_pixels_ + padded_row * padded_w_ + cols_.shift;
  int32_t* row_sums =
      window_row_sums_.data() + (g * g_.batch * padded_h_ + padded_row) * g_.out_w;
  for (int64_t ow = 0; ow < g_.out_w; ++ow) {
    int32_t sum = 0;
    for (int64_t kw = 0; kw < g_.kernel_w; ++kw) {
      sum += row_sums_in[ow * g_.stride_w + kw * g_.dilation_w];
    }
    row_sums[ow] = sum;
  }
}

template <class T, class Pack>
void Conv2DGemm::PackFoldedRow(const T* x_row, Pack pack, Scratch* scratch, uint64_t* packed,
                               int32_t* sums) const {
  const int64_t in_w = unfolded_.in_w, in_c = unfolded_.in_c, kernel_w = unfolded_.kernel_w;
  const int64_t stride = unfolded_.stride_w, pad = unfolded_.pad_left;
  const int planes = x_planes_.Planes();
  const FoldedRow& f = folded_;
  // The row as one pixel of in_w * in_c codes, each value packed once, after the lead words.
  uint64_t* row = scratch->fold_row.data() + f.lead_words * planes;
  int32_t row_sum = 0;
  pack(x_row, 0, 1, in_w * in_c, row, &row_sum);
  // The packer left 0 after the row's codes in its last word: the code of 0.0 there too.
  const int64_t tail_bit = in_w * f.pixel_bits % 64;
  if (tail_bit != 0) {
    for (int j = 0; j < planes; ++j) {
      row[(f.row_words - 1) * planes + j] |= f.zero_bits[j] & (~uint64_t{0} << tail_bit);
    }
  }
  // Output column ow's window row starts at input column ow * stride - pad.
  const int64_t first_bit = f.lead_words * 64 - pad * f.pixel_bits;
  // (Checked at Prepare where there is a second window: stride can be any size.)
  const int64_t bit_step = g_.in_w > 1 ? stride * f.pixel_bits : 0;
  f.copy_windows(scratch->fold_row.data(), first_bit, bit_step, g_.in_w, words_per_tap_,
                 f.last_word_mask, tap_words_, packed);
  if (window_row_sums_.empty()) return;
  // Window sums (weights with a shift): of the plane values, from the windows' bits; of byte
  // codes, the packer's sum of each input pixel (their signedness is its business).
  if (!x_planes_.bytes) {
    int32_t weights[4];  // sub-byte activations: at most 4 planes (FoldedRow::zero_bits)
    for (int j = 0; j < planes; ++j) weights[j] = PlaneWeight(j, planes, x_planes_.twos_complement);
    PlaneValueSums(packed, g_.in_w, tap_words_, words_per_tap_, planes, weights, sums);
    return;
  }
  pack(x_row, in_c, in_w, in_c, scratch->fold_pixels.data(), scratch->fold_pixel_sums.data());
  const int32_t* pixel_sums = scratch->fold_pixel_sums.data();
  const int32_t zero_sum = static_cast<int32_t>(in_c * x_planes_.Value(0));
  for (int64_t ow = 0; ow < g_.in_w; ++ow) {
    int32_t sum = 0;
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      const int64_t iw = ow * stride - pad + kw;
      sum += iw >= 0 && iw < in_w ? pixel_sums[iw] : zero_sum;
    }
    sums[ow] = sum;
  }
}

Conv2DGemm::PixelPosition Conv2DGemm::PositionOf(int64_t pixel) const {
  PixelPosition position;
  position.ow = pixel % g_.out_w;
  position.oh = pixel / g_.out_w % g_.out_h;
  position.n = pixel / (g_.out_w * g_.out_h);
  return position;
}

void Conv2DGemm::Next(PixelPosition* position) const {
  if (++position->ow < g_.out_w) return;
  position->ow = 0;
  if (++position->oh < g_.out_h) return;
  position->oh = 0;
  ++position->n;
}

void Conv2DGemm::PrepareBorderTerms() {
  border_terms_.clear();
  if (x_planes_.Shift() == 0) return;
  const int64_t taps = g_.kernel_h * g_.kernel_w;
  for (const BitserialWeights& weights : weights_) {
    const uint32_t weight_scale = static_cast<uint32_t>(weights.grid.Scale() * x_planes_.Shift());
    for (const TapRange& rows : row_ranges_) {
      for (const TapRange& cols : col_ranges_) {
        for (int64_t c = 0; c < group_channels_; ++c) {
          uint32_t sum = 0;  // modulo 2^32, as the epilogue adds it
          for (int64_t kh = rows.lo; c < group_out_c_ && kh < rows.hi; ++kh) {
            for (int64_t kw = cols.lo; kw < cols.hi; ++kw) {
              sum += static_cast<uint32_t>(
                  weights.tap_sums[static_cast<size_t>(c * taps + kh * g_.kernel_w + kw)]);
            }
          }
          border_terms_.push_back(static_cast<int32_t>(weight_scale * sum));
        }
      }
    }
  }
}

void Conv2DGemm::PrepareChunk(int64_t first, int64_t count, int64_t g, int64_t c0,
                                   Scratch* scratch) const {
  const PlaneGrid& w = weights_[static_cast<size_t>(g)].grid;
  const PlaneGrid& x = x_planes_;
  // sum(qw * qx) = sw*sx*core + sw*hx*sum(vw) + hw*sx*sum(vx) + hw*hx*n over valid taps;
  // padded taps hold v = 0, so sum(vx) may run over the whole window.
  const int64_t pixel_sum_factor = int64_t{w.Shift()} * x.Scale();
  const int64_t valid_tap_factor = int64_t{w.Shift()} * x.Shift() * group_in_c_;
  const uint64_t* input = packed_input_.data() + g * padded_pixels_ * tap_words_;
  const bool shifted = x.Shift() != 0;  // border_terms_ is empty otherwise
  const int64_t col_classes = static_cast<int64_t>(col_ranges_.size());
  const int64_t first_class = g * static_cast<int64_t>(row_ranges_.size()) * col_classes;
  PixelPosition at = PositionOf(first);
  // Row by row: what depends on the output row only is looked up once.
  for (int64_t q = 0; q < count;) {
    const int64_t run = std::min(count - q, g_.out_w - at.ow);
    const int64_t padded_row = at.n * padded_h_ + at.oh * g_.stride_h + rows_.shift;
    const uint64_t* row_input = input + (padded_row * padded_w_ + cols_.shift) * tap_words_;
    const int32_t* row_sums =
        window_row_sums_.empty()
            ? nullptr
            : window_row_sums_.data() + (g * g_.batch * padded_h_ + padded_row) * g_.out_w;
    const int32_t row_class = row_class_[static_cast<size_t>(at.oh)];
    const TapRange& rows = row_ranges_[static_cast<size_t>(row_class)];
    const int32_t* row_terms =
        shifted ? border_terms_.data() +
                      (first_class + row_class * col_classes) * group_channels_ + c0
                : nullptr;
    // The run's window corners, then its constants, modulo 2^32 as the epilogue adds them (the
    // final accumulator is exact): the window sums of the kernel rows, each row's read in
    // order, in loops without a carried dependence.
    const uint64_t* corner = row_input + at.ow * g_.stride_w * tap_words_;
    const int64_t corner_step = g_.stride_w * tap_words_;
    for (int64_t i = 0; i < run; ++i) {
      scratch->rows[static_cast<size_t>(q + i)] = corner + i * corner_step;
    }
    uint32_t* constants = reinterpret_cast<uint32_t*>(scratch->constants.data() + q);
    std::fill(constants, constants + run, 0u);
    if (row_sums != nullptr) {
      // Kernel rows two at a time, the factor with the last (a 3x3 layer: two passes after the
      // zeros above, where one per row and one for the factor took 5% of ResNet-20 W1A1's time).
      const int64_t row_step = g_.dilation_h * g_.out_w;
      const int32_t* sums = row_sums + at.ow;
      int64_t kh = 0;
      for (; kh + 2 < g_.kernel_h; kh += 2, sums += 2 * row_step) {
        for (int64_t i = 0; i < run; ++i) {
          constants[i] +=
              static_cast<uint32_t>(sums[i]) + static_cast<uint32_t>(sums[row_step + i]);
        }
      }
      const uint32_t factor = static_cast<uint32_t>(pixel_sum_factor);
      if (kh + 2 == g_.kernel_h) {
        for (int64_t i = 0; i < run; ++i) {
          constants[i] = (constants[i] + static_cast<uint32_t>(sums[i]) +
                          static_cast<uint32_t>(sums[row_step + i])) * factor;
        }
      } else {
        for (int64_t i = 0; i < run; ++i) {
          constants[i] = (constants[i] + static_cast<uint32_t>(sums[i])) * factor;
        }
      }
    }
    if (shifted) {
      const int64_t row_taps = valid_tap_factor * (rows.hi - rows.lo);
      for (int64_t i = 0; i < run; ++i) {
        const int32_t col_class = col_class_[static_cast<size_t>(at.ow + i)];
        const TapRange& cols = col_ranges_[static_cast<size_t>(col_class)];
        constants[i] += static_cast<uint32_t>(row_taps * (cols.hi - cols.lo));
        scratch->channel_terms[static_cast<size_t>(q + i)] =
            row_terms + col_class * group_channels_;
      }
    }
    q += run;
    at.ow += run - 1;
    Next(&at);
  }
}

void Conv2DGemm::Im2Col(int64_t count, int64_t words, Scratch* scratch) const {
  // A tap's words lie together in the packed input: copied whole, 8 words (a cache line)
  // at a time, then 2 (a folded narrow tap is 2-6 words), by stepped pointers: indexed
  // copies cost aarch64 an address computation per load and store. Locals: the stores could
  // alias the members.
  const int64_t tap_words = tap_words_;
  const int64_t words_per_tap = words_per_tap_;
  const int64_t* offsets = x_offsets_.data();
  uint64_t* column = scratch->columns.data();
  for (int64_t q = 0; q < count; ++q) {
    const uint64_t* row = scratch->rows[static_cast<size_t>(q)];
    for (int64_t k = 0; k < words; k += words_per_tap, column += tap_words) {
      const uint64_t* src = row + offsets[k];
      uint64_t* to = column;
      const uint64_t* const end = column + tap_words;
      for (; end - to >= 8; to += 8, src += 8) std::memcpy(to, src, 8 * sizeof(uint64_t));
      for (; end - to >= 2; to += 2, src += 2) std::memcpy(to, src, 2 * sizeof(uint64_t));
      if (to < end) *to = *src;
    }
  }
}

void Conv2DGemm::WillWriteCodes(const ActivationPacking* grid) {
  code_thresholds_.Fold(writes_codes() ? grid : nullptr, multiplier_.data(), offset_.data(),
                        static_cast<int64_t>(multiplier_.size()), activation_,
                        max_accumulator_);
}

EpilogueTerms Conv2DGemm::ChunkGemm(int64_t first, int64_t count, int64_t g, int64_t c0,
                                    int64_t channels, Scratch* scratch) const {
  PrepareChunk(first, count, g, c0, scratch);
  const BitserialWeights& weights = weights_[static_cast<size_t>(g)];
  const int64_t words = weights.words_per_plane;
  const uint64_t* w = runs_winograd() ? nullptr : weights.ChannelTile(c0);
  if (runs_winograd()) {
    WinogradGemm(first, count, c0, channels, scratch);
  } else if (indirect_) {
    kernels_.bgemm.indirect(scratch->rows.data(), x_offsets_.data(), count, w, channels, words,
                            scratch->core.data(), block_channels_);
  } else if (columns_in_place_) {
    const uint64_t* columns = packed_input_.data() + (g * padded_pixels_ + first) * tap_words_;
    kernels_.bgemm.run(columns, count, w, channels, words, scratch->core.data(), block_channels_);
  } else {
    Im2Col(count, words, scratch);
    kernels_.bgemm.run(scratch->columns.data(), count, w, channels, words, scratch->core.data(),
                       block_channels_);
  }
  EpilogueTerms terms;
  terms.scale_shift =
      __builtin_ctz(static_cast<unsigned>(weights.grid.Scale() * x_planes_.Scale()));
  terms.constants = scratch->constants.data();
  if (x_planes_.Shift() != 0) terms.channel_terms = scratch->channel_terms.data();
  return terms;
}

void Conv2DGemm::WinogradGemm(int64_t first, int64_t count, int64_t c0, int64_t channels,
                              Scratch* scratch) const {
  // A worker's units of one chunk (its blocks of channels, consecutive in ParallelFor's runs)
  // transform the chunk's input once.
  WinogradWorkspace* workspace = scratch->winograd;
  if (workspace->run != run_id_ || workspace->first != first) {
    TransformChunk(first, count, workspace);
  }
  winograd_->Multiply(workspace->input.data(), workspace->blocks, c0, channels,
                      workspace->products.data(), block_channels_);
  winograd_->OutputTiles(workspace->products.data(), block_channels_, workspace->terms.data(),
                         workspace->blocks, c0, channels, workspace->rows.data(),
                         scratch->core.data(), block_channels_);
}

void Conv2DGemm::TransformChunk(int64_t first, int64_t count,
                                WinogradWorkspace* workspace) const {
  const int64_t out_w = g_.out_w;
  const int64_t pixel_bytes = tap_words_ * static_cast<int64_t>(sizeof(uint64_t));
  const uint8_t* input = reinterpret_cast<const uint8_t*>(packed_input_.data());
  // The core's 3 rows past the chunk (Prepare's unread_rows): output k > 0 of a block past the
  // layer's last row or column goes to row unread + k - 1, unread (distinct rows: OutputTiles
  // writes a block's four with restrict pointers; output 0 is always kept).
  const int64_t unread = chunk_pixels_;
  int64_t blocks = 0;
  PixelPosition at = PositionOf(first);  // a chunk is whole rows: at.ow is 0
  for (int64_t q = 0; q < count;) {
    const bool pair = at.oh + 1 < g_.out_h && q + out_w < count;
    // Output (oh, ow)'s window starts at the padded input's pixel (oh + shift, ow + shift).
    const int64_t padded_row = at.n * padded_h_ + at.oh + rows_.shift;
    const uint8_t* corner = input + (padded_row * padded_w_ + cols_.shift) * pixel_bytes;
    for (int64_t ow = 0; ow < out_w; ow += 2, ++blocks) {
      workspace->corners[static_cast<size_t>(blocks)] = corner + ow * pixel_bytes;
      int64_t* rows = workspace->rows.data() + 4 * blocks;
      const bool right = ow + 1 < out_w;
      rows[0] = q + ow;
      rows[1] = right ? q + ow + 1 : unread;
      rows[2] = pair ? q + out_w + ow : unread + 1;
      rows[3] = pair && right ? q + out_w + ow + 1 : unread + 2;
    }
    const int64_t taken = pair ? 2 : 1;
    q += taken * out_w;
    at.oh += taken;
    if (at.oh == g_.out_h) {
      at.oh = 0;
      ++at.n;
    }
  }
  winograd_->InputTiles(workspace->corners.data(), blocks, pixel_bytes,
                        padded_w_ * pixel_bytes, workspace->input.data(),
                        workspace->terms.data());
  workspace->run = run_id_;
  workspace->first = first;
  workspace->blocks = blocks;
}

void Conv2DGemm::RunUnit(int64_t unit, Scratch* scratch, const ActivationOutput& y) const {
  const int64_t block = unit % blocks_;
  const int64_t group = unit / blocks_ % g_.groups;
  const int64_t chunk = unit / (blocks_ * g_.groups);
  const int64_t first = chunk * chunk_pixels_;
  const int64_t count = std::min(chunk_pixels_, g_.batch * g_.out_h * g_.out_w - first);
  const int64_t c0 = block * block_channels_;
  const int64_t channels = std::min(block_channels_, group_channels_ - c0);
  const int64_t real_channels = std::min(channels, group_out_c_ - c0);
  if (real_channels <= 0) return;
  const EpilogueTerms terms = ChunkGemm(first, count, group, c0, channels, scratch);
  const int64_t oc = group * group_out_c_ + c0;
  if (y.codes != nullptr) {
    kernels_.epilogue_codes(scratch->core.data(), block_channels_, count, real_channels, terms,
                            multiplier_.data() + oc, offset_.data() + oc, activation_, *y.grid,
                            code_thresholds_.View(y.grid, oc), y.codes + first * g_.out_c + oc,
                            g_.out_c);
    return;
  }
  if (!adds_) {
    kernels_.epilogue(scratch->core.data(), block_channels_, count, real_channels, terms,
                      multiplier_.data() + oc, offset_.data() + oc, activation_,
                      scratch->acc.data(), y.values + first * g_.out_c + oc, g_.out_c);
    return;
  }
  if (kernels_.epilogue_add != nullptr) {
    const int64_t at = first * g_.out_c + oc;
    EpilogueResidual add;
    add.residual = y.residual + at;
    add.residual_first = residual_first_;
    add.low = add_clamp_.low;
    add.high = add_clamp_.high;
    add.side_grid = y.side_codes != nullptr ? y.side_grid : nullptr;
    add.side_codes = y.side_codes != nullptr ? y.side_codes + at : nullptr;
    kernels_.epilogue_add(scratch->core.data(), block_channels_, count, real_channels, terms,
                          multiplier_.data() + oc, offset_.data() + oc, activation_, add,
                          y.values + at, g_.out_c);
    return;
  }
  float* outputs = scratch->add_operand.data();
  kernels_.epilogue(scratch->core.data(), block_channels_, count, real_channels, terms,
                    multiplier_.data() + oc, offset_.data() + oc, activation_,
                    scratch->acc.data(), outputs, real_channels);
  AddResidual(outputs, first, count, oc, real_channels, y);
}

void Conv2DGemm::AddResidual(const float* outputs, int64_t first, int64_t count, int64_t oc,
                             int64_t channels, const ActivationOutput& y) const {
  // Whole pixels lie together in y: one run of the chunk; a block of channels, one a pixel.
  const int64_t pixels_a_run = channels == g_.out_c ? count : 1;
  glue::BinaryGeometry run;
  run.size = pixels_a_run * channels;
  for (int64_t q = 0; q < count; q += pixels_a_run) {
    const int64_t at = (first + q) * g_.out_c + oc;
    const float* output = outputs + q * channels;
    const float* residual = y.residual + at;
    glue::Binary(glue::BinaryOp::kAdd, run, residual_first_ ? residual : output,
                 residual_first_ ? output : residual, y.values + at, add_clamp_);
    if (y.side_codes != nullptr) {
      quantize_(y.values + at, static_cast<size_t>(run.size), *y.side_grid, y.side_codes + at);
    }
  }
}

void Conv2DGemm::RunPooledRows(int64_t first, int64_t end, Scratch* scratch,
                               const ActivationOutput& y) const {
  const PoolGeometry& p = pool_;
  const int64_t channels = group_out_c_;  // one group: the layer's
  const int64_t row_size = g_.out_w * channels;
  int64_t image = -1;
  int64_t next = 0;  // the image's output rows below `next` are in the ring or no longer needed
  for (int64_t row = first; row < end; ++row) {
    const int64_t n = row / p.out_h, pool_row = row % p.out_h;
    if (n != image) {
      image = n;
      next = 0;
    }
    const PoolSpan rows = PoolRows(p, pool_row);
    for (next = std::max(next, rows.lo); next < rows.hi; ++next) {
      int32_t* out = scratch->pool_rows.data() + next % p.filter_h * row_size;
      const int64_t pixel = (n * g_.out_h + next) * g_.out_w;
      for (int64_t x0 = 0; x0 < g_.out_w; x0 += chunk_pixels_) {
        const int64_t count = std::min(chunk_pixels_, g_.out_w - x0);
        const EpilogueTerms terms = ChunkGemm(pixel + x0, count, 0, 0, group_channels_, scratch);
        pool_kernels_.flipped_accumulators(scratch->core.data(), block_channels_, count,
                                           channels, terms, pool_flips_.data(),
                                           out + x0 * channels, channels);
      }
    }
    pool_kernels_.max_pool_flipped_row(p, pool_row, scratch->pool_ring.data(), channels,
                                       pool_flips_.data(), scratch->pooled.data());
    const int64_t at = row * p.out_w * channels;
    const EpilogueTerms whole;  // the pooled accumulators are complete
    if (y.codes != nullptr) {
      kernels_.epilogue_codes(scratch->pooled.data(), channels, p.out_w, channels, whole,
                              multiplier_.data(), offset_.data(), activation_, *y.grid,
                              code_thresholds_.View(y.grid, 0), y.codes + at, channels);
      continue;
    }
    kernels_.epilogue(scratch->pooled.data(), channels, p.out_w, channels, whole,
                      multiplier_.data(), offset_.data(), activation_, scratch->acc.data(),
                      y.values + at, channels);
    if (y.side_codes != nullptr) {
      quantize_(y.values + at, static_cast<size_t>(p.out_w * channels), *y.side_grid,
                y.side_codes + at);
    }
  }
}

}  // namespace bitlite
