// Portable bitserial micro-kernel: tiles of 2 pixels x 4 channels, one uint64 word each. The fallback on every CPU; __builtin_popcountll is one instruction where the
// compiler may assume one (-mpopcnt, aarch64) and a short bit trick elsewhere.
#include "kernels/bitserial/bgemm_tile.h"

namespace bitlite {
namespace {

struct ScalarOps {
  using Vec = uint64_t;
  static constexpr int kLanes = 1;
  static constexpr int kVectors = 4;
  static constexpr int kPixels = 2;
  static constexpr int kAccumulators = 8;
  static Vec Zero() { return 0; }
  static Vec Load(const uint64_t* p) { return *p; }
  static Vec Broadcast(const uint64_t* p) { return *p; }
  template <bool kNegative>
  static Vec Accumulate(Vec acc, Vec a, Vec b) {
    const Vec count = static_cast<Vec>(__builtin_popcountll(a & b));
    return kNegative ? acc - count : acc + count;
  }
  template <int kShift>
  static Vec Combine(Vec total, Vec acc) { return total + (acc << kShift); }
  static void Store(const Vec (&totals)[kVectors], int32_t* out) {
    for (int n = 0; n < kVectors; ++n) {
      out[n] = static_cast<int32_t>(static_cast<uint32_t>(totals[n]));
    }
  }
};

}  // namespace

BgemmKernel BgemmScalar(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return bgemm_tile::Select<ScalarOps>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
