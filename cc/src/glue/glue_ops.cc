#include "glue/glue_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "error_message.h"
#include "glue/glue_kernels.h"
#include "kernels/checked_size.h"
#include "kernels/cpu_features.h"
#include "kernels/pack/activation_quantize.h"
#include "op_geometry.h"
#include "tflite_tensors.h"

namespace bitlite {
namespace {

using glue::BinaryOp;
using glue::Broadcast;

const char* BuiltinName(int code) {
  switch (code) {
    case kTfLiteBuiltinAdd: return "ADD";
    case kTfLiteBuiltinSub: return "SUB";
    case kTfLiteBuiltinMul: return "MUL";
    case kTfLiteBuiltinDiv: return "DIV";
    case kTfLiteBuiltinMaximum: return "MAXIMUM";
    case kTfLiteBuiltinMinimum: return "MINIMUM";
    case kTfLiteBuiltinRound: return "ROUND";
    case kTfLiteBuiltinRelu: return "RELU";
    case kTfLiteBuiltinRelu6: return "RELU6";
    case kTfLiteBuiltinReluN1To1: return "RELU_N1_TO_1";
    case kTfLiteBuiltinStridedSlice: return "STRIDED_SLICE";
    case kTfLiteBuiltinMaxPool2d: return "MAX_POOL_2D";
    case kTfLiteBuiltinReshape: return "RESHAPE";
    case kTfLiteBuiltinPad: return "PAD";
    case kTfLiteBuiltinConcatenation: return "CONCATENATION";
    case kTfLiteBuiltinUnpack: return "UNPACK";
    case kTfLiteBuiltinSplit: return "SPLIT";
    case kTfLiteBuiltinSplitV: return "SPLIT_V";
    case kTfLiteBuiltinLeakyRelu: return "LEAKY_RELU";
    case kTfLiteBuiltinResizeNearestNeighbor: return "RESIZE_NEAREST_NEIGHBOR";
    default: return nullptr;
  }
}

bool IsBinary(int code, BinaryOp* op) {
  switch (code) {
    case kTfLiteBuiltinAdd: *op = BinaryOp::kAdd; return true;
    case kTfLiteBuiltinSub: *op = BinaryOp::kSub; return true;
    case kTfLiteBuiltinMul: *op = BinaryOp::kMul; return true;
    case kTfLiteBuiltinDiv: *op = BinaryOp::kDiv; return true;
    case kTfLiteBuiltinMaximum: *op = BinaryOp::kMaximum; return true;
    case kTfLiteBuiltinMinimum: *op = BinaryOp::kMinimum; return true;
    default: return false;
  }
}

bool IsRelu(int code) {
  return code == kTfLiteBuiltinRelu || code == kTfLiteBuiltinRelu6 ||
         code == kTfLiteBuiltinReluN1To1;
}

// CalculateActivationRange for float; false for activations the delegate does not run.
bool ActivationClamp(TfLiteFusedActivation activation, glue::Clamp* clamp) {
  const float lowest = std::numeric_limits<float>::lowest();
  const float highest = std::numeric_limits<float>::max();
  switch (activation) {
    case kTfLiteActNone: *clamp = {lowest, highest}; return true;
    case kTfLiteActRelu: *clamp = {0.0f, highest}; return true;
    case kTfLiteActRelu6: *clamp = {0.0f, 6.0f}; return true;
    case kTfLiteActReluN1To1: *clamp = {-1.0f, 1.0f}; return true;
    default: return false;
  }
}

const char* ActivationName(TfLiteFusedActivation activation) {
  switch (activation) {
    case kTfLiteActNone: return "NONE";
    case kTfLiteActRelu: return "RELU";
    case kTfLiteActRelu6: return "RELU6";
    case kTfLiteActReluN1To1: return "RELU_N1_TO_1";
    default: return "unsupported";
  }
}

// The values of a constant int32 tensor (a shape, paddings, an axis).
bool ReadInt32Constant(const TfLiteContext* context, int index, const char* role,
                       std::vector<int>* values, Shape* shape, std::string* error) {
  const TfLiteTensor* tensor = TensorAt(context, index);
  const std::string name = std::string(role) + " (tensor " + std::to_string(index) + ")";
  if (tensor == nullptr) return Fail(name + " is missing", error);
  if (tensor->type != kTfLiteInt32) {
    return Fail(name + " must be int32, got " + TypeName(tensor->type), error);
  }
  if (!IsConstant(*tensor) || tensor->data.raw == nullptr) {
    return Fail(name + " must be a constant tensor", error);
  }
  const int64_t elements = TensorShape(*tensor, shape) ? ShapeElements(*shape) : -1;
  if (elements < 0 || elements > 64 ||
      tensor->bytes != static_cast<size_t>(elements) * sizeof(int32_t)) {
    return Fail(name + " has a malformed shape or size", error);
  }
  values->resize(static_cast<size_t>(elements));
  if (elements > 0) std::memcpy(values->data(), tensor->data.raw, sizeof(int32_t) * elements);
  return true;
}

// An axis in [-rank, rank), made non-negative.
bool NormalizeAxis(int axis, size_t rank, int* out) {
  const int r = static_cast<int>(rank);
  if (axis < -r || axis >= r) return false;
  *out = axis < 0 ? axis + r : axis;
  return true;
}

// The most elements of any tensor a glue op reads or writes (8 GiB of floats): far beyond real
// layers, small enough that no size computed from it overflows.
constexpr int64_t kMaxElements = int64_t{1} << 31;

// The most rows or columns a RESIZE_NEAREST_NEIGHBOR the delegate runs reads or writes.
constexpr int kMaxResizeExtent = 1 << 20;

// Elements of an elementwise op per thread below which a second thread does not pay: an
// ADD streams about 7 elements a nanosecond on one core, so 2^15 is about 5 us.
constexpr int64_t kMinElementsPerThread = int64_t{1} << 15;

// Side codes are written in blocks of this many floats (16 KiB), quantized while in L1.
constexpr int64_t kSideCodesBlock = 4096;

bool FitsInt(int64_t value) { return value >= 0 && value <= std::numeric_limits<int>::max(); }

int64_t Product(const Shape& shape, size_t begin, size_t end) {
  int64_t product = 1;
  for (size_t d = begin; d < end; ++d) product *= shape[d];
  return product;
}

class GlueOp : public PartitionOp {
 public:
  GlueOp(TfLiteContext* context, int node_index) : node_index_(node_index) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* registration = nullptr;
    if (context->GetNodeAndRegistration(context, node_index, &node, &registration) !=
            kTfLiteOk ||
        node == nullptr || registration == nullptr ||
        BuiltinName(registration->builtin_code) == nullptr) {
      init_error_ = "is not a bitlite op or a builtin op the delegate runs";
      return;
    }
    builtin_ = registration->builtin_code;
    if (node->inputs == nullptr || node->outputs == nullptr) {
      init_error_ = "has no input or output list";
      return;
    }
    const std::vector<int> in(node->inputs->data, node->inputs->data + node->inputs->size);
    const std::vector<int> out(node->outputs->data, node->outputs->data + node->outputs->size);
    ReadNode(context, node->builtin_data, in, out);
  }

