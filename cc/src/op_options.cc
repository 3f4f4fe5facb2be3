#include "op_options.h"

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "flexbuffer_reader.h"

namespace bitlite {
namespace {

enum KeyId {
  kVersion,
  kWeightBits,
  kActivationBits,
  kActivationSigned,
  kInputScale,
  kInChannels,
  kOutChannels,
  kActivationKey,
  kMultiplier,
  kOffset,
  kKernelH,
  kKernelW,
  kStrideH,
  kStrideW,
  kDilationH,
  kDilationW,
  kPaddingKey,
  kGroups,
  kPadTop,
  kPadBottom,
  kPadLeft,
  kPadRight,
  kAlpha,  // optional: present exactly when activation is LEAKY_RELU
  kKeyCount,
};

constexpr const char* kKeyNames[kKeyCount] = {
    "version",     "weight_bits",  "activation_bits", "activation_signed", "input_scale",
    "in_channels", "out_channels", "activation",      "multiplier",        "offset",
    "kernel_h",    "kernel_w",     "stride_h",        "stride_w",          "dilation_h",
    "dilation_w",  "padding",      "groups",          "pad_top",           "pad_bottom",
    "pad_left",    "pad_right",    "alpha",
};

// Which keys an op of `kind` has: the common ones up to kOffset and the optional alpha, then
// its geometry.
bool KindHasKey(OpKind kind, int id) {
  if (id <= kOffset || id == kAlpha) return true;
  switch (kind) {
    case OpKind::kFullyConnected:
      return false;
    case OpKind::kConv2D:
      return id <= kGroups;
    case OpKind::kConv2DTranspose:
      return (id >= kKernelH && id <= kStrideW) || id >= kPadTop;
  }
  return false;
}

// Keys and strings come from an untrusted file: keep messages short and printable.
std::string Printable(std::string_view text) {
  constexpr size_t kMaxLength = 64;
  std::string out;
  for (char c : text.substr(0, kMaxLength)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kMaxLength) out += "...";
  return out;
}

// The entries of one options map, indexed by key, after rejecting unknown and repeated keys.
class OptionEntries {
 public:
  OptionEntries(OpKind kind, std::string* error) : kind_(kind), error_(error) {}

  bool Collect(const uint8_t* data, size_t size) {
    flexbuffer::Map map;
    if (const char* problem = map.OpenRoot(data, size)) {
      return Fail(std::string("custom options are not a valid FlexBuffer map (") + problem + ")");
    }
    std::optional<std::string> unknown_key;
    for (size_t i = 0; i < map.size(); ++i) {
      std::string_view key;
      flexbuffer::Value value;
      if (!map.Entry(i, &key, &value)) {
        return Fail("custom options are not a valid FlexBuffer map (entry out of bounds)");
      }
      const int id = Find(key);
      if (id < 0) {
        if (!unknown_key) unknown_key = Printable(key);
        continue;
      }
      if (present_[id]) return Fail("key '" + Printable(key) + "' appears twice");
      present_[id] = true;
      values_[id] = value;
    }
    // A newer format announces itself through `version`; say so before naming its new keys.
    if (!present_[kVersion]) return Fail("missing key 'version'");
    int64_t version = 0;
    if (!ReadInt(kVersion, INT64_MIN, INT64_MAX, &version)) return false;
    if (version != kFormatVersion) {
      return Fail("this model needs bitlite format version " + std::to_string(version) +
                  ", this delegate reads version " + std::to_string(kFormatVersion));
    }
    if (unknown_key) {
      return Fail("unknown key '" + *unknown_key + "' (written by a newer converter?)");
    }
    for (int id = 0; id < kKeyCount; ++id) {
      if (KindHasKey(kind_, id) && id != kAlpha && !present_[id]) {
        return Fail(std::string("missing key '") + kKeyNames[id] + "'");
      }
    }
    return true;
  }

