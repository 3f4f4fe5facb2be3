# Sourced by qemu_ctest.sh and kernel_digests.sh (REPO set): the C++ tests built by the Android
# toolchain as shared objects, run under qemu-aarch64 through tools/android/qemu's runner and
# glibc-backed stand-in libc.
# The AAR's arm64-v8a tree (tools/android/build.sh's): the tests reuse its compiled core, and
# once configured there they build with the AAR's libraries.
ANDROID_TESTS=$REPO/build/android/arm64-v8a
STANDIN=$REPO/build/android/qemu-standin

# Builds the stand-ins and the tests, with ctest's emulator set to qemu -cpu $1.
android_test_tree() {
  local cpu=$1
  "$REPO/tools/android/qemu/make_standin_libs.sh" "$STANDIN"
  # Tests import more of libc than the delegate (getenv, ...): -z undefs, on the tests only,
  # lets those stay unversioned, and glibc serves them. Reconfiguring for another CPU
  # recompiles nothing.
  "$REPO/tools/android/build.sh" arm64-v8a \
    -DBITLITE_BUILD_TESTS=ON -DBITLITE_HAVE_SANITIZERS=OFF -DBITLITE_QEMU_CPU="$cpu" \
    -DBITLITE_TEST_RUNNER="$STANDIN/dlopen_runner" \
    "-DCMAKE_CROSSCOMPILING_EMULATOR=$(android_qemu "$cpu" | tr ' ' ';')" \
    "-DBITLITE_TEST_LINK_OPTIONS=-Wl,-z,undefs"
}

# The qemu command line that runs the runner on CPU $1.
android_qemu() {
  echo "qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu $1 -E LD_LIBRARY_PATH=$STANDIN"
}
