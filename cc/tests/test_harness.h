// A minimal test harness (no framework to build for every cross target): tests register
// themselves, failures are counted, and main() in test_harness.cc runs them all.
#ifndef BITLITE_TESTS_TEST_HARNESS_H_
#define BITLITE_TESTS_TEST_HARNESS_H_

#include <sstream>
#include <string>

namespace bitlite {
namespace testing {

bool RegisterTest(const char* name, void (*test)());
void ReportFailure(const char* file, int line, const std::string& message);

template <typename A, typename B>
std::string DescribeMismatch(const char* expression, const A& actual, const B& expected) {
  std::ostringstream text;
  text << expression << ": got " << actual << ", expected " << expected;
  return text.str();
}

}  // namespace testing
}  // namespace bitlite

#define BITLITE_TEST(name)                                                             \
  static void name();                                                                  \
  static const bool name##_registered = ::bitlite::testing::RegisterTest(#name, name); \
  static void name()

#define EXPECT_TRUE(condition)                                                           \
  do {                                                                                   \
    if (!(condition)) ::bitlite::testing::ReportFailure(__FILE__, __LINE__, #condition); \
  } while (0)

// Stops the current test: for conditions later checks depend on.
#define ASSERT_TRUE(condition)                                           \
  do {                                                                   \
    if (!(condition)) {                                                  \
      ::bitlite::testing::ReportFailure(__FILE__, __LINE__, #condition); \
      return;                                                            \
    }                                                                    \
  } while (0)

#define EXPECT_EQ(actual, expected)                                                     \
  do {                                                                                  \
    const auto& actual_value = (actual);                                                \
    const auto& expected_value = (expected);                                            \
    if (!(actual_value == expected_value)) {                                            \
      ::bitlite::testing::ReportFailure(                                                \
          __FILE__, __LINE__,                                                           \
          ::bitlite::testing::DescribeMismatch(#actual, actual_value, expected_value)); \
    }                                                                                   \
  } while (0)

#define EXPECT_CONTAINS(text, part)                                                   \
  do {                                                                                \
    const std::string text_value = (text);                                            \
    if (text_value.find(part) == std::string::npos) {                                 \
      ::bitlite::testing::ReportFailure(                                              \
          __FILE__, __LINE__,                                                         \
          std::string(#text) + " = \"" + text_value + "\" lacks \"" + (part) + "\""); \
    }                                                                                 \
  } while (0)

#endif  // BITLITE_TESTS_TEST_HARNESS_H_