  std::string MessagePrefix() const override {
    const char* name = BuiltinName(builtin_);
    return "bitlite: node " + std::to_string(node_index_) +
           (name != nullptr ? std::string(" (") + name + ")" : std::string()) + ": ";
  }

  std::string Describe(const TfLiteContext* context) const override {
    std::string text = MessagePrefix();
    for (size_t i = 0; i < inputs_.size(); ++i) {
      text += (i ? ", " : "") + DeclaredShape(context, inputs_[i]);
    }
    text += " ->";
    for (size_t i = 0; i < outputs_.size(); ++i) {
      text += (i ? ", " : " ") + DeclaredShape(context, outputs_[i]);
    }
    if (!init_error_.empty()) return text + ", cannot run: " + init_error_;
    if (has_activation_) text += std::string(", ") + ActivationName(activation_);
    text += ", kernel " + KernelName();
    for (const TailStep& t : tail_) {
      const char* name = BuiltinName(t.builtin);
      text += std::string(", then a fused ") + (name != nullptr ? name : "?") + " (" +
              t.fused_prefix.substr(0, t.fused_prefix.size() - 2) + ")";
    }
    return text;
  }

  std::string KernelName() const override {
    const char* name = BuiltinName(builtin_);
    return std::string("glue/") + (name != nullptr ? name : "?");
  }

  // The claim-time checks: tensor kinds and the declared shapes.
  bool Claimable(const TfLiteContext* context, std::string* reason) {
    if (!init_error_.empty()) return Fail(init_error_, reason);
    if (!CheckTensors(context, /*claiming=*/true, reason)) return false;
    std::vector<Shape> shapes(inputs_.size()), out;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      TensorShape(*TensorAt(context, inputs_[i]), &shapes[i]);
    }
    return Infer(shapes, &out, reason);
  }

  bool Prepare(const TfLiteContext* context, const std::vector<Shape>& input_shapes,
               std::vector<Shape>* output_shapes, int, OpScratch*,
               std::string* error) override {
    std::string message;
    if (!init_error_.empty()) {
      message = init_error_;
    } else if (input_shapes.size() == inputs_.size() &&
               CheckTensors(context, /*claiming=*/false, &message) &&
               Infer(input_shapes, output_shapes, &message) &&
               PrepareTail(input_shapes, (*output_shapes)[0], &message)) {
      return true;
    } else if (message.empty()) {
      message = "an input has no shape";
    }
    *error = MessagePrefix() + message;
    return false;
  }

  // Side codes for any glue op with one output: its readers' grid is known only after every
  // op's Prepare (the delegate kernel's DecideCodes).
  bool WritesSideCodes() const override { return init_error_.empty() && outputs_.size() == 1; }

  // A MAX_POOL_2D without a fused activation (Keras' MaxPooling2D).
  const MaxPoolWindow* FusableMaxPool() const override {
    const bool fusable = init_error_.empty() && builtin_ == kTfLiteBuiltinMaxPool2d &&
                         inputs_.size() == 1 && pool_.activation == kTfLiteActNone &&
                         (pool_.padding == kTfLitePaddingSame ||
                          pool_.padding == kTfLitePaddingValid);
    return fusable ? &pool_window_ : nullptr;
  }
  const glue::Clamp* FusableAdd() const override {
    return init_error_.empty() && add_of_same_shapes_ ? &clamp_ : nullptr;
  }
  void UseSideCodes(const ActivationPacking* grid) override { side_grid_ = grid; }

  // A chain of elementwise ops runs as one (FORMAT.md "Fused ops"): each step that reads the
  // chain's output and at most a scalar constant (the quantizer emulation's DIV, ROUND,
  // MINIMUM, MAXIMUM, MUL; a ReLU) is taken over, and Eval applies the steps to each block of
  // outputs while it is in cache: the same IEEE operations on every element, in the same
  // order, in one pass instead of one each.
  bool Fuse(const PartitionOp& next) override {
    const auto* step = dynamic_cast<const GlueOp*>(&next);
    if (!Elementwise() || step == nullptr || !step->StepAfter(outputs_[0])) return false;
    TailStep t;
    t.builtin = step->builtin_;
    t.binary = step->binary_;
    t.clamp = step->clamp_;
    t.leaky_alpha = step->leaky_alpha_;
    t.fused_prefix = step->MessagePrefix();
    if (step->scalar_operand_ >= 0) {
      t.constant_input = inputs_.size();
      inputs_.push_back(step->inputs_[static_cast<size_t>(step->scalar_operand_)]);
      t.geometry.broadcast = step->scalar_operand_ == 0 ? Broadcast::kScalarA
                                                        : Broadcast::kScalarB;
    }
    tail_.push_back(t);
    outputs_ = step->outputs_;
    return true;
  }

