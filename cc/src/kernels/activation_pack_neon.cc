// aarch64 NEON activation packing, 16 values per step, with the same IEEE operations as
// ActivationCode: a division (FDIV, under the same FPCR as the scalar one), rounding half to
// even and the clip, NaN to 0, the binary grid's ordered compare with -FLT_MIN. A plane's 64
// bits come from the 64 codes narrowed to bytes: bit tests, weighted by 1 << (lane % 8), and
// summed by pairwise adds.
// armv7 keeps the scalar packer: its NEON has no division and flushes denormals to zero (x /
// scale for a denormal x could round differently). Only its binary grid's compare would be
// exact (a flushed denormal compares as 0 and gives +1, as the rule does).
#include <arm_neon.h>

#include <cstring>

#include "kernels/activation_pack.h"

namespace bitlite {
namespace {

constexpr int64_t kGroup = 16;  // floats per step: one q register of byte codes

// The 4 vectors of the kGroup values at x, of which `count` are real; the rest read as 0.
void LoadGroup(const float* x, int64_t count, float32x4_t (&v)[4]) {
  float padded[kGroup] = {};
  if (count < kGroup) {
    std::memcpy(padded, x, static_cast<size_t>(count) * sizeof(float));
    x = padded;
  }
  for (int i = 0; i < 4; ++i) v[i] = vld1q_f32(x + 4 * i);
}

// The low byte of each of 16 int32 lanes, in order.
uint8x16_t NarrowToBytes(const uint32x4_t (&lanes)[4]) {
  const uint16x8_t low = vuzp1q_u16(vreinterpretq_u16_u32(lanes[0]), vreinterpretq_u16_u32(lanes[1]));
  const uint16x8_t high = vuzp1q_u16(vreinterpretq_u16_u32(lanes[2]), vreinterpretq_u16_u32(lanes[3]));
  return vuzp1q_u8(vreinterpretq_u8_u16(low), vreinterpretq_u8_u16(high));
}

// Bit c of the result is set where byte c of masks[c / 16] is 0xff (masks are 0 or 0xff).
uint64_t MaskBits(const uint8x16_t (&masks)[4]) {
  static constexpr uint8_t kWeights[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                           1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t weights = vld1q_u8(kWeights);
  uint8x16_t weighted[4];
  for (int g = 0; g < 4; ++g) weighted[g] = vandq_u8(masks[g], weights);
  const uint8x16_t halves = vpaddq_u8(vpaddq_u8(weighted[0], weighted[1]),
                                      vpaddq_u8(weighted[2], weighted[3]));
  return vgetq_lane_u64(vreinterpretq_u64_u8(vpaddq_u8(halves, halves)), 0);
}

}  // namespace

void PackActivationsNeon(const float* x, int64_t pixels, int64_t channels,
                         const ActivationGrid& grid, const PlaneGrid& planes, uint64_t* out,
                         int32_t* sums) {
  const int64_t words = WordsPerTap(channels, 1);
  const float32x4_t scale = vdupq_n_f32(grid.scale);
  const float32x4_t negative_limit = vdupq_n_f32(-FLT_MIN);
  const int32x4_t low = vdupq_n_s32(grid.range.min);
  const int32x4_t high = vdupq_n_s32(grid.range.max);
  for (int64_t p = 0; p < pixels; ++p, x += channels, out += planes.bits * words) {
    int32x4_t sum = vdupq_n_s32(0);  // of the codes, which are the plane values
    int32_t binary_sum = 0;          // or of the binary grid's set bits
    for (int64_t word = 0; word < words; ++word) {
      // Codes (two's complement low bytes), or 0xff where the binary grid gives -1.
      uint8x16_t bytes[4];
      for (int g = 0; g < 4; ++g) {
        const int64_t first = word * 64 + g * kGroup;
        if (first >= channels) {
          bytes[g] = vdupq_n_u8(0);
          continue;
        }
        float32x4_t v[4];
        LoadGroup(x + first, channels - first, v);
        uint32x4_t lanes[4];
        for (int i = 0; i < 4; ++i) {
          if (grid.is_binary) {
            lanes[i] = vcleq_f32(v[i], negative_limit);  // ordered: NaN gives +1
          } else {
            // FCVTNS rounds half to even and saturates; clipping the integer equals
            // clipping the rounded float, and it turns NaN into 0 as ActivationCode does.
            const int32x4_t code = vcvtnq_s32_f32(vdivq_f32(v[i], scale));
            lanes[i] = vreinterpretq_u32_s32(vminq_s32(vmaxq_s32(code, low), high));
          }
        }
        bytes[g] = NarrowToBytes(lanes);
        if (!grid.is_binary) sum = vpadalq_s16(sum, vpaddlq_s8(vreinterpretq_s8_u8(bytes[g])));
      }
      if (grid.is_binary) {
        const int64_t valid = channels - word * 64;
        const uint64_t valid_bits = valid >= 64 ? ~uint64_t{0} : (uint64_t{1} << valid) - 1;
        const uint64_t plane = ~MaskBits(bytes) & valid_bits;
        out[word] = plane;
        binary_sum += __builtin_popcountll(plane);
        continue;
      }
      for (int j = 0; j < planes.bits; ++j) {
        uint8x16_t masks[4];
        for (int g = 0; g < 4; ++g) masks[g] = vtstq_u8(bytes[g], vdupq_n_u8(static_cast<uint8_t>(1 << j)));
        out[word * planes.bits + j] = MaskBits(masks);
      }
    }
    sums[p] = grid.is_binary ? binary_sum : vaddvq_s32(sum);
  }
}

}  // namespace bitlite
