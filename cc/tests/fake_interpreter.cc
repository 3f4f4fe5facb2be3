#include "fake_interpreter.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "delegate_kernel.h"
#include "tflite_tensors.h"

namespace bitlite {
namespace testing {

struct FakeInterpreter::Node {
  std::string op;
  std::vector<uint8_t> options;
  std::vector<uint64_t> builtin_data;  // 8-byte aligned copy of the options struct
  TfLiteIntArray* input_array = nullptr;
  TfLiteIntArray* output_array = nullptr;
  TfLiteNode node{};
  TfLiteRegistration registration{};
};

// A delegate kernel the delegate asked for in ReplaceNodeSubsetsWithDelegateKernels.
struct FakeInterpreter::KernelRequest {
  TfLiteRegistration registration;
  std::vector<int> nodes;
  TfLiteDelegate* delegate;
};

namespace {

using IntArrayPtr = std::unique_ptr<TfLiteIntArray, void (*)(void*)>;

IntArrayPtr OwnedIntArray(const std::vector<int>& values) {
  return IntArrayPtr(NewIntArray(values), std::free);
}

bool Contains(const TfLiteIntArray* array, int value) {
  for (int i = 0; array != nullptr && i < array->size; ++i) {
    if (array->data[i] == value) return true;
  }
  return false;
}

}  // namespace

FakeInterpreter::FakeInterpreter() {
  context_.GetNodeAndRegistration = [](TfLiteContext* context, int index, TfLiteNode** node,
                                       TfLiteRegistration** registration) {
    FakeInterpreter* self = static_cast<FakeInterpreter*>(context->impl_);
    if (index < 0 || static_cast<size_t>(index) >= self->nodes_.size()) return kTfLiteError;
    *node = &self->nodes_[index]->node;
    *registration = &self->nodes_[index]->registration;
    return kTfLiteOk;
  };
  context_.GetExecutionPlan = [](TfLiteContext* context, TfLiteIntArray** plan) {
    *plan = static_cast<FakeInterpreter*>(context->impl_)->plan_;
    return *plan != nullptr ? kTfLiteOk : kTfLiteError;
  };
  context_.ReplaceNodeSubsetsWithDelegateKernels =
      [](TfLiteContext* context, TfLiteRegistration registration, const TfLiteIntArray* nodes,
         TfLiteDelegate* delegate) {
        FakeInterpreter* self = static_cast<FakeInterpreter*>(context->impl_);
        // One kernel for all claimed nodes: this fake's graphs have no unclaimed node
        // between two claimed ones that would split them.
        self->requests_.push_back(
            {registration, std::vector<int>(nodes->data, nodes->data + nodes->size), delegate});
        return kTfLiteOk;
      };
  context_.ResizeTensor = [](TfLiteContext* context, TfLiteTensor* tensor, TfLiteIntArray* dims) {
    // Only the arena's memory is this fake's to reallocate.
    if (tensor->allocation_type != kTfLiteArenaRw) {
      std::free(dims);
      return kTfLiteError;
    }
    return static_cast<FakeInterpreter*>(context->impl_)->SetDims(tensor, dims) ? kTfLiteOk
                                                                                : kTfLiteError;
  };
  context_.ReportError = ReportError;
  context_.recommended_num_threads = 1;
  context_.impl_ = this;
  delegate_.delegate.data_ = &delegate_;
}

FakeInterpreter::~FakeInterpreter() {
  for (TfLiteTensor& tensor : tensors_) {
    std::free(tensor.dims);
    if (tensor.allocation_type == kTfLiteArenaRw) std::free(tensor.data.raw);
  }
  for (auto& node : nodes_) {
    std::free(node->input_array);
    std::free(node->output_array);
  }
  std::free(plan_);
}

int FakeInterpreter::AddArenaTensor(TfLiteType type, const std::vector<int>& shape) {
  TfLiteTensor tensor{};
  tensor.type = type;
  tensor.allocation_type = kTfLiteArenaRw;
  tensors_.push_back(tensor);
  SetDims(&tensors_.back(), NewIntArray(shape));
  return static_cast<int>(tensors_.size()) - 1;
}

int FakeInterpreter::AddConstantTensor(TfLiteType type, TfLiteAllocationType allocation,
                                       const std::vector<int>& shape,
                                       std::vector<uint8_t> bytes) {
  // Moving the vector keeps its buffer where it is, so data pointers stay valid.
  constants_.push_back(std::move(bytes));
  TfLiteTensor tensor{};
  tensor.type = type;
  tensor.allocation_type = allocation;
  tensor.dims = NewIntArray(shape);
  tensor.bytes = constants_.back().size();
  tensor.data.uint8 = constants_.back().empty() ? nullptr : constants_.back().data();
  tensors_.push_back(tensor);
  return static_cast<int>(tensors_.size()) - 1;
}

int FakeInterpreter::AddWeights(const std::vector<uint8_t>& packed, int rows) {
  return AddConstantTensor(kTfLiteUInt8, kTfLiteMmapRo,
                           {rows, static_cast<int>(packed.size()) / rows}, packed);
}

int FakeInterpreter::AddNode(const std::string& op, const std::vector<int>& inputs,
                             const std::vector<int>& outputs, std::vector<uint8_t> options) {
  nodes_.push_back(std::make_unique<Node>());
  Node& n = *nodes_.back();
  n.op = op;
  n.options = std::move(options);
  n.input_array = NewIntArray(inputs);
  n.output_array = NewIntArray(outputs);
  n.node.inputs = n.input_array;
  n.node.outputs = n.output_array;
  n.node.custom_initial_data = n.options.data();
  n.node.custom_initial_data_size = static_cast<int>(n.options.size());
  n.registration.builtin_code = kTfLiteBuiltinCustom;
  n.registration.custom_name = n.op.c_str();
  std::vector<int> plan;
  for (size_t i = 0; i < nodes_.size(); ++i) plan.push_back(static_cast<int>(i));
  std::free(plan_);
  plan_ = NewIntArray(plan);
  return static_cast<int>(nodes_.size()) - 1;
}

int FakeInterpreter::AddBuiltinNode(int builtin_code, const std::vector<int>& inputs,
                                    const std::vector<int>& outputs, const void* builtin_data,
                                    size_t builtin_data_size) {
  const int index = AddNode("", inputs, outputs, {});
  Node& n = *nodes_[index];
  n.registration.builtin_code = builtin_code;
  n.registration.custom_name = nullptr;
  n.node.custom_initial_data = nullptr;
  n.node.custom_initial_data_size = 0;
  if (builtin_data != nullptr && builtin_data_size > 0) {
    n.builtin_data.resize((builtin_data_size + 7) / 8);
    std::memcpy(n.builtin_data.data(), builtin_data, builtin_data_size);
    n.node.builtin_data = n.builtin_data.data();
  }
  return index;
}

std::string FakeInterpreter::Run(const std::vector<int>& nodes, const std::vector<int>& inputs,
                                 const std::vector<int>& outputs, int resizes_before_invoke) {
  const IntArrayPtr node_array = OwnedIntArray(nodes);
  return RunKernel(DelegateKernelRegistration(), node_array.get(), inputs, outputs,
                   &delegate_.delegate, resizes_before_invoke);
}

std::string FakeInterpreter::RunDelegate(TfLiteDelegate* delegate, int resizes_before_invoke) {
  context_.tensors = tensors_.data();
  context_.tensors_size = tensors_.size();
  errors_.clear();
  requests_.clear();
  if (delegate->Prepare(&context_, delegate) != kTfLiteOk) return errors_;
  for (const KernelRequest& request : requests_) {
    const IntArrayPtr nodes = OwnedIntArray(request.nodes);
    std::vector<int> inputs, outputs;
    SubsetBoundary(nodes.get(), &inputs, &outputs);
    const std::string result = RunKernel(request.registration, nodes.get(), inputs, outputs,
                                         request.delegate, resizes_before_invoke);
    if (result != "ok") return result;
  }
  return "ok";
}

std::string FakeInterpreter::RunKernel(const TfLiteRegistration& kernel,
                                       const TfLiteIntArray* nodes,
                                       const std::vector<int>& inputs,
                                       const std::vector<int>& outputs, TfLiteDelegate* delegate,
                                       int resizes_before_invoke) {
  context_.tensors = tensors_.data();
  context_.tensors_size = tensors_.size();
  errors_.clear();
  const IntArrayPtr in = OwnedIntArray(inputs);
  const IntArrayPtr out = OwnedIntArray(outputs);
  TfLiteDelegateParams params{delegate, const_cast<TfLiteIntArray*>(nodes), in.get(), out.get()};
  TfLiteNode kernel_node{};
  kernel_node.user_data = kernel.init(&context_, reinterpret_cast<const char*>(&params), 0);
  bool ok = true;
  for (int i = 0; ok && i <= resizes_before_invoke; ++i) {
    ok = kernel.prepare(&context_, &kernel_node) == kTfLiteOk;
  }
  ok = ok && kernel.invoke(&context_, &kernel_node) == kTfLiteOk;
  kernel.free(&context_, kernel_node.user_data);
  return ok ? "ok" : errors_;
}

void FakeInterpreter::SubsetBoundary(const TfLiteIntArray* nodes, std::vector<int>* inputs,
                                     std::vector<int>* outputs) const {
  std::set<int> written, in, out;
  for (int i = 0; i < nodes->size; ++i) {
    if (nodes->data[i] < 0 || static_cast<size_t>(nodes->data[i]) >= nodes_.size()) continue;
    const Node& node = *nodes_[nodes->data[i]];
    for (int k = 0; k < node.input_array->size; ++k) {
      if (written.count(node.input_array->data[k]) == 0) in.insert(node.input_array->data[k]);
    }
    written.insert(node.output_array->data, node.output_array->data + node.output_array->size);
  }
  for (int tensor : written) {
    bool read_outside = false;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      read_outside |= !Contains(nodes, static_cast<int>(n)) &&
                      Contains(nodes_[n]->input_array, tensor);
    }
    if (read_outside || graph_outputs_.count(tensor) != 0) out.insert(tensor);
  }
  inputs->assign(in.begin(), in.end());
  outputs->assign(out.begin(), out.end());
}

void FakeInterpreter::ReportError(TfLiteContext* context, const char* format, ...) {
  char text[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  static_cast<FakeInterpreter*>(context->impl_)->errors_ += text;
}

std::vector<float> FakeInterpreter::Values(int index) const {
  const TfLiteTensor& t = tensors_[index];
  if (t.data.f == nullptr) return {};
  return std::vector<float>(t.data.f, t.data.f + t.bytes / sizeof(float));
}

std::vector<int> FakeInterpreter::Shape(int index) const {
  std::vector<int> shape;
  TensorShape(tensors_[index], &shape);
  return shape;
}

void FakeInterpreter::Fill(int index, float start, float step) {
  TfLiteTensor& t = tensors_[index];
  for (size_t i = 0; i < t.bytes / sizeof(float); ++i)
    t.data.f[i] = start + step * static_cast<float>(i % 37);
}

bool FakeInterpreter::SetDims(TfLiteTensor* tensor, TfLiteIntArray* dims) {
  std::free(tensor->dims);
  tensor->dims = dims;
  std::free(tensor->data.raw);
  tensor->data.raw = nullptr;
  tensor->bytes = 0;
  if (dims == nullptr) return false;
  size_t elements = 1;
  for (int i = 0; i < dims->size; ++i) {
    if (dims->data[i] < 0) return false;
    // Divided rather than multiplied, so the check itself cannot overflow.
    if (dims->data[i] != 0 && elements > max_arena_elements_ / dims->data[i]) return false;
    elements *= static_cast<size_t>(dims->data[i]);
  }
  // At least one element, so an empty tensor still has a (non-null) address.
  tensor->data.raw = static_cast<char*>(std::calloc(elements > 0 ? elements : 1, sizeof(float)));
  if (tensor->data.raw == nullptr) return false;
  tensor->bytes = elements * sizeof(float);
  return true;
}

}  // namespace testing
}  // namespace bitlite
