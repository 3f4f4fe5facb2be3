#include "glue/glue_kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu_features.h"

namespace bitlite {
namespace glue {
namespace {

// ActivationFunctionWithMinMax.
inline float Clamped(float v, Clamp clamp) { return std::min(std::max(v, clamp.low), clamp.high); }

// The elementwise loops below are compiled for AVX-512 too (BITLITE_AVX512_CLONES: ResNet-18
// 224 W2A2 with an 8-bit residual stream 4.39 -> 3.57 ms at 1 thread), with the same IEEE
// operation per element either way.

// One loop per broadcast form, so that the compiler sees plain streams; inlined into each
// clone of Binary.
template <class Op>
inline __attribute__((always_inline)) void Apply(Op op, const BinaryGeometry& g, const float* a,
                                                 const float* b, float* out) {
  const int64_t size = g.size;
  const int64_t channels = g.channels;
  switch (g.broadcast) {
    case Broadcast::kNone:
      for (int64_t i = 0; i < size; ++i) out[i] = op(a[i], b[i]);
      return;
    case Broadcast::kScalarA: {
      const float s = a[0];
      for (int64_t i = 0; i < size; ++i) out[i] = op(s, b[i]);
      return;
    }
    case Broadcast::kScalarB: {
      const float s = b[0];
      for (int64_t i = 0; i < size; ++i) out[i] = op(a[i], s);
      return;
    }
    case Broadcast::kChannelA:
      for (int64_t row = 0; row < size; row += channels) {
        for (int64_t c = 0; c < channels; ++c) out[row + c] = op(a[c], b[row + c]);
      }
      return;
    case Broadcast::kChannelB:
      for (int64_t row = 0; row < size; row += channels) {
        for (int64_t c = 0; c < channels; ++c) out[row + c] = op(a[row + c], b[c]);
      }
      return;
    case Broadcast::kGeneral: {
      // Rows of the last axis, the other axes counted like an odometer.
      const int last = g.rank - 1;
      const int64_t n = g.shape[last], sa = g.a_stride[last], sb = g.b_stride[last];
      int64_t index[kMaxBroadcastRank] = {};
      int64_t ao = 0, bo = 0;
      for (int64_t row = 0; row < size; row += n) {
        for (int64_t i = 0; i < n; ++i) out[row + i] = op(a[ao + i * sa], b[bo + i * sb]);
        for (int d = last - 1; d >= 0; --d) {
          ao += g.a_stride[d];
          bo += g.b_stride[d];
          if (++index[d] < g.shape[d]) break;
          ao -= g.a_stride[d] * g.shape[d];
          bo -= g.b_stride[d] * g.shape[d];
          index[d] = 0;
        }
      }
      return;
    }
  }
}

}  // namespace

BITLITE_AVX512_CLONES
void Binary(BinaryOp op, const BinaryGeometry& g, const float* a, const float* b, float* out,
            Clamp clamp) {
  switch (op) {
    case BinaryOp::kAdd:
      return Apply([clamp](float x, float y) { return Clamped(x + y, clamp); }, g, a, b, out);
    case BinaryOp::kSub:
      return Apply([clamp](float x, float y) { return Clamped(x - y, clamp); }, g, a, b, out);
    case BinaryOp::kMul:
      return Apply([clamp](float x, float y) { return Clamped(x * y, clamp); }, g, a, b, out);
    case BinaryOp::kDiv:
      return Apply([clamp](float x, float y) { return Clamped(x / y, clamp); }, g, a, b, out);
    case BinaryOp::kMaximum:
      return Apply([](float x, float y) { return x > y ? x : y; }, g, a, b, out);
    case BinaryOp::kMinimum:
      return Apply([](float x, float y) { return x < y ? x : y; }, g, a, b, out);
  }
}

void BinaryRange(BinaryOp op, const BinaryGeometry& g, const float* a, const float* b,
                 float* out, Clamp clamp, int64_t first, int64_t end) {
  // The range is the geometry of a smaller output: the operands that have the output's
  // elements start at `first`, a scalar or a channel vector stays where it is.
  BinaryGeometry range = g;
  range.size = end - first;
  const bool a_whole = g.broadcast != Broadcast::kScalarA && g.broadcast != Broadcast::kChannelA;
  const bool b_whole = g.broadcast != Broadcast::kScalarB && g.broadcast != Broadcast::kChannelB;
  Binary(op, range, a_whole ? a + first : a, b_whole ? b + first : b, out + first, clamp);
}

BITLITE_AVX512_CLONES
void Relu(const float* x, float* y, int64_t size, Clamp clamp) {
  for (int64_t i = 0; i < size; ++i) {
    const float v = x[i];
    y[i] = v < clamp.low ? clamp.low : v > clamp.high ? clamp.high : v;
  }
}

BITLITE_AVX512_CLONES
void LeakyRelu(const float* x, float* y, int64_t size, float alpha) {
  for (int64_t i = 0; i < size; ++i) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : v * alpha;
  }
}

// Round's 2^23 sums must round to float each time (no wider intermediate).
static_assert(FLT_EVAL_METHOD == 0, "glue::Round needs float arithmetic evaluated in float");

BITLITE_AVX512_CLONES
void Round(const float* x, float* y, int64_t size) {
  // TFLite's kernel takes floor(v), then floor + 1 above a half and at an odd floor's tie:
  // round half to even, where a v in [-0.5, 0) gives +0 (floor + 1) and only -0 stays -0.
  // Without its branches (mispredicted on every tie and sign change: the quantizer emulation's
  // ROUND took a quarter of ResNet-18's time with an integer residual stream): below 2^23,
  // adding and subtracting 2^23 with v's sign (so that the sum stays below 2^24, where floats
  // are integers) rounds with the FPU's round-to-nearest-even, and the negative side gives +0
  // as well; from 2^23 on (and NaN, the infinities, +-0) v is its own result.
  // Written without a branch (copysign, and the choice as a bit mask), so that it vectorizes.
  constexpr float kTwo23 = 8388608.0f;
  for (int64_t i = 0; i < size; ++i) {
    const float v = x[i];
    const float toward_v = std::copysign(kTwo23, v);
    const float rounded = (v + toward_v) - toward_v;
    const uint32_t as_is = 0u - static_cast<uint32_t>(!(std::fabs(v) < kTwo23) | (v == 0.0f));
    uint32_t v_bits, rounded_bits;
    std::memcpy(&v_bits, &v, sizeof(v));
    std::memcpy(&rounded_bits, &rounded, sizeof(rounded));
    const uint32_t bits = (v_bits & as_is) | (rounded_bits & ~as_is);
    std::memcpy(y + i, &bits, sizeof(bits));
  }
}

namespace {

// Four float lanes with std::max(a, b) and std::min(a, b) exactly, NaN and signed zeros
// included: b where a < b (b < a), else a. aarch64 NEON and x86 SSE are IEEE like the scalar
// code; armv7 is left out: its NEON flushes denormals, its scalar FPU does not.
#if defined(__aarch64__)
struct Lanes4 {
  using V = float32x4_t;
  static V Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, V v) { vst1q_f32(p, v); }
  static V Splat(float s) { return vdupq_n_f32(s); }
  static V Max(V a, V b) { return vbslq_f32(vcltq_f32(a, b), b, a); }
  static V Min(V a, V b) { return vbslq_f32(vcltq_f32(b, a), b, a); }
};
#define BITLITE_GLUE_LANES4 1
#elif defined(__SSE2__)
struct Lanes4 {
  using V = __m128;
  static V Load(const float* p) { return _mm_loadu_ps(p); }
  static void Store(float* p, V v) { _mm_storeu_ps(p, v); }
  static V Splat(float s) { return _mm_set1_ps(s); }
  // maxps(x, y) is x > y ? x : y and minps(x, y) is x < y ? x : y, both y when unordered.
  static V Max(V a, V b) { return _mm_max_ps(b, a); }
  static V Min(V a, V b) { return _mm_min_ps(b, a); }
};
#define BITLITE_GLUE_LANES4 1
#endif

#if defined(BITLITE_GLUE_LANES4)
// Channels [c0, c0 + 16) of one MaxPool output: the window's maxima stay in 4 registers over
// the taps (the generic loop loads, compares and stores `out` once per tap).
void MaxPoolBlock16(const float* image, int64_t c_count, int in_w, int origin_y, int origin_x,
                    int y_start, int y_end, int x_start, int x_end, Clamp clamp, float* out) {
  using L = Lanes4;
  L::V m[4];
  for (L::V& v : m) v = L::Splat(std::numeric_limits<float>::lowest());
  for (int fy = y_start; fy < y_end; ++fy) {
    for (int fx = x_start; fx < x_end; ++fx) {
      const float* in =
          image + (static_cast<int64_t>(origin_y + fy) * in_w + origin_x + fx) * c_count;
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) m[q] = L::Max(m[q], L::Load(in + 4 * q));
    }
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    L::Store(out + 4 * q, L::Min(L::Max(m[q], L::Splat(clamp.low)), L::Splat(clamp.high)));
  }
}
#endif

}  // namespace