  void Eval(const float* const* in, float* const* out, OpScratch*, ThreadPool* pool) override {
    int8_t* codes =
        side_grid_ != nullptr ? reinterpret_cast<int8_t*>(out[outputs_.size()]) : nullptr;
    if (Elementwise()) return ElementwiseRows(in, out[0], codes, pool);
    switch (builtin_) {
      case kTfLiteBuiltinResizeNearestNeighbor:
        glue::ResizeNearest(resize_in_[0], resize_in_[1], resize_in_[2], resize_in_[3],
                            resize_rows_, resize_cols_, in[0], out[0]);
        break;
      case kTfLiteBuiltinStridedSlice:
        glue::StridedSlice(slice_in_shape_, slice_start_, slice_strides5_, slice_out_shape_,
                           in[0], out[0]);
        break;
      case kTfLiteBuiltinMaxPool2d:
        return MaxPoolRows(in[0], out[0], codes, pool);
      case kTfLiteBuiltinReshape:
        std::memcpy(out[0], in[0], sizeof(float) * static_cast<size_t>(size_));
        break;
      case kTfLiteBuiltinPad:
        glue::Pad(pad_in_shape_, paddings_, in[0], out[0]);
        break;
      case kTfLiteBuiltinConcatenation:
        glue::Concatenate(outer_, inner_, axis_sizes_, in, out[0]);
        break;
      case kTfLiteBuiltinUnpack:
      case kTfLiteBuiltinSplit:
      case kTfLiteBuiltinSplitV:
        glue::Split(outer_, inner_, axis_sizes_, in[0], out);
        break;
      default:  // no other op is claimed (IsGlueBuiltin)
        break;
    }
    if (codes != nullptr) SideCodes(out[0], 0, size_, codes);
  }

 private:
  // Codes of output elements [first, end) beside their floats: the readers' quantization,
  // the same float operations on the same values (FORMAT.md "Codes beside floats").
  void SideCodes(const float* y, int64_t first, int64_t end, int8_t* codes) const {
    quantize_(y + first, static_cast<size_t>(end - first), *side_grid_, codes + first);
  }

  // MAX_POOL_2D's output rows, one range a thread, on the threads its compares are worth
  // (ThreadsForWork, a compare counted as a word operation: ResNet-18 224's 3x3 pool of
  // 112x112x64, 1.8M compares, took 0.21 ms on one AVX-512 core, 0.12 ns each; on two, the
  // network's W1A1 2-thread time 2.18 -> 2.05 ms). Side codes: each output row's right after
  // it, while it is in cache.
  void MaxPoolRows(const float* x, float* y, int8_t* codes, ThreadPool* pool) const {
    const PoolGeometry& g = pool_geometry_;
    const int64_t rows = int64_t{g.batch} * g.out_h;
    const int64_t row_elements = int64_t{g.out_w} * g.channels;
    const int threads = ThreadsForWork(pool_compares_, pool->threads());
    const int64_t units = std::min<int64_t>(rows, threads);
    auto task = [&](int64_t unit, int) {
      const int64_t first = unit * rows / units, end = (unit + 1) * rows / units;
      if (codes == nullptr) return glue::MaxPool(g, x, y, clamp_, first, end);
      for (int64_t row = first; row < end; ++row) {
        glue::MaxPool(g, x, y, clamp_, row, row + 1);
        SideCodes(y, row * row_elements, (row + 1) * row_elements, codes);
      }
    };
    pool->ParallelFor(units, task, threads);
  }

  // Whether each output element comes from the same element of the inputs (a broadcast
  // operand aside): ops after it can then run on its outputs block by block.
  bool Elementwise() const {
    BinaryOp binary;
    return init_error_.empty() && outputs_.size() == 1 &&
           (IsBinary(builtin_, &binary) || builtin_ == kTfLiteBuiltinRound || IsRelu(builtin_) ||
            builtin_ == kTfLiteBuiltinLeakyRelu);
  }

  // Whether the op can run as a step of the chain writing `tensor` (Fuse): elementwise,
  // unfused, reading `tensor` as its one computed operand, a binary op's other a scalar
  // constant.
  bool StepAfter(int tensor) const {
    BinaryOp binary;
    if (!Elementwise() || !tail_.empty()) return false;
    if (!IsBinary(builtin_, &binary)) return inputs_[0] == tensor;
    return scalar_operand_ >= 0 && inputs_[static_cast<size_t>(1 - scalar_operand_)] == tensor;
  }

  // One elementwise op on outputs [first, end) of `out`: a unary one of x (a), a binary one
  // of a and b in its operand order (either may be `out` itself: each output reads only its
  // own element).
  static void ElementwiseRange(int builtin, BinaryOp binary, const glue::BinaryGeometry& g,
                               glue::Clamp clamp, float leaky_alpha, const float* a,
                               const float* b, float* out, int64_t first, int64_t end) {
    const int64_t count = end - first;
    switch (builtin) {
      case kTfLiteBuiltinRound: return glue::Round(a + first, out + first, count);
      case kTfLiteBuiltinLeakyRelu:
        return glue::LeakyRelu(a + first, out + first, count, leaky_alpha);
      case kTfLiteBuiltinRelu:
      case kTfLiteBuiltinRelu6:
      case kTfLiteBuiltinReluN1To1:
        return glue::Relu(a + first, out + first, count, clamp);
      default: return glue::BinaryRange(binary, g, a, b, out, clamp, first, end);
    }
  }

  // The op itself on outputs [first, end).
  void Head(const float* const* in, float* out, int64_t first, int64_t end) const {
    BinaryOp binary;
    ElementwiseRange(builtin_, binary_, binary_geometry_, clamp_, leaky_alpha_, in[0],
                     IsBinary(builtin_, &binary) ? in[1] : nullptr, out, first, end);
  }

  // The fused steps, in order, on outputs [first, end) in place.
  void Tail(const float* const* in, float* out, int64_t first, int64_t end) const {
    BinaryOp binary;
    for (const TailStep& t : tail_) {
      const float* constant = IsBinary(t.builtin, &binary) ? in[t.constant_input] : nullptr;
      const bool constant_first = t.geometry.broadcast == Broadcast::kScalarA;
      ElementwiseRange(t.builtin, t.binary, t.geometry, t.clamp, t.leaky_alpha,
                       constant_first ? constant : out, constant_first ? out : constant, out,
                       first, end);
    }
  }

