#include "flexbuffer_reader.h"

#include <cstring>

namespace bitlite {
namespace flexbuffer {
namespace {

bool IsValidWidth(uint64_t width) { return width == 1 || width == 2 || width == 4 || width == 8; }

// Little-endian unsigned integer of `width` bytes at `pos`, if it lies inside the buffer.
bool ReadUInt(const uint8_t* buffer, size_t size, size_t pos, unsigned width, uint64_t* out) {
  if (!IsValidWidth(width) || pos > size || size - pos < width) return false;
  uint64_t value = 0;
  for (unsigned i = 0; i < width; ++i) value |= static_cast<uint64_t>(buffer[pos + i]) << (8 * i);
  *out = value;
  return true;
}

// Offsets in FlexBuffers point backwards from the slot that holds them.
bool FollowOffset(const uint8_t* buffer, size_t size, size_t slot, unsigned width, size_t* target) {
  uint64_t offset = 0;
  if (!ReadUInt(buffer, size, slot, width, &offset) || offset > slot) return false;
  *target = slot - static_cast<size_t>(offset);
  return true;
}

// Two's complement sign extension written without implementation-defined conversions.
int64_t SignExtend(uint64_t value, unsigned width) {
  const uint64_t mask = width == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * width)) - 1;
  const bool negative = (value >> (8 * width - 1)) & 1;
  return negative ? -static_cast<int64_t>(~value & mask) - 1 : static_cast<int64_t>(value);
}

// FlexBuffer floats are IEEE binary32 or binary64; narrower widths have no defined meaning.
bool DecodeFloat(uint64_t bits, unsigned width, double* out) {
  if (width == 4) {
    const uint32_t bits32 = static_cast<uint32_t>(bits);
    float value;
    std::memcpy(&value, &bits32, sizeof(value));
    *out = value;
    return true;
  }
  if (width == 8) {
    std::memcpy(out, &bits, sizeof(*out));
    return true;
  }
  return false;
}

}  // namespace

const char* KindName(uint8_t type) {
  switch (static_cast<Type>(type)) {
    case Type::kNull:
      return "null";
    case Type::kInt:
    case Type::kIndirectInt:
      return "int";
    case Type::kUInt:
    case Type::kIndirectUInt:
      return "uint";
    case Type::kFloat:
    case Type::kIndirectFloat:
      return "float";
    case Type::kKey:
      return "key";
    case Type::kString:
      return "string";
    case Type::kMap:
      return "map";
    case Type::kBlob:
      return "blob";
    case Type::kBool:
      return "bool";
  }
  return "vector or unknown type";
}

bool Value::IsInt() const {
  const Type t = static_cast<Type>(type());
  return t == Type::kInt || t == Type::kUInt || t == Type::kIndirectInt || t == Type::kIndirectUInt;
}

bool Value::IsFloat() const {
  const Type t = static_cast<Type>(type());
  return t == Type::kFloat || t == Type::kIndirectFloat;
}

bool Value::ReadInt(int64_t* out) const {
  const Type t = static_cast<Type>(type());
  size_t pos = slot_;
  unsigned width = slot_width_;
  if (t == Type::kIndirectInt || t == Type::kIndirectUInt) {
    if (!FollowOffset(buffer_, buffer_size_, slot_, slot_width_, &pos)) return false;
    width = OwnWidth();
  } else if (t != Type::kInt && t != Type::kUInt) {
    return false;
  }
  uint64_t raw = 0;
  if (!ReadUInt(buffer_, buffer_size_, pos, width, &raw)) return false;
  if (t == Type::kInt || t == Type::kIndirectInt) {
    *out = SignExtend(raw, width);
    return true;
  }
  if (raw > static_cast<uint64_t>(INT64_MAX)) return false;
  *out = static_cast<int64_t>(raw);
  return true;
}

bool Value::ReadBool(bool* out) const {
  uint64_t raw = 0;
  if (!IsBool() || !ReadUInt(buffer_, buffer_size_, slot_, slot_width_, &raw)) return false;
  *out = raw != 0;
  return true;
}

