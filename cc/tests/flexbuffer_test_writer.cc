#include "flexbuffer_test_writer.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace bitlite {
namespace testing {
namespace {

enum : uint8_t {
  kNull = 0,
  kInt = 1,
  kUInt = 2,
  kFloat = 3,
  kString = 5,
  kIndirectInt = 6,
  kIndirectUInt = 7,
  kIndirectFloat = 8,
  kMap = 9,
  kBlob = 25,
  kBool = 26,
};

uint8_t Log2(unsigned width) { return width == 1 ? 0 : width == 2 ? 1 : width == 4 ? 2 : 3; }

uint8_t Packed(uint8_t type, unsigned width) {
  return static_cast<uint8_t>(type << 2 | Log2(width));
}

void Align(std::vector<uint8_t>* buffer, unsigned width) {
  while (buffer->size() % width != 0) buffer->push_back(0);
}

void Put(std::vector<uint8_t>* buffer, uint64_t value, unsigned width) {
  for (unsigned i = 0; i < width; ++i) buffer->push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// A backwards offset from the slot about to be written to `target`.
void PutOffset(std::vector<uint8_t>* buffer, size_t target, unsigned width) {
  const uint64_t offset = buffer->size() - target;
  if (width < 8 && offset >> (8 * width) != 0) throw std::logic_error("offset too wide for slot");
  Put(buffer, offset, width);
}

uint64_t FloatBits(double value, unsigned width) {
  if (width == 4) {
    const float narrow = static_cast<float>(value);
    uint32_t bits;
    std::memcpy(&bits, &narrow, sizeof(bits));
    return bits;
  }
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

}  // namespace

FlexMapWriter& FlexMapWriter::Add(Entry entry) {
  entries_.push_back(std::move(entry));
  return *this;
}

FlexMapWriter& FlexMapWriter::Int(const std::string& key, int64_t value, bool indirect,
                                  unsigned width) {
  return Add(
      {key, indirect ? kIndirectInt : kInt, static_cast<uint64_t>(value), {}, indirect, width});
}

FlexMapWriter& FlexMapWriter::UInt(const std::string& key, uint64_t value, bool indirect,
                                   unsigned width) {
  return Add({key, indirect ? kIndirectUInt : kUInt, value, {}, indirect, width});
}

FlexMapWriter& FlexMapWriter::Float(const std::string& key, double value, bool indirect,
                                    unsigned width) {
  // Inline floats take the slot's width, so encode them for that width.
  const unsigned stored_width = indirect ? width : value_width_;
  return Add({key,
              indirect ? kIndirectFloat : kFloat,
              FloatBits(value, stored_width),
              {},
              indirect,
              width});
}

FlexMapWriter& FlexMapWriter::Bool(const std::string& key, bool value) {
  return Add({key, kBool, value ? 1u : 0u, {}, false, 1});
}

FlexMapWriter& FlexMapWriter::Null(const std::string& key) {
  return Add({key, kNull, 0, {}, false, 1});
}

FlexMapWriter& FlexMapWriter::String(const std::string& key, const std::string& value,
                                     unsigned length_width) {
  return Add(
      {key, kString, 0, std::vector<uint8_t>(value.begin(), value.end()), true, length_width});
}

FlexMapWriter& FlexMapWriter::Blob(const std::string& key, const std::vector<uint8_t>& value,
                                   unsigned length_width) {
  return Add({key, kBlob, 0, value, true, length_width});
}

FlexMapWriter& FlexMapWriter::Floats(const std::string& key, const std::vector<float>& values) {
  std::vector<uint8_t> bytes;
  for (float value : values) Put(&bytes, FloatBits(value, 4), 4);
  return Blob(key, bytes);
}

FlexMapWriter& FlexMapWriter::Remove(const std::string& key) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const Entry& entry) { return entry.key == key; }),
                 entries_.end());
  return *this;
}

std::vector<uint8_t> FlexMapWriter::Finish() const {
  std::vector<uint8_t> buffer;
  std::vector<size_t> key_at, data_at;
  for (const Entry& entry : entries_) {
    key_at.push_back(buffer.size());
    buffer.insert(buffer.end(), entry.key.begin(), entry.key.end());
    buffer.push_back(0);
  }
  for (const Entry& entry : entries_) {
    if (!entry.out_of_line) {
      data_at.push_back(0);
      continue;
    }
    Align(&buffer, entry.width);
    if (entry.type == kString || entry.type == kBlob) {
      Put(&buffer, entry.bytes.size(), entry.width);
      data_at.push_back(buffer.size());
      buffer.insert(buffer.end(), entry.bytes.begin(), entry.bytes.end());
      if (entry.type == kString) buffer.push_back(0);
    } else {
      data_at.push_back(buffer.size());
      Put(&buffer, entry.bits, entry.width);
    }
  }
  Align(&buffer, key_width_);
  Put(&buffer, entries_.size(), key_width_);
  const size_t keys = buffer.size();
  for (size_t i = 0; i < entries_.size(); ++i) PutOffset(&buffer, key_at[i], key_width_);

  Align(&buffer, value_width_);
  PutOffset(&buffer, keys, value_width_);
  Put(&buffer, key_width_, value_width_);
  Put(&buffer, entries_.size(), value_width_);
  const size_t map = buffer.size();
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].out_of_line) {
      PutOffset(&buffer, data_at[i], value_width_);
    } else {
      Put(&buffer, entries_[i].bits, value_width_);
    }
  }
  for (const Entry& entry : entries_) {
    buffer.push_back(Packed(entry.type, entry.out_of_line ? entry.width : value_width_));
  }
  // Root: offset to the map, the map's packed type, the root slot's width.
  PutOffset(&buffer, map, value_width_);
  buffer.push_back(Packed(kMap, value_width_));
  buffer.push_back(static_cast<uint8_t>(value_width_));
  return buffer;
}

namespace {

// The keys every op has.
FlexMapWriter CommonOptions(unsigned value_width, bool i) {
  FlexMapWriter writer(value_width);
  writer.Int("version", 1, i)
      .Int("weight_bits", 2, i)
      .Int("activation_bits", 4, i)
      .Bool("activation_signed", false)
      .Float("input_scale", 0.1f, i)
      .Int("in_channels", 3, i)
      .Int("out_channels", 2, i)
      .String("activation", "RELU")
      .Floats("multiplier", {0.5f, 0.25f})
      .Floats("offset", {1.0f, -2.0f});
  return writer;
}

}  // namespace

FlexMapWriter ValidOptions(bool conv, unsigned value_width, bool indirect_scalars) {
  const bool i = indirect_scalars;
  FlexMapWriter writer = CommonOptions(value_width, i);
  if (conv) {
    writer.Int("kernel_h", 3, i)
        .Int("kernel_w", 3, i)
        .Int("stride_h", 1, i)
        .Int("stride_w", 2, i)
        .Int("dilation_h", 1, i)
        .Int("dilation_w", 1, i)
        .String("padding", "SAME")
        .Int("groups", 1, i);
  }
  return writer;
}

FlexMapWriter ValidTransposeOptions(unsigned value_width, bool indirect_scalars) {
  const bool i = indirect_scalars;
  FlexMapWriter writer = CommonOptions(value_width, i);
  writer.Int("kernel_h", 3, i)
      .Int("kernel_w", 3, i)
      .Int("stride_h", 2, i)
      .Int("stride_w", 2, i)
      .Int("pad_top", 0, i)
      .Int("pad_bottom", 1, i)
      .Int("pad_left", 0, i)
      .Int("pad_right", 1, i);
  return writer;
}

}  // namespace testing
}  // namespace bitlite