  // An elementwise op and the steps fused after it (Fuse) over blocks of kSideCodesBlock
  // outputs, each block's steps and side codes while it is in cache; the blocks in ranges of
  // rows, one a thread, from kMinElementsPerThread elements (times the steps) a thread; the
  // strided broadcast on one thread. Their inputs are mostly a layer's output that the
  // threads have just written: read by one thread, half of it comes from the other core's
  // cache (ResNet-18 224 W1A1's residual ADDs, 25K-200K elements, 7-28 us, took 1.2-2.2x
  // longer at 2 threads than at 1 when left on one).
  void ElementwiseRows(const float* const* in, float* out, int8_t* codes,
                       ThreadPool* pool) const {
    BinaryOp binary;
    const bool general = IsBinary(builtin_, &binary) &&
                         binary_geometry_.broadcast == Broadcast::kGeneral;
    if (general) {
      glue::Binary(binary_, binary_geometry_, in[0], in[1], out, clamp_);
      Tail(in, out, 0, size_);
      if (codes != nullptr) SideCodes(out, 0, size_, codes);
      return;
    }
    // Whole rows of the last axis where the op reads a channel vector.
    const bool channels = IsBinary(builtin_, &binary) &&
                          (binary_geometry_.broadcast == Broadcast::kChannelA ||
                           binary_geometry_.broadcast == Broadcast::kChannelB);
    const int64_t row = channels ? binary_geometry_.channels : 1;
    const int64_t rows = size_ / row;
    const int64_t block = std::max<int64_t>(kSideCodesBlock / row, 1);
    const int64_t steps = 1 + static_cast<int64_t>(tail_.size());
    const int threads = ThreadsForWork(size_ * steps, pool->threads(), kMinElementsPerThread);
    auto task = [&](int64_t unit, int) {
      const int64_t end = (unit + 1) * rows / threads;
      for (int64_t first = unit * rows / threads; first < end; first += block) {
        const int64_t stop = std::min(end, first + block);
        Head(in, out, first * row, stop * row);
        Tail(in, out, first * row, stop * row);
        if (codes != nullptr) SideCodes(out, first * row, stop * row, codes);
      }
    };
    pool->ParallelFor(threads, task, threads);
  }

  static std::string DeclaredShape(const TfLiteContext* context, int index) {
    Shape shape;
    const TfLiteTensor* tensor = TensorAt(context, index);
    if (tensor == nullptr || !TensorShape(*tensor, &shape)) return "(none)";
    return ShapeToString(shape);
  }

  bool Counts(const std::vector<int>& in, const std::vector<int>& out, size_t inputs,
              size_t outputs) {
    if (in.size() == inputs && out.size() == outputs) return true;
    init_error_ = "must have " + std::to_string(inputs) + " input(s) and " +
                  std::to_string(outputs) + " output(s), has " + std::to_string(in.size()) +
                  " and " + std::to_string(out.size());
    return false;
  }

  // The fused activation of options `data` of type Params (ADD-like or pooling).
  template <class Params>
  bool Activation(const void* data) {
    if (!HasOptions(data)) return false;
    has_activation_ = true;
    activation_ = static_cast<const Params*>(data)->activation;
    if (ActivationClamp(activation_, &clamp_)) return true;
    init_error_ = "fused activation " + std::to_string(static_cast<int>(activation_)) +
                  " is not one the delegate runs";
    return false;
  }

  bool HasOptions(const void* data) {
    if (data == nullptr) init_error_ = "has no options";
    return data != nullptr;
  }

  bool AllAtLeast(const std::vector<int>& values, int least, const char* message) {
    for (int value : values) {
      if (value < least) return Fail(message, &init_error_);
    }
    return true;
  }

  bool Axis(const TfLiteContext* context, int tensor) {
    std::vector<int> values;
    Shape shape;
    if (!ReadInt32Constant(context, tensor, "axis", &values, &shape, &init_error_)) return false;
    if (values.size() != 1) return Fail("axis must hold one value", &init_error_);
    axis_ = values[0];
    return true;
  }

  // Whether the two tensors are computed (not constant) and declare the same shape.
  static bool SameComputedShapes(const TfLiteContext* context, const std::vector<int>& in) {
    const TfLiteTensor* a = TensorAt(context, in[0]);
    const TfLiteTensor* b = TensorAt(context, in[1]);
    Shape a_shape, b_shape;
    return a != nullptr && b != nullptr && !IsConstant(*a) && !IsConstant(*b) &&
           TensorShape(*a, &a_shape) && TensorShape(*b, &b_shape) && a_shape == b_shape;
  }

  // Which of a binary op's two inputs is a constant of one element whose rank is at most the
  // other's (so the output has the other's shape), or -1.
  static int ScalarConstantOperand(const TfLiteContext* context, const std::vector<int>& in) {
    for (int k = 0; k < 2; ++k) {
      const TfLiteTensor* constant = TensorAt(context, in[k]);
      const TfLiteTensor* other = TensorAt(context, in[1 - k]);
      Shape constant_shape, other_shape;
      if (constant != nullptr && other != nullptr && IsConstant(*constant) &&
          !IsConstant(*other) && TensorShape(*constant, &constant_shape) &&
          TensorShape(*other, &other_shape) && ShapeElements(constant_shape) == 1 &&
          constant_shape.size() <= other_shape.size()) {
        return k;
      }
    }
    return -1;
  }

