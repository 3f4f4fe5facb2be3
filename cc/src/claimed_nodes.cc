#include "claimed_nodes.h"

#include <numeric>

#include "bitlite_op.h"
#include "error_message.h"
#include "glue/glue_ops.h"

namespace bitlite {
namespace {

bool IsTensorIndex(const TfLiteContext* context, int index) {
  return index >= 0 && static_cast<size_t>(index) < context->tensors_size;
}

// Union-find over plan positions.
int Root(std::vector<int>* parent, int i) {
  while ((*parent)[i] != i) i = (*parent)[i] = (*parent)[(*parent)[i]];
  return i;
}

}  // namespace

bool FindClaimedNodes(TfLiteContext* context, bool claim_builtins, ClaimedNodes* claimed,
                      std::string* error) {
  TfLiteIntArray* plan = nullptr;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk || plan == nullptr) {
    return Fail("bitlite: cannot read the execution plan", error);
  }
  *claimed = ClaimedNodes();
  claimed->plan_size = plan->size;
  // Plan position of the last node writing each tensor (-1: none).
  std::vector<int> last_writer(context->tensors_size, -1);
  std::vector<TfLiteNode*> plan_nodes(plan->size, nullptr);
  enum Kind { kOther, kBitlite, kGlue };
  std::vector<Kind> kind(plan->size, kOther);
  for (int position = 0; position < plan->size; ++position) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* registration = nullptr;
    if (context->GetNodeAndRegistration(context, plan->data[position], &node, &registration) !=
            kTfLiteOk ||
        node == nullptr || registration == nullptr) {
      continue;
    }
    plan_nodes[position] = node;
    OpKind op_kind;
    std::string reason;
    if (FindBitliteOp(*registration, &op_kind)) {
      kind[position] = kBitlite;
    } else if (claim_builtins && IsGlueBuiltin(registration->builtin_code)) {
      if (ClaimableGlue(context, plan->data[position], &reason)) {
        kind[position] = kGlue;
      } else {
        claimed->left_to_runtime.push_back("node " + std::to_string(plan->data[position]) +
                                           ": " + reason);
      }
    }
    for (int i = 0; node->outputs != nullptr && i < node->outputs->size; ++i) {
      const int tensor = node->outputs->data[i];
      if (IsTensorIndex(context, tensor)) last_writer[tensor] = position;
    }
  }
  // Cycles first: a claimed node must read only tensors written before it.
  for (int position = 0; position < plan->size; ++position) {
    if (kind[position] == kOther) continue;
    const TfLiteNode* node = plan_nodes[position];
    for (int i = 0; node->inputs != nullptr && i < node->inputs->size; ++i) {
      const int tensor = node->inputs->data[i];
      if (!IsTensorIndex(context, tensor) || last_writer[tensor] < position) continue;
      if (kind[position] == kGlue) {
        kind[position] = kOther;
        claimed->left_to_runtime.push_back("node " + std::to_string(plan->data[position]) +
                                           ": reads tensor " + std::to_string(tensor) +
                                           ", written at or after it");
        break;
      }
      return Fail("bitlite: node " + std::to_string(plan->data[position]) + " reads tensor " +
                      std::to_string(tensor) + ", which node " +
                      std::to_string(plan->data[last_writer[tensor]]) +
                      " writes at or after it: the model's graph is malformed",
                  error);
    }
  }
  // Then the groups of claimed nodes connected through the tensors they share.
  std::vector<int> parent(plan->size);
  std::iota(parent.begin(), parent.end(), 0);
  for (int position = 0; position < plan->size; ++position) {
    if (kind[position] == kOther) continue;
    const TfLiteNode* node = plan_nodes[position];
    for (int i = 0; node->inputs != nullptr && i < node->inputs->size; ++i) {
      const int tensor = node->inputs->data[i];
      const int writer = IsTensorIndex(context, tensor) ? last_writer[tensor] : -1;
      if (writer >= 0 && kind[writer] != kOther) {
        parent[Root(&parent, position)] = Root(&parent, writer);
      }
    }
  }
  std::vector<bool> has_bitlite(plan->size, false);
  for (int position = 0; position < plan->size; ++position) {
    if (kind[position] == kBitlite) has_bitlite[Root(&parent, position)] = true;
  }
  for (int position = 0; position < plan->size; ++position) {
    if (kind[position] == kOther) continue;
    if (kind[position] == kGlue && !has_bitlite[Root(&parent, position)]) {
      claimed->left_to_runtime.push_back("node " + std::to_string(plan->data[position]) +
                                         ": connected to no bitlite op");
      continue;
    }
    claimed->nodes.push_back(plan->data[position]);
    ++(kind[position] == kBitlite ? claimed->bitlite_nodes : claimed->glue_nodes);
  }
  return true;
}

}  // namespace bitlite
