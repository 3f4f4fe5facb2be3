#include "kernels/pack/activation_quantize.h"

namespace bitlite {

void QuantizeActivationsScalar(const float* x, size_t count, const ActivationPacking& packing,
                               int8_t* codes) {
  for (size_t i = 0; i < count; ++i) {
    codes[i] = static_cast<int8_t>(ActivationCode(x[i], packing.grid));
  }
}

QuantizeActivationsFn BestQuantizeActivations(const CpuFeatures& cpu) {
#if BITLITE_X86_KERNELS
  if (cpu.avx2) return QuantizeActivationsAvx2;
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
  if (cpu.neon) return QuantizeActivationsNeon;
#endif
  (void)cpu;
  return QuantizeActivationsScalar;
}

}  // namespace bitlite
