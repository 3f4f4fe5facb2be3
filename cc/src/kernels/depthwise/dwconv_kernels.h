// The depthwise kernels Conv2DDepthwise runs, as one table (as gemm_kernels.h for the GEMM
// kernels): each row is one ISA of this build with its name, tile, the CPU features it needs
// and its entry points. Adding an ISA is a new kernel file, a row in dwconv_kernels.cc and a
// line in CMakeLists.txt.
#ifndef BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_KERNELS_H_
#define BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_KERNELS_H_

#include <cstdint>
#include <vector>

#include "kernels/pack/activation_quantize.h"
#include "kernels/cpu_features.h"
#include "kernels/depthwise/dwconv.h"
#include "kernels/epilogue/output_epilogue.h"

namespace bitlite {

// One input row quantized to int8 codes, the taps of one output row summed per channel tile,
// and the output stage: what Conv2DDepthwise runs.
struct DwconvFunctions {
  QuantizeActivationsFn quantize = nullptr;
  DwconvRowFn row = nullptr;
  EpilogueFn epilogue = nullptr;
  int64_t lanes = 16;  // channels per tile of `row`
  // W8A8 layers' row (kDwconvW8A8Lanes channels per tile); their activations are quantized
  // by the reference (see conv2d_depthwise.h).
  DwconvRowFn row_w8a8 = nullptr;
  // The output stage writing another op's codes (FORMAT.md "Codes between ops"); null where
  // the ISA has none yet (its ops then write floats).
  EpilogueCodesFn epilogue_codes = nullptr;
};

struct DwconvKernel {
  const char* name;  // "depthwise/avx2": what verbose mode, the benchmarks and tests print
  const char* tile;  // channels of one tile x the output pixels of one step
  bool (*runs_on)(const CpuFeatures& cpu);
  DwconvFunctions functions;
};

// Every kernel of this build, the scalar one first, then each ISA from the narrowest up.
const std::vector<const DwconvKernel*>& DwconvKernels();

// The kernels `cpu` runs, in table order, and the last (widest) of them.
std::vector<const DwconvKernel*> SupportedDwconvKernels(const CpuFeatures& cpu);
const DwconvKernel& BestDwconvKernel(const CpuFeatures& cpu);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_DEPTHWISE_DWCONV_KERNELS_H_
