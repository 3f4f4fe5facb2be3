// The instruction sets the convolution driver (Conv2DBitserial) has kernels for, and the
// runtime choice among them. Each is a bitserial (bit-plane popcount) kernel, except the
// widened-int ones (IsIntIsa): weights as nibbles, widened to bytes in registers and
// multiplied with VPDPBUSD (kAvx512Vnni), UMLAL (kNeonInt8) or UDOT (kNeonDot).
#ifndef BITLITE_SRC_KERNELS_BITSERIAL_ISA_H_
#define BITLITE_SRC_KERNELS_BITSERIAL_ISA_H_

#include <vector>

#include "kernels/activation_pack.h"
#include "kernels/bgemm.h"
#include "kernels/cpu_features.h"
#include "kernels/output_epilogue.h"

namespace bitlite {

enum class BitserialIsa { kScalar, kAvx2, kAvx512, kNeon, kAvx512Vnni, kNeonInt8, kNeonDot };

// "bitserial/scalar", "bitserial/avx2", "bitserial/avx512vpopcntdq", "bitserial/neon",
// "int8/avx512vnni", "int8/neon", "int8/neondot".
const char* IsaName(BitserialIsa isa);

// A widened-int kernel, not a bitserial one.
bool IsIntIsa(BitserialIsa isa);

// Every ISA with kernels in this build that `cpu` can run (for tests and benchmarks).
std::vector<BitserialIsa> SupportedIsas(const CpuFeatures& cpu);

// The widest bitserial ISA `cpu` runs.
BitserialIsa BestBitserialIsa(const CpuFeatures& cpu);

// The delegate's kernel=int: the best widened-int ISA `cpu` runs (the dot product one where
// it has dotprod), else BestBitserialIsa.
BitserialIsa BestIntIsa(const CpuFeatures& cpu);

// The rule of the delegate's kernel=auto: BestIntIsa where the CPU has an int8 kernel and
// weight_bits * activation_bits >= IntMinBitProduct(that kernel), else BestBitserialIsa.
// The int8 kernel's cost does not depend on the bit widths, the bitserial kernel's grows
// with weight_bits * activation_bits (popcounts per word), so one product threshold per int8
// kernel is the crossover, read off measurements of a 3x3 conv 64->64 56x56, 1 thread:
//   int8/avx512vnni (this project's x86, bench/kernels/conv_bench.cc, min of 100 runs): int8
//     0.37-0.40 ms at every width; bitserial/avx512vpopcntdq W2A2 0.33, W1A4 0.41 (a near
//     tie left to bitserial), W2A3 0.41, W3A2 0.73, W2A4 0.51, W3A3 0.98, W4A4 2.0 ms: 6.
//   int8/neon (Cortex-A53 under qemu, instructions per invoke, bench/arm/bench_insns.py
//     --kernel int|bitserial): int8 29.8M at every width; bitserial/neon W1A1 24.3M, W2A2
//     61.7M (W1A2 about 37M: 12M plus 12.5M per plane pair): 2. On armv7 (Cortex-A7 under
//     qemu-arm, bitlite_conv_bench Run, scalar activation packing): int8 95.2M; bitserial
//     W1A2 66.7M, W2A2 107.4M: 4.
//   int8/neondot (Neoverse-N1, same): int8 19.9M; bitserial/neon W1A1 24.3M: 1.
// Re-measure when a kernel changes: these are the numbers of the kernels of 2026-11.
int IntMinBitProduct(BitserialIsa isa);
BitserialIsa AutoIsa(const CpuFeatures& cpu, int weight_bits, int activation_bits);

struct BitserialFunctions {
  BgemmKernel bgemm;
  ActivationPackFn pack = nullptr;
  EpilogueFn epilogue = nullptr;
  bool bytes = false;  // codes as bytes (PlaneGrid::bytes), not bit planes
};

// The kernels of `isa` (one of SupportedIsas) for these bit widths and activation grid.
BitserialFunctions BitserialFunctionsFor(BitserialIsa isa, int weight_bits, int activation_bits,
                                         bool activation_twos_complement);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_BITSERIAL_ISA_H_
