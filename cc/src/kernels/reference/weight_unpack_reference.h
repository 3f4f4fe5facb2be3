// Unpacking of the canonical packed weight rows (FORMAT.md, "Weight packing") into one signed
// int8 code per weight, the layout of the reference kernel.
#ifndef BITLITE_SRC_KERNELS_REFERENCE_WEIGHT_UNPACK_REFERENCE_H_
#define BITLITE_SRC_KERNELS_REFERENCE_WEIGHT_UNPACK_REFERENCE_H_

#include <cstdint>

namespace bitlite {

// `packed` holds `rows` rows of ceil(k * bits / 8) bytes; `codes` receives rows x k codes.
// bits 1..4 or 8: bit streams of offset-binary codes (at 8 bits, one byte per code).
// Returns false (codes unspecified) if a row sets one of the unused high bits of its last
// byte, which FORMAT.md requires to be 0: such a tensor was packed with other parameters.
bool UnpackWeightsReference(const uint8_t* packed, int64_t rows, int64_t k, int bits,
                            int8_t* codes);

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_REFERENCE_WEIGHT_UNPACK_REFERENCE_H_
