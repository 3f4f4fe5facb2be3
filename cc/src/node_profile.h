// Wall-clock time of each bitlite op a delegate kernel runs, for the delegate option
// `profile=PATH` (`bitlite bench` reports measured per-op latency from it).
#ifndef BITLITE_SRC_NODE_PROFILE_H_
#define BITLITE_SRC_NODE_PROFILE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bitlite {

class NodeProfile {
 public:
  // An empty path: profiling off, Time only runs.
  explicit NodeProfile(std::string path = "") : path_(std::move(path)) {}

  // Runs `run` (op `op` of the kernel) and, when profiling, keeps its duration.
  template <class Run>
  void Time(size_t op, Run&& run) {
    if (path_.empty()) {
      run();
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    run();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (samples_.size() <= op) samples_.resize(op + 1);
    samples_[op].push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  }

  // Appends one line per op that ran: "<output tensor>\t<kernel>\t<ns>,<ns>,...\n", where
  // ops[i] is (output tensor, kernel name) of op i. Appending: a model's bitlite nodes may
  // form several kernels, each writing its own lines. Returns false if the file cannot be
  // written.
  bool Write(const std::vector<std::pair<int, std::string>>& ops) const;

 private:
  std::string path_;
  std::vector<std::vector<int64_t>> samples_;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_NODE_PROFILE_H_
