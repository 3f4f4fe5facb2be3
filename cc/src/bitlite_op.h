// One BitliteConv2D, BitliteConv2DTranspose or BitliteFullyConnected node run by the delegate: its parsed options,
// its tensors, its unpacked weights and the geometry of the current input shape.
#ifndef BITLITE_SRC_BITLITE_OP_H_
#define BITLITE_SRC_BITLITE_OP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"
#include "delegate_options.h"
#include "glue/glue_kernels.h"
#include "kernels/reference/activation_quantize_reference.h"
#include "kernels/depthwise/conv2d_depthwise.h"
#include "kernels/gemm/conv2d_gemm.h"
#include "kernels/gemm/conv2d_transpose_gemm.h"
#include "kernels/winograd/winograd_workspace.h"
#include "kernels/conv_geometry.h"
#include "kernels/depthwise/dwconv_kernels.h"
#include "kernels/cache_line_vector.h"
#include "kernels/pack/activation_quantize.h"
#include "kernels/pool_geometry.h"
#include "kernels/gemm/gemm_kernels.h"
#include "op_options.h"
#include "threading/thread_pool.h"

namespace bitlite {

// Whether `registration` is a bitlite custom op, and which.
bool FindBitliteOp(const TfLiteRegistration& registration, OpKind* kind);

class BitliteOp {
 public:
  // Reads the node, parses its options and picks its kernel (the delegate options' `kernel`,
  // see KernelChoice). Kernel init cannot fail, so any problem is kept and returned by the
  // first Prepare.
  BitliteOp(TfLiteContext* context, int node_index,
            const DelegateOptions& options = DelegateOptions());

  // Why the node cannot run (empty if it can), as found when reading it.
  const std::string& init_error() const { return init_error_; }
  int input_tensor() const { return input_; }
  int output_tensor() const { return output_; }
  // "bitlite: node 5 (BitliteConv2D): ", the start of every message about this op.
  std::string MessagePrefix() const;
  // One line for verbose mode: op, tensor shapes as the model declares them, bits, geometry,
  // kernel and ISA.
  std::string Describe(const TfLiteContext* context) const;
  // "bitserial/avx512vpopcntdq", "reference", ...
  std::string KernelName() const;
  // Whether the layer is built to run as F(2x2, 3x3): kernel=auto chose it and the layer does
  // not pool its own output (Conv2DGemm::PoolOutput: a pool reads rows as its windows need
  // them, F(2x2, 3x3) computes pairs).
  bool RunsWinograd() const;

  // Validates tensors, computes the geometry and output shape for `input_shape`, packs the
  // weights for the fast kernel (again only if a resize changes which taps are live) and
  // sizes the scratch for up to `threads` threads, within the scratch limit (ScratchLimit).
  // On failure *error holds a message with the prefix.
  bool Prepare(const TfLiteContext* context, const std::vector<int>& input_shape,
               std::vector<int>* output_shape, std::string* error, int threads = 1);

  // Before Prepare: a layer run as F(2x2, 3x3) takes its per-worker buffers from `shared`
  // (Conv2DGemm::ShareWinogradWorkspaces); null: its own.
  void ShareWinogradWorkspaces(WinogradWorkspaces* shared) { shared_workspaces_ = shared; }

  int64_t input_size() const { return geometry_.InputSize(); }
  // The convolution's output (before a fused pool).
  int64_t output_size() const { return geometry_.OutputSize(); }
  int64_t out_channels() const { return geometry_.out_c; }

  // Codes between ops (FORMAT.md): after Prepare, the grid (and quantizer data) of the
  // input when the op's kernel can read it as int8 codes, else nullptr (the reference
  // kernel, or the unsigned 8-bit grid).
  const ActivationPacking* InputCodeGrid() const;
  // After Prepare: whether the op's kernel can write its output as another op's codes.
  bool WritesCodes() const;
  // After Prepare: Run's output will be codes of `grid` (null: floats), as the partition
  // decided; the kernel prepares for that grid.
  void WillWriteCodes(const ActivationPacking* grid);

  // Before the first Prepare: the op also runs the node that alone reads its output
  // (FORMAT.md "Fused ops"; `prefix`: that node's message prefix), and Run writes that node's
  // output instead, with side codes where ActivationOutput has them: a max pool `window`
  // (Prepare gives the pooled shape), or an ADD, clamp(a + b) of the output and
  // ActivationOutput::residual (a the residual where `residual_first`). False where the op
  // cannot: anything but a BitliteConv2D, or one that fused a node already.
  bool FuseMaxPool(const MaxPoolWindow& window, const std::string& prefix);
  bool FuseAdd(const glue::Clamp& clamp, bool residual_first, const std::string& prefix);
  bool fuses() const { return fused_ != Fused::kNone; }
  // "bitlite: node 7 (ADD): ", the fused node's prefix.
  const std::string& fused_prefix() const { return fused_prefix_; }

