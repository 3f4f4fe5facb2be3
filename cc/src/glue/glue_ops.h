// The float builtin ops the delegate claims between bitlite ops ("glue"), as partition ops:
// ADD, SUB, MUL, DIV (fused activation NONE, RELU, RELU6, RELU_N1_TO_1), MAXIMUM, MINIMUM
// (any NumPy broadcast up to rank 6), RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU (0 <= alpha <= 1),
// ROUND, MAX_POOL_2D, RESHAPE, PAD, CONCATENATION, STRIDED_SLICE (positive strides, no
// ellipsis / new-axis / shrink-axis masks), UNPACK, SPLIT, SPLIT_V, RESIZE_NEAREST_NEIGHBOR
// (constant size).
// cc/FORMAT.md "Builtin ops the delegate runs" gives the exact conditions; any node outside
// them is left to the runtime.
#ifndef BITLITE_SRC_GLUE_GLUE_OPS_H_
#define BITLITE_SRC_GLUE_GLUE_OPS_H_

#include <memory>
#include <string>

#include "bitlite/tflite_c_abi.h"
#include "partition_op.h"

namespace bitlite {

// Whether `builtin_code` is one of the builtins above (claimed only if ClaimableGlue agrees).
bool IsGlueBuiltin(int builtin_code);

// The op for builtin node `node_index` (init_error() says why it cannot run).
std::unique_ptr<PartitionOp> MakeGlueOp(TfLiteContext* context, int node_index);

// Whether the delegate takes over builtin node `node_index`: a glue builtin whose options and
// constant parameters it supports, float32 tensors (inputs constant or arena, outputs arena,
// nothing dynamic) and declared shapes it accepts. *reason says why not.
bool ClaimableGlue(TfLiteContext* context, int node_index, std::string* reason);

}  // namespace bitlite

#endif  // BITLITE_SRC_GLUE_GLUE_OPS_H_
