// The loop nest and layouts shared by the lookup-table micro-kernels (lutgemm.h), written once
// over an ISA policy `Ops` that each lutgemm_*_<isa>.cc file defines in an anonymous namespace:
//   kChunks: index loads per 128-byte weight block; NibbleByte(g, c) / NibbleHigh(g, c): where
//   the nibble of group g (0..15 in a word), channel c (0..15 in a tile) lies in a block;
//   kPixels: pixels per tile (they share the index loads and give independent sums);
//   BuildTables<kAB, kTwos>(x, tables): the 16 group tables of one word of one pixel, [16][16]
//   int8 in group order; Tile<kWB, kAB, kTwos, kPixels>(core, core_stride, add): accumulators
//   of kPixels pixels x 16 channels, bound to their core rows, with Chunk(tables, w, k) (chunk
//   k of one word: w points at its kWB blocks, pixel n's tables at tables + n * kPixelTables)
//   and Store() (the sums, stored into the rows or added to them where `add`).
// Include only from such a file.
#ifndef BITLITE_SRC_KERNELS_LUT_LUTGEMM_TILE_H_
#define BITLITE_SRC_KERNELS_LUT_LUTGEMM_TILE_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/bitserial/bgemm_tile.h"
#include "kernels/lut/lutgemm.h"

namespace bitlite {
namespace lut_tile {

using bgemm_tile::Unroll;

constexpr int kGroups = 16;        // groups of 4 codes in a 64-bit word
constexpr int kTileChannels = 16;  // channels per tile: the 16 lanes of the weight layout
constexpr int kBlockBytes = 128;   // one tile, word and weight plane: 16 x 64 bits
constexpr int kTableBytes = 16;    // one group's table
constexpr int kWordTableBytes = kGroups * kTableBytes;
// Tables of up to kBlockWords words of a pixel tile at a time stay in L1 while every channel
// tile reads them.
constexpr int64_t kBlockWords = 16;
constexpr int64_t kPixelTables = kBlockWords * kWordTableBytes;  // one pixel's tables

// Words per block: the reduction split into equal blocks of at most kBlockWords, so no block
// is a short remainder (each block costs every channel tile a start and a store).
inline int64_t BlockWords(int64_t words) {
  const int64_t blocks = (words + kBlockWords - 1) / kBlockWords;
  return blocks > 0 ? (words + blocks - 1) / blocks : 1;
}

// Range of a table entry: a sum of up to 4 activation values.
constexpr int TableMin(int activation_bits, bool twos) {
  return twos ? -4 * (1 << (activation_bits - 1)) : 0;
}
constexpr int TableMax(int activation_bits, bool twos) {
  return twos ? 4 * ((1 << (activation_bits - 1)) - 1) : 4 * ((1 << activation_bits) - 1);
}

// Lookups a byte accumulator can sum without leaving its range (uint8 for unsigned tables,
// int8 for signed ones): the byte-summing kernels widen after this many.
constexpr int ByteSumLookups(int activation_bits, bool twos) {
  return twos ? 128 / -TableMin(activation_bits, twos) : 255 / TableMax(activation_bits, twos);
}

// When the byte-summing kernels (two lookups per accumulator and chunk) widen: their byte
// sums to int16 every ByteSumChunks chunks, and those to int32 every Int16Widenings widenings
// (one widening adds at most 255 * (2^wb - 1) over all weight planes).
constexpr int ByteSumChunks(int activation_bits, bool twos) {
  return ByteSumLookups(activation_bits, twos) / 2;
}
constexpr int Int16Widenings(int weight_bits) { return 32767 / (255 * ((1 << weight_bits) - 1)); }

// Nibble order of the kernels whose vectors hold V tables of 16 bytes, one group each
// (PSHUFB per 128-bit lane, TBL): a vector load of 16 * V bytes gives, in lane L byte c, the
// nibbles of channel c for group 2V * chunk + L (low) and 2V * chunk + V + L (high), so the
// tables of V consecutive groups are one vector load too.
template <int V>
struct LaneLayout {
  static constexpr int kChunks = kGroups / (2 * V);
  static constexpr int NibbleByte(int g, int c) {
    return 16 * V * (g / (2 * V)) + 16 * (g % V) + c;
  }
  static constexpr bool NibbleHigh(int g, int) { return g % (2 * V) >= V; }
};

template <class Layout>
void RelayoutWeights(uint64_t* planes, size_t words, int64_t /*words_per_plane: the order is
                                                           per block of 16 channel words*/) {
  for (size_t block = 0; block + kTileChannels <= words; block += kTileChannels) {
    uint8_t nibbles[kBlockBytes] = {};
    for (int g = 0; g < kGroups; ++g) {
      for (int c = 0; c < kTileChannels; ++c) {
        const uint64_t nibble = (planes[block + c] >> (4 * g)) & 15;
        nibbles[Layout::NibbleByte(g, c)] |=
            static_cast<uint8_t>(nibble << (Layout::NibbleHigh(g, c) ? 4 : 0));
      }
    }
    std::memcpy(planes + block, nibbles, kBlockBytes);
  }
}

// The tables straight from their definition (lutgemm.h): entry p of group g is the sum over
// activation planes j of weight_j * popcount(p & nibble g of plane j).
template <int kAB, bool kTwos>
void BuildTablesPortable(const uint64_t* x, int8_t* tables) {
  for (int g = 0; g < kGroups; ++g) {
    for (int p = 0; p < 16; ++p) {
      int sum = 0;
      for (int j = 0; j < kAB; ++j) {
        const unsigned nibble = static_cast<unsigned>(x[j] >> (4 * g)) & 15u;
        sum += PlaneWeight(j, kAB, kTwos) * __builtin_popcount(static_cast<unsigned>(p) & nibble);
      }
      tables[g * kTableBytes + p] = static_cast<int8_t>(sum);
    }
  }
}

// The tile of the kernels whose lookups give one byte per channel, V groups per vector
// (LaneLayout<V>: PSHUFB, TBL), over a vector policy `Vec`: Bytes, Shorts; Zero*(),
// LoadIndices(p) (low and high nibbles of one chunk), Lookup(low_tables, high_tables,
// indices) (both lookups, added), AddBytes, Add16, Sub16, Widen<kShift, kSigned>(bytes, &low,
// &high) (channels 0-7 and 8-15 times 2^kShift in int16), AddToSums(low, high, sums) (int16
// sums of every lane added to 16 int32). Each weight plane sums its lookups in bytes; they are
// widened to int16 with the plane's weight before a byte can overflow and added to the int32
// core rows before an int16 can (ByteSumChunks, Int16Widenings).
template <class Vec, int V, int kWB, int kAB, bool kTwos, int kTilePixels>
struct ByteSumTile {
  using Bytes = typename Vec::Bytes;
  using Shorts = typename Vec::Shorts;
  static constexpr int kChunksPerWidening = ByteSumChunks(kAB, kTwos);
  static constexpr int kWideningsPerInt32 = Int16Widenings(kWB);
  Bytes bytes[kTilePixels][kWB];  // per weight plane; byte c of each lane: channel c
  Shorts shorts[kTilePixels][2];  // channels 0-7, 8-15
  int32_t* core;                  // pixel n's row at n * core_stride: the int32 sums
  int64_t core_stride;
  int chunks = 0;
  int widenings = 0;

