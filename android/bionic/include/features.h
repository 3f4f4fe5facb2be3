// bionic overlay (see bionic_abi.h): every musl header includes <features.h> first, so this
// is where the build says it targets bionic. libc++ and libc++abi test __BIONIC__ (which
// bionic's <sys/cdefs.h> defines) to pick bionic's ctype table layout and abort messages.
#define __BIONIC__ 1
#include_next <features.h>
