// AVX2 bitserial micro-kernel: tiles of up to 8 pixels x 4 channels (one 256-bit vector of
// 4 channel words; fewer pixels where the accumulators and weight planes of wider codes need
// the registers). AVX2 has no vector popcount: bytes are counted with a nibble lookup
// (VPSHUFB).
//
// A word's nibbles are split once, not per popcount: each weight plane's low and high
// nibbles are masked (and shifted) into two registers per word, each activation plane's
// high nibbles shifted down once per pixel (the weights' mask clears what the shift brings
// in). A pair's count is then 6 instructions per 4 channel words (two each of VPAND,
// VPSHUFB, VPADDB) where the 64-bit lane counts took 9 (4 to split the AND's nibbles, the
// lookups, VPSADBW, VPADDQ): the counts are added (or subtracted, for a negative plane pair)
// into byte accumulators and widened (VPSADBW) only once per block of words (bgemm_tile.h's
// BlockWords and Flush).
//
// 56x56x64 -> 64 3x3 convolution, 1 thread, min ms of 5 x 300 runs (bitlite_conv_bench), on
// a Zen 5 (2 shared cores), where the loop is bound by its vector instructions, before (2
// pixels x 8 channels, 64-bit lane counts) -> after: W1A1 0.324 -> 0.280, W2A2 1.084 ->
// 0.887, W3A3 2.353 -> 2.013, W4A4 4.101 -> 3.265, W2A4 2.103 -> 1.691.
// W3A3 ... W4A4 (1 pixel) still read 2-14 values from the stack per word: their weight halves
// and accumulators outnumber the registers.
// Compiled with -mavx2; run only where CpuFeatures::avx2.
#include <immintrin.h>

#include "kernels/bitserial/bgemm_tile.h"

namespace bitlite {
namespace {

struct Avx2Ops {
  using Vec = __m256i;
  static constexpr int kLanes = 4;
  static constexpr int kVectors = 1;
  static constexpr int kPixels = 8;
  // Of the 16 ymm registers: the lookup table, an activation word's two halves and two
  // counts take 5, each weight plane's two halves 2.
  static constexpr int kAccumulators = 11;
  static constexpr int kWeightRegisters = 2;

  // A word's nibbles, masked and shifted into place for the lookup: the weights' both
  // halves masked; the activations' high half only shifted (the weights' mask clears it).
  struct Nibbles {
    Vec low;
    Vec high;
  };

  static Vec Zero() { return _mm256_setzero_si256(); }
  static Nibbles Load(const uint64_t* p) {
    const Vec v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const Vec mask = _mm256_set1_epi8(0x0f);
    return {_mm256_and_si256(v, mask), _mm256_and_si256(_mm256_srli_epi16(v, 4), mask)};
  }
  static Nibbles Broadcast(const uint64_t* p) {
    const Vec v = _mm256_set1_epi64x(static_cast<long long>(*p));
    return {v, _mm256_srli_epi16(v, 4)};
  }
  template <bool kNegative>
  static Vec Accumulate(Vec acc, const Nibbles& a, const Nibbles& b) {
    const Vec lookup = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                        2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const Vec low = _mm256_and_si256(a.low, b.low);
    const Vec high = _mm256_and_si256(a.high, b.high);
    const Vec count =
        _mm256_add_epi8(_mm256_shuffle_epi8(lookup, low), _mm256_shuffle_epi8(lookup, high));
    // In place: GCC 12 computed acc + count into a fresh register and copied it back, a move
    // per pair, and spilled accumulators.
    if (kNegative) {
      asm("vpsubb %1, %0, %0" : "+x"(acc) : "x"(count));
    } else {
      asm("vpaddb %1, %0, %0" : "+x"(acc) : "x"(count));
    }
    return acc;
  }

  template <int kW, int kA, bool kTwos>
  static constexpr int64_t BlockWords() {
    return bgemm_tile::ByteBlockWords<kW, kA, kTwos>();
  }

  // Each significance's bytes summed per 64-bit lane (VPSADBW), shifted into place and
  // added. VPSADBW reads bytes as unsigned: a significance with negative pairs is read with
  // its sign bits flipped (+128 per byte, 1024 per lane), which the total takes back.
  template <int kW, int kA, bool kTwos, int kS>
  static void Flush(const Vec (&acc)[kVectors][kS], int32_t* out, bool first) {
    int64_t bias = 0;
    Vec total = Zero();
    bgemm_tile::Unroll<kS>([&](auto s) __attribute__((always_inline)) {
      constexpr bool kSigned = bgemm_tile::PairsOfSign<kW, kA, kTwos>(s, true) > 0;
      Vec bytes = acc[0][s];
      if constexpr (kSigned) {
        bytes = _mm256_xor_si256(bytes, _mm256_set1_epi8(static_cast<char>(0x80)));
        bias += int64_t{8 * 128} << s;
      }
      total = _mm256_add_epi64(total, _mm256_slli_epi64(_mm256_sad_epu8(bytes, Zero()), s));
    });
    if (bias != 0) total = _mm256_sub_epi64(total, _mm256_set1_epi64x(bias));
    // The low 32 bits of the four lanes are dwords 0, 2, 4, 6.
    __m128i sums = _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(total, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0)));
    if (!first) sums = _mm_add_epi32(sums, _mm_loadu_si128(reinterpret_cast<const __m128i*>(out)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), sums);
  }
};

}  // namespace

BgemmKernel BgemmAvx2(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return bgemm_tile::Select<Avx2Ops>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
