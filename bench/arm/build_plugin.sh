#!/usr/bin/env bash
# Builds the instruction-counting qemu TCG plugin (insn_count_plugin.c) for the dynamic
# qemu-aarch64 of qemu-user (qemu-user-static cannot load plugins), prints the .so path.
#
#   bench/arm/build_plugin.sh [CACHE]      (CACHE default build/arm/qemu-src, outside git)
#
# Debian ships no qemu-plugin.h, so it is taken from the Debian source package of the
# installed qemu (same version: qemu refuses plugins built for a newer plugin API). The
# deb-src sources are derived from the machine's own apt configuration, in a private apt
# state under CACHE: the system's package lists and sources are never changed.
# Needs: apt-get, qemu-user, gcc, libglib2.0-dev (the header includes glib.h).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=$(mkdir -p "${1:-$REPO/build/arm/qemu-src}" && cd "${1:-$REPO/build/arm/qemu-src}" && pwd)
HEADER=$CACHE/include/qemu/qemu-plugin.h
SO=$CACHE/libinsn_count.so

command -v qemu-aarch64 >/dev/null || { echo "qemu-aarch64 not found: apt-get install qemu-user" >&2; exit 1; }
pkg-config --exists glib-2.0 || { echo "glib headers missing: apt-get install libglib2.0-dev" >&2; exit 1; }

# deb-src copies of every configured source (deb822 .sources files and one-line lists).
write_src_sources() {
  local parts=$CACHE/apt/sources.list.d f
  rm -rf "$parts" && mkdir -p "$parts"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e $f ]] && sed 's/^Types: *deb$/Types: deb-src/' "$f" > "$parts/$(basename "$f")"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -e $f ]] && sed -n 's/^deb /deb-src /p' "$f" > "$parts/$(basename "$f")"
  done
  return 0
}

apt_src() {
  apt-get -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$CACHE/apt/sources.list.d" \
    -o Dir::State::Lists="$CACHE/apt/lists" -o Dir::Cache="$CACHE/apt/cache" \
    -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=3 "$@"
}

fetch_header() {
  # The source version (without a binNMU suffix such as +b3) of the installed qemu-user.
  local version tarball
  version=$(dpkg-query -W -f='${source:Version}' qemu-user)
  write_src_sources
  mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/cache" "$CACHE/dl"
  apt_src update -qq
  # The exact version may have left the mirror after a point release; any same-upstream
  # version carries the same plugin header.
  (cd "$CACHE/dl" && { apt_src source --download-only "qemu=$version" ||
                       apt_src source --download-only qemu; }) >&2
  tarball=$(ls "$CACHE"/dl/qemu_*.orig.tar.* | head -1)
  tar -xf "$tarball" -C "$CACHE/dl" --wildcards '*/include/qemu/qemu-plugin.h'
  mkdir -p "$(dirname "$HEADER")"
  mv "$CACHE"/dl/*/include/qemu/qemu-plugin.h "$HEADER"
  # Only the header is kept: the sources are 20+ MB.
  rm -rf "$CACHE/dl"
}

[[ -f $HEADER ]] || fetch_header
SOURCES=("$HERE/insn_count_plugin.c" "$HERE/cache_sim.c")
stale() { local f; for f in "$HEADER" "${SOURCES[@]}" "$HERE/cache_sim.h"; do [[ $f -nt $SO ]] && return 0; done; return 1; }
if [[ ! -f $SO ]] || stale; then
  # shellcheck disable=SC2046  # pkg-config prints several flags
  gcc -O2 -shared -fPIC -Wall -Wextra -Wno-unused-parameter -o "$SO" -I"$CACHE/include/qemu" \
    $(pkg-config --cflags glib-2.0) "${SOURCES[@]}"
fi
echo "$SO"
