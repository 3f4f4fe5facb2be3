// The delegate option `kernel` and the runtime kernel choice (kernels/bitserial_isa.h).
#include <cstdlib>
#include <string>
#include <vector>

#include "delegate_options.h"
#include "kernels/bitserial_isa.h"
#include "kernels/cpu_features.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

std::string ParseKernel(const char* value, KernelChoice* choice) {
  const char* keys[] = {"kernel"};
  const char* values[] = {value};
  DelegateOptions options;
  std::string error;
  if (!ParseDelegateOptions(keys, values, 1, &options, &error)) return error;
  *choice = options.kernel;
  return "ok";
}

BITLITE_TEST(ParsesKernelOption) {
  KernelChoice choice = KernelChoice::kReference;
  EXPECT_TRUE(DelegateOptions().kernel == KernelChoice::kAuto);
  EXPECT_EQ(ParseKernel("auto", &choice), "ok");
  EXPECT_TRUE(choice == KernelChoice::kAuto);
  EXPECT_EQ(ParseKernel("bitserial", &choice), "ok");
  EXPECT_TRUE(choice == KernelChoice::kBitserial);
  EXPECT_EQ(ParseKernel("int", &choice), "ok");
  EXPECT_TRUE(choice == KernelChoice::kInt);
  EXPECT_EQ(ParseKernel("lut", &choice), "ok");
  EXPECT_TRUE(choice == KernelChoice::kLut);
  EXPECT_EQ(ParseKernel("reference", &choice), "ok");
  EXPECT_TRUE(choice == KernelChoice::kReference);
  for (const char* bad : {"", "LUT", "lut/avx2", "Auto", "bitserial "}) {
    EXPECT_CONTAINS(ParseKernel(bad, &choice),
                    "kernel must be auto, bitserial, int, lut or reference");
  }
}

BITLITE_TEST(ChoosesOnlyKernelsTheCpuRuns) {
  const CpuFeatures& cpu = DetectCpuFeatures();
  const std::vector<BitserialIsa> isas = SupportedIsas(cpu);
  EXPECT_TRUE(!isas.empty() && isas.front() == BitserialIsa::kScalar);
  auto supported = [&](BitserialIsa isa) {
    for (BitserialIsa candidate : isas) {
      if (candidate == isa) return true;
    }
    return false;
  };
  EXPECT_TRUE(supported(BestBitserialIsa(cpu)));
  EXPECT_TRUE(BestBitserialIsa(cpu) != BitserialIsa::kAvx512Vnni);
  EXPECT_TRUE(!IsLutIsa(BestBitserialIsa(cpu)));
  for (int bits = 1; bits <= 4; ++bits) {
    EXPECT_TRUE(supported(BestLutIsa(cpu, bits)) && IsLutIsa(BestLutIsa(cpu, bits)));
  }
  for (int w = 1; w <= 4; ++w) {
    for (int a = 1; a <= 4; ++a) {
      const BitserialIsa isa = AutoIsa(cpu, w, a);
      EXPECT_TRUE(supported(isa));
      // The int8 kernel exactly from its crossover product up, below it the LUT kernel from
      // its own crossover up, the bitserial one below both.
      BitserialIsa expected = BestBitserialIsa(cpu);
      if (w * a >= LutMinBitProduct(expected)) expected = BestLutIsa(cpu, a);
      if (w * a >= IntMinBitProduct(BestIntIsa(cpu))) expected = BestIntIsa(cpu);
      EXPECT_TRUE(isa == expected);
    }
  }
  // Every int8 kernel has a crossover within the bit products, and only they do.
  for (BitserialIsa isa : {BitserialIsa::kAvx512Vnni, BitserialIsa::kNeonInt8,
                           BitserialIsa::kNeonDot}) {
    EXPECT_TRUE(IntMinBitProduct(isa) >= 1 && IntMinBitProduct(isa) <= 16);
  }
  EXPECT_TRUE(IntMinBitProduct(BestBitserialIsa(cpu)) > 16);
  // The LUT crossover: only where the widest popcount is AVX2's.
  EXPECT_EQ(LutMinBitProduct(BitserialIsa::kAvx2), 3);
  for (BitserialIsa isa : {BitserialIsa::kScalar, BitserialIsa::kAvx512, BitserialIsa::kNeon}) {
    EXPECT_TRUE(LutMinBitProduct(isa) > 16);
  }
#if BITLITE_X86_KERNELS
  CpuFeatures avx2_only;
  avx2_only.avx2 = true;
  EXPECT_EQ(std::string(IsaName(AutoIsa(avx2_only, 1, 2))), "bitserial/avx2");
  EXPECT_EQ(std::string(IsaName(AutoIsa(avx2_only, 1, 3))), "lut/avx2");
  EXPECT_EQ(std::string(IsaName(AutoIsa(avx2_only, 4, 4))), "lut/avx2");
#endif
  // Scalar only, whatever the CPU: what an unknown CPU falls back to.
  EXPECT_TRUE(AutoIsa(CpuFeatures{}, 4, 4) == BitserialIsa::kScalar);
  EXPECT_EQ(std::string(IsaName(BestBitserialIsa(CpuFeatures{}))), "bitserial/scalar");
  EXPECT_EQ(std::string(IsaName(BestLutIsa(CpuFeatures{}, 2))), "lut/scalar");
}

