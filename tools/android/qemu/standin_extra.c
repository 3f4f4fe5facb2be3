// The parts of the stand-in libc.so that are not a jump to a glibc function of the same
// calling convention (make_standin_libs.sh generates those).
#include <stdio.h>

// bionic exports stderr as a FILE* variable (version LIBC); the stand-in's holds glibc's.
FILE* standin_stderr;
__asm__(".symver standin_stderr, stderr@LIBC");

__attribute__((constructor)) static void point_at_glibc_streams(void) { standin_stderr = stderr; }

// bionic records the message for the tombstone; here it goes to stderr.
void standin_android_set_abort_message(const char* message) {
  fprintf(stderr, "android_set_abort_message: %s\n", message);
}
__asm__(".symver standin_android_set_abort_message, android_set_abort_message@LIBC");
