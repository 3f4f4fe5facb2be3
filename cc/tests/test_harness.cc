#include "test_harness.h"

#include <cstdio>
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
  for (const RegisteredTest& test : Tests()) {
    const int before = failures;
    test.run();
    std::fprintf(stderr, "[%s] %s\n", failures == before ? "  OK  " : "FAILED", test.name);
  }
  std::fprintf(stderr, "%zu tests, %d failed checks\n", Tests().size(), failures);
  return failures == 0 ? 0 : 1;
}
