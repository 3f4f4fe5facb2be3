// AVX-512 bitserial micro-kernel: tiles of up to 8 pixels x 16 channels (two 512-bit vectors
// of 8 channel words; fewer pixels where the per-significance accumulators of wider codes
// need the registers), VPOPCNTQ for the counts.
// Compiled with -mavx512f -mavx512vpopcntdq; run only where CpuFeatures::avx512_vpopcntdq.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/bitserial/bgemm_tile.h"

namespace bitlite {
namespace {

struct Avx512Ops {
  using Vec = __m512i;
  static constexpr int kLanes = 8;
  static constexpr int kVectors = 2;
  static constexpr int kPixels = 8;
  // Of the 32 registers: 8 for weight planes, a broadcast and the AND / popcount temporaries.
  static constexpr int kAccumulators = 24;
  static Vec Zero() { return _mm512_setzero_si512(); }
  static Vec Load(const uint64_t* p) { return _mm512_loadu_si512(p); }
  static Vec Broadcast(const uint64_t* p) {
    return _mm512_set1_epi64(static_cast<long long>(*p));
  }
  template <bool kNegative>
  static Vec Accumulate(Vec acc, Vec a, Vec b) {
    const Vec count = _mm512_popcnt_epi64(_mm512_and_si512(a, b));
    return kNegative ? _mm512_sub_epi64(acc, count) : _mm512_add_epi64(acc, count);
  }
  template <int kShift>
  static Vec Combine(Vec total, Vec acc) {
    return _mm512_add_epi64(total, _mm512_slli_epi64(acc, kShift));
  }
  // The low 32 bits of the 16 channels' lanes gathered by one VPERMT2D, one 512-bit store
  // (was a VPMOVQD and a 256-bit store per 8 channels: ResNet-20 W1A1 0.090 -> 0.088 ms).
  static void Store(const Vec (&totals)[kVectors], int32_t* out) {
    const __m512i low_halves = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                                  26, 28, 30);
    _mm512_storeu_si512(out, _mm512_permutex2var_epi32(totals[0], low_halves, totals[1]));
  }
};

}  // namespace

BgemmKernel BgemmAvx512(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return bgemm_tile::Select<Avx512Ops>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
