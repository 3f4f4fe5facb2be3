#include "kernels/winograd/winograd_f2x3.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu_features.h"

namespace bitlite {
namespace {

// The rows of 2G (winograd_f2x3.h).
constexpr int kTwoG[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};

// The coefficient of weight tap (k, l) in point (i, j) of U.
constexpr int UCoefficient(int point, int k, int l) {
  return kTwoG[point / 4][k] * kTwoG[point % 4][l];
}

// The transforms below are plain loops that the compiler vectorizes, compiled for AVX-512 too
// (BITLITE_AVX512_CLONES).

// V' = B^T d B + offset of one 4x4 patch, channel by channel, in int16 (|V| <= 60): point
// p's channels at out + p * point_bytes. Blocks of channels into a local array first, so
// that the compiler vectorizes the loop (each of the 16 input pixels a contiguous stream of
// channels) without asking whether the 16 outputs overlap.
BITLITE_AVX512_CLONES
void InputPatch(const uint8_t* __restrict corner, int64_t pixel_bytes, int64_t row_bytes,
                int64_t channels, int16_t offset, uint8_t* __restrict out, int64_t point_bytes) {
  constexpr int64_t kBlock = 64;
  uint8_t block[kWinogradPoints][kBlock];
  for (int64_t c0 = 0; c0 < channels; c0 += kBlock) {
    const int64_t n = std::min(kBlock, channels - c0);
    for (int64_t c = 0; c < n; ++c) {
      int16_t r[4][4];  // B^T d: rows 0 - 2, 1 + 2, 2 - 1, 1 - 3
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const uint8_t* column = corner + j * pixel_bytes + c0 + c;
        const int16_t d0 = column[0], d1 = column[row_bytes], d2 = column[2 * row_bytes],
                      d3 = column[3 * row_bytes];
        r[0][j] = static_cast<int16_t>(d0 - d2);
        r[1][j] = static_cast<int16_t>(d1 + d2);
        r[2][j] = static_cast<int16_t>(d2 - d1);
        r[3][j] = static_cast<int16_t>(d1 - d3);
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {  // (B^T d) B: the same on the columns
        block[4 * i][c] = static_cast<uint8_t>(r[i][0] - r[i][2] + offset);
        block[4 * i + 1][c] = static_cast<uint8_t>(r[i][1] + r[i][2] + offset);
        block[4 * i + 2][c] = static_cast<uint8_t>(r[i][2] - r[i][1] + offset);
        block[4 * i + 3][c] = static_cast<uint8_t>(r[i][1] - r[i][3] + offset);
      }
    }
    for (int p = 0; p < kWinogradPoints; ++p) {
      std::memcpy(out + p * point_bytes + c0, block[p], static_cast<size_t>(n));
    }
  }
}

// A^T t A of one block's 16 points t: 4 y, outputs (row, column) (0, 0), (0, 1), (1, 0),
// (1, 1). Linear: the centres' terms go through it on their own. (The callers load t with
// LoadPoints' one flat loop: with the loads nested in the rows below, GCC's aarch64
// vectorizer gave up on OutputBlock's loop, counting too many alias checks.)
inline void OutputTransform(const int32_t (&t)[kWinogradPoints], int32_t (&y)[4]) {
  int32_t s[4][2];  // t A, row by row: columns 0 + 1 + 2 and 1 - 2 - 3
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    s[i][0] = t[4 * i] + t[4 * i + 1] + t[4 * i + 2];
    s[i][1] = t[4 * i + 1] - t[4 * i + 2] - t[4 * i + 3];
  }
  y[0] = s[0][0] + s[1][0] + s[2][0];
  y[1] = s[0][1] + s[1][1] + s[2][1];
  y[2] = s[1][0] - s[2][0] - s[3][0];
  y[3] = s[1][1] - s[2][1] - s[3][1];
}

// The 16 points of one block at t[p * stride + at].
inline void LoadPoints(const int32_t* t, int64_t stride, int64_t at,
                       int32_t (&points)[kWinogradPoints]) {
#pragma GCC unroll 16
  for (int p = 0; p < kWinogradPoints; ++p) points[p] = t[p * stride + at];
}

// One 2x2 block's outputs y from its products m (point p's channels at m + p *
// point_stride) and the transformed centres' terms (per output k and channel at terms + k *
// terms_stride, per output in block_terms): (A^T M A + terms) / 4, exact multiples of 4.
BITLITE_AVX512_CLONES
void OutputBlock(const int32_t* __restrict m, int64_t point_stride,
                 const int32_t* __restrict terms, int64_t terms_stride,
                 const int32_t* __restrict block_terms, int64_t channels,
                 int32_t* __restrict y00, int32_t* __restrict y01, int32_t* __restrict y10,
                 int32_t* __restrict y11) {
  for (int64_t c = 0; c < channels; ++c) {
    int32_t points[kWinogradPoints], y[4];
    LoadPoints(m, point_stride, c, points);
    OutputTransform(points, y);
    y00[c] = (y[0] + terms[c] + block_terms[0]) >> 2;
    y01[c] = (y[1] + terms[terms_stride + c] + block_terms[1]) >> 2;
    y10[c] = (y[2] + terms[2 * terms_stride + c] + block_terms[2]) >> 2;
    y11[c] = (y[3] + terms[3 * terms_stride + c] + block_terms[3]) >> 2;
  }
}

}  // namespace

