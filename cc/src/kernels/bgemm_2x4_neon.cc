// NEON bitserial micro-kernel (aarch64 and armv7): tiles of 2 pixels x 4 channels (two
// 128-bit vectors of 2 channel words), VCNT byte counts widened to 64-bit lanes by pairwise
// adds.
#include <arm_neon.h>

#include "kernels/bgemm_tile.h"

namespace bitlite {
namespace {

struct NeonOps {
  using Vec = uint64x2_t;
  static constexpr int kLanes = 2;
  static constexpr int kVectors = 2;
  static constexpr int kPixels = 2;
  static constexpr int kAccumulators = 8;
  static Vec Zero() { return vdupq_n_u64(0); }
  static Vec Load(const uint64_t* p) { return vld1q_u64(p); }
  static Vec Broadcast(const uint64_t* p) { return vld1q_dup_u64(p); }
  template <bool kNegative>
  static Vec Accumulate(Vec acc, Vec a, Vec b) {
    const uint8x16_t bytes = vcntq_u8(vreinterpretq_u8_u64(vandq_u64(a, b)));
    const Vec count = vpaddlq_u32(vpaddlq_u16(vpaddlq_u8(bytes)));
    return kNegative ? vsubq_u64(acc, count) : vaddq_u64(acc, count);
  }
  template <int kShift>
  static Vec Combine(Vec total, Vec acc) { return vaddq_u64(total, vshlq_n_u64(acc, kShift)); }
  static void Store(Vec acc, int32_t* out) {
    vst1_s32(out, vreinterpret_s32_u32(vmovn_u64(acc)));
  }
};

}  // namespace

BgemmKernel BgemmNeon(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return bgemm_tile::Select<NeonOps>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
