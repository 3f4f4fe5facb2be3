#!/usr/bin/env bash
# Cross-builds the bitlite wheel for Linux ARM with Debian's cross compilers:
#
#   tools/arm/build_wheel.sh aarch64|armv7l [OUT_DIR]     (OUT_DIR defaults to dist/)
#
# prints the wheel's path on stdout. The wheel is tagged py3-none-<platform>: the delegate is a
# plain shared library loaded by the TFLite runtime, not a CPython extension, so one wheel
# serves every Python 3. The platform tag is the manylinux tag auditwheel derives from the
# symbol versions the library really needs (glibc, libstdc++), so pip on an older system
# refuses it instead of failing at dlopen. Needs: g++-aarch64-linux-gnu or
# g++-arm-linux-gnueabihf, cmake, ninja, python3 (for a build venv with scikit-build-core).
set -euo pipefail

[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 aarch64|armv7l [OUT_DIR]" >&2; exit 2; }
ARCH=$1
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mkdir -p "${2:-$REPO/dist}" && cd "${2:-$REPO/dist}" && pwd)
case $ARCH in
  aarch64) TRIPLE=aarch64-linux-gnu ;;
  armv7l) TRIPLE=arm-linux-gnueabihf ;;
  *) echo "ARCH must be aarch64 or armv7l, got $ARCH" >&2; exit 2 ;;
esac
for tool in "$TRIPLE-g++" cmake ninja; do
  command -v "$tool" >/dev/null || { echo "$tool not found (Debian: apt-get install" \
    "g++-$TRIPLE cmake ninja-build)" >&2; exit 1; }
done

WORK=$REPO/build/arm/$ARCH
BUILDENV=$REPO/build/arm/buildenv
# scikit-build-core >= 0.12 has wheel.tags; auditwheel 6.8 has `show --json`.
BUILD_REQUIREMENTS="scikit-build-core>=0.12 auditwheel==6.8.2 wheel>=0.40"
# Both architectures share it, and `make -j` may build them at once: one creates it, under a lock.
mkdir -p "$REPO/build/arm"
exec 9>"$REPO/build/arm/.buildenv.lock"
flock 9
if [[ ! -f $BUILDENV/.ok || $(cat "$BUILDENV/.ok") != "$BUILD_REQUIREMENTS" ]]; then
  rm -rf "$BUILDENV"
  python3 -m venv "$BUILDENV"
  # shellcheck disable=SC2086  # the requirement list is meant to split into words
  "$BUILDENV/bin/python" -m pip install -q --disable-pip-version-check $BUILD_REQUIREMENTS
  echo "$BUILD_REQUIREMENTS" > "$BUILDENV/.ok"
fi
flock -u 9
PY=$BUILDENV/bin/python

# 1. Build into a staging directory with the generic linux_<arch> tag. The build tree is our
#    own (not pyproject's build/{wheel_tag}): a cross build must never reuse a host CMake cache.
#    -ffile-prefix-map: assert() and __FILE__ must not carry this machine's source path into
#    the library. It goes through CXXFLAGS because CMake adds that to the toolchain file's
#    CMAKE_CXX_FLAGS_INIT (armv7's -mfpu), where -DCMAKE_CXX_FLAGS would replace it.
STAGE=$WORK/stage
rm -rf "$STAGE"
CXXFLAGS="${CXXFLAGS:-} -ffile-prefix-map=$REPO/=" "$PY" -m pip wheel -q --no-deps \
  --no-build-isolation --disable-pip-version-check -w "$STAGE" \
  -C cmake.define.CMAKE_TOOLCHAIN_FILE="$REPO/cc/toolchains/$TRIPLE.cmake" \
  -C build-dir="$WORK/wheel-build" \
  -C wheel.tags="py3-none-linux_$ARCH" \
  "$REPO" >&2
STAGED=$(echo "$STAGE"/bitlite-*-py3-none-linux_"$ARCH".whl)
[[ -f $STAGED ]] || { echo "no wheel was built in $STAGE" >&2; exit 1; }

# 2. The wheel must hold the delegate built for the target, and no path of this machine.
"$PY" "$REPO/tools/arm/check_wheel.py" "$STAGED" "$ARCH" "$REPO" >&2

# 3. Retag with the manylinux policy the library satisfies; a library that needs anything
#    beyond the manylinux system libraries, or newer than manylinux_2_28, fails here.
"$REPO/tools/manylinux_retag.sh" "$PY" "$STAGED" "$OUT"