bool WinogradFits(const OpParams& p) {
  return p.kind == OpKind::kConv2D && p.groups == 1 && p.kernel_h == 3 && p.kernel_w == 3 &&
         p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1 &&
         p.weight_bits <= 4 && p.activation_bits <= 4 && p.in_channels <= kWinogradMaxInChannels;
}

WinogradF2x3::WinogradF2x3(int64_t out_c, int64_t in_c, const int8_t* w_codes,
                           const PlaneGrid& w_grid, int activation_bits,
                           const GemmFunctions& w8a8)
    : in_c_(in_c), words_(WordsPerTap(in_c, 8)) {
  const int most_w = (1 << w_grid.bits) - 1;
  // A point's U lies in [most_w * (its negative coefficients), most_w * (its positive ones)]:
  // centred where that is wider than int8 without -128 (which the pair kernels' int16 sums
  // exclude); only point (1, 1) of 4-bit weights, a range of 135.
  for (int p = 0; p < kWinogradPoints; ++p) {
    int low = 0, high = 0;
    for (int k = 0; k < 3; ++k) {
      for (int l = 0; l < 3; ++l) {
        const int c = UCoefficient(p, k, l);
        (c < 0 ? low : high) += c * most_w;
      }
    }
    u_centre_[static_cast<size_t>(p)] = low >= -127 && high <= 127 ? 0 : (low + high) / 2;
  }
  const int most_a = (1 << activation_bits) - 1;
  v_offset_ = w8a8.signed_activation_bytes ? 0 : 2 * most_a;  // V' in [0, 6 m_a] for u8

  const PlaneGrid u_grid = WeightPlaneGrid(8, /*bytes=*/true);
  std::vector<int8_t> u(static_cast<size_t>(out_c * in_c));
  int32_t most_u = 0;  // of |U'|
  std::vector<int32_t> point_terms;  // -cV * sum(U'), [point][channels()]
  for (int p = 0; p < kWinogradPoints; ++p) {
    const int centre = u_centre_[static_cast<size_t>(p)];
    for (int64_t o = 0; o < out_c; ++o) {
      for (int64_t c = 0; c < in_c; ++c) {
        int sum = 0;
        for (int k = 0; k < 3; ++k) {
          for (int l = 0; l < 3; ++l) {
            sum += UCoefficient(p, k, l) *
                   w_grid.Value(w_codes[((o * 3 + k) * 3 + l) * in_c + c]);
          }
        }
        u[static_cast<size_t>(o * in_c + c)] = static_cast<int8_t>(sum - centre);
        most_u = std::max(most_u, std::abs(sum - centre));
      }
    }
    BitserialWeights& weights = u_[static_cast<size_t>(p)];
    PackBitserialWeights(out_c, 1, in_c, u.data(), u_grid, w8a8.bgemm.lanes,
                         /*need_tap_sums=*/false, &weights);
    if (w8a8.relayout_weights != nullptr) {
      w8a8.relayout_weights(weights.planes.data(), weights.planes.size(),
                            weights.words_per_plane);
    }
    if (p == 0) point_terms.assign(static_cast<size_t>(kWinogradPoints * channels()), 0);
    for (int64_t o = 0; o < out_c; ++o) {
      int32_t sum = 0;
      for (int64_t c = 0; c < in_c; ++c) sum += u[static_cast<size_t>(o * in_c + c)];
      point_terms[static_cast<size_t>(p * channels() + o)] = -v_offset_ * sum;
    }
  }
  const int64_t channels = this->channels();
  channel_terms_.assign(static_cast<size_t>(4 * channels), 0);
  for (int64_t o = 0; o < channels; ++o) {
    int32_t points[kWinogradPoints], y[4];
    LoadPoints(point_terms.data(), channels, o, points);
    OutputTransform(points, y);
    for (int k = 0; k < 4; ++k) channel_terms_[static_cast<size_t>(k * channels + o)] = y[k];
  }
  // The GEMM: narrower sums where the row has them for these products (|V'| at most 4 m_a
  // as int8, 6 m_a as uint8), else the one for weights without -128 (|U'| <= 90), else any.
  const int32_t most_v = (v_offset_ != 0 ? 6 : 4) * most_a;
  const BgemmKernel& kernel = w8a8.bgemm;
  gemm_ = kernel.run_for_products != nullptr ? kernel.run_for_products(most_u * most_v) : nullptr;
  if (gemm_ == nullptr) gemm_ = kernel.run_without_min_weight;
  if (gemm_ == nullptr) gemm_ = kernel.run;
}

