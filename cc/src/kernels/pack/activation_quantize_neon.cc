// aarch64 NEON activation quantization to int8 codes: 16 values per step, bit-identical to
// ActivationCode. armv7 has no NEON division and uses the reference.
//
// The same IEEE division, then FCVTNS, which rounds half to even whatever FPCR says,
// saturates out-of-range values (infinities included) and gives 0 for NaN, exactly as the
// reference's NaN rule. Saturating narrows keep the sign of what they saturate, so clipping
// to the grid afterwards on int8 lanes equals the reference's clip on floats.
#include <arm_neon.h>

#include "kernels/pack/activation_quantize.h"

namespace bitlite {
namespace {

struct Quantizer {
  explicit Quantizer(const ActivationGrid& grid)
      : binary(grid.is_binary),
        scale(vdupq_n_f32(grid.scale)),
        low(vdupq_n_s8(static_cast<int8_t>(grid.range.min))),
        high(vdupq_n_s8(static_cast<int8_t>(grid.range.max))) {}

  // 4 codes as int32, before the clip.
  int32x4_t Codes(float32x4_t v) const {
    if (binary) {
      // -1 (all ones) where x <= -FLT_MIN (ordered: NaN gives +1), else +1.
      const uint32x4_t negative = vcleq_f32(v, vdupq_n_f32(-FLT_MIN));
      return vorrq_s32(vreinterpretq_s32_u32(negative), vdupq_n_s32(1));
    }
    return vcvtnq_s32_f32(vdivq_f32(v, scale));
  }

  void Quantize16(const float* x, int8_t* codes) const {
    const float32x4x4_t v = vld1q_f32_x4(x);  // one LD1 for all 16
    const int16x8_t first = vqmovn_high_s32(vqmovn_s32(Codes(v.val[0])), Codes(v.val[1]));
    const int16x8_t second = vqmovn_high_s32(vqmovn_s32(Codes(v.val[2])), Codes(v.val[3]));
    const int8x16_t narrow = vqmovn_high_s16(vqmovn_s16(first), second);
    vst1q_s8(codes, vminq_s8(vmaxq_s8(narrow, low), high));
  }

  bool binary;
  float32x4_t scale;
  int8x16_t low;
  int8x16_t high;
};

}  // namespace

// Divides rather than comparing with packing's thresholds, for the reason PackActivationsNeon
// gives.
void QuantizeActivationsNeon(const float* x, size_t count, const ActivationPacking& packing,
                             int8_t* codes) {
  const Quantizer quantizer(packing.grid);
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
