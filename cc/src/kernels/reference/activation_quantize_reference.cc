#include "kernels/reference/activation_quantize_reference.h"

namespace bitlite {

ActivationGrid MakeActivationGrid(const OpParams& params) {
  ActivationGrid grid;
  grid.scale = params.input_scale;
  grid.range = ActivationCodeRange(params.activation_bits, params.activation_signed);
  grid.is_binary = params.activation_signed && params.activation_bits == 1;
  return grid;
}

void QuantizeActivationsReference(const float* x, size_t count, const ActivationGrid& grid,
                                  ActivationCodeT* codes) {
  for (size_t i = 0; i < count; ++i) codes[i] = ActivationCode(x[i], grid);
}

}  // namespace bitlite