void WinogradF2x3::InputTiles(const uint8_t* const* corners, int64_t tiles, int64_t pixel_bytes,
                              int64_t row_bytes, uint64_t* v, int32_t* tile_terms) const {
  const int64_t tile_bytes = words_ * 8;
  const int64_t point_bytes = tiles * tile_bytes;  // one point's tiles
  uint8_t* out = reinterpret_cast<uint8_t*>(v);
  for (int64_t t = 0; t < tiles; ++t) {
    InputPatch(corners[t], pixel_bytes, row_bytes, in_c_, static_cast<int16_t>(v_offset_),
               out + t * tile_bytes, point_bytes);
  }
  // cU * sum(V) of the centred points, from the stored bytes (V' as the GEMM reads them).
  for (int p = 0; p < kWinogradPoints; ++p) {
    const int32_t centre = u_centre_[static_cast<size_t>(p)];
    for (int64_t t = 0; t < tiles; ++t) {
      int32_t sum = 0;
      if (centre != 0) {
        const uint8_t* stored = out + p * point_bytes + t * tile_bytes;
        for (int64_t c = 0; c < in_c_; ++c) {
          sum += v_offset_ != 0 ? int32_t{stored[c]} : int32_t{static_cast<int8_t>(stored[c])};
        }
        sum -= static_cast<int32_t>(in_c_) * v_offset_;
      }
      tile_terms[p * tiles + t] = centre * sum;
    }
  }
}

void WinogradF2x3::Multiply(const uint64_t* v, int64_t tiles, int64_t c0, int64_t channels,
                            int32_t* m, int64_t m_stride) const {
  for (int p = 0; p < kWinogradPoints; ++p) {
    gemm_(v + p * tiles * words_, tiles, u_[static_cast<size_t>(p)].ChannelTile(c0), channels,
          words_, m + p * tiles * m_stride, m_stride);
  }
}

void WinogradF2x3::OutputTiles(const int32_t* m, int64_t m_stride, const int32_t* tile_terms,
                               int64_t tiles, int64_t c0, int64_t channels, const int64_t* out,
                               int32_t* core, int64_t core_stride) const {
  const int64_t all_channels = this->channels();
  for (int64_t t = 0; t < tiles; ++t) {
    int32_t points[kWinogradPoints], block_terms[4];
    LoadPoints(tile_terms, tiles, t, points);
    OutputTransform(points, block_terms);
    const int64_t* rows = out + 4 * t;
    OutputBlock(m + t * m_stride, tiles * m_stride, channel_terms_.data() + c0, all_channels,
                block_terms, channels, core + rows[0] * core_stride,
                core + rows[1] * core_stride, core + rows[2] * core_stride,
                core + rows[3] * core_stride);
  }
}

}  // namespace bitlite
