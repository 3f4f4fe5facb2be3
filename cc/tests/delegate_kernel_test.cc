// The delegate kernel against a fake interpreter: wiring of several nodes into one kernel
// (with an intermediate tensor only the kernel sees), resizes, and malformed graphs.
#include "delegate_kernel.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "delegate_options.h"
#include "flexbuffer_test_writer.h"
#include "test_harness.h"
#include "tflite_tensors.h"

namespace bitlite {
namespace testing {
namespace {

struct FakeNode {
  std::string op;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::vector<uint8_t> options;
  TfLiteIntArray* input_array = nullptr;
  TfLiteIntArray* output_array = nullptr;
  TfLiteNode node{};
  TfLiteRegistration registration{};
};

// Just enough of an interpreter for the kernel: tensors, nodes, ResizeTensor, ReportError.
// Arena tensors get heap memory sized at each resize.
class FakeInterpreter {
 public:
  FakeInterpreter() {
    context_.GetNodeAndRegistration = [](TfLiteContext* context, int index, TfLiteNode** node,
                                         TfLiteRegistration** registration) {
      FakeInterpreter* self = static_cast<FakeInterpreter*>(context->impl_);
      if (index < 0 || static_cast<size_t>(index) >= self->nodes_.size()) return kTfLiteError;
      *node = &self->nodes_[index]->node;
      *registration = &self->nodes_[index]->registration;
      return kTfLiteOk;
    };
    context_.ResizeTensor = [](TfLiteContext* context, TfLiteTensor* tensor, TfLiteIntArray* dims) {
      static_cast<FakeInterpreter*>(context->impl_)->SetDims(tensor, dims);
      return kTfLiteOk;
    };
    context_.ReportError = ReportError;
    context_.impl_ = this;
    delegate_.delegate.data_ = &delegate_;
  }

  ~FakeInterpreter() {
    for (TfLiteTensor& tensor : tensors_) {
      std::free(tensor.dims);
      if (tensor.allocation_type != kTfLiteMmapRo) std::free(tensor.data.raw);
    }
    for (auto& node : nodes_) {
      std::free(node->input_array);
      std::free(node->output_array);
    }
  }

  int AddFloatTensor(const std::vector<int>& shape) {
    TfLiteTensor tensor{};
    tensor.type = kTfLiteFloat32;
    tensor.allocation_type = kTfLiteArenaRw;
    tensors_.push_back(tensor);
    SetDims(&tensors_.back(), NewIntArray(shape));
    return static_cast<int>(tensors_.size()) - 1;
  }

  int AddWeights(const std::vector<uint8_t>& packed, int rows) {
    weights_.push_back(packed);
    TfLiteTensor tensor{};
    tensor.type = kTfLiteUInt8;
    tensor.allocation_type = kTfLiteMmapRo;
    tensor.dims = NewIntArray({rows, static_cast<int>(packed.size()) / rows});
    tensor.bytes = packed.size();
    tensor.data.uint8 = weights_.back().data();
    tensors_.push_back(tensor);
    return static_cast<int>(tensors_.size()) - 1;
  }

  int AddNode(const std::string& op, std::vector<int> inputs, std::vector<int> outputs,
              std::vector<uint8_t> options) {
    nodes_.push_back(std::make_unique<FakeNode>());
    FakeNode& n = *nodes_.back();
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
    return static_cast<int>(nodes_.size()) - 1;
  }

