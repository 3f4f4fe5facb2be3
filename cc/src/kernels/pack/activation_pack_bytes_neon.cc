// aarch64 NEON activation packing into bytes (PlaneGrid::bytes), for the int8 kernels: 8 values
// per step with the same IEEE operations as ActivationCode (FDIV, FRINTN: round half to even,
// clip on floats, NaN to 0). aarch64 only: armv7 NEON has no division and always flushes
// denormals, where the scalar FPU follows FPSCR; on aarch64 both follow FPCR, so this equals
// PackActivationsScalar on the same CPU.
#include <arm_neon.h>

#include <cstring>

#include "kernels/pack/activation_pack.h"

namespace bitlite {
namespace {

struct ByteQuantizer {
  explicit ByteQuantizer(const ActivationGrid& grid, const PlaneGrid& planes)
      : binary(grid.is_binary),
        scale(vdupq_n_f32(grid.scale)),
        low(vdupq_n_f32(static_cast<float>(grid.range.min))),
        high(vdupq_n_f32(static_cast<float>(grid.range.max))),
        shift(vdupq_n_s32(planes.shift)) {}

  // v = (q - shift) / scale of 4 values: the binary grid's v is 1 for +1, 0 for -1.
  int32x4_t Values(float32x4_t x) const {
    if (binary) {
      // All ones (-1) where x <= -FLT_MIN, as IsBinaryNegative; NaN compares false: +1.
      return vaddq_s32(vdupq_n_s32(1),
                       vreinterpretq_s32_u32(vcleq_f32(x, vdupq_n_f32(-FLT_MIN))));
    }
    const float32x4_t scaled = vdivq_f32(x, scale);
    const uint32x4_t number = vceqq_f32(scaled, scaled);
    const float32x4_t code = vminq_f32(vmaxq_f32(vrndnq_f32(scaled), low), high);
    // NaN lanes: code 0 (the mask), so v = -shift as for the scalar packer.
    const int32x4_t q = vandq_s32(vcvtq_s32_f32(code), vreinterpretq_s32_u32(number));
    return vsubq_s32(q, shift);
  }

  const bool binary;
  const float32x4_t scale;
  const float32x4_t low;
  const float32x4_t high;
  const int32x4_t shift;
};

}  // namespace

void PackActivationBytesNeon(const float* x, int64_t x_stride, int64_t pixels,
                             int64_t channels, const ActivationPacking& packing, uint64_t* out,
                             int32_t* sums) {
  const ActivationGrid& grid = packing.grid;
  const PlaneGrid& planes = packing.planes;
  const ByteQuantizer quantizer(grid, planes);
  const int64_t words = WordsPerTap(channels, 8);
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += words) {
    uint8_t* bytes = reinterpret_cast<uint8_t*>(out);
    int32x4_t sum = vdupq_n_s32(0);
    int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      const int32x4_t v0 = quantizer.Values(vld1q_f32(x + c));
      const int32x4_t v1 = quantizer.Values(vld1q_f32(x + c + 4));
      sum = vaddq_s32(sum, vaddq_s32(v0, v1));
      vst1_u8(bytes + c, vreinterpret_u8_s8(vmovn_s16(vcombine_s16(vmovn_s32(v0), vmovn_s32(v1)))));
    }
    // 4 more before the scalar tail: a folded stem's 21 codes (7 x 3 channels) per pixel would
    // leave 5 scalar codes, each a scalar division, after the two steps of 8.
    if (c + 4 <= channels) {
      const int32x4_t v = quantizer.Values(vld1q_f32(x + c));
      sum = vaddq_s32(sum, v);
      const int8x8_t narrow = vmovn_s16(vcombine_s16(vmovn_s32(v), vdup_n_s16(0)));
      const uint32_t four = vget_lane_u32(vreinterpret_u32_s8(narrow), 0);
      std::memcpy(bytes + c, &four, sizeof(four));  // unaligned
      c += 4;
    }
    int32_t tail_sum = 0;
    for (; c < channels; ++c) {
      const int code = ActivationCode(x[c], grid);
      tail_sum += planes.Value(code);
      bytes[c] = static_cast<uint8_t>(planes.PlaneValue(code));
    }
    for (; c < words * 8; ++c) bytes[c] = 0;  // v of no code
    sums[p] = vaddvq_s32(sum) + tail_sum;
  }
}

}  // namespace bitlite
