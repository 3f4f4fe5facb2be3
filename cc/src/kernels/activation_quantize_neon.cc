// aarch64 NEON activation quantization to int8 codes: 16 values per step, the same IEEE
// operations as ActivationCode (divide, round half to even, clip on floats, NaN to 0; the
// binary grid's sign test). armv7 has no NEON division and uses the reference.
#include <arm_neon.h>

#include "kernels/activation_quantize.h"

namespace bitlite {
namespace {

struct Quantizer {
  explicit Quantizer(const ActivationGrid& grid)
      : binary(grid.is_binary),
        scale(vdupq_n_f32(grid.scale)),
        low(vdupq_n_f32(static_cast<float>(grid.range.min))),
        high(vdupq_n_f32(static_cast<float>(grid.range.max))) {}

  // 4 codes as int32.
  int32x4_t Codes(const float* x) const {
    const float32x4_t v = vld1q_f32(x);
    if (binary) {
      // -1 (all ones) where x <= -FLT_MIN (ordered: NaN gives +1), else +1.
      const uint32x4_t negative = vcleq_f32(v, vdupq_n_f32(-FLT_MIN));
      return vorrq_s32(vreinterpretq_s32_u32(negative), vdupq_n_s32(1));
    }
    const float32x4_t scaled = vdivq_f32(v, scale);
    const uint32x4_t number = vceqq_f32(scaled, scaled);
    const float32x4_t code = vminq_f32(vmaxq_f32(vrndnq_f32(scaled), low), high);
    // NaN lanes are zeroed by the mask, not by the conversion.
    return vandq_s32(vcvtq_s32_f32(code), vreinterpretq_s32_u32(number));
  }

  void Quantize16(const float* x, int8_t* codes) const {
    const int16x8_t first = vcombine_s16(vmovn_s32(Codes(x)), vmovn_s32(Codes(x + 4)));
    const int16x8_t second = vcombine_s16(vmovn_s32(Codes(x + 8)), vmovn_s32(Codes(x + 12)));
    vst1q_s8(codes, vcombine_s8(vmovn_s16(first), vmovn_s16(second)));
  }

  bool binary;
  float32x4_t scale;
  float32x4_t low;
  float32x4_t high;
};

}  // namespace

void QuantizeActivationsNeon(const float* x, size_t count, const ActivationGrid& grid,
                             int8_t* codes) {
  const Quantizer quantizer(grid);
  size_t i = 0;
  for (; i + 16 <= count; i += 16) quantizer.Quantize16(x + i, codes + i);
  if (i == count) return;
  // The tail through a zero-padded copy: no read or write past the caller's arrays.
  float tail_x[16] = {};
  int8_t tail_codes[16];
  for (size_t j = 0; j < count - i; ++j) tail_x[j] = x[i + j];
  quantizer.Quantize16(tail_x, tail_codes);
  for (size_t j = 0; j < count - i; ++j) codes[i + j] = tail_codes[j];
}

}  // namespace bitlite
