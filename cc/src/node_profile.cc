#include "node_profile.h"

#include <cstdio>

namespace bitlite {

bool NodeProfile::Write(const std::vector<std::pair<int, std::string>>& ops) const {
  if (path_.empty()) return true;
  std::FILE* file = std::fopen(path_.c_str(), "a");
  if (file == nullptr) return false;
  for (size_t op = 0; op < samples_.size() && op < ops.size(); ++op) {
    if (samples_[op].empty()) continue;
    std::fprintf(file, "%d\t%s\t", ops[op].first, ops[op].second.c_str());
    for (size_t i = 0; i < samples_[op].size(); ++i) {
      std::fprintf(file, i ? ",%lld" : "%lld", static_cast<long long>(samples_[op][i]));
    }
    std::fputc('\n', file);
  }
  return std::fclose(file) == 0;
}

}  // namespace bitlite
