// Winograd F(2x2, 3x3) (Lavin and Gray, 2015) for the int family's 3x3 convolutions of stride
// 1, exact: a 2x2 block of output pixels from its 4x4 input patch d as
//
//   4 * y = A^T [ U (.) V ] A,   U = (2G) g (2G)^T,   V = B^T d B,
//
//   B^T = [1  0 -1  0]   2G = [2  0  0]   A^T = [1  1  1  0]
//         [0  1  1  0]        [1  1  1]         [0  1 -1 -1]
//         [0 -1  1  0]        [1 -1  1]
//         [0  1  0 -1]        [0  0  2]
//
// for each input channel, (.) the product of the 16 points, summed over the input channels:
// 16 GEMMs of [tiles x in_c] x [in_c x out_c] instead of one of 9 taps, 2.25x fewer
// multiplies. Every step is integer (2G makes the weights' halves whole, hence 4 * y), so
// the sum is the direct one exactly, and so is the core Conv2DGemm hands its output stage.
// The points fit bytes for codes of at most 4 bits: the weights' v (bitserial_planes.h, 0 ..
// m_w = 2^w - 1) give U within a range of 9 m_w <= 135, stored as int8 less a per-point
// centre cU; the activations' v (0 .. m_a) give V in [-2 m_a, 4 m_a], as int8 or, for
// VPDPBUSD's u8, plus cV = 2 m_a. The GEMM is the CPU's W8A8 row's (bgemm.h: u8 or s8 x
// s8, exact in int32), on the stored bytes; the centres come back exactly as
//   sum(U V) = sum(U' V') - cV * sum(U') + cU * sum(V),   U' = U - cU, V' = V + cV,
// a term per (point, channel) found once and one per (point, tile) summed with V.
// A 2x2 block past the output's last row or column computes outputs nobody reads, from
// input bytes that exist (Conv2DGemm pads its packed input for it); each kept output depends
// on its own 3x3 window only, whatever the others read.
#ifndef BITLITE_SRC_KERNELS_WINOGRAD_WINOGRAD_F2X3_H_
#define BITLITE_SRC_KERNELS_WINOGRAD_WINOGRAD_F2X3_H_

#include <array>
#include <cstdint>
#include <vector>

#include "kernels/gemm/bitserial_planes.h"
#include "kernels/gemm/gemm_kernels.h"
#include "kernels/op_params.h"

namespace bitlite {

// The points of a tile's transform, point 4 * i + j at row i and column j.
constexpr int kWinogradPoints = 16;
// The most input channels: |sum(U' V')| <= in_c * 68 * 90 and A^T's sums of 9 must fit int32.
constexpr int64_t kWinogradMaxInChannels = 16384;

// Whether a layer can run on it: a 3x3 convolution of stride and dilation 1 without groups,
// weights and activations of at most 4 bits, at most kWinogradMaxInChannels input channels.
bool WinogradFits(const OpParams& p);

class WinogradF2x3 {
 public:
  // w_codes: [out_c][3][3][in_c] weight codes as the reference unpacks them, of the int
  // family's grid `w_grid` (WeightPlaneGrid(bits, true): v unsigned, at most 15);
  // activation_bits: the activations' (v of at most 2^bits - 1); w8a8: the GEMM's row
  // (W8A8 functions of an int row: their weight layout, lanes, signedness).
  WinogradF2x3(int64_t out_c, int64_t in_c, const int8_t* w_codes, const PlaneGrid& w_grid,
               int activation_bits, const GemmFunctions& w8a8);

  // One tile's transformed input channels take this many 64-bit words per point: the GEMM's
  // `words`, in_c bytes rounded up.
  int64_t words() const { return words_; }
  // out_c rounded up to kChannelAlign (the GEMM's channels; the extra ones are 0).
  int64_t channels() const { return u_.front().channels; }

  // V' of `tiles` patches: patch t's top left input pixel at corners[t] (the packed input's
  // bytes, in_c codes v a pixel), pixels `pixel_bytes` apart, rows `row_bytes`; into
  // v[point][t][words() * 8] (the bytes past in_c left as they are: the weights there are
  // 0) and, where a point has a centre cU, cU * sum(V) into tile_terms[point][t].
  void InputTiles(const uint8_t* const* corners, int64_t tiles, int64_t pixel_bytes,
                  int64_t row_bytes, uint64_t* v, int32_t* tile_terms) const;
  // m[point][t][m_stride]: the 16 GEMMs of channels [c0, c0 + channels) of InputTiles' v.
  void Multiply(const uint64_t* v, int64_t tiles, int64_t c0, int64_t channels, int32_t* m,
                int64_t m_stride) const;
  // The core of `tiles` 2x2 blocks from m (Multiply's, channels [c0, c0 + channels)):
  // block t's outputs (row, column) = (0, 0), (0, 1), (1, 0), (1, 1) into core row
  // out[4 t + k] (core_stride apart; a caller sends the outputs it does not keep to a row it
  // does not read).
  void OutputTiles(const int32_t* m, int64_t m_stride, const int32_t* tile_terms,
                   int64_t tiles, int64_t c0, int64_t channels, const int64_t* out,
                   int32_t* core, int64_t core_stride) const;

 private:
  int64_t in_c_ = 0;
  int64_t words_ = 0;
  BgemmFn gemm_ = nullptr;
  std::array<BitserialWeights, kWinogradPoints> u_;  // U' of each point, [out_c][in_c]
  std::array<int32_t, kWinogradPoints> u_centre_{};  // cU
  int32_t v_offset_ = 0;                             // cV
  // A^T (-cV * sum over in_c of U') A of each channel, [output k][channels()]
  std::vector<int32_t> channel_terms_;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_WINOGRAD_WINOGRAD_F2X3_H_
