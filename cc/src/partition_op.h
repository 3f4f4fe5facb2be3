// One node of a delegate partition, as the delegate kernel runs it: a bitlite op or a claimed
// float builtin (glue/glue_ops.h). The kernel wires the ops' float tensors (runtime tensors or
// its own buffers), asks each op for its output shapes at Prepare and runs them in plan order.
#ifndef BITLITE_SRC_PARTITION_OP_H_
#define BITLITE_SRC_PARTITION_OP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"
#include "delegate_options.h"
#include "glue/glue_kernels.h"
#include "kernels/pack/activation_pack.h"
#include "kernels/pool_geometry.h"
#include "kernels/reference/activation_quantize_reference.h"
#include "kernels/winograd/winograd_workspace.h"
#include "threading/thread_pool.h"

namespace bitlite {

using Shape = std::vector<int>;

// Scratch the delegate kernel shares between its ops (sized at Prepare for the largest need).
struct OpScratch {
  std::vector<ActivationCodeT> codes;  // the reference kernel's input codes
  std::vector<int32_t> acc;
  WinogradWorkspaces winograd;  // F(2x2, 3x3)'s per-worker buffers
};

class PartitionOp {
 public:
  virtual ~PartitionOp() = default;

  // The float tensors the op reads (activations and float constants, in the op's order) and
  // writes. Parameter tensors (shapes, paddings, axes, packed weights) are the op's business.
  const std::vector<int>& inputs() const { return inputs_; }
  const std::vector<int>& outputs() const { return outputs_; }
  // Why the node cannot run (empty if it can), as found when reading it.
  const std::string& init_error() const { return init_error_; }

  // "bitlite: node 5 (ADD): ", the start of every message about this op.
  virtual std::string MessagePrefix() const = 0;
  // One line for verbose mode.
  virtual std::string Describe(const TfLiteContext* context) const = 0;
  // "bitserial/avx512vpopcntdq", "glue/ADD", ...
  virtual std::string KernelName() const = 0;

  // Checks the op against its input shapes (one per inputs(), in order) and fills one output
  // shape per outputs(); options were parsed once, at construction. On failure *error holds a
  // message with the prefix.
  virtual bool Prepare(const TfLiteContext* context, const std::vector<Shape>& input_shapes,
                       std::vector<Shape>* output_shapes, int threads, OpScratch* scratch,
                       std::string* error) = 0;

  // Codes between ops (FORMAT.md "Codes between ops"), as of the last Prepare: the grid
  // input 0 can be read as int8 codes of (nullptr: floats only), and whether output 0 can be
  // written as another op's codes.
  virtual const ActivationPacking* InputCodeGrid() const { return nullptr; }
  virtual bool WritesCodes() const { return false; }
  // The formats of the following Evals, set by the delegate kernel after every Prepare
  // (floats unless it says otherwise): input 0 as codes, output 0 as codes of `output_grid`
  // (nullptr: floats). Only where the two above allow it.
  virtual void UseCodes(bool /*input_codes*/, const ActivationPacking* /*output_grid*/) {}
  // Codes beside floats (FORMAT.md): whether output 0, kept float for the ops that read
  // floats, can also be written as int8 codes of another op's grid in the same pass; and,
  // set by the delegate kernel after every Prepare, that grid for the following Evals
  // (nullptr: none), whose codes go to out[outputs().size()], one per element of output 0.
  virtual bool WritesSideCodes() const { return false; }
  virtual void UseSideCodes(const ActivationPacking* /*grid*/) {}

  // Fused ops (FORMAT.md), decided once when the partition is built. The window of a
  // MAX_POOL_2D that can run inside the op writing its input (else nullptr); the clamp of
  // an ADD of two computed tensors of the same declared shape (else nullptr).
  virtual const MaxPoolWindow* FusableMaxPool() const { return nullptr; }
  virtual const glue::Clamp* FusableAdd() const { return nullptr; }
  // Takes `next` over: an op that reads this op's output 0, which nothing else reads, and
  // whose other inputs are computed before this op. Returns whether it did; if so, the op's
  // inputs gain next's other inputs, its outputs are next's, and next is not run.
  virtual bool Fuse(const PartitionOp& /*next*/) { return false; }

  // Computes the outputs from the inputs with the shapes of the last Prepare: `in` and `out`
  // hold one pointer per inputs() / outputs(), each with the elements of its shape (a tensor
  // UseCodes made codes: its buffer, holding one int8 code per element), and `out` one more
  // for side codes (UseSideCodes). Cannot fail.
  virtual void Eval(const float* const* in, float* const* out, OpScratch* scratch,
                    ThreadPool* pool) = 0;

 protected:
  std::vector<int> inputs_;
  std::vector<int> outputs_;
  std::string init_error_;
};

// The elements of a shape; -1 if a dim is negative or the product overflows int64.
int64_t ShapeElements(const Shape& shape);

// The op for plan node `node_index`: a bitlite op or a claimable builtin. Never nullptr; a node
// the delegate cannot run gives an op whose init_error() says why.
std::unique_ptr<PartitionOp> MakePartitionOp(TfLiteContext* context, int node_index,
                                             const DelegateOptions& options);

}  // namespace bitlite

#endif  // BITLITE_SRC_PARTITION_OP_H_
