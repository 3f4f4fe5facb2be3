#include "kernels/gemm/bitserial_planes.h"

#include <algorithm>

namespace bitlite {

PlaneGrid WeightPlaneGrid(int bits, bool bytes, bool byte_codes) {
  PlaneGrid grid;
  grid.bits = bits;
  if (bits == 8) {
    // W8A8 (int kernels only): the int8 code itself, one byte each.
    grid.bytes = true;
    return grid;
  }
  grid.bytes = bytes && byte_codes;
  grid.nibbles = bytes && !byte_codes;
  grid.binary = bits == 1;
  grid.twos_complement = !bytes && bits >= 2;
  grid.scale = grid.binary ? 2 : 1;
  grid.shift = grid.binary ? -1 : bytes ? -(1 << (bits - 1)) : 0;  // v = u in nibbles
  return grid;
}

PlaneGrid ActivationPlaneGrid(int bits, bool is_signed, bool bytes, bool signed_bytes) {
  PlaneGrid grid;
  grid.bits = bits;
  grid.bytes = bytes;
  grid.binary = is_signed && bits == 1;
  grid.twos_complement = !bytes && is_signed && bits >= 2;
  grid.scale = grid.binary ? 2 : 1;
  if (grid.binary) {
    grid.shift = -1;
  } else if (bytes && signed_bytes) {
    grid.shift = is_signed ? 0 : 1 << (bits - 1);  // v = q, or q - 2^(b-1): int8 either way
  } else {
    grid.shift = bytes && is_signed ? -(1 << (bits - 1)) : 0;
  }
  return grid;
}

namespace {

// The nibble and byte layouts of BitserialWeights (grid.nibbles, grid.bytes).
void PackWidened(int64_t out_c, int64_t taps, int64_t in_c, const int8_t* w_codes,
                 const PlaneGrid& grid, int lanes, BitserialWeights* out) {
  const int64_t words_per_tap = WordsPerTap(in_c, 8);
  uint8_t* bytes = reinterpret_cast<uint8_t*>(out->planes.data());
  for (int64_t c = 0; c < out_c; ++c) {
    const int64_t group = c / (2 * lanes);
    const int64_t l = c % lanes;
    const int half = c % (2 * lanes) < lanes ? 0 : 1;
    for (int64_t t = 0; t < taps; ++t) {
      for (int64_t ci = 0; ci < in_c; ++ci) {
        const int64_t k = t * words_per_tap + ci / 8;
        const int64_t block = (group * out->words_per_plane + k) * (grid.nibbles ? 1 : 2) +
                              (grid.nibbles ? 0 : half);
        const int64_t byte = (block * lanes + l) * 8 + ci % 8;
        const uint32_t v = grid.PlaneValue(w_codes[(c * taps + t) * in_c + ci]);
        bytes[byte] = static_cast<uint8_t>(bytes[byte] | v << (grid.nibbles ? 4 * half : 0));
      }
    }
  }
}

}  // namespace

void PackBitserialWeights(int64_t out_c, int64_t taps, int64_t in_c, const int8_t* w_codes,
                          const PlaneGrid& grid, int lanes, bool need_tap_sums,
                          BitserialWeights* out) {
  const int code_bits = grid.CodeBits();
  const int planes = grid.Planes();
  // Nibbles count words of the activations' bytes.
  const bool widened = grid.nibbles || grid.bytes;
  const int64_t words_per_tap = WordsPerTap(in_c, widened ? 8 : code_bits);
  out->grid = grid;
  out->channels = (out_c + kChannelAlign - 1) / kChannelAlign * kChannelAlign;
  out->words_per_plane = taps * words_per_tap;
  out->planes.assign(static_cast<size_t>(out->channels * planes * out->words_per_plane /
                                         (grid.nibbles ? 2 : 1)), 0);
  out->tap_sums.assign(need_tap_sums ? static_cast<size_t>(out_c * taps) : 0, 0);
  if (widened) {
    PackWidened(out_c, taps, in_c, w_codes, grid, lanes, out);
    for (int64_t i = 0; need_tap_sums && i < out_c * taps * in_c; ++i) {
      out->tap_sums[static_cast<size_t>(i / in_c)] += grid.Value(w_codes[i]);
    }
    return;
  }
  for (int64_t c = 0; c < out_c; ++c) {
    uint64_t* group = out->planes.data() + (c / lanes) * out->words_per_plane * planes * lanes;
    for (int64_t t = 0; t < taps; ++t) {
      for (int64_t ci = 0; ci < in_c; ++ci) {
        const int code = w_codes[(c * taps + t) * in_c + ci];
        const uint32_t v = grid.PlaneValue(code);
        const int64_t bit = ci * code_bits;
        const int64_t word = t * words_per_tap + bit / 64;
        for (int i = 0; i < planes; ++i) {
          group[(word * planes + i) * lanes + c % lanes] |= uint64_t{(v >> i) & 1} << (bit % 64);
        }
        if (need_tap_sums) out->tap_sums[c * taps + t] += out->grid.Value(code);
      }
    }
  }
}

}  // namespace bitlite
