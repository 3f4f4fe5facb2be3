#include "delegate_options.h"

#include <charconv>
#include <cstring>
#include <string_view>

#include "error_message.h"

namespace bitlite {
namespace {

bool ParseNumThreads(const char* text, int* out) {
  const char* end = text + std::strlen(text);
  int value = 0;
  const auto result = std::from_chars(text, end, value);
  if (result.ec != std::errc() || result.ptr != end || (value < 1 && value != -1)) return false;
  *out = value;
  return true;
}

bool ParseByteCount(const char* text, int64_t* out) {
  const char* end = text + std::strlen(text);
  int64_t value = 0;
  const auto result = std::from_chars(text, end, value);
  if (result.ec != std::errc() || result.ptr != end || value < 1) return false;
  *out = value;
  return true;
}

bool ParseBool(std::string_view text, bool* out) {
  if (text == "true" || text == "1") {
    *out = true;
    return true;
  }
  if (text == "false" || text == "0") {
    *out = false;
    return true;
  }
  return false;
}

bool ParseKernel(std::string_view text, KernelChoice* out) {
  if (text == "auto") {
    *out = KernelChoice::kAuto;
  } else if (text == "bitserial") {
    *out = KernelChoice::kBitserial;
  } else if (text == "int") {
    *out = KernelChoice::kInt;
  } else if (text == "lut") {
    *out = KernelChoice::kLut;
  } else if (text == "reference") {
    *out = KernelChoice::kReference;
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool ParseDelegateOptions(const char* const* keys, const char* const* values, size_t count,
                          DelegateOptions* options, std::string* error) {
  for (size_t i = 0; i < count; ++i) {
    if (keys == nullptr || values == nullptr || keys[i] == nullptr || values[i] == nullptr) {
      return Fail("option " + std::to_string(i) + " has no key or value", error);
    }
    const std::string key = keys[i];
    const std::string value = values[i];
    if (key == "num_threads") {
      if (!ParseNumThreads(values[i], &options->num_threads)) {
        return Fail(
            "num_threads must be an integer >= 1, or -1 for the interpreter's, got '" + value + "'",
            error);
      }
    } else if (key == "verbose") {
      if (!ParseBool(values[i], &options->verbose)) {
        return Fail("verbose must be true, false, 1 or 0, got '" + value + "'", error);
      }
    } else if (key == "claim_builtins") {
      if (!ParseBool(values[i], &options->claim_builtins)) {
        return Fail("claim_builtins must be true, false, 1 or 0, got '" + value + "'", error);
      }
    } else if (key == "codes_between_ops") {
      if (!ParseBool(values[i], &options->codes_between_ops)) {
        return Fail("codes_between_ops must be true, false, 1 or 0, got '" + value + "'", error);
      }
    } else if (key == "fuse_ops") {
      if (!ParseBool(values[i], &options->fuse_ops)) {
        return Fail("fuse_ops must be true, false, 1 or 0, got '" + value + "'", error);
      }
    } else if (key == "winograd") {
      if (!ParseBool(values[i], &options->winograd)) {
        return Fail("winograd must be true, false, 1 or 0, got '" + value + "'", error);
      }
    } else if (key == "kernel") {
      if (!ParseKernel(value, &options->kernel)) {
        return Fail("kernel must be auto, bitserial, int, lut or reference, got '" + value + "'",
                    error);
      }
    } else if (key == "max_scratch_bytes") {
      if (!ParseByteCount(values[i], &options->max_scratch_bytes)) {
        return Fail("max_scratch_bytes must be an integer >= 1, got '" + value + "'", error);
      }
    } else if (key == "profile") {
      options->profile_path = value;
    } else {
      return Fail("unknown option '" + key +
                      "' (known: claim_builtins, codes_between_ops, fuse_ops, kernel, "
                      "max_scratch_bytes, num_threads, profile, verbose, winograd)",
                  error);
    }
  }
  return true;
}

}  // namespace bitlite
