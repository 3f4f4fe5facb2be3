// AMX int8 micro-kernel (the widened-int path on Intel's tile unit, every bit width): blocks of
// 32 pixels x 32 channels held in four 16 x 16 int32 tiles, 2 x 2 over two activation tiles
// (16 pixels x 64 codes) and two weight tiles (64 codes x 16 channels). One TDPBUSD does
// 16 x 16 x 64 multiply-adds (u8 activations x s8 weights, 4-byte groups added into int32
// without saturation), where VPDPBUSD does 64; XNNPACK's int8 runs on AMX too where it exists.
//
// Weights are one byte per code at every width (GemmFunctions::byte_weights: the nibbles' v,
// 0 .. 15, or W8A8's int8 byte), in BitserialWeights' byte layout with L = 8, rearranged once
// by RelayoutWeightsAmx: per group of 16 channels, each chunk of 8 words (64 codes) becomes
// one weight tile, row r holding codes 4r .. 4r + 3 of the 16 channels (TDPBUSD's order); a
// last chunk of n < 8 words becomes the first 2n rows of such a tile in place: copied into a
// zero tile per call, or where it is the whole reduction (1x1 layers of under 64 channels)
// loaded as it is by tiles configured n words deep. Activations, one byte per code, are read
// in place where a layer's taps are whole chunks (BgemmIndirectFn: 64, 128, ... input
// channels), from im2col columns elsewhere (BgemmFn: the stem's folded 21 codes a tap, a 1x1
// layer's packed input); a tile whose 16 rows are not evenly spaced in memory, or a partial
// chunk, is copied into a zero-padded tile first, so no load reads outside its pixels and the
// padding multiplies zero weights or zero codes.
// The sums are the VNNI kernel's (int8/gemm_tile.h), exact modulo 2^32.
//
// Compiled with -mamx-tile -mamx-int8; run only where CpuFeatures::amx_int8 (which includes
// Linux's permission to use the tile state).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "kernels/gemm/bgemm.h"

