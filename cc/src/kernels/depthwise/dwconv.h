// Depthwise convolution micro-kernels: widened-integer direct convolution, channels as SIMD
// lanes, run by the depthwise driver (conv2d_depthwise.h).
//
// A depthwise output reduces only kernel_h * kernel_w codes, too few for bitserial popcounts
// to pay off, so the kernels multiply codes directly: one tile of channels (16, or 32 with
// AVX-512) per vector, int8 activation codes and 4-bit weight codes widened in registers,
// products summed in int16 over chunks of at most kDwconvChunkTaps taps (exact, see below),
// then added into int32.
#ifndef BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_H_
#define BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_H_

#include <cstdint>

namespace bitlite {

// Taps summed in int16 before widening to int32. |weight code| <= 8 and |activation code|
// <= 15, so a chunk's sum stays within int16 whatever the bit widths.
constexpr int64_t kDwconvChunkTaps = 32;
static_assert(kDwconvChunkTaps * 8 * 15 <= 32767, "int16 chunk sums must be exact");

// One output row of one tile of L channels (the kernel's lanes). Codes are laid out
// [pixel][channels_padded], padded so every tap of every window is inside the buffer (zero
// codes around the input).
struct DwconvRowParams {
  const int8_t* x = nullptr;  // the tile's first code at the top-left of output pixel 0's window
  int64_t out_w = 0;
  int64_t pixel_step = 0;  // codes from one output pixel's window to the next
  const int64_t* tap_offsets = nullptr;  // [taps]: codes from the window's top-left to tap t
  int64_t taps = 0;
  // [taps][L / 2] bytes: lane j's 4-bit two's complement weight code is the low nibble of
  // byte j (j < L / 2), the high nibble of byte j - L / 2 (j >= L / 2): two shifts decode
  // all L lanes. W8A8: [taps][L] int8 codes, lane j's in byte j.
  const uint8_t* weights = nullptr;
  int32_t* acc = nullptr;  // output pixel ow's L accumulators at acc + ow * acc_stride
  int64_t acc_stride = 0;
};

using DwconvRowFn = void (*)(const DwconvRowParams& params);

// W8A8 (8-bit depthwise layers): int8 activation bytes (v = q on the signed grid, q - 128 on
// the unsigned one, whose driver adds 128 * sum(w) back per channel), int8 weights; a product
// reaches 128 * 128, so there is no int16 stage: products are widened and summed in int32.
// Every W8A8 micro-kernel has 16 lanes.
constexpr int64_t kDwconvW8A8Lanes = 16;
void DwconvRow16cW8A8Scalar(const DwconvRowParams& params);
#if BITLITE_X86_KERNELS
void DwconvRow16cW8A8Avx2(const DwconvRowParams& params);
#endif
#if BITLITE_NEON_KERNELS
void DwconvRow16cW8A8Neon(const DwconvRowParams& params);
#endif

void DwconvRow16cScalar(const DwconvRowParams& params);
#if BITLITE_X86_KERNELS
void DwconvRow16cAvx2(const DwconvRowParams& params);
// AVX512BW, which every AVX512-VNNI CPU has: run where CpuFeatures::avx512_vnni.
void DwconvRow32cAvx512(const DwconvRowParams& params);
#endif
#if BITLITE_NEON_KERNELS
void DwconvRow16cNeon(const DwconvRowParams& params);
#endif

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_H_
