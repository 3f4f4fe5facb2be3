#include "bitlite_op.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "error_message.h"
#include "glue/glue_kernels.h"
#include "kernels/reference/conv2d_reference.h"
#include "kernels/reference/conv2d_transpose_reference.h"
#include "kernels/cpu_features.h"
#include "kernels/reference/weight_unpack_reference.h"
#include "op_geometry.h"
#include "tflite_tensors.h"

namespace bitlite {
namespace {

std::string ActivationName(Activation activation) {
  switch (activation.kind) {
    case ActivationKind::kNone:
      return "NONE";
    case ActivationKind::kRelu:
      return "RELU";
    case ActivationKind::kRelu6:
      return "RELU6";
    case ActivationKind::kLeakyRelu: {
      char alpha[32];
      std::snprintf(alpha, sizeof(alpha), "%.9g", activation.alpha);
      return std::string("LEAKY_RELU(") + alpha + ")";
    }
  }
  return "?";
}

std::string DeclaredShape(const TfLiteContext* context, int index) {
  std::vector<int> shape;
  const TfLiteTensor* tensor = TensorAt(context, index);
  if (tensor == nullptr || !TensorShape(*tensor, &shape)) return "(none)";
  return ShapeToString(shape);
}

std::string TensorName(const char* role, int index) {
  return std::string(role) + " (tensor " + std::to_string(index) + ")";
}

}  // namespace

bool FindBitliteOp(const TfLiteRegistration& registration, OpKind* kind) {
  if (registration.builtin_code != kTfLiteBuiltinCustom || registration.custom_name == nullptr) {
    return false;
  }
  for (OpKind candidate : {OpKind::kConv2D, OpKind::kFullyConnected, OpKind::kConv2DTranspose}) {
    if (std::strcmp(registration.custom_name, OpName(candidate)) == 0) {
      *kind = candidate;
      return true;
    }
  }
  return false;
}

BitliteOp::BitliteOp(TfLiteContext* context, int node_index, const DelegateOptions& options)
    : node_index_(node_index), max_scratch_bytes_(options.max_scratch_bytes) {
  const KernelChoice kernel = options.kernel;
  TfLiteNode* node = nullptr;
  TfLiteRegistration* registration = nullptr;
  if (context->GetNodeAndRegistration(context, node_index, &node, &registration) != kTfLiteOk ||
      node == nullptr || registration == nullptr || !FindBitliteOp(*registration, &kind_)) {
    init_error_ = "is not a bitlite op";
    return;
  }
  kind_known_ = true;
  if (node->inputs == nullptr || node->inputs->size != 2 || node->outputs == nullptr ||
      node->outputs->size != 1) {
    init_error_ = "must have 2 inputs (x, w) and 1 output";
    return;
  }
  input_ = node->inputs->data[0];
  weights_ = node->inputs->data[1];
  output_ = node->outputs->data[0];
  if (node->custom_initial_data == nullptr || node->custom_initial_data_size <= 0) {
    init_error_ = "has no custom options";
    return;
  }
  if (!ParseOpOptions(kind_, static_cast<const uint8_t*>(node->custom_initial_data),
                      static_cast<size_t>(node->custom_initial_data_size), &params_,
                      &init_error_)) {
    return;
  }
  grid_ = MakeActivationGrid(params_);
  // Depthwise layers (groups == in_channels > 1) have a kernel of their own for every choice
  // but reference: a GEMM per channel would waste the bitserial kernels' words. Every other
  // convolution, grouped or not, and every fully connected layer runs on Conv2DGemm.
  use_depthwise_ = kernel != KernelChoice::kReference && IsDepthwise(params_);
  use_gemm_ = kernel != KernelChoice::kReference && !IsDepthwise(params_);
  const CpuFeatures& cpu = DetectCpuFeatures();
  dwconv_kernel_ = &BestDwconvKernel(cpu);
  switch (kernel) {
    case KernelChoice::kAuto:
      gemm_kernel_ = &AutoGemmKernelFor(cpu, params_);
      // F(2x2, 3x3) transforms the int rows' packed bytes: the layer then runs on the int row.
      if (options.winograd) winograd_ = AutoWinogradKernels(cpu, params_);
      break;
    case KernelChoice::kReference:
      gemm_kernel_ = &AutoGemmKernelFor(cpu, params_);
      break;
    // A family without a kernel for the widths falls back (BestGemmKernel): W8A8 under
    // kernel=bitserial or lut runs on an int kernel, which verbose mode names.
    case KernelChoice::kBitserial:
      gemm_kernel_ = &BestGemmKernel(cpu, GemmFamily::kBitserial, params_.weight_bits,
                                     params_.activation_bits);
      break;
    case KernelChoice::kInt:
      gemm_kernel_ = &BestGemmKernel(cpu, GemmFamily::kInt, params_.weight_bits,
                                     params_.activation_bits);
      break;
    case KernelChoice::kLut:
      gemm_kernel_ = &BestGemmKernel(cpu, GemmFamily::kLut, params_.weight_bits,
                                     params_.activation_bits);
      break;
  }
}

std::string BitliteOp::KernelName() const {
  if (use_depthwise_) return dwconv_kernel_->name;
  if (!use_gemm_) return "reference";
  // Before the kernel is built, what it will run where the geometry allows.
  const bool winograd = gemm_ != nullptr ? gemm_->runs_winograd() : RunsWinograd();
  return winograd ? std::string("winograd/") + winograd_.gemm->name
                  : (RunsWinograd() ? winograd_.layer : gemm_kernel_)->name;
}

bool BitliteOp::RunsWinograd() const {
  return winograd_ && !winograd_gave_way_ && fused_ != Fused::kMaxPool;
}

std::string BitliteOp::MessagePrefix() const {
  return "bitlite: node " + std::to_string(node_index_) +
         (kind_known_ ? std::string(" (") + OpName(kind_) + ")" : std::string()) + ": ";
}

std::string BitliteOp::Describe(const TfLiteContext* context) const {
  std::string text = MessagePrefix() + "x " + DeclaredShape(context, input_) + " -> y " +
                     DeclaredShape(context, output_);
  if (!init_error_.empty()) return text + ", cannot run: " + init_error_;
  text += ", W" + std::to_string(params_.weight_bits) + "A" +
          std::to_string(params_.activation_bits) +
          (params_.activation_signed ? " signed" : " unsigned");
  if (kind_ == OpKind::kConv2D) {
    text += ", kernel " + std::to_string(params_.kernel_h) + "x" +
            std::to_string(params_.kernel_w) + ", stride " + std::to_string(params_.stride_h) +
            "x" + std::to_string(params_.stride_w) + ", dilation " +
            std::to_string(params_.dilation_h) + "x" + std::to_string(params_.dilation_w) +
            (params_.padding == Padding::kSame ? ", SAME" : ", VALID");
  } else if (kind_ == OpKind::kConv2DTranspose) {
    text += ", kernel " + std::to_string(params_.kernel_h) + "x" +
            std::to_string(params_.kernel_w) + ", stride " + std::to_string(params_.stride_h) +
            "x" + std::to_string(params_.stride_w) + ", pads " + std::to_string(params_.pad_top) +
            " " + std::to_string(params_.pad_bottom) + " " + std::to_string(params_.pad_left) +
            " " + std::to_string(params_.pad_right);
  }
  text += ", " + ActivationName(params_.activation) + ", kernel " + KernelName();
  const std::string fused = fused_prefix_.substr(0, fused_prefix_.size() - 2);  // no ": "
  if (fused_ == Fused::kMaxPool) {
    const MaxPoolWindow& w = pool_window_;
    text += ", then a fused max pool " + std::to_string(w.filter_h) + "x" +
            std::to_string(w.filter_w) + ", stride " + std::to_string(w.stride_h) + "x" +
            std::to_string(w.stride_w) + (w.padding == Padding::kSame ? ", SAME" : ", VALID") +
            " (" + fused + ")";
  } else if (fused_ == Fused::kAdd) {
    text += ", then a fused ADD (" + fused + ")";
  }
  return text;
}

bool BitliteOp::FuseMaxPool(const MaxPoolWindow& window, const std::string& prefix) {
  if (!init_error_.empty() || kind_ != OpKind::kConv2D || fused_ != Fused::kNone) return false;
  fused_ = Fused::kMaxPool;
  pool_window_ = window;
  fused_prefix_ = prefix;
  return true;
}

bool BitliteOp::FuseAdd(const glue::Clamp& clamp, bool residual_first,
                        const std::string& prefix) {
  if (!init_error_.empty() || kind_ != OpKind::kConv2D || fused_ != Fused::kNone) return false;
  fused_ = Fused::kAdd;
  add_clamp_ = clamp;
  residual_first_ = residual_first;
  fused_prefix_ = prefix;
  return true;
}

bool BitliteOp::PrepareFusion(const TfLiteContext* context, std::vector<int>* output_shape,
                              int threads, std::string* error) {
  if (fused_ == Fused::kMaxPool) {
    const PoolGeometry& p = pool_geometry_;
    *output_shape = {p.batch, p.out_h, p.out_w, p.channels};
  }
  if (fused_ == Fused::kNone || kernel_fuses_) {
    unfused_ = CacheLineVector<float>();
    return true;
  }
  ScratchBudget budget;
  budget.Add(geometry_.OutputSize(), sizeof(float));
  const int64_t limit = ScratchLimit(context, threads);
  if (!budget.Within(limit)) {
    return Fail(MessagePrefix() + ScratchTooLarge(budget, limit, geometry_), error);
  }
  unfused_.resize(static_cast<size_t>(geometry_.OutputSize()));
  if (quantize_ == nullptr) quantize_ = BestQuantizeActivations(DetectCpuFeatures());
  return true;
}

bool BitliteOp::Prepare(const TfLiteContext* context, const std::vector<int>& input_shape,
                        std::vector<int>* output_shape, std::string* error, int threads) {
  std::string message;
  if (!init_error_.empty()) {
    message = init_error_;
  } else if (CheckTensors(context, &message) && CheckWeights(context, &message) &&
             ComputeGeometry(params_, input_shape, &geometry_, output_shape, &message)) {
    if (kind_ == OpKind::kConv2DTranspose) {
      run_reference_ = !use_gemm_;
      if (run_reference_ ? PrepareReferenceKernel(context, threads, &message)
                         : PrepareTransposeKernel(context, threads, &message)) {
        return true;
      }
      *error = MessagePrefix() + message;
      return false;
    }
    const LiveTaps taps = FindLiveTaps(geometry_);
    run_reference_ = !(use_gemm_ || use_depthwise_) || taps.Empty();
    kernel_fuses_ = false;
    if (fused_ == Fused::kMaxPool &&
        !ComputePoolGeometry(pool_window_, *output_shape, &pool_geometry_, &message)) {
      *error = fused_prefix_ + message;
      return false;
    }
    if (winograd_gave_way_) {  // the new shapes may leave Winograd the scratch it needs
      winograd_gave_way_ = false;
      gemm_.reset();
    }
    const bool prepared = run_reference_ ? PrepareReferenceKernel(context, threads, &message)
                                         : PrepareFastKernel(context, taps, threads, &message);
    if (prepared) return PrepareFusion(context, output_shape, threads, error);
  }
  *error = MessagePrefix() + message;
  return false;
}

bool BitliteOp::PrepareReferenceKernel(const TfLiteContext* context, int threads,
                                       std::string* error) {
  // Its scratch is the delegate kernel's: one code per input value, one accumulator per
  // output channel (DelegateKernel::Prepare sizes it for the largest node).
  ScratchBudget budget;
  budget.Add(geometry_.InputSize(), sizeof(ActivationCodeT));
  budget.Add(geometry_.out_c, sizeof(int32_t));
  const int64_t limit = ScratchLimit(context, threads);
  if (!budget.Within(limit)) return Fail(ScratchTooLarge(budget, limit, geometry_), error);
  return !weight_codes_.empty() || UnpackWeights(context, &weight_codes_, error);
}

bool BitliteOp::PrepareFastKernel(const TfLiteContext* context, const LiveTaps& taps,
                                  int threads, std::string* error) {
  const bool built = use_depthwise_ ? depthwise_ != nullptr : gemm_ != nullptr;
  ConvGeometry cropped;
  if (built && packed_taps_ == taps) {
    cropped = CropTaps(geometry_, taps);  // the kernel holds these taps' weights already
  } else {
    std::vector<int8_t> codes;
    if (!UnpackWeights(context, &codes, error)) return false;
    const LiveTapConv conv = CropToLiveTaps(params_, geometry_, taps, std::move(codes));
    if (use_depthwise_) {
      depthwise_ = std::make_unique<Conv2DDepthwise>(conv.params, conv.w_codes.data(),
                                                     *dwconv_kernel_);
    } else {
      const bool winograd = RunsWinograd();
      gemm_ = std::make_unique<Conv2DGemm>(conv.params, conv.w_codes.data(),
                                           winograd ? *winograd_.layer : *gemm_kernel_,
                                           winograd ? winograd_.gemm : nullptr);
    }
    packed_taps_ = taps;
    cropped = conv.geometry;
  }
  const int64_t limit = ScratchLimit(context, threads);
  if (!use_depthwise_) {
    const bool pools = gemm_->PoolOutput(fused_ == Fused::kMaxPool ? &pool_geometry_ : nullptr);
    gemm_->AddOutput(fused_ == Fused::kAdd ? &add_clamp_ : nullptr, residual_first_);
    kernel_fuses_ = pools || fused_ == Fused::kAdd;
  }
  if (use_depthwise_) return depthwise_->Prepare(cropped, threads, limit, error);
  gemm_->ShareWinogradWorkspaces(shared_workspaces_);
  if (gemm_->Prepare(cropped, threads, limit, error)) return true;
  if (!gemm_->runs_winograd() || !gemm_->over_scratch_limit()) return false;
  // F(2x2, 3x3) needs scratch of its own (transformed patches and products per worker): where
  // that passes max_scratch_bytes, the layer runs direct, as it would without Winograd, until
  // the next Prepare tries again.
  winograd_gave_way_ = true;
  gemm_.reset();
  error->clear();
  return PrepareFastKernel(context, taps, threads, error);
}

bool BitliteOp::PrepareTransposeKernel(const TfLiteContext* context, int threads,
                                       std::string* error) {
  if (transpose_ == nullptr) {
    std::vector<int8_t> codes;
    if (!UnpackWeights(context, &codes, error)) return false;
    transpose_ = std::make_unique<Conv2DTransposeGemm>(params_, codes.data(), *gemm_kernel_);
  }
  return transpose_->Prepare(geometry_, threads, ScratchLimit(context, threads), error);
}

int64_t BitliteOp::ScratchLimit(const TfLiteContext* context, int threads) const {
  if (max_scratch_bytes_ > 0) return max_scratch_bytes_;
  // Generous for real layers (the packed input is a few times the float input at most, the
  // per-thread scratch a few chunks of the weights), bounded by the node's own tensors, and
  // capped: Prepare runs before the runtime allocates those tensors, so a model that
  // declares huge ones must not get huge scratch first.
  constexpr int64_t kBaseBytes = int64_t{64} << 20;
  constexpr int64_t kBytesPerTensorByte = 16;
  constexpr int64_t kCapBytes = int64_t{1} << 30;
  const TfLiteTensor* w = TensorAt(context, weights_);
  const CheckedSize tensor_bytes =
      (CheckedSize(geometry_.InputSize()) + geometry_.OutputSize()) * sizeof(float) +
      CheckedSize(w != nullptr ? static_cast<int64_t>(w->bytes) : 0);
  const CheckedSize limit =
      tensor_bytes * kBytesPerTensorByte * std::max(threads, 1) + kBaseBytes;
  return limit.ok() && limit.value() < kCapBytes ? limit.value() : kCapBytes;
}

bool BitliteOp::CheckTensors(const TfLiteContext* context, std::string* error) const {
  const TfLiteTensor* x = TensorAt(context, input_);
  const TfLiteTensor* y = TensorAt(context, output_);
  const std::string x_name = TensorName("input x", input_);
  const std::string y_name = TensorName("output", output_);
  if (x == nullptr) return Fail(x_name + " is missing", error);
  if (x->type != kTfLiteFloat32) {
    return Fail(x_name + " must be float32, got " + TypeName(x->type), error);
  }
  if (y == nullptr) return Fail(y_name + " is missing", error);
  if (y->type != kTfLiteFloat32) {
    return Fail(y_name + " must be float32, got " + TypeName(y->type), error);
  }
  if (IsConstant(*y)) return Fail(y_name + " is a constant tensor", error);
  return true;
}

bool BitliteOp::CheckWeights(const TfLiteContext* context, std::string* error) const {
  const TfLiteTensor* w = TensorAt(context, weights_);
  const std::string name = TensorName("weights w", weights_);
  if (w == nullptr) return Fail(name + " is missing", error);
  if (w->type != kTfLiteUInt8) {
    return Fail(name + " must be uint8, got " + TypeName(w->type), error);
  }
  if (!IsConstant(*w) || w->data.raw == nullptr) {
    return Fail(name + " must be a constant tensor (MmapRo or PersistentRo)", error);
  }
  // The option checks bound k by the int32 accumulator, so row_bytes fits an int.
  const int64_t k = params_.ReductionSize();
  const int64_t row_bytes = params_.RowBytes();
  const std::vector<int> expected = {params_.out_channels, static_cast<int>(row_bytes)};
  std::vector<int> shape;
  if (!TensorShape(*w, &shape) || shape != expected) {
    return Fail(name + " must have shape " + ShapeToString(expected) + " ([out_channels, ceil(" +
                    std::to_string(k) + " * " + std::to_string(params_.weight_bits) +
                    " / 8)]), got " + ShapeToString(shape),
                error);
  }
  const int64_t total_bytes = params_.out_channels * row_bytes;
  if (w->bytes != static_cast<uint64_t>(total_bytes)) {
    return Fail(name + " holds " + std::to_string(w->bytes) + " bytes, expected " +
                    std::to_string(total_bytes),
                error);
  }
  if (!(CheckedSize(params_.out_channels) * k).ok()) return Fail(name + " is too large", error);
  return true;
}

bool BitliteOp::UnpackWeights(const TfLiteContext* context, std::vector<int8_t>* codes,
                              std::string* error) const {
  const int64_t k = params_.ReductionSize();
  codes->resize(static_cast<size_t>(params_.out_channels * k));
  if (!UnpackWeightsReference(TensorAt(context, weights_)->data.uint8, params_.out_channels, k,
                              params_.weight_bits, codes->data())) {
    codes->clear();
    return Fail(TensorName("weights w", weights_) +
                    " sets unused padding bits: it was packed for another weight_bits or "
                    "kernel size",
                error);
  }
  return true;
}

// A transposed convolution reads and writes floats (conv2d_transpose_gemm.h).
const ActivationPacking* BitliteOp::InputCodeGrid() const {
  if (run_reference_ || transpose_ != nullptr || !CodesFitInt8(grid_)) return nullptr;
  if (use_depthwise_) return &depthwise_->input_packing();  // reads codes on every row
  return gemm_->reads_codes() ? &gemm_->input_packing() : nullptr;
}

bool BitliteOp::WritesCodes() const {
  // A fused ADD writes floats; a fused pool codes only from the kernel's pooled accumulators.
  if (run_reference_ || transpose_ != nullptr || fused_ == Fused::kAdd ||
      (fused_ == Fused::kMaxPool && !kernel_fuses_)) {
    return false;
  }
  return use_depthwise_ ? depthwise_->writes_codes() : gemm_->writes_codes();
}

void BitliteOp::WillWriteCodes(const ActivationPacking* grid) {
  // Before the first Prepare there is no kernel yet.
  if (use_depthwise_ ? depthwise_ == nullptr : gemm_ == nullptr) return;
  if (!WritesCodes()) return;
  if (use_depthwise_) {
    depthwise_->WillWriteCodes(grid);
  } else {
    gemm_->WillWriteCodes(grid);
  }
}

void BitliteOp::Run(const ActivationInput& x, const ActivationOutput& y, ActivationCodeT* codes,
                    int32_t* acc, ThreadPool* pool) {
  if (fused_ == Fused::kNone || kernel_fuses_) return RunConvolution(x, y, codes, acc, pool);
  ActivationOutput unfused;
  unfused.values = unfused_.data();
  RunConvolution(x, unfused, codes, acc, pool);
  // The glue's own kernels, as the fused node would have run alone.
  int64_t size = geometry_.OutputSize();
  if (fused_ == Fused::kMaxPool) {
    // The NONE clamp (FusableMaxPool).
    const glue::Clamp none{std::numeric_limits<float>::lowest(),
                           std::numeric_limits<float>::max()};
    const PoolGeometry& p = pool_geometry_;
    glue::MaxPool(p, unfused_.data(), y.values, none, 0, int64_t{p.batch} * p.out_h);
    size = int64_t{p.batch} * p.out_h * p.out_w * p.channels;
  } else {
    glue::BinaryGeometry same;
    same.size = size;
    glue::Binary(glue::BinaryOp::kAdd, same, residual_first_ ? y.residual : unfused_.data(),
                 residual_first_ ? unfused_.data() : y.residual, y.values, add_clamp_);
  }
  if (y.side_codes != nullptr) {
    quantize_(y.values, static_cast<size_t>(size), *y.side_grid, y.side_codes);
  }
}

void BitliteOp::RunConvolution(const ActivationInput& x, const ActivationOutput& y,
                               ActivationCodeT* codes, int32_t* acc, ThreadPool* pool) {
  if (transpose_ != nullptr && !run_reference_) return transpose_->Run(x.values, y.values, pool);
  if (!run_reference_) {
    return use_depthwise_ ? depthwise_->Run(x, y, pool) : gemm_->Run(x, y, pool);
  }
  QuantizeActivationsReference(x.values, static_cast<size_t>(geometry_.InputSize()), grid_,
                               codes);
  if (kind_ == OpKind::kConv2DTranspose) {
    return Conv2DTransposeReference(geometry_, codes, weight_codes_.data(),
                                    params_.multiplier.data(), params_.offset.data(),
                                    params_.activation, acc, y.values);
  }
  Conv2DReference(geometry_, codes, weight_codes_.data(), params_.multiplier.data(),
                  params_.offset.data(), params_.activation, acc, y.values);
}

}  // namespace bitlite