namespace bitlite {
namespace {

constexpr int kTileRows = 16;  // pixels of an activation tile, rows of a weight tile
constexpr int kTileBytes = 64;  // codes of an activation tile row; 16 channels x 4 codes
constexpr int kChunkWords = 8;  // words (8 codes each) of one tile's 64 codes
constexpr int kGroupWordBytes = 128;  // one word of a group of 16 channels, 8 bytes each
constexpr int kTileSize = kTileRows * kTileBytes;

// Palette 1; every tile 16 rows of 64 bytes: tmm0 .. tmm3 the int32 sums (pixel tile m,
// channel tile n in tmm(2m + n)), tmm4 and tmm5 activations, tmm6 and tmm7 weights.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// `chunk_words`: the words of one reduction chunk, 8 but for a reduction shorter than one
// chunk, whose activation tiles (tmm4, tmm5) are then that many words wide and weight tiles
// (tmm6, tmm7) 2 * chunk_words rows high: read in place, without zero padding.
TileConfig MakeTileConfig(int64_t chunk_words) {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = kTileBytes;
    config.rows[t] = kTileRows;
  }
  for (int t : {4, 5}) config.bytes_per_row[t] = static_cast<uint16_t>(chunk_words * 8);
  for (int t : {6, 7}) config.rows[t] = static_cast<uint8_t>(chunk_words * 2);
  return config;
}

// Where a block's activation tiles come from, one source per BgemmKernel form. Tile(m, k,
// packed) gives the address and row stride (bytes) of pixel tile m's chunk from word k:
// in place where its 16 rows are whole and evenly spaced, else copied into `packed` (16 rows
// of 64 bytes, zero where there is no pixel or no word).
//
// The im2col columns: pixel r of tile m at x + (16m + r) * words; the last chunk of
// words % 8 words of a reduction longer than one chunk is copied.
struct Columns {
  const uint64_t* x;
  int64_t words;
  int rows[2];
  std::pair<const void*, int64_t> Tile(int m, int64_t k, uint8_t* packed) const {
    const uint64_t* first = x + m * kTileRows * words;
    const int64_t count = std::min<int64_t>(kChunkWords, words - k);
    // In place where the tile's K covers the chunk: a whole one, or (MakeTileConfig) all of
    // a reduction shorter than a chunk.
    if ((count == kChunkWords || count == words) && rows[m] == kTileRows) {
      return {first + k, words * 8};
    }
    std::memset(packed, 0, kTileSize);
    for (int r = 0; r < rows[m]; ++r) {
      std::memcpy(packed + r * kTileBytes, first + r * words + k,
                  static_cast<size_t>(count) * sizeof(uint64_t));
    }
    return {packed, kTileBytes};
  }
};

// The windows in place (BgemmIndirectFn), for reductions whose taps are whole chunks
// (BgemmKernel::indirect_tap_words): pixel r's chunk from word k is the 8 words at
// rows[16m + r] + offsets[k]. A tile's windows lie evenly spaced where its pixels share an
// output row; across rows they are copied.
struct Windows {
  const uint64_t* const* rows_of_pixels;
  const int64_t* offsets;
  int rows[2];
  int64_t spacing[2];  // bytes between the tile's windows; 0: not evenly spaced
  Windows(const uint64_t* const* x_rows, const int64_t* x_offsets, const int (&tile_rows)[2])
      : rows_of_pixels(x_rows), offsets(x_offsets), rows{tile_rows[0], tile_rows[1]} {
    for (int m = 0; m < 2; ++m) {
      const uint64_t* const* tile = x_rows + m * kTileRows;
      const int64_t step = rows[m] == kTileRows ? tile[1] - tile[0] : 0;
      bool even = rows[m] == kTileRows;
      for (int r = 2; even && r < kTileRows; ++r) even = tile[r] - tile[r - 1] == step;
      spacing[m] = even ? step * static_cast<int64_t>(sizeof(uint64_t)) : 0;
    }
  }
  std::pair<const void*, int64_t> Tile(int m, int64_t k, uint8_t* packed) const {
    const uint64_t* const* tile = rows_of_pixels + m * kTileRows;
    if (spacing[m] != 0) return {tile[0] + offsets[k], spacing[m]};
    for (int r = 0; r < rows[m]; ++r) {
      std::memcpy(packed + r * kTileBytes, tile[r] + offsets[k], kTileBytes);
    }
    std::memset(packed + rows[m] * kTileBytes, 0, (kTileRows - rows[m]) * kTileBytes);
    return {packed, kTileBytes};
  }
};

// The steps of a block of kM pixel tiles x kN channel tiles; tile numbers are instruction
// immediates, so every (m, n) is spelled out through if constexpr.
template <int kM, int kN>
inline __attribute__((always_inline)) void ZeroSums() {
  _tile_zero(0);
  if constexpr (kN == 2) _tile_zero(1);
  if constexpr (kM == 2) _tile_zero(2);
  if constexpr (kM == 2 && kN == 2) _tile_zero(3);
}

// tmm4 (and tmm5) <- the pixel tiles' chunk from word k.
template <int kM, class Source>
inline __attribute__((always_inline)) void LoadActivations(const Source& x, int64_t k,
                                                           uint8_t (&packed)[2][kTileSize]) {
  const auto a0 = x.Tile(0, k, packed[0]);
  _tile_loadd(4, a0.first, a0.second);
  if constexpr (kM == 2) {
    const auto a1 = x.Tile(1, k, packed[1]);
    _tile_loadd(5, a1.first, a1.second);
  }
}

// The sums += the loaded activation tiles x the weight tiles at w0 (and w1).
template <int kM, int kN>
inline __attribute__((always_inline)) void Multiply(const uint8_t* w0, const uint8_t* w1) {
  _tile_loadd(6, w0, kTileBytes);
  if constexpr (kN == 2) _tile_loadd(7, w1, kTileBytes);
  _tile_dpbusd(0, 4, 6);
  if constexpr (kN == 2) _tile_dpbusd(1, 4, 7);
  if constexpr (kM == 2) _tile_dpbusd(2, 5, 6);
  if constexpr (kM == 2 && kN == 2) _tile_dpbusd(3, 5, 7);
}

// Whole pixel tiles store into core; a partial one through a buffer, its pixels copied.
template <int kM, int kN>
inline __attribute__((always_inline)) void StoreSums(const int (&rows)[2], int32_t* core,
                                                     int64_t core_stride) {
  alignas(64) int32_t sums[kTileRows * kTileRows];
  auto store = [&](int m, int n, auto stored) __attribute__((always_inline)) {
    int32_t* out = core + m * kTileRows * core_stride + n * kTileRows;
    if (rows[m] == kTileRows) {
      stored(out, core_stride * static_cast<int64_t>(sizeof(int32_t)));
      return;
    }
    stored(sums, kTileRows * static_cast<int64_t>(sizeof(int32_t)));
    for (int r = 0; r < rows[m]; ++r) {
      std::memcpy(out + r * core_stride, sums + r * kTileRows, kTileRows * sizeof(int32_t));
    }
  };
  store(0, 0, [](int32_t* p, int64_t stride) { _tile_stored(0, p, stride); });
  if constexpr (kN == 2) {
    store(0, 1, [](int32_t* p, int64_t stride) { _tile_stored(1, p, stride); });
  }
  if constexpr (kM == 2) {
    store(1, 0, [](int32_t* p, int64_t stride) { _tile_stored(2, p, stride); });
  }
  if constexpr (kM == 2 && kN == 2) {
    store(1, 1, [](int32_t* p, int64_t stride) { _tile_stored(3, p, stride); });
  }
}

// One block over every chunk of the reduction.
template <int kM, int kN, class Source>
void Block(const Source& x, int64_t words, const uint8_t* groups, int64_t group_bytes,
           const uint8_t (&last_weights)[2][kTileSize], int32_t* core, int64_t core_stride) {
  const int64_t whole = words / kChunkWords;
  const int64_t chunks = (words + kChunkWords - 1) / kChunkWords;
  alignas(64) uint8_t packed[2][kTileSize];
  ZeroSums<kM, kN>();
  for (int64_t c = 0; c < chunks; ++c) {
    LoadActivations<kM>(x, c * kChunkWords, packed);
    if (c == whole) {  // a chunk of words % 8 words
      Multiply<kM, kN>(last_weights[0], last_weights[1]);
    } else {
      Multiply<kM, kN>(groups + c * kTileSize, groups + group_bytes + c * kTileSize);
    }
  }
  StoreSums<kM, kN>(x.rows, core, core_stride);
}

// A reduction of one chunk: the pixel tiles' activations are loaded once per block of 32
// pixels (in place where the tile has its 16 pixels) and stay loaded while every block of channels
// passes (pixels outside, channels inside: the weights are 64 bytes a channel or less, in L1).
template <int kM, class Source>
void OneChunkBlocks(const Source& x, const uint8_t* w, int64_t channels, int64_t group_bytes,
                    int32_t* core, int64_t core_stride) {
  alignas(64) uint8_t packed[2][kTileSize];
  LoadActivations<kM>(x, 0, packed);
  for (int64_t c0 = 0; c0 < channels; c0 += 2 * kTileRows) {
    const uint8_t* groups = w + c0 / kTileRows * group_bytes;
    if (channels - c0 >= 2 * kTileRows) {
      ZeroSums<kM, 2>();
      Multiply<kM, 2>(groups, groups + group_bytes);
      StoreSums<kM, 2>(x.rows, core + c0, core_stride);
    } else {
      ZeroSums<kM, 1>();
      Multiply<kM, 1>(groups, nullptr);
      StoreSums<kM, 1>(x.rows, core + c0, core_stride);
    }
  }
}

// Both forms: blocks of 32 channels (weights stay in cache) x 32 pixels, or for a reduction of
// one chunk OneChunkBlocks; `source(p0, rows)` is the activation source of the block of pixels
// from p0.
template <class MakeSource>
void Drive(int64_t pixels, const uint64_t* w, int64_t channels, int64_t words, int32_t* core,
           int64_t core_stride, MakeSource source) {
  const int64_t whole = words / kChunkWords;
  const int64_t last_words = words % kChunkWords;
  const int64_t chunk_words = whole == 0 ? last_words : kChunkWords;
  // Per call: another library (XNNPACK) may have configured the tiles on this thread since.
  const TileConfig config = MakeTileConfig(chunk_words);
  _tile_loadconfig(&config);
  const int64_t group_bytes = words * kGroupWordBytes;
  const uint8_t* weights = reinterpret_cast<const uint8_t*>(w);
  // The pixels of the block from p0 in each of its two pixel tiles (the second may be none).
  auto rows_from = [pixels](int64_t p0, int (&rows)[2]) {
    const int64_t left = pixels - p0;
    rows[0] = static_cast<int>(std::min<int64_t>(left, kTileRows));
    rows[1] = static_cast<int>(std::clamp<int64_t>(left - kTileRows, 0, kTileRows));
  };
  if (words <= kChunkWords) {
    for (int64_t p0 = 0; p0 < pixels; p0 += 2 * kTileRows) {
      int rows[2];
      rows_from(p0, rows);
      const auto x = source(p0, rows);
      int32_t* out = core + p0 * core_stride;
      if (rows[1] > 0) {
        OneChunkBlocks<2>(x, weights, channels, group_bytes, out, core_stride);
      } else {
        OneChunkBlocks<1>(x, weights, channels, group_bytes, out, core_stride);
      }
    }
    _tile_release();
    return;
  }
  alignas(64) uint8_t last_weights[2][kTileSize] = {};
  for (int64_t c0 = 0; c0 < channels; c0 += 2 * kTileRows) {
    const uint8_t* groups = weights + c0 / kTileRows * group_bytes;
    const bool two_groups = channels - c0 >= 2 * kTileRows;
    for (int n = 0; last_words > 0 && n < (two_groups ? 2 : 1); ++n) {
      std::memcpy(last_weights[n], groups + n * group_bytes + whole * kTileSize,
                  static_cast<size_t>(last_words * kGroupWordBytes));
    }
    for (int64_t p0 = 0; p0 < pixels; p0 += 2 * kTileRows) {
      int rows[2];
      rows_from(p0, rows);
      const auto x = source(p0, rows);
      int32_t* out = core + p0 * core_stride + c0;
      if (rows[1] > 0) {
        if (two_groups) {
          Block<2, 2>(x, words, groups, group_bytes, last_weights, out, core_stride);
        } else {
          Block<2, 1>(x, words, groups, group_bytes, last_weights, out, core_stride);
        }
      } else if (two_groups) {
        Block<1, 2>(x, words, groups, group_bytes, last_weights, out, core_stride);
      } else {
        Block<1, 1>(x, words, groups, group_bytes, last_weights, out, core_stride);
      }
    }
  }
  // Marks the tile state unused, so that context switches need not save it.
  _tile_release();
}

// BgemmFn: x as im2col columns.
void BgemmAmx(const uint64_t* x, int64_t pixels, const uint64_t* w, int64_t channels,
              int64_t words, int32_t* core, int64_t core_stride) {
  Drive(pixels, w, channels, words, core, core_stride, [&](int64_t p0, const int (&rows)[2]) {
    return Columns{x + p0 * words, words, {rows[0], rows[1]}};
  });
}

// BgemmIndirectFn: the windows in place (words a multiple of 8, see Windows).
void BgemmAmxIndirect(const uint64_t* const* x_rows, const int64_t* x_offsets, int64_t pixels,
                      const uint64_t* w, int64_t channels, int64_t words, int32_t* core,
                      int64_t core_stride) {
  Drive(pixels, w, channels, words, core, core_stride, [&](int64_t p0, const int (&rows)[2]) {
    return Windows(x_rows + p0, x_offsets, rows);
  });
}

}  // namespace

