// Portable activation packing: ActivationCode per value, then its plane bits or its byte.
#include "kernels/activation_pack.h"

namespace bitlite {

void PackActivationsScalar(const float* x, int64_t pixels, int64_t channels,
                           const ActivationGrid& grid, const PlaneGrid& planes, uint64_t* out,
                           int32_t* sums) {
  const int code_bits = planes.CodeBits();
  const int plane_count = planes.Planes();
  const int64_t per_word = 64 / code_bits;
  const int64_t words = WordsPerTap(channels, code_bits);
  for (int64_t p = 0; p < pixels; ++p, x += channels, out += plane_count * words) {
    int32_t sum = 0;
    for (int64_t word = 0; word < words; ++word) {
      uint64_t fields[4] = {0, 0, 0, 0};
      const int64_t first = word * per_word;
      const int64_t end = channels - first < per_word ? channels - first : per_word;
      for (int64_t i = 0; i < end; ++i) {
        const int code = ActivationCode(x[first + i], grid);
        sum += planes.Value(code);
        const uint32_t v = planes.PlaneValue(code);
        for (int j = 0; j < plane_count; ++j) {
          const uint64_t field = planes.bytes ? v : (v >> j) & 1;  // a byte, or plane j's bit
          fields[j] |= field << (i * code_bits);
        }
      }
      for (int j = 0; j < plane_count; ++j) out[word * plane_count + j] = fields[j];
    }
    sums[p] = sum;
  }
}

}  // namespace bitlite
