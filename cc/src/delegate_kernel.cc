#include "delegate_kernel.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <map>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "c_boundary.h"
#include "delegate_options.h"
#include "kernels/cache_line_vector.h"
#include "node_profile.h"
#include "op_geometry.h"
#include "partition_op.h"
#include "tflite_tensors.h"
#include "threading/thread_pool.h"

namespace bitlite {
namespace {

// The runtime allocates only the inputs and outputs of the subset (and constants). A tensor
// that one node of the subset writes and others read, and nobody outside uses, gets no memory
// from the runtime: the kernel keeps it in memory of its own, sized by liveness (see
// AssignBuffers).
struct InternalTensor {
  int tensor = -1;
  int producer = -1;  // the op writing it
  int last_use = -1;  // the last op reading it (the producer if none): LastUses, at Prepare
  Shape shape;
  // Kept as int8 codes of its readers' grid (FORMAT.md "Codes between ops"), as decided at
  // the last Prepare (DecideCodes).
  bool codes = false;
  // The codes beside another internal tensor's floats (FORMAT.md "Codes beside floats"),
  // added by the last Prepare after the tensors of the plan; `tensor` is that tensor's.
  bool side = false;
  int buffer = -1;  // in buffers_, from the last Prepare
};

struct WiredOp {
  std::unique_ptr<PartitionOp> op;
  // Per input / output: an index into internal_, or -1 for the runtime's tensor.
  std::vector<int> in_internal;
  std::vector<int> out_internal;
  std::string wiring_error;
  std::vector<Shape> in_shapes;
  std::vector<Shape> out_shapes;
  std::vector<const float*> in_data;
  std::vector<float*> out_data;  // outputs, then side codes where out_side >= 0
  // Codes beside floats, from the last Prepare: the internal tensor of side codes that this
  // op reads as input 0 instead of its float tensor, and that it writes beside output 0.
  int in0_side = -1;
  int out_side = -1;
  // Verbose mode: the kernel last named for this op (it may change at Prepare, e.g. where
  // Winograd's scratch passes max_scratch_bytes and the layer runs direct).
  std::string kernel_named;
};

class DelegateKernel {
 public:
  DelegateKernel(TfLiteContext* context, const TfLiteDelegateParams& params) {
    std::set<int> external;
    for (const TfLiteIntArray* list : {params.input_tensors, params.output_tensors}) {
      if (list != nullptr) external.insert(list->data, list->data + list->size);
    }
    std::map<int, int> internal_of_tensor;
    const BitliteDelegate* delegate =
        params.delegate ? static_cast<const BitliteDelegate*>(params.delegate->data_) : nullptr;
    if (delegate != nullptr) options_ = delegate->options;
    profile_ = NodeProfile(options_.profile_path);
    const TfLiteIntArray* nodes = params.nodes_to_replace;
    std::vector<std::unique_ptr<PartitionOp>> ops;
    for (int i = 0; nodes != nullptr && i < nodes->size; ++i) {
      ops.push_back(MakePartitionOp(context, nodes->data[i], options_));
    }
    const size_t partition_nodes = ops.size();
    if (options_.fuse_ops) FuseOps(external, &ops);
    for (std::unique_ptr<PartitionOp>& op : ops) {
      const int index = static_cast<int>(ops_.size());
      ops_.push_back(WiredOp());
      WiredOp& wired = ops_.back();
      wired.op = std::move(op);
      for (int tensor : wired.op->inputs()) {
        const auto producer = internal_of_tensor.find(tensor);
        const TfLiteTensor* t = TensorAt(context, tensor);
        if (producer != internal_of_tensor.end()) {
          wired.in_internal.push_back(producer->second);
        } else {
          wired.in_internal.push_back(-1);
          // A missing tensor is reported by the op's own checks.
          if (t != nullptr && external.count(tensor) == 0 && !IsConstant(*t) &&
              wired.wiring_error.empty()) {
            wired.wiring_error = "input (tensor " + std::to_string(tensor) +
                                 ") is not computed before this node";
          }
        }
      }
      for (int tensor : wired.op->outputs()) {
        if (external.count(tensor) != 0) {
          wired.out_internal.push_back(-1);
          continue;
        }
        const auto inserted =
            internal_of_tensor.emplace(tensor, static_cast<int>(internal_.size()));
        if (!inserted.second && wired.wiring_error.empty()) {
          wired.wiring_error =
              "output (tensor " + std::to_string(tensor) + ") is written by another node too";
        }
        if (inserted.second) {
          InternalTensor internal;
          internal.tensor = tensor;
          internal.producer = index;
          internal_.push_back(internal);
        }
        wired.out_internal.push_back(inserted.first->second);
      }
    }
    plan_internals_ = internal_.size();
    if (options_.verbose) {
      // The runtime's nodes; those fused into the op before them run inside it.
      std::fprintf(stderr, "bitlite: delegate partition of %zu nodes (%zu fused)\n",
                   partition_nodes, partition_nodes - ops_.size());
      for (WiredOp& wired : ops_) {
        std::fprintf(stderr, "%s\n", wired.op->Describe(context).c_str());
        wired.kernel_named = wired.op->KernelName();
      }
    }
  }

