#include "kernels/winograd/winograd_workspace.h"

#include <atomic>
#include <cstddef>

#include "kernels/winograd/winograd_f2x3.h"

namespace bitlite {

void GrowWinogradWorkspaces(int64_t workers, int64_t blocks, int64_t words, int64_t channels,
                            WinogradWorkspaces* set) {
  while (static_cast<int64_t>(set->size()) < workers) {
    set->push_back(std::make_unique<WinogradWorkspace>());
  }
  const size_t points = static_cast<size_t>(blocks * kWinogradPoints);
  auto grow = [](auto* buffer, size_t size) {
    if (buffer->size() < size) buffer->resize(size);
  };
  for (const std::unique_ptr<WinogradWorkspace>& workspace : *set) {
    grow(&workspace->corners, static_cast<size_t>(blocks));
    grow(&workspace->rows, static_cast<size_t>(4 * blocks));
    grow(&workspace->input, points * static_cast<size_t>(words));
    grow(&workspace->products, points * static_cast<size_t>(channels));
    grow(&workspace->terms, points);
    workspace->first = -1;
  }
}

uint64_t NextWinogradRunId() {
  static std::atomic<uint64_t> last{0};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace bitlite
