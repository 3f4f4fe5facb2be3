#include "kernels/depthwise/dwconv_kernels.h"

#include "kernels/kernel_table.h"

namespace bitlite {
namespace {

bool Always(const CpuFeatures&) { return true; }

#if BITLITE_X86_KERNELS
bool HasAvx2(const CpuFeatures& cpu) { return cpu.avx2; }
// AVX512BW (16-bit lanes) comes with every AVX512-VNNI CPU.
bool HasAvx512Bw(const CpuFeatures& cpu) { return cpu.avx2 && cpu.avx512_vnni; }
#endif
#if BITLITE_NEON_KERNELS
bool HasNeon(const CpuFeatures& cpu) { return cpu.neon; }
// armv7 keeps the scalar quantizer and output stage: its NEON flushes denormals to zero,
// which FORMAT.md's arithmetic does not.
#if defined(__aarch64__)
constexpr QuantizeActivationsFn kNeonQuantize = QuantizeActivationsNeon;
constexpr EpilogueFn kNeonEpilogue = OutputEpilogueNeon;
constexpr EpilogueCodesFn kNeonEpilogueCodes = OutputEpilogueCodesNeon;
#else
constexpr QuantizeActivationsFn kNeonQuantize = QuantizeActivationsScalar;
constexpr EpilogueFn kNeonEpilogue = OutputEpilogueScalar;
constexpr EpilogueCodesFn kNeonEpilogueCodes = nullptr;  // its ops write floats
#endif
#endif

const DwconvKernel kTable[] = {
    {"depthwise/scalar", "16 channels", Always,
     {QuantizeActivationsScalar, DwconvRow16cScalar, OutputEpilogueScalar, 16,
      DwconvRow16cW8A8Scalar}},
#if BITLITE_X86_KERNELS
    {"depthwise/avx2", "16 channels", HasAvx2,
     {QuantizeActivationsAvx2, DwconvRow16cAvx2, OutputEpilogueAvx2, 16, DwconvRow16cW8A8Avx2}},
    // Quantization stays AVX2: division throughput per value is the same at either width (an
    // AVX-512 threshold quantizer, compares into masks, is not measured). W8A8 keeps AVX2's
    // 16-channel row (an AVX-512 one is not written).
    {"depthwise/avx512", "32 channels x 2 pixels", HasAvx512Bw,
     {QuantizeActivationsAvx2, DwconvRow32cAvx512, OutputEpilogueAvx512, 32,
      DwconvRow16cW8A8Avx2, OutputEpilogueCodesAvx512}},
#endif
#if BITLITE_NEON_KERNELS
    {"depthwise/neon", "16 channels", HasNeon,
     {kNeonQuantize, DwconvRow16cNeon, kNeonEpilogue, 16, DwconvRow16cW8A8Neon,
      kNeonEpilogueCodes}},
#endif
};

}  // namespace

const std::vector<const DwconvKernel*>& DwconvKernels() {
  static const std::vector<const DwconvKernel*> rows = TableRows(kTable);
  return rows;
}

std::vector<const DwconvKernel*> SupportedDwconvKernels(const CpuFeatures& cpu) {
  return RowsThatRun(DwconvKernels(), cpu);
}

const DwconvKernel& BestDwconvKernel(const CpuFeatures& cpu) {
  return *SupportedDwconvKernels(cpu).back();
}

}  // namespace bitlite
