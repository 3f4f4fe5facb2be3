#include "kernels/gemm/conv2d_transpose_gemm.h"

#include <algorithm>
#include <utility>

#include "error_message.h"
#include "kernels/reference/output_stage_reference.h"
#include "op_geometry.h"

namespace bitlite {
namespace {

// Phase `residue` of one axis of a transposed convolution (stride, kernel, pad before): its
// first kernel tap, its tap count (0: none) and the top or left padding of its stride-1
// convolution (conv2d_transpose_gemm.h; negative where its windows start inside the input).
struct AxisPhase {
  int64_t first_tap = 0;
  int64_t taps = 0;
  int64_t pad = 0;
};

AxisPhase PhaseOf(int64_t residue, int64_t stride, int64_t kernel, int64_t pad) {
  AxisPhase phase;
  phase.first_tap = (residue + pad) % stride;
  phase.taps = phase.first_tap < kernel ? (kernel - phase.first_tap + stride - 1) / stride : 0;
  phase.pad = phase.taps - 1 - (residue + pad) / stride;
  return phase;
}

// The residues of one axis whose phase has taps: those whose first tap t is below the kernel,
// residue = (t - pad) mod stride for t < min(kernel, stride).
std::vector<int64_t> ResiduesWithTaps(int64_t stride, int64_t kernel, int64_t pad) {
  std::vector<int64_t> residues;
  for (int64_t t = 0; t < std::min(kernel, stride); ++t) {
    residues.push_back(((t - pad) % stride + stride) % stride);
  }
  return residues;
}

// Outputs of the phase of `residue`: the positions residue + stride * j below `out`.
int64_t PhaseOutputs(int64_t residue, int64_t stride, int64_t out) {
  return out > residue ? (out - residue - 1) / stride + 1 : 0;
}

}  // namespace

Conv2DTransposeGemm::Conv2DTransposeGemm(const OpParams& params, const int8_t* w_codes,
                                         const GemmKernel& kernel)
    : kernel_(kernel), zero_output_(static_cast<size_t>(params.out_channels)) {
  const std::vector<int32_t> zeros(static_cast<size_t>(params.out_channels), 0);
  OutputStageReference(zeros.data(), params.out_channels, params.multiplier.data(),
                       params.offset.data(), params.activation, zero_output_.data());
  g_.kernel_h = params.kernel_h;
  g_.kernel_w = params.kernel_w;
  g_.stride_h = params.stride_h;
  g_.stride_w = params.stride_w;
  const int64_t in_c = params.in_channels;
  for (int64_t row : ResiduesWithTaps(params.stride_h, params.kernel_h, params.pad_top)) {
    for (int64_t col : ResiduesWithTaps(params.stride_w, params.kernel_w, params.pad_left)) {
      const AxisPhase rows = PhaseOf(row, params.stride_h, params.kernel_h, params.pad_top);
      const AxisPhase cols = PhaseOf(col, params.stride_w, params.kernel_w, params.pad_left);
      Phase phase;
      phase.row = row;
      phase.col = col;
      phase.params = params;
      phase.params.kind = OpKind::kConv2D;
      phase.params.kernel_h = static_cast<int>(rows.taps);
      phase.params.kernel_w = static_cast<int>(cols.taps);
      phase.params.stride_h = phase.params.stride_w = 1;
      phase.params.pad_top = phase.params.pad_bottom = 0;
      phase.params.pad_left = phase.params.pad_right = 0;
      phase.geometry.pad_top = rows.pad;
      phase.geometry.pad_left = cols.pad;
      // Sub-kernel tap (u, v) is kernel tap (first + stride * (taps - 1 - u), ...): reversed.
      for (int64_t c = 0; c < params.out_channels; ++c) {
        for (int64_t u = 0; u < rows.taps; ++u) {
          const int64_t kh = rows.first_tap + params.stride_h * (rows.taps - 1 - u);
          for (int64_t v = 0; v < cols.taps; ++v) {
            const int64_t kw = cols.first_tap + params.stride_w * (cols.taps - 1 - v);
            const int8_t* tap =
                w_codes + ((c * params.kernel_h + kh) * params.kernel_w + kw) * in_c;
            phase.w_codes.insert(phase.w_codes.end(), tap, tap + in_c);
          }
        }
      }
      phases_.push_back(std::move(phase));
    }
  }
}

bool Conv2DTransposeGemm::Prepare(const ConvGeometry& g, int threads, int64_t max_scratch_bytes,
                                  std::string* error, int64_t min_work_per_thread) {
  g_ = g;
  const bool direct = g.stride_h == 1 && g.stride_w == 1;  // one phase, written in place
  CheckedSize largest_phase = 0;
  for (Phase& phase : phases_) {
    ConvGeometry& p = phase.geometry;
    const int64_t pad_top = p.pad_top, pad_left = p.pad_left;  // fixed by the options
    p = g;
    p.kernel_h = phase.params.kernel_h;
    p.kernel_w = phase.params.kernel_w;
    p.stride_h = p.stride_w = 1;
    p.pad_top = pad_top;
    p.pad_left = pad_left;
    p.out_h = PhaseOutputs(phase.row, g.stride_h, g.out_h);
    p.out_w = PhaseOutputs(phase.col, g.stride_w, g.out_w);
    largest_phase = Max(largest_phase, CheckedSize(p.batch) * p.out_h * p.out_w * p.out_c);
  }
  ScratchBudget budget;
  if (!direct) budget.Add(largest_phase, sizeof(float));
  if (!budget.Within(max_scratch_bytes)) {
    return Fail(ScratchTooLarge(budget, max_scratch_bytes, g), error);
  }
  // The phases share what is left of the limit.
  const int64_t phase_limit = (max_scratch_bytes - budget.bytes().value()) /
                              std::max<int64_t>(static_cast<int64_t>(phases_.size()), 1);
  for (Phase& phase : phases_) {
    const LiveTaps taps = FindLiveTaps(phase.geometry);
    if (phase.geometry.OutputSize() == 0 || taps.Empty()) {
      phase.gemm.reset();
      continue;
    }
    ConvGeometry cropped = CropTaps(phase.geometry, taps);
    if (phase.gemm == nullptr || !(phase.packed_taps == taps)) {
      const LiveTapConv conv =
          CropToLiveTaps(phase.params, phase.geometry, taps, phase.w_codes);
      phase.gemm = std::make_unique<Conv2DGemm>(conv.params, conv.w_codes.data(), kernel_);
      phase.packed_taps = taps;
      cropped = conv.geometry;
    }
    if (!phase.gemm->Prepare(cropped, threads, phase_limit, error, min_work_per_thread)) {
      return false;
    }
  }
  phase_output_.assign(direct ? 0 : static_cast<size_t>(largest_phase.value()), 0.0f);
  return true;
}

void Conv2DTransposeGemm::Run(const float* x, float* y, ThreadPool* pool) {
  // Pixels of residues without taps are not any phase's: the zero accumulator's.
  const bool all_residues = g_.kernel_h >= g_.stride_h && g_.kernel_w >= g_.stride_w;
  if (!all_residues) {
    for (int64_t pixel = 0; pixel < g_.batch * g_.out_h * g_.out_w; ++pixel) {
      std::copy(zero_output_.begin(), zero_output_.end(), y + pixel * g_.out_c);
    }
  }
  for (const Phase& phase : phases_) {
    if (phase.gemm == nullptr) {
      Scatter(phase, nullptr, y);
    } else if (phase_output_.empty()) {
      phase.gemm->Run(x, y, pool);
    } else {
      phase.gemm->Run(x, phase_output_.data(), pool);
      Scatter(phase, phase_output_.data(), y);
    }
  }
}

void Conv2DTransposeGemm::Scatter(const Phase& phase, const float* from, float* y) const {
  const ConvGeometry& p = phase.geometry;
  const int64_t channels = g_.out_c;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t j = 0; j < p.out_h; ++j) {
      const int64_t oh = phase.row + g_.stride_h * j;
      for (int64_t i = 0; i < p.out_w; ++i) {
        const int64_t ow = phase.col + g_.stride_w * i;
        const float* source =
            from != nullptr ? from + ((n * p.out_h + j) * p.out_w + i) * channels
                            : zero_output_.data();
        std::copy(source, source + channels, y + ((n * g_.out_h + oh) * g_.out_w + ow) * channels);
      }
    }
  }
}

}  // namespace bitlite