  ~DelegateKernel() {
    std::vector<std::pair<int, std::string>> names;
    for (const WiredOp& wired : ops_) {
      const std::vector<int>& outputs = wired.op->outputs();
      names.emplace_back(outputs.empty() ? -1 : outputs[0], wired.op->KernelName());
    }
    // Nobody to report to while the interpreter is destroyed: `bitlite bench` finds no times.
    profile_.Write(names);
  }

  TfLiteStatus Prepare(TfLiteContext* context) {
    std::string error;
    const int threads = options_.num_threads > 0 ? options_.num_threads
                        : context->recommended_num_threads > 0 ? context->recommended_num_threads
                                                               : 1;
    pool_.Resize(threads);
    for (WiredOp& wired : ops_) {
      if (!InputShapes(context, &wired, &error) ||
          !wired.op->Prepare(context, wired.in_shapes, &wired.out_shapes, threads, &scratch_,
                             &error) ||
          !StoreOutputShapes(context, &wired, &error)) {
        ReportError(context, error.c_str());
        return kTfLiteError;
      }
    }
    DecideCodes();
    LastUses();
    AssignBuffers();
    if (options_.verbose) {
      for (WiredOp& wired : ops_) {
        if (wired.op->KernelName() == wired.kernel_named) continue;
        wired.kernel_named = wired.op->KernelName();
        std::fprintf(stderr, "%s (at Prepare)\n", wired.op->Describe(context).c_str());
      }
      int codes = 0;
      int sides = 0;
      for (const InternalTensor& internal : internal_) {
        codes += internal.codes && !internal.side ? 1 : 0;
        sides += internal.side ? 1 : 0;
      }
      std::fprintf(stderr,
                   "bitlite: partition of %zu nodes: %zu internal tensors (%d as codes, %d with "
                   "codes beside) in %zu buffers of %lld bytes in all\n",
                   ops_.size(), plan_internals_, codes, sides, buffers_.size(),
                   static_cast<long long>(BufferBytes()));
    }
    return kTfLiteOk;
  }

  TfLiteStatus Invoke(TfLiteContext* context) {
    for (size_t index = 0; index < ops_.size(); ++index) {
      WiredOp& wired = ops_[index];
      bool ok = true;
      for (size_t i = 0; i < wired.in_data.size(); ++i) {
        const int internal = i == 0 && wired.in0_side >= 0 ? wired.in0_side : wired.in_internal[i];
        wired.in_data[i] =
            Data(context, wired.op->inputs()[i], internal, wired.in_shapes[i], &ok);
      }
      const size_t outputs = wired.op->outputs().size();
      for (size_t i = 0; i < outputs; ++i) {
        wired.out_data[i] = Data(context, wired.op->outputs()[i], wired.out_internal[i],
                                 wired.out_shapes[i], &ok);
      }
      if (wired.out_side >= 0) {
        wired.out_data[outputs] =
            Data(context, -1, wired.out_side, internal_[wired.out_side].shape, &ok);
      }
      if (!ok) {
        ReportError(context, (wired.op->MessagePrefix() +
                              "a tensor has no data or fewer bytes than its shape at invoke")
                                 .c_str());
        return kTfLiteError;
      }
      profile_.Time(index, [&] {
        wired.op->Eval(wired.in_data.data(), wired.out_data.data(), &scratch_, &pool_);
      });
    }
    return kTfLiteOk;
  }

