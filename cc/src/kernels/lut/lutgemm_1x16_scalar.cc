// Portable lookup-table micro-kernel: the specification of the LUT kernels (lutgemm.h) in
// plain C++, int32 sums of every lookup. Tables of one group per 16 bytes, two groups per
// weight byte (low and high nibble), as the NEON kernel reads them.
#include "kernels/lut/lutgemm_tile.h"

namespace bitlite {
namespace {

struct ScalarOps : lut_tile::LaneLayout<1> {
  template <int kAB, bool kTwos>
  static void BuildTables(const uint64_t* x, int8_t* tables) {
    lut_tile::BuildTablesPortable<kAB, kTwos>(x, tables);
  }

  static constexpr int kPixels = 1;

  template <int kWB, int kAB, bool kTwos, int kTilePixels>
  struct Tile {
    // Modulo 2^32, like the bitserial kernels' sums: the final value is exact (bgemm.h).
    uint32_t acc[kTilePixels][lut_tile::kTileChannels] = {};
    int32_t* core;
    int64_t core_stride;
    bool add;

    Tile(int32_t* core_rows, int64_t stride, bool add_to_rows)
        : core(core_rows), core_stride(stride), add(add_to_rows) {}

    void Chunk(const int8_t* tables, const uint8_t* w, int k) {
      for (int n = 0; n < kTilePixels; ++n) {
        const int8_t* low = tables + n * lut_tile::kPixelTables + 2 * k * lut_tile::kTableBytes;
        const int8_t* high = low + lut_tile::kTableBytes;
        for (int i = 0; i < kWB; ++i) {
          const int weight = PlaneWeight(i, kWB, kWB >= 2);
          const uint8_t* nibbles = w + i * lut_tile::kBlockBytes + 16 * k;
          for (int c = 0; c < lut_tile::kTileChannels; ++c) {
            acc[n][c] += static_cast<uint32_t>(weight * (low[nibbles[c] & 15] + high[nibbles[c] >> 4]));
          }
        }
      }
    }

    void Store() const {
      for (int n = 0; n < kTilePixels; ++n) {
        int32_t* out = core + n * core_stride;
        for (int c = 0; c < lut_tile::kTileChannels; ++c) {
          out[c] = static_cast<int32_t>((add ? static_cast<uint32_t>(out[c]) : 0u) + acc[n][c]);
        }
      }
    }
  };
};

}  // namespace

LutGemmKernel LutGemmScalar(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return lut_tile::Select<ScalarOps>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
