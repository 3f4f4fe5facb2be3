// The start file every Android shared object links first (the NDK's crtbegin_so.o does the
// same): a __dso_handle of its own, the key under which __cxa_atexit records this library's
// static destructors, and a destructor that runs them when the library is unloaded.
void __cxa_finalize(void* dso_handle);

__attribute__((visibility("hidden"))) void* __dso_handle = &__dso_handle;

__attribute__((destructor)) static void run_static_destructors_on_unload(void) {
  __cxa_finalize(&__dso_handle);
}
