#!/usr/bin/env bash
# Creates an emulated ARM Linux Python with a TFLite runtime, to run bitlite's ARM wheel under
# qemu-user on an x86 machine (there is no ARM hardware in CI):
#   aarch64: Debian arm64 python3.11 + ai-edge-litert 2.3.0 + numpy (PyPI aarch64 wheels)
#   armv7l:  Debian armhf python3.11 + python3-numpy:armhf (PyPI has no armv7 numpy wheels)
#            + tflite-runtime 2.14.0 (there is no armv7 ai-edge-litert wheel)
#   aarch64-bullseye: Debian 11 (Raspberry Pi OS Bullseye class: glibc 2.31) arm64 python3.9
#            with Debian 11's own pip 20.3.4 + tflite-runtime 2.13.0 and ai-edge-litert 1.4.0
#            (the newest of each with a cp39 aarch64 wheel for glibc <= 2.31) + numpy<2
#
#   tools/arm/setup_emulated_python.sh ARCH DEST [BITLITE_WHEEL]
#
# ARCH is aarch64, armv7l or aarch64-bullseye. DEST is a cache directory outside git (e.g.
# build/arm/aarch64); every step is skipped when its result is already there, so re-running is
# cheap. With a BITLITE_WHEEL, the emulated pip installs it (and checks its dependencies
# resolve) and the emulated Python imports it. Afterwards DEST/python runs the emulated
# interpreter (see make_wrapper below for the CPU models). Needs: apt-get, dpkg-deb, qemu-user,
# python3 + pip.
set -euo pipefail

usage() { echo "usage: $0 aarch64|armv7l|aarch64-bullseye DEST [BITLITE_WHEEL]" >&2; exit 2; }
[[ $# -ge 2 && $# -le 3 ]] || usage
ARCH=$1
DEST=$(mkdir -p "$2" && cd "$2" && pwd)
WHEEL=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)

# SUITE: empty for the machine's own Debian release (its apt sources as they are), else a Debian
# release fetched from the machine's Debian mirror. PY: the Python version of that release.
SUITE='' PY=3.11
case $ARCH in
  aarch64)
    DEB_ARCH=arm64 QEMU=qemu-aarch64 DEFAULT_CPU=neoverse-n1
    DEB_PACKAGES=(python3.11 python3.11-venv libstdc++6)
    # manylinux_2_27/2_28: ai-edge-litert and ml_dtypes; 2_17: numpy. Debian 12 has glibc 2.36.
    PIP_PLATFORMS=(manylinux2014_aarch64 manylinux_2_17_aarch64 manylinux_2_27_aarch64
                   manylinux_2_28_aarch64)
    # The versions bitlite is tested against (numpy<2 as in requirements-dev.txt).
    PIP_PACKAGES=(ai-edge-litert==2.3.0 "numpy<2" flatbuffers)
    PIP_NO_DEPS=() ;;
  armv7l)
    DEB_ARCH=armhf QEMU=qemu-arm DEFAULT_CPU=cortex-a7
    DEB_PACKAGES=(python3.11 python3.11-venv libstdc++6 python3-numpy)
    PIP_PLATFORMS=(manylinux_2_34_armv7l linux_armv7l)
    PIP_PACKAGES=(flatbuffers)
    # Its only dependency, numpy>=1.23.2, is Debian's python3-numpy (1.24) here.
    PIP_NO_DEPS=(tflite-runtime==2.14.0) ;;
  aarch64-bullseye)
    # The oldest glibc and Python bitlite's aarch64 wheel is meant for. The default CPU is the
    # Pi 4's (what Bullseye mostly runs on); the wheel's tag is checked by Debian 11's own pip.
    DEB_ARCH=arm64 QEMU=qemu-aarch64 DEFAULT_CPU=cortex-a72 SUITE=bullseye PY=3.9
    DEB_PACKAGES=(python3.9 python3.9-venv libstdc++6)
    # Every manylinux tag glibc 2.31 accepts that these packages use; the emulated pip then
    # checks each wheel against the real interpreter. tflite-runtime 2.14.0's aarch64 wheels
    # are manylinux_2_34 only, so 2.13.0 is the newest a Bullseye system can install.
    PIP_PLATFORMS=(manylinux2014_aarch64 manylinux_2_17_aarch64 manylinux_2_24_aarch64
                   manylinux_2_27_aarch64 manylinux_2_28_aarch64 manylinux_2_31_aarch64)
    PIP_PACKAGES=(tflite-runtime==2.13.0 ai-edge-litert==1.4.0 "numpy<2" flatbuffers)
    PIP_NO_DEPS=() ;;
  *) usage ;;
