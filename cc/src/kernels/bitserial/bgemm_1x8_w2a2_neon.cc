// W2A2 on aarch64: NeonOps<4>'s tile of 1 pixel x 8 channels (its 12 byte accumulators and 8 weight
// registers leave no room for a second pixel) with its word loop in assembly, software-pipelined
// for in-order cores (Cortex-A53/A55) as XNNPACK's A53 kernels are: each pair of weight registers
// takes the next word's weights after this word's last AND has read it (the 4 LDPs spread over the
// word), v30/v31 the next word's activation planes right after their last AND, and the counts of
// one group of 4 ANDs run between the next group's ANDs. In the generic loop (bgemm_tile.h) GCC
// puts the loads together at the top of the loop, or with its first scheduling pass off at the
// bottom with 4 moves, and the in-order core waits on them. Under bench/arm's cycle model
// (llvm-mca; the A53 priced with the Cortex-A55 model) a word takes 63 cycles instead of 75 (LLVM's
// Cortex-A53 model: 67 instead of 88; Cortex-A72: 25 either way), 58 instructions either way.
#include "kernels/bitserial/bgemm_neon_ops.h"

namespace bitlite {
namespace {

// One word: v16-v23 hold its weights (plane i of channels 2m, 2m + 1 in v(16 + 4i + m)), v30 and
// v31 its two activation planes, broadcast. Adds its popcounts into the sums s<s><m> (significance
// s, channels 2m, 2m + 1). NEXT keeps or drops the instructions that load the next word among them:
// weights from [w] (w then steps a word), planes from row + *offsets++ (64-bit words; the byte
// offset is 8 times that). OP01 and OP11 add or subtract the pairs of activation plane 1 (with
// weight plane 0 and 1) as the grid's signs say; the other pairs of weight plane 1 subtract (two's
// complement weights), weight plane 0 with activation plane 0 adds.
#define BITLITE_W2A2_NEXT(instruction) instruction
#define BITLITE_W2A2_LAST(instruction) ""
#define BITLITE_W2A2_WORD(OP01, OP11, NEXT)                                                     \
  NEXT("ldr %[offset], [%[offsets]], #8\n")                                                     \
  "and v0.16b, v16.16b, v30.16b\n"                                                              \
  "and v1.16b, v17.16b, v30.16b\n"                                                              \
  "and v2.16b, v16.16b, v31.16b\n"                                                              \
  "and v3.16b, v17.16b, v31.16b\n"                                                              \
  "cnt v0.16b, v0.16b\n"                                                                        \
  "and v4.16b, v18.16b, v30.16b\n"                                                              \
  "cnt v1.16b, v1.16b\n"                                                                        \
  "and v5.16b, v19.16b, v30.16b\n"                                                              \
  "cnt v2.16b, v2.16b\n"                                                                        \
  "and v6.16b, v18.16b, v31.16b\n"                                                              \
  "cnt v3.16b, v3.16b\n"                                                                        \
  "and v7.16b, v19.16b, v31.16b\n"                                                              \
  "add %[s00].16b, %[s00].16b, v0.16b\n"                                                        \
  "add %[s01].16b, %[s01].16b, v1.16b\n"                                                        \
  OP01 " %[s10].16b, %[s10].16b, v2.16b\n"                                                      \
  OP01 " %[s11].16b, %[s11].16b, v3.16b\n"                                                      \
  NEXT("ldp q16, q17, [%[w]]\n")                                                                \
  NEXT("add %[x_next], %[row], %[offset], lsl #3\n")                                            \
  "cnt v4.16b, v4.16b\n"                                                                        \
  "and v0.16b, v20.16b, v30.16b\n"                                                              \
  "cnt v5.16b, v5.16b\n"                                                                        \
  "and v1.16b, v21.16b, v30.16b\n"                                                              \
  "cnt v6.16b, v6.16b\n"                                                                        \
  "and v2.16b, v20.16b, v31.16b\n"                                                              \
  "cnt v7.16b, v7.16b\n"                                                                        \
  "and v3.16b, v21.16b, v31.16b\n"                                                              \
  "add %[s02].16b, %[s02].16b, v4.16b\n"                                                        \
  "add %[s03].16b, %[s03].16b, v5.16b\n"                                                        \
  OP01 " %[s12].16b, %[s12].16b, v6.16b\n"                                                      \
  OP01 " %[s13].16b, %[s13].16b, v7.16b\n"                                                      \
  NEXT("ldp q18, q19, [%[w], #32]\n")                                                           \
  "cnt v0.16b, v0.16b\n"                                                                        \
  "and v4.16b, v22.16b, v30.16b\n"                                                              \
  "cnt v1.16b, v1.16b\n"                                                                        \
  "and v5.16b, v23.16b, v30.16b\n"                                                              \
  "cnt v2.16b, v2.16b\n"                                                                        \
  "and v6.16b, v22.16b, v31.16b\n"                                                              \
  "cnt v3.16b, v3.16b\n"                                                                        \
  "and v7.16b, v23.16b, v31.16b\n"                                                              \
  NEXT("ld2r {v30.2d, v31.2d}, [%[x_next]]\n")                                                  \
  "sub %[s10].16b, %[s10].16b, v0.16b\n"                                                        \
  "sub %[s11].16b, %[s11].16b, v1.16b\n"                                                        \
  OP11 " %[s20].16b, %[s20].16b, v2.16b\n"                                                      \
  OP11 " %[s21].16b, %[s21].16b, v3.16b\n"                                                      \
  NEXT("ldp q20, q21, [%[w], #64]\n")                                                           \
  "cnt v4.16b, v4.16b\n"                                                                        \
  "cnt v5.16b, v5.16b\n"                                                                        \
  "cnt v6.16b, v6.16b\n"                                                                        \
  "cnt v7.16b, v7.16b\n"                                                                        \
  "sub %[s12].16b, %[s12].16b, v4.16b\n"                                                        \
  "sub %[s13].16b, %[s13].16b, v5.16b\n"                                                        \
  OP11 " %[s22].16b, %[s22].16b, v6.16b\n"                                                      \
  OP11 " %[s23].16b, %[s23].16b, v7.16b\n"                                                      \
  NEXT("ldp q22, q23, [%[w], #96]\n")                                                           \
  NEXT("add %[w], %[w], #128\n")

// The sums of words [0, count) of the tile's weights (128 bytes a word, from w) and of its pixel
// (word k's planes at row + offsets[k], in 64-bit words): the first word's operands loaded ahead,
// every word but the last loads its successor's (nothing past the block is read). The sums are
// outputs only, zeroed here: as "+w" operands each would count twice against GCC's limit of 30.
#define BITLITE_W2A2_WORDS(OP01, OP11)                                                          \
  asm("movi %[s00].16b, #0\n" "movi %[s01].16b, #0\n" "movi %[s02].16b, #0\n"                   \
      "movi %[s03].16b, #0\n" "movi %[s10].16b, #0\n" "movi %[s11].16b, #0\n"                   \
      "movi %[s12].16b, #0\n" "movi %[s13].16b, #0\n" "movi %[s20].16b, #0\n"                   \
      "movi %[s21].16b, #0\n" "movi %[s22].16b, #0\n" "movi %[s23].16b, #0\n"                   \
      "cbz %[count], 3f\n"                                                                      \
      "ldr %[offset], [%[offsets]], #8\n"                                                       \
      "add %[x_next], %[row], %[offset], lsl #3\n"                                              \
      "ld2r {v30.2d, v31.2d}, [%[x_next]]\n"                                                    \
      "ldp q16, q17, [%[w]]\n"                                                                  \
      "ldp q18, q19, [%[w], #32]\n"                                                             \
      "ldp q20, q21, [%[w], #64]\n"                                                             \
      "ldp q22, q23, [%[w], #96]\n"                                                             \
      "add %[w], %[w], #128\n"                                                                  \
      "subs %[count], %[count], #1\n"                                                           \
      "b.eq 2f\n"                                                                               \
      "1:\n" BITLITE_W2A2_WORD(OP01, OP11, BITLITE_W2A2_NEXT)                                   \
      "subs %[count], %[count], #1\n"                                                           \
      "b.ne 1b\n"                                                                               \
      "2:\n" BITLITE_W2A2_WORD(OP01, OP11, BITLITE_W2A2_LAST)                                   \
      "3:\n"                                                                                    \
      : [s00] "=w"(sum[0][0]), [s01] "=w"(sum[0][1]), [s02] "=w"(sum[0][2]),                    \
        [s03] "=w"(sum[0][3]), [s10] "=w"(sum[1][0]), [s11] "=w"(sum[1][1]),                    \
        [s12] "=w"(sum[1][2]), [s13] "=w"(sum[1][3]), [s20] "=w"(sum[2][0]),                    \
        [s21] "=w"(sum[2][1]), [s22] "=w"(sum[2][2]), [s23] "=w"(sum[2][3]), [w] "+r"(w_bytes), \
        [offsets] "+r"(offsets), [count] "+r"(count), [offset] "=&r"(offset),                   \
        [x_next] "=&r"(x_next)                                                                  \
      : [row] "r"(row)                                                                          \
      : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20",      \
        "v21", "v22", "v23", "v30", "v31", "cc", "memory")

struct NeonW2A2Ops : NeonOps<4> {
  template <int kW, int kA, bool kTwos, int kPixels>
  static void AccumulateWords(bgemm_tile::TileAccumulators<NeonW2A2Ops, kW, kA, kPixels>& acc,
                              const bgemm_tile::RowsX<kPixels>& x, const uint64_t* w,
                              int64_t /*words*/, int64_t k0, int64_t k1) {
    static_assert(kW == 2 && kA == 2 && kPixels == 1 && kVectors == 1, "the W2A2 1x8 tile");
    uint8x16_t sum[3][4];
    const uint8_t* w_bytes = reinterpret_cast<const uint8_t*>(w) + 128 * k0;
    const int64_t* offsets = x.offsets + k0;
    const uint64_t* row = x.rows[0];
    int64_t count = k1 - k0;
    int64_t offset;
    const uint64_t* x_next;
    if constexpr (kTwos) {
      BITLITE_W2A2_WORDS("sub", "add");
    } else {
      BITLITE_W2A2_WORDS("add", "sub");
    }
#pragma GCC unroll 3
    for (int s = 0; s < 3; ++s) {
#pragma GCC unroll 4
      for (int m = 0; m < 4; ++m) acc[0][0][s].q[m] = sum[s][m];
    }
  }
};

#undef BITLITE_W2A2_WORDS
#undef BITLITE_W2A2_WORD
#undef BITLITE_W2A2_LAST
#undef BITLITE_W2A2_NEXT

}  // namespace

BgemmKernel BgemmW2A2Neon(bool activation_twos_complement) {
  using Ops = NeonW2A2Ops;
  BgemmKernel kernel;
  kernel.lanes = Ops::kLanes;
  kernel.indirect = activation_twos_complement ? &bgemm_tile::BgemmIndirect<Ops, 2, 2, true>
                                               : &bgemm_tile::BgemmIndirect<Ops, 2, 2, false>;
  return kernel;
}

}  // namespace bitlite