bool Value::ReadDouble(double* out) const {
  size_t pos = slot_;
  unsigned width = slot_width_;
  if (static_cast<Type>(type()) == Type::kIndirectFloat) {
    if (!FollowOffset(buffer_, buffer_size_, slot_, slot_width_, &pos)) return false;
    width = OwnWidth();
  } else if (static_cast<Type>(type()) != Type::kFloat) {
    return false;
  }
  uint64_t bits = 0;
  return ReadUInt(buffer_, buffer_size_, pos, width, &bits) && DecodeFloat(bits, width, out);
}

bool Value::ReadBytes(Bytes* out) const {
  if (!IsString() && !IsBlob()) return false;
  size_t data = 0;
  if (!FollowOffset(buffer_, buffer_size_, slot_, slot_width_, &data)) return false;
  // The length sits just before the data, in the value's own width.
  const unsigned width = OwnWidth();
  uint64_t length = 0;
  if (data < width || !ReadUInt(buffer_, buffer_size_, data - width, width, &length)) {
    return false;
  }
  if (length > buffer_size_ - data) return false;
  out->data = buffer_ + data;
  out->size = static_cast<size_t>(length);
  return true;
}

const char* Map::OpenRoot(const uint8_t* buffer, size_t buffer_size) {
  // The buffer ends with: root slot, root packed type (1 byte), root slot width (1 byte).
  if (buffer == nullptr || buffer_size < 3) return "buffer too short";
  const unsigned root_width = buffer[buffer_size - 1];
  const uint8_t root_type = buffer[buffer_size - 2];
  if (!IsValidWidth(root_width) || root_width > buffer_size - 2) return "bad root width";
  if ((root_type >> 2) != static_cast<uint8_t>(Type::kMap)) return "root is not a map";
  size_t map = 0;
  if (!FollowOffset(buffer, buffer_size, buffer_size - 2 - root_width, root_width, &map)) {
    return "root offset out of bounds";
  }
  // Before the first value slot: keys vector offset, keys slot width, entry count.
  const unsigned width = 1u << (root_type & 3);
  if (map < 3 * width) return "map header out of bounds";
  uint64_t count = 0, keys_width = 0;
  size_t keys = 0;
  if (!ReadUInt(buffer, buffer_size, map - width, width, &count) ||
      !ReadUInt(buffer, buffer_size, map - 2 * width, width, &keys_width) ||
      !FollowOffset(buffer, buffer_size, map - 3 * width, width, &keys)) {
    return "map header out of bounds";
  }
  // Value slots plus one type byte per entry must fit after the map start.
  if (count > (buffer_size - map) / (width + 1)) return "map entries out of bounds";
  if (!IsValidWidth(keys_width)) return "bad key width";
  uint64_t key_count = 0;
  if (keys < keys_width ||
      !ReadUInt(buffer, buffer_size, keys - keys_width, static_cast<unsigned>(keys_width),
                &key_count) ||
      key_count != count) {
    return "keys vector does not match the map";
  }
  if (count > (buffer_size - keys) / keys_width) return "keys out of bounds";
  buffer_ = buffer;
  buffer_size_ = buffer_size;
  values_ = map;
  size_ = static_cast<size_t>(count);
  width_ = width;
  keys_ = keys;
  keys_width_ = static_cast<unsigned>(keys_width);
  return nullptr;
}

bool Map::Entry(size_t index, std::string_view* key, Value* value) const {
  if (index >= size_) return false;
  size_t key_start = 0;
  if (!FollowOffset(buffer_, buffer_size_, keys_ + index * keys_width_, keys_width_, &key_start)) {
    return false;
  }
  // Keys are NUL-terminated with no stored length.
  const void* end = std::memchr(buffer_ + key_start, 0, buffer_size_ - key_start);
  if (end == nullptr) return false;
  *key = std::string_view(reinterpret_cast<const char*>(buffer_ + key_start),
                          static_cast<const uint8_t*>(end) - (buffer_ + key_start));
  const uint8_t packed_type = buffer_[values_ + size_ * width_ + index];
  *value = Value(buffer_, buffer_size_, values_ + index * width_, static_cast<uint8_t>(width_),
                 packed_type);
  return true;
}

}  // namespace flexbuffer
}  // namespace bitlite
