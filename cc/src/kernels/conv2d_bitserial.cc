#include "kernels/conv2d_bitserial.h"

#include <algorithm>

namespace bitlite {
namespace {

// Output pixels per work unit: enough to amortize a unit, few enough to keep a chunk's
// im2col columns and GEMM results in L1/L2 and to give every thread several units.
constexpr int64_t kChunkPixels = 64;
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

}  // namespace

Conv2DBitserial::Conv2DBitserial(const OpParams& params, const int8_t* w_codes,
                                 BitserialIsa isa)
    : activation_(params.activation), multiplier_(params.multiplier), offset_(params.offset) {
  grid_ = MakeActivationGrid(params);
  kernels_ = BitserialFunctionsFor(isa, params.weight_bits, params.activation_bits,
                                   params.activation_signed && params.activation_bits >= 2);
  x_planes_ = ActivationPlaneGrid(params.activation_bits, params.activation_signed,
                                  kernels_.bytes);
  PackBitserialWeights(params.out_channels, int64_t{params.kernel_h} * params.kernel_w,
                       params.in_channels, w_codes,
                       WeightPlaneGrid(params.weight_bits, kernels_.bytes), kernels_.bgemm.lanes,
                       /*need_tap_sums=*/x_planes_.Shift() != 0, &weights_);
  if (kernels_.relayout_weights != nullptr) {
    kernels_.relayout_weights(weights_.planes.data(), weights_.planes.size());
  }
}

void Conv2DBitserial::Prepare(const ConvGeometry& g, int threads) {
  g_ = g;
  words_per_tap_ = WordsPerTap(g.in_c, x_planes_.CodeBits());
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
  PrepareBorderTerms();
  tap_offsets_.clear();
  for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      tap_offsets_.push_back(kh * g.dilation_h * g.in_w + kw * g.dilation_w);
    }
  }

  const int64_t pixels = g.batch * g.out_h * g.out_w;
  chunk_pixels_ = std::clamp<int64_t>(pixels, 1, kChunkPixels);
  chunks_ = (pixels + chunk_pixels_ - 1) / chunk_pixels_;
  // One thread: the whole channel range per unit, so each chunk's im2col is written once.
  const int64_t channel_tiles = weights_.channels / kChannelAlign;
  const int64_t wanted_blocks = threads > 1 ? (kUnitsPerThread * threads + chunks_ - 1) / chunks_ : 1;
  const int64_t blocks = std::clamp<int64_t>(wanted_blocks, 1, channel_tiles);
  block_channels_ = (channel_tiles + blocks - 1) / blocks * kChannelAlign;
  blocks_ = (weights_.channels + block_channels_ - 1) / block_channels_;

  const int64_t input_pixels = g.batch * g.in_h * g.in_w;
  packed_input_.assign(static_cast<size_t>(input_pixels * x_planes_.Planes() * words_per_tap_), 0);
  input_sums_.assign(static_cast<size_t>(input_pixels), 0);
  scratch_.resize(static_cast<size_t>(std::max(threads, 1)));
  for (Scratch& s : scratch_) {
    s.columns.assign(static_cast<size_t>(chunk_pixels_ * weights_.words_per_plane * x_planes_.Planes()), 0);
    s.core.assign(static_cast<size_t>(block_channels_ * chunk_pixels_), 0);
    s.pixel_sums.assign(static_cast<size_t>(chunk_pixels_), 0);
    s.acc.assign(static_cast<size_t>(block_channels_), 0);
  }
}

void Conv2DBitserial::Run(const float* x, float* y, ThreadPool* pool) {
  auto pack = [this, x](int64_t row, int) {
    const int64_t pixel = row * g_.in_w;
    kernels_.pack(x + pixel * g_.in_c, g_.in_w, g_.in_c, grid_, x_planes_,
                  packed_input_.data() + pixel * x_planes_.Planes() * words_per_tap_,
                  input_sums_.data() + pixel);
  };
  pool->ParallelFor(g_.batch * g_.in_h, pack);
  auto compute = [this, y](int64_t unit, int worker) {
    RunUnit(unit, &scratch_[static_cast<size_t>(worker)], y);
  };
  pool->ParallelFor(chunks_ * blocks_, compute);
}

Conv2DBitserial::PixelPosition Conv2DBitserial::PositionOf(int64_t pixel) const {
  PixelPosition position;
  position.ow = pixel % g_.out_w;
  position.oh = pixel / g_.out_w % g_.out_h;
  position.n = pixel / (g_.out_w * g_.out_h);
  return position;
}

void Conv2DBitserial::Next(PixelPosition* position) const {
  if (++position->ow < g_.out_w) return;
  position->ow = 0;
  if (++position->oh < g_.out_h) return;
  position->oh = 0;
  ++position->n;
}

