/* See cache_sim.h. */
#include "cache_sim.h"

#include <stdlib.h>

static int is_power_of_two(uint64_t x) { return x && !(x & (x - 1)); }

int cache_sim_set_level(struct cache_sim *sim, int index, const char *spec) {
  struct cache_level *c = &sim->level[index];
  char *end;
  if (index < 0 || index >= CACHE_MAX_LEVELS) return -1;
  c->size = strtoull(spec, &end, 0);
  if (*end != ':') return -1;
  c->ways = strtoull(end + 1, &end, 0);
  if (*end != ':') return -1;
  c->line = strtoull(end + 1, &end, 0);
  if (*end || !is_power_of_two(c->line) || !c->ways || c->size % (c->ways * c->line)) return -1;
  c->sets = c->size / (c->ways * c->line);
  if (!is_power_of_two(c->sets)) return -1;
  c->line_shift = __builtin_ctzll(c->line);
  c->tags = malloc(c->sets * c->ways * sizeof *c->tags);
  c->stamps = calloc(c->sets * c->ways, sizeof *c->stamps);
  if (!c->tags || !c->stamps) return -1;
  for (uint64_t i = 0; i < c->sets * c->ways; i++) c->tags[i] = UINT64_MAX;
  if (index >= sim->levels) sim->levels = index + 1;
  return 0;
}

/* Looks the line holding `address` up in one level, filling it (LRU victim) on a miss.
 * Returns 1 on a hit. */
static int lookup_or_fill(struct cache_level *c, uint64_t address, uint64_t now) {
  uint64_t line = address >> c->line_shift;
  uint64_t set = line & (c->sets - 1);
  uint64_t *tags = c->tags + set * c->ways, *stamps = c->stamps + set * c->ways;
  uint64_t victim = 0;
  for (uint64_t w = 0; w < c->ways; w++) {
    if (tags[w] == line) {
      stamps[w] = now;
      return 1;
    }
    if (stamps[w] < stamps[victim]) victim = w;
  }
  tags[victim] = line;
  stamps[victim] = now;
  return 0;
}

/* One line through the hierarchy: each level is consulted until one hits; demand accesses
 * count at every level they reach, prefetches never count. */
static void access_line(struct cache_sim *sim, uint64_t address, int demand) {
  uint64_t now = ++sim->clock;
  for (int i = 0; i < sim->levels; i++) {
    struct cache_level *c = &sim->level[i];
    int hit = lookup_or_fill(c, address, now);
    if (demand) {
      c->accesses++;
      c->misses += !hit;
    }
    if (hit) return;
  }
}

void cache_sim_access(struct cache_sim *sim, uint64_t address, unsigned size) {
  if (!sim->levels) return;
  struct cache_level *l1 = &sim->level[0];
  uint64_t first = address >> l1->line_shift, last = (address + size - 1) >> l1->line_shift;
  for (uint64_t line = first; line <= last; line++) {
    uint64_t misses_before = l1->misses;
    access_line(sim, line << l1->line_shift, 1);
    if (l1->misses != misses_before) {
      for (unsigned k = 1; k <= sim->prefetch_lines; k++)
        access_line(sim, (line + k) << l1->line_shift, 0);
    }
  }
}
