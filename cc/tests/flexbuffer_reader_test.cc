#include "flexbuffer_reader.h"

#include <cstring>
#include <string>
#include <vector>

#include "flexbuffer_test_writer.h"
#include "python_golden_options.h"
#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

using flexbuffer::Bytes;
using flexbuffer::Map;
using flexbuffer::Value;

bool Lookup(const Map& map, const std::string& key, Value* value) {
  for (size_t i = 0; i < map.size(); ++i) {
    std::string_view entry_key;
    if (map.Entry(i, &entry_key, value) && entry_key == key) return true;
  }
  return false;
}

int64_t IntAt(const Map& map, const std::string& key) {
  Value value;
  int64_t result = -12345;
  if (!Lookup(map, key, &value) || !value.ReadInt(&result)) ReportFailure(__FILE__, __LINE__, key);
  return result;
}

double DoubleAt(const Map& map, const std::string& key) {
  Value value;
  double result = -12345.0;
  if (!Lookup(map, key, &value) || !value.ReadDouble(&result))
    ReportFailure(__FILE__, __LINE__, key);
  return result;
}

std::string BytesAt(const Map& map, const std::string& key) {
  Value value;
  Bytes bytes;
  if (!Lookup(map, key, &value) || !value.ReadBytes(&bytes)) {
    ReportFailure(__FILE__, __LINE__, key);
    return "";
  }
  return std::string(reinterpret_cast<const char*>(bytes.data), bytes.size);
}

BITLITE_TEST(ReadsPythonConv2DOptions) {
  Map map;
  ASSERT_TRUE(map.OpenRoot(kPythonConv2DOptions, sizeof(kPythonConv2DOptions)) == nullptr);
  EXPECT_EQ(map.size(), size_t{18});
  EXPECT_EQ(IntAt(map, "version"), 1);
  EXPECT_EQ(IntAt(map, "stride_w"), 2);
  EXPECT_EQ(IntAt(map, "groups"), 1);
  EXPECT_EQ(static_cast<float>(DoubleAt(map, "input_scale")), 0.1f);
  EXPECT_EQ(BytesAt(map, "padding"), "SAME");
  const std::string multiplier = BytesAt(map, "multiplier");
  ASSERT_TRUE(multiplier.size() == 8);
  float second;
  std::memcpy(&second, multiplier.data() + 4, 4);
  EXPECT_EQ(second, 0.25f);
  Value value;
  bool is_signed = true;
  ASSERT_TRUE(Lookup(map, "activation_signed", &value));
  EXPECT_TRUE(value.IsBool() && value.ReadBool(&is_signed) && !is_signed);
}

BITLITE_TEST(ReadsPythonFloat64WithWideSlots) {
  Map map;
  ASSERT_TRUE(map.OpenRoot(kPythonConv2DOptionsFloat64, sizeof(kPythonConv2DOptionsFloat64)) ==
              nullptr);
  EXPECT_EQ(DoubleAt(map, "input_scale"), 0.1);
  EXPECT_EQ(IntAt(map, "kernel_h"), 3);
  EXPECT_EQ(BytesAt(map, "activation"), "RELU");
}

BITLITE_TEST(ReadsEverySlotWidthAndIndirectForm) {
  for (unsigned value_width : {1u, 2u, 4u, 8u}) {
    for (unsigned key_width : {1u, 2u}) {
      FlexMapWriter writer(value_width, key_width);
      const int64_t min_int = value_width == 8 ? INT64_MIN : -(int64_t{1} << (8 * value_width - 1));
      writer.Int("min", min_int)
          .Int("minus_one", -1)
          .UInt("umax",
                value_width == 8 ? uint64_t{INT64_MAX} : (uint64_t{1} << (8 * value_width)) - 1)
          .Int("indirect", -300000, true, 4)
          .UInt("indirect_u", 70000, true, 8)
          .Float("indirect_f", 2.5, true, 4)
          .Float("indirect_d", 0.1, true, 8)
          .Bool("yes", true)
          .String("name", "VALID", value_width)
          .Blob("blob", {1, 2, 3}, 2);
      if (value_width >= 4) writer.Float("inline_f", 0.75);
      const std::vector<uint8_t> buffer = writer.Finish();
      Map map;
      ASSERT_TRUE(map.OpenRoot(buffer.data(), buffer.size()) == nullptr);
      EXPECT_EQ(IntAt(map, "min"), min_int);
      EXPECT_EQ(IntAt(map, "minus_one"), -1);
      EXPECT_EQ(IntAt(map, "indirect"), -300000);
      EXPECT_EQ(IntAt(map, "indirect_u"), 70000);
      EXPECT_EQ(DoubleAt(map, "indirect_f"), 2.5);
      EXPECT_EQ(DoubleAt(map, "indirect_d"), 0.1);
      EXPECT_EQ(BytesAt(map, "name"), "VALID");
      EXPECT_EQ(BytesAt(map, "blob"), std::string("\x01\x02\x03"));
      if (value_width >= 4) EXPECT_EQ(DoubleAt(map, "inline_f"), 0.75);
      Value value;
      bool flag = false;
      EXPECT_TRUE(Lookup(map, "yes", &value) && value.ReadBool(&flag) && flag);
    }
  }
}

