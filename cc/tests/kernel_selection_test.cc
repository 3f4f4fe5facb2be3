// The delegate option `kernel`, the kernel tables and the runtime kernel choice
// (kernels/gemm/gemm_kernels.h, kernels/depthwise/dwconv_kernels.h).
#include <cstdlib>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "delegate_options.h"
#include "kernels/cpu_features.h"
#include "kernels/depthwise/dwconv_kernels.h"
#include "kernels/gemm/gemm_kernels.h"
#include "kernels/winograd/winograd_f2x3.h"
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

std::string AutoName(const CpuFeatures& cpu, int weight_bits, int activation_bits) {
  return AutoGemmKernel(cpu, weight_bits, activation_bits, 64).name;
}

std::string BestName(const CpuFeatures& cpu, GemmFamily family, int activation_bits = 4,
                     int weight_bits = 4) {
  return BestGemmKernel(cpu, family, weight_bits, activation_bits).name;
}

// Every row: a unique "family/isa" name, entry points for every bit pair and grid it takes,
// scalar rows only where no CPU feature is needed, crossovers only where they are measured;
// only int rows take W8A8, and the scalar one makes every CPU run it.
BITLITE_TEST(KernelTableRowsAreComplete) {
  std::set<std::string> names;
  for (const GemmKernel* row : GemmKernels()) {
    const std::string name = row->name;
    EXPECT_TRUE(names.insert(name).second);
    const char* prefix = row->family == GemmFamily::kBitserial ? "bitserial/"
                         : row->family == GemmFamily::kInt     ? "int8/"
                                                               : "lut/";
    EXPECT_EQ(name.rfind(prefix, 0), size_t{0});
    EXPECT_EQ(row->runs_on(CpuFeatures{}), name.find("/scalar") != std::string::npos);
    const std::vector<std::pair<int, int>> pairs = {{1, 1}, {1, 2}, {1, 3}, {1, 4}, {2, 1},
                                                    {2, 2}, {2, 3}, {2, 4}, {3, 1}, {3, 2},
                                                    {3, 3}, {3, 4}, {4, 1}, {4, 2}, {4, 3},
                                                    {4, 4}, {8, 8}};
    for (const auto& [w, a] : pairs) {
      if (!row->Takes(w, a)) continue;
      for (bool twos : {false, true}) {
        const GemmFunctions f = row->functions(w, a, twos);
        EXPECT_TRUE((f.bgemm.run != nullptr || f.bgemm.indirect != nullptr) &&
                    f.pack != nullptr && f.epilogue != nullptr);
        // The LUT kernels' nibbles and the AMX tiles (byte weights) read their own order;
        // int8/neon-a53's byte sums read the byte layout as packed.
        const bool own_order = row->family == GemmFamily::kLut ||
                               (f.byte_weights && name != "int8/neon-a53");
        EXPECT_EQ(f.relayout_weights != nullptr, own_order);
        EXPECT_TRUE(!f.byte_weights || row->family == GemmFamily::kInt);
        EXPECT_TRUE(!f.signed_activation_bytes || w == 8);
      }
    }
    EXPECT_TRUE(row->Takes(1, 1) || row->Takes(8, 8));
    EXPECT_TRUE(!row->Takes(8, 8) || row->family == GemmFamily::kInt);
    const bool sub_byte_int = row->family == GemmFamily::kInt && row->Takes(1, 1);
    const bool measured = sub_byte_int || name == "bitserial/avx2";
    EXPECT_EQ(row->auto_min_bit_product < kNeverBitProduct, measured);
  }
  EXPECT_TRUE(names.count("bitserial/scalar") == 1 && names.count("lut/scalar") == 1 &&
              names.count("int8/scalar") == 1);
  for (const DwconvKernel* row : DwconvKernels()) {
    EXPECT_EQ(std::string(row->name).rfind("depthwise/", 0), size_t{0});
    EXPECT_TRUE(row->functions.quantize != nullptr && row->functions.row != nullptr &&
                row->functions.epilogue != nullptr);
  }
}

