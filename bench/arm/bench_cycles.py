"""Modelled milliseconds per inference on Raspberry Pi 3B+ / 4 / 5 cores (Cortex-A53 / A72 /
A76) for whole networks: bitlite W1A1/W2A2/W4A4 against LiteRT's XNNPACK int8 and fp32, and a
validation of the model against published measurements.

Each network runs single-threaded in the emulated aarch64 LiteRT under the qemu plugin with
the core's cache hierarchy (measure_cycles.py); llvm-mca prices its blocks (cycle_model.py).

    bench/arm/build_plugin.sh
    .venv/bin/python -m bench.arm.bench_cycles [--models ...] [--cpus ...]

Writes bench/results/arm_cycles.json, arm_cycles_validation.json and arm_cycles.png, and
prints the tables. Per (core, network) results are kept in build/arm/cycles-runs, so an
interrupted run resumes (--fresh to start over). Rows of arm_cycles.json that this run does
not price (other networks, cores or variants) are kept as they are. A benchmark, not part of
make test.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
from bench.arm import cycle_model, digits_models, measure_cycles, whole_models
from bench.arm.arm_cores import CORES
from bench.arm.bench_insns import SITE_LIBRARY

BITS = ("W1A1", "W2A2", "W4A4")
STOCK = ("fp32", "int8")
# Network -> variants: the README's table, plus MobileNet v1 for validation only.
# Smallest first, so that partial results come early.
NETWORKS = {"digits_cnn_8x8": STOCK + BITS, "resnet20_32": STOCK + BITS,
            "resnet18_32": STOCK + BITS,
            "vgg_small_32": STOCK + BITS, "mobilenet_v2_224": STOCK + BITS,
            "mobilenet_v1_224": STOCK, "resnet18_224": STOCK + BITS,
            "yolov3_tiny_416": STOCK + BITS}
RESULTS = REPO / "bench/results"
EMULATED_PYTHON = REPO / "build/arm/aarch64/python"  # made by `make arm-env`
PLUGIN = REPO / "build/arm/qemu-src/libinsn_count.so"  # made by bench/arm/build_plugin.sh
RUNS = REPO / "build/arm/cycles-runs"  # what emulation measured, priced afterwards
MCA_CACHE = REPO / "build/arm/mca-cache"

# Published XNNPACK times on Raspberry Pi boards. The XNNPACK README's table is the one with
# both board and network named exactly; it was measured with 4 threads (one per core) on
# 32-bit Raspbian. The model is single-threaded, so it is compared at 4 threads assuming
# ideal scaling (modelled ms / 4): an assumption that flatters the model (real 4-thread
# scaling is below 4x) and that is the same for every point.
XNNPACK_README = "https://github.com/google/XNNPACK/blob/0085ae3628ee7dc042342df5a4e98ebdb55a806c/README.md#raspberry-pi"
PUBLISHED = [
    {"model": "mobilenet_v1_224", "runtime": "fp32", "cpu": "cortex-a53", "published_ms": 115,
     "threads": 4, "source": XNNPACK_README},
    {"model": "mobilenet_v2_224", "runtime": "fp32", "cpu": "cortex-a53", "published_ms": 79,
     "threads": 4, "source": XNNPACK_README},
    {"model": "mobilenet_v1_224", "runtime": "fp32", "cpu": "cortex-a72", "published_ms": 75,
     "threads": 4, "source": XNNPACK_README},
    {"model": "mobilenet_v2_224", "runtime": "fp32", "cpu": "cortex-a72", "published_ms": 44,
     "threads": 4, "source": XNNPACK_README},
]


def missing_prerequisites(python: Path | None = None, plugin: Path | None = None) -> list:
    """What emulating and pricing needs and this machine lacks, each with what provides it
    (default paths: this checkout's)."""
    python, plugin = python or EMULATED_PYTHON, plugin or PLUGIN
    missing = []
    if not python.exists():
        missing.append(f"the emulated aarch64 Python {python} (`make arm-env`)")
    elif not (python.parent / SITE_LIBRARY).exists():
        missing.append(f"the bitlite wheel in the emulated Python {python} (`make arm-env`)")
    if not plugin.exists():
        missing.append(f"the qemu plugin {plugin} (`bench/arm/build_plugin.sh`)")
    for tool, package in (("qemu-aarch64", "qemu-user"), ("llvm-mc", "llvm"),
                          ("llvm-mca", "llvm")):
        if shutil.which(tool) is None:
            missing.append(f"{tool} (`apt-get install {package}`)")
    return missing


def build(network: str, variants, directory: Path) -> dict:
    """variant -> .tflite path."""
    if network == digits_models.NAME:
        pairs = [tuple(int(n) for n in v[1:].split("A")) for v in variants if v.startswith("W")]
        contents = digits_models.models(pairs)
    else:
        contents = whole_models.models(network, variants)
    paths = {}
    for variant in variants:
        paths[variant] = directory / f"{network}_{variant}.tflite"
        paths[variant].write_bytes(contents[variant])
    return paths


def saved_run(cpu: str, network: str) -> dict:
    path = RUNS / f"{cpu}_{network}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run_one(args, cpu: str, network: str, paths: dict, directory: Path) -> dict:
    """Measures the variants of `paths` that build/arm/cycles-runs lacks; returns them all."""
    result = {} if args.fresh else saved_run(cpu, network)
    jobs = [{"name": variant, "model": str(path), "invokes": args.invokes,
             "bitlite": variant.startswith("W")} for variant, path in paths.items()
            if variant not in result]
    if not jobs:
        return result
    started = time.time()
    result.update(measure_cycles.measure(args.python, args.plugin, CORES[cpu], jobs, directory,
                                         f"{cpu}_{network}"))  # caches only: priced later
    # Emulation wall time of all its variants, for the README.
    result["_seconds"] = result.get("_seconds", 0) + time.time() - started
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / f"{cpu}_{network}.json").write_text(json.dumps(result, indent=1))
    return result


