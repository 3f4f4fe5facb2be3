// Just enough of a TFLite interpreter to drive the delegate without a runtime: tensors, nodes,
// an execution plan, ResizeTensor, ReportError and ReplaceNodeSubsetsWithDelegateKernels.
// Shared by the unit tests and the fuzzer (cc/fuzz), which build graphs from untrusted bytes:
// every shape, type and allocation type may be nonsense.
#ifndef BITLITE_TESTS_FAKE_INTERPRETER_H_
#define BITLITE_TESTS_FAKE_INTERPRETER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"
#include "delegate_options.h"

namespace bitlite {
namespace testing {

class FakeInterpreter {
 public:
  FakeInterpreter();
  ~FakeInterpreter();
  FakeInterpreter(const FakeInterpreter&) = delete;
  FakeInterpreter& operator=(const FakeInterpreter&) = delete;

  // Arena tensors get zeroed heap memory (4 bytes per element whatever the type) at every
  // resize; a shape with a negative dim or more than max_arena_elements() gets none.
  int AddArenaTensor(TfLiteType type, const std::vector<int>& shape);
  int AddFloatTensor(const std::vector<int>& shape) {
    return AddArenaTensor(kTfLiteFloat32, shape);
  }
  // A tensor over `bytes` (kept here), with any declared shape; `allocation` is any type but
  // kTfLiteArenaRw (normally kTfLiteMmapRo or kTfLitePersistentRo). Never resized.
  int AddConstantTensor(TfLiteType type, TfLiteAllocationType allocation,
                        const std::vector<int>& shape, std::vector<uint8_t> bytes);
  // Packed weights: a uint8 kTfLiteMmapRo tensor [rows, size / rows].
  int AddWeights(const std::vector<uint8_t>& packed, int rows);
  int AddNode(const std::string& op, const std::vector<int>& inputs,
              const std::vector<int>& outputs, std::vector<uint8_t> options);
  // A builtin node (kTfLiteBuiltin*) with `builtin_data` as its options struct (copied; empty:
  // no options, builtin_data stays NULL).
  int AddBuiltinNode(int builtin_code, const std::vector<int>& inputs,
                     const std::vector<int>& outputs, const void* builtin_data = nullptr,
                     size_t builtin_data_size = 0);
  template <class Params>
  int AddBuiltinNode(int builtin_code, const std::vector<int>& inputs,
                     const std::vector<int>& outputs, const Params& params) {
    return AddBuiltinNode(builtin_code, inputs, outputs, &params, sizeof(params));
  }
  // The context as the delegate's Prepare sees it (for FindClaimedNodes).
  TfLiteContext* context() {
    context_.tensors = tensors_.data();
    context_.tensors_size = tensors_.size();
    return &context_;
  }
  // A tensor the graph hands back to the app: RunDelegate makes it an output of whichever
  // delegate kernel writes it, even if a later node of the kernel reads it too.
  void MarkGraphOutput(int tensor) { graph_outputs_.insert(tensor); }

  // Runs one delegate kernel over `nodes` (inputs and outputs of the subset as given):
  // init, prepare (1 + resizes_before_invoke times), invoke, free. Returns "ok" or the
  // kernel's errors.
  std::string Run(const std::vector<int>& nodes, const std::vector<int>& inputs,
                  const std::vector<int>& outputs, int resizes_before_invoke = 0);
  // What TFLite does with a delegate: its Prepare sees the whole plan (every node, in order)
  // and claims subsets through ReplaceNodeSubsetsWithDelegateKernels; each kernel it asked
  // for is then run as in Run. Returns "ok" or the errors of the first step that failed.
  std::string RunDelegate(TfLiteDelegate* delegate, int resizes_before_invoke = 0);

  // The options of the delegate Run hands its kernels.
  DelegateOptions& delegate_options() { return delegate_.options; }
  size_t max_arena_elements() const { return max_arena_elements_; }
  void set_max_arena_elements(size_t elements) { max_arena_elements_ = elements; }

  TfLiteTensor& tensor(int index) { return tensors_[index]; }
  // The tensor's data as floats (as many as its bytes hold).
  std::vector<float> Values(int index) const;
  std::vector<int> Shape(int index) const;
  // Writes start + step * (i % 37) into every float of the tensor.
  void Fill(int index, float start, float step);
  // Gives an arena tensor new dims (taking ownership) and memory. Returns false, leaving
  // the tensor without memory, for a shape the arena refuses (see AddArenaTensor).
  // ResizeTensor comes here for arena tensors and fails for the others.
  bool SetDims(TfLiteTensor* tensor, TfLiteIntArray* dims);

 private:
  struct Node;
  struct KernelRequest;

  static void ReportError(TfLiteContext* context, const char* format, ...);
  std::string RunKernel(const TfLiteRegistration& kernel, const TfLiteIntArray* nodes,
                        const std::vector<int>& inputs, const std::vector<int>& outputs,
                        TfLiteDelegate* delegate, int resizes_before_invoke);
  // The inputs and outputs TFLite's partitioner gives the subset `nodes`.
  void SubsetBoundary(const TfLiteIntArray* nodes, std::vector<int>* inputs,
                      std::vector<int>* outputs) const;

  TfLiteContext context_{};
  BitliteDelegate delegate_{};
  std::vector<TfLiteTensor> tensors_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::vector<uint8_t>> constants_;
  std::set<int> graph_outputs_;
  TfLiteIntArray* plan_ = nullptr;
  std::vector<KernelRequest> requests_;
  size_t max_arena_elements_ = size_t{1} << 28;
  std::string errors_;
};

}  // namespace testing
}  // namespace bitlite

#endif  // BITLITE_TESTS_FAKE_INTERPRETER_H_
