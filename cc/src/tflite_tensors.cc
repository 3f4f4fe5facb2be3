#include "tflite_tensors.h"

#include <cstddef>
#include <cstdlib>

namespace bitlite {

const TfLiteTensor* TensorAt(const TfLiteContext* context, int index) {
  return MutableTensorAt(const_cast<TfLiteContext*>(context), index);
}

TfLiteTensor* MutableTensorAt(TfLiteContext* context, int index) {
  if (context->tensors == nullptr || index < 0 ||
      static_cast<size_t>(index) >= context->tensors_size) {
    return nullptr;
  }
  return &context->tensors[index];
}

bool TensorShape(const TfLiteTensor& tensor, std::vector<int>* shape) {
  if (tensor.dims == nullptr || tensor.dims->size < 0) return false;
  shape->assign(tensor.dims->data, tensor.dims->data + tensor.dims->size);
  return true;
}

TfLiteIntArray* NewIntArray(const std::vector<int>& values) {
  void* memory = std::malloc(offsetof(TfLiteIntArray, data) + values.size() * sizeof(int));
  if (memory == nullptr) return nullptr;
  TfLiteIntArray* array = static_cast<TfLiteIntArray*>(memory);
  array->size = static_cast<int>(values.size());
  for (size_t i = 0; i < values.size(); ++i) array->data[i] = values[i];
  return array;
}

bool IsConstant(const TfLiteTensor& tensor) {
  return tensor.allocation_type == kTfLiteMmapRo || tensor.allocation_type == kTfLitePersistentRo;
}

std::string TypeName(TfLiteType type) {
  switch (type) {
    case kTfLiteFloat32:
      return "float32";
    case kTfLiteUInt8:
      return "uint8";
    case kTfLiteInt8:
      return "int8";
    case kTfLiteInt32:
      return "int32";
    case kTfLiteInt16:
      return "int16";
    case kTfLiteFloat16:
      return "float16";
    default:
      return "type " + std::to_string(static_cast<int>(type));
  }
}

}  // namespace bitlite