def rows_of(results: dict, cores: dict) -> list:
    rows = []
    for (cpu, network), result in sorted(results.items()):
        for variant, r in result.items():
            if variant.startswith("_"):
                continue
            priced = cycle_model.modelled_cycles(cores[cpu], r["blocks"], r["misses"], MCA_CACHE)
            bitlite = variant.startswith("W")
            misses = dict(zip(("l1d_misses", "l2_misses", "l3_misses"), r["misses"]))
            rows.append({"model": network, "runtime": "bitlite" if bitlite else variant,
                         "bits": variant if bitlite else None, "cpu": cpu,
                         "instructions": r["instructions"], "cycles": priced["cycles"],
                         "ms": priced["ms"], "l1d_misses": misses["l1d_misses"],
                         "l2_misses": misses["l2_misses"], "l3_misses": misses.get("l3_misses"),
                         "memory_cycles": priced["memory_cycles"],
                         # The bound where every miss overlaps with work (see README).
                         "core_only_ms": priced["core_cycles"] / (cores[cpu].ghz * 1e6),
                         "unmodelled_share": priced["unmodelled_share"],
                         "kernel": r["kernel"], "emulation_s": result["_seconds"]})
    return rows


def row_key(row: dict) -> tuple:
    return row["model"], row["bits"] or row["runtime"], row["cpu"]


def merged(rows: list, previous: list) -> list:
    """`rows` (priced now) plus the rows of the previous arm_cycles.json they do not replace:
    a subset run, or a saved run lost with build/, keeps the rest of the table. Kept rows are
    as priced when written (--fresh starts the table over)."""
    new = {row_key(r) for r in rows}
    kept = [r for r in previous if row_key(r) not in new]
    return sorted(kept + rows, key=lambda r: (r["cpu"], r["model"]))  # stable: kept first


def validation_of(rows: list) -> list:
    modelled = {(r["model"], r["runtime"], r["cpu"]): r["ms"] for r in rows}
    row_core = {(r["model"], r["runtime"], r["cpu"]): r["core_only_ms"] for r in rows}
    points = []
    for point in PUBLISHED:
        ms = modelled.get((point["model"], point["runtime"], point["cpu"]))
        if ms is not None:
            single = dict(point, modelled_single_thread_ms=ms,
                          modelled_ms=ms / point["threads"],
                          core_only_ms=row_core[(point["model"], point["runtime"], point["cpu"])]
                          / point["threads"])
            single["error"] = single["modelled_ms"] / point["published_ms"] - 1
            points.append(single)
    return points


def milliseconds(ms: float) -> str:
    return f"{ms:.2f}" if ms < 10 else f"{ms:.0f}"