  // Parses the options and the constant parameters once; sets init_error_ on any problem.
  void ReadNode(const TfLiteContext* context, const void* data, const std::vector<int>& in,
                const std::vector<int>& out) {
    if (IsBinary(builtin_, &binary_)) {
      if (!Counts(in, out, 2, 1)) return;
      const bool fused = binary_ != BinaryOp::kMaximum && binary_ != BinaryOp::kMinimum;
      if (fused && !Activation<TfLiteAddParams>(data)) return;
      inputs_ = in;
      add_of_same_shapes_ = builtin_ == kTfLiteBuiltinAdd && SameComputedShapes(context, in);
      scalar_operand_ = ScalarConstantOperand(context, in);
    } else if (builtin_ == kTfLiteBuiltinRound) {
      if (!Counts(in, out, 1, 1)) return;
      inputs_ = in;
    } else if (IsRelu(builtin_)) {
      if (!Counts(in, out, 1, 1)) return;
      clamp_ = builtin_ == kTfLiteBuiltinRelu    ? glue::Clamp{0.0f, INFINITY}
               : builtin_ == kTfLiteBuiltinRelu6 ? glue::Clamp{0.0f, 6.0f}
                                                 : glue::Clamp{-1.0f, 1.0f};
      inputs_ = in;
    } else if (builtin_ == kTfLiteBuiltinLeakyRelu) {
      if (!Counts(in, out, 1, 1) || !HasOptions(data)) return;
      // Beyond [0, 1] TFLite's kernels disagree (its optimized one takes max(v, alpha v)).
      leaky_alpha_ = static_cast<const TfLiteLeakyReluParams*>(data)->alpha;
      if (!(leaky_alpha_ >= 0.0f && leaky_alpha_ <= 1.0f)) {
        init_error_ = "alpha " + std::to_string(leaky_alpha_) +
                      " is outside [0, 1], where the delegate runs LEAKY_RELU";
        return;
      }
      inputs_ = in;
    } else if (builtin_ == kTfLiteBuiltinResizeNearestNeighbor) {
      if (!Counts(in, out, 2, 1) || !HasOptions(data)) return;
      const auto* params = static_cast<const TfLiteResizeNearestNeighborParams*>(data);
      align_corners_ = params->align_corners;
      half_pixel_centers_ = params->half_pixel_centers;
      if (align_corners_ && half_pixel_centers_) {
        init_error_ = "align_corners together with half_pixel_centers is not run by the delegate";
        return;
      }
      Shape shape;
      if (!ReadInt32Constant(context, in[1], "size", &resize_size_, &shape, &init_error_)) return;
      if (shape.size() != 1 || resize_size_.size() != 2) {
        init_error_ = "size must be a vector of 2 values (height, width)";
        return;
      }
      if (!AllAtLeast(resize_size_, 1, "size must be positive")) return;
      inputs_ = {in[0]};
    } else if (builtin_ == kTfLiteBuiltinStridedSlice) {
      if (!Counts(in, out, 4, 1) || !HasOptions(data)) return;
      const auto* params = static_cast<const TfLiteStridedSliceParams*>(data);
      if (params->ellipsis_mask != 0 || params->new_axis_mask != 0 ||
          params->shrink_axis_mask != 0 || params->offset) {
        init_error_ = "ellipsis, new-axis and shrink-axis masks and offset are not run by the "
                      "delegate";
        return;
      }
      slice_begin_mask_ = params->begin_mask;
      slice_end_mask_ = params->end_mask;
      Shape shape;
      for (int k = 0; k < 3; ++k) {
        const char* role = k == 0 ? "begin" : k == 1 ? "end" : "strides";
        std::vector<int>& values = k == 0 ? slice_begin_ : k == 1 ? slice_end_ : slice_strides_;
        if (!ReadInt32Constant(context, in[1 + k], role, &values, &shape, &init_error_)) return;
        if (shape.size() != 1) {
          init_error_ = std::string(role) + " must be a vector";
          return;
        }
      }
      if (!AllAtLeast(slice_strides_, 1, "only positive strides are run by the delegate")) return;
      inputs_ = {in[0]};
    } else if (builtin_ == kTfLiteBuiltinMaxPool2d) {
      if (!Counts(in, out, 1, 1) || !Activation<TfLitePoolParams>(data)) return;
      pool_ = *static_cast<const TfLitePoolParams*>(data);
      pool_window_ = PoolWindow();
      inputs_ = in;
    } else if (builtin_ == kTfLiteBuiltinReshape) {
      if (in.empty() || in.size() > 2 || !Counts(in, out, in.size(), 1)) {
        if (init_error_.empty()) init_error_ = "must have 1 or 2 inputs";
        return;
      }
      // TFLite's rule: the shape tensor when it is an int32 vector, else the options.
      const TfLiteTensor* shape = in.size() == 2 ? TensorAt(context, in[1]) : nullptr;
      if (shape != nullptr && shape->type == kTfLiteInt32 && shape->dims != nullptr &&
          shape->dims->size == 1) {
        Shape shape_of_shape;
        if (!ReadInt32Constant(context, in[1], "shape", &reshape_target_, &shape_of_shape,
                               &init_error_)) {
          return;
        }
      } else {
        const auto* params = static_cast<const TfLiteReshapeParams*>(data);
        if (params == nullptr || params->num_dimensions < 0 || params->num_dimensions > 8) {
          init_error_ = "has neither a constant shape tensor nor a shape in its options";
          return;
        }
        reshape_target_.assign(params->shape, params->shape + params->num_dimensions);
      }
      inputs_ = {in[0]};
    } else if (builtin_ == kTfLiteBuiltinPad) {
      if (!Counts(in, out, 2, 1)) return;
      Shape shape;
      if (!ReadInt32Constant(context, in[1], "paddings", &paddings_, &shape, &init_error_)) {
        return;
      }
      if (shape.size() != 2 || shape[1] != 2) {
        init_error_ = "paddings must have shape [rank, 2], got " + ShapeToString(shape);
        return;
      }
      if (!AllAtLeast(paddings_, 0, "paddings must not be negative")) return;
      inputs_ = {in[0]};
    } else if (builtin_ == kTfLiteBuiltinConcatenation) {
      if (in.empty() || !Counts(in, out, in.size(), 1) || data == nullptr) {
        if (init_error_.empty()) init_error_ = in.empty() ? "has no inputs" : "has no options";
        return;
      }
      const auto* params = static_cast<const TfLiteConcatenationParams*>(data);
      axis_ = params->axis;
      if (params->activation != kTfLiteActNone) {
        init_error_ = "a fused activation on CONCATENATION is not run by the delegate";
        return;
      }
      inputs_ = in;
    } else if (builtin_ == kTfLiteBuiltinUnpack) {
      if (!HasOptions(data)) return;
      const auto* params = static_cast<const TfLiteUnpackParams*>(data);
      if (params->num < 1 || !Counts(in, out, 1, static_cast<size_t>(params->num))) {
        if (init_error_.empty()) init_error_ = "num must be at least 1";
        return;
      }
      axis_ = params->axis;
      inputs_ = in;
    } else if (builtin_ == kTfLiteBuiltinSplit || builtin_ == kTfLiteBuiltinSplitV) {
      const bool v = builtin_ == kTfLiteBuiltinSplitV;
      if (!HasOptions(data)) return;
      const int splits = static_cast<const TfLiteSplitParams*>(data)->num_splits;
      if (splits < 1 || !Counts(in, out, v ? 3 : 2, static_cast<size_t>(splits))) {
        if (init_error_.empty()) init_error_ = "num_splits must be at least 1";
        return;
      }
      if (!Axis(context, v ? in[2] : in[0])) return;
      if (v) {
        Shape shape;
        if (!ReadInt32Constant(context, in[1], "size_splits", &split_sizes_, &shape,
                               &init_error_)) {
          return;
        }
        if (shape.size() != 1 || split_sizes_.size() != static_cast<size_t>(splits)) {
          init_error_ = "size_splits must be a vector of num_splits values";
          return;
        }
      }
      inputs_ = {v ? in[0] : in[1]};
    }
    outputs_ = out;
  }

