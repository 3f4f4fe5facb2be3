#include "delegate_kernel.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "bitlite_op.h"
#include "c_boundary.h"
#include "delegate_options.h"
#include "node_profile.h"
#include "op_geometry.h"
#include "tflite_tensors.h"
#include "threading/thread_pool.h"

namespace bitlite {
namespace {

// The runtime allocates only the inputs and outputs of the subset. A tensor that one node of
// the subset writes and another reads, and nobody outside uses, gets no memory from the
// runtime: the kernel keeps it in a buffer of its own.
struct InternalBuffer {
  std::vector<int> shape;
  std::vector<float> data;
};

// Where an op reads x or writes y: a runtime tensor, or internal buffer `buffer` (>= 0).
struct Slot {
  int tensor = -1;
  int buffer = -1;
};

struct WiredOp {
  BitliteOp op;
  Slot x;
  Slot y;
  std::string wiring_error;
};

class DelegateKernel {
 public:
  DelegateKernel(TfLiteContext* context, const TfLiteDelegateParams& params) {
    std::set<int> external;
    for (const TfLiteIntArray* list : {params.input_tensors, params.output_tensors}) {
      if (list != nullptr) external.insert(list->data, list->data + list->size);
    }
    std::map<int, int> buffer_of_tensor;
    const BitliteDelegate* delegate =
        params.delegate ? static_cast<const BitliteDelegate*>(params.delegate->data_) : nullptr;
    if (delegate != nullptr) options_ = delegate->options;
    profile_ = NodeProfile(options_.profile_path);
    const TfLiteIntArray* nodes = params.nodes_to_replace;
    for (int i = 0; nodes != nullptr && i < nodes->size; ++i) {
      ops_.push_back({BitliteOp(context, nodes->data[i], options_), {}, {}, {}});
      WiredOp& wired = ops_.back();
      const int x = wired.op.input_tensor();
      const int y = wired.op.output_tensor();
      wired.x.tensor = x;
      wired.y.tensor = y;
      // Broken nodes and missing tensors are reported by the op's own checks.
      if (!wired.op.init_error().empty() || x < 0 || y < 0) continue;
      if (external.count(x) == 0) {
        const auto producer = buffer_of_tensor.find(x);
        if (producer == buffer_of_tensor.end()) {
          wired.wiring_error =
              "input x (tensor " + std::to_string(x) + ") is not computed before this node";
        } else {
          wired.x.buffer = producer->second;
        }
      }
      if (external.count(y) == 0) {
        const auto inserted = buffer_of_tensor.emplace(y, static_cast<int>(buffers_.size()));
        if (inserted.second) buffers_.emplace_back();
        wired.y.buffer = inserted.first->second;
      }
    }
    if (options_.verbose) {
      for (const WiredOp& wired : ops_) {
        std::fprintf(stderr, "%s\n", wired.op.Describe(context).c_str());
      }
    }
  }

  ~DelegateKernel() {
    std::vector<std::pair<int, std::string>> names;
    for (const WiredOp& wired : ops_) {
      names.emplace_back(wired.op.output_tensor(), wired.op.KernelName());
    }
    // Nobody to report to while the interpreter is destroyed: `bitlite bench` finds no times.
    profile_.Write(names);
  }

  TfLiteStatus Prepare(TfLiteContext* context) {
    size_t max_input = 0;
    size_t max_channels = 0;
    std::string error;
    const int threads = options_.num_threads > 0 ? options_.num_threads
                        : context->recommended_num_threads > 0 ? context->recommended_num_threads
                                                               : 1;
    pool_.Resize(threads);
    for (WiredOp& wired : ops_) {
      std::vector<int> input_shape, output_shape;
      if (!InputShape(context, wired, &input_shape, &error) ||
          !wired.op.Prepare(context, input_shape, &output_shape, &error, threads) ||
          !StoreOutputShape(context, wired, output_shape, &error)) {
        ReportError(context, error.c_str());
        return kTfLiteError;
      }
      max_input = std::max(max_input, static_cast<size_t>(wired.op.input_size()));
      max_channels = std::max(max_channels, static_cast<size_t>(wired.op.out_channels()));
    }
    codes_.resize(max_input);
    acc_.resize(max_channels);
    return kTfLiteOk;
  }

