// Scalar reference convolution over activation and weight codes: the specification every
// SIMD kernel is tested against. Generic over W1-4 x A1-4 and W8A8 because it works on codes
// (int8 weights, int16 activations) with int32 products.
#ifndef BITLITE_SRC_KERNELS_REFERENCE_CONV2D_REFERENCE_H_
#define BITLITE_SRC_KERNELS_REFERENCE_CONV2D_REFERENCE_H_

#include <cstdint>

#include "kernels/conv_geometry.h"
#include "kernels/op_params.h"
#include "kernels/reference/activation_quantize_reference.h"

namespace bitlite {

// x_codes: [batch, in_h, in_w, in_c] activation codes; w_codes: [out_c, kernel_h, kernel_w,
// in_c / groups] weight codes; acc: scratch for out_c accumulators; y: [batch, out_h, out_w,
// out_c].
// Taps outside the input are skipped rather than encoded, because zero padding must add 0
// and signed 1-bit activations have no code for 0.
void Conv2DReference(const ConvGeometry& g, const ActivationCodeT* x_codes, const int8_t* w_codes,
                     const float* multiplier, const float* offset, Activation activation,
                     int32_t* acc, float* y);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_REFERENCE_CONV2D_REFERENCE_H_
