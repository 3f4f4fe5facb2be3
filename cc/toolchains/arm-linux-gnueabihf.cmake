# Cross build for 32-bit ARM Linux (armv7l: Raspberry Pi 2 and any Pi running a 32-bit OS) with
# Debian's g++-arm-linux-gnueabihf, and run the cross-built tests under qemu-arm (qemu-user).
#
#   cmake -S cc -B build/cc-armv7 -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=cc/toolchains/arm-linux-gnueabihf.cmake -DBITLITE_BUILD_TESTS=ON
#   cmake --build build/cc-armv7 && ctest --test-dir build/cc-armv7
#
# Debian's armhf default is VFPv3-D16 without NEON; every Cortex-A7 and later core (all armv7
# Pis) has NEON with VFPv4, so the kernels may use NEON unconditionally.
set(BITLITE_TRIPLE arm-linux-gnueabihf)
set(BITLITE_QEMU qemu-arm)
set(BITLITE_ARCH_FLAGS "-march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard")
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross-common.cmake)
