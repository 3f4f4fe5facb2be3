#!/usr/bin/env bash
# Builds bitlite's Android libraries with zig (PyPI `ziglang`, pinned) in place of the NDK:
#
#   tools/android/build.sh ABI [CMAKE_ARGS...]       (ABI: arm64-v8a, armeabi-v7a)
#
# into build/android/ABI: libbitlite_delegate.so and libbitlite_jni.so (android/CMakeLists.txt).
# zig lives in a virtual environment of its own (build/android/zig-venv); the sysroot
# (tools/android/make_sysroot.sh) is regenerated when its inputs change.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 ABI [CMAKE_ARGS...]" >&2; exit 2; }
ABI=$1
shift
ZIG_VERSION=0.17.1
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$REPO/build/android
VENV=$OUT/zig-venv
SYSROOT=$OUT/sysroot-$ABI

if [[ ! -f $VENV/.ziglang-$ZIG_VERSION ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "ziglang==$ZIG_VERSION"
  touch "$VENV/.ziglang-$ZIG_VERSION"
fi
# zig's cache (libc++ and compiler-rt built for the target, our objects) stays under build/.
export ZIG_GLOBAL_CACHE_DIR=$OUT/zig-cache
ZIG=$("$VENV/bin/python" -c 'import ziglang, pathlib; print(pathlib.Path(ziglang.__file__).with_name("zig"))')

BUILD_DIR=$OUT/$ABI
inputs=("$REPO/tools/android" "$REPO/android/bionic" "$VENV/.ziglang-$ZIG_VERSION")
if [[ ! -f $SYSROOT/libc.txt || -n $(find "${inputs[@]}" -newer "$SYSROOT/libc.txt" | head -1) ]]; then
  "$REPO/tools/android/make_sysroot.sh" "$ZIG" "$ABI" "$SYSROOT"
fi
# The links do not list the stub libraries as inputs: relink against a newer sysroot's.
if [[ -d $BUILD_DIR && $SYSROOT/libc.txt -nt $BUILD_DIR/sysroot.stamp ]]; then
  find "$BUILD_DIR" -name '*.so' -delete
fi
mkdir -p "$BUILD_DIR"
touch "$BUILD_DIR/sysroot.stamp"

JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
cmake -S "$REPO/android" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$REPO/cc/toolchains/android-zig.cmake" \
  -DBITLITE_ANDROID_SYSROOT="$SYSROOT" -DBITLITE_ANDROID_ABI="$ABI" -DBITLITE_JNI_INCLUDE_DIR="$JAVA_HOME/include" "$@" >/dev/null
cmake --build "$BUILD_DIR"
