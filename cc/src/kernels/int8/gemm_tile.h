// The loop nest shared by the widened-int micro-kernels (bgemm.h's int8 kernels): weights as
// nibbles in memory (BitserialWeights' nibble layout), widened to bytes in registers, or as
// bytes (its byte layout: W8A8, and the narrow codes of aarch64's byte sums); one byte per
// activation code (PlaneGrid::bytes);
// core = sum over codes of vw * vx. Written once
// over an ISA policy `Ops` that each bgemm_*_<isa>.cc file defines in an anonymous namespace
// and instantiates in a translation unit compiled for that ISA:
//   kWeightBits (4: nibbles, 8: bytes); Vec, kVecsPerWVec (accumulator registers per widened
//   register), WVec (a widened register), XVec;
//   kLanes (channels per WVec: the nibble layout's L); kPairs (nibble groups of 2 * kLanes
//   channels per tile); kPixels (pixels per tile); kBlockWords (most words the accumulators
//   take before they must be added into core: narrow accumulators would overflow);
//   Zero(); LoadWeights(p, &lo, &hi) (one group's kWeightBits * 2 * kLanes bytes of one
//   word: channels [0, L) and [L, 2L) as bytes); LoadX(p) (one activation word);
//   Dot(acc, w, x) (adds into the kVecsPerWVec accumulators of w);
//   Store(acc[2 * kPairs][kVecsPerWVec], out, accumulate) (the tile's channels of one pixel to
//   core, added to what is there when `accumulate`).
// Optional: kDotWords = 2 and DotPair(acc, w0, w1, x0, x1) = Dot(acc, w0, x0) then
// Dot(acc, w1, x1), of words k and k + 1 (pairs of words, then Dot for an odd last one).
// Optional: kWordLoopPixels and WordLoop(acc, xp, w, words, k0, k1) -> k, the loop over words
// written for one tile by hand (ARM's W8A8 pair tile and byte-sum tile, in assembly) for tiles
// of kWordLoopPixels pixels reading im2col columns: acc set to the sums of words [k0, k), each
// xp[p] stepped past them; Dot (or DotPair) runs the words [k, k1) it leaves.
// Bgemm reads x as im2col columns (BgemmFn); BgemmIndirect reads it in place through pixel
// rows and word offsets (BgemmIndirectFn), for ISAs whose loads take a base + index for free
// (x86); ARM keeps the columns, whose loads step one pointer per pixel.
// Include only from such a file.
#ifndef BITLITE_SRC_KERNELS_INT8_GEMM_TILE_H_
#define BITLITE_SRC_KERNELS_INT8_GEMM_TILE_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/gemm/bgemm.h"
#include "kernels/gemm/bitserial_planes.h"

