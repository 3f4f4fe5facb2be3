// The loop nest shared by every bitserial micro-kernel (bgemm.h), written once over an ISA
// policy `Ops` that each bgemm_*_<isa>.cc file (or a header of its ISA's files) defines in an
// anonymous namespace and instantiates in a translation unit compiled for that ISA:
//   Vec; kLanes (channels per Vec); kVectors (Vecs of channels per tile); kPixels (most
//   pixels per tile); kAccumulators (Vec registers to spend on accumulators); Zero();
//   Load(p) (kLanes words); Broadcast(p) (one word to every lane);
//   Accumulate<kNegative>(acc, a, b) = acc +- popcount(a & b) per lane, a from Load and b
//   from Broadcast (which may return other types than Vec: an operand prepared once per word
//   and reused by every pixel or channel);
//   Combine<kShift>(total, acc) = total + (acc << kShift); Store(totals, int32_t* out) (one
//   pixel's kVectors totals: the low 32 bits of lane l of totals[n] to out[n * kLanes + l]).
// Optional, for accumulators narrower than the sums (NEON's and AVX2's byte counts), both or
// neither:
//   template <int kW, int kA, bool kTwos> static constexpr int64_t BlockWords(): the most
//   words whose sums the accumulators hold exactly;
//   template <int kW, int kA, bool kTwos, int kS> static void Flush(const Vec (&acc)[kVectors][kS],
//   int32_t* out, bool first): one pixel's sums of a block, stored to out[0, kVectors *
//   kLanes) when `first`, else added to what is there.
// Optional, both or neither: kMostBroadcastPlanes and template <int kPlanes> static void
// BroadcastPlanes(const uint64_t* p, X (&x)[kPlanes]) for 2 <= kPlanes <=
// kMostBroadcastPlanes (X: what Broadcast returns): x[j] = Broadcast(p + j) for a word's
// activation planes, where one instruction loads several of them (ARM's LD2R, LD3R).
// A tile then runs its words in blocks, each flushed; without them it is one block, combined
// and stored with Combine and Store.
// The kernels read x in place (BgemmIndirectFn): no im2col step for them.
// Include only from such a file.
#ifndef BITLITE_SRC_KERNELS_BITSERIAL_BGEMM_TILE_H_
#define BITLITE_SRC_KERNELS_BITSERIAL_BGEMM_TILE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/gemm/bgemm.h"
#include "kernels/gemm/bitserial_planes.h"

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

// Two's complement: the top plane of a grid counts negatively, so a pair with one such plane
// subtracts its popcount.
template <int kWeightBits, int kActivationBits, bool kActivationTwos>
constexpr bool NegativePair(int i, int j) {
  return (kWeightBits >= 2 && i == kWeightBits - 1) !=
         (kActivationTwos && j == kActivationBits - 1);
}

// Plane pairs of significance s that subtract (`negative`) or add their popcounts.
template <int kWeightBits, int kActivationBits, bool kActivationTwos>
constexpr int PairsOfSign(int s, bool negative) {
  int pairs = 0;
  for (int i = 0; i < kWeightBits; ++i) {
    const int j = s - i;
    if (j >= 0 && j < kActivationBits &&
        NegativePair<kWeightBits, kActivationBits, kActivationTwos>(i, j) == negative) {
      ++pairs;
    }
  }
  return pairs;
}

// For Ops whose accumulators are byte counts of a word's pairs of each significance (at
// most 8 per byte, word and pair): the most words whose sums the bytes hold exactly. A byte
// of significance s with P_s adding and N_s subtracting pairs lies in [-8 B N_s, 8 B P_s]
// after B words: read as unsigned (N_s = 0) it must fit 255, else as signed [-128, 127].
template <int kWeightBits, int kActivationBits, bool kActivationTwos>
constexpr int64_t ByteBlockWords() {
  int64_t block = int64_t{1} << 30;
  for (int s = 0; s < kSignificances<kWeightBits, kActivationBits>; ++s) {
    const int64_t p = PairsOfSign<kWeightBits, kActivationBits, kActivationTwos>(s, false);
    const int64_t n = PairsOfSign<kWeightBits, kActivationBits, kActivationTwos>(s, true);
    if (n == 0) {
      block = block < 255 / (8 * p) ? block : 255 / (8 * p);
    } else {
      if (p > 0) block = block < 127 / (8 * p) ? block : 127 / (8 * p);
      block = block < 128 / (8 * n) ? block : 128 / (8 * n);
    }
  }
  return block;
}

