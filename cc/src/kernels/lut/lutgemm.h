// Lookup-table GEMM micro-kernels (the activation-group form of DeepGEMM / T-MAC): the same
// contract as the bitserial ones (bgemm.h: core[p][c] = sum over k of vw * vx with the plane
// values of bitserial_planes.h), computed with table lookups instead of popcounts.
//
// For every pixel and every group of 4 consecutive codes of the reduction, a 16-entry table
// holds the sum of the group's activation values vx over each subset of the 4 positions:
//   table[p] = sum over m in 0..3 with bit m of p set of vx[4 * group + m]
// (signed where the activations are two's complement). A weight plane i stores, per channel
// and group, the 4 weight bits as a nibble; looking the nibble up gives
// sum_m bit_i(vw[m]) * vx[m], and sum_i 2^i (the top plane -2^(wb-1) for weights of 2+ bits)
// of the lookups is the group's sum of vw * vx. The tables are built once per pixel and
// shared by every output channel, so the cost per weight scales with weight_bits only
// (bitserial: weight_bits * activation_bits popcounts). Every bit pair is supported: the
// table entries lie in -32..60, within a byte for any activation grid of 1..4 bits.
// DeepGEMM's other form, a table of code products indexed by (weight code, activation code),
// is not used: a lookup there gives one product per byte lane where this one gives the sum
// of 4 (times one weight bit), so for W2A2 it needs 2x the lookups of this form and also
// builds an index from two codes per lane; it would only pay where tables cost nothing to
// build, which this form's per-pixel tables already amortize over all output channels.
//
// Layouts: x as bgemm.h (bit planes, [pixels][words][activation_bits]); w starts as the
// bgemm.h layout with 16 lanes (one 128-byte block of 16 channel words per tile, word and
// weight plane) and is rearranged once at Prepare by the kernel's `relayout` into its nibble
// order. Tiles: 16 channels x 1 (scalar), 2 (AVX2, armv7) or 4 (AVX-512, aarch64) pixels,
// which share the weight loads.
#ifndef BITLITE_SRC_KERNELS_LUT_LUTGEMM_H_
#define BITLITE_SRC_KERNELS_LUT_LUTGEMM_H_

#include <cstddef>
#include <cstdint>

#include "kernels/gemm/bgemm.h"

namespace bitlite {

struct LutGemmKernel {
  BgemmKernel gemm;  // lanes = 16
  WeightRelayoutFn relayout = nullptr;
};

// One per ISA, each in its own file compiled for that ISA; call only what CpuFeatures reports.
LutGemmKernel LutGemmScalar(int weight_bits, int activation_bits, bool activation_twos_complement);
#if BITLITE_X86_KERNELS
// PSHUFB lookups, byte sums widened exactly before they can overflow.
LutGemmKernel LutGemmAvx2(int weight_bits, int activation_bits, bool activation_twos_complement);
// The AVX2 form on 512-bit vectors (CpuFeatures::avx512bw: Skylake-SP, Cascade Lake).
LutGemmKernel LutGemmAvx512Bw(int weight_bits, int activation_bits,
                              bool activation_twos_complement);
// VPERMB lookups into 4 groups' tables at once, summed with VPDPBUSD (CpuFeatures::avx512_vbmi).
LutGemmKernel LutGemmAvx512Vbmi(int weight_bits, int activation_bits,
                                bool activation_twos_complement);
#endif
#if BITLITE_NEON_KERNELS
// TBL lookups (aarch64 vqtbl1q_u8, armv7 vtbl2_u8), byte sums widened like the AVX2 kernel.
LutGemmKernel LutGemmNeon(int weight_bits, int activation_bits, bool activation_twos_complement);
#endif

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_LUT_LUTGEMM_H_
