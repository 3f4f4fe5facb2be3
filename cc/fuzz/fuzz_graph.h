// A small graph of bitlite nodes decoded from fuzzer bytes, built into a FakeInterpreter.
//
// The bytes are structured so that most mutations still reach Prepare and Invoke: a header
// picks the delegate options and the node count, then each node brings its custom options,
// its weight tensor and its output tensor, and what is left fills the input. Little-endian;
// reading past the end yields zeros, so every byte string decodes.
//
//   u8  flags      bits 0-2: kernel (auto, bitserial, int, lut, reference; 5-7 wrap around)
//                  bit 3: num_threads 2 (else 1)
//                  bit 4: every node's output is a graph output (else intermediate tensors
//                         stay inside the delegate kernel)
//                  bit 5: Prepare twice before Invoke, as after a resize
//   u8  nodes      node count - 1 (taken mod 3: 1 to 3 nodes)
//   tensor x       the first node's input
//   per node:
//     u8  op       0 BitliteConv2D, 1 BitliteFullyConnected, 2 a custom op bitlite does not
//                  claim, 3 BitliteConv2DTranspose (mod 4)
//     u16 length, then that many bytes of custom options
//     tensor w     the node's second input (the packed weights)
//     tensor y     the node's output, the next node's input
//   the rest       float32 values for x (an arena x), repeated to fill it; zeros if none
//
//   tensor:  u8 type (TfLiteType), u8 allocation (TfLiteAllocationType), u8 rank (at most
//            8); each wraps around past its largest value. Then rank x i32 dims and, unless
//            the allocation is kTfLiteArenaRw, u16 length and that many bytes of constant data.
//
// cc/fuzz/make_seed_corpus.py writes this format from converted models.
#ifndef BITLITE_FUZZ_FUZZ_GRAPH_H_
#define BITLITE_FUZZ_FUZZ_GRAPH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bitlite/tflite_c_abi.h"
#include "fake_interpreter.h"

namespace bitlite {
namespace fuzz {

struct FuzzTensor {
  TfLiteType type = kTfLiteNoType;
  TfLiteAllocationType allocation = kTfLiteMemNone;
  std::vector<int> shape;
  std::vector<uint8_t> bytes;  // constant data (not for arena tensors)
};

struct FuzzNode {
  std::string op;
  std::vector<uint8_t> options;
  FuzzTensor weights;
  FuzzTensor output;
};

struct FuzzGraph {
  std::string kernel;  // the delegate option's value
  int num_threads = 1;
  bool outputs_external = false;
  int resizes_before_invoke = 0;
  FuzzTensor x;
  std::vector<FuzzNode> nodes;
  std::vector<float> x_values;  // fills an arena x cyclically
};

FuzzGraph DecodeFuzzGraph(const uint8_t* data, size_t size);

// The element count of the tensor's declared shape (0 if a dim is negative), saturating at
// 2^31.
size_t DeclaredElements(const FuzzTensor& tensor);

// Adds the graph's tensors and nodes to an empty interpreter and fills x. Returns the tensor
// index of each node's output.
std::vector<int> BuildFuzzGraph(const FuzzGraph& graph, testing::FakeInterpreter* interpreter);

}  // namespace fuzz
}  // namespace bitlite

#endif  // BITLITE_FUZZ_FUZZ_GRAPH_H_