 private:
  bool InputShapes(const TfLiteContext* context, WiredOp* wired, std::string* error) const {
    // A broken node is reported by the op's own Prepare, before anything about its wiring.
    if (!wired->op->init_error().empty()) return true;
    if (!wired->wiring_error.empty()) {
      *error = wired->op->MessagePrefix() + wired->wiring_error;
      return false;
    }
    const std::vector<int>& inputs = wired->op->inputs();
    wired->in_shapes.assign(inputs.size(), Shape());
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (wired->in_internal[i] >= 0) {
        wired->in_shapes[i] = internal_[wired->in_internal[i]].shape;
        continue;
      }
      // A missing or shapeless input is reported by the op's own checks.
      const TfLiteTensor* tensor = TensorAt(context, inputs[i]);
      if (tensor != nullptr) TensorShape(*tensor, &wired->in_shapes[i]);
    }
    wired->in_data.assign(inputs.size(), nullptr);
    return true;
  }

  bool StoreOutputShapes(TfLiteContext* context, WiredOp* wired, std::string* error) {
    const std::vector<int>& outputs = wired->op->outputs();
    if (wired->out_shapes.size() != outputs.size()) {
      *error = wired->op->MessagePrefix() + "internal error: wrong number of output shapes";
      return false;
    }
    wired->out_data.assign(outputs.size(), nullptr);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Shape& shape = wired->out_shapes[i];
      if (wired->out_internal[i] >= 0) {
        internal_[wired->out_internal[i]].shape = shape;
        continue;
      }
      TfLiteIntArray* dims = NewIntArray(shape);
      TfLiteTensor* y = MutableTensorAt(context, outputs[i]);
      if (dims == nullptr) throw std::bad_alloc();
      // ResizeTensor takes ownership of dims, even when it fails.
      if (y == nullptr || context->ResizeTensor(context, y, dims) != kTfLiteOk) {
        if (y == nullptr) std::free(dims);
        *error = wired->op->MessagePrefix() + "cannot resize output tensor " +
                 std::to_string(outputs[i]) + " to " + ShapeToString(shape);
        return false;
      }
    }
    return true;
  }

  // Fused ops (FORMAT.md): an op whose output 0 only one reader reads, once, and that the
  // runtime does not see (not a partition output), takes that reader over where both agree
  // (PartitionOp::Fuse) and the reader's other inputs are computed before the op (so running
  // the reader inside it moves nothing ahead of its inputs); the reader leaves the plan, and
  // the op then tries the reader of its new output (a chain of elementwise glue ops).
  static void FuseOps(const std::set<int>& external,
                      std::vector<std::unique_ptr<PartitionOp>>* ops) {
    for (size_t i = 0; i < ops->size(); ++i) {
      while (FuseReader(external, i, ops)) {
      }
    }
  }

  // FuseOps for op i once: whether it took its output's reader over.
  static bool FuseReader(const std::set<int>& external, size_t i,
                         std::vector<std::unique_ptr<PartitionOp>>* ops) {
    PartitionOp& op = *(*ops)[i];
    if (op.outputs().size() != 1 || external.count(op.outputs()[0]) != 0) return false;
    const int tensor = op.outputs()[0];
    size_t reader = 0;
    int reads = 0;
    for (size_t j = i + 1; j < ops->size(); ++j) {
      const std::vector<int>& inputs = (*ops)[j]->inputs();
      const int count = static_cast<int>(std::count(inputs.begin(), inputs.end(), tensor));
      if (count > 0 && reads == 0) reader = j;
      reads += count;
    }
    if (reads != 1) return false;
    for (int input : (*ops)[reader]->inputs()) {
      for (size_t k = i + 1; input != tensor && k < reader; ++k) {
        const std::vector<int>& written = (*ops)[k]->outputs();
        if (std::count(written.begin(), written.end(), input) != 0) return false;
      }
    }
    if (!op.Fuse(*(*ops)[reader])) return false;
    ops->erase(ops->begin() + static_cast<std::ptrdiff_t>(reader));
    return true;
  }

