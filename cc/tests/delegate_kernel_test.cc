// The delegate kernel against a fake interpreter: wiring of several nodes into one kernel
// (with an intermediate tensor only the kernel sees), resizes, and malformed graphs.
#include "delegate_kernel.h"

#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "conv_test_cases.h"
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

  void SetOptions(const DelegateOptions& options) { delegate_.options = options; }
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
  // Without `allocate` the tensor has no data: for shapes too large to allocate, which the
  // kernel must refuse at Prepare, before it reads any data.
  void SetDims(TfLiteTensor* tensor, TfLiteIntArray* dims, bool allocate = true) {
    std::free(tensor->dims);
    tensor->dims = dims;
    if (!allocate) {
      std::free(tensor->data.raw);
      tensor->data.raw = nullptr;
      tensor->bytes = 0;
      return;
    }
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

// A W2A4 3x3 conv 3 -> 2 (ValidOptions) with its dilations and stride replaced, on input
// `shape`, run with kernel `choice`. Returns the errors or "ok" and the output in *y.
std::string RunDilated(const std::vector<int>& shape, int dilation, int stride,
                       KernelChoice choice, std::vector<float>* y) {
  FakeInterpreter interpreter;
  const int x = interpreter.AddFloatTensor(shape);
  const int w = interpreter.AddWeights(ConvWeights(), 2);
  const int out = interpreter.AddFloatTensor({1, 1, 1, 2});
  interpreter.AddNode("BitliteConv2D", {x, w}, {out},
                      ValidOptions(true)
                          .Remove("dilation_h").Int("dilation_h", dilation)
                          .Remove("dilation_w").Int("dilation_w", dilation)
                          .Remove("stride_h").Int("stride_h", stride)
                          .Remove("stride_w").Int("stride_w", stride)
                          .Finish());
  interpreter.Fill(x, -0.4f, 0.11f);
  DelegateOptions options;
  options.kernel = choice;
  interpreter.SetOptions(options);
  const std::string result = interpreter.Run({0}, {x, w}, {out});
  *y = interpreter.Values(out);
  return result;
}

// The class of the out-of-bounds write of issue 9: SAME windows whose dilation reaches far
// past the input. Every kernel choice runs on the live taps only and equals the reference,
// including windows with no live tap at all (the output stage of 0).
BITLITE_TEST(HugeDilationsRunOnEveryKernelLikeTheReference) {
  const std::vector<std::vector<int>> shapes = {{1, 1, 1, 3}, {1, 2, 2, 3}, {2, 3, 1, 3}};
  for (const std::vector<int>& shape : shapes) {
    for (int dilation : {1 << 13, 1 << 30, INT_MAX}) {
      for (int stride : {1, INT_MAX}) {
        std::vector<float> expected;
        EXPECT_EQ(RunDilated(shape, dilation, stride, KernelChoice::kReference, &expected), "ok");
        for (KernelChoice choice : {KernelChoice::kAuto, KernelChoice::kBitserial,
                                    KernelChoice::kInt, KernelChoice::kLut}) {
          std::vector<float> y;
          EXPECT_EQ(RunDilated(shape, dilation, stride, choice, &y), "ok");
          EXPECT_TRUE(BitwiseEqual(y, expected));
        }
      }
    }
  }
}

BITLITE_TEST(RefusesScratchOverTheLimit) {
  Graph graph;
  DelegateOptions options;
  options.max_scratch_bytes = 1000;
  graph.interpreter.SetOptions(options);
  EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                  "bitlite: node 0 (BitliteConv2D): the kernel's scratch for input 1x5x6x3, "
                  "kernel 3x3, stride 1x2, dilation 1x1, padding top 1 left 0 takes");
  EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                  "more than the limit of 1000 (delegate option max_scratch_bytes)");
  options.kernel = KernelChoice::kReference;  // its scratch: 90 codes, 2 accumulators
  options.max_scratch_bytes = 98;
  graph.interpreter.SetOptions(options);
  EXPECT_EQ(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}), "ok");
  options.max_scratch_bytes = 97;
  graph.interpreter.SetOptions(options);
  EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                  "takes 98 bytes, more than the limit of 97");
}

// Shapes near INT32_MAX. Products past 64 bits are refused by the geometry; an input that
// fits the index arithmetic but would need gigabytes of packed scratch by the default limit
// (the runtime has not allocated the tensors yet when Prepare runs). Nothing is allocated.
BITLITE_TEST(RefusesSizesThatOverflowOrExceedTheDefaultLimit) {
  {
    Graph graph;
    graph.interpreter.SetDims(&graph.interpreter.tensor(graph.x),
                              NewIntArray({INT_MAX, INT_MAX, INT_MAX, 3}), false);
    EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                    "input shape [2147483647, 2147483647, 2147483647, 3] is too large");
  }
  {
    Graph graph;
    graph.interpreter.SetDims(&graph.interpreter.tensor(graph.x), NewIntArray({1, 1, INT_MAX, 3}),
                              false);
    EXPECT_CONTAINS(graph.interpreter.Run({0}, {graph.x, graph.conv_w}, {graph.mid}),
                    "more than the limit of 1073741824 (delegate option max_scratch_bytes)");
  }
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