  TfLiteStatus Invoke(TfLiteContext* context) {
    for (size_t index = 0; index < ops_.size(); ++index) {
      WiredOp& wired = ops_[index];
      if (wired.op.output_size() == 0) continue;
      float* x = Data(context, wired.x, wired.op.input_size());
      float* y = Data(context, wired.y, wired.op.output_size());
      if (x == nullptr || y == nullptr) {
        ReportError(context, (wired.op.MessagePrefix() +
                              "a tensor has no data or fewer bytes than its shape at invoke")
                                 .c_str());
        return kTfLiteError;
      }
      profile_.Time(index, [&] { wired.op.Run(x, y, codes_.data(), acc_.data(), &pool_); });
    }
    return kTfLiteOk;
  }

 private:
  bool InputShape(const TfLiteContext* context, const WiredOp& wired, std::vector<int>* shape,
                  std::string* error) const {
    if (!wired.wiring_error.empty()) {
      *error = wired.op.MessagePrefix() + wired.wiring_error;
      return false;
    }
    if (wired.x.buffer >= 0) {
      *shape = buffers_[wired.x.buffer].shape;
      return true;
    }
    const TfLiteTensor* x = TensorAt(context, wired.x.tensor);
    // A missing or shapeless x is reported by the op's own checks.
    if (x == nullptr || !TensorShape(*x, shape)) shape->clear();
    return true;
  }

  bool StoreOutputShape(TfLiteContext* context, WiredOp& wired, const std::vector<int>& shape,
                        std::string* error) {
    if (wired.y.buffer >= 0) {
      InternalBuffer& buffer = buffers_[wired.y.buffer];
      buffer.shape = shape;
      buffer.data.resize(static_cast<size_t>(wired.op.output_size()));
      return true;
    }
    TfLiteIntArray* dims = NewIntArray(shape);
    TfLiteTensor* y = MutableTensorAt(context, wired.y.tensor);
    if (dims == nullptr) throw std::bad_alloc();
    // ResizeTensor takes ownership of dims, even when it fails.
    if (context->ResizeTensor(context, y, dims) != kTfLiteOk) {
      *error = wired.op.MessagePrefix() + "cannot resize the output to " + ShapeToString(shape);
      return false;
    }
    return true;
  }

  // The data of a slot, if it holds at least `elements` floats.
  float* Data(TfLiteContext* context, const Slot& slot, int64_t elements) {
    if (slot.buffer >= 0) {
      // Smaller only if two nodes of a malformed model write one tensor with other shapes.
      std::vector<float>& data = buffers_[slot.buffer].data;
      return data.size() >= static_cast<size_t>(elements) ? data.data() : nullptr;
    }
    TfLiteTensor* tensor = MutableTensorAt(context, slot.tensor);
    if (tensor == nullptr || tensor->data.f == nullptr ||
        tensor->bytes < static_cast<size_t>(elements) * sizeof(float)) {
      return nullptr;
    }
    return tensor->data.f;
  }

  std::vector<WiredOp> ops_;
  std::vector<InternalBuffer> buffers_;
  std::vector<ActivationCodeT> codes_;
  std::vector<int32_t> acc_;
  DelegateOptions options_;
  NodeProfile profile_;
  ThreadPool pool_;
};

void* Init(TfLiteContext* context, const char* buffer, size_t) {
  if (buffer == nullptr) return nullptr;
  try {
    return new DelegateKernel(context, *reinterpret_cast<const TfLiteDelegateParams*>(buffer));
  } catch (...) {
    // Init cannot report (only memory can run out here): Prepare finds no kernel, says so.
    return nullptr;
  }
}

void Free(TfLiteContext*, void* kernel) { delete static_cast<DelegateKernel*>(kernel); }

DelegateKernel* KernelOf(TfLiteContext* context, TfLiteNode* node) {
  DelegateKernel* kernel = static_cast<DelegateKernel*>(node->user_data);
  if (kernel == nullptr) {
    ReportError(context, "bitlite: the delegate kernel could not be created (out of memory?)");
  }
  return kernel;
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  return CatchAll(context, [&] {
    DelegateKernel* kernel = KernelOf(context, node);
    return kernel ? kernel->Prepare(context) : kTfLiteError;
  });
}

TfLiteStatus Invoke(TfLiteContext* context, TfLiteNode* node) {
  return CatchAll(context, [&] {
    DelegateKernel* kernel = KernelOf(context, node);
    return kernel ? kernel->Invoke(context) : kTfLiteError;
  });
}

}  // namespace

TfLiteRegistration DelegateKernelRegistration() {
  TfLiteRegistration registration{};
  registration.init = Init;
  registration.free = Free;
  registration.prepare = Prepare;
  registration.invoke = Invoke;
  registration.builtin_code = kTfLiteBuiltinDelegate;
  registration.custom_name = "BitliteDelegateKernel";
  registration.version = 1;
  return registration;
}

}  // namespace bitlite
