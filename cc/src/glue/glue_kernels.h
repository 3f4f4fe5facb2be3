// Float kernels of the builtin ops the delegate claims between bitlite ops (glue_ops.h).
// Scalar code (MaxPool: 4-lane blocks on aarch64 NEON and x86 SSE2) that does, element by
// element, the float operations of TFLite's own float kernels in the same order
// (tensorflow/lite/kernels/internal/reference_ops and optimized_ops), so that their results are
// bit-identical: see cc/FORMAT.md, "Builtin ops the delegate runs".
// No TFLite types here: shapes and sizes are checked by the callers.
#ifndef BITLITE_SRC_GLUE_GLUE_KERNELS_H_
#define BITLITE_SRC_GLUE_GLUE_KERNELS_H_

#include <cstdint>
#include <vector>

#include "kernels/pool_geometry.h"

namespace bitlite {
namespace glue {

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kMaximum, kMinimum };

// How the two operands of a binary op map onto its output (of `size` elements).
enum class Broadcast {
  kNone,      // both have the output's elements
  kScalarA,   // a is one element
  kScalarB,   // b is one element
  kChannelA,  // a is one element per index of the last axis (`channels` of them)
  kChannelB,
  kGeneral,   // any other NumPy broadcast: strides of 0 along the broadcast axes
};

constexpr int kMaxBroadcastRank = 6;

// Where a binary op's operands sit in its output (of `size` elements).
struct BinaryGeometry {
  Broadcast broadcast = Broadcast::kNone;
  int64_t size = 0;
  int64_t channels = 1;  // kChannelA/B: the last axis
  // kGeneral: the output's shape and each operand's element strides per axis (0 where the
  // operand's axis is 1 and the output's is not), `rank` axes.
  int rank = 0;
  int64_t shape[kMaxBroadcastRank] = {};
  int64_t a_stride[kMaxBroadcastRank] = {};
  int64_t b_stride[kMaxBroadcastRank] = {};
};

// TFLite's fused activation as a clamp (CalculateActivationRange): NONE is
// [lowest, max], so an infinity becomes the largest finite float, as in TFLite.
struct Clamp {
  float low;
  float high;
};

// out[i] = clamp(a[i] op b[i]) for ADD, SUB, MUL, DIV (ActivationFunctionWithMinMax:
// min(max(v, low), high)); MAXIMUM and MINIMUM have no clamp and are `a > b ? a : b`,
// `a < b ? a : b` (maximum_minimum.h).
void Binary(BinaryOp op, const BinaryGeometry& g, const float* a, const float* b, float* out,
            Clamp clamp);

// The same for the outputs [first, end) alone, every form but kGeneral; with kChannelA/B,
// `first` and `end` are multiples of `g.channels`. Each output reads only its own elements,
// so the ranges may be split among threads in any way.
void BinaryRange(BinaryOp op, const BinaryGeometry& g, const float* a, const float* b,
                 float* out, Clamp clamp, int64_t first, int64_t end);

// TFLite's RELU, RELU6 and RELU_N1_TO_1 (ReluX): v < low ? low : v > high ? high : v (a NaN
// stays a NaN, -0 stays -0).
void Relu(const float* x, float* y, int64_t size, Clamp clamp);

// TFLite's float LEAKY_RELU (v > 0 ? v : v * alpha) for 0 <= alpha <= 1, where its reference
// and optimized kernels and TF's max(alpha * v, v) give the same bits for every value but a
// NaN's payload (XNNPACK too, but for subnormals, which it flushes: cc/FORMAT.md).
void LeakyRelu(const float* x, float* y, int64_t size, float alpha);

// TFLite's ROUND (RoundToNearest): half to even, from floor(x) and x - floor(x).
void Round(const float* x, float* y, int64_t size);

// TFLite's float MAX_POOL_2D on output rows [first_row, end_row) of the batch * out_h rows:
// per output element, std::max over the window's elements inside the input in row-major
// order, starting from the lowest float, then the clamp. Each output is computed alone, so
// the rows may be split among threads in any way.
void MaxPool(const PoolGeometry& g, const float* x, float* y, Clamp clamp, int64_t first_row,
             int64_t end_row);

// Zero padding of a tensor of shape `in_shape` by paddings[2 * d] before and
// paddings[2 * d + 1] after each dim d (all >= 0); out has the padded shape.
void Pad(const std::vector<int>& in_shape, const std::vector<int>& paddings, const float* x,
         float* out);

// STRIDED_SLICE with positive strides on a tensor of up to 5 dims: out[i0, ..., i4] =
// x[begin[0] + i0 * stride[0], ...]; in_shape, begin, stride and out_shape have 5 entries
// (leading dims of 1 for lower ranks).
void StridedSlice(const int* in_shape, const int* begin, const int* stride, const int* out_shape,
                  const float* x, float* out);

// The input index that RESIZE_NEAREST_NEIGHBOR copies to output index `out` along an axis
// resized from in_size to out_size: TFLite's GetNearestNeighbor, in its float arithmetic.
int NearestSource(int out, int in_size, int out_size, bool align_corners,
                  bool half_pixel_centers);

// RESIZE_NEAREST_NEIGHBOR of x [batch, in_h, in_w, channels] to out [batch, rows.size(),
// cols.size(), channels]: out[b, i, j] = x[b, rows[i], cols[j]] (the indices from
// NearestSource, each within the input).
void ResizeNearest(int64_t batch, int64_t in_h, int64_t in_w, int64_t channels,
                   const std::vector<int>& rows, const std::vector<int>& cols, const float* x,
                   float* out);

// Concatenation along an axis: the tensors are [outer, axis_sizes[i], inner] in memory.
void Concatenate(int64_t outer, int64_t inner, const std::vector<int64_t>& axis_sizes,
                 const float* const* parts, float* out);

// The inverse: splits x [outer, sum(axis_sizes), inner] into parts (UNPACK, SPLIT, SPLIT_V).
void Split(int64_t outer, int64_t inner, const std::vector<int64_t>& axis_sizes, const float* x,
           float* const* parts);

}  // namespace glue
}  // namespace bitlite

#endif  // BITLITE_SRC_GLUE_GLUE_KERNELS_H_