namespace bitlite {
namespace bgemm_int8_tile {

template <class Ops, class = void>
struct WordLoopPixels : std::integral_constant<int, 0> {};
template <class Ops>
struct WordLoopPixels<Ops, std::void_t<decltype(Ops::kWordLoopPixels)>>
    : std::integral_constant<int, Ops::kWordLoopPixels> {};

template <class Ops, class = void>
struct DotWords : std::integral_constant<int, 1> {};
template <class Ops>
struct DotWords<Ops, std::void_t<decltype(Ops::kDotWords)>>
    : std::integral_constant<int, Ops::kDotWords> {};

// Ops::DotPair, named through kWords: clang checks the calls of a generic lambda that do not
// depend on its parameters when the enclosing template is made, even in a discarded branch,
// and Ops without kDotWords have no DotPair.
template <int kWords, class Ops, class... Args>
inline void DotPairOf(Args&&... args) {
  Ops::DotPair(std::forward<Args>(args)...);
}

// Where a tile's activations are: im2col columns (`columns`, `words` a pixel), or, when
// `rows` is set, word k of pixel p at rows[p] + offsets[k].
struct TileX {
  const uint64_t* columns = nullptr;
  const uint64_t* const* rows = nullptr;
  const int64_t* offsets = nullptr;
};

// kPixels pixels x (2 * kPairs * kLanes) channels, words [k0, k1) of the reduction; the
// tile's first pixel is pixel p0 of x.
template <class Ops, int kPixels, bool kIndirect>
void Tile(const TileX& x, int64_t p0, const uint8_t* w, int64_t words, int64_t k0, int64_t k1,
          int32_t* core, int64_t core_stride, bool accumulate) {
  constexpr int kVectors = 2 * Ops::kPairs;
  // One group's nibbles or bytes of one word.
  constexpr int64_t kGroupBytes = Ops::kWeightBits * 2 * Ops::kLanes;
  // Fully unrolled (the pragmas), so that the accumulators live in registers.
  // Plain vectors, not NEON's structs of vectors: GCC keeps arrays of those in memory.
  typename Ops::Vec acc[kPixels][kVectors][Ops::kVecsPerWVec];
#pragma GCC unroll 32
  for (int p = 0; p < kPixels; ++p) {
#pragma GCC unroll 8
    for (int n = 0; n < kVectors; ++n) {
#pragma GCC unroll 2
      for (auto& a : acc[p][n]) a = Ops::Zero();
    }
  }
  // One pointer per pixel, stepped a word at a time: loads that broadcast (ARM's LD1R) take
  // no register offset. The empty asm in the loop keeps GCC from folding them into one
  // base + index, which costs ARM a plain load and a DUP per pixel and word.
  // Indirect: the pixels' rows, and word k's offset read once for all of them.
  const uint64_t* xp[kPixels];
#pragma GCC unroll 32
  for (int p = 0; p < kPixels; ++p) {
    if constexpr (kIndirect) {
      xp[p] = x.rows[p0 + p];
    } else {
      xp[p] = x.columns + (p0 + p) * words + k0;
    }
  }
  // Words k .. k + kWords - 1 (1, or 2 for DotPair) of every pixel.
  auto step = [&](int64_t k, auto words_per_step) __attribute__((always_inline)) {
    constexpr int kWords = decltype(words_per_step)::value;
    typename Ops::WVec wv[kWords][kVectors];
#pragma GCC unroll 2
    for (int j = 0; j < kWords; ++j) {
#pragma GCC unroll 4
      for (int g = 0; g < Ops::kPairs; ++g) {
        Ops::LoadWeights(w + (g * words + k + j) * kGroupBytes, &wv[j][2 * g], &wv[j][2 * g + 1]);
      }
    }
    [[maybe_unused]] int64_t offsets[kWords];
    if constexpr (kIndirect) {
#pragma GCC unroll 2
      for (int j = 0; j < kWords; ++j) offsets[j] = x.offsets[k + j];
    }
#pragma GCC unroll 32
    for (int p = 0; p < kPixels; ++p) {
      typename Ops::XVec xv[kWords];
#pragma GCC unroll 2
      for (int j = 0; j < kWords; ++j) {
        if constexpr (kIndirect) {
          xv[j] = Ops::LoadX(xp[p] + offsets[j]);
        } else {
          xv[j] = Ops::LoadX(xp[p]++);
          __asm__("" : "+r"(xp[p]));
        }
      }
#pragma GCC unroll 8
      for (int n = 0; n < kVectors; ++n) {
        if constexpr (kWords == 2) {
          DotPairOf<kWords, Ops>(acc[p][n], wv[0][n], wv[1][n], xv[0], xv[1]);
        } else {
          Ops::Dot(acc[p][n], wv[0][n], xv[0]);
        }
      }
    }
  };
  int64_t k = k0;
  if constexpr (!kIndirect && WordLoopPixels<Ops>::value == kPixels) {
    k = Ops::WordLoop(acc, xp, w, words, k0, k1);
  } else if constexpr (DotWords<Ops>::value == 2) {
    for (; k + 2 <= k1; k += 2) step(k, std::integral_constant<int, 2>{});
  }
#pragma GCC unroll 2
  for (; k < k1; ++k) step(k, std::integral_constant<int, 1>{});
#pragma GCC unroll 32
  for (int p = 0; p < kPixels; ++p) Ops::Store(acc[p], core + p * core_stride, accumulate);
}

using TileFn = void (*)(const TileX& x, int64_t p0, const uint8_t* w, int64_t words,
                        int64_t k0, int64_t k1, int32_t* core, int64_t core_stride,
                        bool accumulate);

// Tiles of 1 .. kPixels pixels, for the pixels left over after the full tiles: one pixel at a
// time would widen the weights once per pixel.
template <class Ops, bool kIndirect, int... I>
constexpr std::array<TileFn, sizeof...(I)> MakeTiles(std::integer_sequence<int, I...>) {
  return {{&Tile<Ops, I + 1, kIndirect>...}};
}

template <class Ops, bool kIndirect>
void Drive(const TileX& x, int64_t pixels, const uint64_t* w, int64_t channels, int64_t words,
           int32_t* core, int64_t core_stride) {
  constexpr int kTileChannels = 2 * Ops::kPairs * Ops::kLanes;
  static_assert(kChannelAlign % kTileChannels == 0, "channel tiles must divide the padding");
  static constexpr std::array<TileFn, Ops::kPixels> kTiles =
      MakeTiles<Ops, kIndirect>(std::make_integer_sequence<int, Ops::kPixels>{});
  // At least one block, so that core is written even for an empty reduction.
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(words, Ops::kBlockWords));
  for (int64_t c0 = 0; c0 < channels; c0 += kTileChannels) {
    // The weight tile (4 or 8 bytes per channel and word) stays in L1 while the pixels stream.
    const uint8_t* w_tile = reinterpret_cast<const uint8_t*>(w) + c0 * words * Ops::kWeightBits;
    for (int64_t p = 0; p < pixels; p += Ops::kPixels) {
      const int64_t n = std::min<int64_t>(Ops::kPixels, pixels - p);
      for (int64_t k0 = 0; k0 == 0 || k0 < words; k0 += block) {
        kTiles[static_cast<std::size_t>(n - 1)](x, p, w_tile, words, k0,
                                                std::min(words, k0 + block),
                                                core + p * core_stride + c0, core_stride, k0 > 0);
      }
    }
  }
}

// BgemmFn: x as im2col columns.
template <class Ops>
void Bgemm(const uint64_t* x, int64_t pixels, const uint64_t* w, int64_t channels,
           int64_t words, int32_t* core, int64_t core_stride) {
  TileX columns;
  columns.columns = x;
  Drive<Ops, false>(columns, pixels, w, channels, words, core, core_stride);
}

// BgemmIndirectFn: x read in place through pixel rows and word offsets.
template <class Ops>
void BgemmIndirect(const uint64_t* const* x_rows, const int64_t* x_offsets, int64_t pixels,
                   const uint64_t* w, int64_t channels, int64_t words, int32_t* core,
                   int64_t core_stride) {
  TileX rows;
  rows.rows = x_rows;
  rows.offsets = x_offsets;
  Drive<Ops, true>(rows, pixels, w, channels, words, core, core_stride);
}

// The kernel of Ops read through im2col columns (BgemmFn), as the rows without an in-place
// path return it.
template <class Ops>
BgemmKernel ColumnsKernel() {
  return {&Bgemm<Ops>, Ops::kLanes};
}

}  // namespace bgemm_int8_tile
}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_INT8_GEMM_TILE_H_
