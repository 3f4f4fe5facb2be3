#!/usr/bin/env bash
# Runs cc/tests/kernel_digest.cc (every GEMM and depthwise kernel row the CPU runs, and the
# reference, on one fixed set of cases) as built by the Android toolchain and as built for
# Linux aarch64 by Debian's g++, each under qemu-aarch64 on each CPU, and writes its output to
#
#   build/android/kernel-digests/<build>-<cpu>.txt     (build: android-arm64-v8a, linux-aarch64)
#
#   tools/android/kernel_digests.sh [QEMU_CPU...]      (default: cortex-a53 cortex-a76)
#
# tests/android/test_kernel_digests.py compares the files. Exits non-zero if a run fails
# (kernel_digest fails when a row differs from the reference).
# The Linux build tree is tools/arm/ctest.sh's, so `make test` compiles the library once.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
source "$REPO/tools/android/test_tree.sh"
CPUS=("$@")
[[ ${#CPUS[@]} -gt 0 ]] || CPUS=(cortex-a53 cortex-a76)
OUT=$REPO/build/android/kernel-digests
LINUX_TESTS=$REPO/build/arm/aarch64/cc-tests

android_test_tree "${CPUS[0]}"
cmake --build "$ANDROID_TESTS" --target kernel_digest
if [[ ! -f $LINUX_TESTS/CMakeCache.txt ]]; then
  cmake -S "$REPO/cc" -B "$LINUX_TESTS" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$REPO/cc/toolchains/aarch64-linux-gnu.cmake" \
    -DBITLITE_BUILD_TESTS=ON -DBITLITE_HAVE_SANITIZERS=OFF >/dev/null
fi
cmake --build "$LINUX_TESTS" --target kernel_digest

rm -rf "$OUT"
mkdir -p "$OUT"
for cpu in "${CPUS[@]}"; do
  echo "== kernel digests -cpu $cpu" >&2
  # shellcheck disable=SC2046  # android_qemu prints words
  $(android_qemu "$cpu") "$STANDIN/dlopen_runner" "$ANDROID_TESTS/libkernel_digest.so" \
    >"$OUT/android-arm64-v8a-$cpu.txt"
  qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu "$cpu" "$LINUX_TESTS/tests/kernel_digest" \
    >"$OUT/linux-aarch64-$cpu.txt"
done
