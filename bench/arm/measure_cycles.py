"""Runs models in the emulated aarch64 Python under the plugin with one core's caches, and
turns the blocks and misses of their invokes into modelled cycles (cycle_model.py).

One emulated process per call (insn_driver.py): per model, a first invoke (packing, warm
caches), markers 3i and 3i+1 around nothing (the marker call's own cost), N invokes, marker
3i+2. Per inference = ((3i+1 .. 3i+2) - (3i .. 3i+1)) / N for instructions, block
executions and cache misses alike, so start-up and preparation cancel out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cycle_model

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from bench_insns import HOST_ONLY_ENV  # noqa: E402  the same emulated Python, the same rules

MCA_CACHE = REPO / "build/arm/mca-cache"


def subtract(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def measure(python: Path, plugin: Path, core, jobs: list, directory: Path, tag: str) -> dict:
    """jobs: insn_driver.py's manifest entries. Returns name -> per-inference figures:
    instructions, cycles, ms, l1d_misses, l2_misses (and l3_misses where there is an L3)."""
    manifest = directory / f"{tag}.json"
    counts, profile, code = (directory / f"{tag}.{kind}" for kind in ("counts", "profile", "code"))
    manifest.write_text(json.dumps(jobs))
    env = {k: v for k, v in os.environ.items() if k not in HOST_ONLY_ENV}
    env.update(BITLITE_QEMU_CPU=core.name,
               QEMU_PLUGIN=f"{plugin},out={counts},profile={profile},code={code},"
                           f"{core.plugin_options()}")
    child = subprocess.run([str(python), str(HERE / "insn_driver.py"), str(manifest)], env=env,
                           capture_output=True, text=True, timeout=7200)
    if child.returncode != 0:
        raise RuntimeError(f"{tag}: exit {child.returncode}\n{child.stderr[-3000:]}")
    marks, caches = cycle_model.read_counts(counts)
    dumps, blocks = cycle_model.read_profile(profile), cycle_model.read_code(code)
    kernels = {}
    for block in child.stderr.split("job ")[1:]:
        kernels[block.split("\n", 1)[0]] = ",".join(
            sorted(set(re.findall(r"kernel (\S+)$", block, re.M)))) or None
    results = {}
    for i, job in enumerate(jobs):
        n = job["invokes"]
        m0, m1, m2 = 3 * i, 3 * i + 1, 3 * i + 2
        instructions = ((marks[m2] - marks[m1]) - (marks[m1] - marks[m0])) / n
        execs = {k: v / n for k, v in subtract(dumps[m2], dumps[m1]).items()}
        # Demand misses per level: counters are (accesses, misses) pairs, cumulative.
        misses = [((caches[m2][j] - caches[m1][j]) - (caches[m1][j] - caches[m0][j])) / n
                  for j in range(1, len(caches[m0]), 2)]
        row = cycle_model.modelled_cycles(core, execs, blocks, misses, MCA_CACHE)
        row.update(instructions=instructions, kernel=kernels.get(job["name"]),
                   **{f"l{j + 1}{'d' if j == 0 else ''}_misses": m for j, m in enumerate(misses)})
        results[job["name"]] = row
    return results
