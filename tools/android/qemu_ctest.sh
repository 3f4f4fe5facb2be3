#!/usr/bin/env bash
# Builds the C++ unit tests with the Android toolchain (as shared objects) and runs them with
# ctest under qemu-aarch64, through tools/android/qemu's runner and glibc-backed stand-in libc:
#
#   tools/android/qemu_ctest.sh [QEMU_CPU...]     (default: cortex-a53 cortex-a76)
#
# cortex-a53 has no dotprod and cortex-a76 has it, so both kernel dispatch paths run and
# kernel_selection_test checks which one was taken (cc/tests/CMakeLists.txt). This shows the
# code the Android toolchain generates is right; bionic's loader is not involved.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/tools/android/test_tree.sh"
CPUS=("$@")
[[ ${#CPUS[@]} -gt 0 ]] || CPUS=(cortex-a53 cortex-a76)

for cpu in "${CPUS[@]}"; do
  android_test_tree "$cpu"
  echo "== ctest android arm64-v8a -cpu $cpu" >&2
  ctest --test-dir "$ANDROID_TESTS" --output-on-failure -j "$(nproc)"
done
