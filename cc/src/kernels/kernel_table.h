// What the kernel tables (gemm_kernels.h, dwconv_kernels.h) share: a table is a C array of
// rows, each with a name and a runs_on(CpuFeatures) predicate, listed from the scalar row up.
#ifndef BITLITE_SRC_KERNELS_KERNEL_TABLE_H_
#define BITLITE_SRC_KERNELS_KERNEL_TABLE_H_

#include <cstddef>
#include <vector>

#include "kernels/cpu_features.h"

namespace bitlite {

// Every row of `table`, in order.
template <class Row, size_t N>
std::vector<const Row*> TableRows(const Row (&table)[N]) {
  std::vector<const Row*> rows;
  for (const Row& row : table) rows.push_back(&row);
  return rows;
}

// The rows `cpu` runs, in order.
template <class Row>
std::vector<const Row*> RowsThatRun(const std::vector<const Row*>& rows, const CpuFeatures& cpu) {
  std::vector<const Row*> running;
  for (const Row* row : rows) {
    if (row->runs_on(cpu)) running.push_back(row);
  }
  return running;
}

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_KERNEL_TABLE_H_