  bool CheckTensors(const TfLiteContext* context, bool claiming, std::string* error) const {
    for (size_t i = 0; i < inputs_.size() + outputs_.size(); ++i) {
      const bool output = i >= inputs_.size();
      const int index = output ? outputs_[i - inputs_.size()] : inputs_[i];
      const TfLiteTensor* tensor = TensorAt(context, index);
      const std::string name = std::string(output ? "output" : "input") + " (tensor " +
                               std::to_string(index) + ")";
      if (tensor == nullptr) return Fail(name + " is missing", error);
      if (tensor->type != kTfLiteFloat32) {
        return Fail(name + " must be float32, got " + TypeName(tensor->type), error);
      }
      if (tensor->dims == nullptr) return Fail(name + " has no shape", error);
      if (output && IsConstant(*tensor)) return Fail(name + " is a constant tensor", error);
      if (claiming && tensor->allocation_type != kTfLiteArenaRw &&
          (output || !IsConstant(*tensor))) {
        return Fail(name + " is not an arena tensor (dynamic or persistent)", error);
      }
      if (claiming && tensor->is_variable) return Fail(name + " is a variable", error);
    }
    return true;
  }

  // The fused steps' geometry over the chain's output `out`, whose shape their scalar
  // constants leave as it is (rank at most out's, one element: checked when fusing, again
  // here as the shapes come from the runtime).
  bool PrepareTail(const std::vector<Shape>& in, const Shape& out, std::string* error) {
    BinaryOp binary;
    for (TailStep& t : tail_) {
      if (!IsBinary(t.builtin, &binary)) continue;  // a unary step has no constant
      const Shape& constant = in[t.constant_input];
      if (ShapeElements(constant) != 1 || constant.size() > out.size()) {
        return Fail(t.fused_prefix + "its constant " + ShapeToString(constant) +
                        " is not a scalar for " + ShapeToString(out),
                    error);
      }
      t.geometry.size = size_;
      t.geometry.channels = out.empty() ? 1 : out.back();
    }
    return true;
  }

  // Output shapes from input shapes, and the geometry Eval uses.
  bool Infer(const std::vector<Shape>& in, std::vector<Shape>* out, std::string* error) {
    for (const Shape& shape : in) {
      if (shape.size() > 6) return Fail("has an input of rank over 6", error);
      const int64_t elements = ShapeElements(shape);
      if (elements < 1 || elements > kMaxElements) {
        return Fail("input shape " + ShapeToString(shape) + " has no elements or too many",
                    error);
      }
    }
    bool ok = false;
    switch (builtin_) {
      case kTfLiteBuiltinRound:
      case kTfLiteBuiltinRelu:
      case kTfLiteBuiltinRelu6:
      case kTfLiteBuiltinReluN1To1:
      case kTfLiteBuiltinLeakyRelu:
        out->assign(1, in[0]);
        ok = true;
        break;
      case kTfLiteBuiltinResizeNearestNeighbor: ok = InferResize(in[0], out, error); break;
      case kTfLiteBuiltinStridedSlice: ok = InferSlice(in[0], out, error); break;
      case kTfLiteBuiltinMaxPool2d: ok = InferPool(in[0], out, error); break;
      case kTfLiteBuiltinReshape: ok = InferReshape(in[0], out, error); break;
      case kTfLiteBuiltinPad: ok = InferPad(in[0], out, error); break;
      case kTfLiteBuiltinConcatenation: ok = InferConcat(in, out, error); break;
      case kTfLiteBuiltinUnpack:
      case kTfLiteBuiltinSplit:
      case kTfLiteBuiltinSplitV: ok = InferSplit(in[0], out, error); break;
      default: ok = InferBinary(in[0], in[1], out, error); break;
    }
    if (!ok) return false;
    for (const Shape& shape : *out) {
      const int64_t elements = ShapeElements(shape);
      if (elements < 1 || elements > kMaxElements) {
        return Fail("output shape " + ShapeToString(shape) + " has no elements or too many",
                    error);
      }
    }
    // Elementwise ops run over the output's elements (a broadcast input has fewer).
    size_ = ShapeElements((*out)[0]);
    return true;
  }

  bool InferBinary(const Shape& a, const Shape& b, std::vector<Shape>* out, std::string* error) {
    // NumPy broadcasting, aligned on the last axis.
    const size_t rank = std::max(a.size(), b.size());
    Shape shape(rank);
    for (size_t d = 0; d < rank; ++d) {
      const int da = d + a.size() >= rank ? a[d + a.size() - rank] : 1;
      const int db = d + b.size() >= rank ? b[d + b.size() - rank] : 1;
      if (da != db && da != 1 && db != 1) {
        return Fail("input shapes " + ShapeToString(a) + " and " + ShapeToString(b) +
                        " do not broadcast",
                    error);
      }
      shape[d] = da == 1 ? db : da;
    }
    const int64_t total = ShapeElements(shape), na = ShapeElements(a), nb = ShapeElements(b);
    const int64_t channels = shape.empty() ? 1 : shape.back();
    glue::BinaryGeometry& g = binary_geometry_;
    g = glue::BinaryGeometry{};
    g.size = total;
    g.channels = channels;
    // Equal element counts mean equal layouts (only dims of 1 differ); the common forms get
    // loops of their own, every other broadcast the strided one.
    if (na == total && nb == total) {
      g.broadcast = Broadcast::kNone;
    } else if (na == total && nb == 1) {
      g.broadcast = Broadcast::kScalarB;
    } else if (nb == total && na == 1) {
      g.broadcast = Broadcast::kScalarA;
    } else if (na == total && nb == channels && !b.empty() && b.back() == channels) {
      g.broadcast = Broadcast::kChannelB;
    } else if (nb == total && na == channels && !a.empty() && a.back() == channels) {
      g.broadcast = Broadcast::kChannelA;
    } else {
      g.broadcast = Broadcast::kGeneral;
      g.rank = static_cast<int>(std::max<size_t>(rank, 1));
      int64_t a_step = 1, b_step = 1;
      for (int d = g.rank - 1; d >= 0; --d) {
        const size_t axis = static_cast<size_t>(d);
        const int da = axis + a.size() >= rank ? a[axis + a.size() - rank] : 1;
        const int db = axis + b.size() >= rank ? b[axis + b.size() - rank] : 1;
        g.shape[d] = shape.empty() ? 1 : shape[axis];
        g.a_stride[d] = da == 1 ? 0 : a_step;
        g.b_stride[d] = db == 1 ? 0 : b_step;
        a_step *= da;
        b_step *= db;
      }
    }
    out->assign(1, shape);
    return true;
  }

