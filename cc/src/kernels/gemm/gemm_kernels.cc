#include "kernels/gemm/gemm_kernels.h"

#include <algorithm>
#include <cstring>

#include "kernels/gemm/bitserial_planes.h"
#include "kernels/kernel_table.h"
#include "kernels/reference/activation_quantize_reference.h"
#include "kernels/winograd/winograd_f2x3.h"

namespace bitlite {
namespace {

// ---- CPU predicates -----------------------------------------------------------------------

bool Always(const CpuFeatures&) { return true; }
#if BITLITE_X86_KERNELS
bool HasAvx2(const CpuFeatures& cpu) { return cpu.avx2; }
// With AVX512BW, as every CPU with these but Knights Mill has: the codes between ops of the
// AVX-512 rows (WithCodesAvx512) use byte masks.
bool HasAvx512Vpopcntdq(const CpuFeatures& cpu) { return cpu.avx512_vpopcntdq && cpu.avx512bw; }
bool HasAvx512Vnni(const CpuFeatures& cpu) { return cpu.avx512_vnni && cpu.avx512bw; }
bool HasAvx512Bw(const CpuFeatures& cpu) { return cpu.avx512bw; }
bool HasAvx512Vbmi(const CpuFeatures& cpu) { return cpu.avx512_vbmi; }
// Every AMX CPU has AVX-512 (Sapphire Rapids on): the row packs and finishes with those rows.
bool HasAmxInt8(const CpuFeatures& cpu) { return cpu.amx_int8 && HasAvx512Vnni(cpu); }
#endif
#if BITLITE_NEON_KERNELS
bool HasNeon(const CpuFeatures& cpu) { return cpu.neon; }
#if defined(__aarch64__)
bool HasDotprod(const CpuFeatures& cpu) { return cpu.dotprod; }
bool IsInOrder(const CpuFeatures& cpu) { return cpu.in_order; }
#endif
#endif

// ---- Entry points: each GEMM with the packing and output stage of its ISA -----------------

GemmFunctions BitserialScalar(int w, int a, bool twos) {
  return {BgemmScalar(w, a, twos), PackActivationsScalar, OutputEpilogueScalar};
}
GemmFunctions LutWith(LutGemmKernel lut, ActivationPackFn pack, EpilogueFn epilogue) {
  return {lut.gemm, pack, epilogue, lut.relayout};
}
GemmFunctions LutScalar(int w, int a, bool twos) {
  return LutWith(LutGemmScalar(w, a, twos), PackActivationsScalar, OutputEpilogueScalar);
}
GemmFunctions W8A8Scalar(int, int, bool) {
  return {BgemmW8A8Scalar(), PackActivationsScalar, OutputEpilogueScalar};
}
#if BITLITE_X86_KERNELS
GemmFunctions BitserialAvx2(int w, int a, bool twos) {
  return {BgemmAvx2(w, a, twos), PackActivationsAvx2, OutputEpilogueAvx2};
}
// The AVX-512 rows' functions with the codes between ops and the fused ADD's output stage
// (their CPUs all have AVX512BW, see the predicates above).
GemmFunctions WithCodesAvx512(GemmFunctions functions) {
  functions.pack_codes = PackActivationCodesAvx512;
  functions.epilogue_codes = OutputEpilogueCodesAvx512;
  functions.epilogue_add = OutputEpilogueAddAvx512;
  return functions;
}
GemmFunctions BitserialAvx512(int w, int a, bool twos) {
  return WithCodesAvx512({BgemmAvx512(w, a, twos), PackActivationsAvx512, OutputEpilogueAvx512});
}
GemmFunctions IntAvx512Vnni(int w, int, bool) {
  return WithCodesAvx512({w == 8 ? BgemmW8A8Avx512Vnni() : BgemmInt8Avx512Vnni(),
                          PackActivationBytesAvx512, OutputEpilogueAvx512});
}
GemmFunctions IntAmx(int, int, bool) {
  GemmFunctions functions = WithCodesAvx512(
      {BgemmInt8Amx(), PackActivationBytesAvx512, OutputEpilogueAvx512, RelayoutWeightsAmx});
  functions.byte_weights = true;
  functions.words_per_work = 4;
  return functions;
}
GemmFunctions W8A8Avx2(int, int, bool) {
  return {BgemmW8A8Avx2(), PackActivationBytesAvx2, OutputEpilogueAvx2};
}
GemmFunctions LutAvx2(int w, int a, bool twos) {
  return LutWith(LutGemmAvx2(w, a, twos), PackActivationsAvx2, OutputEpilogueAvx2);
}
GemmFunctions LutAvx512Bw(int w, int a, bool twos) {
  return WithCodesAvx512(
      LutWith(LutGemmAvx512Bw(w, a, twos), PackActivationsAvx512, OutputEpilogueAvx512));
}
GemmFunctions LutAvx512Vbmi(int w, int a, bool twos) {
  return WithCodesAvx512(
      LutWith(LutGemmAvx512Vbmi(w, a, twos), PackActivationsAvx512, OutputEpilogueAvx512));
}
#endif
#if BITLITE_NEON_KERNELS
// On armv7 activation packing and the output stage stay scalar: its NEON has no float
// division and flushes denormals to zero, which FORMAT.md's arithmetic does not.
// The codes between ops (FORMAT.md) likewise: aarch64 only, armv7 keeps floats there.
#if defined(__aarch64__)
constexpr ActivationPackFn kNeonPack = PackActivationsNeon;
constexpr ActivationPackFn kNeonPackBytes = PackActivationBytesNeon;
constexpr EpilogueFn kNeonEpilogue = OutputEpilogueNeon;
constexpr ActivationCodePackFn kNeonPackCodes = PackActivationCodesNeon;
constexpr EpilogueCodesFn kNeonEpilogueCodes = OutputEpilogueCodesNeon;
constexpr EpilogueAddFn kNeonEpilogueAdd = OutputEpilogueAddNeon;
#else
constexpr ActivationPackFn kNeonPack = PackActivationsScalar;
constexpr ActivationPackFn kNeonPackBytes = PackActivationsScalar;
constexpr EpilogueFn kNeonEpilogue = OutputEpilogueScalar;
constexpr ActivationCodePackFn kNeonPackCodes = nullptr;
constexpr EpilogueCodesFn kNeonEpilogueCodes = nullptr;
constexpr EpilogueAddFn kNeonEpilogueAdd = nullptr;
#endif
// The NEON rows' functions with the codes between ops and the fused ADD's output stage (null
// on armv7).
GemmFunctions WithCodesNeon(GemmFunctions functions) {
  functions.pack_codes = kNeonPackCodes;
  functions.epilogue_codes = kNeonEpilogueCodes;
  functions.epilogue_add = kNeonEpilogueAdd;
  return functions;
}
GemmFunctions BitserialNeon(int w, int a, bool twos) {
  return WithCodesNeon({BgemmNeon(w, a, twos), kNeonPack, kNeonEpilogue});
}
// W8A8 on ARM multiplies s8 x s8 (SMULL, SDOT): int8 activation bytes.
GemmFunctions IntNeon(int w, int, bool) {
  if (w == 8) {
    return WithCodesNeon({BgemmW8A8Neon(), kNeonPackBytes, kNeonEpilogue, nullptr, true});
  }
  return WithCodesNeon({BgemmInt8Neon(), kNeonPackBytes, kNeonEpilogue});
}
#if defined(__aarch64__)
// The in-order cores' int row: byte sums where every product fits kByteSumMostProduct, else
// UMLAL's uint16 lanes on nibbles, as int8/neon: W4A4's byte sums would widen after every word
// (3x3 conv 64->64 56x56 on the Cortex-A53, instructions: 28.6M against UMLAL's 24.7M; W3A4,
// widened every other word, 24.4M).
GemmFunctions IntNeonA53(int w, int a, bool twos) {
  if (MostCodeProduct(w, a) > kByteSumMostProduct) return IntNeon(w, a, twos);
  GemmFunctions functions = WithCodesNeon({BgemmByteSumNeon(w, a), kNeonPackBytes, kNeonEpilogue});
  functions.byte_weights = true;
  return functions;
}
GemmFunctions IntNeonDot(int w, int, bool) {
  if (w == 8) {
    return WithCodesNeon({BgemmW8A8NeonDot(), kNeonPackBytes, kNeonEpilogue, nullptr, true});
  }
  return WithCodesNeon({BgemmInt8NeonDot(), kNeonPackBytes, kNeonEpilogue});
}
#endif
GemmFunctions LutNeon(int w, int a, bool twos) {
  return WithCodesNeon(LutWith(LutGemmNeon(w, a, twos), kNeonPack, kNeonEpilogue));
}
#endif

// ---- The table ------------------------------------------------------------------------------
//
// Crossovers of kernel=auto. An int kernel's cost does not depend on the bit widths, a
// bitserial kernel's grows with weight_bits * activation_bits (popcounts per word), so one
// product threshold per int kernel is the crossover, read off a 3x3 conv 64->64 56x56,
// 1 thread (bitlite_conv_bench; on ARM its instructions per Run under qemu with bench/arm's
// plugin):
//   int8/avx512vnni (this project's x86, min of 200 runs): int8 0.28-0.30 ms at every width;
//     bitserial/avx512vpopcntdq W2A2 0.20, W1A4 0.24, W2A3 0.32, W3A2 0.29 (a tie), W2A4
//     0.38, W3A3 0.43, W4A4 0.71 ms: 6.
//   int8/amx (an Intel AMX VM, 2026-12-05, min of 150 runs): 0.16-0.20 ms at every width;
//     bitserial W1A1 0.18-0.20, W1A2 0.31, W2A2 0.53, W4A4 1.93 ms: 2, as W1A1 is a tie here
//     and bitserial's elsewhere: W1A1 on 14x14 256->256 0.14 vs 0.15-0.16 ms, 7x7 512->512
//     0.13-0.15 vs 0.20 (byte weights: 2.4 MB, past the L2), 1x1 28x28 128->128 0.064 vs
//     0.083-0.088, 3x3 stride 2 56x56 64->128 0.12-0.14 vs 0.18-0.21; from W1A2 up AMX wins
//     on each (W1A2 14x14x256: 0.10 vs 0.25 ms).
//   int8/neon (UMLAL), Cortex-A53: int8 24.7M at every width; bitserial/neon W2A2 16.5M, W1A4
//     17.6M, W2A3 22.7M, W2A4 29.9M, W3A3 37.1M: 8. armv7 (Cortex-A7, scalar activation
//     packing and output stage): int8 96.6M; bitserial W2A3 73.2M, W2A4 90.8M, W3A3 101.5M: 9.
//   int8/neon-a53 (byte sums; chosen on in-order cores only), Cortex-A53 (2026-12-07;
//     instructions, and cycles of bench/arm's model from `python -m bench.arm.kernel_cycles`):
//     W2A2 19.0M / 26.4M, W1A4 19.5M, W2A3 19.5M / 27.0M, W2A4 and W3A3 20.8M / 28.5M, W3A4
//     24.4M / 32.9M, W4A4 (UMLAL) 24.7M / 38.3M; bitserial/neon W2A2 15.8M / 22.2M, W1A4
//     17.8M, W4A1 17.4M, W2A3 24.3M / 33.6M, W2A4 32.4M / 41.8M, W3A3 35.1M / 48.9M: 6 by
//     either count. Not on out-of-order cores: under the Cortex-A72 model the byte sums take
//     26.7M cycles at W3A3 against UMLAL's 24.4M (and bitserial 21.5M), so int8/neon stays.
//   int8/neondot, Neoverse-N1: int8 14.8M; bitserial/neon W1A3 14.1M, W2A2 16.5M: 4.
// Narrow taps (TapPaddingRatio; bitlite_conv_bench min ms of 200 on the AMX VM, 2026-12-06,
// bitserial/avx512vpopcntdq, int8/avx512vnni, int8/amx): W2A2 1x1 112x112 16->96 1.75, 0.90,
// 1.00; W2A2 1x1 56x56 24->144 0.52, 0.35, 0.35; W1A1 1x1 112x112 16->96 0.94, 1.08, 1.02;
// W1A1 3x3 32x32 16->16 0.032, 0.034, 0.079. The 8-byte-word row gains as the padding says
// (p 4 x 4 and x 2.7 past its 6, W1A1's 1 x 4 below it); AMX's narrow taps are no cheaper
// than bitserial's (its tiles' fixed costs per 64-code row), so its tap chunk is 64 codes.
// The LUT kernels' cost grows with weight_bits only, so they win over a slow popcount: where
// the widest bitserial kernel is AVX2's (PSHUFB popcounts) from p = 3. Measured there (same
// layer, ms bitserial/avx2 vs lut/avx2): W1A2 0.51 / 0.52, W2A1 0.51 / 0.54, W1A3 0.72 /
// 0.65, W3A1 0.89 / 0.73, W2A2 0.89 / 0.69, W4A4 3.37 / 1.52. Elsewhere never: with
// VPOPCNTDQ (W1A4 0.23 vs lut/avx512vbmi 0.28 ms, and int8 beyond), on Cortex-A53 (lut/neon
// W2A2 20.4M, W2A3 23.7M, W2A4 27.6M instructions vs the bitserial and int8 numbers above)
// and on armv7 (lut/neon W2A3 86.9M, W2A4 100.7M, W3A3 103.0M) they lose at every pair.
// A CPU with AVX512BW but no VPOPCNTDQ (Skylake-SP) takes lut/avx512bw by the AVX2 rule: not
// measured on such a CPU.
// lut/avx512vbmi builds its tables at the same cost for any activation width, lut/avx512bw's
// grow with the activation planes, so VBMI is taken from 3 activation bits (3x3 conv 64->64
// 56x56, 1 thread, ms BW / VBMI): W2A1 0.31 / 0.39, W2A2 0.38 / 0.41, W2A3 0.47 / 0.43,
// W2A4 0.56 / 0.43, W4A4 0.82 / 0.57.
// Re-measure when a kernel changes: these are the numbers of the kernels of 2026-11-21 (the
// byte sums' of 2026-12-07).
// W8A8 has no choice to measure: only int rows take it, so kernel=auto takes the CPU's widest
// int row that does. For the record (3x3 conv, 1 thread, unsigned activations, ms on this
// project's x86, min of 30 runs; bitlite_conv_bench H W C C 3 1 8 8 1 30 ISA):
//   56x56x64:   int8/avx512vnni 0.60 (its W4A4 0.61), int8/avx2 2.18, int8/scalar 27.5;
//               W2A2 on bitserial/avx512vpopcntdq 0.46;
//   14x14x256:  int8/avx512vnni 0.52, int8/avx2 2.01, int8/scalar 25.1; W2A2 0.39.
// Winograd F(2x2, 3x3) (winograd_f2x3.h) costs the same at every width (16 W8A8 GEMMs on
// bytes), so one bit product per int row is its crossover too (AutoWinogradKernels), read off
// 3x3 convs of stride 1 (bitlite_conv_bench H W C C 3 1 WB AB 1 200 ISA, 2026-12-07):
//   int8/avx512vnni (this project's Zen 5 VM, median ms, 1 thread; winograd/int8/avx512vnni
//     against the kernel=auto row): 56x56x64 W4A4 0.25 vs int8 0.30, W2A3 0.23 vs bitserial
//     0.32, W2A2 0.24 vs 0.20; 28x28x128 0.16 vs int8 0.26 and W2A2 0.17; 14x14x256 0.13 vs
//     0.26 and 0.16; 7x7x512 0.15 vs 0.27 and 0.17. Inside ResNet-18 224 (the delegate's
//     per-op profile, 1 thread) the 7x7 layers' 4 MB of transformed weights each come from
//     memory every invoke: 0.24 ms at W4A4 against int8's 0.28, 0.27 at W2A2 against
//     bitserial's 0.17, and they took the network's peak RSS at W4A4 from 70 to 87 MB (int8:
//     80). So: where the transformed weights fit the L2 (WinogradFromAvx512Vnni), from 6,
//     and from 4 for layers of 128+ input channels (ResNet-18's 28x28 and 14x14 ones; its
//     56x56 ones have 64, which lose alone): ResNet-18 224 W2A2 (bench/ab_delegates.py
//     --threads 2, medians) 3.344 -> 3.156 ms at 1 thread, 1.775 -> 1.760 at 2; CIFAR
//     ResNet-18 0.933 -> 0.890 and 0.510 -> 0.528 (p10 0.498 both); VGG-small 0.938 ->
//     0.916 and 0.488 -> 0.486. (With chunks of 2 row pairs and each unit transforming its
//     chunk again, 2 threads had lost: 1.757 -> 1.825 ms.)
//   int8/neon-a53 (in-order cores: the GEMM is int8/neon's, int16 SMLAL sums where the
//     points' products allow, else the SMULL pair tile), Cortex-A53 instructions / cycles of
//     bench/arm's model (W2A2 against bitserial, W3A3 against the byte sums, W4A4 against
//     UMLAL; `python -m bench.arm.winograd_cycles W3A3 W4A4`): 56x56x64 W2A2 17.5M / 27.8M
//     vs 15.8M / 22.2M, W3A3 16.9M / 27.3M vs 20.9M / 28.5M, W4A4 19.3M / 29.5M vs 24.7M /
//     38.3M; 28x28x128 W2A2 13.0M / 21.3M vs 15.1M / 19.5M, W3A3 12.7M / 21.9M vs 19.0M /
//     23.6M, W4A4 15.4M / 24.6M vs 22.8M / 33.4M; 14x14x256 W3A3 11.9M / 27.0M vs 18.2M /
//     25.5M, W4A4 13.5M / 27.9M vs 22.0M / 32.4M; 7x7x512 W3A3 15.0M / 28.6M vs 17.9M /
//     27.3M, W4A4 16.3M / 28.5M vs 21.8M / 32.9M: 6
//     (W2A2 takes more cycles on every layer; W3A3 fewer instructions on each and, over
//     ResNet-18's 3x3 layers, about as many cycles).
//   int8/neon on out-of-order aarch64 cores (the Cortex-A72 of bench/arm's model; its GEMM
//     the same as the A53's; modelled cycles against the best direct kernel, bitserial/neon
//     below W3A4; `python -m bench.arm.winograd_cycles --cpu cortex-a72 W2A2 W2A3 W2A4 W3A3
//     W3A4 W4A4`, 2026-12-07): 56x56x64 W2A2 18.2M vs 12.4M, W2A3 18.2M vs 16.5M, W2A4 18.2M
//     vs 19.8M, W3A3 18.2M vs 21.5M, W3A4 18.5M vs int8/neon's 24.3M, W4A4 18.6M vs 24.3M;
//     28x28x128 12.6M vs 8.5M, 12.7M, 16.0M, 17.4M, 20.2M and 20.1M; 14x14x256 (1 MiB of
//     transformed weights, the A72's whole L2) 18.9-19.5M vs 7.3M, 11.4M, 14.5M, 16.1M, 18.1M
//     and 18.1M; 7x7x512 (4 MiB) 19.4-20.4M vs 7.2M, 11.4M, 14.5M, 17.5M, 20.7M and 20.7M;
//     8x8x64 (ResNet-20's) W4A4 0.37M vs 0.43M. So: where the transformed weights fit half
//     the L2 (WinogradFromOutOfOrderNeon), from 8. Whole networks (W4A4, `bench_cycles
//     --cpus cortex-a72`): ResNet-18 224 237 -> 205 ms, CIFAR ResNet-18 74 -> 69, VGG-small
//     80 -> 78, ResNet-20 8.8 -> 8.8 (9.2, L2 misses 9.9K -> 14.3K, while each of its five
//     64-channel layers kept its own transformed input and products: WinogradWorkspace).
//     (bitserial/neon also beats int8/neon at W2A4 and W3A3 on these layers, but int8/neon's
//     crossover at 12 took MobileNetV2 W2A2 from 76 to 78 ms, its 32-channel taps then
//     bitserial: int8/neon stays from 8.) armv7 (its 1x8 W8A8 tile), SDOT (A55, A76) and
//     AMX: not measured, so not taken.
//   Narrow layers lose (ResNet-20's, W4A4, int8 against winograd): 32x32x16 0.011 vs 0.042 ms
//     and 0.96M vs 1.23M A53 instructions, 16x16x32 0.007 vs 0.010 and 0.63M vs 0.63M, 8x8x64
//     0.006 vs 0.005 and 0.51M vs 0.41M: kWinogradMinInChannels.
// Whether layer p's transformed weights (a byte per point, input and output channel) take at
// most `bytes`: the cache a CPU's rule keeps them in from one invoke to the next.
[[maybe_unused]] bool WinogradWeightsFit(const OpParams& p, int64_t bytes) {
  return int64_t{kWinogradPoints} * p.in_channels * p.out_channels <= bytes;
}
#if BITLITE_X86_KERNELS
// Zen 5's L2 (1 MiB per core).
constexpr int64_t kAvx512WinogradCachedBytes = int64_t{1} << 20;
int WinogradFromAvx512Vnni(const OpParams& p) {
  if (!WinogradWeightsFit(p, kAvx512WinogradCachedBytes)) return kNeverBitProduct;
  return p.in_channels >= 128 ? 4 : 6;
}
#endif
#if BITLITE_NEON_KERNELS
#if defined(__aarch64__)
int WinogradFromInOrderNeon(const OpParams&) { return 6; }
// Half the Cortex-A72's L2 (1 MiB, shared by the cluster): the 14x14x256 layer's 1 MiB of
// transformed weights lose to the direct kernels there.
constexpr int64_t kOutOfOrderNeonWinogradCachedBytes = int64_t{512} << 10;
int WinogradFromOutOfOrderNeon(const OpParams& p) {
  return WinogradWeightsFit(p, kOutOfOrderNeonWinogradCachedBytes) ? 8 : kNeverBitProduct;
}
constexpr int kNeonIntFrom = 8;
constexpr int (*kNeonWinogradFrom)(const OpParams&) = WinogradFromOutOfOrderNeon;
#else
constexpr int kNeonIntFrom = 9;  // armv7
constexpr int (*kNeonWinogradFrom)(const OpParams&) = nullptr;
#endif
#endif

const GemmKernel kTable[] = {
    // name, family, tile, runs_on, functions, auto_min_bit_product, min_activation_bits,
    // widths
    {"bitserial/scalar", GemmFamily::kBitserial, "2x4", Always, BitserialScalar},
    {"lut/scalar", GemmFamily::kLut, "1x16", Always, LutScalar},
    {"int8/scalar", GemmFamily::kInt, "2x8", Always, W8A8Scalar, kNeverBitProduct, 1,
     BitWidths::kW8A8},
#if BITLITE_X86_KERNELS
    {"bitserial/avx2", GemmFamily::kBitserial, "8x4", HasAvx2, BitserialAvx2, 3},
    {"int8/avx2", GemmFamily::kInt, "2x8", HasAvx2, W8A8Avx2, kNeverBitProduct, 1,
     BitWidths::kW8A8},
    {"bitserial/avx512vpopcntdq", GemmFamily::kBitserial, "8x16", HasAvx512Vpopcntdq,
     BitserialAvx512},
    {"int8/avx512vnni", GemmFamily::kInt, "8x16", HasAvx512Vnni, IntAvx512Vnni, 6, 1,
     BitWidths::kBoth, 8, nullptr, WinogradFromAvx512Vnni},
    {"lut/avx2", GemmFamily::kLut, "2x16", HasAvx2, LutAvx2},
    {"lut/avx512bw", GemmFamily::kLut, "4x16", HasAvx512Bw, LutAvx512Bw},
    {"lut/avx512vbmi", GemmFamily::kLut, "4x16", HasAvx512Vbmi, LutAvx512Vbmi,
     kNeverBitProduct, 3},
    {"int8/amx", GemmFamily::kInt, "32x32", HasAmxInt8, IntAmx, 2, 1, BitWidths::kBoth, 64},
#endif
#if BITLITE_NEON_KERNELS
    {"bitserial/neon", GemmFamily::kBitserial, "4x8 (armv7: 4x4)", HasNeon, BitserialNeon},
    {"int8/neon", GemmFamily::kInt, "3x8 (armv7: 1x8)", HasNeon, IntNeon, kNeonIntFrom, 1,
     BitWidths::kBoth, 8, nullptr, kNeonWinogradFrom},
#if defined(__aarch64__)
    // Every NEON CPU runs it; kernel=auto and kernel=int take it only on in-order cores.
    {"int8/neon-a53", GemmFamily::kInt, "3x8", HasNeon, IntNeonA53, 6, 1, BitWidths::kSubByte,
     8, IsInOrder, WinogradFromInOrderNeon},
    {"int8/neondot", GemmFamily::kInt, "5x8", HasDotprod, IntNeonDot, 4, 1, BitWidths::kBoth},
#endif
    {"lut/neon", GemmFamily::kLut, "4x16 (armv7: 2x16)", HasNeon, LutNeon},
#endif
};

}  // namespace

const std::vector<const GemmKernel*>& GemmKernels() {
  static const std::vector<const GemmKernel*> rows = TableRows(kTable);
  return rows;
}

std::vector<const GemmKernel*> SupportedGemmKernels(const CpuFeatures& cpu) {
  return RowsThatRun(GemmKernels(), cpu);
}

const GemmKernel& BestGemmKernel(const CpuFeatures& cpu, GemmFamily family, int weight_bits,
                                 int activation_bits) {
  const GemmKernel* best = nullptr;
  for (const GemmKernel* row : SupportedGemmKernels(cpu)) {
    if (row->family == family && row->Takes(weight_bits, activation_bits) &&
        activation_bits >= row->min_activation_bits &&
        (row->chosen_on == nullptr || row->chosen_on(cpu))) {
      best = row;
    }
  }
  if (best != nullptr) return *best;
  // The scalar rows make these two families complete for their widths.
  const bool w8a8 = weight_bits == 8;
  return BestGemmKernel(cpu, w8a8 ? GemmFamily::kInt : GemmFamily::kBitserial, weight_bits,
                        activation_bits);
}

double TapPaddingRatio(int64_t tap_codes, int chunk_codes) {
  const int64_t codes = std::max<int64_t>(tap_codes, 1);
  const int64_t chunks = (codes + chunk_codes - 1) / chunk_codes;
  return static_cast<double>(WordsPerTap(codes, 1) * 64) /
         static_cast<double>(chunks * chunk_codes);
}

const GemmKernel& AutoGemmKernel(const CpuFeatures& cpu, int weight_bits, int activation_bits,
                                 int64_t tap_codes) {
  const int product = weight_bits * activation_bits;
  const GemmKernel& int_kernel =
      BestGemmKernel(cpu, GemmFamily::kInt, weight_bits, activation_bits);
  const double padding = TapPaddingRatio(tap_codes, int_kernel.tap_chunk_codes);
  const bool int_wins = int_kernel.auto_min_bit_product < kNeverBitProduct &&
                        product * padding >= int_kernel.auto_min_bit_product;
  if (int_kernel.family == GemmFamily::kInt && (weight_bits == 8 || int_wins)) {
    return int_kernel;
  }
  const GemmKernel& bitserial =
      BestGemmKernel(cpu, GemmFamily::kBitserial, weight_bits, activation_bits);
  if (product >= bitserial.auto_min_bit_product) {
    return BestGemmKernel(cpu, GemmFamily::kLut, weight_bits, activation_bits);
  }
  return bitserial;
}

const GemmKernel& AutoGemmKernelFor(const CpuFeatures& cpu, const OpParams& p) {
  // Conv2DGemm folds a narrow layer's kernel rows into one tap each (not on the binary grid).
  const bool folds = p.kind == OpKind::kConv2D && !MakeActivationGrid(p).is_binary;
  return AutoGemmKernel(cpu, p.weight_bits, p.activation_bits,
                        int64_t{p.in_channels / p.groups} * (folds ? p.kernel_w : 1));
}

WinogradKernels AutoWinogradKernels(const CpuFeatures& cpu, const OpParams& p) {
  if (!WinogradFits(p) || p.in_channels < kWinogradMinInChannels) return {};
  const GemmKernel& row = BestGemmKernel(cpu, GemmFamily::kInt, p.weight_bits, p.activation_bits);
  if (!row.bytes() || row.winograd_from == nullptr ||
      p.weight_bits * p.activation_bits < row.winograd_from(p)) {
    return {};
  }
  return {&row, &BestGemmKernel(cpu, GemmFamily::kInt, 8, 8)};
}

const GemmKernel* FindGemmKernel(const CpuFeatures& cpu, const char* name) {
  for (const GemmKernel* row : SupportedGemmKernels(cpu)) {
    if (std::strcmp(row->name, name) == 0) return row;
  }
  return nullptr;
}

}  // namespace bitlite
