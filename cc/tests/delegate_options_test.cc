#include "delegate_options.h"

#include <string>
#include <vector>

#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

std::string Parse(const std::vector<const char*>& keys, const std::vector<const char*>& values,
                  DelegateOptions* options) {
  std::string error;
  return ParseDelegateOptions(keys.data(), values.data(), keys.size(), options, &error) ? "ok"
                                                                                        : error;
}

BITLITE_TEST(DefaultsAndValidValues) {
  DelegateOptions options;
  EXPECT_EQ(Parse({}, {}, &options), "ok");
  EXPECT_EQ(options.num_threads, -1);
  EXPECT_EQ(options.verbose, false);
  EXPECT_EQ(options.profile_path, "");
  EXPECT_EQ(options.fuse_ops, true);
  EXPECT_EQ(Parse({"fuse_ops"}, {"0"}, &options), "ok");
  EXPECT_EQ(options.fuse_ops, false);
  EXPECT_EQ(options.winograd, true);
  EXPECT_EQ(Parse({"winograd"}, {"false"}, &options), "ok");
  EXPECT_EQ(options.winograd, false);
  EXPECT_EQ(Parse({"profile"}, {"/tmp/times.tsv"}, &options), "ok");
  EXPECT_EQ(options.profile_path, "/tmp/times.tsv");
  EXPECT_EQ(Parse({"num_threads", "verbose"}, {"4", "true"}, &options), "ok");
  EXPECT_EQ(options.num_threads, 4);
  EXPECT_EQ(options.verbose, true);
  EXPECT_EQ(Parse({"verbose", "num_threads"}, {"0", "-1"}, &options), "ok");
  EXPECT_EQ(options.verbose, false);
  EXPECT_EQ(options.num_threads, -1);
}

BITLITE_TEST(RejectsUnknownKeysAndBadValues) {
  DelegateOptions options;
  EXPECT_EQ(Parse({"threads"}, {"2"}, &options),
            "unknown option 'threads' (known: claim_builtins, codes_between_ops, fuse_ops, "
            "kernel, max_scratch_bytes, num_threads, profile, verbose, winograd)");
  for (const char* bad : {"0", "-2", "2x", "", " 2", "99999999999", "1.5"}) {
    EXPECT_CONTAINS(Parse({"num_threads"}, {bad}, &options), "num_threads must be an integer >= 1");
  }
  for (const char* bad : {"yes", "True", ""}) {
    EXPECT_CONTAINS(Parse({"verbose"}, {bad}, &options), "verbose must be true, false, 1 or 0");
  }
  EXPECT_CONTAINS(Parse({"verbose"}, {nullptr}, &options), "has no key or value");
  EXPECT_CONTAINS(Parse({"fuse_ops"}, {"no"}, &options), "fuse_ops must be true, false, 1 or 0");
  EXPECT_CONTAINS(Parse({"winograd"}, {"2"}, &options), "winograd must be true, false, 1 or 0");
  EXPECT_CONTAINS(Parse({"kernel"}, {"table"}, &options),
                  "kernel must be auto, bitserial, int, lut or reference, got 'table'");
}

BITLITE_TEST(MaxScratchBytes) {
  DelegateOptions options;
  EXPECT_EQ(options.max_scratch_bytes, 0);  // derived per node
  EXPECT_EQ(Parse({"max_scratch_bytes"}, {"9000000000"}, &options), "ok");
  EXPECT_EQ(options.max_scratch_bytes, 9000000000);
  for (const char* bad : {"0", "-1", "1e6", "", "99999999999999999999"}) {
    EXPECT_CONTAINS(Parse({"max_scratch_bytes"}, {bad}, &options),
                    "max_scratch_bytes must be an integer >= 1");
  }
}

BITLITE_TEST(KernelLutWithOtherOptions) {
  DelegateOptions options;
  EXPECT_EQ(Parse({"kernel", "num_threads"}, {"lut", "2"}, &options), "ok");
  EXPECT_TRUE(options.kernel == KernelChoice::kLut);
  EXPECT_EQ(options.num_threads, 2);
  // The last value of a repeated key wins, as for the other options.
  EXPECT_EQ(Parse({"kernel", "kernel"}, {"lut", "auto"}, &options), "ok");
  EXPECT_TRUE(options.kernel == KernelChoice::kAuto);
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