  bool InferPool(const Shape& x, std::vector<Shape>* out, std::string* error) {
    const TfLitePoolParams& p = pool_;
    if (p.padding != kTfLitePaddingSame && p.padding != kTfLitePaddingValid) {
      return Fail("padding must be SAME or VALID", error);
    }
    PoolGeometry& g = pool_geometry_;
    if (!ComputePoolGeometry(pool_window_, x, &g, error)) return false;
    const CheckedSize compares =
        CheckedSize(g.batch) * g.out_h * g.out_w * g.channels * g.filter_h * g.filter_w;
    pool_compares_ = compares.ok() ? compares.value() : std::numeric_limits<int64_t>::max();
    out->assign(1, Shape{g.batch, g.out_h, g.out_w, g.channels});
    return true;
  }

  MaxPoolWindow PoolWindow() const {
    MaxPoolWindow window;
    window.filter_h = pool_.filter_height;
    window.filter_w = pool_.filter_width;
    window.stride_h = pool_.stride_height;
    window.stride_w = pool_.stride_width;
    window.padding = pool_.padding == kTfLitePaddingSame ? Padding::kSame : Padding::kValid;
    return window;
  }

  // The source row and column of every output row and column, found once here (a vector of
  // each, so sizes are bounded first: a claim must not allocate what the runtime would refuse).
  bool InferResize(const Shape& x, std::vector<Shape>* out, std::string* error) {
    if (x.size() != 4) return Fail("input " + ShapeToString(x) + " must have rank 4", error);
    const int out_h = resize_size_[0], out_w = resize_size_[1];
    // Bounded inputs also keep NearestSource's float positions below 2^31 (its int cast).
    if (std::max({out_h, out_w, x[1], x[2]}) > kMaxResizeExtent) {
      return Fail("resizing " + ShapeToString(x) + " to " + std::to_string(out_h) + "x" +
                      std::to_string(out_w) + " is beyond the delegate's resizes (at most " +
                      std::to_string(kMaxResizeExtent) + " rows and columns in and out)",
                  error);
    }
    resize_rows_.resize(static_cast<size_t>(out_h));
    resize_cols_.resize(static_cast<size_t>(out_w));
    for (int i = 0; i < out_h; ++i) {
      resize_rows_[i] = glue::NearestSource(i, x[1], out_h, align_corners_, half_pixel_centers_);
    }
    for (int j = 0; j < out_w; ++j) {
      resize_cols_[j] = glue::NearestSource(j, x[2], out_w, align_corners_, half_pixel_centers_);
    }
    for (int i = 0; i < 4; ++i) resize_in_[i] = x[i];
    out->assign(1, Shape{x[0], out_h, out_w, x[3]});
    return true;
  }

  // StartForAxis / StopForAxis for positive strides.
  bool InferSlice(const Shape& x, std::vector<Shape>* out, std::string* error) {
    const size_t rank = x.size();
    if (rank < 1 || rank > 5 || slice_begin_.size() != rank || slice_end_.size() != rank ||
        slice_strides_.size() != rank) {
      return Fail("begin, end and strides must have one value per dim of " + ShapeToString(x) +
                      " (rank 1 to 5)",
                  error);
    }
    Shape shape(rank);
    const size_t lead = 5 - rank;
    for (size_t d = 0; d < 5; ++d) {
      slice_in_shape_[d] = slice_out_shape_[d] = slice_strides5_[d] = 1;
      slice_start_[d] = 0;
    }
    for (size_t d = 0; d < rank; ++d) {
      const int64_t dim = x[d];
      auto clamp_index = [dim](int64_t index) {
        if (index < 0) index += dim;
        return std::min(std::max<int64_t>(index, 0), dim);
      };
      const int64_t start = (slice_begin_mask_ >> d) & 1 ? 0 : clamp_index(slice_begin_[d]);
      const int64_t stop = (slice_end_mask_ >> d) & 1 ? dim : clamp_index(slice_end_[d]);
      const int64_t stride = slice_strides_[d];
      const int64_t size = stop > start ? (stop - start + stride - 1) / stride : 0;
      shape[d] = static_cast<int>(size);
      slice_in_shape_[lead + d] = x[d];
      slice_out_shape_[lead + d] = static_cast<int>(size);
      slice_start_[lead + d] = static_cast<int>(start);
      slice_strides5_[lead + d] = static_cast<int>(stride);
    }
    out->assign(1, shape);
    return true;
  }

