/* A guest program whose instruction and cache-miss counts are known in advance, for
 * test_plugin.py. Every measured region is one asm block that starts and ends with the
 * plugin's marker syscall made by a bare svc (no libc call: nothing else runs or touches
 * memory between the two markers), so the counts between markers are exact.
 *
 *   markers 0-1: a 3-instruction loop run LOOP_SHORT times; 2-3: the same, LOOP_LONG times
 *   markers 4-5: loads at a 64-byte stride over WALK_BYTES of untouched memory (cold)
 *   markers 6-7: the same walk again (now in L2, not in a smaller L1)
 *   markers 8-9: loads at an 8-byte stride over another WALK_BYTES (8 loads per line)
 */
#include <stdint.h>

#define LOOP_SHORT 1000
#define LOOP_LONG 5000
#define WALK_BYTES 16384

static uint8_t walked[WALK_BYTES] __attribute__((aligned(64)));
static uint8_t walked_densely[WALK_BYTES] __attribute__((aligned(64)));

/* getppid (173) with the plugin's magic first argument; x8/x0/x1 are clobbered. */
#define MARKER(label) \
  "mov x8, #173\n movz x0, #0x5eed\n movk x0, #0xb17e, lsl #16\n mov x1, #" #label "\n svc #0\n"

#define CLOBBERS "x0", "x1", "x2", "x8", "x9", "x10", "memory", "cc"

static void counted_loop(uint64_t iterations) {
  /* Markers are made per call site: the labels differ for the two runs. */
  if (iterations == LOOP_SHORT) {
    __asm__ volatile(MARKER(0) "mov x9, %0\n 1: add x10, x10, #1\n sub x9, x9, #1\n cbnz x9, 1b\n"
                     MARKER(1) :: "r"(iterations) : CLOBBERS);
  } else {
    __asm__ volatile(MARKER(2) "mov x9, %0\n 1: add x10, x10, #1\n sub x9, x9, #1\n cbnz x9, 1b\n"
                     MARKER(3) :: "r"(iterations) : CLOBBERS);
  }
}

/* One load per `stride` bytes from `base` over WALK_BYTES, between markers `first` and +1. */
#define WALK(first, second, base, stride)                                                  \
  __asm__ volatile("mov x9, %0\n mov x10, %1\n" MARKER(first)                              \
                   "1: ldr x2, [x9], #" #stride "\n subs x10, x10, #1\n b.ne 1b\n"          \
                   MARKER(second) :: "r"(base), "r"((uint64_t)WALK_BYTES / stride)          \
                   : CLOBBERS)

int main(void) {
  counted_loop(LOOP_SHORT);
  counted_loop(LOOP_LONG);
  WALK(4, 5, walked, 64);
  WALK(6, 7, walked, 64);
  WALK(8, 9, walked_densely, 8);
  return 0;
}
