// The bit-plane encoding of the bitserial kernels (DeepliteRT-style) and the weight layout
// they read. A code q of a b-bit grid is written as q = scale * v + shift, with v an integer
// whose b bits are stored in b planes (plane i holds bit i of every v of a row):
//
//   grid                         v                      scale  shift  top plane weight
//   1-bit {-1, +1} (weights,     (q + 1) / 2 in {0, 1}   2      -1     +1
//   signed 1-bit activations)
//   signed b >= 2                q (two's complement)    1       0     -2^(b-1)
//   unsigned activations         q                       1       0     +2^(b-1)
//
// so sum(qw * qx) = sw*sx*sum(vw*vx) + sw*hx*sum(vw) + hw*sx*sum(vx) + hw*hx*n over the taps
// inside the input. v = 0 is code 0 on every grid but the 1-bit one, so padded taps are
// stored as v = 0 and the 1-bit grids get their sums over valid taps corrected exactly.
//
// The widened-int kernels use the same scheme with whole codes instead of bit planes, all
// of them unsigned so that every multiply is u8 x u8 (UDOT, UMLAL, MLA) or fits VPDPBUSD's
// u8 x s8 with a non-negative s8:
//   weights      v = FORMAT.md's stored code u: (q + 1) / 2 for 1 bit (scale 2, shift -1),
//                q + 2^(b-1) for b >= 2 (shift -2^(b-1)); 0 .. 15, one nibble per code
//                in memory (BitserialWeights' nibble layout), widened to bytes in registers;
//                or, for a kernel that multiplies bytes from memory (AMX tiles, aarch64's
//                byte sums), one byte per code in the byte layout (WeightPlaneGrid's
//                byte_codes);
//   activations  v = q - min code (shift -2^(b-1) on the signed grids), one byte per code
//                (transient: the packed input and im2col scratch).
// The shifts cost no multiply: the corrections above are the same sums as for the 1-bit grids.
// v*v <= 225, so a sum of 4 products fits 16 bits and the kernels' int32 accumulators wrap
// exactly like the epilogue's modulo-2^32 arithmetic.
//
// W8A8 (8-bit layers, int kernels only) keeps the weights signed, one int8 byte per code
// (v = q, shift 0: FORMAT.md's stored byte itself), and encodes the activations as the row's
// multiply wants them (GemmFunctions::signed_activation_bytes):
//   u8 (VPDPBUSD's u8 x s8, AVX2's widened int16, the scalar row): v = q - min code, so
//     shift -128 on the signed grid, 0 on the unsigned one;
//   s8 (ARM's SMULL and SDOT, s8 x s8): v = q on the signed grid, q - 128 (shift +128) on
//     the unsigned one.
// Every product is exact in int16 or wider and the sums wrap modulo 2^32; the activation
// shift costs the same weight-sum correction over valid taps as above.
#ifndef BITLITE_SRC_KERNELS_GEMM_BITSERIAL_PLANES_H_
#define BITLITE_SRC_KERNELS_GEMM_BITSERIAL_PLANES_H_

#include <cstdint>
#include <vector>

#include "kernels/cache_line_vector.h"

namespace bitlite {

struct PlaneGrid {
  int bits = 1;
  bool twos_complement = false;  // signed b >= 2: the top plane counts -2^(b-1)
  bool binary = false;           // the {-1, +1} grid: q = 2v - 1
  bool bytes = false;            // one byte per code (int8 kernels' activations, W8 weights)
  bool nibbles = false;          // one nibble per code (int8 kernels' weights), not bit planes
  int scale = 1;                 // q = scale * v + shift
  int shift = 0;

