"""`bitlite bench MODEL --arm cortex-a53`: the modelled single-thread time of the very .tflite
files that `bitlite bench` timed on this machine, on Raspberry Pi cores (Cortex-A53/A72/A76).

There is no ARM board here: the measurement is the cycle model of a source checkout's
bench/arm (README "Estimated time on Raspberry Pi boards"): each file runs once in the emulated
aarch64 LiteRT (bitlite's wheel installed) under the qemu plugin with the core's caches, and
llvm-mca prices the executed blocks. This module only finds that code and calls it, so it needs
the checkout with `make arm-env` and bench/arm/build_plugin.sh done; without them it says so.

Emulation takes minutes for large networks, so what it measured is kept per core under the
checkout's build/arm/bench-runs, keyed by the .tflite's bytes, the emulated wheel's delegate
and the core's caches: the same fp32 or int8 file (a QAT model saved at several bit widths has
the same float version) is emulated once. Pricing is cheap and always redone. Delete that
folder after changing the plugin or the driver.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from . import native_logs

# What makes a folder a checkout whose cycle model can be used.
_MARK = Path("bench/arm/bench_cycles.py")
METHOD = ("bench/arm cycle model: one single-threaded invoke in the emulated aarch64 LiteRT "
          "(XNNPACK for fp32/int8, the bitlite delegate of the emulated wheel for bitlite) "
          "under the qemu plugin with the core's caches; llvm-mca cycles per executed block "
          "plus cache misses times their latency; ms = cycles / the board's clock")


def load(cores: list):
    """bench/arm's bench_cycles module of the checkout holding the current folder, checked to
    have all that measuring `cores` needs. Raises ValueError saying what is missing."""
    checkout = next((folder for folder in (Path.cwd(), *Path.cwd().parents)
                     if (folder / _MARK).is_file()), None)
    if checkout is None:
        raise ValueError("--arm needs a bitlite source checkout (the folder holding bench/arm/): "
                         "run `bitlite bench` inside one, after `make arm-env` and "
                         "`bench/arm/build_plugin.sh` there")
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        with native_logs.captured():  # bench/arm's imports start TensorFlow
            from bench.arm import bench_cycles
    except ImportError as error:
        raise ValueError(f"--arm cannot load {checkout / _MARK.parent} ({type(error).__name__}: "
                         f"{error}): it needs the checkout's development packages "
                         f"(requirements-dev.txt)") from None
    unknown = [core for core in cores if core not in bench_cycles.CORES]
    if unknown:
        raise ValueError(f"--arm: unknown core {', '.join(unknown)} (known: "
                         f"{', '.join(bench_cycles.CORES)})")
    missing = bench_cycles.missing_prerequisites()
    if missing:
        raise ValueError(f"--arm: {checkout} lacks " + "; ".join(missing))
    return bench_cycles


def modelled(bench_cycles, cores: list, variants: dict, name: str) -> list:
    """bench_cycles' rows (ms, cycles, instructions, misses ... per core and variant) of the
    .tflite `variants` (variant -> bytes). Raises RuntimeError if the emulation fails (and
    subprocess.TimeoutExpired after bench/arm's two hours)."""
    from bench.arm import bench_insns, measure_cycles

    delegate = (bench_cycles.EMULATED_PYTHON.parent / bench_insns.SITE_LIBRARY).read_bytes()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bitlite_bench_arm_") as directory:
        for core in cores:
            runs = bench_cycles.REPO / "build/arm/bench-runs" / core
            key = delegate + bench_cycles.CORES[core].plugin_options().encode()
            saved = {variant: runs / f"{_key(data, key)}.json"
                     for variant, data in variants.items()}
            result = {variant: json.loads(path.read_text())
                      for variant, path in saved.items() if path.exists()}
            jobs = []
            for variant in [v for v in variants if v not in result]:
                path = Path(directory) / f"{variant}.tflite"
                path.write_bytes(variants[variant])
                jobs.append({"name": variant, "model": str(path), "invokes": 1,
                             "bitlite": variant == "bitlite"})
            started = time.time()
            if jobs:
                print(f"  emulating {', '.join(job['name'] for job in jobs)} on {core} "
                      f"(minutes for large networks)", file=sys.stderr, flush=True)
                measured = measure_cycles.measure(bench_cycles.EMULATED_PYTHON,
                                                  bench_cycles.PLUGIN, bench_cycles.CORES[core],
                                                  jobs, Path(directory), core)
                runs.mkdir(parents=True, exist_ok=True)
                for variant, run in measured.items():
                    saved[variant].write_text(json.dumps(run))
                result.update(measured)
            result["_seconds"] = time.time() - started  # this run's emulation, 0 if all saved
            results[(core, name)] = {variant: result[variant] for variant in
                                     [*variants, "_seconds"]}  # in the variants' order
    return bench_cycles.rows_of(results, bench_cycles.CORES)


def _key(data: bytes, setting: bytes) -> str:
    """The .tflite and what it ran on: the delegate (hashed for fp32 and int8 too, which do not
    load it: simpler, and a rebuilt wheel is rare) and the core's caches."""
    return hashlib.sha256(hashlib.sha256(setting).digest() + data).hexdigest()[:24]
