// One worker's buffers for a layer run as F(2x2, 3x3) (Conv2DGemm::WinogradGemm): a chunk's
// transformed input and its products, the largest part of such a layer's scratch (165 KB for
// an 8x8x64 layer on one thread). Layers that never run at the same time, a delegate
// partition's, share one set (OpScratch::winograd): each with its own, ResNet-20's five
// 64-channel layers crowded one another out of a Cortex-A72's L2 (bench/arm's model).
#ifndef BITLITE_SRC_KERNELS_WINOGRAD_WINOGRAD_WORKSPACE_H_
#define BITLITE_SRC_KERNELS_WINOGRAD_WINOGRAD_WORKSPACE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cache_line_vector.h"

namespace bitlite {

struct WinogradWorkspace {
  std::vector<const uint8_t*> corners;  // [block]: each 2x2 block's input corner
  std::vector<int64_t> rows;            // [block][4]: its outputs' core rows
  CacheLineVector<uint64_t> input;      // [point][block][words], transformed
  CacheLineVector<int32_t> products;    // [point][block][block channels]
  std::vector<int32_t> terms;           // [point][block]: the centred points' terms
  // Whose chunk `input` holds: the Run (unique across layers) and the chunk's first pixel;
  // and its blocks.
  uint64_t run = 0;
  int64_t first = -1;
  int64_t blocks = 0;
};

// One per worker. The workspaces stay where they are as the set grows (a layer keeps
// pointers to them from its Prepare); their buffers only grow, at Prepare, each to the most
// that a layer sharing them asked for. A layer's max_scratch_bytes counts its own need; the
// set holds at most the sum of its layers' needs, and no more than the largest where one
// layer's chunks are the largest in every buffer (the usual case: the widest, largest layer).
using WinogradWorkspaces = std::vector<std::unique_ptr<WinogradWorkspace>>;

// Grows `set` to `workers` workspaces whose buffers hold chunks of `blocks` 2x2 blocks,
// `words` 64-bit words of transformed input per block and point, and `channels` products
// per block and point; forgets every workspace's transformed chunk.
void GrowWinogradWorkspaces(int64_t workers, int64_t blocks, int64_t words, int64_t channels,
                            WinogradWorkspaces* set);

// A new id for a layer's Run, unique across layers and threads: a worker's transformed chunk
// in a shared workspace is this layer's of this Run only if WinogradWorkspace::run matches.
uint64_t NextWinogradRunId();

}  // namespace bitlite

#endif
