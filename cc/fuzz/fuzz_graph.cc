#include "fuzz_graph.h"

#include <algorithm>
#include <cstring>

namespace bitlite {
namespace fuzz {
namespace {

constexpr const char* kKernels[] = {"auto", "bitserial", "int", "lut", "reference"};
constexpr const char* kOps[] = {"BitliteConv2D", "BitliteFullyConnected", "NotBitlite",
                                 "BitliteConv2DTranspose"};
constexpr int kMaxRank = 8;

// Reads little-endian fields; past the end every field is zero and every byte run empty.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint32_t Unsigned(int bytes) {
    uint32_t value = 0;
    for (int i = 0; i < bytes; ++i) {
      if (position_ < size_) value |= static_cast<uint32_t>(data_[position_++]) << (8 * i);
    }
    return value;
  }
  std::vector<uint8_t> Bytes(size_t count) {
    count = std::min(count, size_ - position_);
    std::vector<uint8_t> bytes(data_ + position_, data_ + position_ + count);
    position_ += count;
    return bytes;
  }
  std::vector<uint8_t> Rest() { return Bytes(size_ - position_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

FuzzTensor DecodeTensor(ByteReader* in) {
  FuzzTensor tensor;
  // Only values of the enums: a runtime never hands out others.
  tensor.type = static_cast<TfLiteType>(in->Unsigned(1) % (kTfLiteBFloat16 + 1));
  tensor.allocation =
      static_cast<TfLiteAllocationType>(in->Unsigned(1) % (kTfLiteVariantObject + 1));
  const int rank = static_cast<int>(in->Unsigned(1) % (kMaxRank + 1));
  for (int i = 0; i < rank; ++i) tensor.shape.push_back(static_cast<int32_t>(in->Unsigned(4)));
  if (tensor.allocation != kTfLiteArenaRw) tensor.bytes = in->Bytes(in->Unsigned(2));
  return tensor;
}

int AddTensor(const FuzzTensor& tensor, testing::FakeInterpreter* interpreter) {
  if (tensor.allocation == kTfLiteArenaRw) {
    return interpreter->AddArenaTensor(tensor.type, tensor.shape);
  }
  return interpreter->AddConstantTensor(tensor.type, tensor.allocation, tensor.shape,
                                        tensor.bytes);
}

}  // namespace

FuzzGraph DecodeFuzzGraph(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  FuzzGraph graph;
  const uint32_t flags = in.Unsigned(1);
  graph.kernel = kKernels[(flags & 7) % 5];
  graph.num_threads = flags & 8 ? 2 : 1;
  graph.outputs_external = (flags & 16) != 0;
  graph.resizes_before_invoke = flags & 32 ? 1 : 0;
  const int node_count = 1 + static_cast<int>(in.Unsigned(1) % 3);
  graph.x = DecodeTensor(&in);
  for (int i = 0; i < node_count; ++i) {
    FuzzNode node;
    node.op = kOps[in.Unsigned(1) % 4];
    node.options = in.Bytes(in.Unsigned(2));
    node.weights = DecodeTensor(&in);
    node.output = DecodeTensor(&in);
    graph.nodes.push_back(std::move(node));
  }
  const std::vector<uint8_t> rest = in.Rest();
  graph.x_values.resize(rest.size() / sizeof(float));
  if (!graph.x_values.empty()) {
    std::memcpy(graph.x_values.data(), rest.data(), graph.x_values.size() * sizeof(float));
  }
  return graph;
}

size_t DeclaredElements(const FuzzTensor& tensor) {
  size_t elements = 1;
  for (int dim : tensor.shape) {
    if (dim < 0) return 0;
    // Saturates at 2^31, past any cap the fuzzer uses, so the product never overflows.
    elements = std::min(elements * static_cast<size_t>(dim), size_t{1} << 31);
  }
  return elements;
}

std::vector<int> BuildFuzzGraph(const FuzzGraph& graph, testing::FakeInterpreter* interpreter) {
  int x = AddTensor(graph.x, interpreter);
  if (graph.x.allocation == kTfLiteArenaRw && !graph.x_values.empty()) {
    TfLiteTensor& tensor = interpreter->tensor(x);
    for (size_t i = 0; i < tensor.bytes / sizeof(float); ++i) {
      tensor.data.f[i] = graph.x_values[i % graph.x_values.size()];
    }
  }
  std::vector<int> outputs;
  for (const FuzzNode& node : graph.nodes) {
    const int w = AddTensor(node.weights, interpreter);
    const int y = AddTensor(node.output, interpreter);
    interpreter->AddNode(node.op, {x, w}, {y}, node.options);
    if (graph.outputs_external) interpreter->MarkGraphOutput(y);
    outputs.push_back(y);
    x = y;
  }
  // The last output is the graph's in any case.
  interpreter->MarkGraphOutput(outputs.back());
  return outputs;
}

}  // namespace fuzz
}  // namespace bitlite
