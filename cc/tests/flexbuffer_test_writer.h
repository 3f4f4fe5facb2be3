// Writes FlexBuffer maps for tests, including layouts Python's builder rarely or never emits
// (8-byte slots, indirect scalars, odd string length widths), so the reader sees them all.
#ifndef BITLITE_TESTS_FLEXBUFFER_TEST_WRITER_H_
#define BITLITE_TESTS_FLEXBUFFER_TEST_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace bitlite {
namespace testing {

class FlexMapWriter {
 public:
  // value_width: bytes per value slot (and of the map's header); key_width: per key slot.
  explicit FlexMapWriter(unsigned value_width = 8, unsigned key_width = 2)
      : value_width_(value_width), key_width_(key_width) {}

  // `width` is how wide the value is stored when `indirect` (out of line); inline values
  // always take the map's slot width.
  FlexMapWriter& Int(const std::string& key, int64_t value, bool indirect = false,
                     unsigned width = 8);
  FlexMapWriter& UInt(const std::string& key, uint64_t value, bool indirect = false,
                      unsigned width = 8);
  FlexMapWriter& Float(const std::string& key, double value, bool indirect = false,
                       unsigned width = 8);
  FlexMapWriter& Bool(const std::string& key, bool value);
  FlexMapWriter& Null(const std::string& key);
  // `length_width`: bytes of the length prefix.
  FlexMapWriter& String(const std::string& key, const std::string& value,
                        unsigned length_width = 1);
  FlexMapWriter& Blob(const std::string& key, const std::vector<uint8_t>& value,
                      unsigned length_width = 1);
  // A blob of little-endian float32 values, as the converter writes multiplier and offset.
  FlexMapWriter& Floats(const std::string& key, const std::vector<float>& values);

  // Drops every entry with this key, so a test can replace one option.
  FlexMapWriter& Remove(const std::string& key);

  // Entries stay in insertion order (FlexBuffers sorts keys, the reader does not need it).
  std::vector<uint8_t> Finish() const;

 private:
  struct Entry {
    std::string key;
    uint8_t type = 0;
    uint64_t bits = 0;           // scalar payload: integer bits, or the float's IEEE bits
    std::vector<uint8_t> bytes;  // string or blob payload
    bool out_of_line = false;
    unsigned width = 1;  // of an out-of-line scalar, or of a length prefix
  };
  FlexMapWriter& Add(Entry entry);

  unsigned value_width_;
  unsigned key_width_;
  std::vector<Entry> entries_;
};

// The options of a valid BitliteConv2D (or, with conv = false, BitliteFullyConnected) op:
// W2A4 unsigned, 3x3 kernel, 3 -> 2 channels; every test starts from these. With
// indirect_scalars, ints and the float are stored out of line (and value_width may be < 4).
FlexMapWriter ValidOptions(bool conv, unsigned value_width = 8, bool indirect_scalars = false);
// The same for a BitliteConv2DTranspose: 3x3 kernel, stride 2, Keras' 'same' padding (pads
// top 0, bottom 1, left 0, right 1).
FlexMapWriter ValidTransposeOptions(unsigned value_width = 8, bool indirect_scalars = false);

}  // namespace testing
}  // namespace bitlite

#endif  // BITLITE_TESTS_FLEXBUFFER_TEST_WRITER_H_
