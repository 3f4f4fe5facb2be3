// Keeps the delegate loadable with the libstdc++ of older Linux systems, so its wheels carry a
// manylinux tag pip accepts there (Raspberry Pi OS Buster: GCC 8's GLIBCXX_3.4.25).
//
// Built with GCC 12's headers, the library imports only GLIBCXX_3.4.22 (GCC 6) symbols or
// older, except two that GCC 11 and 12 introduced. Both are defined here, inside the delegate
// (the version script keeps them unexported), exactly as libstdc++ defines them:
// - std::__throw_bad_array_new_length (GLIBCXX_3.4.29), called by `new T[n]` on overflow;
// - std::condition_variable::wait (GLIBCXX_3.4.30, a new version of a GLIBCXX_3.4.11 symbol).
// libc++ (Android) and older libstdc++ have neither import: nothing to do there.
#include <condition_variable>
#include <mutex>
#include <new>

#if defined(__GLIBCXX__) && defined(_GLIBCXX_RELEASE)

namespace std {

#if _GLIBCXX_RELEASE >= 11
void __throw_bad_array_new_length() { throw bad_array_new_length(); }
#endif

#if _GLIBCXX_RELEASE >= 12
void condition_variable::wait(unique_lock<mutex>& lock) {
  // What libstdc++ does: pthread_cond_wait, whose only failure is a caller's bug.
  pthread_cond_wait(native_handle(), lock.mutex()->native_handle());
}
#endif

}  // namespace std

#endif