template <class Ops, class = void>
struct HasBlocks : std::false_type {};
template <class Ops>
struct HasBlocks<Ops, std::void_t<decltype(Ops::template BlockWords<1, 1, false>())>>
    : std::true_type {};

// f(0) ... f(N - 1) over a tile's pixels, vectors or planes, unrolled: the accumulators stay
// in registers only if every loop but the one over words is, and -O2 leaves them rolled
// (measured: W2A2 spilled on AVX-512, NEON's multi-register Vecs spilled everywhere).
template <int N, class F>
inline __attribute__((always_inline)) void ForTile(F&& f) {
  Unroll<N>([&](auto i) __attribute__((always_inline)) { f(static_cast<int>(i)); });
}

// Where a tile reads its activations: word k (its activation planes) of the tile's pixel p
// is at rows[p] + offsets[k]. A convolution points the rows at each window's corner in a
// zero-padded packed input and the offsets at its taps, so padding needs no case; the row
// pointers live in registers.
template <int kPixels>
struct RowsX {
  RowsX(const uint64_t* const* x_rows, const int64_t* x_offsets) : offsets(x_offsets) {
    for (int p = 0; p < kPixels; ++p) rows[p] = x_rows[p];
  }
  const uint64_t* Word(int p, int64_t k) const { return rows[p] + offsets[k]; }
  const uint64_t* rows[kPixels];
  const int64_t* offsets;
};

// Optional Ops::kMostBroadcastPlanes: BroadcastPlanes takes 2 .. that many planes; 1 without
// it (no BroadcastPlanes).
template <class Ops, class = void>
struct MostBroadcastPlanes : std::integral_constant<int, 1> {};
template <class Ops>
struct MostBroadcastPlanes<Ops, std::void_t<decltype(Ops::kMostBroadcastPlanes)>>
    : std::integral_constant<int, Ops::kMostBroadcastPlanes> {};

// Optional Ops::kWeightRegisters: registers that a Load result holds through a word, taken
// from kAccumulators per weight plane and Vec of channels; 0 without it.
template <class Ops, class = void>
struct WeightRegisters : std::integral_constant<int, 0> {};
template <class Ops>
struct WeightRegisters<Ops, std::void_t<decltype(Ops::kWeightRegisters)>>
    : std::integral_constant<int, Ops::kWeightRegisters> {};

// Pixels per tile: as many as the accumulator registers allow, at most Ops::kPixels.
template <class Ops, int kWeightBits, int kActivationBits>
constexpr int TilePixels() {
  constexpr int fit =
      (Ops::kAccumulators - WeightRegisters<Ops>::value * Ops::kVectors * kWeightBits) /
      (Ops::kVectors * kSignificances<kWeightBits, kActivationBits>);
  return fit < 1 ? 1 : fit > Ops::kPixels ? Ops::kPixels : fit;
}

// A tile's accumulators: pixel x Vec of channels x significance. An alias, as clang parses
// `typename Ops::Vec (&acc)[...][kSignificances<W, A>]` as a functional cast.
template <class Ops, int kWeightBits, int kActivationBits, int kPixels>
using TileAccumulators =
    typename Ops::Vec[kPixels][Ops::kVectors][kSignificances<kWeightBits, kActivationBits>];