void MaxPool(const PoolGeometry& g, const float* x, float* y, Clamp clamp, int64_t first_row,
             int64_t end_row) {
  const int64_t c_count = g.channels;
  for (int64_t row = first_row; row < end_row; ++row) {
    const float* image = x + row / g.out_h * g.in_h * g.in_w * c_count;
    const int origin_y = static_cast<int>(row % g.out_h) * g.stride_h - g.pad_top;
    const int y_start = std::max(0, -origin_y);
    const int y_end = std::min(g.filter_h, g.in_h - origin_y);
    for (int ox = 0; ox < g.out_w; ++ox) {
      const int origin_x = ox * g.stride_w - g.pad_left;
      const int x_start = std::max(0, -origin_x);
      const int x_end = std::min(g.filter_w, g.in_w - origin_x);
      float* out = y + (row * g.out_w + ox) * c_count;
      int64_t c0 = 0;
#if defined(BITLITE_GLUE_LANES4)
      for (; c0 + 16 <= c_count; c0 += 16) {
        MaxPoolBlock16(image + c0, c_count, g.in_w, origin_y, origin_x, y_start, y_end,
                       x_start, x_end, clamp, out + c0);
      }
#endif
      std::fill(out + c0, out + c_count, std::numeric_limits<float>::lowest());
      for (int fy = y_start; fy < y_end; ++fy) {
        for (int fx = x_start; fx < x_end; ++fx) {
          const float* in =
              image + (static_cast<int64_t>(origin_y + fy) * g.in_w + origin_x + fx) * c_count;
          for (int64_t c = c0; c < c_count; ++c) out[c] = std::max(out[c], in[c]);
        }
      }
      for (int64_t c = c0; c < c_count; ++c) out[c] = Clamped(out[c], clamp);
    }
  }
}

