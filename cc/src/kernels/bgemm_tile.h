// The loop nest shared by every bitserial micro-kernel (bgemm.h), written once over an ISA
// policy `Ops` that each bgemm_*_<isa>.cc file defines in an anonymous namespace and
// instantiates in a translation unit compiled for that ISA:
//   Vec; kLanes (channels per Vec); kVectors (Vecs of channels per tile); kPixels (most
//   pixels per tile); kAccumulators (Vec registers to spend on accumulators); Zero();
//   Load(p) (kLanes words); Broadcast(p) (one word to every lane);
//   Accumulate<kNegative>(acc, a, b) = acc +- popcount(a & b) per lane;
//   Combine<kShift>(total, acc) = total + (acc << kShift); Store(acc, int32_t* out) (low 32
//   bits of each lane).
// Include only from such a file.
#ifndef BITLITE_SRC_KERNELS_BGEMM_TILE_H_
#define BITLITE_SRC_KERNELS_BGEMM_TILE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/bgemm.h"
#include "kernels/bitserial_planes.h"

namespace bitlite {
namespace bgemm_tile {

// Calls f(std::integral_constant<int, 0>) ... f(<N - 1>): plane indices must be constants,
// as shift counts are instruction immediates.
template <class F, int... I>
inline __attribute__((always_inline)) void Unroll(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, class F>
inline __attribute__((always_inline)) void Unroll(F&& f) {
  Unroll(f, std::make_integer_sequence<int, N>{});
}

// Plane pairs (i, j) add popcounts into one accumulator per significance s = i + j, which
// is shifted into place once per tile instead of once per popcount.
template <int kWeightBits, int kActivationBits>
constexpr int kSignificances = kWeightBits + kActivationBits - 1;

// Pixels per tile: as many as the accumulator registers allow, at most Ops::kPixels.
template <class Ops, int kWeightBits, int kActivationBits>
constexpr int TilePixels() {
  constexpr int fit = Ops::kAccumulators / (Ops::kVectors * kSignificances<kWeightBits, kActivationBits>);
  return fit < 1 ? 1 : fit > Ops::kPixels ? Ops::kPixels : fit;
}

// Where a tile reads its activations: Word(p, k) is word k (its activation planes) of the
// tile's pixel p.
// BgemmFn's x (im2col columns): each pixel's words in a row of its own.
struct ColumnsX {
  const uint64_t* x;
  int64_t pixel_words;  // words * activation planes
  int planes;
  const uint64_t* Word(int p, int64_t k) const { return x + p * pixel_words + k * planes; }
};
// BgemmIndirectFn's x, read in place; the tile's row pointers live in registers.
template <int kPixels>
struct RowsX {
  RowsX(const uint64_t* const* x_rows, const int64_t* x_offsets) : offsets(x_offsets) {
    for (int p = 0; p < kPixels; ++p) rows[p] = x_rows[p];
  }
  const uint64_t* Word(int p, int64_t k) const { return rows[p] + offsets[k]; }
  const uint64_t* rows[kPixels];
  const int64_t* offsets;
};

// kPixels pixels x (kVectors * kLanes) channels of core. Every loop but the one over words
// is unrolled (Unroll), so that the accumulators live in registers: -O2 keeps the array in
// memory otherwise.
template <class Ops, int kWeightBits, int kActivationBits, bool kActivationTwos, int kPixels,
          class X>
inline __attribute__((always_inline)) void Tile(const X& x, const uint64_t* w, int64_t words,
                                                int32_t* core, int64_t core_stride) {
  using Vec = typename Ops::Vec;
  constexpr int kLanes = Ops::kLanes;
  constexpr int kVectors = Ops::kVectors;
  constexpr int kS = kSignificances<kWeightBits, kActivationBits>;
  Vec acc[kPixels][kVectors][kS];
  Unroll<kPixels>([&](auto p) __attribute__((always_inline)) {
    Unroll<kVectors>([&](auto n) __attribute__((always_inline)) {
      Unroll<kS>([&](auto s) __attribute__((always_inline)) { acc[p][n][s] = Ops::Zero(); });
    });
  });
  for (int64_t k = 0; k < words; ++k) {
    Vec wv[kVectors][kWeightBits];
    Unroll<kVectors>([&](auto n) __attribute__((always_inline)) {
      Unroll<kWeightBits>([&](auto i) __attribute__((always_inline)) {
        wv[n][i] = Ops::Load(w + ((n * words + k) * kWeightBits + i) * kLanes);
      });
    });
    Unroll<kPixels>([&](auto p) __attribute__((always_inline)) {
      const uint64_t* xp = x.Word(p, k);
      Unroll<kActivationBits>([&](auto j) __attribute__((always_inline)) {
        const Vec xv = Ops::Broadcast(xp + j);
        Unroll<kVectors>([&](auto n) __attribute__((always_inline)) {
          Unroll<kWeightBits>([&](auto i) __attribute__((always_inline)) {
            // Two's complement: the top plane of a grid counts negatively.
            constexpr bool kNegative = (kWeightBits >= 2 && i == kWeightBits - 1) !=
                                       (kActivationTwos && j == kActivationBits - 1);
            acc[p][n][i + j] = Ops::template Accumulate<kNegative>(acc[p][n][i + j], wv[n][i], xv);
          });
        });
      });
    });
  }
  Unroll<kPixels>([&](auto p) __attribute__((always_inline)) {
    Unroll<kVectors>([&](auto n) __attribute__((always_inline)) {
      Vec total = acc[p][n][0];
      Unroll<kS - 1>([&](auto s) __attribute__((always_inline)) {
        total = Ops::template Combine<s + 1>(total, acc[p][n][s + 1]);
      });
      Ops::Store(total, core + p * core_stride + n * kLanes);
    });
  });
}

// BgemmFn: x in im2col columns.
template <class Ops, int kWeightBits, int kActivationBits, bool kActivationTwos>
void Bgemm(const uint64_t* x, int64_t pixels, const uint64_t* w, int64_t channels,
           int64_t words, int32_t* core, int64_t core_stride) {
  constexpr int kTileChannels = Ops::kLanes * Ops::kVectors;
  constexpr int kPixels = TilePixels<Ops, kWeightBits, kActivationBits>();
  static_assert(kChannelAlign % kTileChannels == 0, "channel tiles must divide the padding");
  const int64_t x_pixel = words * kActivationBits;
  for (int64_t c0 = 0; c0 < channels; c0 += kTileChannels) {
    // The weight tile stays in L1 while the pixels stream past it.
    const uint64_t* w_tile = w + c0 * words * kWeightBits;
    int64_t p = 0;
    for (; p + kPixels <= pixels; p += kPixels) {
      Tile<Ops, kWeightBits, kActivationBits, kActivationTwos, kPixels>(
          ColumnsX{x + p * x_pixel, x_pixel, kActivationBits}, w_tile, words,
          core + p * core_stride + c0, core_stride);
    }
    for (; p < pixels; ++p) {
      Tile<Ops, kWeightBits, kActivationBits, kActivationTwos, 1>(
          ColumnsX{x + p * x_pixel, x_pixel, kActivationBits}, w_tile, words,
          core + p * core_stride + c0, core_stride);
    }
  }
}

// BgemmIndirectFn: x read in place through per-pixel rows and per-word offsets.
template <class Ops, int kWeightBits, int kActivationBits, bool kActivationTwos>
void BgemmIndirect(const uint64_t* const* x_rows, const int64_t* x_offsets, int64_t pixels,
                   const uint64_t* w, int64_t channels, int64_t words, int32_t* core,
                   int64_t core_stride) {
  constexpr int kTileChannels = Ops::kLanes * Ops::kVectors;
  constexpr int kPixels = TilePixels<Ops, kWeightBits, kActivationBits>();
  static_assert(kChannelAlign % kTileChannels == 0, "channel tiles must divide the padding");
  for (int64_t c0 = 0; c0 < channels; c0 += kTileChannels) {
    // The weight tile stays in L1 while the pixels stream past it.
    const uint64_t* w_tile = w + c0 * words * kWeightBits;
    int64_t p = 0;
    for (; p + kPixels <= pixels; p += kPixels) {
      Tile<Ops, kWeightBits, kActivationBits, kActivationTwos, kPixels>(
          RowsX<kPixels>(x_rows + p, x_offsets), w_tile, words, core + p * core_stride + c0,
          core_stride);
    }
    for (; p < pixels; ++p) {
      Tile<Ops, kWeightBits, kActivationBits, kActivationTwos, 1>(
          RowsX<1>(x_rows + p, x_offsets), w_tile, words, core + p * core_stride + c0,
          core_stride);
    }
  }
}

// The kernel for (weight_bits, activation_bits, activation_twos_complement) from a table
// of all 32 instantiations.
// The bitserial kernels read x in place only: the driver needs no im2col for them.
template <class Ops, int... I>
constexpr std::array<BgemmIndirectFn, sizeof...(I)> MakeTable(std::integer_sequence<int, I...>) {
  return {{&BgemmIndirect<Ops, I / 8 + 1, I / 2 % 4 + 1, I % 2 == 1>...}};
}

template <class Ops>
BgemmKernel Select(int weight_bits, int activation_bits, bool activation_twos_complement) {
  static constexpr std::array<BgemmIndirectFn, 32> kTable =
      MakeTable<Ops>(std::make_integer_sequence<int, 32>{});
  const int index = ((weight_bits - 1) * 4 + activation_bits - 1) * 2 +
                    (activation_twos_complement ? 1 : 0);
  BgemmKernel kernel;
  kernel.lanes = Ops::kLanes;
  kernel.indirect = kTable[static_cast<std::size_t>(index)];
  return kernel;
}

}  // namespace bgemm_tile
}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_BGEMM_TILE_H_
