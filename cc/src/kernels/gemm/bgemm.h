// Bitserial GEMM micro-kernels: core[p][c] = sum over words k, weight planes i, activation
// planes j of 2^(i+j) * popcount(w[c][i][k] & x[p][j][k]), negated for a pair with one
// two's complement top plane (bitserial_planes.h) among them.
//
// Vector lanes run over output channels: a kernel loads one word of `lanes` channels and
// ANDs it with a broadcast word of one pixel, so the reduction is never padded to the vector
// width, no horizontal sums are needed and a batch-1 fully connected layer uses every lane.
// Layouts (64-bit words):
//   w: [channels / lanes][words][weight_bits][lanes]   (BitserialWeights::planes)
//   x: [pixels][words][activation_bits]                 (BgemmFn: an im2col step's columns;
//                                                        BgemmIndirectFn: any pixel rows)
// core: [pixels][core_stride] int32, channels contiguous; channels is a multiple of
// kChannelAlign (callers pad the weights with zero channels).
// The sums are exact modulo 2^64, and |core| fits int32 because FORMAT.md bounds the
// accumulator, so the stored low 32 bits are exact.
#ifndef BITLITE_SRC_KERNELS_GEMM_BGEMM_H_
#define BITLITE_SRC_KERNELS_GEMM_BGEMM_H_

#include <cstddef>
#include <cstdint>

namespace bitlite {

// Micro-kernels are instantiated for each of the 32 (weight_bits, activation_bits,
// activation_twos_complement) variants and picked from a table at Prepare; variant i is
// (i / 8 + 1, i / 2 % 4 + 1, i % 2 == 1).
constexpr int kBitVariants = 32;
constexpr int BitVariant(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return ((weight_bits - 1) * 4 + activation_bits - 1) * 2 + (activation_twos_complement ? 1 : 0);
}
constexpr int VariantWeightBits(int variant) { return variant / 8 + 1; }
constexpr int VariantActivationBits(int variant) { return variant / 2 % 4 + 1; }
constexpr bool VariantTwos(int variant) { return variant % 2 == 1; }

using BgemmFn = void (*)(const uint64_t* x, int64_t pixels, const uint64_t* w, int64_t channels,
                         int64_t words, int32_t* core, int64_t core_stride);

// The same product with x read in place (no im2col): word k of pixel p, its activation
// planes, starts at x_rows[p] + x_offsets[k]. A convolution points x_rows at each window's
// corner in a zero-padded packed input and x_offsets at the taps, so padding needs no case.
using BgemmIndirectFn = void (*)(const uint64_t* const* x_rows, const int64_t* x_offsets,
                                 int64_t pixels, const uint64_t* w, int64_t channels,
                                 int64_t words, int32_t* core, int64_t core_stride);

// Rearranges a layer's packed weights (`words` words, `words_per_plane` of them per channel
// group and plane) in place into the order a kernel reads, once at Prepare: the LUT kernels'
// nibbles, the AMX kernel's tiles.
using WeightRelayoutFn = void (*)(uint64_t* planes, size_t words, int64_t words_per_plane);

// A kernel has `run`, `indirect` or both; the driver prefers `indirect`.
struct BgemmKernel {
  BgemmFn run = nullptr;
  int lanes = 1;  // channels per vector: the w layout's innermost dimension
  BgemmIndirectFn indirect = nullptr;
  // `indirect` only where a tap's words are a multiple of this (the AMX kernel reads whole
  // 8-word chunks of one tap in place), `run` on im2col columns elsewhere.
  int64_t indirect_tap_words = 1;
  // Optional, W8A8 only: `run` for weights without the code -128, which some kernels' int16
  // sums of two products need (Conv2DGemm takes it where the weights allow).
  BgemmFn run_without_min_weight = nullptr;
  // Optional, W8A8 only: a faster `run` for operands whose every product has magnitude at most
  // `most_product` (narrower sums; Winograd's transformed codes, winograd_f2x3.h), or null
  // where it has none for that bound.
  BgemmFn (*run_for_products)(int32_t most_product) = nullptr;
};

// The largest product of two unsigned codes v (bitserial_planes.h) of these widths:
// (2^w - 1) * (2^a - 1), what narrow accumulators must hold per product.
constexpr int MostCodeProduct(int weight_bits, int activation_bits) {
  return ((1 << weight_bits) - 1) * ((1 << activation_bits) - 1);
}

// The micro-kernel for weight_bits x activation_bits, with the activations' top plane
// negative when `activation_twos_complement` (weights of 2+ bits always are). One per ISA,
// each in its own file compiled for that ISA; call only what CpuFeatures reports.
BgemmKernel BgemmScalar(int weight_bits, int activation_bits, bool activation_twos_complement);
// W8A8 (int8/gemm_tile.h): int8 weights in BitserialWeights' byte layout, activations one
// byte per code, u8 (PlaneGrid v = q - min code) or, where the name says s8, int8
// (bitserial_planes.h, "W8A8").
BgemmKernel BgemmW8A8Scalar();  // u8
#if BITLITE_X86_KERNELS
BgemmKernel BgemmAvx2(int weight_bits, int activation_bits, bool activation_twos_complement);
BgemmKernel BgemmAvx512(int weight_bits, int activation_bits, bool activation_twos_complement);
// The widened-int kernels (int8/gemm_tile.h), any bit widths: weights as nibbles
// (PlaneGrid::nibbles), activations one byte per code (PlaneGrid::bytes), both unsigned.
BgemmKernel BgemmInt8Avx512Vnni();
BgemmKernel BgemmW8A8Avx2();        // u8
BgemmKernel BgemmW8A8Avx512Vnni();  // u8
// AMX tiles (int8/gemm_32x32_amx.cc), every width: weights one byte per code
// (GemmFunctions::byte_weights) in RelayoutWeightsAmx's order, activations u8; `indirect`
// where a tap is whole 8-word chunks (indirect_tap_words), `run` on columns elsewhere.
BgemmKernel BgemmInt8Amx();
void RelayoutWeightsAmx(uint64_t* planes, size_t words, int64_t words_per_plane);
#endif
#if BITLITE_NEON_KERNELS
BgemmKernel BgemmNeon(int weight_bits, int activation_bits, bool activation_twos_complement);
BgemmKernel BgemmInt8Neon();  // UMLAL, every NEON CPU
BgemmKernel BgemmW8A8Neon();  // s8: SMULL + SADALP, every NEON CPU
#if defined(__aarch64__)
// Weights one byte per code (GemmFunctions::byte_weights), sums in byte lanes (MLA), for bit
// widths whose MostCodeProduct is at most kByteSumMostProduct (every pair but W4A4;
// gemm_kernels.cc has the measurements); a kernel without entry points for the others.
constexpr int kByteSumMostProduct = 105;
BgemmKernel BgemmByteSumNeon(int weight_bits, int activation_bits);
BgemmKernel BgemmInt8NeonDot();  // UDOT: only where CpuFeatures::dotprod
BgemmKernel BgemmW8A8NeonDot();  // s8: SDOT, only where CpuFeatures::dotprod
#endif
#endif

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_GEMM_BGEMM_H_
