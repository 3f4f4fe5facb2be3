// bionic overlay: the pthread objects libc++ embeds (std::mutex, std::condition_variable,
// std::shared_mutex) live in our memory and are used by bionic, so their sizes must be
// bionic's (the static initializers are all zero in both). musl's match on LP64; 32-bit ones
// are declared in bits/alltypes.h. Checked here.
#ifndef BITLITE_BIONIC_PTHREAD_H_
#define BITLITE_BIONIC_PTHREAD_H_
#include_next <pthread.h>
#include "bionic_abi.h"

#if defined(__LP64__)
// bionic: int32_t __private[10], [12], [14]; key: int.
BITLITE_BIONIC_LAYOUT(sizeof(pthread_mutex_t) == 40, "pthread_mutex_t");
BITLITE_BIONIC_LAYOUT(sizeof(pthread_cond_t) == 48, "pthread_cond_t");
BITLITE_BIONIC_LAYOUT(sizeof(pthread_rwlock_t) == 56, "pthread_rwlock_t");
BITLITE_BIONIC_LAYOUT(sizeof(pthread_key_t) == 4, "pthread_key_t");
BITLITE_BIONIC_LAYOUT(sizeof(pthread_t) == 8, "pthread_t");
#else
// bionic: int32_t __private[1], [1], [10]; key: int; pthread_t: long.
BITLITE_BIONIC_LAYOUT(sizeof(pthread_mutex_t) == 4, "pthread_mutex_t");
BITLITE_BIONIC_LAYOUT(sizeof(pthread_cond_t) == 4, "pthread_cond_t");
BITLITE_BIONIC_LAYOUT(sizeof(pthread_rwlock_t) == 40, "pthread_rwlock_t");
BITLITE_BIONIC_LAYOUT(sizeof(pthread_key_t) == 4, "pthread_key_t");
BITLITE_BIONIC_LAYOUT(sizeof(pthread_t) == 4, "pthread_t");
#endif
#endif  // BITLITE_BIONIC_PTHREAD_H_
