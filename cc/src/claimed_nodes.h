// Which nodes of the execution plan the delegate takes over.
#ifndef BITLITE_SRC_CLAIMED_NODES_H_
#define BITLITE_SRC_CLAIMED_NODES_H_

#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"

namespace bitlite {

// Fills *nodes with every BitliteConv2D / BitliteFullyConnected node, in plan order. Returns
// false with a message if the plan cannot be read, or if a bitlite node reads a tensor that
// it or a later node writes: TFLite's partitioner crashes on such cycles, so they must never
// reach ReplaceNodeSubsetsWithDelegateKernels.
bool FindClaimedNodes(TfLiteContext* context, std::vector<int>* nodes, int* plan_size,
                      std::string* error);

}  // namespace bitlite

#endif  // BITLITE_SRC_CLAIMED_NODES_H_