  // Runs one delegate kernel over `nodes` (inputs and outputs of the subset as given).
  // Returns the kernel's errors, or "ok".
  std::string Run(const std::vector<int>& nodes, const std::vector<int>& inputs,
                  const std::vector<int>& outputs, int resizes_before_invoke = 0) {
    context_.tensors = tensors_.data();
    context_.tensors_size = tensors_.size();
    errors_.clear();
    const std::unique_ptr<TfLiteIntArray, void (*)(void*)> node_array(NewIntArray(nodes),
                                                                      std::free);
    const std::unique_ptr<TfLiteIntArray, void (*)(void*)> in(NewIntArray(inputs), std::free);
    const std::unique_ptr<TfLiteIntArray, void (*)(void*)> out(NewIntArray(outputs), std::free);
    TfLiteDelegateParams params{&delegate_.delegate, node_array.get(), in.get(), out.get()};
    const TfLiteRegistration kernel = DelegateKernelRegistration();
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

  static void ReportError(TfLiteContext* context, const char* format, ...) {
    char text[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    static_cast<FakeInterpreter*>(context->impl_)->errors_ += text;
  }

  TfLiteTensor& tensor(int index) { return tensors_[index]; }
  std::vector<float> Values(int index) {
    const TfLiteTensor& t = tensors_[index];
    return std::vector<float>(t.data.f, t.data.f + t.bytes / sizeof(float));
  }
  std::vector<int> Shape(int index) {
    std::vector<int> shape;
    TensorShape(tensors_[index], &shape);
    return shape;
  }
  void Fill(int index, float start, float step) {
    TfLiteTensor& t = tensors_[index];
    for (size_t i = 0; i < t.bytes / sizeof(float); ++i)
      t.data.f[i] = start + step * static_cast<float>(i % 37);
  }
  void SetDims(TfLiteTensor* tensor, TfLiteIntArray* dims) {
    std::free(tensor->dims);
    tensor->dims = dims;
    size_t elements = 1;
    for (int i = 0; i < dims->size; ++i) elements *= static_cast<size_t>(dims->data[i]);
    std::free(tensor->data.raw);
    tensor->bytes = elements * sizeof(float);
    tensor->data.raw = static_cast<char*>(std::calloc(elements, sizeof(float)));
  }

 private:
  TfLiteContext context_{};
  BitliteDelegate delegate_{};
  std::vector<TfLiteTensor> tensors_;
  std::vector<std::unique_ptr<FakeNode>> nodes_;
  std::vector<std::vector<uint8_t>> weights_;
  std::string errors_;
};

// ValidOptions(): 3x3 SAME conv 3 -> 2 with stride 1x2, W2A4; K = 27, row_bytes = 7.
std::vector<uint8_t> ConvWeights() {
  std::vector<uint8_t> packed(14);
  for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<uint8_t>(i * 37 + 11);
  packed[6] &= 0x3f;  // 54 bits used of row 0's last byte
  packed[13] &= 0x3f;
  return packed;
}

// FullyConnected 2 -> 2, W2A4 (ValidOptions(false) with in_channels 2): K = 2, row_bytes = 1.
std::vector<uint8_t> FullyConnectedOptions() {
  return ValidOptions(false).Remove("in_channels").Int("in_channels", 2).Finish();
}

struct Graph {
  FakeInterpreter interpreter;
  int x, conv_w, mid, fc_w, y;
  Graph() {
    x = interpreter.AddFloatTensor({1, 5, 6, 3});
    conv_w = interpreter.AddWeights(ConvWeights(), 2);
    mid = interpreter.AddFloatTensor({1, 5, 3, 2});
    fc_w = interpreter.AddWeights({0x0b, 0x04}, 2);
    y = interpreter.AddFloatTensor({1, 5, 3, 2});
    interpreter.AddNode("BitliteConv2D", {x, conv_w}, {mid}, ValidOptions(true).Finish());
    interpreter.AddNode("BitliteFullyConnected", {mid, fc_w}, {y}, FullyConnectedOptions());
    interpreter.Fill(x, -1.0f, 0.07f);
  }
};

BITLITE_TEST(InternalIntermediateMatchesSeparateKernels) {
  Graph separate;
  EXPECT_EQ(separate.interpreter.Run({0}, {separate.x, separate.conv_w}, {separate.mid}), "ok");
  EXPECT_EQ(separate.interpreter.Run({1}, {separate.mid, separate.fc_w}, {separate.y}), "ok");
  Graph fused;
  // One kernel for both nodes: `mid` is neither an input nor an output of the subset.
  EXPECT_EQ(fused.interpreter.Run({0, 1}, {fused.x, fused.conv_w, fused.fc_w}, {fused.y}), "ok");
  EXPECT_TRUE(fused.interpreter.Values(fused.y) == separate.interpreter.Values(separate.y));
  EXPECT_TRUE(fused.interpreter.Shape(fused.y) == std::vector<int>({1, 5, 3, 2}));
}

BITLITE_TEST(FollowsInputResizes) {
  Graph graph;
  FakeInterpreter& interpreter = graph.interpreter;
  interpreter.SetDims(&interpreter.tensor(graph.x), NewIntArray({3, 4, 7, 3}));
  interpreter.Fill(graph.x, 0.5f, -0.03f);
  EXPECT_EQ(interpreter.Run({0, 1}, {graph.x, graph.conv_w, graph.fc_w}, {graph.y}, 2), "ok");
  EXPECT_TRUE(interpreter.Shape(graph.y) == std::vector<int>({3, 4, 4, 2}));
}

BITLITE_TEST(ReportsMalformedNodes) {
  {
    Graph graph;  // x index past the tensor array
    graph.interpreter.AddNode("BitliteConv2D", {99, graph.conv_w}, {graph.y},
                              ValidOptions(true).Finish());
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {99, graph.conv_w}, {graph.y}),
                    "bitlite: node 2 (BitliteConv2D): input x (tensor 99) is missing");
  }
  {
    Graph graph;  // weights that are not constant
    graph.interpreter.AddNode("BitliteConv2D", {graph.x, graph.y}, {graph.mid},
                              ValidOptions(true).Finish());
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {graph.x, graph.y}, {graph.mid}),
                    "weights w (tensor 4) must be uint8, got float32");
  }
  {
    Graph graph;  // writes into constant weights
    graph.interpreter.AddNode("BitliteConv2D", {graph.x, graph.conv_w}, {graph.fc_w},
                              ValidOptions(true).Finish());
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {graph.x, graph.conv_w}, {graph.fc_w}),
                    "output (tensor 3) must be float32, got uint8");
  }
  {
    Graph graph;  // reads a tensor of the subset that no earlier node writes
    EXPECT_CONTAINS(graph.interpreter.Run({1, 0}, {graph.x, graph.conv_w, graph.fc_w}, {graph.y}),
                    "bitlite: node 1 (BitliteFullyConnected): input x (tensor 2) is not computed "
                    "before this node");
  }
  {
    Graph graph;  // options cut short
    std::vector<uint8_t> options = ValidOptions(true).Finish();
    options.resize(options.size() / 2);
    graph.interpreter.AddNode("BitliteConv2D", {graph.x, graph.conv_w}, {graph.mid}, options);
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {graph.x, graph.conv_w}, {graph.mid}),
                    "custom options are not a valid FlexBuffer map");
  }
  {
    Graph graph;  // not a bitlite node at all
    graph.interpreter.AddNode("Other", {graph.x, graph.conv_w}, {graph.mid}, {});
    EXPECT_CONTAINS(graph.interpreter.Run({2}, {graph.x, graph.conv_w}, {graph.mid}),
                    "bitlite: node 2: is not a bitlite op");
  }
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
