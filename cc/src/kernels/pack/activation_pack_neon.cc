// aarch64 NEON activation packing, 16 values per step, with the same IEEE operations as
// ActivationCode: a division (FDIV, under the same FPCR as the scalar one), rounding half to
// even and the clip, NaN to 0, the binary grid's ordered compare with -FLT_MIN. A plane's 64
// bits come from the 64 codes narrowed to bytes: bit tests, weighted by 1 << (lane % 8), and
// summed by pairwise adds. PackActivationCodesNeon packs int8 codes another op quantized
// (FORMAT.md "Codes between ops") through the same word loop, with the codes as the bytes
// (the binary grid's: code < 0); bytes (PlaneGrid::bytes) are v = code - shift, 16 per step.
// armv7 keeps the scalar packer: its NEON has no division and flushes denormals to zero (x /
// scale for a denormal x could round differently). Only its binary grid's compare would be
// exact (a flushed denormal compares as 0 and gives +1, as the rule does).
#include <arm_neon.h>

#include <cstring>

#include "kernels/pack/activation_pack.h"

namespace bitlite {
namespace {

constexpr int64_t kGroup = 16;  // floats per step: one q register of byte codes

// The low byte of each of 16 int32 lanes, in order.
inline uint8x16_t NarrowToBytes(const uint32x4_t (&lanes)[4]) {
  const uint16x8_t low = vuzp1q_u16(vreinterpretq_u16_u32(lanes[0]), vreinterpretq_u16_u32(lanes[1]));
  const uint16x8_t high = vuzp1q_u16(vreinterpretq_u16_u32(lanes[2]), vreinterpretq_u16_u32(lanes[3]));
  return vuzp1q_u8(vreinterpretq_u8_u16(low), vreinterpretq_u8_u16(high));
}

// Bit c of the result is set where byte c of masks[c / 16] is 0xff (masks are 0 or 0xff).
inline uint64_t MaskBits(const uint8x16_t (&masks)[4], uint8x16_t weights) {
  uint8x16_t weighted[4];
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) weighted[g] = vandq_u8(masks[g], weights);
  const uint8x16_t halves = vpaddq_u8(vpaddq_u8(weighted[0], weighted[1]),
                                      vpaddq_u8(weighted[2], weighted[3]));
  return vgetq_lane_u64(vreinterpretq_u64_u8(vpaddq_u8(halves, halves)), 0);
}

struct Quantizer {
  explicit Quantizer(const ActivationGrid& grid)
      : scale(vdupq_n_f32(grid.scale)),
        negative_limit(vdupq_n_f32(-FLT_MIN)),
        low(vdupq_n_s32(grid.range.min)),
        high(vdupq_n_s32(grid.range.max)) {}

  // The kGroup values at x as bytes: codes (two's complement low byte), or on the binary
  // grid 0xff where the code is -1.
  template <bool kBinary>
  uint8x16_t Group(const float* x) const {
    uint32x4_t lanes[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const float32x4_t v = vld1q_f32(x + 4 * i);
      if (kBinary) {
        lanes[i] = vcleq_f32(v, negative_limit);  // ordered: NaN gives +1
      } else {
        // FCVTNS rounds half to even and saturates; clipping the integer equals clipping
        // the rounded float, and it turns NaN into 0 as ActivationCode does.
        const int32x4_t code = vcvtnq_s32_f32(vdivq_f32(v, scale));
        lanes[i] = vreinterpretq_u32_s32(vminq_s32(vmaxq_s32(code, low), high));
      }
    }
    return NarrowToBytes(lanes);
  }

  // The same for the `count` < kGroup values at x, the rest read as 0.
  template <bool kBinary>
  uint8x16_t PartialGroup(const float* x, int64_t count) const {
    float padded[kGroup] = {};
    std::memcpy(padded, x, static_cast<size_t>(count) * sizeof(float));
    return Group<kBinary>(padded);
  }

  const float32x4_t scale;
  const float32x4_t negative_limit;
  const int32x4_t low;
  const int32x4_t high;
};

// The same bytes from int8 codes of the grid: the codes, or on the binary grid 0xff where
// the code is -1.
struct CodeLoader {
  template <bool kBinary>
  uint8x16_t Group(const int8_t* codes) const {
    const int8x16_t q = vld1q_s8(codes);
    return kBinary ? vcltzq_s8(q) : vreinterpretq_u8_s8(q);
  }

