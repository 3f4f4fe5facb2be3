// Output shape and convolution geometry of a bitlite op for a given input shape
// (FORMAT.md, "Ops" and "Output size"). Recomputed at every Prepare: batch and spatial sizes
// may change between resizes.
#ifndef BITLITE_SRC_OP_GEOMETRY_H_
#define BITLITE_SRC_OP_GEOMETRY_H_

#include <string>
#include <vector>

#include "kernels/conv_geometry.h"
#include "op_options.h"

namespace bitlite {

// Returns false with a message in *error if the input shape does not suit the op, or if a
// tensor would be too large to index.
bool ComputeGeometry(const OpParams& params, const std::vector<int>& input_shape,
                     ConvGeometry* geometry, std::vector<int>* output_shape, std::string* error);

std::string ShapeToString(const std::vector<int>& shape);

}  // namespace bitlite

#endif  // BITLITE_SRC_OP_GEOMETRY_H_
