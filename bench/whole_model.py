"""Whole-network latency on this x86 machine: bitlite W1A1/W2A2/W4A4 beside LiteRT's XNNPACK
fp32 and int8 (stock TFLite converter; int8 calibrated on a random representative set), at 1
and 2 threads, in one run. The networks are bench/arm/whole_models.py's, with random weights
(time depends on the graph, not on the weights).

    make bench-whole-model                     # every network: a few minutes
    .venv/bin/python -m bench.whole_model --quick --models resnet20_32,resnet18_32

Each (network, variant, threads) runs in a child process of its own, so that its peak RSS is
that interpreter's alone, plus the child's Python and LiteRT (measured before the model is
loaded and reported beside it). Peak RSS is the child's VmHWM, not ru_maxrss: Linux carries
ru_maxrss across fork and exec, so every child would report this process's peak (TensorFlow's,
over 1 GB). The children of one network are started
together and timed in turn, round after round (--rounds): a burst of load from other jobs
on this shared machine then hits one round of every variant instead of all of one variant.
A variant's latency is the median of all its invokes over the rounds, at batch 1.

Converted models are cached in build/whole_model under a key of the converter's and the
builders' sources (a changed converter converts again). Writes bench/results/whole_model_x86.json
(or --json) and prints the table that README shows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
REPO = Path(__file__).resolve().parents[1]
from bench.arm import whole_models  # noqa: E402  (after the environment settings above)

# Smallest first, so that partial results come early.
MODELS = ("resnet20_32", "resnet18_32", "vgg_small_32", "mobilenet_v2_224", "resnet18_224")
VARIANTS = ("fp32", "int8", "W1A1", "W2A2", "W4A4")
CACHE = REPO / "build/whole_model"
RESULTS = REPO / "bench/results/whole_model_x86.json"
WARM_UP = 5
# Extra delegate options (--delegate-option), handed to the children through the environment.
OPTIONS_ENV = "BITLITE_BENCH_DELEGATE_OPTIONS"


def cache_key() -> str:
    """Hash of what the cached .tflite files are made by: the converter and the builders."""
    import bitlite.converter

    digest = hashlib.sha256()
    sources = sorted(Path(bitlite.converter.__file__).parent.glob("*.py"))
    for path in sources + [Path(whole_models.__file__)]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build(model: str, variants, fresh: bool) -> dict:
    """variant -> cached .tflite path, converting those missing."""
    directory = CACHE / cache_key()
    paths = {v: directory / f"{model}_{v}.tflite" for v in variants}
    missing = [v for v, path in paths.items() if fresh or not path.exists()]
    if missing:
        print(f"  converting {model}: {', '.join(missing)}", file=sys.stderr, flush=True)
        directory.mkdir(parents=True, exist_ok=True)
        for variant, data in whole_models.models(model, missing).items():
            paths[variant].write_bytes(data)
    return paths


def status_kb(field: str) -> int:
    """A kB figure of /proc/self/status: VmRSS now, VmHWM the peak of this process image."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def child(path: str, threads: int, bitlite: bool, interpreter_threads: int) -> None:
    """Serves timing requests on stdin: a line 'RUNS' times RUNS invokes and answers with
    their wall and process CPU nanoseconds as JSON ([[wall, cpu], ...]); an empty line answers the peak RSS and ends. The delegate runs
    on `threads`, the interpreter's builtin ops (XNNPACK) on `interpreter_threads` (0: the
    same)."""
    import numpy as np
    from bitlite import delegate

    before = status_kb("VmRSS")
    interpreter = delegate.Interpreter(
        model_path=path, runtime="litert", num_threads=interpreter_threads or threads,
        delegate_options={"num_threads": str(threads),
                          **json.loads(os.environ.get(OPTIONS_ENV, "{}"))},
        experimental_delegates=None if bitlite else [])
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        shape = [max(1, int(d)) for d in detail["shape"]]
        interpreter.set_tensor(detail["index"], rng.normal(size=shape).astype(detail["dtype"]))
    for _ in range(WARM_UP):
        interpreter.invoke()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        times = []
        for _ in range(int(line)):
            start, cpu = time.perf_counter_ns(), time.process_time_ns()
            interpreter.invoke()
            times.append([time.perf_counter_ns() - start, time.process_time_ns() - cpu])
        print(json.dumps(times), flush=True)
    print(json.dumps({"peak_rss_kb": status_kb("VmHWM"), "rss_before_model_kb": before}),
          flush=True)