  // Which internal tensors are kept as codes, and tells every op its formats: a tensor whose
  // producer can write codes and whose readers all read it as input 0 with codes of one and
  // the same grid (ActivationGrid equal in every field). Any other reader (a glue op, the
  // reference kernel, a second input) keeps it float.
  void DecideCodes() {
    internal_.resize(plan_internals_);  // the last Prepare's side codes go
    std::vector<const ActivationPacking*> grid(internal_.size(), nullptr);
    std::vector<bool> possible(internal_.size(), options_.codes_between_ops);
    for (size_t id = 0; id < internal_.size(); ++id) {
      internal_[id].codes = false;
      if (!ops_[internal_[id].producer].op->WritesCodes()) possible[id] = false;
    }
    for (const WiredOp& wired : ops_) {
      for (size_t i = 0; i < wired.in_internal.size(); ++i) {
        const int id = wired.in_internal[i];
        if (id < 0 || !possible[id]) continue;
        const ActivationPacking* reads = i == 0 ? wired.op->InputCodeGrid() : nullptr;
        if (reads == nullptr || (grid[id] != nullptr && !SameGrid(*grid[id], *reads))) {
          possible[id] = false;
        } else if (grid[id] == nullptr) {
          grid[id] = reads;
        }
      }
    }
    std::vector<const ActivationPacking*> output_grid(ops_.size(), nullptr);
    for (size_t id = 0; id < internal_.size(); ++id) {
      // A tensor nobody reads has no grid: it stays float.
      if (!possible[id] || grid[id] == nullptr) continue;
      internal_[id].codes = true;
      output_grid[internal_[id].producer] = grid[id];
    }
    DecideSideCodes();
    for (size_t index = 0; index < ops_.size(); ++index) {
      const WiredOp& wired = ops_[index];
      const bool input_codes = wired.in0_side >= 0 ||
                               (!wired.in_internal.empty() && wired.in_internal[0] >= 0 &&
                                internal_[wired.in_internal[0]].codes);
      wired.op->UseCodes(input_codes, output_grid[index]);
    }
  }

  // Codes beside floats (FORMAT.md): a float tensor that a glue op writes and that ops read as
  // input 0 with codes of one grid (the first such reader's; readers of another grid, and
  // every other reader, read the floats) gets a second internal tensor of those codes, which
  // the producer writes in the same pass and those readers read instead.
  void DecideSideCodes() {
    for (WiredOp& wired : ops_) {
      wired.in0_side = wired.out_side = -1;
      wired.op->UseSideCodes(nullptr);
    }
    for (size_t id = 0; options_.codes_between_ops && id < plan_internals_; ++id) {
      if (internal_[id].codes) continue;
      const int producer = internal_[id].producer;
      WiredOp& writer = ops_[producer];
      if (!writer.op->WritesSideCodes() || writer.out_internal.size() != 1) continue;
      const ActivationPacking* side_grid = nullptr;
      std::vector<int> readers;
      for (size_t index = producer + 1; index < ops_.size(); ++index) {
        const WiredOp& reader = ops_[index];
        if (reader.in_internal.empty() || reader.in_internal[0] != static_cast<int>(id)) {
          continue;
        }
        const ActivationPacking* reads = reader.op->InputCodeGrid();
        if (reads == nullptr || (side_grid != nullptr && !SameGrid(*side_grid, *reads))) continue;
        side_grid = reads;
        readers.push_back(static_cast<int>(index));
      }
      if (readers.empty()) continue;
      InternalTensor side = internal_[id];
      side.codes = side.side = true;
      side.last_use = readers.back();
      const int side_id = static_cast<int>(internal_.size());
      internal_.push_back(side);
      writer.out_side = side_id;
      writer.out_data.resize(writer.op->outputs().size() + 1);
      writer.op->UseSideCodes(side_grid);
      for (int index : readers) ops_[index].in0_side = side_id;
    }
  }

  // Each plan tensor's last reader, from the wiring as DecideCodes left it: an input 0 read as
  // side codes does not count, so a float tensor whose readers all read its codes lives only
  // through its producer (the side codes' own last use is set with them).
  void LastUses() {
    for (size_t id = 0; id < plan_internals_; ++id) {
      internal_[id].last_use = internal_[id].producer;
    }
    for (size_t index = 0; index < ops_.size(); ++index) {
      const WiredOp& wired = ops_[index];
      for (size_t i = 0; i < wired.in_internal.size(); ++i) {
        if (wired.in_internal[i] < 0 || (i == 0 && wired.in0_side >= 0)) continue;
        internal_[wired.in_internal[i]].last_use = static_cast<int>(index);
      }
    }
  }

