// Float activations to int8 codes (FORMAT.md "Quantization grids"), vectorised versions of
// QuantizeActivationsReference with bit-identical codes. They take the ActivationPacking made
// once at Prepare, so grids with thresholds can be quantized by compares instead of division.
#ifndef BITLITE_SRC_KERNELS_PACK_ACTIVATION_QUANTIZE_H_
#define BITLITE_SRC_KERNELS_PACK_ACTIVATION_QUANTIZE_H_

#include <cstddef>
#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/pack/activation_pack.h"
#include "kernels/reference/activation_quantize_reference.h"

namespace bitlite {

using QuantizeActivationsFn = void (*)(const float* x, size_t count,
                                       const ActivationPacking& packing, int8_t* codes);

// The reference's codes behind this signature (sub-byte codes fit int8), every CPU.
void QuantizeActivationsScalar(const float* x, size_t count, const ActivationPacking& packing,
                               int8_t* codes);

#if BITLITE_X86_KERNELS
void QuantizeActivationsAvx2(const float* x, size_t count, const ActivationPacking& packing,
                             int8_t* codes);
#endif
// aarch64 only: armv7 NEON has no float division, so armv7 quantizes with the reference.
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
void QuantizeActivationsNeon(const float* x, size_t count, const ActivationPacking& packing,
                             int8_t* codes);
#endif

// The fastest of the above that `cpu` runs (all give the same codes).
QuantizeActivationsFn BestQuantizeActivations(const CpuFeatures& cpu);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_PACK_ACTIVATION_QUANTIZE_H_
