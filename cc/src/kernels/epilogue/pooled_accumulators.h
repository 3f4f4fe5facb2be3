// A convolution followed by a max pool (ResNet's stem, VGG's blocks) pools its int32
// accumulators instead of its float outputs: the output stage then runs once per pooled
// output, and the convolution's full output is never written (FORMAT.md "Fused ops").
//
// Why that is exact: y = activation(float(acc) * multiplier + offset) is, per channel, a
// monotone function of acc (float conversion, multiplying, adding, the clamps and LEAKY_RELU's
// product by a slope > 0 all round monotonically): non-decreasing for a multiplier >= 0,
// non-increasing for one < 0. The max pool's result, the largest y of the window, is then y of
// the window's largest accumulator (smallest, for a negative multiplier) provided that equal
// floats are equal bits and nothing is unordered: no NaN and no -0.0 among the outputs. With a
// finite multiplier and offset no NaN arises; -0.0 only as -0.0 + -0.0, so an offset that is not
// -0.0 rules it out; and outputs that stay finite keep the pool's own NONE clamp (which turns an
// infinity into the largest float) the identity. LEAKY_RELU's product by its slope could round
// a tiny negative output to -0.0: OutputStagePools also rules that out. It checks these per
// layer.
//
// A negative multiplier's channel is pooled as ~acc (~ reverses the order of int32 without
// overflow): `flips` holds -1 there and 0 elsewhere, and every pooled value is XORed with it.
#ifndef BITLITE_SRC_KERNELS_EPILOGUE_POOLED_ACCUMULATORS_H_
#define BITLITE_SRC_KERNELS_EPILOGUE_POOLED_ACCUMULATORS_H_

#include <cstdint>

#include "kernels/cpu_features.h"
#include "kernels/epilogue/output_epilogue.h"
#include "kernels/pool_geometry.h"

namespace bitlite {

// Whether max pooling the output stage's results equals taking the output stage of the
// pooled accumulators for every channel (above).
bool OutputStagePools(const float* multiplier, const float* offset, int64_t channels,
                      Activation activation);

// flips[c] = -1 where multiplier[c] < 0, else 0.
void AccumulatorFlips(const float* multiplier, int64_t channels, int32_t* flips);

// The rows below, each ISA's (the scalar ones are the specification).
using FlippedAccumulatorsFn = void (*)(const int32_t* core, int64_t core_stride, int64_t pixels,
                                       int64_t channels, const EpilogueTerms& terms,
                                       const int32_t* flips, int32_t* out, int64_t out_stride);
using MaxPoolFlippedRowFn = void (*)(const PoolGeometry& g, int64_t pool_row,
                                     const int32_t* const* rows, int64_t channels,
                                     const int32_t* flips, int32_t* pooled);
struct PoolKernels {
  FlippedAccumulatorsFn flipped_accumulators;
  MaxPoolFlippedRowFn max_pool_flipped_row;
};

// The fastest rows `cpu` runs.
PoolKernels BestPoolKernels(const CpuFeatures& cpu);

// The full accumulators of `pixels` pixels (EpilogueTerms' integer step), XORed with
// `flips`: out[q * out_stride + c].
void FlippedAccumulators(const int32_t* core, int64_t core_stride, int64_t pixels,
                         int64_t channels, const EpilogueTerms& terms, const int32_t* flips,
                         int32_t* out, int64_t out_stride);

// One output row of the pool (`g`, row `pool_row` of an image, columns [0, g.out_w)) from
// the flipped accumulators of the input rows its windows reach: input row r at rows[r %
// g.filter_h], g.in_w pixels of `channels` each. pooled[column * channels + c] is the
// window's largest flipped accumulator, flipped back: the accumulator whose output stage is
// the pool's result.
void MaxPoolFlippedRow(const PoolGeometry& g, int64_t pool_row, const int32_t* const* rows,
                       int64_t channels, const int32_t* flips, int32_t* pooled);

#if BITLITE_X86_KERNELS
void FlippedAccumulatorsAvx512(const int32_t* core, int64_t core_stride, int64_t pixels,
                               int64_t channels, const EpilogueTerms& terms,
                               const int32_t* flips, int32_t* out, int64_t out_stride);
void MaxPoolFlippedRowAvx512(const PoolGeometry& g, int64_t pool_row,
                             const int32_t* const* rows, int64_t channels,
                             const int32_t* flips, int32_t* pooled);
#endif
#if BITLITE_NEON_KERNELS && defined(__aarch64__)
void FlippedAccumulatorsNeon(const int32_t* core, int64_t core_stride, int64_t pixels,
                             int64_t channels, const EpilogueTerms& terms, const int32_t* flips,
                             int32_t* out, int64_t out_stride);
void MaxPoolFlippedRowNeon(const PoolGeometry& g, int64_t pool_row, const int32_t* const* rows,
                           int64_t channels, const int32_t* flips, int32_t* pooled);
#endif

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_EPILOGUE_POOLED_ACCUMULATORS_H_
