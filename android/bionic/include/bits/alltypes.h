// bionic overlay, 32-bit (armeabi-v7a) only: the types of musl's <bits/alltypes.h> that are not
// bionic's there. musl's time_t is 64 bits on every architecture, and its 32-bit headers
// rename the time functions to time64 versions (clock_gettime -> __clock_gettime64) that
// bionic does not have; bionic's 32-bit time_t is a long. Its pthread objects have other sizes
// (pthread.h checks them). No include guard: musl includes this file once per batch of
// __NEED_ macros, and it defines each type once (__DEFINED_).
#if !defined(__LP64__)
#if defined(__NEED_time_t) && !defined(__DEFINED_time_t)
typedef long time_t;
#define __DEFINED_time_t
#endif
// bionic: int32_t __private[1], [1], [10].
#if defined(__NEED_pthread_mutex_t) && !defined(__DEFINED_pthread_mutex_t)
typedef struct { int __private[1]; } pthread_mutex_t;
#define __DEFINED_pthread_mutex_t
#endif
#if defined(__NEED_pthread_cond_t) && !defined(__DEFINED_pthread_cond_t)
typedef struct { int __private[1]; } pthread_cond_t;
#define __DEFINED_pthread_cond_t
#endif
#if defined(__NEED_pthread_rwlock_t) && !defined(__DEFINED_pthread_rwlock_t)
typedef struct { int __private[10]; } pthread_rwlock_t;
#define __DEFINED_pthread_rwlock_t
#endif
#endif

#include_next <bits/alltypes.h>

#if !defined(__LP64__)
#undef _REDIR_TIME64  // no time64 renames: bionic's 32-bit functions keep their names
#endif