// W8A8 runs on the CPU's widest int row that takes it under kernel=auto and kernel=int, and
// falls back to it under kernel=bitserial and kernel=lut (which take at most 4 bits).
BITLITE_TEST(W8A8TakesTheWidestIntRowUnderEveryChoice) {
  auto expect_everywhere = [](const CpuFeatures& cpu, const std::string& name) {
    EXPECT_EQ(AutoName(cpu, 8, 8), name);
    for (GemmFamily family : {GemmFamily::kBitserial, GemmFamily::kInt, GemmFamily::kLut}) {
      EXPECT_EQ(BestName(cpu, family, 8, 8), name);
    }
  };
  CpuFeatures cpu;
  expect_everywhere(cpu, "int8/scalar");
#if BITLITE_X86_KERNELS
  cpu.avx2 = true;
  expect_everywhere(cpu, "int8/avx2");
  cpu.avx512bw = true;  // Skylake-SP: no VNNI
  expect_everywhere(cpu, "int8/avx2");
  cpu.avx512_vnni = true;
  expect_everywhere(cpu, "int8/avx512vnni");
  cpu.amx_int8 = true;  // Sapphire Rapids
  expect_everywhere(cpu, "int8/amx");
#endif
#if BITLITE_NEON_KERNELS
  cpu.neon = true;
  expect_everywhere(cpu, "int8/neon");
#if defined(__aarch64__)
  cpu.in_order = true;  // int8/neon-a53 takes sub-byte widths only
  expect_everywhere(cpu, "int8/neon");
  cpu.dotprod = true;
  expect_everywhere(cpu, "int8/neondot");
#endif
#endif
}

// kernel=auto on CPUs described by their features, against the measured crossovers written
// out here (gemm_kernels.cc has the measurements): the choice per bit product, not the rule.
BITLITE_TEST(AutoFollowsTheMeasuredCrossovers) {
  for (int w = 1; w <= 4; ++w) {
    for (int a = 1; a <= 4; ++a) {
      const int p = w * a;
      EXPECT_EQ(AutoName(CpuFeatures{}, w, a), "bitserial/scalar");
#if BITLITE_X86_KERNELS
      CpuFeatures avx2;  // Haswell: LUT from p = 3
      avx2.avx2 = true;
      EXPECT_EQ(AutoName(avx2, w, a), p >= 3 ? "lut/avx2" : "bitserial/avx2");
      CpuFeatures skylake_sp = avx2;  // AVX512BW, no VPOPCNTDQ, no VNNI: the AVX2 rule
      skylake_sp.avx512bw = true;
      EXPECT_EQ(AutoName(skylake_sp, w, a), p >= 3 ? "lut/avx512bw" : "bitserial/avx2");
      CpuFeatures icelake = skylake_sp;  // this project's x86: int8 from p = 6
      icelake.avx512_vpopcntdq = icelake.avx512_vnni = icelake.avx512_vbmi = true;
      EXPECT_EQ(AutoName(icelake, w, a),
                p >= 6 ? "int8/avx512vnni" : "bitserial/avx512vpopcntdq");
      CpuFeatures sapphire_rapids = icelake;  // AMX tiles from p = 2
      sapphire_rapids.amx_int8 = true;
      EXPECT_EQ(AutoName(sapphire_rapids, w, a),
                p >= 2 ? "int8/amx" : "bitserial/avx512vpopcntdq");
#endif
#if BITLITE_NEON_KERNELS
      CpuFeatures a53;
      a53.neon = true;
#if defined(__aarch64__)
      EXPECT_EQ(AutoName(a53, w, a), p >= 8 ? "int8/neon" : "bitserial/neon");  // A72-class
      CpuFeatures in_order = a53;  // the Cortex-A53 itself: byte sums from p = 6
      in_order.in_order = true;
      EXPECT_EQ(AutoName(in_order, w, a), p >= 6 ? "int8/neon-a53" : "bitserial/neon");
      CpuFeatures n1 = a53;
      n1.dotprod = true;
      EXPECT_EQ(AutoName(n1, w, a), p >= 4 ? "int8/neondot" : "bitserial/neon");
#else
      EXPECT_EQ(AutoName(a53, w, a), p >= 9 ? "int8/neon" : "bitserial/neon");
#endif
#endif
    }
  }
}

