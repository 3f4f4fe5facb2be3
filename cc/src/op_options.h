// Custom options of the bitlite ops (cc/FORMAT.md, "Custom options"), parsed and validated
// once when the delegate takes a node over.
#ifndef BITLITE_SRC_OP_OPTIONS_H_
#define BITLITE_SRC_OP_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/op_params.h"

namespace bitlite {

constexpr int kFormatVersion = 1;

// The custom code the converter writes for each op kind.
const char* OpName(OpKind kind);

// Parses the FlexBuffer map `data` for an op of `kind`. Returns false with a message in
// *error (without op or node prefix) when the options break FORMAT.md in any way, including
// layers whose int32 accumulator could overflow.
bool ParseOpOptions(OpKind kind, const uint8_t* data, size_t size, OpParams* params,
                    std::string* error);

}  // namespace bitlite

#endif  // BITLITE_SRC_OP_OPTIONS_H_
