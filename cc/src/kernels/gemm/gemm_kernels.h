// The GEMM kernels the convolution driver (Conv2DGemm) runs, as one table: every row is one
// kernel of this build, with its name, family, tile, the CPU features it needs, its entry
// points and the measured crossovers of kernel=auto. Names, the supported lists, the delegate
// option `kernel`, `auto` and the tests all read the table, so adding an ISA is a new kernel
// file, a row in gemm_kernels.cc and a line in CMakeLists.txt.
//
// Three families share the driver and the weight planes:
//   bitserial (DeepliteRT-style): AND + popcount over weight x activation bit planes;
//   int: weights as nibbles widened to bytes in registers, an int8 dot product (VPDPBUSD,
//     UMLAL, UDOT) over one byte per activation code, or on in-order aarch64 cores without a
//     dot product weight bytes and sums in byte lanes (MLA); and W8A8 (8-bit layers),
//     weights as int8 bytes (VPDPBUSD, AVX2's VPMADDWD, SMULL + SADALP, SDOT, scalar);
//   lut (DeepGEMM-style, lutgemm.h): table lookups over the same bit planes; it supports every
//     bit pair and activation grid.
#ifndef BITLITE_SRC_KERNELS_GEMM_GEMM_KERNELS_H_
#define BITLITE_SRC_KERNELS_GEMM_GEMM_KERNELS_H_

#include <vector>

#include "kernels/pack/activation_pack.h"
#include "kernels/gemm/bgemm.h"
#include "kernels/cpu_features.h"
#include "kernels/lut/lutgemm.h"
#include "kernels/epilogue/output_epilogue.h"

namespace bitlite {

enum class GemmFamily { kBitserial, kInt, kLut };

// What the driver runs for one bit pair and activation grid: the GEMM, and the activation
// packing and output stage of the same ISA.
struct GemmFunctions {
  BgemmKernel bgemm;
  ActivationPackFn pack = nullptr;
  EpilogueFn epilogue = nullptr;
  // Applied once to the packed weight planes (PackBitserialWeights with bgemm.lanes) where the
  // GEMM reads another order (the LUT kernels' nibbles, the AMX tiles); null: none.
  WeightRelayoutFn relayout_weights = nullptr;
  // W8A8 activation bytes as int8 (the s8 x s8 kernels), else as uint8: bitserial_planes.h.
  bool signed_activation_bytes = false;
  // Codes between ops (FORMAT.md): packing from int8 codes instead of floats, and the output
  // stage writing another op's codes. Null where the ISA has none yet (then its ops read and
  // write floats, exactly as before): the AVX-512 and aarch64 NEON rows have them.
  ActivationCodePackFn pack_codes = nullptr;
  EpilogueCodesFn epilogue_codes = nullptr;
  // The float output stage with a fused ADD and its side codes in one pass; null where the
  // ISA has none (then the driver runs `epilogue`, the glue's ADD and the quantizer, one
  // after the other): the AVX-512 and aarch64 NEON rows have it.
  EpilogueAddFn epilogue_add = nullptr;
  // Int rows: sub-byte weights one byte per code (WeightPlaneGrid's byte_codes), for a
  // multiply that takes bytes from memory (AMX tiles, aarch64's byte sums), instead of nibbles
  // widened in registers.
  bool byte_weights = false;
  // How many of this GEMM's word operations take the time of one of thread_pool.h's
  // (kMinWorkPerThread), for the threads a layer takes: 1, but 4 for AMX's tiles (3x3 conv
  // 64->64 56x56 W2A2, 1 thread, bitlite_conv_bench: int8/amx 0.013-0.017 ns per byte word,
  // bitserial/avx512vpopcntdq 0.074-0.076 ns per word of its measure; 4 keeps a second
  // thread from about 14 us of one).
  int words_per_work = 1;
};

// The bit widths a row runs (op_options.cc accepts exactly these): sub-byte W1-4 x A1-4,
// W8A8, or both.
enum class BitWidths { kSubByte, kW8A8, kBoth };

// A bit product w * a above every real one: a crossover that is never reached.
constexpr int kNeverBitProduct = 17;

// One row of the table.
struct GemmKernel {
  // "family/isa": "bitserial/avx2", "int8/neondot", "lut/avx512vbmi"; what verbose mode, the
  // benchmarks and the tests print.
  const char* name;
  GemmFamily family;
  // Output pixels x channels of the largest tile (fewer pixels where the bit planes need more
  // registers; armv7 has half of aarch64's registers).
  const char* tile;
  bool (*runs_on)(const CpuFeatures& cpu);
  // Call only for widths the row takes (Takes).
  GemmFunctions (*functions)(int weight_bits, int activation_bits, bool activation_twos);
  // kernel=auto, by the bit product p = weight_bits * activation_bits: an int kernel is
  // taken from this p up; a bitserial kernel gives way to the CPU's LUT kernel from this p up.
  // Measured crossovers, see gemm_kernels.cc; kNeverBitProduct otherwise.
  int auto_min_bit_product = kNeverBitProduct;
  // A LUT kernel is taken for at least this many activation bits (where a narrower one of the
  // family is faster below); 1 otherwise.
  int min_activation_bits = 1;
  BitWidths widths = BitWidths::kSubByte;
  // The codes an int row's tap costs as much as (kernel=auto weighs them against bitserial's
  // 64-code words): its 8-byte words, or for AMX a tile row's 64 (gemm_kernels.cc).
  int tap_chunk_codes = 8;
  // Where kernel=auto and a family's choice take the row, among the CPUs that run it: null,
  // all; else a class of cores it is tuned for (int8/neon-a53: in-order cores; the others
  // fall back to the row before it). The tests run it wherever it runs.
  bool (*chosen_on)(const CpuFeatures& cpu) = nullptr;
  // An int row that takes sub-byte widths: the bit product from which kernel=auto runs layer
  // `p` (one that WinogradFits with kWinogradMinInChannels or more, which this row would pack)
  // as F(2x2, 3x3) on the CPU's W8A8 GEMM (AutoWinogradKernels, winograd_f2x3.h). Measured,
  // see gemm_kernels.cc; null: never.
  int (*winograd_from)(const OpParams& p) = nullptr;