namespace {

// Pads dims d.. of one block; returns the end of what it wrote.
float* PadDims(const std::vector<int>& shape, const std::vector<int>& paddings,
               const std::vector<int64_t>& out_strides, size_t d, const float*& x, float* out) {
  const int64_t before = static_cast<int64_t>(paddings[2 * d]) * out_strides[d];
  const int64_t after = static_cast<int64_t>(paddings[2 * d + 1]) * out_strides[d];
  std::fill(out, out + before, 0.0f);
  out += before;
  if (d + 1 == shape.size()) {
    std::memcpy(out, x, sizeof(float) * static_cast<size_t>(shape[d]));
    x += shape[d];
    out += shape[d];
  } else {
    for (int i = 0; i < shape[d]; ++i) out = PadDims(shape, paddings, out_strides, d + 1, x, out);
  }
  std::fill(out, out + after, 0.0f);
  return out + after;
}

}  // namespace

void Pad(const std::vector<int>& in_shape, const std::vector<int>& paddings, const float* x,
         float* out) {
  if (in_shape.empty()) {
    out[0] = x[0];
    return;
  }
  // Elements of one step along each dim of the output.
  std::vector<int64_t> out_strides(in_shape.size(), 1);
  for (size_t d = in_shape.size() - 1; d > 0; --d) {
    out_strides[d - 1] = out_strides[d] * (in_shape[d] + paddings[2 * d] + paddings[2 * d + 1]);
  }
  PadDims(in_shape, paddings, out_strides, 0, x, out);
}

