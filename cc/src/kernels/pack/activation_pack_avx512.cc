// AVX-512 activation packing, 16 values per step, bit-identical to ActivationCode. Bit planes
// come straight from mask registers: the binary grid's from one compare, grids of up to
// 3 bits from compares with ActivationPacking's thresholds (no division), wider ones from the
// same IEEE operations as ActivationCode (divide, round half to even, clip on floats, NaN
// to 0). Bytes come from a narrowing move, after a division too: counting thresholds into
// bytes, or a binary search over 15 of them, measured slower than VDIVPS here (Zen 5).
// Compiled with -mavx512f; run only where CpuFeatures says.
#include <immintrin.h>

#include "kernels/pack/activation_pack.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bitlite {
namespace {

__mmask16 ValidLanes(int64_t first, int64_t channels) {
  return channels - first >= 16 ? static_cast<__mmask16>(0xffff)
                                : static_cast<__mmask16>((1u << (channels - first)) - 1);
}

// Calls f(values, valid, group) for the 16-value groups of the 64-channel word starting at
// channel `first` that hold channels (valid: those lanes), unrolled for a whole word.
template <class F>
inline __attribute__((always_inline)) void ForGroups(const float* x, int64_t first,
                                                     int64_t channels, F&& f) {
  if (channels - first >= 64) {
#pragma GCC unroll 4
    for (int group = 0; group < 4; ++group) {
      f(_mm512_loadu_ps(x + first + group * 16), static_cast<__mmask16>(0xffff), group);
    }
    return;
  }
  for (int group = 0; group < 4 && first + group * 16 < channels; ++group) {
    const __mmask16 valid = ValidLanes(first + group * 16, channels);
    f(_mm512_maskz_loadu_ps(valid, x + first + group * 16), valid, group);
  }
}

// Codes of a multi-level grid by division, as ActivationCode; 0 for NaN and outside `valid`.
struct Divider {
  explicit Divider(const ActivationGrid& grid)
      : scale(_mm512_set1_ps(grid.scale)),
        low(_mm512_set1_ps(static_cast<float>(grid.range.min))),
        high(_mm512_set1_ps(static_cast<float>(grid.range.max))) {}

  __m512i Codes(__m512 x, __mmask16 valid) const {
    const __m512 scaled = _mm512_div_ps(x, scale);
    const __mmask16 number = _mm512_cmp_ps_mask(scaled, scaled, _CMP_ORD_Q) & valid;
    // max/min return their second operand for a NaN first operand: NaN lanes stay finite
    // and are zeroed by the conversion's mask.
    __m512 code = _mm512_roundscale_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    code = _mm512_min_ps(_mm512_max_ps(code, low), high);
    return _mm512_maskz_cvttps_epi32(number, code);
  }

  const __m512 scale;
  const __m512 low;
  const __m512 high;
};

// Which of kCount thresholds each of 16 values reaches (ActivationPacking), as masks.
template <int kCount>
struct Thresholds {
  explicit Thresholds(const ActivationPacking& packing) {
    for (int i = 0; i < kCount; ++i) {
      thresholds[i] = _mm512_set1_ps(packing.thresholds[i]);
      nan_reaches[i] = i < -packing.grid.range.min ? static_cast<__mmask16>(0xffff) : 0;
    }
  }

  void Reach(__m512 x, __mmask16 valid, __mmask16 (&reached)[kCount]) const {
    const __mmask16 nan = _mm512_mask_cmp_ps_mask(valid, x, x, _CMP_UNORD_Q);
#pragma GCC unroll 8
    for (int i = 0; i < kCount; ++i) {
      reached[i] = _mm512_mask_cmp_ps_mask(valid, x, thresholds[i], _CMP_GE_OQ) |
                   (nan & nan_reaches[i]);
    }
  }

  __m512 thresholds[kCount];
  __mmask16 nan_reaches[kCount];
};

// Binary grid: v = 1 unless x <= -FLT_MIN (ordered compare, so NaN gets 1, as
// IsBinaryNegative).
void PackBinary(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                uint64_t* out, int32_t* sums) {
  const int64_t words = WordsPerTap(channels, 1);
  const __m512 negative_limit = _mm512_set1_ps(-FLT_MIN);
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += words) {
    int32_t sum = 0;
    for (int64_t word = 0; word < words; ++word) {
      uint64_t bits = 0;
      ForGroups(x, word * 64, channels, [&](__m512 v, __mmask16 valid, int group) {
        const __mmask16 ones = valid & ~_mm512_cmp_ps_mask(v, negative_limit, _CMP_LE_OQ);
        bits |= uint64_t{ones} << (group * 16);
      });
      out[word] = bits;
      sum += __builtin_popcountll(bits);
    }
    sums[p] = sum;
  }
}

