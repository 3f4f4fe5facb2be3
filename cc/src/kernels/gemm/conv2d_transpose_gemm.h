// The transposed convolution (FORMAT.md "BitliteConv2DTranspose") on the GEMM kernels,
// bit-identical to Conv2DTransposeReference, as stride_h * stride_w ordinary convolutions.
//
// Output row oh = r + stride * j (phase r of the rows) sums only the kernel rows
// kh = (r + pad_top) mod stride + stride * t, reading input row j + (r + pad_top) / stride - t:
// a stride-1 convolution of the input with the sub-kernel of those rows in reverse order and
// its own (possibly negative) top padding. The same holds for columns, so each pair of row
// and column phases is one Conv2DGemm over the same input, whose output pixels interleave into
// the transposed output. A phase whose sub-kernel is empty (kernel < stride) or reads nothing
// of the input has every output equal to the output stage of a zero accumulator.
//
// Why phases rather than a GEMM to kernel_h * kernel_w * out_c columns and a col2im scatter:
// every accumulator stays one exact int32 sum computed by the existing driver (its packing,
// border terms for grids with an offset, threads and every ISA's kernels), with no int32
// partial sums to add up across columns and no new SIMD code; zero padding of the input is
// the driver's own. The cost: each phase packs the whole input again (stride_h * stride_w
// times), and writes its outputs to a buffer first when the stride is above 1.
// Floats in and out only: DelegateKernel::DecideCodes keeps this op's tensors as floats.
#ifndef BITLITE_SRC_KERNELS_GEMM_CONV2D_TRANSPOSE_GEMM_H_
#define BITLITE_SRC_KERNELS_GEMM_CONV2D_TRANSPOSE_GEMM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv_geometry.h"
#include "kernels/gemm/conv2d_gemm.h"
#include "kernels/gemm/gemm_kernels.h"
#include "kernels/op_params.h"
#include "threading/thread_pool.h"

namespace bitlite {

class Conv2DTransposeGemm {
 public:
  // Splits the weights into the phases' sub-kernels: w_codes [out_c][kernel_h][kernel_w][in_c]
  // as the reference unpacks them (params of a kConv2DTranspose op). `kernel` must take the
  // params' bit widths (GemmKernel::Takes).
  Conv2DTransposeGemm(const OpParams& params, const int8_t* w_codes, const GemmKernel& kernel);

  // Packs each phase's live taps for the transposed geometry `g` (again only where a resize
  // changes them) and sizes the scratch for up to `threads` workers: in all within
  // `max_scratch_bytes`, else fails with a message and runs nothing.
  bool Prepare(const ConvGeometry& g, int threads, int64_t max_scratch_bytes, std::string* error,
               int64_t min_work_per_thread = kMinWorkPerThread);

  // y = conv_transpose(x) for the geometry of the last Prepare; pool->threads() <= `threads`.
  void Run(const float* x, float* y, ThreadPool* pool);

 private:
  // One residue of each axis: its sub-kernel as a stride-1 convolution.
  struct Phase {
    int64_t row = 0;  // the output rows row + stride_h * j
    int64_t col = 0;
    OpParams params;                 // the stride-1 convolution of the sub-kernel
    std::vector<int8_t> w_codes;     // [out_c][params.kernel_h][params.kernel_w][in_c]
    ConvGeometry geometry;           // of the last Prepare
    LiveTaps packed_taps{};          // what `gemm` holds
    std::unique_ptr<Conv2DGemm> gemm;  // null: no tap reads the input
  };

  // Writes the phase's output pixels, `from` holding them in the phase's own NHWC order
  // (null: the zero accumulator's output stage for every one).
  void Scatter(const Phase& phase, const float* from, float* y) const;

  const GemmKernel& kernel_;
  std::vector<Phase> phases_;
  std::vector<float> zero_output_;  // [out_c]: the output stage of acc = 0
  ConvGeometry g_;
  std::vector<float> phase_output_;  // one phase's outputs, when the stride is above 1
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_GEMM_CONV2D_TRANSPOSE_GEMM_H_
