// Portable lookup-table micro-kernel: the specification of the LUT kernels (lutgemm.h) in
// plain C++, int32 sums of every lookup. Tables of one group per 16 bytes, two groups per
// weight byte (low and high nibble), as the NEON kernel reads them.
#include "kernels/lutgemm_tile.h"

namespace bitlite {
namespace {

struct ScalarOps : lut_tile::LaneLayout<1> {
  template <int kAB, bool kTwos>
  static void BuildTables(const uint64_t* x, int8_t* tables) {
    lut_tile::BuildTablesPortable<kAB, kTwos>(x, tables);
  }

  template <int kWB, int kAB, bool kTwos>
  struct Tile {
    // Modulo 2^32, like the bitserial kernels' sums: the final value is exact (bgemm.h).
    uint32_t acc[lut_tile::kTileChannels] = {};

    void Chunk(const int8_t* tables, const uint8_t* w, int k) {
      const int8_t* low = tables + 2 * k * lut_tile::kTableBytes;
      const int8_t* high = low + lut_tile::kTableBytes;
      for (int i = 0; i < kWB; ++i) {
        const int weight = lut_tile::PlaneWeight(i, kWB, kWB >= 2);
        const uint8_t* nibbles = w + i * lut_tile::kBlockBytes + 16 * k;
        for (int c = 0; c < lut_tile::kTileChannels; ++c) {
          acc[c] += static_cast<uint32_t>(weight * (low[nibbles[c] & 15] + high[nibbles[c] >> 4]));
        }
      }
    }

    void Store(int32_t* core, bool add) const {
      for (int c = 0; c < lut_tile::kTileChannels; ++c) {
        core[c] = static_cast<int32_t>((add ? static_cast<uint32_t>(core[c]) : 0u) + acc[c]);
      }
    }
  };
};

}  // namespace

LutGemmKernel LutGemmScalar(int weight_bits, int activation_bits, bool activation_twos_complement) {
  return lut_tile::Select<ScalarOps>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
