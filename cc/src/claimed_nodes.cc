#include "claimed_nodes.h"

#include "bitlite_op.h"
#include "error_message.h"

namespace bitlite {
namespace {

bool IsTensorIndex(const TfLiteContext* context, int index) {
  return index >= 0 && static_cast<size_t>(index) < context->tensors_size;
}

}  // namespace

bool FindClaimedNodes(TfLiteContext* context, std::vector<int>* nodes, int* plan_size,
                      std::string* error) {
  TfLiteIntArray* plan = nullptr;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk || plan == nullptr) {
    return Fail("bitlite: cannot read the execution plan", error);
  }
  *plan_size = plan->size;
  // Plan position of the last node writing each tensor (-1: none).
  std::vector<int> last_writer(context->tensors_size, -1);
  std::vector<TfLiteNode*> plan_nodes(plan->size, nullptr);
  std::vector<bool> is_bitlite(plan->size, false);
  for (int position = 0; position < plan->size; ++position) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* registration = nullptr;
    if (context->GetNodeAndRegistration(context, plan->data[position], &node, &registration) !=
            kTfLiteOk ||
        node == nullptr || registration == nullptr) {
      continue;
    }
    plan_nodes[position] = node;
    OpKind kind;
    is_bitlite[position] = FindBitliteOp(*registration, &kind);
    for (int i = 0; node->outputs != nullptr && i < node->outputs->size; ++i) {
      const int tensor = node->outputs->data[i];
      if (IsTensorIndex(context, tensor)) last_writer[tensor] = position;
    }
  }
  nodes->clear();
  for (int position = 0; position < plan->size; ++position) {
    if (!is_bitlite[position]) continue;
    const TfLiteNode* node = plan_nodes[position];
    for (int i = 0; node->inputs != nullptr && i < node->inputs->size; ++i) {
      const int tensor = node->inputs->data[i];
      if (IsTensorIndex(context, tensor) && last_writer[tensor] >= position) {
        return Fail("bitlite: node " + std::to_string(plan->data[position]) + " reads tensor " +
                        std::to_string(tensor) + ", which node " +
                        std::to_string(plan->data[last_writer[tensor]]) +
                        " writes at or after it: the model's graph is malformed",
                    error);
      }
    }
    nodes->push_back(plan->data[position]);
  }
  return true;
}

}  // namespace bitlite
