#!/usr/bin/env bash
# Cross-builds the C++ unit tests and runs them with ctest under qemu-user:
#
#   tools/arm/ctest.sh aarch64|armv7l [QEMU_CPU...]
#
# one ctest run per CPU model (default: aarch64 cortex-a53 and neoverse-n1, i.e. without and
# with dotprod; armv7l cortex-a7). The build tree build/arm/<arch>/cc-tests is reused, and the
# CPU only changes the emulator command, so each extra CPU costs just the test run.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 aarch64|armv7l [QEMU_CPU...]" >&2; exit 2; }
ARCH=$1
shift
REPO=$(cd "$(dirname "$0")/../.." && pwd)
case $ARCH in
  aarch64) TRIPLE=aarch64-linux-gnu DEFAULT_CPUS=(cortex-a53 neoverse-n1) ;;
  armv7l) TRIPLE=arm-linux-gnueabihf DEFAULT_CPUS=(cortex-a7) ;;
  *) echo "ARCH must be aarch64 or armv7l, got $ARCH" >&2; exit 2 ;;
esac
[[ $# -gt 0 ]] && CPUS=("$@") || CPUS=("${DEFAULT_CPUS[@]}")
BUILD=$REPO/build/arm/$ARCH/cc-tests
# BITLITE_ARM_SANITIZERS=0 skips the ASan/UBSan copies of the tests (about half the compile
# time) by presetting the result of cc/tests' sanitizer check; by default they run.
# -U makes the check run again when a build tree made with =0 is reused.
SANITIZER_ARGS=(-UBITLITE_HAVE_SANITIZERS)
if [[ ${BITLITE_ARM_SANITIZERS:-1} == 0 ]]; then
  SANITIZER_ARGS=(-DBITLITE_HAVE_SANITIZERS=OFF)
fi

for cpu in "${CPUS[@]}"; do
  # Reconfiguring only rewrites the emulator command line in the test files: no recompile.
  cmake -S "$REPO/cc" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$REPO/cc/toolchains/$TRIPLE.cmake" \
    -DBITLITE_BUILD_TESTS=ON -DBITLITE_QEMU_CPU="$cpu" "${SANITIZER_ARGS[@]}" >/dev/null
  cmake --build "$BUILD"
  echo "== ctest $ARCH -cpu $cpu" >&2
  ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)"
done
