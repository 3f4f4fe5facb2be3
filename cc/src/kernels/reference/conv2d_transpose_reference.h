// Scalar reference transposed convolution over activation and weight codes: the
// specification (FORMAT.md "BitliteConv2DTranspose") the fast kernel (conv2d_transpose_gemm.h)
// is tested against. Written as the gather it is, output pixel by output pixel, so that each
// accumulator is one sum and the output stage is Conv2DReference's.
#ifndef BITLITE_SRC_KERNELS_REFERENCE_CONV2D_TRANSPOSE_REFERENCE_H_
#define BITLITE_SRC_KERNELS_REFERENCE_CONV2D_TRANSPOSE_REFERENCE_H_

#include <cstdint>

#include "kernels/conv_geometry.h"
#include "kernels/op_params.h"
#include "kernels/reference/activation_quantize_reference.h"

namespace bitlite {

// g: a transposed geometry (ComputeGeometry of a kConv2DTranspose op: stride, kernel, pad_top
// and pad_left of the convolution it transposes, groups and dilation 1). x_codes: [batch,
// in_h, in_w, in_c]; w_codes: [out_c, kernel_h, kernel_w, in_c], the Keras kernel's taps
// unflipped; acc: scratch for out_c accumulators; y: [batch, out_h, out_w, out_c].
// acc[oh, ow, c] sums qw[c, kh, kw, ci] * qx[ih, iw, ci] over the taps with
// ih * stride_h = oh + pad_top - kh and iw * stride_w = ow + pad_left - kw inside the input.
void Conv2DTransposeReference(const ConvGeometry& g, const ActivationCodeT* x_codes,
                              const int8_t* w_codes, const float* multiplier, const float* offset,
                              Activation activation, int32_t* acc, float* y);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_REFERENCE_CONV2D_TRANSPOSE_REFERENCE_H_
