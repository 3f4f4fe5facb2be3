// NEON bitserial micro-kernels (bgemm_neon_ops.h): every bit width, compiled with GCC's
// default scheduling. Its first pass (before register allocation) interleaves the tile's
// independent AND -> CNT -> ADD chains, which an in-order core (Cortex-A53) needs: under
// bench/arm's cycle model (llvm-mca, Cortex-A55 model) W1A1's inner loop takes 69 cycles per
// word with it and 128 without (-fno-schedule-insns, which this file had for its 2 fewer
// instructions per word). W2A2's word loop is assembly, in bgemm_1x8_w2a2_neon.cc.
#include "kernels/bitserial/bgemm_neon_ops.h"

namespace bitlite {
namespace {

#if defined(__aarch64__)
// The 8-channel tile less W2A2, which bgemm_1x8_w2a2_neon.cc holds.
struct NeonOpsLessW2A2 : NeonOps<4> {
  static constexpr bool Elsewhere(int weight_bits, int activation_bits) {
    return weight_bits == 2 && activation_bits == 2;
  }
};
#endif

}  // namespace

BgemmKernel BgemmNeon(int weight_bits, int activation_bits, bool activation_twos_complement) {
#if defined(__aarch64__)
  if (weight_bits == 2 && activation_bits == 2) return BgemmW2A2Neon(activation_twos_complement);
  // With 3-4 weight planes and 2+ activation planes, the 8-channel tile's accumulators and
  // weight planes overflow the registers even at one pixel: its inner loop took 10-30% more
  // instructions per channel word than the 4-channel tile's (W3A2 ... W4A4); elsewhere the
  // 8-channel tile took fewer.
  if (weight_bits < 3 || activation_bits < 2) {
    return bgemm_tile::Select<NeonOpsLessW2A2>(weight_bits, activation_bits,
                                               activation_twos_complement);
  }
#endif
  return bgemm_tile::Select<NeonOps<2>>(weight_bits, activation_bits, activation_twos_complement);
}

}  // namespace bitlite
