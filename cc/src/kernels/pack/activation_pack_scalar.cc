// Portable activation packing: ActivationCode per value, then its plane bits or its byte.
// Also the thresholds of ActivationPacking, found here once by bisection over the floats.
#include <cmath>
#include <cstring>

#include "kernels/pack/activation_pack.h"

namespace bitlite {
namespace {

// The floats in increasing order as integers: -inf ... -0 (-1), +0 (0) ... +inf.
int64_t OrderKey(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits >> 31 ? -static_cast<int64_t>(bits & 0x7fffffffu) - 1 : static_cast<int64_t>(bits);
}

float FromOrderKey(int64_t key) {
  const uint32_t bits = key < 0 ? static_cast<uint32_t>(-(key + 1)) | 0x80000000u
                                : static_cast<uint32_t>(key);
  float x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

// The smallest non-NaN float whose code is at least `code` (> grid.range.min).
float Threshold(const ActivationGrid& grid, int code) {
  int64_t below = OrderKey(-INFINITY);  // code(-inf) is the minimum: below `code`
  int64_t at = OrderKey(INFINITY);      // code(+inf) is the maximum: at least `code`
  while (at - below > 1) {
    const int64_t middle = below + (at - below) / 2;
    (ActivationCode(FromOrderKey(middle), grid) >= code ? at : below) = middle;
  }
  return FromOrderKey(at);
}

}  // namespace

ActivationPacking MakeActivationPacking(const ActivationGrid& grid, const PlaneGrid& planes) {
  ActivationPacking packing;
  packing.grid = grid;
  packing.planes = planes;
  const int count = grid.range.max - grid.range.min;
  if (grid.is_binary || count > 7) return packing;
  for (int i = 0; i < count; ++i) {
    const float threshold = Threshold(grid, grid.range.min + 1 + i);
    if (!(std::fabs(threshold) >= FLT_MIN)) return packing;  // zero or denormal: divide
    packing.thresholds[i] = threshold;
  }
  packing.threshold_count = count;
  return packing;
}

void PackActivationsScalar(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                           const ActivationPacking& packing, uint64_t* out, int32_t* sums) {
  const PlaneGrid& planes = packing.planes;
  const int code_bits = planes.CodeBits();
  const int plane_count = planes.Planes();
  const int64_t per_word = 64 / code_bits;
  const int64_t words = WordsPerTap(channels, code_bits);
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += plane_count * words) {
    int32_t sum = 0;
    for (int64_t word = 0; word < words; ++word) {
      uint64_t fields[4] = {0, 0, 0, 0};
      const int64_t first = word * per_word;
      const int64_t end = channels - first < per_word ? channels - first : per_word;
      for (int64_t i = 0; i < end; ++i) {
        const int code = ActivationCode(x[first + i], packing.grid);
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
