#include "kernels/depthwise/conv2d_depthwise.h"

#include <algorithm>
#include <cstring>

#include "error_message.h"

namespace bitlite {

bool IsDepthwise(const OpParams& params) {
  return params.groups > 1 && params.groups == params.in_channels;
}

Conv2DDepthwise::Conv2DDepthwise(const OpParams& params, const int8_t* w_codes,
                                 const DwconvKernel& kernel)
    : packing_(MakeActivationPacking(
          MakeActivationGrid(params),
          ActivationPlaneGrid(params.activation_bits, params.activation_signed, true))),
      kernels_(kernel.functions),
      w8a8_(params.weight_bits == 8),
      lanes_(w8a8_ ? kDwconvW8A8Lanes : kernel.functions.lanes),
      row_(w8a8_ ? kernel.functions.row_w8a8 : kernel.functions.row),
      code_shift_(w8a8_ && !params.activation_signed ? 128 : 0),
      activation_(params.activation),
      multiplier_(params.multiplier.begin(), params.multiplier.end()),
      offset_(params.offset.begin(), params.offset.end()),
      max_accumulator_(params.MaxAccumulator()),
      depth_multiplier_(params.out_channels / params.in_channels),
      taps_(int64_t{params.kernel_h} * params.kernel_w) {
  const int64_t out_c = params.out_channels;
  const int64_t lanes = lanes_;
  const int64_t half = lanes / 2;
  channels_ = (out_c + lanes - 1) / lanes * lanes;
  if (w8a8_) {
    weights_.assign(static_cast<size_t>(channels_ * taps_), 0);
    channel_terms_.assign(code_shift_ != 0 ? static_cast<size_t>(out_c) : 0, 0);
    for (int64_t c = 0; c < out_c; ++c) {
      uint8_t* tile = weights_.data() + c / lanes * taps_ * lanes;
      for (int64_t t = 0; t < taps_; ++t) {
        const int code = w_codes[c * taps_ + t];
        tile[t * lanes + c % lanes] = static_cast<uint8_t>(code);
        if (code_shift_ != 0) channel_terms_[static_cast<size_t>(c)] += code_shift_ * code;
      }
    }
    return;
  }
  weights_.assign(static_cast<size_t>(channels_ / 2 * taps_), 0);
  for (int64_t c = 0; c < out_c; ++c) {
    const int64_t lane = c % lanes;
    const int shift = lane < half ? 0 : 4;
    uint8_t* tile = weights_.data() + c / lanes * taps_ * half;
    for (int64_t t = 0; t < taps_; ++t) {
      const int code = w_codes[c * taps_ + t];
      tile[t * half + lane % half] |= static_cast<uint8_t>((code & 0xf) << shift);
    }
  }
}

bool Conv2DDepthwise::Prepare(const ConvGeometry& g, int threads, int64_t max_scratch_bytes,
                              std::string* error, int64_t min_work_per_thread) {
  g_ = g;
  rows_ = PadAxis(g.in_h, g.out_h, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h);
  cols_ = PadAxis(g.in_w, g.out_w, g.stride_w, g.pad_left, g.dilation_w, g.kernel_w);
  const CheckedSize codes = CheckedSize(g.batch) * rows_.size * cols_.size * channels_;
  // Work as kMinWorkPerThread counts it: every output pixel's channels times taps, two
  // multiply-adds a word operation. The depthwise row kernels take 0.04 ns per multiply-add
  // (56x56x128 3x3 on the AVX-512 EPYC, 0.15 ms) where a GEMM word takes 0.06-0.12 ns; at 8
  // per word (as a GEMM's int8 dot products) that layer stayed on one thread, losing 1.4x.
  const CheckedSize work = CheckedSize(g.batch) * g.out_h * g.out_w * channels_ * taps_;
  threads_ = work.ok() ? ThreadsForWork(work.value() / 2, threads, min_work_per_thread)
                       : std::max(threads, 1);
  ScratchBudget budget;
  budget.Add(codes, sizeof(int8_t));
  budget.Add(CheckedSize(g.kernel_h) * g.kernel_w, sizeof(int64_t));
  if (code_shift_ != 0) budget.Add(g.out_w, sizeof(const int32_t*));
  const CheckedSize per_thread = CheckedSize(g.in_w) * g.in_c * sizeof(int8_t) +
                                 (CheckedSize(g.out_w) + 1) * channels_ * sizeof(int32_t);
  budget.Add(per_thread * threads_, 1);
  if (!budget.Within(max_scratch_bytes)) {
    return Fail(ScratchTooLarge(budget, max_scratch_bytes, g), error);
  }
  padded_h_ = rows_.size.value();
  padded_w_ = cols_.size.value();
  tap_offsets_.clear();
  for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      tap_offsets_.push_back((kh * g.dilation_h * padded_w_ + kw * g.dilation_w) * channels_);
    }
  }
  // Once: Run writes only the input's codes, so the borders and padding channels keep code 0.
  codes_.assign(static_cast<size_t>(codes.value()), static_cast<int8_t>(-code_shift_));
  term_rows_.assign(code_shift_ != 0 ? static_cast<size_t>(g.out_w) : 0, channel_terms_.data());
  scratch_.resize(static_cast<size_t>(threads_));
  for (Scratch& s : scratch_) {
    s.row_codes.assign(static_cast<size_t>(g.in_w * g.in_c), 0);
    s.core.assign(static_cast<size_t>(g.out_w * channels_), 0);
    s.acc.assign(static_cast<size_t>(channels_), 0);
  }
  return true;
}

