# Android build with zig (PyPI `ziglang`) as clang, lld and libc++, against the sysroot that
# tools/android/make_sysroot.sh generates (our bionic overlay, musl declarations, stub libc.so
# and libdl.so). `make android` runs it; by hand:
#
#   cmake -S cc -B build/android/arm64-v8a -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=cc/toolchains/android-zig.cmake \
#         -DBITLITE_ANDROID_SYSROOT=$PWD/build/android/sysroot-arm64-v8a \
#         -DBITLITE_ANDROID_ABI=arm64-v8a       (or armeabi-v7a, with its sysroot)
#
# With the real NDK use its toolchain file instead (android/README.md); this one only
# stands in for it where the NDK cannot be downloaded.
set(CMAKE_SYSTEM_NAME Linux)  # zig is not an NDK: CMake's Android platform module would look for one
set(ANDROID ON)
set(BITLITE_ANDROID_API 24)  # Android 7.0, the TFLite AAR's minSdk

# Passed on to try_compile projects, which configure with this file again.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES BITLITE_ANDROID_SYSROOT BITLITE_ANDROID_ABI)
set(BITLITE_ANDROID_SYSROOT "" CACHE PATH "output of tools/android/make_sysroot.sh (absolute)")
set(BITLITE_ANDROID_ABI arm64-v8a CACHE STRING "arm64-v8a or armeabi-v7a (the sysroot's)")
if(BITLITE_ANDROID_ABI STREQUAL "armeabi-v7a")
  set(CMAKE_SYSTEM_PROCESSOR armv7-a)  # cc/ then compiles the NEON files with -mfpu=neon
else()
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
endif()
# The sysroot's wrapper runs `zig c++ -target aarch64-linux-android.24` with ZIG_LIBC set
# (zig takes a sysroot's paths only from that environment variable).
set(CMAKE_CXX_COMPILER ${BITLITE_ANDROID_SYSROOT}/zig-c++)

# No executables can be linked without crt objects (an NDK-free build has none), so CMake's
# compiler checks build static libraries; the libc stub has pthread_create.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_HAVE_LIBC_PTHREAD 1)

# Android 15 devices may use 16 KB pages; every undefined symbol must resolve in the stubs;
# stripped, as the Android Gradle plugin strips what it packages.
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-z,max-page-size=16384 -Wl,-z,defs -s")