// Adds the popcounts of words [k0, k1) of kPixels pixels x kVectors Vecs of channels to acc.
template <class Ops, int kWeightBits, int kActivationBits, bool kActivationTwos, int kPixels>
inline __attribute__((always_inline)) void AccumulateWords(
    TileAccumulators<Ops, kWeightBits, kActivationBits, kPixels>& acc, const RowsX<kPixels>& x,
    const uint64_t* w, int64_t words, int64_t k0, int64_t k1) {
  constexpr int kLanes = Ops::kLanes;
  constexpr int kVectors = Ops::kVectors;
  constexpr int kS = kSignificances<kWeightBits, kActivationBits>;
  ForTile<kPixels>([&](int p) __attribute__((always_inline)) {
    ForTile<kVectors>([&](int n) __attribute__((always_inline)) {
      ForTile<kS>([&](int s) __attribute__((always_inline)) { acc[p][n][s] = Ops::Zero(); });
    });
  });
  for (int64_t k = k0; k < k1; ++k) {
    decltype(Ops::Load(w)) wv[kVectors][kWeightBits];
    ForTile<kVectors>([&](int n) __attribute__((always_inline)) {
      ForTile<kWeightBits>([&](int i) __attribute__((always_inline)) {
        wv[n][i] = Ops::Load(w + ((n * words + k) * kWeightBits + i) * kLanes);
      });
    });
    ForTile<kPixels>([&](int p) __attribute__((always_inline)) {
      const uint64_t* xp = x.Word(p, k);
      // All planes at once where Ops has a load for that, else each one where it is used.
      constexpr bool kAllPlanes =
          kActivationBits > 1 && kActivationBits <= MostBroadcastPlanes<Ops>::value;
      decltype(Ops::Broadcast(xp)) planes[kActivationBits];
      if constexpr (kAllPlanes) Ops::template BroadcastPlanes<kActivationBits>(xp, planes);
      Unroll<kActivationBits>([&](auto j) __attribute__((always_inline)) {
        const auto xv = kAllPlanes ? planes[j] : Ops::Broadcast(xp + j);
        ForTile<kVectors>([&](int n) __attribute__((always_inline)) {
          Unroll<kWeightBits>([&](auto i) __attribute__((always_inline)) {
            constexpr bool kNegative =
                NegativePair<kWeightBits, kActivationBits, kActivationTwos>(i, j);
            acc[p][n][i + j] = Ops::template Accumulate<kNegative>(acc[p][n][i + j], wv[n][i], xv);
          });
        });
      });
    });
  }
}

// Optional: template <int kW, int kA, bool kTwos, int kPixels> static void AccumulateWords(
// acc, x, w, words, k0, k1), the word loop above written for one variant by hand (the NEON W2A2
// tile's, software-pipelined for in-order cores).
template <class Ops, int kWeightBits, int kActivationBits, bool kActivationTwos, int kPixels,
          class = void>
struct HasWordLoop : std::false_type {};
template <class Ops, int kWeightBits, int kActivationBits, bool kActivationTwos, int kPixels>
struct HasWordLoop<Ops, kWeightBits, kActivationBits, kActivationTwos, kPixels,
                   std::void_t<decltype(&Ops::template AccumulateWords<
                                        kWeightBits, kActivationBits, kActivationTwos, kPixels>)>>
    : std::true_type {};

template <class Ops, int kWeightBits, int kActivationBits, bool kActivationTwos, int kPixels>
inline __attribute__((always_inline)) void AccumulateBlock(
    TileAccumulators<Ops, kWeightBits, kActivationBits, kPixels>& acc, const RowsX<kPixels>& x,
    const uint64_t* w, int64_t words, int64_t k0, int64_t k1) {
  if constexpr (HasWordLoop<Ops, kWeightBits, kActivationBits, kActivationTwos, kPixels>::value) {
    Ops::template AccumulateWords<kWeightBits, kActivationBits, kActivationTwos, kPixels>(
        acc, x, w, words, k0, k1);
  } else {
    AccumulateWords<Ops, kWeightBits, kActivationBits, kActivationTwos, kPixels>(acc, x, w, words,
                                                                                k0, k1);
  }
}

