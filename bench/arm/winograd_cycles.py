"""Winograd F(2x2, 3x3) against the direct kernels on a modelled Arm core (Cortex-A53 unless
--cpu says another of bench/arm/arm_cores.py), per ResNet-18 3x3 layer: instructions and
modelled cycles of one invoke of a one-layer model, with kernel=auto (which runs Winograd
where the core's rule takes it), kernel=bitserial and kernel=int.

    .venv/bin/python -m bench.arm.winograd_cycles W2A2 W3A3 W4A4   # ~3 min per pair
    .venv/bin/python -m bench.arm.winograd_cycles --cpu cortex-a72 --layers 8x64,16x64 W4A4

Needs `make arm-env-aarch64` and bench/arm/build_plugin.sh. Prints one line per layer, pair
and kernel (bench/arm/README.md, "Winograd on the A53", has the table).
"""

from __future__ import annotations

import argparse
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
# ResNet-18 224's 3x3 layers of stride 1 (SIZExCHANNELS), unless --layers says others.
RESNET18_LAYERS = ["56x64", "28x128", "14x256", "7x512"]


def layers(text: str) -> list:
    """bench_conv's layer tuples of 3x3 convs of stride 1, SIZExCHANNELS,... in and out."""
    convs = []
    for item in text.split(","):
        found = re.fullmatch(r"(\d+)x(\d+)", item)
        if found is None:
            raise argparse.ArgumentTypeError(f"{item!r} is not SIZExCHANNELS (e.g. 8x64)")
        size, c = int(found[1]), int(found[2])
        convs.append((f"3x3_{c}_{size}", "conv", (size, size, c), c, 3, 1))
    return convs


def pair(text: str) -> tuple:
    """(weight bits, activation bits) of WxAy."""
    found = re.fullmatch(r"W([1-4])A([1-4])", text)
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a pair like W2A2 (1-4 bits each)")
    return int(found[1]), int(found[2])


KERNELS = ("auto", "bitserial", "int")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", default="cortex-a53", choices=sorted(CORES))
    parser.add_argument("--layers", type=layers, default=",".join(RESNET18_LAYERS),
                        help="SIZExCHANNELS,... e.g. 8x64,16x64 (ResNet-20's widest)")
    parser.add_argument("pairs", nargs="*", type=pair, default=[(2, 2)],
                        help="e.g. W2A2 W4A4")
    args = parser.parse_args()
    cpu = args.cpu
    pairs = args.pairs
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="bitlite_winograd_cycles_") as tmp:
        directory = Path(tmp)
        jobs = []
        for conv in args.layers:
            for w, a in pairs:
                path = directory / f"{conv[0]}_W{w}A{a}.tflite"
                path.write_bytes(bench_conv.bitlite_model(conv, w, a, rng))
                jobs += [{"name": f"{conv[0]} W{w}A{a} {kernel}", "model": str(path),
                          "invokes": 1, "bitlite": True, "kernel": kernel}
                         for kernel in KERNELS]
        measured = measure_cycles.measure(REPO / "build/arm/aarch64/python",
                                          REPO / "build/arm/qemu-src/libinsn_count.so",
                                          CORES[cpu], jobs, directory, cpu)
    for name, r in measured.items():
        priced = cycle_model.modelled_cycles(CORES[cpu], r["blocks"], r["misses"], MCA_CACHE)
        print(f"{name:28s} {r['kernel']!s:24s} {r['instructions'] / 1e6:6.2f}M instructions "
              f"{priced['cycles'] / 1e6:6.2f}M cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
