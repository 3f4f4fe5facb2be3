// Options of tflite_plugin_create_delegate (strings, as load_delegate passes them) and the
// object a bitlite TfLiteDelegate carries.
#ifndef BITLITE_SRC_DELEGATE_OPTIONS_H_
#define BITLITE_SRC_DELEGATE_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "bitlite/tflite_c_abi.h"

namespace bitlite {

// Which kernel runs the ops (delegate option `kernel`; BitliteOp's constructor applies it).
// The rows it chooses among are the GEMM kernel table's (kernels/gemm/gemm_kernels.h):
// kAuto: AutoGemmKernelFor, per layer by the crossovers measured for its bit widths and the
// padding of its narrow taps (an int kernel for wide codes or narrow taps where the CPU has
// one, else the widest bitserial or LUT row).
// kBitserial, kInt, kLut: BestGemmKernel of that family, the widest row the CPU runs (kInt
// takes the best bitserial row where the CPU runs no int kernel; the LUT rows support every
// bit pair and activation grid, so kLut never falls back for bit widths).
// kReference: the scalar reference kernel (the specification, for comparisons). Grouped
// convolutions run on the same kernels as ordinary ones, depthwise convolutions (groups ==
// in_channels) on the depthwise table's rows (kernels/depthwise/dwconv_kernels.h), for every
// choice but kReference.
enum class KernelChoice { kAuto, kBitserial, kInt, kLut, kReference };

struct DelegateOptions {
  // Threads for the kernels; -1 takes the interpreter's recommended_num_threads (1 where
  // that is not positive). The reference kernel runs on one.
  int num_threads = -1;
  KernelChoice kernel = KernelChoice::kAuto;
  // Under kernel=auto, 3x3 layers of stride 1 run as Winograd F(2x2, 3x3) where the CPU's
  // rule takes it (AutoWinogradKernels, kernels/winograd/winograd_f2x3.h); false: never.
  bool winograd = true;
  // Print to stderr which nodes the delegate takes over, with shapes and bit widths.
  bool verbose = false;
  // Also take over the float builtins between bitlite ops (glue/glue_ops.h), so that a
  // network becomes one delegate partition; false: only the bitlite ops.
  bool claim_builtins = true;
  // A tensor that one bitlite op writes and only bitlite ops of one input grid read, inside
  // a partition, is kept as their int8 codes instead of floats (FORMAT.md "Codes between
  // ops"); false: floats everywhere, for comparisons.
  bool codes_between_ops = true;
  // A MAX_POOL_2D that alone reads a BitliteConv2D's output runs inside that op (FORMAT.md
  // "Fused ops"); false: every node runs on its own, for comparisons.
  bool fuse_ops = true;
  // The most scratch memory one node's kernel may take, in bytes; Prepare refuses a node that
  // needs more. 0: a bound derived from the node's own tensor sizes (BitliteOp::ScratchLimit).
  int64_t max_scratch_bytes = 0;
  // Where each run's per-node times are appended when the interpreter is destroyed
  // (node_profile.h); empty: not timed.
  std::string profile_path;
};

// Returns false with a message in *error for an unknown key or a bad value.
bool ParseDelegateOptions(const char* const* keys, const char* const* values, size_t count,
                          DelegateOptions* options, std::string* error);

// What a bitlite TfLiteDelegate is: `delegate.data_` points to the whole object.
struct BitliteDelegate {
  TfLiteDelegate delegate;
  DelegateOptions options;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_DELEGATE_OPTIONS_H_
