// bionic overlay: errno is `*__errno()` in bionic; musl's header would name
// __errno_location, which bionic does not export.
#ifndef BITLITE_BIONIC_ERRNO_H_
#define BITLITE_BIONIC_ERRNO_H_
#include_next <errno.h>
#undef errno
#ifdef __cplusplus
extern "C" {
#endif
int* __errno(void) __attribute__((__const__));
#ifdef __cplusplus
}
#endif
#define errno (*__errno())
#endif  // BITLITE_BIONIC_ERRNO_H_
