// The bionic ABI of the Android build, as far as the delegate uses it.
//
// No bionic headers are reachable here (no NDK), so the Android build compiles against the
// musl headers that ship inside the ziglang wheel: musl and bionic declare the same POSIX
// functions, and both take constants (errno values, clock ids, syscall numbers, auxv tags) from
// the Linux kernel. Where the two differ, this directory overlays musl's header with bionic's
// ABI (errno.h, features.h), and the checks below and in abi_checks.c stop the build if a
// layout or constant the delegate relies on is not bionic's. The symbols themselves are
// listed in tools/android/*.symbols, from which the stub libraries are generated.
#ifndef BITLITE_BIONIC_ABI_H_
#define BITLITE_BIONIC_ABI_H_

#ifdef __cplusplus
#define BITLITE_BIONIC_LAYOUT(condition, what) static_assert(condition, "bionic ABI: " what)
#else
#define BITLITE_BIONIC_LAYOUT(condition, what) _Static_assert(condition, "bionic ABI: " what)
#endif

#endif  // BITLITE_BIONIC_ABI_H_
