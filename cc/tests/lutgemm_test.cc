// The lookup-table GEMM kernels (lutgemm.h) of every ISA this CPU runs against the bitserial
// scalar GEMM on random bit planes: every bit pair and activation grid, reductions that split
// into several table blocks (and some that do not divide evenly), pixel counts around each
// kernel's pixel tile, and a core stride wider than the channels (untouched past them).
#include "kernels/lut/lutgemm.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm/bgemm.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm/gemm_kernels.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

constexpr int kLanes = 16;  // the LUT kernels' weight lanes (LutGemmKernel::gemm.lanes)

BITLITE_TEST(LutGemmMatchesScalarBgemmOnRandomPlanes) {
  std::mt19937_64 rng(5);
  // Every LUT row of the kernel table this CPU runs, through the row's own entry points.
  std::vector<const GemmKernel*> kernels;
  for (const GemmKernel* kernel : SupportedGemmKernels(DetectCpuFeatures())) {
    if (kernel->family == GemmFamily::kLut) kernels.push_back(kernel);
  }
  EXPECT_TRUE(!kernels.empty());
  for (int wb = 1; wb <= 4; ++wb) {
    for (int ab = 1; ab <= 4; ++ab) {
      for (bool twos : {false, true}) {
        if (twos && ab == 1) continue;  // the 1-bit grids are never two's complement
        for (int64_t words : {1, 9, 16, 17, 40}) {
          const int64_t pixels = static_cast<int64_t>(rng() % 9) + 1;
          const int64_t channels = kLanes * static_cast<int64_t>(rng() % 3 + 1);
          const int64_t stride = channels + kLanes;
          std::vector<uint64_t> x(static_cast<size_t>(pixels * words * ab));
          for (uint64_t& v : x) v = rng();
          // Channel c's planes in both layouts: [c][words][wb] (1 lane), then 16 lanes.
          std::vector<uint64_t> w1(static_cast<size_t>(channels * words * wb));
          for (uint64_t& v : w1) v = rng();
          std::vector<uint64_t> w16(w1.size());
          for (int64_t c = 0; c < channels; ++c) {
            for (int64_t k = 0; k < words * wb; ++k) {
              w16[static_cast<size_t>(((c / kLanes) * words * wb + k) * kLanes + c % kLanes)] =
                  w1[static_cast<size_t>(c * words * wb + k)];
            }
          }
          std::vector<int32_t> expected(static_cast<size_t>(pixels * stride), 7);
          // The scalar bitserial GEMM reads x in place: pixel rows of `words` words of planes.
          std::vector<const uint64_t*> rows;
          for (int64_t p = 0; p < pixels; ++p) rows.push_back(x.data() + p * words * ab);
          std::vector<int64_t> offsets;
          for (int64_t k = 0; k < words; ++k) offsets.push_back(k * ab);
          const BgemmKernel scalar = BgemmScalar(wb, ab, twos);
          scalar.indirect(rows.data(), offsets.data(), pixels, w1.data(), channels, words,
                          expected.data(), stride);
          for (const GemmKernel* kernel : kernels) {
            const GemmFunctions lut = kernel->functions(wb, ab, twos);
            EXPECT_EQ(lut.bgemm.lanes, kLanes);
            std::vector<uint64_t> w = w16;
            lut.relayout_weights(w.data(), w.size(), words);
            std::vector<int32_t> core(expected.size(), 7);
            lut.bgemm.run(x.data(), pixels, w.data(), channels, words, core.data(), stride);
            if (core != expected) {
              ReportFailure(__FILE__, __LINE__,
                            std::string(kernel->name) + " W" + std::to_string(wb) + "A" +
                                std::to_string(ab) + (twos ? " twos" : "") + " words " +
                                std::to_string(words) + " pixels " + std::to_string(pixels) +
                                " channels " + std::to_string(channels));
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
