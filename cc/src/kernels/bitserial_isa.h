// The instruction sets the convolution driver (Conv2DBitserial) has kernels for, and the
// runtime choice among them. Each is a bitserial (bit-plane popcount) kernel, except
// kAvx512Vnni: the widened-int kernel, one int8 byte per code, multiplied with VPDPBUSD, and
// the kLut* ones: lookup-table kernels (lutgemm.h) on the same bit planes, which support
// every bit pair and activation grid.
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
  kLutScalar,
  kLutAvx2,
  kLutAvx512Bw,
  kLutAvx512Vbmi,
  kLutNeon,
};

// "bitserial/scalar", "bitserial/avx2", "bitserial/avx512vpopcntdq", "bitserial/neon",
// "int8/avx512vnni", "lut/scalar", "lut/avx2", "lut/avx512bw", "lut/avx512vbmi", "lut/neon".
const char* IsaName(BitserialIsa isa);

// The lookup-table ISAs, lut/*.
bool IsLutIsa(BitserialIsa isa);

// Every ISA with kernels in this build that `cpu` can run (for tests and benchmarks).
std::vector<BitserialIsa> SupportedIsas(const CpuFeatures& cpu);

// The widest bitserial ISA `cpu` runs.
BitserialIsa BestBitserialIsa(const CpuFeatures& cpu);

// The LUT ISA of the delegate's kernel=lut: the widest `cpu` runs (lut/scalar where no SIMD
// one does), except that lut/avx512vbmi is taken for 3-4 activation bits only and
// lut/avx512bw below: VBMI builds its tables at the same cost for any activation width, BW's
// grow with the activation planes. Measured on this project's x86 (3x3 conv 64->64 56x56,
// 1 thread, ms BW / VBMI): W2A1 0.31 / 0.39, W2A2 0.38 / 0.41, W2A3 0.47 / 0.43,
// W2A4 0.56 / 0.43, W4A4 0.82 / 0.57.
BitserialIsa BestLutIsa(const CpuFeatures& cpu, int activation_bits);

// The rule of the delegate's kernel=auto: the int8 kernel where the CPU has one and the
// codes are wide (weight_bits * activation_bits >= 9: W3A3, W3A4, W4A3, W4A4), else
// BestBitserialIsa. The int8 kernel's cost does not depend on the bit widths, the bitserial
// kernel's grows with weight_bits * activation_bits (popcounts per word). Measured on this
// project's AVX-512 x86 (3x3 conv 64->64 56x56, 1 thread): int8 0.65 ms at every width;
// bitserial W2A4 0.53, W3A3 0.99, W4A4 1.9 ms.
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
