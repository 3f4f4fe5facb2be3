"""Winograd F(2x2, 3x3) against the direct kernels on the Cortex-A53, per ResNet-18 3x3 layer:
instructions and modelled cycles of one invoke of a one-layer model, with kernel=auto (which
runs Winograd where the in-order rule takes it), kernel=bitserial and kernel=int.

    .venv/bin/python -m bench.arm.winograd_cycles W2A2 W3A3 W4A4   # ~3 min per pair

Needs `make arm-env-aarch64` and bench/arm/build_plugin.sh. Prints one line per layer, pair
and kernel (bench/arm/README.md, "Winograd on the A53", has the table).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
from bench.arm import cycle_model, measure_cycles
from bench.arm.arm_cores import CORES
from bench.arm.bench_cycles import MCA_CACHE
from bench.kernels import bench_conv

REPO = Path(__file__).resolve().parents[2]
CPU = "cortex-a53"
# ResNet-18 224's 3x3 layers of stride 1, as bench_conv's layer tuples.
LAYERS = [(f"3x3_{c}_{size}", "conv", (size, size, c), c, 3, 1)
          for size, c in ((56, 64), (28, 128), (14, 256), (7, 512))]
KERNELS = ("auto", "bitserial", "int")


def main() -> int:
    pairs = [tuple(int(b) for b in re.fullmatch(r"W(\d)A(\d)", arg).groups())
             for arg in sys.argv[1:] or ["W2A2"]]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bitlite_winograd_cycles_") as tmp:
        directory = Path(tmp)
        jobs = []
        for layer in LAYERS:
            for w, a in pairs:
                path = directory / f"{layer[0]}_W{w}A{a}.tflite"
                path.write_bytes(bench_conv.bitlite_model(layer, w, a, rng))
                jobs += [{"name": f"{layer[0]} W{w}A{a} {kernel}", "model": str(path),
                          "invokes": 1, "bitlite": True, "kernel": kernel}
                         for kernel in KERNELS]
        measured = measure_cycles.measure(REPO / "build/arm/aarch64/python",
                                          REPO / "build/arm/qemu-src/libinsn_count.so",
                                          CORES[CPU], jobs, directory, CPU)
    for name, r in measured.items():
        priced = cycle_model.modelled_cycles(CORES[CPU], r["blocks"], r["misses"], MCA_CACHE)
        print(f"{name:28s} {r['kernel']!s:24s} {r['instructions'] / 1e6:6.2f}M instructions "
              f"{priced['cycles'] / 1e6:6.2f}M cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
