// libFuzzer target: the delegate as a runtime drives it, on graphs decoded from the input
// (fuzz_graph.h): the plugin creates a delegate from string options, its Prepare claims the
// bitlite nodes, and each delegate kernel runs init, prepare, invoke and free on a fake
// interpreter. ASan and UBSan catch memory and arithmetic errors. On top of that, a failure
// must be a named error, never "internal error" (every size is checked before it is used), and
// whenever the chosen kernel and the reference kernel both run, their outputs must be equal
// bit for bit (FORMAT.md: every kernel computes exactly the reference's arithmetic).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"
#include "conv_test_cases.h"
#include "fake_interpreter.h"
#include "fuzz_graph.h"

// The plugin entry points (src/delegate.cc), as a runtime finds them with dlsym.
extern "C" TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values,
                                                         size_t count,
                                                         void (*report_error)(const char*));
extern "C" void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate);

namespace bitlite {
namespace fuzz {
namespace {

// Caps on WorkBound, to keep one execution within milliseconds under the sanitizers, and on
// arena tensors: a bigger output is refused by ResizeTensor, as a runtime out of memory would.
constexpr size_t kMaxWork = size_t{1} << 21;
constexpr size_t kMaxArenaElements = size_t{1} << 20;
// The delegate's scratch limit (option max_scratch_bytes; by default it grows with the tensors
// up to 1 GiB), small enough that a kernel at the limit stays far below libFuzzer's 2 GiB cap.
constexpr const char* kMaxScratchBytes = "67108864";

struct Outcome {
  std::string status;  // "ok" or the errors reported
  std::vector<std::vector<float>> outputs;
  std::vector<std::vector<int>> shapes;
};

Outcome Run(const FuzzGraph& graph, const std::string& kernel, int num_threads) {
  testing::FakeInterpreter interpreter;
  interpreter.set_max_arena_elements(kMaxArenaElements);
  const std::vector<int> outputs = BuildFuzzGraph(graph, &interpreter);
  std::string threads = std::to_string(num_threads);
  std::string kernel_value = kernel;
  std::string scratch = kMaxScratchBytes;
  char kernel_key[] = "kernel";
  char threads_key[] = "num_threads";
  char scratch_key[] = "max_scratch_bytes";
  char* keys[] = {kernel_key, threads_key, scratch_key};
  char* values[] = {&kernel_value[0], &threads[0], &scratch[0]};
  TfLiteDelegate* delegate = tflite_plugin_create_delegate(keys, values, 3, nullptr);
  if (delegate == nullptr) std::abort();  // the options above are all valid
  Outcome outcome;
  outcome.status = interpreter.RunDelegate(delegate, graph.resizes_before_invoke);
  tflite_plugin_destroy_delegate(delegate);
  // At the start only: later in a message the words may be quoted from the model's options.
  if (outcome.status.rfind("bitlite: internal error", 0) == 0 ||
      outcome.status.rfind("bitlite: unexpected internal error", 0) == 0) {
    std::fprintf(stderr, "kernel %s: %s\n", kernel.c_str(), outcome.status.c_str());
    std::abort();
  }
  for (int y : outputs) {
    outcome.outputs.push_back(interpreter.Values(y));
    outcome.shapes.push_back(interpreter.Shape(y));
  }
  return outcome;
}

// Bounds the multiply-adds of the graph: every node's input is x or an earlier node's output
// (the delegate takes its shape as declared when that node does not run), each output position
// reads at most the whole input and each weight byte holds at most 8 codes.
size_t WorkBound(const FuzzGraph& graph) {
  size_t work = DeclaredElements(graph.x);
  for (const FuzzNode& node : graph.nodes) work = std::max(work, DeclaredElements(node.output));
  for (const FuzzNode& node : graph.nodes) {
    const size_t bytes = std::max<size_t>(node.weights.bytes.size(), 1);
    if (work > kMaxWork / bytes) return kMaxWork + 1;
    work *= bytes;
  }
  return work;
}

}  // namespace
}  // namespace fuzz
}  // namespace bitlite

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitlite::fuzz;
  const FuzzGraph graph = DecodeFuzzGraph(data, size);
  if (WorkBound(graph) > kMaxWork) return -1;  // too slow to be worth it: not kept
  const Outcome chosen = Run(graph, graph.kernel, graph.num_threads);
  if (graph.kernel == "reference" || chosen.status != "ok") return 0;
  const Outcome reference = Run(graph, "reference", 1);
  if (reference.status != "ok") return 0;
  for (size_t i = 0; i < chosen.outputs.size(); ++i) {
    if (chosen.shapes[i] != reference.shapes[i] ||
        !bitlite::testing::BitwiseEqual(chosen.outputs[i], reference.outputs[i])) {
      std::fprintf(stderr, "kernel %s (%d threads) differs from the reference at node %zu\n",
                   graph.kernel.c_str(), graph.num_threads, i);
      std::abort();
    }
  }
  return 0;
}