// kernel=auto's F(2x2, 3x3) (AutoWinogradKernels): 3x3 layers of stride 1 on the CPU's W8A8 row
// where the int row of their widths takes it by bit product (its cached threshold for deep
// layers whose transformed weights fit the cache bound); never for other geometries, W8A8,
// or CPUs whose int row has no measured threshold.
std::string WinogradName(const CpuFeatures& cpu, int w, int a, int in_channels = 64,
                         int stride = 1, int kernel = 3, int out_channels = 64) {
  OpParams p;
  p.weight_bits = w;
  p.activation_bits = a;
  p.in_channels = in_channels;
  p.out_channels = out_channels;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  const WinogradKernels kernels = AutoWinogradKernels(cpu, p);
  if (!kernels) return "none";
  // The layer keeps the int row of its widths (the transform reads its packed bytes).
  EXPECT_EQ(kernels.layer, &BestGemmKernel(cpu, GemmFamily::kInt, w, a));
  return kernels.gemm->name;
}

BITLITE_TEST(AutoRunsWinogradWhereMeasured) {
  for (int w = 1; w <= 4; ++w) {
    for (int a = 1; a <= 4; ++a) {
      [[maybe_unused]] const int p = w * a;  // unread on armv7: no rule takes Winograd there
      EXPECT_EQ(WinogradName(CpuFeatures{}, w, a), "none");
#if BITLITE_X86_KERNELS
      CpuFeatures avx2;  // no sub-byte int row
      avx2.avx2 = true;
      EXPECT_EQ(WinogradName(avx2, w, a), "none");
      CpuFeatures icelake = avx2;  // this project's x86: transformed weights of at most 1 MiB,
                                   // from p = 6, and 4 from 128 input channels
      icelake.avx512bw = icelake.avx512_vpopcntdq = icelake.avx512_vnni = true;
      const char* vnni = "int8/avx512vnni";
      EXPECT_EQ(WinogradName(icelake, w, a), p >= 6 ? vnni : "none");
      EXPECT_EQ(WinogradName(icelake, w, a, 127, 1, 3, 127), p >= 6 ? vnni : "none");
      EXPECT_EQ(WinogradName(icelake, w, a, 128, 1, 3, 128), p >= 4 ? vnni : "none");
      EXPECT_EQ(WinogradName(icelake, w, a, 256, 1, 3, 256), p >= 4 ? vnni : "none");  // 1 MiB
      EXPECT_EQ(WinogradName(icelake, w, a, 256, 1, 3, 257), "none");
      EXPECT_EQ(WinogradName(icelake, w, a, 64, 1, 3, 1024), p >= 6 ? vnni : "none");
      EXPECT_EQ(WinogradName(icelake, w, a, 512, 1, 3, 512), "none");
      EXPECT_EQ(WinogradName(icelake, w, a, 64, 1, 3, 1025), "none");
      EXPECT_EQ(WinogradName(icelake, w, a, kWinogradMinInChannels - 1), "none");
      EXPECT_EQ(WinogradName(icelake, w, a, 256, 2), "none");
      EXPECT_EQ(WinogradName(icelake, w, a, 256, 1, 5), "none");
      EXPECT_EQ(WinogradName(icelake, w, a, kWinogradMaxInChannels + 1), "none");
      CpuFeatures sapphire_rapids = icelake;  // AMX: not measured
      sapphire_rapids.amx_int8 = true;
      EXPECT_EQ(WinogradName(sapphire_rapids, w, a, 256), "none");
#endif
#if BITLITE_NEON_KERNELS
      CpuFeatures a72;  // out of order: from p = 8 where the transformed weights fit 512 KiB
      a72.neon = true;
#if defined(__aarch64__)
      EXPECT_EQ(WinogradName(a72, w, a), p >= 8 ? "int8/neon" : "none");
      EXPECT_EQ(WinogradName(a72, w, a, 128, 1, 3, 256), p >= 8 ? "int8/neon" : "none");
      EXPECT_EQ(WinogradName(a72, w, a, 128, 1, 3, 257), "none");
      EXPECT_EQ(WinogradName(a72, w, a, 256, 1, 3, 256), "none");
      EXPECT_EQ(WinogradName(a72, w, a, kWinogradMinInChannels - 1), "none");
      EXPECT_EQ(WinogradName(a72, w, a, 128, 2), "none");
#else
      EXPECT_EQ(WinogradName(a72, w, a, 128), "none");  // armv7: not measured
#endif
#if defined(__aarch64__)
      CpuFeatures a53 = a72;  // in order: from p = 6 on the SMULL row
      a53.in_order = true;
      EXPECT_EQ(WinogradName(a53, w, a), p >= 6 ? "int8/neon" : "none");
      EXPECT_EQ(WinogradName(a53, w, a, 512), p >= 6 ? "int8/neon" : "none");
      EXPECT_EQ(WinogradName(a53, w, a, 32), "none");
      CpuFeatures a55 = a53;  // SDOT: not measured
      a55.dotprod = true;
      EXPECT_EQ(WinogradName(a55, w, a), "none");
#endif
#endif
    }
  }
  CpuFeatures any;
  any.neon = any.in_order = any.avx2 = any.avx512bw = any.avx512_vnni = true;
  EXPECT_EQ(WinogradName(any, 8, 8), "none");  // W8A8: its points do not fit bytes
}

