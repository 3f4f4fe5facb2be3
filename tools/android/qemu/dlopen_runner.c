// Runs a C++ test built by the Android toolchain under qemu-aarch64: there is no bionic
// loader here, and no Android crt files to link executables, so each test is a shared object
// exporting main(), which this glibc program loads and calls.
//
//   dlopen_runner TEST.so [ARGS...]
//
// The test's NEEDED libc.so and libdl.so are the glibc-backed stand-ins in LD_LIBRARY_PATH
// (make_standin_libs.sh).
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TEST.so [ARGS...]\n", argv[0]);
    return 2;
  }
  void* test = dlopen(argv[1], RTLD_NOW);
  if (test == NULL) {
    fprintf(stderr, "dlopen_runner: %s\n", dlerror());
    return 2;
  }
  int (*test_main)(int, char**) = (int (*)(int, char**))dlsym(test, "main");
  if (test_main == NULL) {
    fprintf(stderr, "dlopen_runner: %s\n", dlerror());
    return 2;
  }
  return test_main(argc - 1, argv + 1);
}
