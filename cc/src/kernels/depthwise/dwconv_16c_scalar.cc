// Portable depthwise micro-kernels: 16 channels per tile in plain int32 arithmetic (no vector
// width to save, so the sums need no int16 stage; chunking keeps the loop shared). The W8A8
// one differs only in its weights: one int8 byte per code.
#include "kernels/depthwise/dwconv_row.h"

namespace bitlite {
namespace {

struct ScalarOps {
  static constexpr int kLanes = 16;
  static constexpr int kTapBytes = kLanes / 2;
  struct Weights {
    int32_t lane[kLanes];
  };
  static constexpr int kPixels = 1;
  struct Acc {
    int32_t lane[kLanes];
  };
  // (n ^ 8) - 8 sign-extends a 4-bit two's complement code n.
  static Weights DecodeWeights(const uint8_t* packed) {
    Weights w;
    for (int j = 0; j < kLanes / 2; ++j) {
      w.lane[j] = ((packed[j] & 0xf) ^ 8) - 8;
      w.lane[j + kLanes / 2] = ((packed[j] >> 4) ^ 8) - 8;
    }
    return w;
  }
  static Acc Zero() { return Acc{}; }
  static Acc MultiplyAdd(Acc acc, const int8_t* x, const Weights& w) {
    for (int j = 0; j < kLanes; ++j) acc.lane[j] += x[j] * w.lane[j];
    return acc;
  }
  static void Store(const Acc& acc, int32_t* out, bool add) {
    for (int j = 0; j < kLanes; ++j) out[j] = (add ? out[j] : 0) + acc.lane[j];
  }
};

struct ScalarW8A8Ops : ScalarOps {
  static constexpr int kTapBytes = kLanes;
  static Weights DecodeWeights(const uint8_t* packed) {
    Weights w;
    for (int j = 0; j < kLanes; ++j) w.lane[j] = static_cast<int8_t>(packed[j]);
    return w;
  }
};

}  // namespace

void DwconvRow16cScalar(const DwconvRowParams& params) { dwconv_row::Run<ScalarOps>(params); }

void DwconvRow16cW8A8Scalar(const DwconvRowParams& params) {
  dwconv_row::Run<ScalarW8A8Ops>(params);
}

}  // namespace bitlite