  template <bool kBinary>
  uint8x16_t PartialGroup(const int8_t* codes, int64_t count) const {
    int8_t padded[kGroup] = {};
    std::memcpy(padded, codes, static_cast<size_t>(count));
    return Group<kBinary>(padded);
  }
};

// Bit planes of pixels whose values `loader` (Quantizer or CodeLoader) turns into bytes.
template <bool kBinary, class Value, class Loader>
void Pack(const Value* x, int64_t x_stride, int64_t pixels, int64_t channels,
          const Loader& loader, const PlaneGrid& planes, uint64_t* out, int32_t* sums) {
  static constexpr uint8_t kWeights[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                           1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t weights = vld1q_u8(kWeights);
  const int64_t words = WordsPerTap(channels, 1);
  const int plane_count = kBinary ? 1 : planes.bits;
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += plane_count * words) {
    int32x4_t sum = vdupq_n_s32(0);  // of the codes, which are the plane values
    int32_t binary_sum = 0;          // or of the binary grid's set bits
    for (int64_t word = 0; word < words; ++word) {
      const Value* values = x + word * 64;
      const int64_t count = channels - word * 64;  // values left from this word on
      uint8x16_t bytes[4];
      if (count >= 64) {
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) bytes[g] = loader.template Group<kBinary>(values + g * kGroup);
      } else {
        for (int g = 0; g < 4; ++g) {
          const int64_t left = count - g * kGroup;
          const Value* group = values + g * kGroup;
          bytes[g] = left >= kGroup ? loader.template Group<kBinary>(group)
                     : left > 0     ? loader.template PartialGroup<kBinary>(group, left)
                                    : vdupq_n_u8(0);
        }
      }
      if (kBinary) {
        const uint64_t valid_bits = count >= 64 ? ~uint64_t{0} : (uint64_t{1} << count) - 1;
        const uint64_t plane = ~MaskBits(bytes, weights) & valid_bits;
        out[word] = plane;
        binary_sum += __builtin_popcountll(plane);
        continue;
      }
      // |code| <= 15: four codes fit a byte, the word's 64 one int16 per lane pair.
      const int8x16_t quads = vreinterpretq_s8_u8(
          vaddq_u8(vaddq_u8(bytes[0], bytes[1]), vaddq_u8(bytes[2], bytes[3])));
      sum = vpadalq_s16(sum, vpaddlq_s8(quads));
      for (int j = 0; j < plane_count; ++j) {
        const uint8x16_t bit = vdupq_n_u8(static_cast<uint8_t>(1 << j));
        uint8x16_t masks[4];
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) masks[g] = vtstq_u8(bytes[g], bit);
        out[word * plane_count + j] = MaskBits(masks, weights);
      }
    }
    sums[p] = kBinary ? binary_sum : vaddvq_s32(sum);
  }
}

}  // namespace

// Divides rather than comparing with packing.thresholds: one FDIV per 4 values against up to
// 7 compares and adds, so fewer instructions (what bench/arm counts); whether the compares win
// in cycles on an in-order core with a slow FDIV is not measured.
void PackActivationsNeon(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                         const ActivationPacking& packing, uint64_t* out, int32_t* sums) {
  const Quantizer quantizer(packing.grid);
  if (packing.grid.is_binary) {
    Pack<true>(x, x_stride, pixels, channels, quantizer, packing.planes, out, sums);
  } else {
    Pack<false>(x, x_stride, pixels, channels, quantizer, packing.planes, out, sums);
  }
}

namespace {

// Bytes v = code - shift (the binary grid's: 1 for +1, 0 for -1), 16 per step; the tail
// through a zero-padded copy, its bytes past `channels` (to the word's end) set to 0.
template <bool kBinary>
void PackCodeBytes(const int8_t* codes, int64_t codes_stride, int64_t pixels, int64_t channels,
                   const PlaneGrid& planes, uint64_t* out, int32_t* sums) {
  const int64_t words = WordsPerTap(channels, 8);
  const int64_t stored = words * 8;  // the values and the zeros after them
  const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(planes.shift));
  const auto values = [shift](int8x16_t q) {
    return kBinary ? vreinterpretq_s8_u8(vshrq_n_u8(vcgtzq_s8(q), 7)) : vsubq_s8(q, shift);
  };
  for (int64_t p = 0; p < pixels; ++p, codes += codes_stride, out += words) {
    int8_t* bytes = reinterpret_cast<int8_t*>(out);
    int32x4_t sum = vdupq_n_s32(0);  // of the codes
    int64_t c = 0;
    for (; c + kGroup <= channels; c += kGroup) {
      const int8x16_t q = vld1q_s8(codes + c);
      sum = vpadalq_s16(sum, vpaddlq_s8(q));
      vst1q_s8(bytes + c, values(q));
    }
    if (c < stored) {
      const size_t left = static_cast<size_t>(channels - c);
      int8_t tail[kGroup] = {};
      std::memcpy(tail, codes + c, left);
      const int8x16_t q = vld1q_s8(tail);
      sum = vpadalq_s16(sum, vpaddlq_s8(q));
      vst1q_s8(tail, values(q));
      std::memset(tail + left, 0, kGroup - left);
      std::memcpy(bytes + c, tail, static_cast<size_t>(stored - c));
    }
    // sum of v = (sum of codes - channels * shift) / scale, exactly (FORMAT.md grids).
    sums[p] = static_cast<int32_t>((vaddvq_s32(sum) - channels * planes.shift) / planes.scale);
  }
}

}  // namespace

void PackActivationCodesNeon(const int8_t* codes, int64_t codes_stride, int64_t pixels,
                             int64_t channels, const PlaneGrid& planes, uint64_t* out,
                             int32_t* sums) {
  if (planes.bytes) {
    (planes.binary ? PackCodeBytes<true> : PackCodeBytes<false>)(codes, codes_stride, pixels,
                                                                 channels, planes, out, sums);
    return;
  }
  const CodeLoader loader;
  if (planes.binary) {
    Pack<true>(codes, codes_stride, pixels, channels, loader, planes, out, sums);
  } else {
    Pack<false>(codes, codes_stride, pixels, channels, loader, planes, out, sums);
  }
}

}  // namespace bitlite