BITLITE_TEST(RejectsValuesThatDoNotFit) {
  const std::vector<uint8_t> buffer = FlexMapWriter()
                                          .UInt("huge", uint64_t{1} << 63)
                                          .Float("half", 1.0, true, 2)
                                          .String("text", "x")
                                          .Finish();
  Map map;
  ASSERT_TRUE(map.OpenRoot(buffer.data(), buffer.size()) == nullptr);
  Value value;
  int64_t integer;
  double real;
  ASSERT_TRUE(Lookup(map, "huge", &value));
  EXPECT_TRUE(value.IsInt() && !value.ReadInt(&integer));
  ASSERT_TRUE(Lookup(map, "half", &value));
  EXPECT_TRUE(value.IsFloat() && !value.ReadDouble(&real));
  ASSERT_TRUE(Lookup(map, "text", &value));
  EXPECT_TRUE(!value.ReadInt(&integer) && !value.ReadDouble(&real));
}

std::string OpenError(const std::vector<uint8_t>& buffer) {
  Map map;
  const char* error = map.OpenRoot(buffer.data(), buffer.size());
  return error ? error : "ok";
}

BITLITE_TEST(RejectsMalformedRoots) {
  EXPECT_EQ(OpenError({}), "buffer too short");
  EXPECT_EQ(OpenError({0x24, 0x01}), "buffer too short");
  EXPECT_EQ(OpenError({0x05, 0x04, 0x01}), "root is not a map");  // Python Dumps(5)
  EXPECT_EQ(OpenError({0x00, 0x24, 0x03}), "bad root width");
  EXPECT_EQ(OpenError({0x00, 0x24, 0x08}), "bad root width");
  EXPECT_EQ(OpenError({0x09, 0x24, 0x01}), "root offset out of bounds");
  EXPECT_EQ(OpenError({0x00, 0x24, 0x01}), "map header out of bounds");
  // A map header claiming 200 entries in a 7-byte buffer.
  EXPECT_EQ(OpenError({0x00, 0x01, 0xc8, 0x00, 0x01, 0x24, 0x01}), "map entries out of bounds");
}

BITLITE_TEST(RejectsMalformedEntries) {
  std::vector<uint8_t> buffer = FlexMapWriter(1).String("key", "value").Finish();
  Map map;
  ASSERT_TRUE(map.OpenRoot(buffer.data(), buffer.size()) == nullptr);
  Value value;
  std::string_view key;
  ASSERT_TRUE(map.Entry(0, &key, &value));
  EXPECT_TRUE(!map.Entry(1, &key, &value));
  // Point the string's offset before the start of the buffer.
  const size_t map_start = buffer.size() - 5;  // one value slot, one type byte, root (3 bytes)
  buffer[map_start] = 0xff;
  ASSERT_TRUE(map.OpenRoot(buffer.data(), buffer.size()) == nullptr);
  ASSERT_TRUE(map.Entry(0, &key, &value));
  Bytes bytes;
  EXPECT_TRUE(!value.ReadBytes(&bytes));
}

BITLITE_TEST(RejectsStringLongerThanBuffer) {
  std::vector<uint8_t> buffer = FlexMapWriter(1).String("k", "abc").Finish();
  // Layout: "k\0" then the length byte of "abc".
  ASSERT_TRUE(buffer[2] == 3);
  buffer[2] = 0xf0;
  Map map;
  ASSERT_TRUE(map.OpenRoot(buffer.data(), buffer.size()) == nullptr);
  Value value;
  std::string_view key;
  Bytes bytes;
  ASSERT_TRUE(map.Entry(0, &key, &value));
  EXPECT_TRUE(!value.ReadBytes(&bytes));
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
