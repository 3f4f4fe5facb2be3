// Portable W8A8 micro-kernel (every CPU: the int row where no SIMD one runs, e.g. armv7
// without NEON or x86 without AVX2): tiles of 2 pixels x 8 channels over BitserialWeights'
// byte layout (L = 2), int8 weights times uint8 activation bytes (v = q - min code), summed
// in uint32 so that the sums wrap modulo 2^32 like the SIMD lanes and the epilogue (the
// activation offset can take a partial sum past int32 before its correction).
#include <cstring>
#include <limits>

#include "kernels/int8/gemm_tile.h"

namespace bitlite {
namespace {

struct ScalarW8Ops {
  static constexpr int kWeightBits = 8;
  using Vec = uint32_t;  // one channel's sum
  static constexpr int kVecsPerWVec = 2;  // the WVec's 2 channels
  struct WVec {
    int8_t code[16];  // 2 channels x 8 codes
  };
  struct XVec {
    uint8_t code[8];
  };
  static constexpr int kLanes = 2;
  static constexpr int kPairs = 2;
  static constexpr int kPixels = 2;
  static constexpr int64_t kBlockWords = std::numeric_limits<int64_t>::max();
  static Vec Zero() { return 0; }
  static void LoadWeights(const uint8_t* p, WVec* lo, WVec* hi) {
    std::memcpy(lo->code, p, 16);
    std::memcpy(hi->code, p + 16, 16);
  }
  static XVec LoadX(const uint64_t* p) {
    XVec x;
    std::memcpy(x.code, p, 8);
    return x;
  }
  static void Dot(Vec (&acc)[2], const WVec& w, const XVec& x) {
    for (int h = 0; h < 2; ++h) {
      int32_t sum = 0;  // 8 products of at most 128 * 255
      for (int j = 0; j < 8; ++j) sum += w.code[8 * h + j] * x.code[j];
      acc[h] += static_cast<uint32_t>(sum);
    }
  }
  static void Store(const Vec (&acc)[4][2], int32_t* out, bool accumulate) {
    // WVec n holds channels 2n and 2n + 1.
    for (int n = 0; n < 4; ++n) {
      for (int h = 0; h < 2; ++h) {
        const uint32_t before = accumulate ? static_cast<uint32_t>(out[2 * n + h]) : 0;
        out[2 * n + h] = static_cast<int32_t>(before + acc[n][h]);
      }
    }
  }
};

}  // namespace

BgemmKernel BgemmW8A8Scalar() { return bgemm_int8_tile::ColumnsKernel<ScalarW8Ops>(); }

}  // namespace bitlite
