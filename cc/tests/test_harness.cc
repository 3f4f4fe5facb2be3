#include "test_harness.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace bitlite {
namespace testing {
namespace {

struct RegisteredTest {
  const char* name;
  void (*run)();
};

// A function-local static, so registration from other files' static initializers is safe.
std::vector<RegisteredTest>& Tests() {
  static std::vector<RegisteredTest> tests;
  return tests;
}

int failures = 0;

// BITLITE_TEST_SHARD="i/n" runs tests i, i + n, i + 2n, ... of the registration order, so that
// ctest can run a long test binary as n entries side by side (cc/tests/CMakeLists.txt).
// Unset: every test. Anything else is a usage error, reported rather than running nothing.
bool ParseShard(int* index, int* count) {
  *index = 0;
  *count = 1;
  const char* shard = std::getenv("BITLITE_TEST_SHARD");
  if (shard == nullptr) return true;
  char rest = 0;
  return std::sscanf(shard, "%d/%d%c", index, count, &rest) == 2 && *count > 0 && *index >= 0 &&
         *index < *count;
}

}  // namespace

bool RegisterTest(const char* name, void (*test)()) {
  Tests().push_back({name, test});
  return true;
}

void ReportFailure(const char* file, int line, const std::string& message) {
  ++failures;
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, message.c_str());
}

}  // namespace testing
}  // namespace bitlite

// Visible: the Android build's tests are shared objects whose main() a runner looks up.
__attribute__((visibility("default"))) int main() {
  using namespace bitlite::testing;
  int shard = 0;
  int shards = 1;
  if (!ParseShard(&shard, &shards)) {
    std::fprintf(stderr, "BITLITE_TEST_SHARD must be i/n with 0 <= i < n, got \"%s\"\n",
                 std::getenv("BITLITE_TEST_SHARD"));
    return 2;
  }
  size_t ran = 0;
  for (size_t i = static_cast<size_t>(shard); i < Tests().size(); i += static_cast<size_t>(shards)) {
    const RegisteredTest& test = Tests()[i];
    const int before = failures;
    const auto start = std::chrono::steady_clock::now();
    test.run();
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    std::fprintf(stderr, "[%s] %s (%.2f s)\n", failures == before ? "  OK  " : "FAILED", test.name,
                 seconds.count());
    ++ran;
  }
  std::fprintf(stderr, "%zu of %zu tests (shard %d/%d), %d failed checks\n", ran, Tests().size(),
               shard, shards, failures);
  return failures == 0 ? 0 : 1;
}
