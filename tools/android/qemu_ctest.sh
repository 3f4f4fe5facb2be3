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
CPUS=("$@")
[[ ${#CPUS[@]} -gt 0 ]] || CPUS=(cortex-a53 cortex-a76)
BUILD=$REPO/build/android/arm64-v8a-tests
STANDIN=$REPO/build/android/qemu-standin

"$REPO/tools/android/qemu/make_standin_libs.sh" "$STANDIN"
for cpu in "${CPUS[@]}"; do
  # Tests import more of libc than the delegate (getenv, ...): -z undefs lets those stay
  # unversioned, and glibc serves them. Reconfiguring for another CPU recompiles nothing.
  BITLITE_ANDROID_BUILD_DIR=$BUILD "$REPO/tools/android/build.sh" arm64-v8a \
    -DBITLITE_BUILD_TESTS=ON -DBITLITE_HAVE_SANITIZERS=OFF -DBITLITE_QEMU_CPU="$cpu" \
    -DBITLITE_TEST_RUNNER="$STANDIN/dlopen_runner" \
    "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64;-L;/usr/aarch64-linux-gnu;-cpu;$cpu;-E;LD_LIBRARY_PATH=$STANDIN" \
    "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-z,undefs"
  echo "== ctest android arm64-v8a -cpu $cpu" >&2
  ctest --test-dir "$BUILD" --output-on-failure
done
