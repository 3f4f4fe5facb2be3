#!/usr/bin/env bash
# Builds the sysroot that zig compiles and links Android code against:
#
#   tools/android/make_sysroot.sh ZIG ABI OUT      (ABI: arm64-v8a, armeabi-v7a)
#
# OUT/include: the C declarations, our bionic overlay (android/bionic/include) first, then a
#   tree of symbolic links into the musl and Linux UAPI headers that ship inside the ziglang
#   wheel (nothing copied into the repository). musl and bionic agree on the POSIX API the
#   delegate uses; where their ABIs differ, the overlay says bionic's (see bionic_abi.h).
# OUT/lib: libc.so, libdl.so and libm.so, stubs generated from our symbol lists
#   (tools/android/*.symbols) with every symbol versioned LIBC, as the NDK's own stubs are;
#   crtbegin_so.o (ours) and an empty crtend_so.o, which the linker puts around every .so.
# OUT/libc.txt: the paths file zig reads from ZIG_LIBC.
# OUT/zig-c++: the compiler for cc/toolchains/android-zig.cmake (zig, this sysroot, the target).
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 ZIG ABI OUT" >&2; exit 2; }
ZIG=$1 ABI=$2 OUT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
case $ABI in
  arm64-v8a)
    ARCH=aarch64 TARGET="aarch64-linux-android.24" LINK_TARGET=$TARGET CRT_FLAGS= ;;
  # armeabi-v7a is softfp: VFP and NEON inside functions, floats passed in core registers. zig
  # knows no softfp target: arm-linux-android is hard float (which clang rejects for Android:
  # zig cannot build its libc++ for it) and arm-linux-androideabi soft float (every float
  # operation a call, and LLVM stops on NEON float vectors: "Do not know how to split the
  # result of this operator!"). So our code is compiled for arm-linux-android with
  # -mfloat-abi=softfp, and linked as arm-linux-androideabi: zig builds libc++, libunwind and
  # compiler-rt soft float, whose calls are the same as softfp's (AAPCS base variant).
  armeabi-v7a)
    ARCH=arm TARGET="arm-linux-android.24 -mfloat-abi=softfp" LINK_TARGET=arm-linux-androideabi.24
    CRT_FLAGS=-mfloat-abi=softfp ;;  # arm-linux-none is hard float: lld would mark the .so so
  *) echo "unsupported ABI $ABI" >&2; exit 2 ;;
esac
ZIG_INCLUDE=$(dirname "$(realpath "$ZIG")")/lib/libc/include

rm -rf "$OUT"
mkdir -p "$OUT/include" "$OUT/lib"
# Later trees win: architecture bits over generic ones, as the compiler's search order would.
for tree in generic-musl any-linux-any $ARCH-linux-any $ARCH-linux-musl; do
  cp -rs --remove-destination "$ZIG_INCLUDE/$tree/." "$OUT/include/"
done

for lib in libc libdl libm; do
  "$HERE/make_stub.sh" "$ZIG" "$ARCH-linux-none" "$HERE/$lib.symbols" "$OUT/lib/$lib.so"
done
"$ZIG" cc -target "$ARCH-linux-none" $CRT_FLAGS -O2 -fPIC -c "$HERE/crtbegin_so.c" \
  -o "$OUT/lib/crtbegin_so.o"
"$ZIG" cc -target "$ARCH-linux-none" $CRT_FLAGS -c -x c /dev/null -o "$OUT/lib/crtend_so.o"

cat >"$OUT/libc.txt" <<PATHS
include_dir=$REPO/android/bionic/include
sys_include_dir=$OUT/include
crt_dir=$OUT/lib
cc_dir=$OUT/lib
msvc_lib_dir=
kernel32_lib_dir=
darwin_sdk_dir=
PATHS

# The layouts and constants the delegate relies on must be bionic's (android/bionic/).
ZIG_LIBC="$OUT/libc.txt" "$ZIG" cc -target $TARGET -c -include pthread.h \
  "$REPO/android/bionic/abi_checks.c" -o "$OUT/abi_checks.o"
rm "$OUT/abi_checks.o"

# zig takes -march only as a CPU name, so the dotprod kernel's flag becomes the equivalent -mcpu.
# A command with -c compiles (-target $TARGET), any other links (-target $LINK_TARGET).
# The cache directory the sysroot was made with (tools/android/build.sh's) is kept.
CACHE_SETTING=${ZIG_GLOBAL_CACHE_DIR:+ZIG_GLOBAL_CACHE_DIR=$ZIG_GLOBAL_CACHE_DIR}
cat >"$OUT/zig-c++" <<WRAPPER
#!/bin/sh
target="$LINK_TARGET"
for arg in "\$@"; do
  case \$arg in
    -march=armv8.2-a+dotprod) arg=-mcpu=generic+v8_2a+dotprod ;;
    -c) target="$TARGET" ;;
  esac
  set -- "\$@" "\$arg"
  shift
done
ZIG_LIBC="$OUT/libc.txt" $CACHE_SETTING exec "$(realpath "$ZIG")" c++ -target \$target "\$@"
WRAPPER
chmod +x "$OUT/zig-c++"
