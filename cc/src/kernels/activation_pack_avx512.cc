// AVX-512 activation packing, 16 values per step, with the same IEEE operations as
// ActivationCode (divide, round half to even, clip on floats, NaN to 0): bit planes come
// straight from mask registers, bytes from a narrowing move. Compiled with -mavx512f; run
// only where CpuFeatures says.
#include <immintrin.h>

#include "kernels/activation_pack.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bitlite {
namespace {

struct Quantizer {
  explicit Quantizer(const ActivationGrid& grid)
      : grid(grid),
        scale(_mm512_set1_ps(grid.scale)),
        low(_mm512_set1_ps(static_cast<float>(grid.range.min))),
        high(_mm512_set1_ps(static_cast<float>(grid.range.max))) {}

  // Lanes of the binary grid that get +1: all but x <= -FLT_MIN (ordered compare, so NaN
  // gets +1, as IsBinaryNegative), inside `valid`.
  __mmask16 Positive(__m512 x, __mmask16 valid) const {
    return valid & ~_mm512_cmp_ps_mask(x, _mm512_set1_ps(-FLT_MIN), _CMP_LE_OQ);
  }

  // Codes of a multi-level grid; 0 for NaN and outside `valid`.
  __m512i Codes(__m512 x, __mmask16 valid) const {
    const __m512 scaled = _mm512_div_ps(x, scale);
    const __mmask16 number = _mm512_cmp_ps_mask(scaled, scaled, _CMP_ORD_Q) & valid;
    // max/min return their second operand for a NaN first operand: NaN lanes stay finite
    // and are zeroed by the conversion's mask.
    __m512 code = _mm512_roundscale_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    code = _mm512_min_ps(_mm512_max_ps(code, low), high);
    return _mm512_maskz_cvttps_epi32(number, code);
  }

  const ActivationGrid& grid;
  const __m512 scale;
  const __m512 low;
  const __m512 high;
};

__mmask16 ValidLanes(int64_t first, int64_t channels) {
  return channels - first >= 16 ? static_cast<__mmask16>(0xffff)
                                : static_cast<__mmask16>((1u << (channels - first)) - 1);
}

}  // namespace

void PackActivationsAvx512(const float* x, int64_t pixels, int64_t channels,
                           const ActivationGrid& grid, const PlaneGrid& planes, uint64_t* out,
                           int32_t* sums) {
  const Quantizer quantizer(grid);
  const int64_t words = WordsPerTap(channels, 1);
  for (int64_t p = 0; p < pixels; ++p, x += channels, out += planes.bits * words) {
    __m512i sum = _mm512_setzero_si512();  // of the codes, which are the plane values
    int32_t binary_sum = 0;                // or of the binary grid's set bits
    for (int64_t word = 0; word < words; ++word) {
      uint64_t bits[4] = {0, 0, 0, 0};
      for (int64_t group = 0; group < 4; ++group) {
        const int64_t first = word * 64 + group * 16;
        if (first >= channels) break;
        const __mmask16 valid = ValidLanes(first, channels);
        const __m512 v = _mm512_maskz_loadu_ps(valid, x + first);
        if (grid.is_binary) {
          const uint16_t ones = static_cast<uint16_t>(quantizer.Positive(v, valid));
          bits[0] |= uint64_t{ones} << (group * 16);
          binary_sum += __builtin_popcount(ones);
          continue;
        }
        const __m512i codes = quantizer.Codes(v, valid);
        sum = _mm512_add_epi32(sum, codes);
        for (int j = 0; j < planes.bits; ++j) {
          const __mmask16 plane = _mm512_test_epi32_mask(codes, _mm512_set1_epi32(1 << j));
          bits[j] |= uint64_t{static_cast<uint16_t>(plane)} << (group * 16);
        }
      }
      for (int j = 0; j < planes.bits; ++j) out[word * planes.bits + j] = bits[j];
    }
    sums[p] = grid.is_binary ? binary_sum : _mm512_reduce_add_epi32(sum);
  }
}

void PackActivationBytesAvx512(const float* x, int64_t pixels, int64_t channels,
                               const ActivationGrid& grid, const PlaneGrid& planes,
                               uint64_t* out, int32_t* sums) {
  const Quantizer quantizer(grid);
  const int64_t words = WordsPerTap(channels, 8);
  const __m512i shift = _mm512_set1_epi32(planes.shift);
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t p = 0; p < pixels; ++p, x += channels, out += words) {
    uint8_t* bytes = reinterpret_cast<uint8_t*>(out);
    __m512i sum = _mm512_setzero_si512();
    for (int64_t first = 0; first < words * 8; first += 16) {
      // Lanes past `channels` up to the word end must be 0 bytes (v of no code).
      const __mmask16 valid = first < channels ? ValidLanes(first, channels) : 0;
      const __m512 v = _mm512_maskz_loadu_ps(valid, x + first);
      // v = (q - shift) / scale: the binary grid's v is 1 for +1, 0 for -1.
      const __m512i values =
          grid.is_binary ? _mm512_maskz_mov_epi32(quantizer.Positive(v, valid), one)
                         : _mm512_maskz_sub_epi32(valid, quantizer.Codes(v, valid), shift);
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
