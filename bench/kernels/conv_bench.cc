// Times one bitlite convolution layer on the delegate's kernels, without TFLite around it:
//   bitlite_conv_bench H W C_in C_out KERNEL STRIDE W_BITS A_BITS THREADS RUNS [ISA [GROUPS [IO]]]
// ISA: a GemmKernel name ("bitserial/avx2", "int8/avx512vnni", ...), winograd/ and the name of
// a row that takes W8A8 (F(2x2, 3x3) on its GEMM, the layer on the CPU's int row), or auto
// (default: the delegate's kernel=auto rule, Winograd included); GROUPS: FORMAT.md `groups`
// (default 1). A depthwise layer (GROUPS = C_in) runs on the CPU's depthwise kernel, as in the
// delegate (ISA ignored). IO: floats (default: the layer at a partition's edge, quantizing its
// float input and writing floats) or codes (as between two bitlite layers: it reads codes of
// its own grid and writes codes of that grid, FORMAT.md "Activations between ops"), where the
// kernel row has the functions for them.
// Prints one JSON object with the median and minimum milliseconds of Run (quantize + pack +
// GEMM + output stage).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/depthwise/conv2d_depthwise.h"
#include "kernels/depthwise/dwconv_kernels.h"
#include "kernels/gemm/conv2d_gemm.h"
#include "kernels/gemm/gemm_kernels.h"
#include "kernels/cpu_features.h"
#include "kernels/reference/activation_quantize_reference.h"
#include "op_geometry.h"

int main(int argc, char** argv) {
  using namespace bitlite;
  if (argc < 11) {
    std::fprintf(stderr,
                 "usage: %s H W C_in C_out KERNEL STRIDE W_BITS A_BITS THREADS RUNS"
                 " [ISA [GROUPS [floats|codes]]]\n",
                 argv[0]);
    return 2;
  }
  const int h = std::atoi(argv[1]), w = std::atoi(argv[2]);
  OpParams p;
  p.in_channels = std::atoi(argv[3]);
  p.out_channels = std::atoi(argv[4]);
  p.kernel_h = p.kernel_w = std::atoi(argv[5]);
  p.stride_h = p.stride_w = std::atoi(argv[6]);
  p.weight_bits = std::atoi(argv[7]);
  p.activation_bits = std::atoi(argv[8]);
  const int threads = std::atoi(argv[9]);
  const int runs = std::atoi(argv[10]);
  p.groups = argc > 12 ? std::atoi(argv[12]) : 1;
  const bool codes_io = argc > 13 && std::strcmp(argv[13], "codes") == 0;
  if (argc > 13 && !codes_io && std::strcmp(argv[13], "floats") != 0) {
    std::fprintf(stderr, "IO must be floats or codes\n");
    return 2;
  }
  if (p.groups < 1 || p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0) {
    std::fprintf(stderr, "GROUPS must divide C_in and C_out\n");
    return 2;
  }
  p.padding = Padding::kSame;
  p.activation_signed = p.activation_bits == 1;
  p.input_scale = 0.1f;
  p.activation.kind = ActivationKind::kRelu;
  p.multiplier.assign(static_cast<size_t>(p.out_channels), 0.01f);
  p.offset.assign(static_cast<size_t>(p.out_channels), 0.5f);
  const CpuFeatures& cpu = DetectCpuFeatures();
  const WinogradKernels auto_winograd = AutoWinogradKernels(cpu, p);
  const GemmKernel* kernel = auto_winograd ? auto_winograd.layer : &AutoGemmKernelFor(cpu, p);
  const GemmKernel* winograd = auto_winograd.gemm;
  const char* const kWinograd = "winograd/";
  if (argc > 11 && std::strncmp(argv[11], kWinograd, std::strlen(kWinograd)) == 0) {
    kernel = &BestGemmKernel(cpu, GemmFamily::kInt, p.weight_bits, p.activation_bits);
    winograd = FindGemmKernel(cpu, argv[11] + std::strlen(kWinograd));
    if (winograd == nullptr || !winograd->Takes(8, 8)) {
      std::fprintf(stderr, "no W8A8 kernel %s here\n", argv[11] + std::strlen(kWinograd));
      return 2;
    }
  } else if (argc > 11 && std::strcmp(argv[11], "auto") != 0) {
    winograd = nullptr;
    kernel = FindGemmKernel(cpu, argv[11]);
    if (kernel == nullptr) {
      std::fprintf(stderr, "kernel %s is not available here\n", argv[11]);
      return 2;
    }
  }

  ConvGeometry g;
  std::vector<int> output_shape;
  std::string error;
  if (!ComputeGeometry(p, {1, h, w, p.in_channels}, &g, &output_shape, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 2;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> x(static_cast<size_t>(g.InputSize()));
  for (float& v : x) v = normal(rng);
  const CodeRange range = WeightCodeRange(p.weight_bits);
  std::uniform_int_distribution<int> code(range.min, range.max);
  std::vector<int8_t> w_codes(static_cast<size_t>(p.out_channels * p.ReductionSize()));
  for (int8_t& c : w_codes) c = static_cast<int8_t>(p.weight_bits == 1 ? (code(rng) < 0 ? -1 : 1) : code(rng));

  // Times conv's Run on `threads` threads and prints the result under `name`.
  auto time_runs = [&](auto& conv, const char* name) {
    // Codes: the input's codes of the layer's grid (quantized from x), the output as codes of
    // that grid too.
    const ActivationPacking& grid = conv.input_packing();
    if (codes_io && !(conv.reads_codes() && conv.writes_codes())) {
      std::fprintf(stderr, "%s does not read and write codes\n", name);
      return 2;
    }
    if (codes_io) conv.WillWriteCodes(&grid);
    if (!conv.Prepare(g, threads, kMaxSize, &error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    std::vector<int8_t> x_codes(codes_io ? x.size() : 0);
    for (size_t i = 0; i < x_codes.size(); ++i) {
      x_codes[i] = static_cast<int8_t>(ActivationCode(x[i], grid.grid));
    }
    ThreadPool pool;
    pool.Resize(threads);
    std::vector<float> y(static_cast<size_t>(g.OutputSize()));
    std::vector<int8_t> y_codes(codes_io ? y.size() : 0);
    const ActivationInput in = codes_io ? ActivationInput{nullptr, x_codes.data()}
                                        : ActivationInput{x.data(), nullptr};
    ActivationOutput out;
    if (codes_io) {
      out.codes = y_codes.data();
      out.grid = &grid;
    } else {
      out.values = y.data();
    }
    for (int i = 0; i < 3; ++i) conv.Run(in, out, &pool);  // warm up caches, workers
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      const auto start = std::chrono::steady_clock::now();
      conv.Run(in, out, &pool);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    std::sort(ms.begin(), ms.end());
    // threads_used: what the layer takes of `threads` (ThreadsForWork, at Prepare).
    std::printf("{\"isa\": \"%s\", \"threads\": %d, \"threads_used\": %d, \"median_ms\": %.4f, "
                "\"min_ms\": %.4f}\n",
                name, threads, conv.threads(), ms[ms.size() / 2], ms.front());
    return 0;
  };
  if (IsDepthwise(p)) {
    const DwconvKernel& dwconv = BestDwconvKernel(DetectCpuFeatures());
    Conv2DDepthwise conv(p, w_codes.data(), dwconv);
    return time_runs(conv, dwconv.name);
  }
  Conv2DGemm conv(p, w_codes.data(), *kernel, winograd);
  const std::string name =
      conv.runs_winograd() ? kWinograd + std::string(winograd->name) : kernel->name;
  return time_runs(conv, name.c_str());
}
