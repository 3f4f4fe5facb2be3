// AVX-512 VNNI int8 micro-kernel (the widened-int path for 3-4 bit codes): tiles of 12 pixels
// x 16 channels, 24 independent accumulators to cover VPDPBUSD's latency. A 64-bit word holds 8 one-byte codes; VPDPBUSD multiplies the broadcast
// activation bytes (uint8 v) with 8 bytes of each of 8 channels (int8 q) and adds the
// products in 4-byte groups to 32-bit lanes, so each channel's 64-bit lane holds two partial
// sums, added at the end. One instruction does 64 multiply-adds, where the bitserial kernel
// needs weight_bits * activation_bits popcounts for 8 x 64 one-bit products.
// Compiled with -mavx512f -mavx512vnni; run only where CpuFeatures::avx512_vnni.
#include <immintrin.h>

#include "kernels/bgemm_tile.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bitlite {
namespace {

struct Avx512VnniOps {
  using Vec = __m512i;
  static constexpr int kLanes = 8;
  static constexpr int kVectors = 2;
  static constexpr int kPixels = 12;
  static constexpr int kAccumulators = 24;
  static Vec Zero() { return _mm512_setzero_si512(); }
  static Vec Load(const uint64_t* p) { return _mm512_loadu_si512(p); }
  static Vec Broadcast(const uint64_t* p) {
    return _mm512_set1_epi64(static_cast<long long>(*p));
  }
  // "a & b" of the bitserial kernels is w x: here a holds weights (int8), b activations.
  template <bool kNegative>
  static Vec Accumulate(Vec acc, Vec w, Vec x) {
    static_assert(!kNegative, "one plane pair, never negative");
    return _mm512_dpbusd_epi32(acc, x, w);
  }
  template <int kShift>
  static Vec Combine(Vec total, Vec) {
    static_assert(kShift < 0, "one significance only");
    return total;
  }
  static void Store(Vec acc, int32_t* out) {
    // The two 32-bit partial sums of each channel: low half + high half, modulo 2^32.
    const Vec sums = _mm512_add_epi32(acc, _mm512_srli_epi64(acc, 32));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtepi64_epi32(sums));
  }
};

}  // namespace

BgemmKernel BgemmInt8Avx512Vnni() {
  return {&bgemm_tile::Bgemm<Avx512VnniOps, 1, 1, false>, Avx512VnniOps::kLanes};
}

}  // namespace bitlite
