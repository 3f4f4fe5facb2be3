// Checked access to the interpreter's tensors: indices and dims come from an untrusted model.
#ifndef BITLITE_SRC_TFLITE_TENSORS_H_
#define BITLITE_SRC_TFLITE_TENSORS_H_

#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"

namespace bitlite {

// The tensor at `index`, or nullptr if the index is negative (an optional input left out) or
// past the end. Never cache the pointer across calls: the tensor array may move.
const TfLiteTensor* TensorAt(const TfLiteContext* context, int index);
TfLiteTensor* MutableTensorAt(TfLiteContext* context, int index);

// The tensor's dims, or false if it has none.
bool TensorShape(const TfLiteTensor& tensor, std::vector<int>* shape);

// A TfLiteIntArray from malloc, which is how the runtime frees what ResizeTensor receives.
// Returns nullptr if out of memory.
TfLiteIntArray* NewIntArray(const std::vector<int>& values);

bool IsConstant(const TfLiteTensor& tensor);

std::string TypeName(TfLiteType type);

}  // namespace bitlite

#endif  // BITLITE_SRC_TFLITE_TENSORS_H_