  // Codes as bytes (PlaneGrid::bytes), not bit planes: the int family.
  bool bytes() const { return family == GemmFamily::kInt; }
  bool Takes(int weight_bits, int activation_bits) const {
    const bool w8a8 = weight_bits == 8 && activation_bits == 8;
    return widths == BitWidths::kBoth || (widths == BitWidths::kW8A8) == w8a8;
  }
};

// Every kernel of this build, scalar ones first, then each ISA from the narrowest up.
const std::vector<const GemmKernel*>& GemmKernels();

// The kernels `cpu` runs, in table order.
std::vector<const GemmKernel*> SupportedGemmKernels(const CpuFeatures& cpu);

// The widest kernel of `family` that `cpu` runs for these widths and is chosen on it
// (GemmKernel::chosen_on; the later row of the table wins). Every CPU runs a sub-byte
// bitserial and LUT kernel and a W8A8 int kernel (the scalar ones). Where the family has
// none: sub-byte (a CPU without an int8 dot product), the best bitserial kernel; W8A8
// (bitserial and LUT kernels take at most 4 bits), the best int kernel.
const GemmKernel& BestGemmKernel(const CpuFeatures& cpu, GemmFamily family, int weight_bits,
                                 int activation_bits);

// kernel=auto for a layer whose taps hold `tap_codes` codes (one pixel's input channels of a
// group, or a kernel row's): the best int kernel from its auto_min_bit_product up (W8A8
// always), else the best LUT kernel from the best bitserial kernel's auto_min_bit_product
// up, else that bitserial one. The crossovers were measured on taps of whole words; a
// narrower tap leaves the rest of a bitserial word empty on every plane (WordsPerTap), so
// the int crossover compares p * TapPaddingRatio(tap_codes, the row's tap_chunk_codes).
const GemmKernel& AutoGemmKernel(const CpuFeatures& cpu, int weight_bits, int activation_bits,
                                 int64_t tap_codes);

// AutoGemmKernel for layer `p`: its tap is one pixel's channels (of a group), or a kernel
// row's where Conv2DGemm may fold a narrow layer's width into one tap (never on the binary
// grid).
const GemmKernel& AutoGemmKernelFor(const CpuFeatures& cpu, const OpParams& p);

// The codes a bitserial tap of `tap_codes` codes pads to (whole 64-bit words) over those an
// int row's pads to (whole chunks of `chunk_codes`): 1 for taps of 64, 128, ... codes; 4 for
// 16 on 8-code chunks, 1 on 64-code ones.
double TapPaddingRatio(int64_t tap_codes, int chunk_codes);

// Below this many input channels the transforms' and GEMMs' fixed costs per 2x2 block
// outweigh the multiplies saved (gemm_kernels.cc has the measurements).
constexpr int kWinogradMinInChannels = 64;

// The two rows a layer run as F(2x2, 3x3) takes: the int row of its widths, whose packing,
// terms and output stage it keeps (the transform reads its packed bytes), and the W8A8 row
// its 16 GEMMs run on. Both null: the layer runs direct.
struct WinogradKernels {
  const GemmKernel* layer = nullptr;
  const GemmKernel* gemm = nullptr;
  explicit operator bool() const { return gemm != nullptr; }
};

// kernel=auto's F(2x2, 3x3) for layer `p`: the CPU's int row for p's widths and its W8A8 row
// (BestGemmKernel) where p WinogradFits, has kWinogradMinInChannels or more, and that int
// row takes it for p's bit product (GemmKernel::winograd_from); else none.
WinogradKernels AutoWinogradKernels(const CpuFeatures& cpu, const OpParams& p);

// The row named `name` that `cpu` runs, or null.
const GemmKernel* FindGemmKernel(const CpuFeatures& cpu, const char* name);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_GEMM_GEMM_KERNELS_H_