esac
command -v "$QEMU" >/dev/null || { echo "$QEMU not found: apt-get install qemu-user" >&2; exit 1; }

ROOT=$DEST/root
APT_DIR=$DEST/apt
WHEELS=$DEST/wheels
VENV=$DEST/venv

# Runs a step and prints how long it took (CI must stay within its time budget).
step() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  echo "[setup $ARCH] $name: $((SECONDS - start)) s" >&2
}

# A private apt state for the target architecture only: the machine's own sources, keys and
# proxy settings (/etc/apt) are used as they are, but its package lists, dpkg database and
# foreign-architecture setting are never touched, so this needs no dpkg --add-architecture.
# With a SUITE, the sources are a private list of that release on the machine's Debian mirror
# instead (no mirror name is written here; the keys are the machine's debian-archive-keyring).
apt_target() {
  local sources=()
  [[ -n $SUITE ]] && sources=(-o Dir::Etc::sourcelist="$APT_DIR/sources.list"
                              -o Dir::Etc::sourceparts="$APT_DIR/sources.list.d")
  apt-get -q -o APT::Architecture="$DEB_ARCH" -o APT::Architectures="$DEB_ARCH" "${sources[@]}" \
    -o Dir::State::Lists="$APT_DIR/lists" -o Dir::State::status="$APT_DIR/status" \
    -o Dir::Cache="$APT_DIR/cache" -o Dir::Cache::archives="$APT_DIR/archives" \
    -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=3 "$@"
}

download_debs() {
  # From scratch: a package dropped from the list must not stay in archives/ to be unpacked.
  rm -rf "$APT_DIR"
  mkdir -p "$APT_DIR"/lists/partial "$APT_DIR"/cache "$APT_DIR"/archives/partial
  # Empty dpkg status: nothing counts as installed, so apt downloads the whole closure.
  : > "$APT_DIR/status"
  if [[ -n $SUITE ]]; then
    # The machine's mirror of the main Debian archive (label "Debian", not Debian-Security).
    local mirror
    mirror=$(apt-get indextargets --format '$(LABEL) $(REPO_URI)' 'Created-By: Packages' |
             awk '$1 == "Debian" { print $2; exit }')
    [[ -n $mirror ]] || { echo "[setup $ARCH] no Debian mirror in the apt sources" >&2; exit 1; }
    mkdir -p "$APT_DIR/sources.list.d"
    echo "deb $mirror $SUITE main" > "$APT_DIR/sources.list"
  fi
  # A suite whose index is momentarily inconsistent on the mirror (seen: bookworm-security
  # armhf, "File has unexpected size") must not stop the run: apt resolves with the suites it
  # got, and the install below still fails if the packages cannot be had.
  apt_target update -qq || echo "[setup $ARCH] warning: some $DEB_ARCH indexes were not" \
    "updated (see above); resolving with the others" >&2
  apt_target install -qq -y -d --no-install-recommends "${DEB_PACKAGES[@]}" >/dev/null
}

# Unpacks the packages without running maintainer scripts (they would need the target CPU and
# only matter for a real system): enough for the interpreter and its libraries.
unpack_sysroot() {
  local tmp=$DEST/root.tmp deb
  rm -rf "$tmp"
  mkdir -p "$tmp"
  for deb in "$APT_DIR"/archives/*.deb; do dpkg-deb -x "$deb" "$tmp"; done
  # The one maintainer-script effect needed: Debian's numpy links libblas.so.3/liblapack.so.3,
  # which libblas3/liblapack3 provide only through update-alternatives links made at install.
  local lib multiarch
  for lib in blas lapack; do
    for multiarch in "$tmp"/usr/lib/*-linux-gnu*/; do
      if [[ -e $multiarch/$lib/lib$lib.so.3 && ! -e $multiarch/lib$lib.so.3 ]]; then
        ln -s "$lib/lib$lib.so.3" "$multiarch/lib$lib.so.3"
      fi
    done
  done
  rm -rf "$ROOT"
  mv "$tmp" "$ROOT"
}