  bool ReadInt(KeyId id, int64_t min, int64_t max, int64_t* out) {
    if (!CheckType(id, values_[id].IsInt(), "an int")) return false;
    if (!values_[id].ReadInt(out)) return Malformed(id);
    if (*out < min || *out > max) {
      return Fail(std::string(kKeyNames[id]) + " = " + std::to_string(*out) + " is out of range [" +
                  std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return true;
  }

  bool ReadInt(KeyId id, int min, int max, int* out) {
    int64_t value = 0;
    if (!ReadInt(id, int64_t{min}, int64_t{max}, &value)) return false;
    *out = static_cast<int>(value);
    return true;
  }

  bool Has(KeyId id) const { return present_[id]; }

  bool ReadBool(KeyId id, bool* out) {
    if (!CheckType(id, values_[id].IsBool(), "a bool")) return false;
    return values_[id].ReadBool(out) || Malformed(id);
  }

  // Reads a normal float32 in [FLT_MIN, max], checked as the float32 it becomes (a double of
  // 1e-50 would become 0); `range` says so in the error. A denormal would be flushed to 0 on
  // CPUs running with flush-to-zero.
  bool ReadNormalFloat(KeyId id, double max, const char* range, float* out) {
    double value = 0.0;
    if (!CheckType(id, values_[id].IsFloat(), "a float")) return false;
    if (!values_[id].ReadDouble(&value)) return Malformed(id);
    // Converting a double outside float's range is undefined, so range-check it as a double.
    if (!(std::fabs(value) <= max) || static_cast<float>(value) < FLT_MIN) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.9g", value);
      return Fail(std::string(kKeyNames[id]) + " = " + text + " is out of range (" + range + ")");
    }
    *out = static_cast<float>(value);
    return true;
  }

  // Reads a string that must be one of `choices`; *out gets the matching meaning.
  template <typename Enum, size_t N>
  bool ReadChoice(KeyId id, const char* const (&choices)[N], const Enum (&meanings)[N], Enum* out) {
    flexbuffer::Bytes bytes;
    if (!CheckType(id, values_[id].IsString(), "a string")) return false;
    if (!values_[id].ReadBytes(&bytes)) return Malformed(id);
    const std::string_view text(reinterpret_cast<const char*>(bytes.data), bytes.size);
    std::string allowed;
    for (size_t i = 0; i < N; ++i) {
      if (text == choices[i]) {
        *out = meanings[i];
        return true;
      }
      allowed += std::string(i == 0 ? "" : ", ") + "\"" + choices[i] + "\"";
    }
    return Fail(std::string(kKeyNames[id]) + " = \"" + Printable(text) +
                "\" is out of range (expected one of " + allowed + ")");
  }

  // Reads a blob of `count` little-endian float32 values.
  bool ReadFloats(KeyId id, int count, std::vector<float>* out) {
    flexbuffer::Bytes bytes;
    if (!CheckType(id, values_[id].IsBlob(), "a blob")) return false;
    if (!values_[id].ReadBytes(&bytes)) return Malformed(id);
    const size_t expected = static_cast<size_t>(count) * 4;
    if (bytes.size != expected) {
      return Fail(std::string(kKeyNames[id]) + " must hold out_channels = " +
                  std::to_string(count) + " float32 values (" + std::to_string(expected) +
                  " bytes), got " + std::to_string(bytes.size) + " bytes");
    }
    out->resize(count);
    for (int i = 0; i < count; ++i) {
      const uint8_t* p = bytes.data + 4 * i;
      const uint32_t bits = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                            static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
      std::memcpy(&(*out)[i], &bits, sizeof(float));
    }
    return true;
  }

 private:
  bool Fail(const std::string& message) {
    *error_ = message;
    return false;
  }

  int Find(std::string_view key) const {
    for (int id = 0; id < kKeyCount; ++id) {
      if (KindHasKey(kind_, id) && key == kKeyNames[id]) return id;
    }
    return -1;
  }

  bool CheckType(KeyId id, bool matches, const char* expected) {
    if (matches) return true;
    return Fail(std::string("key '") + kKeyNames[id] + "' must be " + expected + ", got " +
                flexbuffer::KindName(values_[id].type()));
  }

  bool Malformed(KeyId id) {
    return Fail(std::string("value of key '") + kKeyNames[id] + "' is malformed");
  }

  OpKind kind_;
  std::string* error_;
  bool present_[kKeyCount] = {};
  flexbuffer::Value values_[kKeyCount];
};

constexpr const char* kPaddingNames[] = {"SAME", "VALID"};
constexpr Padding kPaddings[] = {Padding::kSame, Padding::kValid};
constexpr const char* kActivationNames[] = {"NONE", "RELU", "RELU6", "LEAKY_RELU"};
constexpr ActivationKind kActivations[] = {ActivationKind::kNone, ActivationKind::kRelu,
                                           ActivationKind::kRelu6, ActivationKind::kLeakyRelu};

// The activation and, for LEAKY_RELU only, its `alpha`.
bool ReadActivation(OptionEntries& entries, Activation* activation, std::string* error) {
  if (!entries.ReadChoice(kActivationKey, kActivationNames, kActivations, &activation->kind)) {
    return false;
  }
  const bool leaky = activation->kind == ActivationKind::kLeakyRelu;
  if (leaky != entries.Has(kAlpha)) {
    *error = leaky ? "activation \"LEAKY_RELU\" needs key 'alpha'"
                   : "key 'alpha' is only read with activation \"LEAKY_RELU\"";
    return false;
  }
  // LEAKY_RELU's slope: for one in [FLT_MIN, 1], y > 0 ? y : y * alpha is TF's and TFLite's
  // kernels alike and monotone (code_thresholds.h), and never 0 * infinity.
  return !leaky || entries.ReadNormalFloat(kAlpha, 1.0, "a normal float in [FLT_MIN, 1]",
                                           &activation->alpha);
}

// The widths the kernels implement: sub-byte W1-4 x A1-4, and W8A8 (8-bit layers as int8
// codes); 5-7 bits and 8 bits on one side only have no kernel.
bool CheckBitWidths(const OpParams& p, std::string* error) {
  const bool sub_byte = p.weight_bits <= 4 && p.activation_bits <= 4;
  const bool w8a8 = p.weight_bits == 8 && p.activation_bits == 8;
  if (sub_byte || w8a8) return true;
  *error = "weight_bits = " + std::to_string(p.weight_bits) + " with activation_bits = " +
           std::to_string(p.activation_bits) +
           " is not supported: weight_bits and activation_bits take 1..4 each, or are both 8 "
           "(W8A8)";
  return false;
}

// FORMAT.md promises an exact int32 accumulator: K * max|qw| * max|qx| <= INT32_MAX.
bool CheckAccumulatorBound(const OpParams& p, std::string* error) {
  const int64_t max_k = INT32_MAX / p.MaxCodeProduct();
  // Each factor is <= INT_MAX, so checking step by step never overflows int64.
  if (p.kernel_h <= max_k && int64_t{p.kernel_h} * p.kernel_w <= max_k &&
      p.ReductionSize() <= max_k) {
    return true;
  }
  *error = "kernel_h * kernel_w * in_channels / groups = " + std::to_string(p.kernel_h) + " * " +
           std::to_string(p.kernel_w) + " * " + std::to_string(p.in_channels) + " / " +
           std::to_string(p.groups) + " is too large for W" + std::to_string(p.weight_bits) + "A" +
           std::to_string(p.activation_bits) + ": the int32 accumulator could overflow (at most " +
           std::to_string(max_k) + ")";
  return false;
}

}  // namespace

const char* OpName(OpKind kind) {
  switch (kind) {
    case OpKind::kConv2D:
      return "BitliteConv2D";
    case OpKind::kFullyConnected:
      return "BitliteFullyConnected";
    case OpKind::kConv2DTranspose:
      return "BitliteConv2DTranspose";
  }
  return "?";
}

bool ParseOpOptions(OpKind kind, const uint8_t* data, size_t size, OpParams* params,
                    std::string* error) {
  OptionEntries entries(kind, error);
  if (!entries.Collect(data, size)) return false;
  OpParams p;
  p.kind = kind;
  if (!entries.ReadInt(kWeightBits, 1, 8, &p.weight_bits) ||
      !entries.ReadInt(kActivationBits, 1, 8, &p.activation_bits) ||
      !CheckBitWidths(p, error) || !entries.ReadBool(kActivationSigned, &p.activation_signed) ||
      !entries.ReadNormalFloat(kInputScale, FLT_MAX,
                               "must be finite and >= FLT_MIN, a normal float", &p.input_scale) ||
      !entries.ReadInt(kInChannels, 1, INT_MAX, &p.in_channels) ||
      !entries.ReadInt(kOutChannels, 1, INT_MAX, &p.out_channels) ||
      !ReadActivation(entries, &p.activation, error) ||
      !entries.ReadFloats(kMultiplier, p.out_channels, &p.multiplier) ||
      !entries.ReadFloats(kOffset, p.out_channels, &p.offset)) {
    return false;
  }
  if (kind != OpKind::kFullyConnected &&
      (!entries.ReadInt(kKernelH, 1, INT_MAX, &p.kernel_h) ||
       !entries.ReadInt(kKernelW, 1, INT_MAX, &p.kernel_w) ||
       !entries.ReadInt(kStrideH, 1, INT_MAX, &p.stride_h) ||
       !entries.ReadInt(kStrideW, 1, INT_MAX, &p.stride_w))) {
    return false;
  }
  if (kind == OpKind::kConv2D &&
      (!entries.ReadInt(kDilationH, 1, INT_MAX, &p.dilation_h) ||
       !entries.ReadInt(kDilationW, 1, INT_MAX, &p.dilation_w) ||
       !entries.ReadChoice(kPaddingKey, kPaddingNames, kPaddings, &p.padding) ||
       !entries.ReadInt(kGroups, 1, INT_MAX, &p.groups))) {
    return false;
  }
  // A row of output pixels past the last tap's reach is one the convolution being transposed
  // never reads: at most stride - 1 of them (pad_bottom >= 1 - stride_h).
  if (kind == OpKind::kConv2DTranspose &&
      (!entries.ReadInt(kPadTop, 0, INT_MAX, &p.pad_top) ||
       !entries.ReadInt(kPadBottom, 1 - p.stride_h, INT_MAX, &p.pad_bottom) ||
       !entries.ReadInt(kPadLeft, 0, INT_MAX, &p.pad_left) ||
       !entries.ReadInt(kPadRight, 1 - p.stride_w, INT_MAX, &p.pad_right))) {
    return false;
  }
  if (p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0) {
    *error = "groups = " + std::to_string(p.groups) + " must divide in_channels = " +
             std::to_string(p.in_channels) + " and out_channels = " +
             std::to_string(p.out_channels);
    return false;
  }
  if (!CheckAccumulatorBound(p, error)) return false;
  *params = std::move(p);
  return true;
}

}  // namespace bitlite
