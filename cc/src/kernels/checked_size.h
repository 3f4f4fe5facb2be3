// Sizes derived from model data (shapes, kernel sizes, strides, dilations, padding): every
// product and sum of them is computed here, in 64-bit arithmetic that fails instead of
// wrapping. A hostile model can set each option anywhere in its documented range, so a
// buffer size such as padded_h * padded_w * channels is only trusted once it came out of
// this type without overflowing kMaxSize.
#ifndef BITLITE_SRC_KERNELS_CHECKED_SIZE_H_
#define BITLITE_SRC_KERNELS_CHECKED_SIZE_H_

#include <cstddef>
#include <cstdint>

namespace bitlite {

// The largest element count or byte size any computation may reach: byte sizes of 8-byte
// elements still fit ptrdiff_t (also on 32-bit targets, where PTRDIFF_MAX is 2^31 - 1).
constexpr int64_t kMaxSize = static_cast<int64_t>(PTRDIFF_MAX / 8);

// A non-negative size, or "overflowed" once any step of its computation left [0, kMaxSize].
// Overflow is sticky, so a whole expression is checked once, at the end.
class CheckedSize {
 public:
  constexpr CheckedSize(int64_t value = 0)  // NOLINT: sizes convert implicitly
      : value_(value), ok_(value >= 0 && value <= kMaxSize) {}

  bool ok() const { return ok_; }
  // Only meaningful when ok().
  int64_t value() const { return value_; }

  friend CheckedSize operator*(CheckedSize a, CheckedSize b) {
    // A factor of exactly 0 makes 0, however large the other (a stride of 2^31 - 1 times no
    // further output is no size at all, also where kMaxSize is 2^28: 32-bit targets).
    if ((a.ok_ && a.value_ == 0) || (b.ok_ && b.value_ == 0)) return CheckedSize(0);
    int64_t product = 0;
    if (!a.ok_ || !b.ok_ || __builtin_mul_overflow(a.value_, b.value_, &product)) {
      return Overflowed();
    }
    return CheckedSize(product);
  }
  friend CheckedSize operator+(CheckedSize a, CheckedSize b) {
    int64_t sum = 0;
    if (!a.ok_ || !b.ok_ || __builtin_add_overflow(a.value_, b.value_, &sum)) {
      return Overflowed();
    }
    return CheckedSize(sum);
  }
  friend CheckedSize Max(CheckedSize a, CheckedSize b) {
    if (!a.ok_ || !b.ok_) return Overflowed();
    return a.value_ > b.value_ ? a : b;
  }
  CheckedSize& operator*=(CheckedSize other) { return *this = *this * other; }
  CheckedSize& operator+=(CheckedSize other) { return *this = *this + other; }

 private:
  static CheckedSize Overflowed() {
    CheckedSize size;
    size.ok_ = false;
    return size;
  }

  int64_t value_ = 0;
  bool ok_ = true;
};

// The scratch a kernel asks for at Prepare, added up buffer by buffer before anything is
// allocated, so that a limit (BitliteOp: max_scratch_bytes) can refuse it whole.
class ScratchBudget {
 public:
  // Adds `count` elements of `element_bytes` each.
  void Add(CheckedSize count, int64_t element_bytes) { bytes_ += count * element_bytes; }
  // Whether the total is known (no overflow) and at most `limit` bytes.
  bool Within(int64_t limit) const { return bytes_.ok() && bytes_.value() <= limit; }
  CheckedSize bytes() const { return bytes_; }

 private:
  CheckedSize bytes_;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_CHECKED_SIZE_H_
