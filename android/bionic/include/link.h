// bionic overlay: on 32-bit ARM, bionic's <link.h> declares dl_unwind_find_exidx (libdl.so),
// through which libunwind finds the exception index table (ARM EHABI) of the library holding
// a PC; musl has no such function.
#ifndef BITLITE_BIONIC_LINK_H_
#define BITLITE_BIONIC_LINK_H_
#include_next <link.h>
#if defined(__arm__)
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef uintptr_t _Unwind_Ptr;
_Unwind_Ptr dl_unwind_find_exidx(_Unwind_Ptr pc, int* entry_count);
#ifdef __cplusplus
}
#endif
#endif
#endif  // BITLITE_BIONIC_LINK_H_