// Grids with thresholds: a value's count c of reached thresholds is code - min, so bit j of
// c is the XOR of the masks of thresholds t = 2^j, 2 * 2^j, ... (c is a thermometer code),
// and two's complement planes (v = code mod 2^b) flip c's top bit.
template <int kCount>
void PackByThresholds(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                      const ActivationPacking& packing, uint64_t* out, int32_t* sums) {
  constexpr int kPlanes = kCount == 1 ? 1 : kCount == 3 ? 2 : 3;
  static_assert((1 << kPlanes) - 1 == kCount, "2^b - 1 thresholds for b bits");
  const Thresholds<kCount> thresholds(packing);
  const int64_t words = WordsPerTap(channels, 1);
  const bool twos = packing.planes.twos_complement;
  // sum of v = sum of (c + min) on two's complement planes, of c otherwise.
  const int32_t padding_sum =
      static_cast<int32_t>(channels) * packing.planes.Value(packing.grid.range.min);
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += kPlanes * words) {
    int32_t sum = padding_sum;
    for (int64_t word = 0; word < words; ++word) {
      uint64_t reached[kCount] = {};
      uint64_t valid_bits = 0;
      ForGroups(x, word * 64, channels, [&](__m512 v, __mmask16 valid, int group) {
        __mmask16 masks[kCount];
        thresholds.Reach(v, valid, masks);
#pragma GCC unroll 8
        for (int i = 0; i < kCount; ++i) reached[i] |= uint64_t{masks[i]} << (group * 16);
        valid_bits |= uint64_t{valid} << (group * 16);
      });
#pragma GCC unroll 3
      for (int j = 0; j < kPlanes; ++j) {
        uint64_t plane = twos && j == kPlanes - 1 ? valid_bits : 0;
#pragma GCC unroll 8
        for (int t = 1 << j; t <= kCount; t += 1 << j) plane ^= reached[t - 1];
        out[word * kPlanes + j] = plane;
      }
#pragma GCC unroll 8
      for (int i = 0; i < kCount; ++i) sum += __builtin_popcountll(reached[i]);
    }
    sums[p] = sum;
  }
}

void PackByDivision(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                    const ActivationPacking& packing, uint64_t* out, int32_t* sums) {
  const Divider divider(packing.grid);
  const int bits = packing.planes.bits;
  const int64_t words = WordsPerTap(channels, 1);
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += bits * words) {
    __m512i sum = _mm512_setzero_si512();  // of the codes, which are the plane values
    for (int64_t word = 0; word < words; ++word) {
      uint64_t planes[4] = {0, 0, 0, 0};
      ForGroups(x, word * 64, channels, [&](__m512 v, __mmask16 valid, int group) {
        const __m512i codes = divider.Codes(v, valid);
        sum = _mm512_add_epi32(sum, codes);
        for (int j = 0; j < bits; ++j) {
          const __mmask16 plane = _mm512_test_epi32_mask(codes, _mm512_set1_epi32(1 << j));
          planes[j] |= uint64_t{plane} << (group * 16);
        }
      });
      for (int j = 0; j < bits; ++j) out[word * bits + j] = planes[j];
    }
    sums[p] = _mm512_reduce_add_epi32(sum);
  }
}

}  // namespace

void PackActivationsAvx512(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                           const ActivationPacking& packing, uint64_t* out, int32_t* sums) {
  if (packing.grid.is_binary) return PackBinary(x, x_stride, pixels, channels, out, sums);
  switch (packing.threshold_count) {
    case 1:
      return PackByThresholds<1>(x, x_stride, pixels, channels, packing, out, sums);
    case 3:
      return PackByThresholds<3>(x, x_stride, pixels, channels, packing, out, sums);
    case 7:
      return PackByThresholds<7>(x, x_stride, pixels, channels, packing, out, sums);
    default:
      return PackByDivision(x, x_stride, pixels, channels, packing, out, sums);
  }
}

void PackActivationBytesAvx512(const float* x, int64_t x_stride, int64_t pixels,
                               int64_t channels, const ActivationPacking& packing,
                               uint64_t* out, int32_t* sums) {
  const ActivationGrid& grid = packing.grid;
  const Divider divider(grid);
  const int64_t words = WordsPerTap(channels, 8);
  const __m512i shift = _mm512_set1_epi32(packing.planes.shift);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512 negative_limit = _mm512_set1_ps(-FLT_MIN);
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += words) {
    uint8_t* bytes = reinterpret_cast<uint8_t*>(out);
    __m512i sum = _mm512_setzero_si512();
    for (int64_t first = 0; first < words * 8; first += 16) {
      // Lanes past `channels` up to the word end must be 0 bytes (v of no code).
      const __mmask16 valid = first < channels ? ValidLanes(first, channels) : 0;
      const __m512 v = _mm512_maskz_loadu_ps(valid, x + first);
      // v = (q - shift) / scale: the binary grid's v is 1 for +1, 0 for -1.
      const __m512i values =
          grid.is_binary
              ? _mm512_maskz_mov_epi32(valid & ~_mm512_cmp_ps_mask(v, negative_limit, _CMP_LE_OQ),
                                       one)
              : _mm512_maskz_sub_epi32(valid, divider.Codes(v, valid), shift);
      sum = _mm512_add_epi32(sum, values);
      const __mmask16 stored = words * 8 - first >= 16
                                   ? static_cast<__mmask16>(0xffff)
                                   : static_cast<__mmask16>((1u << (words * 8 - first)) - 1);
      _mm512_mask_cvtepi32_storeu_epi8(bytes + first, stored, values);
    }
    sums[p] = _mm512_reduce_add_epi32(sum);
  }
}

}  // namespace bitlite