void Conv2DDepthwise::Run(const ActivationInput& x, const ActivationOutput& y,
                          ThreadPool* pool) {
  // An empty input or output has nothing to pack or compute (and its buffers no data).
  if (g_.InputSize() == 0 || g_.OutputSize() == 0) return;
  auto quantize = [this, &x](int64_t row, int worker) {
    QuantizeRow(x, row, &scratch_[static_cast<size_t>(worker)]);
  };
  pool->ParallelFor(g_.batch * g_.in_h, quantize, threads_);
  auto compute = [this, &y](int64_t row, int worker) {
    ComputeRow(row, &scratch_[static_cast<size_t>(worker)], y);
  };
  pool->ParallelFor(g_.batch * g_.out_h, compute, threads_);
}

void Conv2DDepthwise::QuantizeRow(const ActivationInput& x, int64_t row, Scratch* scratch) {
  const int64_t n = row / g_.in_h;
  const int64_t ih = row % g_.in_h;
  const int64_t first = row * g_.in_w * g_.in_c;  // of the row in x
  int8_t* dst = codes_.data() +
                ((n * padded_h_ + rows_.before + ih) * padded_w_ + cols_.before) * channels_;
  const size_t count = static_cast<size_t>(g_.in_w * g_.in_c);
  const bool contiguous = depth_multiplier_ == 1 && channels_ == g_.in_c;
  int8_t* codes = contiguous ? dst : scratch->row_codes.data();
  if (x.codes != nullptr) {
    // Another op quantized them. Stored as they are: code_shift_ is 0 on every grid whose
    // codes fit int8 (only those are kept as codes).
    std::memcpy(codes, x.codes + first, count);
  } else if (w8a8_) {
    for (size_t i = 0; i < count; ++i) {
      codes[i] =
          static_cast<int8_t>(ActivationCode(x.values[first + i], packing_.grid) - code_shift_);
    }
  } else {
    kernels_.quantize(x.values + first, count, packing_, codes);
  }
  // The common case: the row's codes are contiguous in the buffer.
  if (contiguous) return;
  // Spread into pixels of channels_ lanes (the channels rounded up to the kernel's lanes),
  // each input channel's code repeated depth_multiplier_ times. A copy per pixel, or a plain
  // loop: std::fill_n of a run-time count became a memset call per code (MobileNetV2 W2A2
  // spent 15% of its time in memset).
  const int64_t in_c = g_.in_c;
  if (depth_multiplier_ == 1) {
    for (int64_t iw = 0; iw < g_.in_w; ++iw, dst += channels_, codes += in_c) {
      std::memcpy(dst, codes, static_cast<size_t>(in_c));
    }
    return;
  }
  const int64_t multiplier = depth_multiplier_;
  for (int64_t iw = 0; iw < g_.in_w; ++iw, dst += channels_, codes += in_c) {
    int8_t* to = dst;
    for (int64_t ci = 0; ci < in_c; ++ci) {
      for (int64_t m = 0; m < multiplier; ++m) *to++ = codes[ci];
    }
  }
}

void Conv2DDepthwise::ComputeRow(int64_t row, Scratch* scratch,
                                 const ActivationOutput& y) const {
  const int64_t n = row / g_.out_h;
  const int64_t oh = row % g_.out_h;
  const int8_t* window_row =
      codes_.data() +
      ((n * padded_h_ + oh * g_.stride_h + rows_.shift) * padded_w_ + cols_.shift) * channels_;
  DwconvRowParams params;
  params.out_w = g_.out_w;
  params.pixel_step = g_.stride_w * channels_;
  params.tap_offsets = tap_offsets_.data();
  params.taps = taps_;
  params.acc_stride = channels_;
  for (int64_t c0 = 0; c0 < channels_; c0 += lanes_) {
    params.x = window_row + c0;
    params.weights = weights_.data() + c0 / (w8a8_ ? 1 : 2) * taps_;
    params.acc = scratch->core.data() + c0;
    row_(params);
  }
  // Accumulators are final but for W8A8's shifted codes (see the header).
  EpilogueTerms terms;
  if (!term_rows_.empty()) terms.channel_terms = term_rows_.data();
  const int64_t first = row * g_.out_w * g_.out_c;
  if (y.codes != nullptr) {
    kernels_.epilogue_codes(scratch->core.data(), channels_, g_.out_w, g_.out_c, terms,
                            multiplier_.data(), offset_.data(), activation_, *y.grid,
                            code_thresholds_.View(y.grid, 0), y.codes + first, g_.out_c);
    return;
  }
  kernels_.epilogue(scratch->core.data(), channels_, g_.out_w, g_.out_c, terms, multiplier_.data(),
                    offset_.data(), activation_, scratch->acc.data(), y.values + first, g_.out_c);
}

void Conv2DDepthwise::WillWriteCodes(const ActivationPacking* grid) {
  code_thresholds_.Fold(writes_codes() ? grid : nullptr, multiplier_.data(), offset_.data(),
                        static_cast<int64_t>(multiplier_.size()), activation_,
                        max_accumulator_);
}

}  // namespace bitlite
