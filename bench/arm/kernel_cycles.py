"""Would the delegate's kernel=auto rule change if it were read off modelled cycles instead of
instructions? The rule (cc/src/kernels/bitserial_isa.h) picks int8 from a bit product
weight_bits * activation_bits on, read off instruction counts of the 3x3 conv 64->64 56x56.
This prices that layer's int8 and bitserial kernels per bit pair with the cycle model.

    .venv/bin/python -m bench.arm.kernel_cycles      # ~7 min on 2 busy cores

Writes bench/results/arm_kernel_cycles.json and prints a table per core.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
from bench.arm import cycle_model, measure_cycles
from bench.arm.arm_cores import CORES
from bench.arm.bench_cycles import MCA_CACHE
from bench.kernels import bench_conv

LAYER = bench_conv.LAYERS[0]  # the layer the auto rule was read off
PAIRS = ((1, 1), (2, 2), (2, 3), (2, 4), (3, 3), (3, 4), (4, 4))
KERNELS = ("bitserial", "int")
CPUS = ("cortex-a53", "cortex-a76")  # no dotprod (int8/neon), dotprod (int8/neondot)


def main() -> int:
    python = REPO / "build/arm/aarch64/python"
    plugin = REPO / "build/arm/qemu-src/libinsn_count.so"
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bitlite_kernel_cycles_") as tmp:
        directory = Path(tmp)
        jobs = []
        for w, a in PAIRS:
            path = directory / f"W{w}A{a}.tflite"
            path.write_bytes(bench_conv.bitlite_model(LAYER, w, a, rng))
            jobs += [{"name": f"W{w}A{a} {kernel}", "model": str(path), "invokes": 1,
                      "bitlite": True, "kernel": kernel} for kernel in KERNELS]
        with concurrent.futures.ThreadPoolExecutor(len(CPUS)) as pool:
            measured = dict(zip(CPUS, pool.map(
                lambda cpu: measure_cycles.measure(python, plugin, CORES[cpu], jobs, directory,
                                                   cpu), CPUS)))
    rows = []
    for cpu, results in measured.items():
        for name, r in results.items():
            priced = cycle_model.modelled_cycles(CORES[cpu], r["blocks"], r["misses"], MCA_CACHE)
            bits, kernel = name.split()
            rows.append({"cpu": cpu, "bits": bits, "kernel_option": kernel,
                         "kernel": r["kernel"], "instructions": r["instructions"],
                         "cycles": priced["cycles"], "ms": priced["ms"]})
    (REPO / "bench/results/arm_kernel_cycles.json").write_text(
        json.dumps({"layer": LAYER[0], "rows": rows}, indent=1) + "\n")
    for cpu in CPUS:
        print(f"\n{cpu} ({LAYER[0]}): M instructions / M cycles\n")
        print("| bits | " + " | ".join(f"{k} insns | {k} cycles" for k in KERNELS) + " |")
        print("|---" * (1 + 2 * len(KERNELS)) + "|")
        for w, a in PAIRS:
            cells = []
            for kernel in KERNELS:
                row = next(r for r in rows if r["cpu"] == cpu and r["bits"] == f"W{w}A{a}"
                           and r["kernel_option"] == kernel)
                cells += [f"{row['instructions'] / 1e6:.1f}", f"{row['cycles'] / 1e6:.1f}"]
            print(f"| W{w}A{a} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
