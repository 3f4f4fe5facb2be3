"""Runs models in the emulated aarch64 Python under the plugin with one core's caches: the
blocks executed per inference (by their encodings) and the cache misses, which
cycle_model.modelled_cycles prices (kept apart, so a pricing change needs no emulation).

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
from pathlib import Path

from bench.arm import cycle_model
from bench.arm.bench_insns import HOST_ONLY_ENV  # the same emulated Python, the same rules

HERE = Path(__file__).resolve().parent


def subtract(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def measure(python: Path, plugin: Path, core, jobs: list, directory: Path, tag: str) -> dict:
    """jobs: insn_driver.py's manifest entries. Returns name -> per inference: instructions,
    misses (demand misses per cache level), blocks ("word word ..." -> executions), kernel."""
    manifest = directory / f"{tag}.json"
    counts, profile, code_file = (directory / f"{tag}.{kind}"
                                  for kind in ("counts", "profile", "code"))
    manifest.write_text(json.dumps(jobs))
    env = {k: v for k, v in os.environ.items() if k not in HOST_ONLY_ENV}
    env.update(BITLITE_QEMU_CPU=core.name,
               QEMU_PLUGIN=f"{plugin},out={counts},profile={profile},code={code_file},"
                           f"{core.plugin_options()}")
    child = subprocess.run([str(python), str(HERE / "insn_driver.py"), str(manifest)], env=env,
                           capture_output=True, text=True, timeout=7200)
    if child.returncode != 0:
        raise RuntimeError(f"{tag}: exit {child.returncode}\n{child.stderr[-3000:]}")
    marks, caches = cycle_model.read_counts(counts)
    dumps, code = cycle_model.read_profile(profile), cycle_model.read_code(code_file)
    kernels = {}
    for block in child.stderr.split("job ")[1:]:
        kernels[block.split("\n", 1)[0]] = ",".join(
            sorted(set(re.findall(r"kernel (\S+)$", block, re.M)))) or None
    results = {}
    for i, job in enumerate(jobs):
        n = job["invokes"]
        m0, m1, m2 = 3 * i, 3 * i + 1, 3 * i + 2
        instructions = ((marks[m2] - marks[m1]) - (marks[m1] - marks[m0])) / n
        blocks = {}
        for key, count in subtract(dumps[m2], dumps[m1]).items():
            words = " ".join(code[key])
            blocks[words] = blocks.get(words, 0) + count / n
        # Demand misses per level: counters are (accesses, misses) pairs, cumulative. A
        # difference of differences can come out a few lines below zero: none then.
        misses = [max(0.0, ((caches[m2][j] - caches[m1][j]) - (caches[m1][j] - caches[m0][j])) / n)
                  for j in range(1, len(caches[m0]), 2)]
        results[job["name"]] = {"instructions": instructions, "misses": misses,
                                "blocks": blocks, "kernel": kernels.get(job["name"])}
    return results