// kernel=lut takes the widest LUT ISA a CPU runs: the SIMD one needs exactly its flags, and
// VBMI's only where it is faster than BW (3-4 activation bits).
BITLITE_TEST(LutIsaFollowsCpuFeatures) {
  CpuFeatures cpu;
  auto lut_name = [&](int activation_bits) {
    return std::string(IsaName(BestLutIsa(cpu, activation_bits)));
  };
  EXPECT_EQ(lut_name(2), "lut/scalar");
#if BITLITE_X86_KERNELS
  cpu.avx2 = true;
  EXPECT_EQ(lut_name(2), "lut/avx2");
  cpu.avx512_vnni = true;  // VNNI without AVX512BW: still AVX2
  EXPECT_EQ(lut_name(4), "lut/avx2");
  cpu.avx512bw = true;  // Skylake-SP, Cascade Lake
  EXPECT_EQ(lut_name(1), "lut/avx512bw");
  EXPECT_EQ(lut_name(4), "lut/avx512bw");
  cpu.avx512_vbmi = true;  // Ice Lake and later
  EXPECT_EQ(lut_name(2), "lut/avx512bw");
  EXPECT_EQ(lut_name(3), "lut/avx512vbmi");
  EXPECT_EQ(lut_name(4), "lut/avx512vbmi");
#endif
#if BITLITE_NEON_KERNELS
  cpu.neon = true;
  EXPECT_EQ(lut_name(1), "lut/neon");
  EXPECT_EQ(lut_name(4), "lut/neon");
#endif
  for (int bits = 1; bits <= 4; ++bits) EXPECT_TRUE(IsLutIsa(BestLutIsa(cpu, bits)));
}

bool Contains(const std::vector<BitserialIsa>& isas, BitserialIsa isa) {
  for (BitserialIsa candidate : isas) {
    if (candidate == isa) return true;
  }
  return false;
}

// Under qemu, tests/CMakeLists.txt passes the emulated CPU's features (from BITLITE_QEMU_CPU)
// as BITLITE_EXPECT_CPU_FEATURES, e.g. "neon" for cortex-a53 and cortex-a72, "neon,dotprod"
// for neoverse-n1: detection must find exactly those, and no choice (kernel=auto for every bit
// pair, kernel=int, the test list) may name a kernel the CPU lacks. Natively (no variable)
// only the consistency of the choices is checked.
BITLITE_TEST(DetectsTheEmulatedCpuAndNeverPicksKernelsItLacks) {
  const CpuFeatures& cpu = DetectCpuFeatures();
  const char* expected = std::getenv("BITLITE_EXPECT_CPU_FEATURES");
  if (expected != nullptr) {
    const std::string list = std::string(",") + expected + ",";
    auto expects = [&](const char* feature) {
      return list.find(std::string(",") + feature + ",") != std::string::npos;
    };
    EXPECT_EQ(cpu.neon, expects("neon"));
    EXPECT_EQ(cpu.dotprod, expects("dotprod"));
  }
  const std::vector<BitserialIsa> isas = SupportedIsas(cpu);
  EXPECT_EQ(Contains(isas, BitserialIsa::kNeonDot), cpu.dotprod);
  EXPECT_TRUE(Contains(isas, BestIntIsa(cpu)));
#if BITLITE_NEON_KERNELS
  // Every NEON CPU has an int kernel; the dot product one exactly where dotprod is.
  EXPECT_TRUE(cpu.neon);
  EXPECT_TRUE(BestIntIsa(cpu) ==
              (cpu.dotprod ? BitserialIsa::kNeonDot : BitserialIsa::kNeonInt8));
#endif
  for (int w = 1; w <= 4; ++w) {
    for (int a = 1; a <= 4; ++a) {
      const BitserialIsa isa = AutoIsa(cpu, w, a);
      EXPECT_TRUE(Contains(isas, isa));
      if (!cpu.dotprod) EXPECT_TRUE(isa != BitserialIsa::kNeonDot);
    }
  }
  EXPECT_TRUE(IsIntIsa(BitserialIsa::kNeonDot) && IsIntIsa(BitserialIsa::kNeonInt8) &&
              IsIntIsa(BitserialIsa::kAvx512Vnni) && !IsIntIsa(BestBitserialIsa(cpu)));
  EXPECT_EQ(std::string(IsaName(BitserialIsa::kNeonInt8)), "int8/neon");
  EXPECT_EQ(std::string(IsaName(BitserialIsa::kNeonDot)), "int8/neondot");
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
