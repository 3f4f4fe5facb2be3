#include "kernels/reference/weight_unpack_reference.h"

#include "kernels/op_params.h"

namespace bitlite {

bool UnpackWeightsReference(const uint8_t* packed, int64_t rows, int64_t k, int bits,
                            int8_t* codes) {
  const int64_t row_bits = k * bits;
  const int64_t row_bytes = (row_bits + 7) / 8;
  const int used_in_last_byte = static_cast<int>(row_bits - (row_bytes - 1) * 8);
  // Stored codes are offset binary; 1 bit maps {0, 1} to {-1, +1}.
  const int code_min = WeightCodeRange(bits).min;
  const int code_step = bits == 1 ? 2 : 1;
  for (int64_t row = 0; row < rows; ++row) {
    const uint8_t* bytes = packed + row * row_bytes;
    if (row_bytes > 0 && (bytes[row_bytes - 1] >> used_in_last_byte) != 0) return false;
    for (int64_t i = 0; i < k; ++i) {
      int stored = 0;
      for (int b = 0; b < bits; ++b) {
        const int64_t bit = i * bits + b;
        stored |= ((bytes[bit / 8] >> (bit % 8)) & 1) << b;
      }
      codes[row * k + i] = static_cast<int8_t>(code_min + code_step * stored);
    }
  }
  return true;
}

}  // namespace bitlite