// Taps narrower than a word: the int crossover compares p times the codes a bitserial tap
// pads to (whole 64-code words) over those the int row's pads to (its tap chunks: 8 codes,
// AMX's 64).
BITLITE_TEST(AutoWeighsNarrowTapsByTheirPadding) {
  EXPECT_TRUE(TapPaddingRatio(64, 8) == 1.0 && TapPaddingRatio(128, 8) == 1.0);
  EXPECT_TRUE(TapPaddingRatio(16, 8) == 4.0 && TapPaddingRatio(32, 8) == 2.0);
  EXPECT_TRUE(TapPaddingRatio(3, 8) == 8.0 && TapPaddingRatio(96, 8) == 128.0 / 96.0);
  EXPECT_TRUE(TapPaddingRatio(65, 8) == 128.0 / 72.0 && TapPaddingRatio(16, 64) == 1.0);
  auto name = [](const CpuFeatures& cpu, int w, int a, int64_t tap_codes) {
    return std::string(AutoGemmKernel(cpu, w, a, tap_codes).name);
  };
  EXPECT_EQ(name(CpuFeatures{}, 2, 2, 16), "bitserial/scalar");
#if BITLITE_X86_KERNELS
  CpuFeatures avx2;  // no sub-byte int row: the LUT rule by p alone
  avx2.avx2 = true;
  EXPECT_EQ(name(avx2, 1, 2, 16), "bitserial/avx2");
  CpuFeatures icelake = avx2;  // int8 from p = 6
  icelake.avx512bw = icelake.avx512_vpopcntdq = icelake.avx512_vnni = icelake.avx512_vbmi = true;
  EXPECT_EQ(name(icelake, 2, 2, 16), "int8/avx512vnni");            // 4 x 4
  EXPECT_EQ(name(icelake, 2, 2, 40), "int8/avx512vnni");            // 4 x 1.6
  EXPECT_EQ(name(icelake, 2, 2, 48), "bitserial/avx512vpopcntdq");  // 4 x 1.33
  EXPECT_EQ(name(icelake, 1, 1, 16), "bitserial/avx512vpopcntdq");  // 1 x 4
  CpuFeatures sapphire_rapids = icelake;  // AMX from p = 2, 64-code tap chunks
  sapphire_rapids.amx_int8 = true;
  EXPECT_EQ(name(sapphire_rapids, 1, 1, 16), "bitserial/avx512vpopcntdq");  // 1 x 1
  EXPECT_EQ(name(sapphire_rapids, 1, 2, 16), "int8/amx");                   // 2 x 1
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
  CpuFeatures a72;  // out of order: int8 from p = 8
  a72.neon = true;
  EXPECT_EQ(name(a72, 2, 2, 32), "int8/neon");       // 4 x 2
  EXPECT_EQ(name(a72, 2, 2, 40), "bitserial/neon");  // 4 x 1.6
  EXPECT_EQ(name(a72, 2, 2, 48), "bitserial/neon");  // 4 x 1.33
  EXPECT_EQ(name(a72, 1, 1, 16), "bitserial/neon");  // 1 x 4
  EXPECT_EQ(name(a72, 1, 1, 8), "int8/neon");        // 1 x 8
  CpuFeatures in_order = a72;  // the A53: int8 from p = 6
  in_order.in_order = true;
  EXPECT_EQ(name(in_order, 2, 2, 40), "int8/neon-a53");   // 4 x 1.6
  EXPECT_EQ(name(in_order, 2, 2, 48), "bitserial/neon");  // 4 x 1.33
  EXPECT_EQ(name(in_order, 1, 1, 8), "int8/neon-a53");    // 1 x 8
#endif
}