void StridedSlice(const int* in_shape, const int* begin, const int* stride, const int* out_shape,
                  const float* x, float* out) {
  int64_t in_strides[5];
  in_strides[4] = 1;
  for (int d = 4; d > 0; --d) in_strides[d - 1] = in_strides[d] * in_shape[d];
  for (int i0 = 0; i0 < out_shape[0]; ++i0) {
    const float* p0 = x + (begin[0] + int64_t{i0} * stride[0]) * in_strides[0];
    for (int i1 = 0; i1 < out_shape[1]; ++i1) {
      const float* p1 = p0 + (begin[1] + int64_t{i1} * stride[1]) * in_strides[1];
      for (int i2 = 0; i2 < out_shape[2]; ++i2) {
        const float* p2 = p1 + (begin[2] + int64_t{i2} * stride[2]) * in_strides[2];
        for (int i3 = 0; i3 < out_shape[3]; ++i3) {
          const float* p3 = p2 + (begin[3] + int64_t{i3} * stride[3]) * in_strides[3] + begin[4];
          for (int i4 = 0; i4 < out_shape[4]; ++i4) *out++ = p3[int64_t{i4} * stride[4]];
        }
      }
    }
  }
}

int NearestSource(int out, int in_size, int out_size, bool align_corners,
                  bool half_pixel_centers) {
  const float scale = align_corners && out_size > 1
                          ? static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1)
                          : static_cast<float>(in_size) / static_cast<float>(out_size);
  const float position = (static_cast<float>(out) + (half_pixel_centers ? 0.5f : 0.0f)) * scale;
  const int index = static_cast<int>(align_corners ? std::round(position) : std::floor(position));
  const int below_end = std::min(index, in_size - 1);
  return half_pixel_centers ? std::max(below_end, 0) : below_end;
}

void ResizeNearest(int64_t batch, int64_t in_h, int64_t in_w, int64_t channels,
                   const std::vector<int>& rows, const std::vector<int>& cols, const float* x,
                   float* out) {
  const size_t pixel_bytes = sizeof(float) * static_cast<size_t>(channels);
  for (int64_t b = 0; b < batch; ++b) {
    const float* image = x + b * in_h * in_w * channels;
    for (int row : rows) {
      const float* source_row = image + row * in_w * channels;
      for (int col : cols) {
        std::memcpy(out, source_row + col * channels, pixel_bytes);
        out += channels;
      }
    }
  }
}

void Concatenate(int64_t outer, int64_t inner, const std::vector<int64_t>& axis_sizes,
                 const float* const* parts, float* out) {
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < axis_sizes.size(); ++i) {
      const int64_t block = axis_sizes[i] * inner;
      std::memcpy(out, parts[i] + o * block, sizeof(float) * static_cast<size_t>(block));
      out += block;
    }
  }
}

void Split(int64_t outer, int64_t inner, const std::vector<int64_t>& axis_sizes, const float* x,
           float* const* parts) {
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < axis_sizes.size(); ++i) {
      const int64_t block = axis_sizes[i] * inner;
      std::memcpy(parts[i] + o * block, x, sizeof(float) * static_cast<size_t>(block));
      x += block;
    }
  }
}

}  // namespace glue
}  // namespace bitlite
