// AVX2 bitserial micro-kernel: tiles of 2 pixels x 8 channels (two 256-bit vectors of 4
// channel words). AVX2 has no
// vector popcount: bytes are counted with a nibble lookup (VPSHUFB) and summed per 64-bit
// lane with VPSADBW. Compiled with -mavx2; run only where CpuFeatures::avx2.
#include <immintrin.h>

#include "kernels/bgemm_tile.h"

namespace bitlite {
namespace {

struct Avx2Ops {
  using Vec = __m256i;
  static constexpr int kLanes = 4;
  static constexpr int kVectors = 2;
  static constexpr int kPixels = 2;
  static constexpr int kAccumulators = 6;
  static Vec Zero() { return _mm256_setzero_si256(); }
  static Vec Load(const uint64_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static Vec Broadcast(const uint64_t* p) {
    return _mm256_set1_epi64x(static_cast<long long>(*p));
  }
  static Vec Popcount(Vec v) {
    const Vec lookup = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                        2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const Vec low_nibbles = _mm256_set1_epi8(0x0f);
    const Vec low = _mm256_and_si256(v, low_nibbles);
    const Vec high = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
    const Vec bytes =
        _mm256_add_epi8(_mm256_shuffle_epi8(lookup, low), _mm256_shuffle_epi8(lookup, high));
    return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
  }
  template <bool kNegative>
  static Vec Accumulate(Vec acc, Vec a, Vec b) {
    const Vec count = Popcount(_mm256_and_si256(a, b));
    return kNegative ? _mm256_sub_epi64(acc, count) : _mm256_add_epi64(acc, count);
  }
  template <int kShift>
  static Vec Combine(Vec total, Vec acc) {
    return _mm256_add_epi64(total, _mm256_slli_epi64(acc, kShift));
  }
  static void Store(Vec acc, int32_t* out) {
    // The low 32 bits of the four lanes are dwords 0, 2, 4, 6.
    const Vec low_dwords = _mm256_permutevar8x32_epi32(acc, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(low_dwords));
  }
};

}  // namespace

BgemmKernel BgemmAvx2(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return bgemm_tile::Select<Avx2Ops>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
