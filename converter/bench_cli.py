"""`bitlite bench MODEL`: latency of a bitlite model, whole and per op (bench.py says how each
time is measured), for several thread counts and runtimes; given a saved QAT Keras model, also
its fp32 and int8 versions by the stock converter, run side by side.

    bitlite bench model.tflite --threads 1,2 --runs 50 --json out.json --plot out.png

--arm cortex-a53 adds the modelled time of the same files on that Raspberry Pi core
(bench_arm.py: a source checkout's cycle model).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

from bitlite import delegate

from . import bench, bench_arm, native_logs


def add_parser(commands):
    parser = commands.add_parser(
        "bench", help="measured latency of a .tflite or saved QAT model, whole and per op")
    parser.add_argument("model", help="a .tflite, or a QAT model saved with model.save()")
    parser.add_argument("--threads", type=_int_list, default=[1],
                        help="comma-separated thread counts (default 1)")
    parser.add_argument("--runs", type=int, default=50, help="timed invokes per measurement")
    parser.add_argument("--runtimes", type=_name_list, default=None,
                        help=f"comma-separated, of {','.join(delegate.RUNTIMES)} (default: "
                             f"every one installed)")
    parser.add_argument("--json", metavar="OUT.json", help="write every time as JSON")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="per-op bars and the whole-model comparison (needs matplotlib)")
    parser.add_argument("--arm", type=_name_list, default=[], metavar="CORE[,CORE]",
                        help="also the modelled single-thread time on these cores (cortex-a53, "
                             "-a72, -a76): needs a source checkout after `make arm-env`")


def run(args, fail) -> int:
    if args.runs < 1 or min(args.threads) < 1:
        return fail("bench", "--runs and --threads must be at least 1")
    runtimes = args.runtimes or _installed_runtimes()
    missing = [name for name in runtimes if not _installed(name)]
    if missing or not runtimes:
        return fail("bench", f"runtime {missing or 'none'} is not installed (known: "
                             f"{', '.join(delegate.RUNTIMES)}; installed: "
                             f"{', '.join(_installed_runtimes()) or 'none'})")
    arm = None
    if args.arm:
        try:
            arm = bench_arm.load(args.arm)  # before the conversion: say early what is missing
        except ValueError as error:
            return fail("bench", str(error))
    try:
        variants = _variants(args.model)
    except (OSError, ValueError) as error:  # ConversionError is a ValueError
        return fail("bench", str(error))
    if bench.bitlite_op_count(variants["bitlite"]) == 0:
        print(f"  {args.model} has no bitlite ops: timing it as a plain TFLite model",
              file=sys.stderr)
    builtin_ops = len(tflite_ops(variants["bitlite"])) - bench.bitlite_op_count(variants["bitlite"])
    runs = []
    with native_logs.captured(), warnings.catch_warnings():
        # tf.lite.Interpreter is deprecated, and measured on purpose (README: runtimes).
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        steps = _Progress(len(runtimes) * len(args.threads) * (len(variants) + builtin_ops))
        for runtime in runtimes:
            for threads in args.threads:
                for variant, data in variants.items():
                    runs.append(bench.time_model(data, variant, runtime, threads, args.runs,
                                                 per_op=variant == "bitlite", progress=steps))
        steps.done()
    print(_tables(runs, runtimes, args.threads))
    arm_rows = []
    if arm is not None:
        try:
            arm_rows = bench_arm.modelled(arm, args.arm, variants, os.path.basename(args.model))
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:  # a failed emulation
            return fail("bench", f"--arm: {' '.join(str(error).split())[:500]}")
        print("\n" + _arm_table(arm_rows, arm.CORES))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(_as_json(args, runs, variants, arm_rows), file, indent=1)
    if args.plot:
        from . import bench_plot
        bench_plot.write(runs, args.plot)
    return 0


def tflite_ops(data: bytes) -> list:
    from . import tflite_edit
    return tflite_edit.read(data).subgraphs[0].operators


def _variants(path: str) -> dict[str, bytes]:
    """{"bitlite": .tflite} for a .tflite file; for a saved QAT model its conversion and the
    stock converter's fp32 and int8 versions. Raises OSError / ValueError saying what is wrong."""
    if not os.path.exists(path):
        raise OSError(f"{path} does not exist")
    if os.path.isfile(path):
        with open(path, "rb") as file:
            data = file.read()
        if data[4:8] == b"TFL3":
            try:
                bench.bitlite_op_count(data)
            except Exception as error:  # noqa: BLE001 - a damaged flatbuffer fails many ways
                raise ValueError(f"{path} is damaged or truncated: cannot parse it as a .tflite "
                                 f"({type(error).__name__})") from None
            return {"bitlite": data}
    print(f"  loading and converting {path}", file=sys.stderr)
    with native_logs.captured():
        from . import stock_versions
        from .conversion import convert
        from .qat import load_qat_model
        try:
            model = load_qat_model(path, compile=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path} is neither a .tflite nor a saved Keras model ({error})"
                             ) from None
        return {"bitlite": convert(model), **stock_versions.fp32_and_int8(model)}


