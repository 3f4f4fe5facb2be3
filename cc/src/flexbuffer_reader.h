// A small, bounds-checked reader for the FlexBuffer maps that carry bitlite custom options.
//
// Model files are untrusted input: every offset and length is checked against the buffer, and
// malformed bytes make a read return false; nothing here aborts or reads outside the buffer.
// Only what the options need is supported: a root map, and scalar, string and blob values.
#ifndef BITLITE_SRC_FLEXBUFFER_READER_H_
#define BITLITE_SRC_FLEXBUFFER_READER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bitlite {
namespace flexbuffer {

// Type codes of the FlexBuffer wire format (upper 6 bits of a packed type byte).
enum class Type : uint8_t {
  kNull = 0,
  kInt = 1,
  kUInt = 2,
  kFloat = 3,
  kKey = 4,
  kString = 5,
  kIndirectInt = 6,
  kIndirectUInt = 7,
  kIndirectFloat = 8,
  kMap = 9,
  kBlob = 25,
  kBool = 26,
};

// Names the kind of a value for error messages ("int", "string", "vector" ...).
const char* KindName(uint8_t type);

struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// One value inside a buffer: where its slot is, how wide the slot is and its packed type.
class Value {
 public:
  Value() = default;  // a null value
  uint8_t type() const { return packed_type_ >> 2; }
  bool IsInt() const;    // int or uint, inline or indirect
  bool IsFloat() const;  // inline or indirect
  bool IsBool() const { return type() == static_cast<uint8_t>(Type::kBool); }
  bool IsString() const { return type() == static_cast<uint8_t>(Type::kString); }
  bool IsBlob() const { return type() == static_cast<uint8_t>(Type::kBlob); }

  // Each returns false if the value has another kind, lies (partly) outside the buffer, or
  // does not fit the result (a uint above INT64_MAX, a float narrower than 4 bytes).
  bool ReadInt(int64_t* out) const;
  bool ReadBool(bool* out) const;
  bool ReadDouble(double* out) const;
  bool ReadBytes(Bytes* out) const;  // string (without its terminator) or blob

 private:
  friend class Map;
  Value(const uint8_t* buffer, size_t buffer_size, size_t slot, uint8_t slot_width,
        uint8_t packed_type)
      : buffer_(buffer),
        buffer_size_(buffer_size),
        slot_(slot),
        slot_width_(slot_width),
        packed_type_(packed_type) {}
  // Width the value's own data is stored with when it is not inline.
  unsigned OwnWidth() const { return 1u << (packed_type_ & 3); }

  const uint8_t* buffer_ = nullptr;
  size_t buffer_size_ = 0;
  size_t slot_ = 0;
  uint8_t slot_width_ = 1;
  uint8_t packed_type_ = 0;
};

// The root map of a buffer. Entries are visited by index, so callers can reject unknown keys.
class Map {
 public:
  // Returns nullptr on success, else a static description of what is malformed.
  const char* OpenRoot(const uint8_t* buffer, size_t buffer_size);

  size_t size() const { return size_; }
  // Returns false if entry `index` (< size()) points outside the buffer.
  bool Entry(size_t index, std::string_view* key, Value* value) const;

 private:
  const uint8_t* buffer_ = nullptr;
  size_t buffer_size_ = 0;
  size_t values_ = 0;  // position of the first value slot
  size_t size_ = 0;
  unsigned width_ = 0;  // of value slots
  size_t keys_ = 0;     // position of the first key slot
  unsigned keys_width_ = 0;
};

}  // namespace flexbuffer
}  // namespace bitlite

#endif  // BITLITE_SRC_FLEXBUFFER_READER_H_