#if BITLITE_NEON_KERNELS && defined(__aarch64__)
// int8/neon-a53 sums in byte lanes, on weights one byte per code, exactly where every product
// fits the bound it widens by (kByteSumMostProduct: up to W3A4 and W4A3), else in UMLAL's
// uint16 lanes on nibbles; every NEON CPU runs it, only in-order ones choose it.
BITLITE_TEST(InOrderNeonRowSumsBytesWhereProductsAreSmall) {
  CpuFeatures a53;
  a53.neon = true;
  const GemmKernel* row = FindGemmKernel(a53, "int8/neon-a53");
  EXPECT_TRUE(row != nullptr);
  if (row == nullptr) return;
  for (int w = 1; w <= 4; ++w) {
    for (int a = 1; a <= 4; ++a) {
      const bool small = MostCodeProduct(w, a) <= kByteSumMostProduct;
      EXPECT_EQ(row->functions(w, a, false).byte_weights, small);
      EXPECT_EQ(small, w * a < 16);  // every pair but W4A4
      EXPECT_TRUE(!FindGemmKernel(a53, "int8/neon")->functions(w, a, false).byte_weights);
    }
  }
  EXPECT_EQ(BestName(a53, GemmFamily::kInt), "int8/neon");
  a53.in_order = true;
  EXPECT_EQ(BestName(a53, GemmFamily::kInt), "int8/neon-a53");
  EXPECT_EQ(BestName(a53, GemmFamily::kInt, 8, 8), "int8/neon");  // W8A8: not its widths
  a53.dotprod = true;  // an A55: UDOT
  EXPECT_EQ(BestName(a53, GemmFamily::kInt), "int8/neondot");
}
#endif

// /proc/cpuinfo of a Raspberry Pi 3 (four Cortex-A53), 4 (A72) and a big.LITTLE board.
BITLITE_TEST(InOrderCoresFromCpuinfo) {
  auto core = [](const char* implementer, const char* part) {
    return std::string("processor\t: 0\nBogoMIPS\t: 38.40\nFeatures\t: fp asimd\n") +
           "CPU implementer\t: " + implementer + "\nCPU architecture: 8\nCPU variant\t: 0x0\n" +
           "CPU part\t: " + part + "\nCPU revision\t: 4\n\n";
  };
  const std::string a53 = core("0x41", "0xd03"), a72 = core("0x41", "0xd08");
  EXPECT_TRUE(AllCoresInOrder((a53 + a53 + a53 + a53).c_str()));
  EXPECT_TRUE(AllCoresInOrder((core("0x41", "0xd04") + core("0x41", "0xd05")).c_str()));
  EXPECT_TRUE(!AllCoresInOrder((a72 + a72 + a72 + a72).c_str()));
  EXPECT_TRUE(!AllCoresInOrder((a53 + a53 + a72 + a72).c_str()));
  EXPECT_TRUE(!AllCoresInOrder(core("0x51", "0xd03").c_str()));  // not Arm's part 0xd03
  EXPECT_TRUE(!AllCoresInOrder("processor\t: 0\nmodel name\t: AMD EPYC\n"));
  EXPECT_TRUE(!AllCoresInOrder(""));
  EXPECT_TRUE(AllCoresInOrder(a53.substr(0, a53.size() - 2).c_str()));  // no final newline
}

// kernel=lut, kernel=bitserial and kernel=int take the widest kernel of their family a CPU
// runs: the SIMD ones need exactly their flags (the AVX-512 ones AVX512BW too), VBMI's LUT only
// where it is faster than BW (3-4 activation bits), and int falls back to bitserial on a CPU
// without one.
BITLITE_TEST(FamiliesFollowCpuFeatures) {
  CpuFeatures cpu;
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 2), "lut/scalar");
  EXPECT_EQ(BestName(cpu, GemmFamily::kBitserial), "bitserial/scalar");
  EXPECT_EQ(BestName(cpu, GemmFamily::kInt), "bitserial/scalar");
