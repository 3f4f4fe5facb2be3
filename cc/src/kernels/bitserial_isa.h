// The instruction sets the convolution driver (Conv2DBitserial) has kernels for, and the
// runtime choice among them. Each is a bitserial (bit-plane popcount) kernel, except the
// widened-int ones (IsIntIsa): weights as nibbles, widened to bytes in registers and
// multiplied with VPDPBUSD (kAvx512Vnni), UMLAL (kNeonInt8) or UDOT (kNeonDot), and the
// lookup-table ones (IsLutIsa, lutgemm.h) on the same bit planes, which support every bit
// pair and activation grid.
#ifndef BITLITE_SRC_KERNELS_BITSERIAL_ISA_H_
#define BITLITE_SRC_KERNELS_BITSERIAL_ISA_H_

#include <vector>

#include "kernels/activation_pack.h"
#include "kernels/bgemm.h"
#include "kernels/cpu_features.h"
#include "kernels/lutgemm.h"
#include "kernels/output_epilogue.h"

namespace bitlite {

enum class BitserialIsa {
  kScalar,
  kAvx2,
  kAvx512,
  kNeon,
  kAvx512Vnni,
  kNeonInt8,
  kNeonDot,
  kLutScalar,
  kLutAvx2,
  kLutAvx512Bw,
  kLutAvx512Vbmi,
  kLutNeon,
};

// "bitserial/scalar", "bitserial/avx2", "bitserial/avx512vpopcntdq", "bitserial/neon",
// "int8/avx512vnni", "int8/neon", "int8/neondot", "lut/scalar", "lut/avx2", "lut/avx512bw",
// "lut/avx512vbmi", "lut/neon".
const char* IsaName(BitserialIsa isa);

// A widened-int kernel, not a bitserial one.
bool IsIntIsa(BitserialIsa isa);

// The lookup-table ISAs, lut/*.
bool IsLutIsa(BitserialIsa isa);

// Every ISA with kernels in this build that `cpu` can run (for tests and benchmarks).
std::vector<BitserialIsa> SupportedIsas(const CpuFeatures& cpu);

// The widest bitserial ISA `cpu` runs.
BitserialIsa BestBitserialIsa(const CpuFeatures& cpu);

// The delegate's kernel=int: the best widened-int ISA `cpu` runs (the dot product one where
// it has dotprod), else BestBitserialIsa.
BitserialIsa BestIntIsa(const CpuFeatures& cpu);

// The LUT ISA of the delegate's kernel=lut: the widest `cpu` runs (lut/scalar where no SIMD
// one does), except that lut/avx512vbmi is taken for 3-4 activation bits only and
// lut/avx512bw below: VBMI builds its tables at the same cost for any activation width, BW's
// grow with the activation planes. Measured on this project's x86 (3x3 conv 64->64 56x56,
// 1 thread, ms BW / VBMI): W2A1 0.31 / 0.39, W2A2 0.38 / 0.41, W2A3 0.47 / 0.43,
// W2A4 0.56 / 0.43, W4A4 0.82 / 0.57.
BitserialIsa BestLutIsa(const CpuFeatures& cpu, int activation_bits);

// The rule of the delegate's kernel=auto, by p = weight_bits * activation_bits: BestIntIsa
// where the CPU has an int8 kernel and p >= IntMinBitProduct(that kernel); else BestLutIsa
// where p >= LutMinBitProduct(BestBitserialIsa); else BestBitserialIsa.
// The int8 kernel's cost does not depend on the bit widths, the bitserial kernel's grows
// with weight_bits * activation_bits (popcounts per word), so one product threshold per int8
// kernel is the crossover, read off measurements of a 3x3 conv 64->64 56x56, 1 thread
// (bitlite_conv_bench; on ARM its instructions per Run under qemu with bench/arm's plugin):
//   int8/avx512vnni (this project's x86, min of 200 runs): int8 0.28-0.30 ms at every width;
//     bitserial/avx512vpopcntdq W2A2 0.20, W1A4 0.24, W2A3 0.32, W3A2 0.29 (a tie), W2A4
//     0.38, W3A3 0.43, W4A4 0.71 ms: 6.
//   int8/neon, Cortex-A53: int8 24.7M at every width; bitserial/neon W2A2 16.5M, W1A4 17.6M,
//     W2A3 22.7M, W2A4 29.9M, W3A3 37.1M: 8. armv7 (Cortex-A7, scalar activation packing
//     and output stage): int8 96.6M; bitserial W2A3 73.2M, W2A4 90.8M, W3A3 101.5M: 9.
//   int8/neondot, Neoverse-N1: int8 14.8M; bitserial/neon W1A3 14.1M, W2A2 16.5M: 4.
// Re-measure when a kernel changes: these are the numbers of the kernels of 2026-11-21.
int IntMinBitProduct(BitserialIsa isa);
// The LUT kernels' cost grows with weight_bits only, so they win over a slow popcount: on
// CPUs whose widest bitserial ISA is AVX2 (PSHUFB popcounts) from p = 3. Measured there (same
// layer, ms bitserial/avx2 vs lut/avx2): W1A2 0.51 / 0.52, W2A1 0.51 / 0.54, W1A3 0.72 /
// 0.65, W3A1 0.89 / 0.73, W2A2 0.89 / 0.69, W4A4 3.37 / 1.52. Elsewhere never: with
// VPOPCNTDQ (W1A4 0.23 vs lut/avx512vbmi 0.28 ms, and int8 beyond), on Cortex-A53 (lut/neon
// W2A2 20.4M, W2A3 23.7M, W2A4 27.6M instructions vs the bitserial and int8 numbers above)
// and on armv7 (lut/neon W2A3 86.9M, W2A4 100.7M, W3A3 103.0M) they lose at every pair.
// A CPU with AVX512BW but no VPOPCNTDQ (Skylake-SP) takes lut/avx512bw by the AVX2 rule: not
// measured on such a CPU.
int LutMinBitProduct(BitserialIsa best_bitserial);
BitserialIsa AutoIsa(const CpuFeatures& cpu, int weight_bits, int activation_bits);

struct BitserialFunctions {
  BgemmKernel bgemm;
  ActivationPackFn pack = nullptr;
  EpilogueFn epilogue = nullptr;
  bool bytes = false;  // codes as bytes (PlaneGrid::bytes), not bit planes
  // Applied once to the packed weight planes (PackBitserialWeights with bgemm.lanes) where the
  // GEMM reads another order (the LUT kernels' nibbles); null: none.
  WeightRelayoutFn relayout_weights = nullptr;
};

// The kernels of `isa` (one of SupportedIsas) for these bit widths and activation grid.
BitserialFunctions BitserialFunctionsFor(BitserialIsa isa, int weight_bits, int activation_bits,
                                         bool activation_twos_complement);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_BITSERIAL_ISA_H_
