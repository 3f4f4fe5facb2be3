// The delegate option `kernel` and the runtime kernel choice (kernels/bitserial_isa.h).
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
      // The int8 kernel only for wide codes, never for the popcount-friendly narrow ones.
      if (w * a < 9) EXPECT_TRUE(isa == BestBitserialIsa(cpu));
    }
  }
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

}  // namespace
}  // namespace testing
}  // namespace bitlite