class Child:
    def __init__(self, path: Path, threads: int, bitlite: bool, interpreter_threads: int):
        # LiteRT's log lines go to a file, shown only if the child dies.
        self.log = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.whole_model", "--child", str(path), str(threads),
             str(int(bitlite)), str(interpreter_threads)], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.times: list[int] = []  # wall ns per invoke
        self.cpu_times: list[int] = []  # the process's CPU ns per invoke, all threads
        self.round_medians: list[float] = []

    def answer(self):
        line = self.process.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError(f"child {self.process.args} died (exit {self.process.wait()}):\n"
                               f"{self.log.read()}")
        return json.loads(line)

    def time(self, runs: int) -> list[int]:
        """Wall ns of `runs` invokes."""
        self.process.stdin.write(f"{runs}\n")
        self.process.stdin.flush()
        pairs = self.answer()
        times = [wall for wall, _ in pairs]
        self.times += times
        self.cpu_times += [cpu for _, cpu in pairs]
        self.round_medians.append(statistics.median(times) / 1e6)
        return times

    def finish(self) -> dict:
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        memory = self.answer()
        self.process.wait()
        return memory


def measure(model: str, paths: dict, threads_list, rounds: int, budget_s: float,
            min_runs: int, interpreter_threads: int) -> list:
    configs = [(v, t) for v in paths for t in threads_list]
    children = {c: Child(paths[c[0]], c[1], c[0].startswith("W"), interpreter_threads)
                for c in configs}
    for c in configs:
        children[c].answer()  # loaded and warm
    # Invokes per round: the round's time budget at the first estimate, at least min_runs.
    runs = {}
    for c in configs:
        estimate = statistics.median(children[c].time(3)) / 1e9
        children[c].times.clear()
        children[c].cpu_times.clear()
        children[c].round_medians.clear()
        runs[c] = max(min_runs, int(budget_s / rounds / max(estimate, 1e-6)))
    loads = [os.getloadavg()[0]]
    for _ in range(rounds):
        for c in configs:
            children[c].time(runs[c])
        loads.append(os.getloadavg()[0])
    rows = []
    for (variant, threads) in configs:
        ch = children[(variant, threads)]
        memory = ch.finish()
        rows.append({
            "model": model, "variant": variant, "threads": threads,
            "interpreter_threads": interpreter_threads or threads,
            "median_ms": statistics.median(ch.times) / 1e6,
            "cpu_median_ms": statistics.median(ch.cpu_times) / 1e6,
            "round_medians_ms": ch.round_medians, "invokes": len(ch.times),
            "tflite_bytes": paths[variant].stat().st_size,
            "peak_rss_kb": memory["peak_rss_kb"],
            "rss_before_model_kb": memory["rss_before_model_kb"],
            "load_average_1min_during": loads,
        })
    return rows


def add_ratios(rows: list) -> None:
    at = {(r["model"], r["variant"], r["threads"]): r for r in rows}
    for r in rows:
        for base in ("fp32", "int8"):
            other = at.get((r["model"], base, r["threads"]))
            r[f"speedup_vs_{base}"] = other["median_ms"] / r["median_ms"] if other else None
            # At 1 thread the CPU time is the compute alone, whatever other jobs took the core.
            r[f"cpu_speedup_vs_{base}"] = (other["cpu_median_ms"] / r["cpu_median_ms"]
                                           if other and r["threads"] == 1 else None)
        one = at.get((r["model"], r["variant"], 1))
        r["scaling_vs_1_thread"] = (one["median_ms"] / r["median_ms"]
                                    if one and r["threads"] != 1 else None)


