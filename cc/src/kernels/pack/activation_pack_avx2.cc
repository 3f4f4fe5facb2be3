// AVX2 activation packing: 8 values per step; a plane's 8 bits are the sign bits (MOVMSKPS)
// of the codes shifted left, a byte per code (the W8A8 int8/avx2 row) the low byte of each
// value's lane. Same IEEE operations as ActivationCode (divide, round half to even, clip on
// floats, NaN to 0). Compiled with -mavx2; run only where CpuFeatures says.
#include <immintrin.h>

#include <cstring>

#include "kernels/pack/activation_pack.h"

namespace bitlite {
namespace {

// Codes of a multi-level grid by division, as ActivationCode; NaN gives 0.
struct Divider {
  explicit Divider(const ActivationGrid& grid)
      : scale(_mm256_set1_ps(grid.scale)),
        low(_mm256_set1_ps(static_cast<float>(grid.range.min))),
        high(_mm256_set1_ps(static_cast<float>(grid.range.max))) {}

  __m256i Codes(__m256 v) const {
    const __m256 scaled = _mm256_div_ps(v, scale);
    const __m256 number = _mm256_cmp_ps(scaled, scaled, _CMP_ORD_Q);
    // max/min return their second operand for a NaN first operand: NaN lanes stay
    // finite and are zeroed below.
    __m256 code = _mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    code = _mm256_min_ps(_mm256_max_ps(code, low), high);
    return _mm256_and_si256(_mm256_cvttps_epi32(code), _mm256_castps_si256(number));
  }

  const __m256 scale;
  const __m256 low;
  const __m256 high;
};

// Lanes [0, count) all ones.
__m256i ValidLanes(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The 8 bits of plane `j` of `codes`: bit j moved to the sign bit.
uint64_t PlaneBits(__m256i codes, int j) {
  const __m256i moved = _mm256_sll_epi32(codes, _mm_cvtsi32_si128(31 - j));
  return static_cast<uint64_t>(_mm256_movemask_ps(_mm256_castsi256_ps(moved)));
}

int32_t HorizontalSum(__m256i v) {
  __m128i half = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  half = _mm_add_epi32(half, _mm_shuffle_epi32(half, _MM_SHUFFLE(1, 0, 3, 2)));
  half = _mm_add_epi32(half, _mm_shuffle_epi32(half, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(half);
}

}  // namespace

void PackActivationsAvx2(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                         const ActivationPacking& packing, uint64_t* out, int32_t* sums) {
  const ActivationGrid& grid = packing.grid;
  const PlaneGrid& planes = packing.planes;
  const int64_t words = WordsPerTap(channels, 1);
  const Divider divider(grid);
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += planes.bits * words) {
    __m256i sum = _mm256_setzero_si256();  // of the codes, which are the plane values
    int32_t binary_sum = 0;                // or of the binary grid's set bits
    for (int64_t word = 0; word < words; ++word) {
      uint64_t bits[4] = {0, 0, 0, 0};
      for (int64_t group = 0; group < 8; ++group) {
        const int64_t first = word * 64 + group * 8;
        if (first >= channels) break;
        const int64_t count = channels - first < 8 ? channels - first : 8;
        const __m256i valid = ValidLanes(count);
        const uint64_t valid_bits = (uint64_t{1} << count) - 1;
        const __m256 v = _mm256_maskload_ps(x + first, valid);
        if (grid.is_binary) {
          // v = 1 unless x <= -FLT_MIN (ordered: NaN gives +1, as IsBinaryNegative).
          const __m256 negative = _mm256_cmp_ps(v, _mm256_set1_ps(-FLT_MIN), _CMP_LE_OQ);
          const uint64_t plane = ~static_cast<uint64_t>(_mm256_movemask_ps(negative)) & valid_bits;
          bits[0] |= plane << (group * 8);
          binary_sum += __builtin_popcountll(plane);
          continue;
        }
        const __m256i codes = divider.Codes(v);
        sum = _mm256_add_epi32(sum, codes);
        for (int j = 0; j < planes.bits; ++j) {
          bits[j] |= (PlaneBits(codes, j) & valid_bits) << (group * 8);
        }
      }
      for (int j = 0; j < planes.bits; ++j) out[word * planes.bits + j] = bits[j];
    }
    sums[p] = grid.is_binary ? binary_sum : HorizontalSum(sum);
  }
}

void PackActivationBytesAvx2(const float* x, int64_t x_stride, int64_t pixels, int64_t channels,
                             const ActivationPacking& packing, uint64_t* out, int32_t* sums) {
  const ActivationGrid& grid = packing.grid;
  const Divider divider(grid);
  const int64_t words = WordsPerTap(channels, 8);
  const __m256i shift = _mm256_set1_epi32(packing.planes.shift);
  // Byte 0 of each int32 lane, per 128-bit half.
  const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                             -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1,
                                             -1, -1, -1, -1, -1, -1);
  for (int64_t p = 0; p < pixels; ++p, x += x_stride, out += words) {
    uint8_t* bytes = reinterpret_cast<uint8_t*>(out);
    __m256i sum = _mm256_setzero_si256();
    for (int64_t first = 0; first < words * 8; first += 8) {
      // Lanes past `channels` up to the word end must be 0 bytes (v of no code).
      const int64_t count = channels - first < 0 ? 0 : channels - first < 8 ? channels - first : 8;
      const __m256i valid = ValidLanes(count);
      const __m256 v = _mm256_maskload_ps(x + first, valid);
      // v = (q - shift) / scale: the binary grid's v is 1 for +1, 0 for -1.
      const __m256i values =
          grid.is_binary
              ? _mm256_andnot_si256(_mm256_castps_si256(_mm256_cmp_ps(
                                        v, _mm256_set1_ps(-FLT_MIN), _CMP_LE_OQ)),
                                    _mm256_and_si256(valid, _mm256_set1_epi32(1)))
              : _mm256_and_si256(_mm256_sub_epi32(divider.Codes(v), shift), valid);
      sum = _mm256_add_epi32(sum, values);
      const __m256i packed = _mm256_shuffle_epi8(values, low_bytes);
      const int32_t halves[2] = {_mm_cvtsi128_si32(_mm256_castsi256_si128(packed)),
                                 _mm_cvtsi128_si32(_mm256_extracti128_si256(packed, 1))};
      std::memcpy(bytes + first, halves, 8);
    }
    sums[p] = HorizontalSum(sum);
  }
}

}  // namespace bitlite
