// Which nodes of the execution plan the delegate takes over.
#ifndef BITLITE_SRC_CLAIMED_NODES_H_
#define BITLITE_SRC_CLAIMED_NODES_H_

#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"

namespace bitlite {

struct ClaimedNodes {
  std::vector<int> nodes;  // plan order
  int plan_size = 0;
  int bitlite_nodes = 0;
  int glue_nodes = 0;
  // One line per glue builtin left to the runtime, with the reason (for verbose).
  std::vector<std::string> left_to_runtime;
};

// Fills *claimed with every BitliteConv2D / BitliteFullyConnected node and, with
// `claim_builtins`, the glue builtins around them (glue/glue_ops.h: ClaimableGlue) that are
// connected to a bitlite op through claimed nodes: a run of glue that only feeds the runtime's
// own ops (the float stem of an 8-bit layer, say) gains nothing from a delegate node of its
// own and is left to the runtime. Returns false with a message if the plan cannot be read, or
// if a bitlite node reads a tensor that it or a later node writes: TFLite's partitioner
// crashes on such cycles, so they must never reach ReplaceNodeSubsetsWithDelegateKernels (a
// glue node in that position is simply not claimed).
bool FindClaimedNodes(TfLiteContext* context, bool claim_builtins, ClaimedNodes* claimed,
                      std::string* error);

}  // namespace bitlite

#endif  // BITLITE_SRC_CLAIMED_NODES_H_