# /proc/cpuinfo as an ARM Linux kernel writes it. qemu-user shows the guest the host's x86
# file, which makes the runtimes' CPU detection (pytorch/cpuinfo in TFLite/XNNPACK) crash; qemu
# serves ROOT/proc/cpuinfo instead because -L redirects every absolute path that exists under
# ROOT. One sysroot per CPU model (symlinks to ROOT plus its own proc/cpuinfo), so a core
# without dotprod also says so in its Features line, matching the HWCAP qemu gives it.
#   cpu_root NAME PART ARCHITECTURE MODEL_NAME FEATURES
cpu_root() {
  local name=$1 part=$2 architecture=$3 model=$4 features=$5 dir=$DEST/cpu/$1 entry i
  rm -rf "$dir"
  mkdir -p "$dir/proc"
  for entry in "$ROOT"/*; do ln -s "../../root/$(basename "$entry")" "$dir/"; done
  # As many processors as the host has online: the runtimes match /sys (host) against it.
  for ((i = 0; i < $(nproc); i++)); do
    echo "processor	: $i"
    [[ -n $model ]] && echo "model name	: $model"
    echo "BogoMIPS	: 108.00"
    echo "Features	: $features"
    echo "CPU implementer	: 0x41"
    echo "CPU architecture: $architecture"
    echo "CPU variant	: 0x0"
    echo "CPU part	: $part"
    echo "CPU revision	: 1"
    echo
  done > "$dir/proc/cpuinfo"
}

make_cpu_roots() {
  rm -rf "$DEST/cpu"
  if [[ $DEB_ARCH == arm64 ]]; then
    local base="fp asimd evtstrm crc32 cpuid"
    local v82="aes pmull sha1 sha2 atomics fphp asimdhp asimdrdm lrcpc dcpop"
    cpu_root cortex-a53 0xd03 8 "" "$base"                                  # Pi 3, Zero 2
    cpu_root cortex-a72 0xd08 8 "" "$base"                                  # Pi 4
    cpu_root cortex-a76 0xd0b 8 "" "$base $v82 asimddp"                     # Pi 5
    cpu_root neoverse-n1 0xd0c 8 "" "$base $v82 asimddp ssbs"               # A76-class server
  else
    local v7="half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm"
    cpu_root cortex-a7 0xc07 7 "ARMv7 Processor rev 5 (v7l)" "$v7"          # Pi 2
    cpu_root cortex-a15 0xc0f 7 "ARMv7 Processor rev 3 (v7l)" "$v7"
  fi
}

# DEST/python: the emulated interpreter of the venv. BITLITE_QEMU_CPU picks the qemu CPU model
# (and the matching cpuinfo); only the models set up above are accepted, so a typo cannot
# silently fall back to qemu's "max" CPU. Paths are found relative to the script itself.
make_wrapper() {
  cat > "$DEST/python.tmp" <<EOF
#!/usr/bin/env bash
# Emulated $ARCH Python made by tools/arm/setup_emulated_python.sh.
# BITLITE_QEMU_CPU: one of $(cd "$DEST/cpu" && echo *) (default $DEFAULT_CPU).
set -euo pipefail
here=\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)
cpu=\${BITLITE_QEMU_CPU:-$DEFAULT_CPU}
if [[ ! -d \$here/cpu/\$cpu ]]; then
  echo "BITLITE_QEMU_CPU=\$cpu: not one of: \$(cd "\$here/cpu" && echo *)" >&2
  exit 2
fi
# No host user site (~/.local, x86 packages): qemu would let it through to the guest.
PYTHONNOUSERSITE=1 exec $QEMU -L "\$here/cpu/\$cpu" -cpu "\$cpu" "\$here/venv/bin/python" "\$@"
EOF
  chmod +x "$DEST/python.tmp"
  mv "$DEST/python.tmp" "$DEST/python"
}

# The venv is made by the emulated Python itself, which also proves the interpreter runs.
# --without-pip: venv and ensurepip start pip as a subprocess, and qemu-user cannot exec an
# ARM binary from inside the guest (that would need binfmt_misc). Debian's bundled pip wheel is
# run directly instead (pip runs from its wheel) and installs itself into the venv; installing
# wheels happens in-process. --system-site-packages: armhf numpy comes from Debian.
make_venv() {
  rm -rf "$VENV"
  env -u PYTHONPATH -u PYTHONHOME "$QEMU" -L "$DEST/cpu/$DEFAULT_CPU" -cpu "$DEFAULT_CPU" \
    "$ROOT/usr/bin/python$PY" -m venv --without-pip --system-site-packages "$VENV"
  local pip_wheel
  pip_wheel=$(echo "$ROOT"/usr/share/python-wheels/pip-*.whl)
  guest "$pip_wheel/pip" install -q --no-index --disable-pip-version-check "$pip_wheel"
}

# The host's pip fetches the target's wheels (fast, no emulation); the emulated pip installs
# them offline, so it checks their tags against the real target interpreter.
download_wheels() {
  local platform_args=() p
  for p in "${PIP_PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
  local common=(download -q --only-binary=:all: "${platform_args[@]}" --python-version "$PY"
                --implementation cp --abi "cp${PY/./}" -d "$WHEELS.tmp")
  rm -rf "$WHEELS.tmp"
  python3 -m pip "${common[@]}" "${PIP_PACKAGES[@]}"
  if [[ ${#PIP_NO_DEPS[@]} -gt 0 ]]; then
    python3 -m pip "${common[@]}" --no-deps "${PIP_NO_DEPS[@]}"
  fi
  rm -rf "$WHEELS"
  mv "$WHEELS.tmp" "$WHEELS"
}

# Runs the emulated Python without the host settings that would reach it: PYTHONPATH (a host
# folder on it would shadow the installed wheel), BITLITE_DELEGATE_LIBRARY (an x86 library),
# and the host's pip configuration (x86 find-links, indexes; qemu falls back to host paths
# for /etc/pip.conf).
guest() {
  env -u PYTHONPATH -u PYTHONHOME -u BITLITE_DELEGATE_LIBRARY PIP_CONFIG_FILE=/dev/null \
    BITLITE_QEMU_CPU="$DEFAULT_CPU" "$DEST/python" "$@"
}
emulated_pip() { guest -m pip "$@"; }

install_runtime() {
  emulated_pip install -q --no-index --find-links "$WHEELS" --disable-pip-version-check \
    "${PIP_PACKAGES[@]}" "${PIP_NO_DEPS[@]}"
}

# Stamps record which inputs a step was made from, so a changed package list redoes it.
stamp_ok() { [[ -f $DEST/.$1 && $(cat "$DEST/.$1") == "$2" ]]; }
stamp() { echo "$2" > "$DEST/.$1"; }

KEY_DEBS="${SUITE:+$SUITE }${DEB_PACKAGES[*]}"
KEY_WHEELS="${PIP_PACKAGES[*]} ${PIP_NO_DEPS[*]} ${PIP_PLATFORMS[*]}"
if ! stamp_ok debs "$KEY_DEBS"; then
  rm -f "$DEST"/.cpus "$DEST"/.venv "$DEST"/.runtime
  step "download Debian $DEB_ARCH packages" download_debs
  step "unpack sysroot" unpack_sysroot
  stamp debs "$KEY_DEBS"
fi
# Remade only when missing or the core count changed: tests may be using them right now.
if ! stamp_ok cpus "$(nproc)"; then
  make_cpu_roots
  stamp cpus "$(nproc)"
fi
make_wrapper
if ! stamp_ok venv "$KEY_DEBS"; then
  rm -f "$DEST"/.runtime
  step "emulated venv" make_venv
  stamp venv "$KEY_DEBS"
fi
if ! stamp_ok runtime "$KEY_WHEELS"; then
  step "download wheels" download_wheels
  step "emulated pip install runtime" install_runtime
  stamp runtime "$KEY_WHEELS"
fi

if [[ -n $WHEEL ]]; then
  # --force-reinstall --no-deps: a rebuilt wheel keeps its version; pip check then proves its
  # dependencies (numpy, flatbuffers) are satisfied in the emulated environment.
  step "emulated pip install $(basename "$WHEEL")" emulated_pip install -q --no-index \
    --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
  emulated_pip check --disable-pip-version-check
  guest "$HERE/check_import.py"
fi
echo "[setup $ARCH] ready: $DEST/python" >&2
