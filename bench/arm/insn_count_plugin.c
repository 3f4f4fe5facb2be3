/* qemu TCG plugin: counts the guest instructions executed (qemu-user, e.g. qemu-aarch64).
 *
 *   qemu-aarch64 -plugin libinsn_count.so[,out=FILE][,lo=ADDR,hi=ADDR][,profile=FILE]
 *                [,code=FILE][,l1=SIZE:WAYS:LINE[,l2=...][,l3=...][,prefetch=N]]
 *                -d plugin PROGRAM
 *
 * Prints "total N" at exit: to FILE, else through qemu's log (stderr with -d plugin).
 * lo/hi (hex or decimal): only instructions at guest addresses in [lo, hi) count.
 * Markers: a guest syscall getppid(MARKER_MAGIC, label) prints "marker label N" with the
 * count so far, so one process can measure several regions (what an invoke costs, without
 * process start-up); the bench's driver makes these calls through ctypes.
 * profile=FILE: also counts executions per translated block; at each marker writes
 * "marker label" and then "pc insns execs" for every block run since the previous marker
 * (profile_op.py maps the pcs to functions).
 * Counting is a per-block inline add (cheap, exact unless a block exits early on a fault).
 * code=FILE: writes each translated block once, as "pc word word ..." (its instructions'
 * 32-bit encodings in hex), so the host can disassemble it and model its cycles.
 * l1=SIZE:WAYS:LINE[,l2=...][,l3=...][,prefetch=N]: feeds every data access to a cache
 * simulation (cache_sim.c) and prints "cache label accesses misses ..." (per level, demand
 * only, cumulative) after each marker line.
 * The counter is shared by all guest threads without atomics: run single-threaded guests.
 * Built by build_plugin.sh against the plugin header of the installed qemu.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <qemu-plugin.h>

#include "cache_sim.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define AARCH64_NR_GETPPID 173
#define MARKER_MAGIC 0xb17e5eedULL

static uint64_t count;
static uint64_t lo, hi = UINT64_MAX;
static FILE *out, *profile, *code;
static struct cache_sim cache;

/* One per translated block when profiling; a block translated twice has two (summed later). */
struct block {
  uint64_t pc, insns, execs;
};
static GPtrArray *blocks;

static void emit(const char *line) {
  if (out) {
    fputs(line, out);
    fflush(out);  /* markers must survive a guest that dies later */
  } else {
    qemu_plugin_outs(line);
  }
}

static void on_memory_access(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr,
                             void *data) {
  cache_sim_access(&cache, vaddr, 1u << qemu_plugin_mem_size_shift(info));
}

static void write_code(struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb);
  fprintf(code, "%" PRIx64, qemu_plugin_tb_vaddr(tb));
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    uint32_t word = 0;  /* A64 instructions are 4 bytes, little-endian */
    memcpy(&word, qemu_plugin_insn_data(insn), qemu_plugin_insn_size(insn) < 4 ? 0 : 4);
    fprintf(code, " %08" PRIx32, word);
  }
  fputc('\n', code);
}

/* At translation: one inline add of the block's (in-range) instruction count per execution. */
static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb), in_range = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t pc = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i));
    int counted = pc >= lo && pc < hi;
    in_range += counted;
    if (counted && cache.levels) {
      qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i), on_memory_access,
                                       QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
    }
  }
  if (code) write_code(tb);
  if (in_range) {
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &count, in_range);
    if (profile) {
      struct block *b = g_new0(struct block, 1);
      b->pc = qemu_plugin_tb_vaddr(tb);
      b->insns = in_range;
      g_ptr_array_add(blocks, b);  /* translation is serialised: no lock needed */
      qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->execs, 1);
    }
  }
}

static void emit_cache(uint64_t label) {
  char line[256];
  int used = snprintf(line, sizeof line, "cache %" PRIu64, label);
  for (int i = 0; i < cache.levels; i++) {
    used += snprintf(line + used, sizeof line - used, " %" PRIu64 " %" PRIu64,
                     cache.level[i].accesses, cache.level[i].misses);
  }
  snprintf(line + used, sizeof line - used, "\n");
  emit(line);
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                       uint64_t a7, uint64_t a8) {
  if (num == AARCH64_NR_GETPPID && a1 == MARKER_MAGIC) {
    char line[64];
    snprintf(line, sizeof line, "marker %" PRIu64 " %" PRIu64 "\n", a2, count);
    emit(line);
    if (cache.levels) emit_cache(a2);
    if (profile) {
      fprintf(profile, "marker %" PRIu64 "\n", a2);
      for (guint i = 0; i < blocks->len; i++) {
        struct block *b = g_ptr_array_index(blocks, i);
        if (b->execs) {
          fprintf(profile, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", b->pc, b->insns, b->execs);
          b->execs = 0;
        }
      }
      fflush(profile);
    }
  }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *data) {
  char line[48];
  snprintf(line, sizeof line, "total %" PRIu64 "\n", count);
  emit(line);
  if (out) fclose(out);
  if (profile) fclose(profile);
  if (code) fclose(code);
}

static FILE *open_or_complain(const char *path, const char *mode) {
  FILE *file = fopen(path, mode);
  if (!file) perror(path);
  return file;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    if (!strncmp(argv[i], "out=", 4)) {
      if (!(out = open_or_complain(argv[i] + 4, "w"))) return -1;
    } else if (!strncmp(argv[i], "profile=", 8)) {
      if (!(profile = open_or_complain(argv[i] + 8, "w"))) return -1;
      blocks = g_ptr_array_new();
    } else if (!strncmp(argv[i], "code=", 5)) {
      if (!(code = open_or_complain(argv[i] + 5, "w"))) return -1;
    } else if (argv[i][0] == 'l' && argv[i][1] >= '1' && argv[i][1] <= '3' && argv[i][2] == '=') {
      if (cache_sim_set_level(&cache, argv[i][1] - '1', argv[i] + 3)) {
        fprintf(stderr, "insn_count: bad cache level %s (SIZE:WAYS:LINE)\n", argv[i]);
        return -1;
      }
    } else if (!strncmp(argv[i], "prefetch=", 9)) {
      cache.prefetch_lines = strtoul(argv[i] + 9, NULL, 0);
    } else if (!strncmp(argv[i], "lo=", 3)) {
      lo = strtoull(argv[i] + 3, NULL, 0);
    } else if (!strncmp(argv[i], "hi=", 3)) {
      hi = strtoull(argv[i] + 3, NULL, 0);
    } else {
      fprintf(stderr, "insn_count: unknown argument %s\n", argv[i]);
      return -1;
    }
  }
  for (int i = 0; i < cache.levels; i++) {
    if (!cache.level[i].tags) {
      fprintf(stderr, "insn_count: cache levels must be given from l1 up\n");
      return -1;
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
  qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
  qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
  return 0;
}