void Conv2DBitserial::Im2Col(int64_t first, int64_t count, Scratch* scratch) const {
  const int64_t tap_words = words_per_tap_ * x_planes_.Planes();  // one tap, all planes
  PixelPosition at = PositionOf(first);
  for (int64_t q = 0; q < count; ++q, Next(&at)) {
    uint64_t* dst = scratch->columns.data() + q * weights_.words_per_plane * x_planes_.Planes();
    const TapRange& rows = row_ranges_[static_cast<size_t>(row_class_[static_cast<size_t>(at.oh)])];
    const TapRange& cols = col_ranges_[static_cast<size_t>(col_class_[static_cast<size_t>(at.ow)])];
    int32_t sum = 0;
    if (rows.hi - rows.lo == g_.kernel_h && cols.hi - cols.lo == g_.kernel_w) {
      // Interior pixel: every tap valid, at a fixed offset from the window's corner.
      const int64_t corner = (at.n * g_.in_h + at.oh * g_.stride_h - g_.pad_top) * g_.in_w +
                             at.ow * g_.stride_w - g_.pad_left;
      for (const int64_t offset : tap_offsets_) {
        const uint64_t* src = packed_input_.data() + (corner + offset) * tap_words;
        if (tap_words == 1) {
          *dst++ = *src;  // the common case (in_c <= 64 bit planes): no loop to set up
        } else {
          for (int64_t i = 0; i < tap_words; ++i) *dst++ = src[i];
        }
        sum += input_sums_[static_cast<size_t>(corner + offset)];
      }
      scratch->pixel_sums[static_cast<size_t>(q)] = sum;
      continue;
    }
    for (int64_t kh = 0; kh < g_.kernel_h; ++kh) {
      const int64_t ih = at.oh * g_.stride_h - g_.pad_top + kh * g_.dilation_h;
      for (int64_t kw = 0; kw < g_.kernel_w; ++kw, dst += tap_words) {
        if (kh < rows.lo || kh >= rows.hi || kw < cols.lo || kw >= cols.hi) {
          for (int64_t i = 0; i < tap_words; ++i) dst[i] = 0;
          continue;
        }
        const int64_t iw = at.ow * g_.stride_w - g_.pad_left + kw * g_.dilation_w;
        const int64_t input_pixel = (at.n * g_.in_h + ih) * g_.in_w + iw;
        const uint64_t* src = packed_input_.data() + input_pixel * tap_words;
        for (int64_t i = 0; i < tap_words; ++i) dst[i] = src[i];
        sum += input_sums_[static_cast<size_t>(input_pixel)];
      }
    }
    scratch->pixel_sums[static_cast<size_t>(q)] = sum;
  }
}

void Conv2DBitserial::PrepareBorderTerms() {
  border_terms_.clear();
  const PlaneGrid& w = weights_.grid;
  if (x_planes_.Shift() == 0) return;
  const int64_t taps = g_.kernel_h * g_.kernel_w;
  const uint32_t weight_scale = static_cast<uint32_t>(w.Scale() * x_planes_.Shift());
  for (const TapRange& rows : row_ranges_) {
    for (const TapRange& cols : col_ranges_) {
      for (int64_t c = 0; c < weights_.channels; ++c) {
        uint32_t sum = 0;  // modulo 2^32, as the epilogue adds it
        for (int64_t kh = rows.lo; c < g_.out_c && kh < rows.hi; ++kh) {
          for (int64_t kw = cols.lo; kw < cols.hi; ++kw) {
            sum += static_cast<uint32_t>(weights_.tap_sums[static_cast<size_t>(c * taps + kh * g_.kernel_w + kw)]);
          }
        }
        border_terms_.push_back(static_cast<int32_t>(weight_scale * sum));
      }
    }
  }
}

EpilogueTerms Conv2DBitserial::TermsAt(const PixelPosition& at, int32_t pixel_sum,
                                       int64_t c0) const {
  const PlaneGrid& w = weights_.grid;
  const PlaneGrid& x = x_planes_;
  // sum(qw * qx) = sw*sx*core + sw*hx*sum(vw) + hw*sx*sum(vx) + hw*hx*n over valid taps;
  // sw*sx is 1, 2 or 4.
  EpilogueTerms terms;
  terms.scale_shift = __builtin_ctz(static_cast<unsigned>(w.Scale() * x.Scale()));
  int64_t constant = int64_t{w.Shift()} * x.Scale() * pixel_sum;
  if (x.Shift() != 0) {
    const int32_t row_class = row_class_[static_cast<size_t>(at.oh)];
    const int32_t col_class = col_class_[static_cast<size_t>(at.ow)];
    const TapRange& rows = row_ranges_[static_cast<size_t>(row_class)];
    const TapRange& cols = col_ranges_[static_cast<size_t>(col_class)];
    const int64_t valid_taps = (rows.hi - rows.lo) * (cols.hi - cols.lo);
    constant += int64_t{w.Shift()} * x.Shift() * valid_taps * g_.in_c;
    const int64_t table = row_class * static_cast<int64_t>(col_ranges_.size()) + col_class;
    terms.channel_terms = border_terms_.data() + table * weights_.channels + c0;
  }
  // Wraps modulo 2^32 like the epilogue's arithmetic; the final accumulator is exact.
  terms.constant = static_cast<int32_t>(static_cast<uint32_t>(constant));
  return terms;
}

void Conv2DBitserial::RunUnit(int64_t unit, Scratch* scratch, float* y) const {
  const int64_t chunk = unit / blocks_;
  const int64_t block = unit % blocks_;
  const int64_t first = chunk * chunk_pixels_;
  const int64_t count = std::min(chunk_pixels_, g_.batch * g_.out_h * g_.out_w - first);
  const int64_t c0 = block * block_channels_;
  const int64_t channels = std::min(block_channels_, weights_.channels - c0);
  const int64_t real_channels = std::min(channels, g_.out_c - c0);
  if (real_channels <= 0) return;
  Im2Col(first, count, scratch);
  const int64_t words = weights_.words_per_plane;
  kernels_.bgemm.run(scratch->columns.data(), count,
                     weights_.planes.data() + c0 * weights_.grid.Planes() * words, channels, words,
                     scratch->core.data(), block_channels_);
  PixelPosition at = PositionOf(first);
  for (int64_t q = 0; q < count; ++q, Next(&at)) {
    const EpilogueTerms terms = TermsAt(at, scratch->pixel_sums[static_cast<size_t>(q)], c0);
    kernels_.epilogue(scratch->core.data() + q * block_channels_, real_channels, terms,
                      multiplier_.data() + c0, offset_.data() + c0, activation_,
                      scratch->acc.data(), y + (first + q) * g_.out_c + c0);
  }
}

}  // namespace bitlite
