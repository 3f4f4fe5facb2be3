// W2A2 on aarch64: NeonOps<4>'s tile of 1 pixel x 8 channels (its 12 byte accumulators and 8
// weight registers leave no room for a second pixel), compiled with -fno-schedule-insns
// (cc/CMakeLists.txt). GCC's first scheduling pass puts the word's 4 weight loads and the
// activations' LD2R ahead of every AND, so the ANDs wait for the loads; without it the loads
// stay among the ANDs: 75 instead of 81 cycles per word under bench/arm's cycle model
// (llvm-mca, Cortex-A55 model), 58 instructions either way. Every other width runs faster
// with that pass (bgemm_neon.cc).
#include "kernels/bitserial/bgemm_neon_ops.h"

namespace bitlite {

BgemmKernel BgemmW2A2Neon(bool activation_twos_complement) {
  using Ops = NeonOps<4>;
  BgemmKernel kernel;
  kernel.lanes = Ops::kLanes;
  kernel.indirect = activation_twos_complement ? &bgemm_tile::BgemmIndirect<Ops, 2, 2, true>
                                               : &bgemm_tile::BgemmIndirect<Ops, 2, 2, false>;
  return kernel;
}

}  // namespace bitlite
