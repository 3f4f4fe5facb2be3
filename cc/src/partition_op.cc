#include "partition_op.h"

#include <algorithm>
#include <utility>

#include "bitlite_op.h"
#include "glue/glue_ops.h"
#include "op_geometry.h"

namespace bitlite {
namespace {

// A BitliteConv2D / BitliteFullyConnected node: x in, y out (the packed weights are its own);
// or a BitliteConv2D and the MAX_POOL_2D it fused (x in, the pool's output out), or the ADD it
// fused (x and the ADD's other operand in, the sum out).
class BitliteNodeOp : public PartitionOp {
 public:
  BitliteNodeOp(TfLiteContext* context, int node_index, const DelegateOptions& options)
      : op_(context, node_index, options) {
    // A broken node keeps no tensors: its Prepare reports what is wrong with it.
    init_error_ = op_.init_error();
    if (op_.input_tensor() >= 0 && op_.output_tensor() >= 0) {
      inputs_ = {op_.input_tensor()};
      outputs_ = {op_.output_tensor()};
    }
  }

  std::string MessagePrefix() const override { return op_.MessagePrefix(); }
  std::string Describe(const TfLiteContext* context) const override {
    return op_.Describe(context);
  }
  std::string KernelName() const override { return op_.KernelName(); }

  bool Prepare(const TfLiteContext* context, const std::vector<Shape>& input_shapes,
               std::vector<Shape>* output_shapes, int threads, OpScratch* scratch,
               std::string* error) override {
    output_shapes->assign(1, Shape());
    const Shape input = input_shapes.empty() ? Shape() : input_shapes[0];
    UseCodes(false, nullptr);  // until the delegate kernel decides again
    op_.ShareWinogradWorkspaces(&scratch->winograd);  // the partition's ops run one at a time
    if (!op_.Prepare(context, input, &(*output_shapes)[0], error, threads)) return false;
    // A fused ADD's residual is the output's shape (FusableAdd: declared so).
    if (inputs_.size() == 2 && input_shapes.size() == 2 &&
        input_shapes[1] != (*output_shapes)[0]) {
      *error = op_.fused_prefix() + "the inputs have shapes " +
               ShapeToString((*output_shapes)[0]) + " and " + ShapeToString(input_shapes[1]) +
               ": a residual ADD run inside the convolution before it needs equal shapes";
      return false;
    }
    // The reference kernel's scratch: one code per input value, one accumulator per channel.
    scratch->codes.resize(std::max(scratch->codes.size(), static_cast<size_t>(op_.input_size())));
    scratch->acc.resize(std::max(scratch->acc.size(), static_cast<size_t>(op_.out_channels())));
    return true;
  }

  // The fused node's output takes side codes, as the glue op's would.
  bool Fuse(const PartitionOp& next) override {
    if (outputs_.size() != 1) return false;
    const std::vector<int>& operands = next.inputs();
    if (const MaxPoolWindow* window = next.FusableMaxPool()) {
      if (!op_.FuseMaxPool(*window, next.MessagePrefix())) return false;
    } else if (const glue::Clamp* clamp = next.FusableAdd()) {
      // The ADD reads the output once: the other operand is its residual.
      const bool residual_first = operands[1] == outputs_[0];
      if (!op_.FuseAdd(*clamp, residual_first, next.MessagePrefix())) return false;
      inputs_.push_back(operands[residual_first ? 0 : 1]);
    } else {
      return false;
    }
    outputs_ = next.outputs();
    return true;
  }
  bool WritesSideCodes() const override { return op_.fuses(); }
  void UseSideCodes(const ActivationPacking* grid) override { side_grid_ = grid; }

  const ActivationPacking* InputCodeGrid() const override { return op_.InputCodeGrid(); }
  bool WritesCodes() const override { return op_.WritesCodes(); }
  void UseCodes(bool input_codes, const ActivationPacking* output_grid) override {
    input_codes_ = input_codes;
    output_grid_ = output_grid;
    op_.WillWriteCodes(output_grid);
  }

  void Eval(const float* const* in, float* const* out, OpScratch* scratch,
            ThreadPool* pool) override {
    if (op_.output_size() == 0) return;
    ActivationInput x;
    // Codes tensors are the delegate kernel's float buffers holding int8 (char types may
    // alias any storage).
    if (input_codes_) {
      x.codes = reinterpret_cast<const int8_t*>(in[0]);
    } else {
      x.values = in[0];
    }
    ActivationOutput y;
    if (output_grid_ != nullptr) {
      y.codes = reinterpret_cast<int8_t*>(out[0]);
      y.grid = output_grid_;
    } else {
      y.values = out[0];
      if (side_grid_ != nullptr) {
        y.side_codes = reinterpret_cast<int8_t*>(out[outputs_.size()]);
        y.side_grid = side_grid_;
      }
      if (inputs_.size() == 2) y.residual = in[1];
    }
    op_.Run(x, y, scratch->codes.data(), scratch->acc.data(), pool);
  }

 private:
  BitliteOp op_;
  bool input_codes_ = false;
  const ActivationPacking* output_grid_ = nullptr;  // the reader's, owned by its kernel
  const ActivationPacking* side_grid_ = nullptr;    // UseSideCodes'
};

}  // namespace

int64_t ShapeElements(const Shape& shape) {
  // Called per tensor and invoke: an overflow check without a division.
  int64_t elements = 1;
  for (int dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(elements, int64_t{dim}, &elements)) return -1;
  }
  return elements;
}

std::unique_ptr<PartitionOp> MakePartitionOp(TfLiteContext* context, int node_index,
                                             const DelegateOptions& options) {
  TfLiteNode* node = nullptr;
  TfLiteRegistration* registration = nullptr;
  OpKind kind;
  if (context->GetNodeAndRegistration(context, node_index, &node, &registration) == kTfLiteOk &&
      node != nullptr && registration != nullptr && !FindBitliteOp(*registration, &kind)) {
    return MakeGlueOp(context, node_index);
  }
  return std::make_unique<BitliteNodeOp>(context, node_index, options);
}

}  // namespace bitlite
