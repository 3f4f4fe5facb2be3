// Malformed option buffers: every truncation, every single-byte corruption from a set of
// replacements, and random multi-byte corruptions of valid buffers must parse or fail with a
// message, never crash or read outside the buffer. The sanitized build of this test
// (options_fuzz_test_sanitized) is what catches stray reads.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "flexbuffer_reader.h"
#include "flexbuffer_test_writer.h"
#include "op_options.h"
#include "python_golden_options.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

// Parses a copy of exactly `size` bytes, so reading past it is a heap overflow ASan sees.
bool ParseCopy(OpKind kind, const uint8_t* data, size_t size, std::string* error) {
  const std::vector<uint8_t> copy(data, data + size);
  OpParams params;
  error->clear();
  const bool ok = ParseOpOptions(kind, copy.data(), copy.size(), &params, error);
  return ok || !error->empty();
}

// Reads every key and every value the reader hands out, byte by byte, so a length or offset
// the reader should have rejected turns into a read ASan sees.
unsigned TouchEverything(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> copy(data, data + size);
  flexbuffer::Map map;
  unsigned checksum = 0;
  if (map.OpenRoot(copy.data(), copy.size()) != nullptr) return checksum;
  for (size_t i = 0; i < map.size(); ++i) {
    std::string_view key;
    flexbuffer::Value value;
    if (!map.Entry(i, &key, &value)) continue;
    for (char c : key) checksum += static_cast<unsigned char>(c);
    int64_t integer;
    bool flag;
    double real;
    flexbuffer::Bytes bytes;
    if (value.ReadInt(&integer)) checksum += static_cast<unsigned>(integer);
    if (value.ReadBool(&flag)) checksum += flag;
    if (value.ReadDouble(&real)) checksum += real > 0;
    if (value.ReadBytes(&bytes)) {
      for (size_t j = 0; j < bytes.size; ++j) checksum += bytes.data[j];
    }
  }
  return checksum;
}

void Torture(OpKind kind, const std::vector<uint8_t>& valid) {
  std::string error;
  EXPECT_TRUE(ParseCopy(kind, valid.data(), valid.size(), &error) && error.empty());
  unsigned checksum = TouchEverything(valid.data(), valid.size());
  for (size_t size = 0; size < valid.size(); ++size) {
    // The root sits at the end, so every truncation must fail.
    EXPECT_TRUE(ParseCopy(kind, valid.data(), size, &error) && !error.empty());
    checksum += TouchEverything(valid.data(), size);
  }
  std::vector<uint8_t> corrupt = valid;
  for (size_t i = 0; i < valid.size(); ++i) {
    for (uint8_t replacement :
         {uint8_t{0}, uint8_t{0xff}, uint8_t(valid[i] ^ 1), uint8_t(valid[i] ^ 0x80),
          uint8_t(valid[i] + 1), uint8_t(valid[i] - 1)}) {
      corrupt[i] = replacement;
      EXPECT_TRUE(ParseCopy(kind, corrupt.data(), corrupt.size(), &error));
      checksum += TouchEverything(corrupt.data(), corrupt.size());
    }
    corrupt[i] = valid[i];
  }
  // Several bytes at once, biased towards the root and map header at the end.
  std::mt19937 rng(static_cast<unsigned>(valid.size()));
  std::uniform_int_distribution<size_t> anywhere(0, valid.size() - 1);
  std::uniform_int_distribution<size_t> near_end(valid.size() > 48 ? valid.size() - 48 : 0,
                                                 valid.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 3000; ++round) {
    corrupt = valid;
    for (int changes = 1 + round % 4; changes > 0; --changes) {
      corrupt[(round % 2 ? near_end : anywhere)(rng)] = static_cast<uint8_t>(byte(rng));
    }
    EXPECT_TRUE(ParseCopy(kind, corrupt.data(), corrupt.size(), &error));
    checksum += TouchEverything(corrupt.data(), corrupt.size());
  }
  EXPECT_TRUE(checksum != 0);  // keeps the reads from being optimized away
}

std::vector<uint8_t> Bytes(const uint8_t* data, size_t size) { return {data, data + size}; }

BITLITE_TEST(PythonConv2DOptionsSurviveCorruption) {
  Torture(OpKind::kConv2D, Bytes(kPythonConv2DOptions, sizeof(kPythonConv2DOptions)));
}

BITLITE_TEST(PythonFloat64OptionsSurviveCorruption) {
  Torture(OpKind::kConv2D, Bytes(kPythonConv2DOptionsFloat64, sizeof(kPythonConv2DOptionsFloat64)));
}

BITLITE_TEST(PythonFullyConnectedOptionsSurviveCorruption) {
  Torture(OpKind::kFullyConnected,
          Bytes(kPythonFullyConnectedOptions, sizeof(kPythonFullyConnectedOptions)));
}

BITLITE_TEST(PythonConv2DTransposeOptionsSurviveCorruption) {
  Torture(OpKind::kConv2DTranspose,
          Bytes(kPythonConv2DTransposeOptions, sizeof(kPythonConv2DTransposeOptions)));
  Torture(OpKind::kConv2DTranspose, ValidTransposeOptions(2, /*indirect_scalars=*/true).Finish());
}

BITLITE_TEST(WideAndIndirectOptionsSurviveCorruption) {
  Torture(OpKind::kFullyConnected, ValidOptions(/*conv=*/false, /*value_width=*/8).Finish());
  Torture(OpKind::kConv2D, ValidOptions(true, 2, /*indirect_scalars=*/true).Finish());
  Torture(OpKind::kConv2D, ValidOptions(true, 8, true).Finish());
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