// kPixels pixels x (kVectors * kLanes) channels of core.
template <class Ops, int kWeightBits, int kActivationBits, bool kActivationTwos, int kPixels>
inline __attribute__((always_inline)) void Tile(const RowsX<kPixels>& x, const uint64_t* w,
                                                int64_t words, int32_t* core,
                                                int64_t core_stride) {
  using Vec = typename Ops::Vec;
  constexpr int kVectors = Ops::kVectors;
  constexpr int kS = kSignificances<kWeightBits, kActivationBits>;
  Vec acc[kPixels][kVectors][kS];
  if constexpr (HasBlocks<Ops>::value) {
    constexpr int64_t kBlock =
        Ops::template BlockWords<kWeightBits, kActivationBits, kActivationTwos>();
    static_assert(kBlock >= 1, "a block holds at least one word");
    int64_t k0 = 0;
    do {  // words >= 1, and every block is flushed, the first one stored
      const int64_t k1 = words - k0 > kBlock ? k0 + kBlock : words;
      AccumulateBlock<Ops, kWeightBits, kActivationBits, kActivationTwos, kPixels>(acc, x, w, words,
                                                                                  k0, k1);
      ForTile<kPixels>([&](int p) __attribute__((always_inline)) {
        Ops::template Flush<kWeightBits, kActivationBits, kActivationTwos, kS>(
            acc[p], core + p * core_stride, k0 == 0);
      });
      k0 = k1;
    } while (k0 < words);
  } else {
    AccumulateBlock<Ops, kWeightBits, kActivationBits, kActivationTwos, kPixels>(acc, x, w, words,
                                                                                0, words);
    ForTile<kPixels>([&](int p) __attribute__((always_inline)) {
      Vec totals[kVectors];
      ForTile<kVectors>([&](int n) __attribute__((always_inline)) {
        totals[n] = acc[p][n][0];
        Unroll<kS - 1>([&](auto s) __attribute__((always_inline)) {
          totals[n] = Ops::template Combine<s + 1>(totals[n], acc[p][n][s + 1]);
        });
      });
      Ops::Store(totals, core + p * core_stride);
    });
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

// Optional: static constexpr bool Elsewhere(int weight_bits, int activation_bits), true for
// the variants another file instantiates (compiled with other flags): Select's table holds no
// kernel for them, and its caller takes them from that file.
template <class Ops, class = void>
struct HasElsewhere : std::false_type {};
template <class Ops>
struct HasElsewhere<Ops, std::void_t<decltype(Ops::Elsewhere(1, 1))>> : std::true_type {};

template <class Ops>
constexpr bool IsElsewhere(int weight_bits, int activation_bits) {
  if constexpr (HasElsewhere<Ops>::value) {
    return Ops::Elsewhere(weight_bits, activation_bits);
  } else {
    return false;
  }
}

template <class Ops, int I>
constexpr BgemmIndirectFn TableEntry() {
  constexpr int kW = VariantWeightBits(I), kA = VariantActivationBits(I);
  if constexpr (IsElsewhere<Ops>(kW, kA)) {
    return nullptr;
  } else {
    return &BgemmIndirect<Ops, kW, kA, VariantTwos(I)>;
  }
}

// The kernel for (weight_bits, activation_bits, activation_twos_complement) from a table
// of all 32 instantiations (less those Elsewhere).
template <class Ops, int... I>
constexpr std::array<BgemmIndirectFn, sizeof...(I)> MakeTable(std::integer_sequence<int, I...>) {
  return {{TableEntry<Ops, I>()...}};
}

template <class Ops>
BgemmKernel Select(int weight_bits, int activation_bits, bool activation_twos_complement) {
  static constexpr std::array<BgemmIndirectFn, kBitVariants> kTable =
      MakeTable<Ops>(std::make_integer_sequence<int, kBitVariants>{});
  BgemmKernel kernel;
  kernel.lanes = Ops::kLanes;
  kernel.indirect = kTable[static_cast<std::size_t>(
      BitVariant(weight_bits, activation_bits, activation_twos_complement))];
  return kernel;
}

}  // namespace bgemm_tile
}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_BITSERIAL_BGEMM_TILE_H_