#if BITLITE_X86_KERNELS
  cpu.avx2 = true;
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 2), "lut/avx2");
  EXPECT_EQ(BestName(cpu, GemmFamily::kInt), "bitserial/avx2");
  // VNNI without AVX512BW (no such CPU is known): AVX2's rows, as the AVX-512 rows' codes
  // between ops need byte masks.
  cpu.avx512_vnni = true;
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 4), "lut/avx2");
  EXPECT_EQ(BestName(cpu, GemmFamily::kInt), "bitserial/avx2");
  cpu.avx512bw = true;  // Skylake-SP, Cascade Lake
  EXPECT_EQ(BestName(cpu, GemmFamily::kInt), "int8/avx512vnni");
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 1), "lut/avx512bw");
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 4), "lut/avx512bw");
  cpu.avx512_vbmi = true;  // Ice Lake and later
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 2), "lut/avx512bw");
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 3), "lut/avx512vbmi");
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 4), "lut/avx512vbmi");
  cpu.avx512_vpopcntdq = true;
  EXPECT_EQ(BestName(cpu, GemmFamily::kBitserial), "bitserial/avx512vpopcntdq");
  cpu.amx_int8 = true;  // Sapphire Rapids and later
  EXPECT_EQ(BestName(cpu, GemmFamily::kInt), "int8/amx");
#endif
#if BITLITE_NEON_KERNELS
  cpu.neon = true;
  EXPECT_EQ(BestName(cpu, GemmFamily::kLut, 1), "lut/neon");
  EXPECT_EQ(BestName(cpu, GemmFamily::kBitserial), "bitserial/neon");
  EXPECT_EQ(BestName(cpu, GemmFamily::kInt), "int8/neon");
#if defined(__aarch64__)
  cpu.dotprod = true;
  EXPECT_EQ(BestName(cpu, GemmFamily::kInt), "int8/neondot");
#endif
#endif
}

bool Runs(const CpuFeatures& cpu, const GemmKernel& kernel) {
  for (const GemmKernel* row : SupportedGemmKernels(cpu)) {
    if (row == &kernel) return true;
  }
  return false;
}

// Under qemu, tests/CMakeLists.txt passes the emulated CPU's features (from BITLITE_QEMU_CPU)
// as BITLITE_EXPECT_CPU_FEATURES, e.g. "neon" for cortex-a53 and cortex-a72, "neon,dotprod"
// for neoverse-n1: detection must find exactly those, and no choice (kernel=auto for every bit
// pair, every family) may name a kernel the CPU lacks. Natively (no variable) only the
// consistency of the choices is checked.
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
  const GemmKernel* dot = nullptr;
  for (const GemmKernel* row : GemmKernels()) {
    if (std::string(row->name) == "int8/neondot") dot = row;
  }
  EXPECT_EQ(dot != nullptr && Runs(cpu, *dot), cpu.dotprod);
  for (GemmFamily family : {GemmFamily::kBitserial, GemmFamily::kInt, GemmFamily::kLut}) {
    for (int a = 1; a <= 4; ++a) EXPECT_TRUE(Runs(cpu, BestGemmKernel(cpu, family, 4, a)));
    EXPECT_TRUE(Runs(cpu, BestGemmKernel(cpu, family, 8, 8)));
    EXPECT_TRUE(BestGemmKernel(cpu, family, 8, 8).Takes(8, 8));
  }
  for (int w = 1; w <= 4; ++w) {
    for (int a = 1; a <= 4; ++a) EXPECT_TRUE(Runs(cpu, AutoGemmKernel(cpu, w, a, 64)));
  }
  EXPECT_TRUE(Runs(cpu, AutoGemmKernel(cpu, 8, 8, 64)));
#if BITLITE_NEON_KERNELS
  // Every NEON CPU has an int kernel; the dot product one exactly where dotprod is.
  EXPECT_TRUE(cpu.neon);
  EXPECT_EQ(BestName(cpu, GemmFamily::kInt), cpu.dotprod ? "int8/neondot" : "int8/neon");
  EXPECT_EQ(AutoName(cpu, 8, 8), cpu.dotprod ? "int8/neondot" : "int8/neon");
#endif
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
