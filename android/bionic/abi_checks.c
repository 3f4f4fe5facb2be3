// Compiled (not linked) by tools/android/make_sysroot.sh against the generated sysroot:
// bionic's values for the types and constants behind the delegate's imports
// (tools/android/libc.symbols) that <pthread.h>'s overlay does not already check.
#include <dlfcn.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>

#include "bionic_abi.h"

#if defined(__LP64__)
// clock_gettime (std::chrono::steady_clock).
BITLITE_BIONIC_LAYOUT(sizeof(struct timespec) == 16 && offsetof(struct timespec, tv_nsec) == 8,
                      "struct timespec");
// dladdr (libunwind): const char* dli_fname; void* dli_fbase; const char* dli_sname;
// void* dli_saddr.
BITLITE_BIONIC_LAYOUT(sizeof(Dl_info) == 32 && offsetof(Dl_info, dli_saddr) == 24, "Dl_info");
#else
// 32-bit: time_t is a long (bits/alltypes.h), pointers are 4 bytes.
BITLITE_BIONIC_LAYOUT(sizeof(struct timespec) == 8 && offsetof(struct timespec, tv_nsec) == 4,
                      "struct timespec");
BITLITE_BIONIC_LAYOUT(sizeof(Dl_info) == 16 && offsetof(Dl_info, dli_saddr) == 12, "Dl_info");
#endif
BITLITE_BIONIC_LAYOUT(CLOCK_MONOTONIC == 1 && CLOCK_REALTIME == 0, "clock ids");
// getauxval (kernels/cpu_features.cc).
BITLITE_BIONIC_LAYOUT(AT_HWCAP == 16 && AT_HWCAP2 == 26, "auxv tags");
// syscall (libc++'s futex-based atomic wait).
#if defined(__aarch64__)
BITLITE_BIONIC_LAYOUT(SYS_futex == 98, "futex syscall number (arm64)");
#elif defined(__arm__)
BITLITE_BIONIC_LAYOUT(SYS_futex == 240, "futex syscall number (arm)");
#endif
// openlog/syslog (libc++abi's abort message).
BITLITE_BIONIC_LAYOUT(LOG_CRIT == 2,
                      "syslog priority");