  __attribute__((always_inline)) ByteSumTile(int32_t* core_rows, int64_t stride, bool add)
      : core(core_rows), core_stride(stride) {
    Unroll<kTilePixels>([&](auto n) __attribute__((always_inline)) {
      Unroll<kWB>([&](auto i) __attribute__((always_inline)) { bytes[n][i] = Vec::ZeroBytes(); });
      shorts[n][0] = shorts[n][1] = Vec::ZeroShorts();
      if (!add) std::memset(core + n * core_stride, 0, kTileChannels * sizeof(int32_t));
    });
  }

  __attribute__((always_inline)) void Chunk(const int8_t* tables, const uint8_t* w, int k) {
    Unroll<kWB>([&](auto i) __attribute__((always_inline)) {
      const auto indices = Vec::LoadIndices(w + i * kBlockBytes + 16 * V * k);
      Unroll<kTilePixels>([&](auto n) __attribute__((always_inline)) {
        // Chunk k's low nibbles index groups 2Vk .. 2Vk + V - 1, its high ones the next V.
        const int8_t* low_tables = tables + n * kPixelTables + 2 * V * k * kTableBytes;
        bytes[n][i] = Vec::AddBytes(
            bytes[n][i], Vec::Lookup(low_tables, low_tables + V * kTableBytes, indices));
      });
    });
    if (++chunks == kChunksPerWidening) WidenBytes();
  }

