#include <vector>

#include "kernels/reference/weight_unpack_reference.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

std::vector<int> Unpack(const std::vector<uint8_t>& packed, int64_t rows, int64_t k, int bits) {
  std::vector<int8_t> codes(static_cast<size_t>(rows * k), 99);
  if (!UnpackWeightsReference(packed.data(), rows, k, bits, codes.data())) return {};
  return std::vector<int>(codes.begin(), codes.end());
}

// Bit patterns worked out by hand from FORMAT.md "Weight packing": code k at stream bits
// k*b .. k*b+b-1, LSB first; stored codes are offset binary (1 bit: set means +1).
BITLITE_TEST(UnpacksOneBit) {
  // +1 -1 +1 +1 -1 -1 -1 -1 | +1 -1  ->  bits 1011 0000 | 10
  EXPECT_TRUE(Unpack({0x0d, 0x01}, 1, 10, 1) ==
              std::vector<int>({1, -1, 1, 1, -1, -1, -1, -1, 1, -1}));
}

BITLITE_TEST(UnpacksTwoBits) {
  // -2 -1 0 1 | 1  ->  stored 0 1 2 3 | 3
  EXPECT_TRUE(Unpack({0xe4, 0x03}, 1, 5, 2) == std::vector<int>({-2, -1, 0, 1, 1}));
}

BITLITE_TEST(UnpacksThreeBitsAcrossBytes) {
  // -4 3 0  ->  stored 0 7 4: bits 0-2 = 000, 3-5 = 111, 6-8 = 001 (bit 8 in byte 1)
  EXPECT_TRUE(Unpack({0x38, 0x01}, 1, 3, 3) == std::vector<int>({-4, 3, 0}));
}

BITLITE_TEST(UnpacksFourBitsAndRows) {
  // Row 0: -8 7 -1 -> stored 0 15 7; row 1: 0 -8 7 -> stored 8 0 15.
  EXPECT_TRUE(Unpack({0xf0, 0x07, 0x08, 0x0f}, 2, 3, 4) == std::vector<int>({-8, 7, -1, 0, -8, 7}));
}

BITLITE_TEST(UnpacksEightBitsAsTwosComplementBytes) {
  // FORMAT.md: W8 rows are row_bytes = K bytes, each the offset-binary code qw + 128.
  EXPECT_TRUE(Unpack({0x80, 0xff, 0x00, 0x01, 0x7f, 0x9c}, 2, 3, 8) ==
              std::vector<int>({0, 127, -128, -127, -1, 28}));
}

BITLITE_TEST(RejectsSetPaddingBits) {
  EXPECT_TRUE(Unpack({0x0d, 0x05}, 1, 10, 1).empty());               // bit 10 of a 10-bit row
  EXPECT_TRUE(Unpack({0xf0, 0x17}, 1, 3, 4).empty());                // bit 12 of a 12-bit row
  EXPECT_TRUE(Unpack({0xff}, 1, 2, 4) == std::vector<int>({7, 7}));  // full byte: no padding
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