void RelayoutWeightsAmx(uint64_t* planes, size_t words, int64_t words_per_plane) {
  const int64_t group_words = words_per_plane * kGroupWordBytes / 8;
  uint8_t tile[kTileSize];
  for (int64_t g = 0; g + group_words <= static_cast<int64_t>(words); g += group_words) {
    uint8_t* group = reinterpret_cast<uint8_t*>(planes + g);
    for (int64_t k = 0; k < words_per_plane; k += kChunkWords) {
      // Code q of the chunk (word q / 8, byte q % 8) of channel c = 8h + l sits at byte
      // word * 128 + h * 64 + l * 8 + q % 8; TDPBUSD wants it at row q / 4, column 4c + q % 4.
      uint8_t* chunk = group + k * kGroupWordBytes;
      const int64_t codes = std::min<int64_t>(kChunkWords, words_per_plane - k) * 8;
      for (int64_t q = 0; q < codes; ++q) {
        for (int c = 0; c < kTileRows; ++c) {
          tile[q / 4 * kTileBytes + c * 4 + q % 4] =
              chunk[q / 8 * kGroupWordBytes + c / 8 * 64 + c % 8 * 8 + q % 8];
        }
      }
      std::memcpy(chunk, tile, static_cast<size_t>(codes * kTileRows));
    }
  }
}

BgemmKernel BgemmInt8Amx() {
  BgemmKernel kernel{&BgemmAmx, 8, &BgemmAmxIndirect};
  kernel.indirect_tap_words = kChunkWords;
  return kernel;
}

}  // namespace bitlite
