#!/usr/bin/env bash
# Builds glibc-backed stand-ins of bionic's libc.so, libdl.so and libm.so for running code of
# the Android build under qemu-aarch64 (aarch64-linux-gnu-gcc, Debian):
#
#   tools/android/qemu/make_standin_libs.sh OUT_DIR
#
# Each symbol of tools/android/<lib>.symbols is defined with version LIBC, so the versioned
# references of the Android build (name@LIBC) bind here, as a jump to the glibc function that
# has bionic's calling convention: a plain branch keeps every argument register and the stack,
# so no signature is needed. LIBC is a non-default version (one @): the stand-in's own
# unversioned calls still reach glibc. Names that differ from glibc are mapped below.
#
# Layouts: the Android build's pthread objects are bionic-sized; glibc's aarch64 mutex is 48
# bytes against bionic's 40, but a normal (non-robust) glibc mutex only touches its first 24.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
SYMBOLS=$HERE/..
CC=aarch64-linux-gnu-gcc
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# bionic name -> glibc function with the same behaviour and arguments.
glibc_name() {
  case $1 in
    __errno) echo __errno_location ;;
    strerror_r) echo __xpg_strerror_r ;;  # bionic's is POSIX (int); glibc's default is GNU
    *) echo "$1" ;;
  esac
}
# Defined in standin_extra.c.
is_extra() { [[ $1 == stderr || $1 == android_set_abort_message ]]; }

for lib in libc libdl libm; do
  asm=$WORK/$lib.S
  echo '.text' >"$asm"
  while read -r name kind; do
    [[ -z $name || $name == \#* ]] && continue
    [[ -z $kind || $kind == data || $kind == aarch64 ]] || continue
    is_extra "$name" && continue
    cat >>"$asm" <<ASM
.global standin_$name
.type standin_$name, %function
standin_$name:
  b $(glibc_name "$name")
.symver standin_$name, $name@LIBC
ASM
  done <"$SYMBOLS/$lib.symbols"
  extra=()
  [[ $lib == libc ]] && extra=("$HERE/standin_extra.c")
  echo 'LIBC { local: standin_*; };' >"$WORK/$lib.map"
  "$CC" -shared -fPIC -O2 -Wl,--version-script="$WORK/$lib.map" -Wl,-soname,$lib.so \
    -o "$OUT/$lib.so" "$asm" "${extra[@]}"
done
# glibc's libm loaded by the runner serves the tests' unversioned math imports (nextafterf).
"$CC" -O2 -Wall -o "$OUT/dlopen_runner" "$HERE/dlopen_runner.c" -ldl -Wl,--no-as-needed -lm
