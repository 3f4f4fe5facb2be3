#include "kernels/cpu_features.h"

#if BITLITE_X86_KERNELS
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif
#if BITLITE_NEON_KERNELS
#include <sys/auxv.h>
#endif

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bitlite {
namespace {

#if BITLITE_X86_KERNELS
// XCR0: which register states the OS saves on a context switch. Only valid with OSXSAVE.
uint64_t ReadXcr0() {
  uint32_t low = 0, high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (uint64_t{high} << 32) | low;
}

// Linux enables the AMX tile data state (XTILEDATA, 8 KB per thread) per process on request,
// so that processes that never use AMX do not pay for saving it; without the permission the
// first tile instruction kills the process (SIGILL). Other systems: not used.
bool AmxPermitted() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchReqXcompPerm = 0x1023;
  constexpr int kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

CpuFeatures Detect() {
  CpuFeatures features;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return features;
  const bool popcnt = (ecx & (1u << 23)) != 0;  // the AVX kernels' scalar popcounts use it
  const bool osxsave = (ecx & (1u << 27)) != 0;
  const bool avx = (ecx & (1u << 28)) != 0;
  if (!popcnt || !osxsave || !avx) return features;
  const uint64_t xcr0 = ReadXcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;      // SSE and AVX halves
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;    // plus opmask and both zmm halves
  if (!ymm_state || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return features;
  features.avx2 = (ebx & (1u << 5)) != 0;
  const bool avx512f = (ebx & (1u << 16)) != 0;
  const bool vpopcntdq = (ecx & (1u << 14)) != 0;
  const bool vnni = (ecx & (1u << 11)) != 0;
  const bool avx512bw = (ebx & (1u << 30)) != 0;
  const bool vbmi = (ecx & (1u << 1)) != 0;
  features.avx512_vpopcntdq = zmm_state && avx512f && vpopcntdq;
  features.avx512_vnni = zmm_state && avx512f && vnni;
  features.avx512bw = zmm_state && avx512f && avx512bw;
  features.avx512_vbmi = features.avx512_vnni && avx512bw && vbmi;
  const bool amx_tile = (edx & (1u << 24)) != 0;
  const bool amx_int8 = (edx & (1u << 25)) != 0;
  const bool tile_state = (xcr0 & 0x60000) == 0x60000;  // XTILECFG and XTILEDATA
  features.amx_int8 = amx_tile && amx_int8 && tile_state && AmxPermitted();
  return features;
}
#elif BITLITE_NEON_KERNELS
#if defined(__aarch64__)
// /proc/cpuinfo's text, or "" where it cannot be read (the choice it informs is speed only).
std::string ReadCpuinfo() {
  std::string text;
  if (FILE* file = std::fopen("/proc/cpuinfo", "r")) {
    char buffer[4096];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
    std::fclose(file);
  }
  return text;
}
#endif
CpuFeatures Detect() {
  CpuFeatures features;
#if defined(__aarch64__)
  constexpr unsigned long kAsimd = 1ul << 1;  // HWCAP_ASIMD
#else
  constexpr unsigned long kAsimd = 1ul << 12;  // HWCAP_NEON
#endif
  const unsigned long hwcap = getauxval(AT_HWCAP);
  features.neon = (hwcap & kAsimd) != 0;
#if defined(__aarch64__)
  constexpr unsigned long kAsimdDp = 1ul << 20;  // HWCAP_ASIMDDP
  features.dotprod = features.neon && (hwcap & kAsimdDp) != 0;
  features.in_order = features.neon && AllCoresInOrder(ReadCpuinfo().c_str());
#endif
  return features;
}
#else
CpuFeatures Detect() { return {}; }
#endif

// The number after the colon of a "key : value" line, as C parses it (0x... hex).
long FieldValue(const char* line) {
  const char* colon = std::strchr(line, ':');
  return colon != nullptr ? std::strtol(colon + 1, nullptr, 0) : -1;
}

}  // namespace

bool AllCoresInOrder(const char* cpuinfo) {
  int cores = 0;
  long implementer = -1;
  const char* line = cpuinfo;
  while (*line != '\0') {
    const char* end = std::strchr(line, '\n');
    const size_t length = end != nullptr ? static_cast<size_t>(end - line) : std::strlen(line);
    const std::string text(line, length);
    // Each core's block names its implementer before its part.
    if (text.rfind("CPU implementer", 0) == 0) implementer = FieldValue(text.c_str());
    if (text.rfind("CPU part", 0) == 0) {
      const long part = FieldValue(text.c_str());
      const bool a35_a53_a55 = part == 0xd04 || part == 0xd03 || part == 0xd05;
      if (implementer != 0x41 || !a35_a53_a55) return false;
      ++cores;
    }
    line += length + (end != nullptr ? 1 : 0);
  }
  return cores > 0;
}

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace bitlite
