// What the CPU running this process can execute, detected once: cpuid and xgetbv on x86
// (an instruction set counts only if the OS also saves its registers), getauxval(AT_HWCAP)
// on ARM. Kernels compiled for an ISA run only where its flag here is true.
#ifndef BITLITE_SRC_KERNELS_CPU_FEATURES_H_
#define BITLITE_SRC_KERNELS_CPU_FEATURES_H_

// Before a function of plain loops that the compiler vectorizes: on x86 compiled twice, for
// the baseline's 16-byte vectors and AVX-512's 64-byte ones (x86-64-v4), the CPU's taken at
// load by an ifunc (GCC on glibc, which target_clones needs; elsewhere one plain function).
// The same operations per element either way.
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
#define BITLITE_AVX512_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define BITLITE_AVX512_CLONES
#endif

namespace bitlite {

struct CpuFeatures {
  bool avx2 = false;  // with POPCNT
  bool avx512_vpopcntdq = false;  // with AVX512F: what the AVX-512 kernels need
  bool avx512_vnni = false;       // with AVX512F: the int8 kernel
  bool avx512bw = false;          // with AVX512F: the AVX-512BW LUT kernel
  // AVX512_VBMI with AVX512F, AVX512BW and AVX512_VNNI: the LUT kernel (VPERMB lookups and
  // table spreads, byte-masked adds, VPDPBUSD sums).
  bool avx512_vbmi = false;
  // AMX-TILE and AMX-INT8 with the OS saving the tile state and this process allowed to use
  // it (Linux's ARCH_REQ_XCOMP_PERM, asked once here): the int8/amx kernel.
  bool amx_int8 = false;
  bool neon = false;
  bool dotprod = false;  // aarch64 UDOT/SDOT (HWCAP_ASIMDDP): the int8/neondot kernel
  // aarch64 whose every core is an in-order Arm core of the Cortex-A53 class (A35, A53, A55 by
  // their MIDR part numbers in /proc/cpuinfo): kernel choices tuned for in-order issue prefer
  // the int8/neon-a53 row there (gemm_kernels.cc). False on a mix with out-of-order cores.
  bool in_order = false;
};

// Whether every core that `cpuinfo` (the text of Linux's /proc/cpuinfo) lists is an Arm
// Cortex-A35, A53 or A55 (implementer 0x41, parts 0xd04, 0xd03, 0xd05); false when it lists
// none.
bool AllCoresInOrder(const char* cpuinfo);

const CpuFeatures& DetectCpuFeatures();

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_CPU_FEATURES_H_
