/* A data-cache hierarchy simulation for insn_count_plugin.c: set-associative levels with LRU
 * replacement, write-allocate (stores fill lines like loads), non-inclusive (each level keeps
 * what passed through it), and an optional next-line prefetcher at L1.
 * Counts per level: demand accesses and demand misses. Latencies and CPU presets live in the
 * host-side model (bench/arm/arm_cores.py), which turns these counts into cycles.
 */
#ifndef BITLITE_CACHE_SIM_H
#define BITLITE_CACHE_SIM_H

#include <stdint.h>

#define CACHE_MAX_LEVELS 3

struct cache_level {
  uint64_t size, ways, line;       /* bytes, associativity, bytes */
  uint64_t sets, line_shift;
  uint64_t *tags;                  /* sets * ways line numbers; UINT64_MAX: empty */
  uint64_t *stamps;                /* last use per way, for LRU */
  uint64_t accesses, misses;       /* demand only (prefetches are not counted) */
};

struct cache_sim {
  int levels;
  struct cache_level level[CACHE_MAX_LEVELS];
  uint64_t clock;                  /* LRU time */
  unsigned prefetch_lines;         /* on an L1 demand miss, also fetch the next N lines */
};

/* Parses "SIZE:WAYS:LINE" (bytes) into level `index`; returns 0, or -1 on a bad spec
 * (sizes must be powers of two, SIZE a multiple of WAYS * LINE). */
int cache_sim_set_level(struct cache_sim *sim, int index, const char *spec);

/* A data access of `size` bytes at `address`: each line it touches is one access. */
void cache_sim_access(struct cache_sim *sim, uint64_t address, unsigned size);

#endif
