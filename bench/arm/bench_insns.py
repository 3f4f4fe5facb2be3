"""ARM instruction counts of bitlite's NEON kernels against LiteRT's XNNPACK int8 and fp32.

There is no ARM hardware here, so ARM cost is measured as guest instructions executed under
qemu-aarch64 with insn_count_plugin.c (deterministic, unlike emulated time). For every layer
shape of bench/kernels/bench_conv.py (full size) builds the one-op bitlite model per bit
pair and the equivalent one-layer Keras model converted to fp32 and to int8 (representative
data set, integer-only ops), then runs them in the emulated aarch64 LiteRT per CPU model.
Instructions per inference = (count after N+1 invokes - count after 1 invoke) / N, taken in
one process by insn_driver.py's markers, less the markers' own cost. Whole-process counts
(separate processes for N+1 and 1 invokes) would do too, but vary by ~+-5M instructions run
to run (Python start-up), which is more than a dense layer costs; the markers agree to ~50.

    bench/arm/build_plugin.sh
    .venv/bin/python -m bench.arm.bench_insns

Needs the emulated Python with the bitlite wheel installed (tools/arm/README.md). Writes
bench/results/arm_insns.json and prints markdown tables. A benchmark, not part of make test.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# TensorFlow's converter logs (hundreds of lines) would bury the tables; set before TF loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
REPO = Path(__file__).resolve().parents[1].parent
from bench.arm import digits_models
from bench.kernels import bench_conv  # the x86 benchmark's model builders: same layers, same models

# The x86 benchmark's layers at full size: counting under qemu costs ~1 s per 100M guest
# instructions, so even ResNet-18's 56x56 layer takes seconds (no reduced sizes needed).
LAYERS = bench_conv.LAYERS
BIT_PAIRS = bench_conv.BIT_PAIRS
CPUS = ("cortex-a53", "cortex-a72", "neoverse-n1")
# The targets on a Cortex-A53-class core (no dotprod): bitlite / XNNPACK int8.
TARGETS = {"W2A2": 0.5, "W1A1": 0.15}
TARGET_CPU = "cortex-a53"
TARGET_LAYER = bench_conv.LAYERS[0][0]  # the layer: 3x3 conv 64->64 on 56x56
SITE_LIBRARY = "venv/lib/python3.11/site-packages/bitlite/delegate/libbitlite_delegate.so"
# Host settings that must not reach the emulated Python (see tools/arm/README.md).
HOST_ONLY_ENV = ("PYTHONPATH", "PYTHONHOME", "BITLITE_DELEGATE_LIBRARY", "QEMU_PLUGIN",
                 "QEMU_LOG")


def build_models(directory: Path, layers, with_digits: bool) -> dict:
    """layer name -> {variant: model path}; variants fp32, int8 and W?A? (bitlite)."""
    rng = np.random.default_rng(0)
    contents = {}
    for layer in layers:
        contents[layer[0]] = dict(zip(("fp32", "int8"), bench_conv.keras_models(layer, rng)))
        for w, a in BIT_PAIRS:
            contents[layer[0]][f"W{w}A{a}"] = bench_conv.bitlite_model(layer, w, a, rng)
    if with_digits:
        contents[digits_models.NAME] = digits_models.models(BIT_PAIRS)
    built = {}
    for layer, models in contents.items():
        built[layer] = {}
        for variant, content in models.items():
            path = directory / f"{layer}_{variant}.tflite"
            path.write_bytes(content)
            built[layer][variant] = str(path)
    return built


def count(python: Path, plugin: Path, cpu: str, jobs: list, directory: Path, tag: str) -> dict:
    """Runs insn_driver.py on `jobs` under the plugin: name -> (instructions/invoke, kernel)."""
    manifest, counts = directory / f"{tag}.json", directory / f"{tag}.counts"
    manifest.write_text(json.dumps(jobs))
    env = {k: v for k, v in os.environ.items() if k not in HOST_ONLY_ENV}
    # The wrapper's qemu reads its -plugin option from QEMU_PLUGIN.
    env.update(BITLITE_QEMU_CPU=cpu, QEMU_PLUGIN=f"{plugin},out={counts}")
    child = subprocess.run([str(python), str(Path(__file__).parent / "insn_driver.py"),
                            str(manifest)], env=env, capture_output=True, text=True,
                           timeout=1800)
    if child.returncode != 0:
        raise RuntimeError(f"{tag}: exit {child.returncode}\n{child.stderr[-3000:]}")
    marks = dict(re.findall(r"^marker (\d+) (\d+)$", counts.read_text(), re.M))
    # Kernel lines follow each "job NAME" line of the driver on stderr.
    kernels = {}
    for block in child.stderr.split("job ")[1:]:
        name = block.split("\n", 1)[0]
        kernels[name] = ",".join(sorted(set(re.findall(r"kernel (\S+)$", block, re.M))))
    result = {}
    for i, job in enumerate(jobs):
        at = [int(marks[str(3 * i + k)]) for k in range(3)]
        insns = (at[2] - at[1]) - (at[1] - at[0])  # less the marker call's own cost
        result[job["name"]] = (insns / job["invokes"], kernels.get(job["name"]) or None)
    return result


def markdown(rows, cpu: str) -> str:
    lines = [f"#### {cpu}", "",
             "| layer | bits | bitlite kernel | bitlite insns | XNNPACK int8 insns | "
             "fp32 insns | bitlite/int8 | bitlite/fp32 |", "|---" * 8 + "|"]
    for row in rows:
        if row["cpu"] == cpu:
            lines.append(f"| {row['layer']} | {row['bits']} | {row['kernel']} | "
                         f"{row['bitlite']:,.0f} | {row['int8']:,.0f} | {row['fp32']:,.0f} | "
                         f"{row['bitlite_over_int8']:.3f} | {row['bitlite_over_fp32']:.3f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=REPO / "build/arm/aarch64/python",
                        help="the emulated aarch64 Python (tools/arm/setup_emulated_python.sh)")
    parser.add_argument("--plugin", type=Path,
                        default=REPO / "build/arm/qemu-src/libinsn_count.so",
                        help="made by bench/arm/build_plugin.sh")
    parser.add_argument("--invokes", type=int, default=2, help="N: counted invokes per model")
    parser.add_argument("--cpus", nargs="*", default=list(CPUS))
    parser.add_argument("--layers", nargs="*", default=[layer[0] for layer in LAYERS])
    parser.add_argument("--no-digits", action="store_true",
                        help="skip the whole digits CNN (bench/digits.py, trained briefly)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="emulated processes at once (each is single-threaded)")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/arm_insns.json")
    parser.add_argument("--kernel", default="auto",
                        help="the delegate's kernel option (auto, bitserial, int, reference)")
    args = parser.parse_args()
    layers = [layer for layer in LAYERS if layer[0] in args.layers]
    described = layers + ([] if args.no_digits else [digits_models.layer()])
    with tempfile.TemporaryDirectory(prefix="bitlite_arm_insns_") as tmp:
        directory = Path(tmp)
        models = build_models(directory, layers, not args.no_digits)
        # One emulated process per (CPU, layer): its models share the Python start-up.
        work = {(cpu, layer): [{"name": variant, "model": path, "invokes": args.invokes,
                                "bitlite": variant.startswith("W"), "kernel": args.kernel}
                               for variant, path in models[layer].items()]
                for cpu in args.cpus for layer in models}
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {key: pool.submit(count, args.python, args.plugin, key[0], jobs,
                                        directory, f"{key[0]}_{key[1]}")
                       for key, jobs in work.items()}
            counts = {key: future.result() for key, future in futures.items()}
    rows = []
    for (cpu, layer), result in counts.items():
        for w, a in BIT_PAIRS:
            bits = f"W{w}A{a}"
            insns, kernel = result[bits]
            rows.append({"layer": layer, "cpu": cpu, "bits": bits, "kernel": kernel,
                         "bitlite": insns, "int8": result["int8"][0],
                         "fp32": result["fp32"][0],
                         "bitlite_over_int8": insns / result["int8"][0],
                         "bitlite_over_fp32": insns / result["fp32"][0]})
    targets = [{"layer": row["layer"], "bits": row["bits"], "target": TARGETS[row["bits"]],
                "bitlite_over_int8": row["bitlite_over_int8"],
                "met": row["bitlite_over_int8"] <= TARGETS[row["bits"]]}
               for row in rows if row["cpu"] == TARGET_CPU and row["bits"] in TARGETS
               and row["layer"] == TARGET_LAYER]
    library = args.python.parent / SITE_LIBRARY
    notes = subprocess.run(["readelf", "-n", str(library)], capture_output=True, text=True)
    results = {"unit": "guest instructions per inference (qemu-aarch64 TCG plugin)",
               "qemu": subprocess.run(["qemu-aarch64", "--version"], capture_output=True,
                                      text=True).stdout.splitlines()[0],
               # Which delegate build was measured (the wheel is rebuilt as kernels change).
               "delegate_build_id": (re.findall(r"Build ID: (\w+)", notes.stdout) or [None])[0],
               "invokes": args.invokes, "threads": 1, "kernel_option": args.kernel,
               "layers": {layer[0]: {"input": layer[2], "out_channels": layer[3],
                                     "kernel": layer[4], "stride": layer[5]} for layer in described},
               "rows": rows, "targets_vs_int8_on_" + TARGET_CPU: targets}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for cpu in args.cpus:
        print(markdown(rows, cpu) + "\n")
    for target in targets:
        print(f"{TARGET_CPU} {target['layer']} {target['bits']}: bitlite/int8 "
              f"{target['bitlite_over_int8']:.3f} (target <= {target['target']}): "
              f"{'met' if target['met'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