  __attribute__((always_inline)) void WidenBytes() {
    Unroll<kTilePixels>([&](auto n) __attribute__((always_inline)) {
      Unroll<kWB>([&](auto i) __attribute__((always_inline)) {
        Shorts low, high;
        Vec::template Widen<i, kTwos>(bytes[n][i], &low, &high);
        if constexpr (PlaneWeight(i, kWB, kWB >= 2) < 0) {
          shorts[n][0] = Vec::Sub16(shorts[n][0], low);
          shorts[n][1] = Vec::Sub16(shorts[n][1], high);
        } else {
          shorts[n][0] = Vec::Add16(shorts[n][0], low);
          shorts[n][1] = Vec::Add16(shorts[n][1], high);
        }
        bytes[n][i] = Vec::ZeroBytes();
      });
    });
    chunks = 0;
    if (++widenings == kWideningsPerInt32) WidenShorts();
  }

  __attribute__((always_inline)) void WidenShorts() {
    Unroll<kTilePixels>([&](auto n) __attribute__((always_inline)) {
      Vec::AddToSums(shorts[n][0], shorts[n][1], core + n * core_stride);
      shorts[n][0] = shorts[n][1] = Vec::ZeroShorts();
    });
    widenings = 0;
  }

  __attribute__((always_inline)) void Store() {
    if (chunks > 0) WidenBytes();
    if (widenings > 0) WidenShorts();
  }
};

template <class Ops, int kWB, int kAB, bool kTwos, int kPixels>
inline __attribute__((always_inline)) void PixelTile(const uint64_t* x, const uint8_t* w,
                                                     int64_t channels, int64_t words,
                                                     int32_t* core, int64_t core_stride) {
  alignas(64) int8_t tables[kPixels * kPixelTables];
  const int64_t most_words = BlockWords(words);
  for (int64_t k0 = 0; k0 < words; k0 += most_words) {
    const int64_t block_words = std::min(most_words, words - k0);
    for (int n = 0; n < kPixels; ++n) {
      for (int64_t k = 0; k < block_words; ++k) {
        Ops::template BuildTables<kAB, kTwos>(x + (n * words + k0 + k) * kAB,
                                              tables + n * kPixelTables + k * kWordTableBytes);
      }
    }
    for (int64_t c0 = 0; c0 < channels; c0 += kTileChannels) {
      typename Ops::template Tile<kWB, kAB, kTwos, kPixels> tile(core + c0, core_stride, k0 > 0);
      const uint8_t* w_tile = w + ((c0 / kTileChannels) * words + k0) * kWB * kBlockBytes;
      for (int64_t k = 0; k < block_words; ++k) {
        for (int chunk = 0; chunk < Ops::kChunks; ++chunk) {
          // Pixel n's tables are at n * kPixelTables from these.
          tile.Chunk(tables + k * kWordTableBytes, w_tile + k * kWB * kBlockBytes, chunk);
        }
      }
      tile.Store();
    }
  }
}

template <class Ops, int kWB, int kAB, bool kTwos>
void LutGemm(const uint64_t* x, int64_t pixels, const uint64_t* w, int64_t channels,
             int64_t words, int32_t* core, int64_t core_stride) {
  constexpr int kPixels = Ops::kPixels;
  const uint8_t* w_bytes = reinterpret_cast<const uint8_t*>(w);
  int64_t p = 0;
  for (; p + kPixels <= pixels; p += kPixels) {
    PixelTile<Ops, kWB, kAB, kTwos, kPixels>(x + p * words * kAB, w_bytes, channels, words,
                                             core + p * core_stride, core_stride);
  }
  for (; p < pixels; ++p) {
    PixelTile<Ops, kWB, kAB, kTwos, 1>(x + p * words * kAB, w_bytes, channels, words,
                                       core + p * core_stride, core_stride);
  }
}

template <class Ops, int... I>
constexpr std::array<BgemmFn, sizeof...(I)> MakeTable(std::integer_sequence<int, I...>) {
  return {{&LutGemm<Ops, VariantWeightBits(I), VariantActivationBits(I), VariantTwos(I)>...}};
}

// The kernel for (weight_bits, activation_bits, activation_twos_complement) from a table of
// all 32 instantiations.
template <class Ops>
LutGemmKernel Select(int weight_bits, int activation_bits, bool activation_twos_complement) {
  static constexpr std::array<BgemmFn, kBitVariants> kTable =
      MakeTable<Ops>(std::make_integer_sequence<int, kBitVariants>{});
  const int variant = BitVariant(weight_bits, activation_bits, activation_twos_complement);
  return {{kTable[static_cast<std::size_t>(variant)], kTileChannels}, &RelayoutWeights<Ops>};
}

}  // namespace lut_tile
}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_LUT_LUTGEMM_TILE_H_
