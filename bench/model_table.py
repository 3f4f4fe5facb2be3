"""README's model table, made by `bitlite bench` itself: per network and bit width, the
.tflite size and the speed-up over the stock converter's fp32 and int8 versions on this x86
machine (1 thread) and on a Cortex-A53 (the bench/arm cycle model, `bitlite bench --arm`).

    make bench-model-table
    .venv/bin/python -m bench.model_table --models resnet20_32 --bits W2A2 --no-arm   # a subset

Each network of bench/arm/whole_models.py (random weights, the same for every bit width: time
depends on the graph, not on the weights) is made a QAT model by quantize_model (defaults: the
first conv and the classifier 8-bit), left untrained, saved to build/model_table, and given
to the `bitlite bench` command line (run in this process: TensorFlow loads once) with --json;
the table is read from those JSON files. Writes bench/results/model_table.json (after every
network, so an interrupted run keeps what it measured) and prints the markdown table.

The x86 times are medians of --runs invokes of each version in turn, on whatever else the
machine is running (the load average is recorded per row); the table's are process CPU time,
at 1 thread the compute alone (README's whole-network table does the same), the JSON has the
wall times too. The A53 emulation of a file is
kept by `bitlite bench` (build/arm/bench-runs), so a re-run emulates only what changed.
A benchmark, not part of make test.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
REPO = Path(__file__).resolve().parents[1]
from bench import whole_model  # noqa: E402  (after the environment settings above)
from bench.arm import whole_models  # noqa: E402

BITS = ("W1A1", "W2A2", "W4A4")
SAVED = REPO / "build/model_table"
RESULTS = REPO / "bench/results/model_table.json"
RUNTIME = "litert"  # the runtime of README's other x86 tables


def bench_network(name: str, builder, bits: str, runs: int, arm: str | None,
                  directory: Path) -> dict:
    """One table row: saves the QAT model of `builder()` at `bits` ("W2A2"), runs `bitlite
    bench` on it and reads its JSON."""
    from bitlite.converter import cli

    weight_bits, activation_bits = (int(n) for n in bits[1:].split("A"))
    saved = directory / f"{name}_{bits}.keras"
    whole_models.qat_model(builder(), weight_bits, activation_bits).save(saved)
    report = directory / f"{name}_{bits}.json"
    load = os.getloadavg()[0]
    command = ["bench", str(saved), "--threads", "1", "--runs", str(runs), "--runtimes", RUNTIME,
               "--json", str(report), *(["--arm", arm] if arm else [])]
    status = cli.main(command)
    if status != 0:
        raise RuntimeError(f"`bitlite {' '.join(command)}` failed (exit {status})")
    bench = json.loads(report.read_text())
    x86 = [r for r in bench["results"] if r["runtime"] == RUNTIME and r["threads"] == 1]
    row = {"model": name, "bits": bits, "tflite_bytes": bench["tflite_bytes"],
           "x86_ms": {r["variant"]: r["total_ms"] for r in x86},
           "x86_cpu_ms": {r["variant"]: r["total_cpu_ms"] for r in x86},
           "load_average_1min_before": load,
           "bench_command": "bitlite " + " ".join(Path(part).name for part in command)}
    if arm:
        row["arm_ms"] = {r["runtime"]: r["ms"] for r in bench["arm"]["results"]}
    return row


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x"


def markdown(rows: list, arm: str | None) -> str:
    """README's table: size and speed-ups of the bitlite version over fp32 and int8."""
    header = ["network", "bits", ".tflite KB", "fp32 / bitlite size", "x86 CPU ms (1 thread)",
              "x86 vs fp32", "x86 vs int8"]
    if arm:
        header += [f"{arm} ms", f"{arm} vs fp32", f"{arm} vs int8"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for row in rows:
        size, x86 = row["tflite_bytes"], row["x86_cpu_ms"]
        cells = [row["model"], row["bits"], f"{size['bitlite'] / 1024:.0f}",
                 ratio(size["fp32"], size["bitlite"]), f"{x86['bitlite']:.3f}",
                 ratio(x86["fp32"], x86["bitlite"]), ratio(x86["int8"], x86["bitlite"])]
        if arm:
            ms = row["arm_ms"]
            cells += [f"{ms['bitlite']:.1f}", ratio(ms["fp32"], ms["bitlite"]),
                      ratio(ms["int8"], ms["bitlite"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def make_table(builders: dict, bits_list, runs: int, arm: str | None, output: Path,
               directory: Path, command: str) -> dict:
    """Benchmarks every network of `builders` (name -> float Keras model) at every bit width,
    writing `output` after each network; returns what it wrote."""
    directory.mkdir(parents=True, exist_ok=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    result = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                         f"{platform.processor() or whole_model.cpu_name()}",
              "git": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO,
                                    capture_output=True, text=True).stdout.strip(),
              "runtime": RUNTIME, "runs": runs,
              "arm_core": arm,
              "note": ("Untrained QAT models (random weights). x86: `bitlite bench` medians at "
                       "1 thread, the versions timed one after another in one process on a "
                       "machine shared with other jobs (load averages recorded); the table's "
                       "ratios are of process CPU time (x86_cpu_ms). ARM: the "
                       "bench/arm cycle model's single-thread estimate, not a measurement on "
                       "a board."),
              "load_average_start": list(os.getloadavg()), "rows": []}
    for name, builder in builders.items():
        for bits in bits_list:
            print(f"  {name} {bits}", file=sys.stderr, flush=True)
            result["rows"].append(bench_network(name, builder, bits, runs, arm, directory))
        result.update(load_average_end=list(os.getloadavg()), seconds=time.time() - started)
        output.write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(whole_model.MODELS),
                        help=f"comma-separated, among {', '.join(whole_models.BUILDERS)}")
    parser.add_argument("--bits", default=",".join(BITS), help="comma-separated W?A? widths")
    parser.add_argument("--runs", type=int, default=50, help="timed invokes per version")
    parser.add_argument("--arm", default="cortex-a53", help="the core of the ARM columns")
    parser.add_argument("--no-arm", action="store_true", help="no ARM columns (no emulation)")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in whole_models.BUILDERS]
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(whole_models.BUILDERS)}")
    bits_list = [b for b in args.bits.split(",") if b]
    if not all(re.fullmatch(r"W[1-8]A[1-8]", b) for b in bits_list):
        parser.error(f"--bits: each is W<weight bits>A<activation bits> (1-8), not {args.bits}")
    arm = None if args.no_arm else args.arm
    command = " ".join(["python", "-m", "bench.model_table",
                        *(sys.argv[1:] if argv is None else argv)])
    result = make_table({m: functools.partial(whole_models.seeded, m) for m in models},
                        bits_list, args.runs, arm, args.json, SAVED, command)
    print(markdown(result["rows"], arm))
    print(f"\nload average (1, 5, 15 min) at start {result['load_average_start']}, at end "
          f"{result['load_average_end']}; {result['seconds']:.0f} s; written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
