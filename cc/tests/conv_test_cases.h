// What the convolution kernel tests share: a random case (options, input shape, float input,
// weight codes), edge-value inputs, the reference output a kernel must equal bit for bit,
// and a description of the case for failure messages.
#ifndef BITLITE_TESTS_CONV_TEST_CASES_H_
#define BITLITE_TESTS_CONV_TEST_CASES_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/activation_io.h"
#include "kernels/conv_geometry.h"
#include "op_options.h"
#include "threading/thread_pool.h"

namespace bitlite {
namespace testing {

struct ConvCase {
  OpParams params;
  std::vector<int> input_shape;
  std::vector<float> x;
  std::vector<int8_t> w_codes;  // [out_c][ReductionSize()], as the reference unpacks them
};

// Quantization edge cases for a grid of step `scale`: exact ties, clipping, zeros of both
// signs, denormals, the binary grid's -FLT_MIN boundary, values past int32, non-finite.
float EdgeValue(std::mt19937& rng, float scale);

// Any activation kind; LEAKY_RELU with a slope from all of [FLT_MIN, 1], its ends included.
Activation RandomActivation(std::mt19937& rng);

// Every activation kind, LEAKY_RELU at the slopes RandomActivation picks from a list (0.1, 1
// and FLT_MIN, whose products are subnormal).
std::vector<Activation> EveryActivation();
// FORMAT.md's activations written out apart from the reference, for the naive convolutions.
float NaiveActivation(float y, const Activation& activation);

// "kind 3 alpha 0.1" for failure messages.
std::string DescribeActivation(const Activation& activation);

// Random per-channel multiplier and offset for c->out_channels, and a random activation.
void SetRandomOutputStage(std::mt19937& rng, OpParams* p);

// Pools of 1, 2 and 3 threads (pools[t - 1] runs t), for kernels checked at every count.
struct TestThreadPools {
  TestThreadPools() {
    for (int i = 0; i < 3; ++i) pools[i].Resize(i + 1);
  }
  ThreadPool pools[3];
};

// Fills c->x with EdgeValues for c->input_shape and c->w_codes with random codes of
// c->params' weight grid (the 1-bit grid has no 0).
void FillRandomData(std::mt19937& rng, ConvCase* c);

// Geometries at the edges of FORMAT.md's ranges, for a conv case whose channels are set:
// dilations and strides up to 2^31 - 1, SAME or VALID padding, inputs of 1 to 3 pixels per
// axis (batch 1 or 2), kernels of 1 to 3 taps per axis. Most windows reach far past the
// input; SAME pads by up to about 2^61. Sets c->params' kernel, stride, dilation, padding
// and c->input_shape; FillRandomData must follow.
void SetExtremeGeometry(std::mt19937& rng, ConvCase* c);

// Makes c (whose channels are set) a convolution of kernel x kernel taps, stride and
// dilation 1, SAME padding, on `input_shape`, with every weight code `weight_code` and every
// input `x`: the extreme-magnitude cases.
void SetUniformCase(int kernel, const std::vector<int>& input_shape, int weight_code, float x,
                    ConvCase* c);

// Makes c a 3x3 SAME layer on a 1 x size x size x channels input with `channels` outputs in
// `groups` groups (channels: depthwise), every weight code 1, output stage y = sum: the
// cases of the tests of how many threads Prepare gives a layer. Fills g; false if the
// geometry fails.
bool SetThreadsCase(int size, int channels, int groups, int weight_bits, int activation_bits,
                    ConvCase* c, ConvGeometry* g);

// A scratch limit every case of the kernel tests fits in: a kernel that materialised the
// padding of a huge dilation would exceed it and fail its test.
constexpr int64_t kSmallScratchLimit = int64_t{64} << 20;

// The reference kernel's output for `c` (of any kind) with geometry `g`.
std::vector<float> RunReference(const ConvCase& c, const ConvGeometry& g);

// "KERNEL W2A3 signed input [...] out_c ... threads N" for failure messages.
std::string DescribeCase(const ConvCase& c, const std::string& kernel, int threads);

// Equal bit patterns (NaN payloads and -0.0 included).
bool BitwiseEqual(const std::vector<float>& a, const std::vector<float>& b);

// The float of these bits: NaNs of chosen payloads.
float FloatOfBits(uint32_t bits);

// Prepares `conv` (Conv2DGemm, Conv2DTransposeGemm) for `g` with 3 threads, sharing the
// layer as a large one would, and runs it on c.x with 1, 2 and 3 threads (pools[t - 1]):
// each output must equal `expected` bit for bit. Returns "" or what failed, with the case.
template <class Conv>
std::string CheckEveryThreadCount(Conv* conv, const ConvCase& c, const ConvGeometry& g,
                                  const std::vector<float>& expected, const std::string& kernel,
                                  ThreadPool* pools) {
  std::string error;
  if (!conv->Prepare(g, 3, kSmallScratchLimit, &error, /*min_work_per_thread=*/1)) {
    return error + ": " + DescribeCase(c, kernel, 3);
  }
  for (int threads = 1; threads <= 3; ++threads) {
    std::vector<float> y(expected.size(), -1.0f);
    conv->Run(c.x.data(), y.data(), &pools[threads - 1]);
    if (!BitwiseEqual(y, expected)) return "mismatch: " + DescribeCase(c, kernel, threads);
  }
  return "";
}

// A grid another op might read this op's output with: 1-4 bits on either grid, or signed 8
// bits (the grids whose codes fit int8), a random step; with its quantizer thresholds.
ActivationPacking RandomCodeGrid(std::mt19937& rng);

// The reference quantizer's codes of `values` on `packing`'s grid.
std::vector<int8_t> ReferenceCodes(const std::vector<float>& values,
                                   const ActivationPacking& packing);

// FORMAT.md "Codes between ops" for one prepared kernel (Conv2DGemm or Conv2DDepthwise) and
// case whose reference output is `expected`: given its own grid's codes instead of c.x it
// computes `expected` again, and asked for the codes of another grid it writes exactly the
// reference quantizer's codes of `expected`. Returns "" or what differs.
template <class Conv>
std::string CheckCodesInAndOut(Conv* conv, const ConvCase& c, const std::vector<float>& expected,
                               std::mt19937* rng, ThreadPool* pool) {
  const ActivationPacking& own = conv->input_packing();
  if (CodesFitInt8(own.grid) && conv->reads_codes()) {
    const std::vector<int8_t> x_codes = ReferenceCodes(c.x, own);
    std::vector<float> y(expected.size(), -1.0f);
    ActivationInput x;
    x.codes = x_codes.data();
    ActivationOutput out;
    out.values = y.data();
    conv->Run(x, out, pool);
    if (!BitwiseEqual(y, expected)) return "codes in: output differs";
  }
  if (!conv->writes_codes()) return "";
  const ActivationPacking next = RandomCodeGrid(*rng);
  std::vector<int8_t> y_codes(expected.size(), 99);
  ActivationInput x;
  x.values = c.x.data();
  ActivationOutput out;
  out.codes = y_codes.data();
  out.grid = &next;
  conv->Run(x, out, pool);
  if (y_codes != ReferenceCodes(expected, next)) return "codes out: codes differ";
  return "";
}

}  // namespace testing
}  // namespace bitlite

#endif  // BITLITE_TESTS_CONV_TEST_CASES_H_