  bool InferReshape(const Shape& x, std::vector<Shape>* out, std::string* error) {
    Shape shape = reshape_target_;
    int stretch = -1;
    int64_t known = 1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == -1 && stretch < 0) {
        stretch = static_cast<int>(d);
      } else if (shape[d] < 1) {
        return Fail("new shape " + ShapeToString(shape) + " is not one the delegate runs",
                    error);
      } else {
        known *= shape[d];
        if (known > std::numeric_limits<int>::max()) return Fail("new shape is too large", error);
      }
    }
    const int64_t elements = ShapeElements(x);
    if (stretch >= 0) {
      if (elements % known != 0) {
        return Fail("cannot reshape " + ShapeToString(x) + " to " + ShapeToString(shape), error);
      }
      shape[stretch] = static_cast<int>(elements / known);
      known = elements;
    }
    if (known != elements) {
      return Fail("cannot reshape " + ShapeToString(x) + " to " + ShapeToString(shape), error);
    }
    out->assign(1, shape);
    return true;
  }

  bool InferPad(const Shape& x, std::vector<Shape>* out, std::string* error) {
    if (x.empty() || x.size() > 4 || paddings_.size() != 2 * x.size()) {
      return Fail("paddings do not match the input " + ShapeToString(x) + " (rank 1 to 4)",
                  error);
    }
    Shape shape(x.size());
    for (size_t d = 0; d < x.size(); ++d) {
      const int64_t size = int64_t{x[d]} + paddings_[2 * d] + paddings_[2 * d + 1];
      if (!FitsInt(size)) return Fail("the padded shape is too large", error);
      shape[d] = static_cast<int>(size);
    }
    pad_in_shape_ = x;
    out->assign(1, shape);
    return true;
  }

  bool InferConcat(const std::vector<Shape>& in, std::vector<Shape>* out, std::string* error) {
    const Shape& first = in[0];
    int axis;
    if (first.empty() || first.size() > 4 || !NormalizeAxis(axis_, first.size(), &axis)) {
      return Fail("axis " + std::to_string(axis_) + " does not fit input " +
                      ShapeToString(first) + " (rank 1 to 4)",
                  error);
    }
    Shape shape = first;
    int64_t total = 0;
    axis_sizes_.clear();
    for (const Shape& s : in) {
      for (size_t d = 0; d < first.size(); ++d) {
        if (s.size() != first.size() || (d != static_cast<size_t>(axis) && s[d] != first[d])) {
          return Fail("inputs " + ShapeToString(first) + " and " + ShapeToString(s) +
                          " differ off the axis",
                      error);
        }
      }
      total += s[axis];
      axis_sizes_.push_back(s[axis]);
    }
    if (!FitsInt(total)) return Fail("the concatenation is too large", error);
    shape[axis] = static_cast<int>(total);
    outer_ = Product(shape, 0, axis);
    inner_ = Product(shape, axis + 1, shape.size());
    out->assign(1, shape);
    return true;
  }

  bool InferSplit(const Shape& x, std::vector<Shape>* out, std::string* error) {
    int axis;
    if (x.empty() || !NormalizeAxis(axis_, x.size(), &axis)) {
      return Fail("axis " + std::to_string(axis_) + " does not fit input " + ShapeToString(x),
                  error);
    }
    const int extent = x[axis];
    axis_sizes_.clear();
    if (builtin_ == kTfLiteBuiltinUnpack || builtin_ == kTfLiteBuiltinSplit) {
      const int parts = static_cast<int>(outputs_.size());
      if (extent % parts != 0 || (builtin_ == kTfLiteBuiltinUnpack && extent != parts)) {
        return Fail("cannot split " + ShapeToString(x) + " into " + std::to_string(parts) +
                        " along axis " + std::to_string(axis),
                    error);
      }
      axis_sizes_.assign(outputs_.size(), extent / parts);
    } else {
      int64_t known = 0;
      int stretch = -1;
      for (size_t i = 0; i < split_sizes_.size(); ++i) {
        if (split_sizes_[i] == -1 && stretch < 0) {
          stretch = static_cast<int>(i);
        } else if (split_sizes_[i] < 1) {
          return Fail("size_splits must be positive (one may be -1)", error);
        } else {
          known += split_sizes_[i];
        }
        axis_sizes_.push_back(split_sizes_[i]);
      }
      if (stretch >= 0 && known < extent) {
        axis_sizes_[stretch] = extent - known;
        known = extent;
      }
      if (known != extent) {
        return Fail("size_splits do not add up to " + std::to_string(extent), error);
      }
    }
    out->clear();
    for (int64_t size : axis_sizes_) {
      Shape shape = x;
      if (builtin_ == kTfLiteBuiltinUnpack) {
        shape.erase(shape.begin() + axis);
      } else {
        shape[axis] = static_cast<int>(size);
      }
      out->push_back(shape);
    }
    outer_ = Product(x, 0, axis);
    inner_ = Product(x, axis + 1, x.size());
    return true;
  }

  int node_index_;
  int builtin_ = -1;
  // Options and constant parameters.
  BinaryOp binary_ = BinaryOp::kAdd;
  bool has_activation_ = false;
  TfLiteFusedActivation activation_ = kTfLiteActNone;
  glue::Clamp clamp_{};
  TfLitePoolParams pool_{};
  MaxPoolWindow pool_window_;  // pool_'s, for PoolGeometry and fusion
  bool add_of_same_shapes_ = false;  // FusableAdd
  // A binary op's operand that is a constant of one element of rank at most the other's
  // (0 or 1; -1: none): the op can then run as a step after another elementwise op (Fuse).
  int scalar_operand_ = -1;
  // Elementwise ops fused after this one (Fuse), in graph order: each reads the previous
  // one's output and, if binary, a scalar constant (inputs_[constant_input]).
  struct TailStep {
    int builtin = -1;
    BinaryOp binary = BinaryOp::kAdd;
    glue::Clamp clamp{};
    float leaky_alpha = 0.0f;
    size_t constant_input = 0;
    glue::BinaryGeometry geometry;  // kScalarA or kScalarB over the output, at Prepare
    std::string fused_prefix;       // "bitlite: node 9 (ROUND): "
  };
  std::vector<TailStep> tail_;
  Shape reshape_target_;
  std::vector<int> paddings_;
  int axis_ = 0;
  std::vector<int> split_sizes_;
  int slice_begin_mask_ = 0;
  int slice_end_mask_ = 0;
  std::vector<int> slice_begin_, slice_end_, slice_strides_;
  float leaky_alpha_ = 0.0f;
  std::vector<int> resize_size_;  // output height, width
  bool align_corners_ = false;
  bool half_pixel_centers_ = false;
  // The geometry of the last Infer.
  glue::BinaryGeometry binary_geometry_;
  int64_t size_ = 0;
  PoolGeometry pool_geometry_{};
  // Side codes (UseSideCodes): the readers' grid, nullptr for none, and the quantizer.
  const ActivationPacking* side_grid_ = nullptr;
  QuantizeActivationsFn quantize_ = BestQuantizeActivations(DetectCpuFeatures());
  int64_t pool_compares_ = 0;  // outputs times window taps, saturated
  int64_t resize_in_[4] = {};   // the input's shape
  // The input row of each output row, the input column of each output column.
  std::vector<int> resize_rows_, resize_cols_;
  Shape pad_in_shape_;
  int64_t outer_ = 1;
  int64_t inner_ = 1;
  std::vector<int64_t> axis_sizes_;
  int slice_in_shape_[5] = {}, slice_out_shape_[5] = {}, slice_start_[5] = {},
      slice_strides5_[5] = {};
};

}  // namespace

bool IsGlueBuiltin(int builtin_code) { return BuiltinName(builtin_code) != nullptr; }

std::unique_ptr<PartitionOp> MakeGlueOp(TfLiteContext* context, int node_index) {
  return std::make_unique<GlueOp>(context, node_index);
}

bool ClaimableGlue(TfLiteContext* context, int node_index, std::string* reason) {
  GlueOp op(context, node_index);
  return op.Claimable(context, reason);
}

}  // namespace bitlite