  // Computes y from x with the geometry of the last Prepare. `codes` holds input_size() and
  // `acc` out_channels() elements of scratch for the reference kernel; the fast kernels
  // have their own and run on `pool` (at most the `threads` of Prepare). Codes in or out
  // only where InputCodeGrid / WritesCodes allow them.
  void Run(const ActivationInput& x, const ActivationOutput& y, ActivationCodeT* codes,
           int32_t* acc, ThreadPool* pool);

 private:
  bool CheckTensors(const TfLiteContext* context, std::string* error) const;
  // The weight tensor's type, constness, shape and size, before anything is computed from
  // the options (a huge kernel is refused by its missing bytes, not after a pass over it).
  bool CheckWeights(const TfLiteContext* context, std::string* error) const;
  // The weight codes [out_channels][kernel_h * kernel_w * in_channels / groups] of the checked
  // tensor; fails if it sets unused padding bits.
  bool UnpackWeights(const TfLiteContext* context, std::vector<int8_t>* codes,
                     std::string* error) const;
  // The most scratch the kernel may take: the delegate option max_scratch_bytes, else a
  // bound derived from the node's own tensor sizes.
  int64_t ScratchLimit(const TfLiteContext* context, int threads) const;
  // Unpacks the reference kernel's weights once, within the scratch limit.
  bool PrepareReferenceKernel(const TfLiteContext* context, int threads, std::string* error);
  // Builds (or rebuilds, for other live taps) the fast kernel and sizes its scratch.
  bool PrepareFastKernel(const TfLiteContext* context, const LiveTaps& taps, int threads,
                         std::string* error);
  // The same for a transposed convolution (which keeps its weights and finds its phases'
  // live taps itself).
  bool PrepareTransposeKernel(const TfLiteContext* context, int threads, std::string* error);
  // After the kernel's Prepare: the pooled shape and, where the kernel does not run the
  // fused node, the buffer of the convolution's output.
  bool PrepareFusion(const TfLiteContext* context, std::vector<int>* output_shape, int threads,
                     std::string* error);
  // Run without the fused node.
  void RunConvolution(const ActivationInput& x, const ActivationOutput& y,
                      ActivationCodeT* codes, int32_t* acc, ThreadPool* pool);

  int node_index_;
  OpKind kind_ = OpKind::kConv2D;
  bool kind_known_ = false;
  std::string init_error_;
  int input_ = -1;
  int weights_ = -1;
  int output_ = -1;
  OpParams params_;
  int64_t max_scratch_bytes_ = 0;  // the delegate option; 0: ScratchLimit derives one
  ActivationGrid grid_;
  // The reference kernel's weights (UnpackWeights), unpacked when it first runs; the fast
  // kernels pack their own layout and keep no codes.
  std::vector<int8_t> weight_codes_;
  // The reference kernel runs the node: kernel=reference, or no tap of any window reads the
  // input (every output is the output stage of 0, nothing to pack).
  bool run_reference_ = true;
  LiveTaps packed_taps_{};  // the taps the fast kernel was built for
  bool use_gemm_ = false;
  const GemmKernel* gemm_kernel_ = nullptr;
  // kernel=auto's F(2x2, 3x3) rows for the layer (AutoWinogradKernels), or none; and whether
  // the last Prepare ran the layer direct as Winograd's scratch passed max_scratch_bytes.
  WinogradKernels winograd_;
  bool winograd_gave_way_ = false;
  WinogradWorkspaces* shared_workspaces_ = nullptr;
  std::unique_ptr<Conv2DGemm> gemm_;
  // A transposed convolution runs on the GEMM kernels as phases (use_gemm_ is set too).
  std::unique_ptr<Conv2DTransposeGemm> transpose_;
  // Depthwise layers (IsDepthwise) run on their own kernel unless `kernel` is reference.
  bool use_depthwise_ = false;
  const DwconvKernel* dwconv_kernel_ = nullptr;
  std::unique_ptr<Conv2DDepthwise> depthwise_;
  ConvGeometry geometry_;
  // The fused node (FuseMaxPool, FuseAdd): its prefix, the pool's window and geometry for
  // the last Prepare, the ADD's clamp and order; whether the GEMM kernel runs it
  // (Conv2DGemm::PoolOutput, AddOutput), else the convolution's output goes to unfused_ and
  // the glue's kernel runs the node.
  enum class Fused { kNone, kMaxPool, kAdd };
  Fused fused_ = Fused::kNone;
  std::string fused_prefix_;
  MaxPoolWindow pool_window_;
  PoolGeometry pool_geometry_{};
  glue::Clamp add_clamp_{};
  bool residual_first_ = false;
  bool kernel_fuses_ = false;
  CacheLineVector<float> unfused_;
  QuantizeActivationsFn quantize_ = nullptr;  // side codes of the unfused path
};

}  // namespace bitlite

#endif  // BITLITE_SRC_BITLITE_OP_H_
