// The output stage of FORMAT.md, "Arithmetic": y = float(acc) * multiplier, then + offset,
// then the activation. Two separate float32 roundings: this file must be compiled without
// floating-point contraction (-ffp-contract=off) so no FMA merges them.
#ifndef BITLITE_SRC_KERNELS_REFERENCE_OUTPUT_STAGE_REFERENCE_H_
#define BITLITE_SRC_KERNELS_REFERENCE_OUTPUT_STAGE_REFERENCE_H_

#include <cstdint>

#include "kernels/op_params.h"

namespace bitlite {

// Writes `channels` outputs from one accumulator per channel.
void OutputStageReference(const int32_t* acc, int64_t channels, const float* multiplier,
                          const float* offset, Activation activation, float* y);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_REFERENCE_OUTPUT_STAGE_REFERENCE_H_