  int Scale() const { return scale; }
  int Shift() const { return shift; }
  int Planes() const { return bytes || nibbles ? 1 : bits; }
  int CodeBits() const { return bytes ? 8 : nibbles ? 4 : 1; }  // bits of one code in a plane
  // v of code q, and the bits the planes store (its low `bits` bits in two's complement).
  int Value(int code) const { return (code - shift) / scale; }
  uint32_t PlaneValue(int code) const {
    const int stored_bits = bytes || nibbles ? CodeBits() : bits;
    return static_cast<uint32_t>(Value(code)) & ((1u << stored_bits) - 1);
  }
};

// `bytes`: the int8 kernels' encoding (nibbles for weights, bytes for activations), else bit
// planes; with `byte_codes` too, sub-byte weights one byte per code (the nibbles' v, unsigned)
// in the byte layout below.
// 8-bit weights are always bytes (W8A8 runs on int kernels only).
PlaneGrid WeightPlaneGrid(int bits, bool bytes, bool byte_codes = false);
// `signed_bytes`: bytes as int8 (see W8A8 above), else as uint8.
PlaneGrid ActivationPlaneGrid(int bits, bool is_signed, bool bytes, bool signed_bytes = false);

// The weight of plane i among `bits` planes: the top plane of a two's complement grid counts
// negatively (v = sum of PlaneWeight(i) * bit i).
constexpr int PlaneWeight(int i, int bits, bool twos_complement) {
  return twos_complement && i == bits - 1 ? -(1 << i) : 1 << i;
}

// Words (64 bits) per plane and tap: every tap starts a word, so im2col copies whole words;
// the codes past in_c in a tap's last word are 0 in weights and activations alike.
inline int64_t WordsPerTap(int64_t in_c, int code_bits) {
  return (in_c * code_bits + 63) / 64;
}

// The int8 kernels' weights (grid.nibbles): 4 bits per code, so the weight stream the GEMM
// reads is half what one byte per code would be. `lanes` L is the channels of one widened
// register; channels go in groups of 2L, and for each group g and activation word k
// (8 codes, the x layout's word: words_per_plane counts those) 8L bytes at byte offset
// (g * words_per_plane + k) * 8L hold
//   byte l * 8 + j = code 8k + j of channel 2Lg + l      (low nibble)
//                  | code 8k + j of channel 2Lg + L + l  (high nibble)       l < L, j < 8,
// so one load, an AND and a shift give the two registers [L channels][8 codes] as bytes.
// 8-bit weights (grid.bytes) use the same order with the two halves side by side instead of
// in one byte's nibbles: 16L bytes at byte offset (g * words_per_plane + k) * 16L hold
//   byte h * 8L + l * 8 + j = code 8k + j of channel 2Lg + hL + l      h < 2, l < L, j < 8,
// so two plain loads give the same two registers.
// Weights in the kernels' layout, built once at Prepare from the weight codes.
struct BitserialWeights {
  PlaneGrid grid;
  int64_t channels = 0;         // out_c rounded up to kChannelAlign; extra channels are 0
  // kernel_h * kernel_w * WordsPerTap(in_c, code bits); with nibbles, of the activations'
  // bytes (8 codes a word), as the GEMM counts them
  int64_t words_per_plane = 0;
  // [channels / lanes][words_per_plane][grid.Planes()][lanes], the bgemm.h w layout; with
  // nibbles or bytes, the layouts above (4 or 8 bytes per channel and word)
  CacheLineVector<uint64_t> planes;
  // The weights of channels from c (a multiple of kChannelAlign) on.
  const uint64_t* ChannelTile(int64_t c) const {
    return planes.data() + (grid.nibbles ? c / 2 : c * grid.Planes()) * words_per_plane;
  }
  // sum of v over each tap, [out_c][kernel_h * kernel_w]: what a binary activation grid
  // needs to sum weights over the valid taps. Empty when the activations are not binary.
  std::vector<int32_t> tap_sums;
};

// Every micro-kernel's channel tile divides this.
constexpr int64_t kChannelAlign = 16;

// w_codes: [out_c][taps][in_c] weight codes, as the reference unpacks them, encoded as
// `grid` says; `lanes`: the micro-kernel's channels per vector.
void PackBitserialWeights(int64_t out_c, int64_t taps, int64_t in_c, const int8_t* w_codes,
                          const PlaneGrid& grid, int lanes, bool need_tap_sums,
                          BitserialWeights* out);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_GEMM_BITSERIAL_PLANES_H_