  static bool SameGrid(const ActivationPacking& a, const ActivationPacking& b) {
    return a.grid.scale == b.grid.scale && a.grid.range.min == b.grid.range.min &&
           a.grid.range.max == b.grid.range.max && a.grid.is_binary == b.grid.is_binary;
  }

  // Gives every internal tensor a buffer for the ops from its producer to its last reader:
  // in plan order, an op's outputs take free buffers (the smallest that fits, else the
  // largest free one, grown, else a new one) while its inputs are still held, then the
  // tensors it read last are given back. So a partition holds about its two or three largest
  // live tensors at any point, not one buffer per tensor.
  void AssignBuffers() {
    std::vector<int64_t> capacity;
    std::vector<int> free_buffers;
    for (InternalTensor& internal : internal_) internal.buffer = -1;
    for (size_t index = 0; index < ops_.size(); ++index) {
      std::vector<int> outputs = ops_[index].out_internal;
      if (ops_[index].out_side >= 0) outputs.push_back(ops_[index].out_side);
      for (int id : outputs) {
        if (id < 0 || internal_[id].buffer >= 0) continue;
        const int64_t need = std::max<int64_t>(BufferFloats(internal_[id]), 1);
        int best = -1;
        for (size_t f = 0; f < free_buffers.size(); ++f) {
          const int64_t have = capacity[free_buffers[f]];
          const int64_t best_have = best < 0 ? 0 : capacity[free_buffers[best]];
          const bool fits = have >= need, best_fits = best >= 0 && best_have >= need;
          if (best < 0 || (fits && (!best_fits || have < best_have)) ||
              (!fits && !best_fits && have > best_have)) {
            best = static_cast<int>(f);
          }
        }
        if (best >= 0) {
          internal_[id].buffer = free_buffers[best];
          free_buffers.erase(free_buffers.begin() + best);
          capacity[internal_[id].buffer] = std::max(capacity[internal_[id].buffer], need);
        } else {
          internal_[id].buffer = static_cast<int>(capacity.size());
          capacity.push_back(need);
        }
      }
      for (const InternalTensor& internal : internal_) {
        if (internal.last_use == static_cast<int>(index) && internal.buffer >= 0) {
          free_buffers.push_back(internal.buffer);
        }
      }
    }
    buffers_.resize(capacity.size());
    for (size_t b = 0; b < capacity.size(); ++b) {
      if (buffers_[b].size() < static_cast<size_t>(capacity[b])) {
        buffers_[b].resize(static_cast<size_t>(capacity[b]));
      }
    }
  }

  // A float per element, or an int8 code per element rounded up to whole floats.
  static int64_t BufferFloats(const InternalTensor& internal) {
    const int64_t elements = ShapeElements(internal.shape);
    return internal.codes ? (elements + 3) / 4 : elements;
  }

  int64_t BufferBytes() const {
    int64_t bytes = 0;
    for (const CacheLineVector<float>& buffer : buffers_) {
      bytes += static_cast<int64_t>(buffer.size() * sizeof(float));
    }
    return bytes;
  }

  // The data of an input or output, if it holds the elements of `shape`; sets *ok = false
  // and returns nullptr if not.
  float* Data(TfLiteContext* context, int tensor, int internal, const Shape& shape, bool* ok) {
    const int64_t elements = ShapeElements(shape);
    if (elements < 0) {
      *ok = false;
      return nullptr;
    }
    if (internal >= 0) {
      const int buffer = internal_[internal].buffer;
      const int64_t floats = BufferFloats(internal_[internal]);
      if (buffer < 0 || buffers_[buffer].size() < static_cast<size_t>(floats)) {
        *ok = false;
        return nullptr;
      }
      return buffers_[buffer].data();
    }
    TfLiteTensor* t = MutableTensorAt(context, tensor);
    if (t == nullptr || t->data.f == nullptr ||
        t->bytes < static_cast<size_t>(elements) * sizeof(float)) {
      *ok = false;
      return nullptr;
    }
    return t->data.f;
  }

  std::vector<WiredOp> ops_;
  std::vector<InternalTensor> internal_;  // the plan's, then the side codes (DecideCodes)
  size_t plan_internals_ = 0;
  // On cache lines, as the kernels' own buffers (kernels/cache_line_vector.h): MobileNetV2
  // W2A2 3.5% faster at one thread than with malloc's placement.
  std::vector<CacheLineVector<float>> buffers_;
  OpScratch scratch_;
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