def _tables(runs: list, runtimes: list, threads: list) -> str:
    from .report import aligned
    lines = []
    header = ["", "op", "name", "kernel"] + [f"{t} thread{'s' * (t > 1)} ms" for t in threads]
    for runtime in runtimes:
        mine = [r for r in runs if r.runtime == runtime and r.variant == "bitlite"]
        rows = [tuple(header)]
        for index, op in enumerate(mine[0].ops):
            rows.append((str(op.position), op.op, op.name, op.kernel,
                         *(_ms(r.ops[index].ms) for r in mine)))
        rows.append(("", "sum of ops", "", "", *(_ms(sum(o.ms or 0 for o in r.ops))
                                                   for r in mine)))
        lines += [f"bitlite model per op, runtime {runtime} (bitlite ops: {bench.BITLITE_METHOD}; "
                  f"builtin ops: {bench.BUILTIN_METHOD})", aligned(rows, left=4), ""]
    rows = [("model", "runtime") + tuple(header[4:])]
    for variant in dict.fromkeys(r.variant for r in runs):
        for runtime in runtimes:
            rows.append((variant, runtime, *(_ms(r.total_ms) for r in runs
                                             if r.variant == variant and r.runtime == runtime)))
    lines += ["whole model, median of the invokes", aligned(rows, left=2)]
    return "\n".join(lines)


def _arm_table(rows: list, cores: dict) -> str:
    from .report import aligned
    lines = []
    for core in dict.fromkeys(r["cpu"] for r in rows):
        table = [("model", "ms", "core-only ms", "instructions")]
        table += [(r["runtime"], f"{r['ms']:.3f}", f"{r['core_only_ms']:.3f}",
                   f"{r['instructions']:,.0f}") for r in rows if r["cpu"] == core]
        lines += [f"modelled single-thread time on {cores[core].board} ({core}), one invoke "
                  f"(bench/arm cycle model; core-only: every cache miss hidden)",
                  aligned(table, left=1)]
    return "\n".join(lines)


def _as_json(args, runs: list, variants: dict, arm_rows: list) -> dict:
    from dataclasses import asdict
    result = {"model": args.model, "runs": args.runs, "warm_up_invokes": bench.WARM_UP,
              "method": {"bitlite ops": bench.BITLITE_METHOD,
                         "builtin ops": bench.BUILTIN_METHOD,
                         "total": "median wall time of one invoke, batch 1",
                         "total cpu": "median process CPU time (all threads) of one invoke"},
              "tflite_bytes": {variant: len(data) for variant, data in variants.items()},
              "results": [asdict(r) for r in runs]}
    if arm_rows:
        result["arm"] = {"method": bench_arm.METHOD, "results": arm_rows}
    return result


def _ms(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _installed(runtime: str) -> bool:
    import importlib.util
    module = delegate.RUNTIMES.get(runtime)
    return module is not None and importlib.util.find_spec(module.split(".")[0]) is not None


def _installed_runtimes() -> list:
    return [name for name in delegate.RUNTIMES if _installed(name)]


def _int_list(text: str) -> list:
    return [int(part) for part in text.split(",") if part]


def _name_list(text: str) -> list:
    return [part.strip() for part in text.split(",") if part.strip()]


class _Progress:
    """A one-line bar on stderr when it is a terminal (long runs: large models, many ops)."""

    def __init__(self, total: int):
        self.total, self.count = total, 0
        self.shown = sys.stderr.isatty()

    def __call__(self):
        self.count += 1
        if self.shown:
            filled = 30 * self.count // max(1, self.total)
            print(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total}",
                  end="", file=sys.stderr, flush=True)

    def done(self):
        if self.shown:
            print(file=sys.stderr)
