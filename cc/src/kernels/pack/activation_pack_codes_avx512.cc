// AVX512BW packing of int8 activation codes (FORMAT.md "Codes between ops"): 64 codes, one
// 64-bit word of every plane, per step, the same layout and sums as the float packers give
// for the same codes. Plane j's word is one VPTESTMB of the codes against bit j (the binary
// grid's single plane is code > 0); a byte per code is v = code - shift (code > 0 on the
// binary grid). Channel tails load and store under byte masks; the sums come from VPSADBW on
// the codes offset by 128, added up once per pixel (the binary planes': their popcounts).
// Compiled with -mavx512f -mavx512bw; run only where CpuFeatures says.
#include <immintrin.h>

#include <algorithm>

#include "kernels/pack/activation_pack.h"

// GCC 12's AVX-512 intrinsics pass a self-initialized "undefined" vector as the merge source
// of unmasked operations and then warn about it (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace bitlite {
namespace {

// Lanes [0, count) of a 64-byte vector; all for count >= 64.
__mmask64 FirstLanes(int64_t count) {
  return count >= 64 ? ~__mmask64{0} : (__mmask64{1} << count) - 1;
}

// Adds the 64 signed codes of q, plus 128 each (VPSADBW adds unsigned bytes), to the four
// 64-bit lanes of sums: one horizontal sum per pixel, not per word.
__m512i AddOffsetSums(__m512i sums, __m512i q) {
  return _mm512_add_epi64(sums, _mm512_sad_epu8(_mm512_xor_si512(q, _mm512_set1_epi8(-128)),
                                                _mm512_setzero_si512()));
}

// Byte codes of pixels that follow one another without a gap (codes_stride == channels, a
// multiple of 8 below 64: MobileNet's 16-, 24- and 32-channel rows): the packed pixels do too
// (WordsPerTap * 8 == channels bytes each), so the whole run is one stream of bytes, 64 at a
// time across pixels, instead of one pixel per mostly empty vector. VPSADBW's sums of 8 codes
// + 128 are added per pixel afterwards.
void PackByteCodeRun(const int8_t* codes, int64_t pixels, int64_t channels,
                     const PlaneGrid& planes, int scale_shift, int8_t* bytes, int32_t* sums) {
  const int64_t total = pixels * channels;
  const int64_t groups_per_pixel = channels / 8;
  const __m512i shift = _mm512_set1_epi8(static_cast<char>(planes.shift));
  alignas(64) uint64_t group_sums[8];
  int64_t pixel = 0, group_of_pixel = 0;
  int64_t pixel_sum = 0;
  for (int64_t c = 0; c < total; c += 64) {
    const __mmask64 valid = FirstLanes(total - c);
    const __m512i q = _mm512_maskz_loadu_epi8(valid, codes + c);
    _mm512_mask_storeu_epi8(bytes + c, valid, _mm512_sub_epi8(q, shift));
    _mm512_store_si512(group_sums,
                       _mm512_sad_epu8(_mm512_xor_si512(q, _mm512_set1_epi8(-128)),
                                       _mm512_setzero_si512()));
    const int64_t groups = std::min<int64_t>(8, (total - c) / 8);
    for (int64_t i = 0; i < groups; ++i) {
      pixel_sum += static_cast<int64_t>(group_sums[i]);
      if (++group_of_pixel < groups_per_pixel) continue;
      // sum of v = (sum of codes - channels * shift) / scale, as below.
      sums[pixel++] = static_cast<int32_t>(
          (pixel_sum - 128 * channels - channels * planes.shift) >> scale_shift);
      pixel_sum = 0;
      group_of_pixel = 0;
    }
  }
}

}  // namespace

void PackActivationCodesAvx512(const int8_t* codes, int64_t codes_stride, int64_t pixels,
                               int64_t channels, const PlaneGrid& planes, uint64_t* out,
                               int32_t* sums) {
  const int plane_count = planes.Planes();
  const int64_t words = WordsPerTap(channels, planes.CodeBits());
  const __m512i zero = _mm512_setzero_si512();
  // v = (q - shift) / scale with scale a power of two: a shift of the exact multiple.
  const int scale_shift = __builtin_ctz(static_cast<unsigned>(planes.scale));
  if (planes.bytes && !planes.binary && codes_stride == channels && channels % 8 == 0 &&
      channels < 64) {
    return PackByteCodeRun(codes, pixels, channels, planes, scale_shift,
                           reinterpret_cast<int8_t*>(out), sums);
  }
  for (int64_t p = 0; p < pixels; ++p, codes += codes_stride, out += plane_count * words) {
    if (planes.binary && !planes.bytes) {
      // v = 1 where code > 0: the sum of v is the ones of the words.
      int32_t ones = 0;
      for (int64_t word = 0; word < words; ++word) {
        const int64_t c = word * 64;
        const __m512i q = _mm512_maskz_loadu_epi8(FirstLanes(channels - c), codes + c);
        const uint64_t bits = _mm512_cmpgt_epi8_mask(q, zero);
        out[word] = bits;
        ones += __builtin_popcountll(bits);
      }
      sums[p] = ones;
      continue;
    }
    // Sum of code + 128 over whole 64-lane blocks (lanes past `channels` load as 0).
    __m512i offset_sums = zero;
    int64_t blocks = 0;
    if (planes.bytes) {
      int8_t* bytes = reinterpret_cast<int8_t*>(out);
      const int64_t stored = words * 8;  // the codes and the zeros after them
      for (int64_t c = 0; c < stored; c += 64, ++blocks) {
        const __mmask64 valid = FirstLanes(channels - c);
        const __m512i q = _mm512_maskz_loadu_epi8(valid, codes + c);
        offset_sums = AddOffsetSums(offset_sums, q);
        const __m512i v =
            planes.binary
                ? _mm512_maskz_mov_epi8(_mm512_cmpgt_epi8_mask(q, zero), _mm512_set1_epi8(1))
                : _mm512_sub_epi8(q, _mm512_set1_epi8(static_cast<char>(planes.shift)));
        _mm512_mask_storeu_epi8(bytes + c, FirstLanes(stored - c), _mm512_maskz_mov_epi8(valid, v));
      }
    } else {
      for (int64_t word = 0; word < words; ++word, ++blocks) {
        const int64_t c = word * 64;
        const __m512i q = _mm512_maskz_loadu_epi8(FirstLanes(channels - c), codes + c);
        offset_sums = AddOffsetSums(offset_sums, q);
        for (int j = 0; j < plane_count; ++j) {
          out[word * plane_count + j] =
              _mm512_test_epi8_mask(q, _mm512_set1_epi8(static_cast<char>(1 << j)));
        }
      }
    }
    // sum of v = (sum of codes - channels * shift) / scale, exactly (FORMAT.md grids).
    const int64_t code_sum = _mm512_reduce_add_epi64(offset_sums) - 128 * 64 * blocks;
    sums[p] = static_cast<int32_t>((code_sum - channels * planes.shift) >> scale_shift);
  }
}

}  // namespace bitlite
