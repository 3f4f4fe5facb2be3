// Entry points of libbitlite_delegate.so, the TFLite external delegate plugin ABI: the only
// two exported symbols.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"
#include "c_boundary.h"
#include "claimed_nodes.h"
#include "delegate_kernel.h"
#include "delegate_options.h"
#include "tflite_tensors.h"

#define BITLITE_EXPORT __attribute__((visibility("default")))

namespace bitlite {
namespace {

// Claims every BitliteConv2D / BitliteFullyConnected node and, unless the option
// claim_builtins is off, the float builtins between them (claimed_nodes.h).
TfLiteStatus PrepareDelegate(TfLiteContext* context, TfLiteDelegate* delegate) {
  return CatchAll(context, [&] {
    const DelegateOptions& options = static_cast<BitliteDelegate*>(delegate->data_)->options;
    ClaimedNodes claimed;
    std::string error;
    if (!FindClaimedNodes(context, options.claim_builtins, &claimed, &error)) {
      ReportError(context, error.c_str());
      return kTfLiteError;
    }
    if (options.verbose) {
      const int threads =
          options.num_threads == -1 ? context->recommended_num_threads : options.num_threads;
      std::fprintf(stderr,
                   "bitlite: taking over %zu of %d nodes (%d bitlite, %d builtin; num_threads "
                   "%d; the reference kernel runs on 1)\n",
                   claimed.nodes.size(), claimed.plan_size, claimed.bitlite_nodes,
                   claimed.glue_nodes, threads);
      for (const std::string& line : claimed.left_to_runtime) {
        std::fprintf(stderr, "bitlite: left to the runtime: %s\n", line.c_str());
      }
    }
    if (claimed.nodes.empty()) return kTfLiteOk;
    const std::unique_ptr<TfLiteIntArray, void (*)(void*)> nodes(NewIntArray(claimed.nodes),
                                                                 std::free);
    if (nodes == nullptr) throw std::bad_alloc();
    return context->ReplaceNodeSubsetsWithDelegateKernels(context, DelegateKernelRegistration(),
                                                          nodes.get(), delegate);
  });
}

void Report(void (*report_error)(const char*), const char* message) {
  if (report_error != nullptr) report_error(message);
}

}  // namespace
}  // namespace bitlite

extern "C" BITLITE_EXPORT TfLiteDelegate* tflite_plugin_create_delegate(
    char** options_keys, char** options_values, size_t num_options,
    void (*report_error)(const char*)) {
  using namespace bitlite;
  try {
    // Value-initialized: every TfLiteDelegate field we do not set, opaque_delegate_builder
    // included, is zero.
    std::unique_ptr<BitliteDelegate> owner(new BitliteDelegate{});
    std::string error;
    if (!ParseDelegateOptions(options_keys, options_values, num_options, &owner->options, &error)) {
      Report(report_error, ("bitlite delegate: " + error).c_str());
      return nullptr;
    }
    TfLiteDelegate& delegate = owner->delegate;
    delegate.data_ = owner.get();
    delegate.Prepare = PrepareDelegate;
    // Without this flag the interpreter rejects the unresolved bitlite custom ops before the
    // delegate's Prepare ever sees them.
    delegate.flags = kTfLiteDelegateFlagsAllowDynamicTensors;
    return &owner.release()->delegate;
  } catch (...) {
    Report(report_error, "bitlite delegate: out of memory");
    return nullptr;
  }
}

extern "C" BITLITE_EXPORT void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate) {
  if (delegate != nullptr) delete static_cast<bitlite::BitliteDelegate*>(delegate->data_);
}
