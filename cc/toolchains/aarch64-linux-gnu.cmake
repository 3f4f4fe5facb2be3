# Cross build for 64-bit ARM Linux (Raspberry Pi 3/4/5 class: Cortex-A53/A72/A76) with Debian's
# g++-aarch64-linux-gnu, and run the cross-built tests under Debian's qemu-aarch64 (qemu-user).
#
#   cmake -S cc -B build/cc-aarch64 -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=cc/toolchains/aarch64-linux-gnu.cmake \
#         -DBITLITE_BUILD_TESTS=ON -DBITLITE_QEMU_CPU=cortex-a53
#   cmake --build build/cc-aarch64 && ctest --test-dir build/cc-aarch64
#
# No -march: the compiler's default (armv8-a) runs on every 64-bit Pi; kernels that need
# dotprod must enable it per function and dispatch on HWCAP at run time.
set(BITLITE_TRIPLE aarch64-linux-gnu)
set(BITLITE_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross-common.cmake)