def markdown(rows: list) -> str:
    ms = {(r["model"], r["bits"] or r["runtime"], r["cpu"]): r["ms"] for r in rows}
    columns = BITS + ("int8", "fp32")
    lines = ["| model | board (core) | " + " | ".join(
        f"{'bitlite ' if c.startswith('W') else 'XNNPACK '}{c}" for c in columns) + " |",
        "|---" * (len(columns) + 2) + "|"]
    for network, variants in NETWORKS.items():
        for cpu, core in CORES.items():
            if any((network, c, cpu) in ms for c in columns) and set(BITS) & set(variants):
                cells = [milliseconds(ms[(network, c, cpu)]) if (network, c, cpu) in ms else "-"
                         for c in columns]
                lines.append(f"| {network} | {core.board} ({cpu}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list, points: list, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    networks = [n for n in NETWORKS if set(BITS) & set(NETWORKS[n])
                and any(r["model"] == n for r in rows)]
    columns = BITS + ("int8", "fp32")
    figure, axes = plt.subplots(1, len(CORES) + 1, figsize=(5 * (len(CORES) + 1), 4.5))
    for axis, cpu in zip(axes, CORES):
        ms = {(r["model"], r["bits"] or r["runtime"]): r["ms"] for r in rows if r["cpu"] == cpu}
        width = 0.8 / len(columns)
        for j, column in enumerate(columns):
            axis.bar([i + j * width for i in range(len(networks))],
                     [ms.get((n, column), 0) for n in networks], width, label=column)
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(networks))])
        axis.set_xticklabels(networks, rotation=30, ha="right", fontsize=8)
        axis.set_yscale("log")
        axis.set_ylabel("modelled ms / inference (1 thread)")
        axis.set_title(f"{CORES[cpu].board} ({cpu})")
    axes[0].legend(fontsize=8)
    axis = axes[-1]
    for point in points:
        axis.scatter(point["published_ms"], point["modelled_ms"])
        axis.annotate(f"{point['model'][:12]} {point['cpu'][-3:]}",
                      (point["published_ms"], point["modelled_ms"]), fontsize=7)
    if points:
        top = max(max(p["published_ms"], p["modelled_ms"]) for p in points) * 1.2
        axis.plot([0, top], [0, top], "k--", linewidth=0.8)
    axis.set_xlabel("published ms")
    axis.set_ylabel("modelled ms")
    axis.set_title("validation (XNNPACK fp32, 4 threads)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def measure_all(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="bitlite_arm_cycles_") as tmp:
        directory = Path(tmp)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {}
            for network in args.models:
                variants = [v for v in NETWORKS[network]
                            if not args.variants or v in args.variants]
                missing = [v for v in variants for cpu in args.cpus
                           if args.fresh or v not in saved_run(cpu, network)]
                paths = build(network, sorted(set(missing)), directory) if missing else {}
                for cpu in args.cpus:
                    futures[(cpu, network)] = pool.submit(run_one, args, cpu, network, paths,
                                                          directory)
            return {key: future.result() for key, future in futures.items()}


def report(results: dict, args) -> None:
    cores = dict(CORES)
    if args.mca_a53:
        cores["cortex-a53"] = dataclasses.replace(CORES["cortex-a53"], mca_cpu="cortex-a53")
    rows = rows_of(results, cores)
    table = RESULTS / "arm_cycles.json"
    if not args.fresh and table.exists():
        rows = merged(rows, json.loads(table.read_text()))
    points = validation_of(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "arm_cycles.json").write_text(json.dumps(rows, indent=1) + "\n")
    (RESULTS / "arm_cycles_validation.json").write_text(json.dumps(points, indent=1) + "\n")
    plot(rows, points, RESULTS / "arm_cycles.png")
    print(markdown(rows) + "\n")
    for p in points:
        print(f"{p['model']} {p['runtime']} {p['cpu']}: published {p['published_ms']} ms, "
              f"modelled {p['modelled_ms']:.1f} ms ({p['error']:+.0%}), "
              f"core only {p['core_only_ms']:.1f} ms")
    if points:
        print(f"median |error| {statistics.median(abs(p['error']) for p in points):.0%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=EMULATED_PYTHON)
    parser.add_argument("--plugin", type=Path, default=PLUGIN)
    parser.add_argument("--models", nargs="*", default=list(NETWORKS))
    parser.add_argument("--cpus", nargs="*", default=list(CORES))
    parser.add_argument("--variants", nargs="*", help="only these of each network's variants")
    parser.add_argument("--invokes", type=int, default=1, help="measured invokes per model")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--fresh", action="store_true",
                        help="ignore build/arm/cycles-runs and the rows of arm_cycles.json")
    parser.add_argument("--report-only", action="store_true",
                        help="price what build/arm/cycles-runs holds, emulate nothing")
    parser.add_argument("--mca-a53", action="store_true",
                        help="price the A53 with llvm-mca's Cortex-A53 model (see arm_cores.py)")
    args = parser.parse_args()
    results = {}
    if args.report_only:
        results = {(cpu, network): saved_run(cpu, network)
                   for cpu in args.cpus for network in args.models if saved_run(cpu, network)}
    else:
        missing = missing_prerequisites(args.python, args.plugin)
        if missing:
            parser.error("missing " + "; ".join(missing))
        results = measure_all(args)
    report(results, args)
    return 0



if __name__ == "__main__":
    sys.exit(main())
