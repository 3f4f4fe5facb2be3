#!/usr/bin/env bash
# Gives a freshly built bitlite wheel (py3-none-linux_<arch>) the manylinux tag auditwheel
# derives from the symbol versions its delegate library needs, and moves it to OUT_DIR:
#
#   tools/manylinux_retag.sh PYTHON WHEEL OUT_DIR      (prints the new wheel's path on stdout)
#
# PYTHON must have auditwheel and wheel installed. Fails when the library fits no manylinux
# policy or needs more than manylinux_2_28 (glibc 2.28: Raspberry Pi OS Buster, Debian 10,
# RHEL 8): cc/src/libstdcxx_compat.cc keeps the library below that.
set -euo pipefail

[[ $# -eq 3 ]] || { echo "usage: $0 PYTHON WHEEL OUT_DIR" >&2; exit 2; }
PY=$1
WHEEL=$2
OUT=$(mkdir -p "$3" && cd "$3" && pwd)
NEWEST_ALLOWED=228  # manylinux_2_28, as major * 100 + minor

TAG=$("$PY" -m auditwheel show --json "$WHEEL" 2>/dev/null |
      "$PY" -c 'import json, sys; print(json.load(sys.stdin)["overall_tag"])')
if [[ ! $TAG =~ ^manylinux_([0-9]+)_([0-9]+)_ ]]; then
  "$PY" -m auditwheel show "$WHEEL" >&2 || true
  echo "the delegate library does not fit a manylinux policy (auditwheel: $TAG)" >&2
  exit 1
fi
if (( BASH_REMATCH[1] * 100 + BASH_REMATCH[2] > NEWEST_ALLOWED )); then
  "$PY" -m auditwheel show "$WHEEL" >&2 || true
  echo "the delegate library needs $TAG, newer than manylinux_2_28" >&2
  exit 1
fi
NAME=$(basename "$WHEEL")
rm -f "$OUT"/bitlite-*-py3-none-*"${TAG#manylinux_*_*_}".whl  # older builds for this arch
STAGE=$(dirname "$WHEEL")
"$PY" -m wheel tags --remove --platform-tag "$TAG" "$WHEEL" >/dev/null
FINAL=$(echo "$STAGE/${NAME%-linux_*}-$TAG.whl")
mv "$FINAL" "$OUT/"
echo "$OUT/$(basename "$FINAL")"