def table(rows: list, threads_list) -> str:
    """Markdown: per network and variant, wall ms per thread count, CPU ms at 1 thread and
    the speed-ups by it, the 2/1 wall scaling, size and peak RSS."""
    at = {(r["model"], r["variant"], r["threads"]): r for r in rows}
    most = max(threads_list)
    head = (["network", "variant"] + [f"ms {t}T" for t in threads_list] +
            ["CPU ms 1T", "vs fp32 (CPU 1T)", "vs int8 (CPU 1T)", f"{most}T/1T", ".tflite KB",
             "peak RSS MB"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    seen = []
    for r in rows:
        key = (r["model"], r["variant"])
        if key in seen:
            continue
        seen.append(key)
        one = at.get((*key, min(threads_list)))

        def ratio(value):
            return f"{value:.2f}x" if value else ""

        cells = [r["model"], r["variant"]]
        cells += [f"{at[(*key, t)]['median_ms']:.3f}" if (*key, t) in at else ""
                  for t in threads_list]
        cells += [f"{one['cpu_median_ms']:.3f}",
                  ratio(one["cpu_speedup_vs_fp32"]) if r["variant"] != "fp32" else "",
                  ratio(one["cpu_speedup_vs_int8"]) if r["variant"] != "int8" else "",
                  ratio(at[(*key, most)]["scaling_vs_1_thread"]) if (*key, most) in at else "",
                  f"{one['tflite_bytes'] / 1024:.0f}",
                  f"{one['peak_rss_kb'] / 1024:.0f} ({(one['peak_rss_kb'] - one['rss_before_model_kb']) / 1024:+.0f})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, among {', '.join(whole_models.BUILDERS)}")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--interpreter-threads", type=int, default=0,
                        help="XNNPACK's threads for the builtin ops, whatever --threads gives the "
                        "delegate (default: the same); separates the two pools' effects")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="invoke time per (network, variant, threads) over all rounds")
    parser.add_argument("--min-runs", type=int, default=20, help="invokes per round at least")
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds, 0.6 s and at least 5 invokes per round per config")
    parser.add_argument("--fresh", action="store_true", help="convert again")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--delegate-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra bitlite delegate option, e.g. claim_builtins=false "
                        "(repeatable)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), bool(int(args.child[2])), int(args.child[3]))
        return
    extra = dict(option.split("=", 1) for option in args.delegate_option)
    os.environ[OPTIONS_ENV] = json.dumps(extra)
    if args.quick:
        args.rounds, args.seconds, args.min_runs = 3, 0.6, 5
    models = args.models.split(",")
    variants = args.variants.split(",")
    threads_list = [int(t) for t in args.threads.split(",")]
    unknown = set(models) - set(whole_models.BUILDERS)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; known: {', '.join(whole_models.BUILDERS)}")
    started = time.time()
    load_start = os.getloadavg()
    rows = []
    for model in models:
        paths = build(model, variants, args.fresh)
        print(f"  timing {model}", file=sys.stderr, flush=True)
        rows += measure(model, paths, threads_list, args.rounds, args.seconds, args.min_runs,
                        args.interpreter_threads)
    add_ratios(rows)
    from bitlite import delegate

    result = {
        "command": " ".join([Path(sys.executable).name, "-m", "bench.whole_model",
                             *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or cpu_name()}",
        "delegate_library": delegate.library_path(),
        "git": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO,
                              capture_output=True, text=True).stdout.strip(),
        "note": ("Shared 2-core machine: other jobs run beside the benchmark, so latencies are "
                 "medians over rounds interleaved across variants; load averages are recorded. "
                 "An invoke longer than a scheduler slice (a few ms) loses the core to other "
                 "jobs, so at load > 2 wall times of large models are inflated; cpu_median_ms "
                 "(process CPU time per invoke, all threads) is the compute alone at 1 thread, "
                 "and counts the workers' waiting at 2. peak_rss_kb is the child process "
                 "(Python, LiteRT, the interpreter); rss_before_model_kb its RSS before the "
                 "model was loaded."),
        "delegate_options": extra,
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
        "seconds": time.time() - started, "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(table(rows, threads_list))
    print(f"\nload average (1, 5, 15 min) at start {load_start}, at end {os.getloadavg()}; "
          f"{result['seconds']:.0f} s; written to {args.json}")


def cpu_name() -> str:
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


if __name__ == "__main__":
    main()
