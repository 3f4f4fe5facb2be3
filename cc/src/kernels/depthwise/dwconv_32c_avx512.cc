// AVX-512 depthwise micro-kernel: 32 channels as int16 lanes of one zmm register, the AVX2
// kernel's arithmetic at twice the width, 2 output pixels per step (with 4, GCC 12's
// schedule spills a dozen vectors in the 3x3 loop and the row runs slower). Needs
// AVX512BW for 16-bit lanes; compiled with -mavx512f -mavx512bw and run only where
// CpuFeatures::avx512_vnni says (every AVX512-VNNI CPU has AVX512BW).
#include <immintrin.h>

#include "kernels/depthwise/dwconv_row.h"

namespace bitlite {
namespace {

struct Avx512Ops {
  static constexpr int kLanes = 32;
  static constexpr int kTapBytes = kLanes / 2;
  static constexpr int kPixels = 2;
  using Weights = __m512i;
  using Acc = __m512i;
  static Weights DecodeWeights(const uint8_t* packed) {
    // The 16 bytes in both halves, sign-extended: an arithmetic shift right by 4 leaves the
    // signed high nibble (lanes 16-31), a shift left by 12 and back the signed low nibble
    // (lanes 0-15).
    const __m512i bytes = _mm512_cvtepi8_epi16(
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(packed))));
    return _mm512_mask_blend_epi16(0xffff0000u, _mm512_srai_epi16(_mm512_slli_epi16(bytes, 12), 12),
                                   _mm512_srai_epi16(bytes, 4));
  }
  static Acc Zero() { return _mm512_setzero_si512(); }
  static Acc MultiplyAdd(Acc acc, const int8_t* x, Weights w) {
    const __m512i codes =
        _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
    return _mm512_add_epi16(acc, _mm512_mullo_epi16(codes, w));
  }
  // The zero-masking forms (also for the cast-like low half): GCC 12 warns
  // (-Wmaybe-uninitialized) about the undefined pass-through of the unmasked ones; an
  // all-ones mask gives the same values.
  static void Store(Acc acc, int32_t* out, bool add) {
    __m512i low =
        _mm512_maskz_cvtepi16_epi32(0xffff, _mm512_maskz_extracti64x4_epi64(0xff, acc, 0));
    __m512i high =
        _mm512_maskz_cvtepi16_epi32(0xffff, _mm512_maskz_extracti64x4_epi64(0xff, acc, 1));
    if (add) {
      low = _mm512_add_epi32(low, _mm512_loadu_si512(out));
      high = _mm512_add_epi32(high, _mm512_loadu_si512(out + 16));
    }
    _mm512_storeu_si512(out, low);
    _mm512_storeu_si512(out + 16, high);
  }
};

}  // namespace

void DwconvRow32cAvx512(const DwconvRowParams& params) { dwconv_row::Run<Avx512Ops>(params); }

}  // namespace bitlite
