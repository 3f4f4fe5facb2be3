"""Where a bitlite op's ARM instructions go: per-function instruction counts of one invoke.

Runs one bitlite layer of bench_insns.py, or a whole network of whole_models.py (--network),
in the emulated aarch64 Python under the plugin with profile=FILE, takes the blocks executed
between the driver's markers (N invokes) and maps their addresses to functions of the
unstripped delegate library (same build id as the installed, stripped one) or to the other
mapped files (libc, LiteRT, Python). --cycles adds each function's core cycles as
bench/arm's cycle model prices its blocks (llvm-mca for the core; no cache misses).

    .venv/bin/python -m bench.arm.profile_op resnet18_3x3_64_56 W1A1
    .venv/bin/python -m bench.arm.profile_op --network resnet18_224 W1A1 --ops
    .venv/bin/python -m bench.arm.profile_op --network resnet18_224 W2A2 --cycles
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.arm import bench_insns, cycle_model, whole_models
from bench.arm.arm_cores import CORES
from bench.arm.bench_cycles import MCA_CACHE

REPO = bench_insns.REPO
SITE = "build/arm/aarch64/venv/lib/python3.11/site-packages/bitlite/delegate/"


def build_id(library: Path) -> str:
    notes = subprocess.run(["aarch64-linux-gnu-readelf", "-n", str(library)],
                           capture_output=True, text=True, check=True).stdout
    return re.search(r"Build ID: (\w+)", notes).group(1)


def functions(library: Path) -> tuple[list[int], list[str]]:
    """Sorted start addresses and demangled names of the library's code symbols."""
    listing = subprocess.run(["aarch64-linux-gnu-nm", "-n", "-C", "--defined-only",
                              str(library)], capture_output=True, text=True, check=True).stdout
    starts, names = [], []
    for line in listing.splitlines():
        address, kind, name = line.split(" ", 2)
        if kind in "tTwW":
            starts.append(int(address, 16))
            names.append(name)
    return starts, names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layer", nargs="?", choices=[layer[0] for layer in bench_insns.LAYERS])
    parser.add_argument("bits", help="e.g. W1A1")
    parser.add_argument("--network", choices=sorted(whole_models.BUILDERS),
                        help="profile this whole network instead of one layer")
    parser.add_argument("--ops", action="store_true",
                        help="also print the delegate's per-op profile (emulated wall time: "
                             "a share of the run, not instructions) with each op's kernel")
    parser.add_argument("--cpu", default=bench_insns.TARGET_CPU)
    parser.add_argument("--cycles", action="store_true",
                        help="also price each function's blocks with the cycle model (core "
                             "cycles per invoke, without cache misses)")
    parser.add_argument("--invokes", type=int, default=1)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--kernel", default="auto", help="the delegate's kernel option")
    parser.add_argument("--python", type=Path, default=REPO / "build/arm/aarch64/python")
    parser.add_argument("--plugin", type=Path,
                        default=REPO / "build/arm/qemu-src/libinsn_count.so")
    parser.add_argument("--unstripped", type=Path,
                        default=REPO / "build/arm/aarch64/wheel-build/libbitlite_delegate.so",
                        help="the delegate library before the wheel stripped it")
    args = parser.parse_args()
    installed = REPO / SITE / "libbitlite_delegate.so"
    if build_id(installed) != build_id(args.unstripped):
        sys.exit(f"{args.unstripped} is not the build installed in the emulated Python")
    if (args.layer is None) == (args.network is None):
        parser.error("name a layer or a --network")
    with tempfile.TemporaryDirectory(prefix="bitlite_arm_profile_") as tmp:
        model = Path(tmp) / "model.tflite"
        if args.network:
            model.write_bytes(whole_models.models(args.network, [args.bits])[args.bits])
        else:
            layer = next(layer for layer in bench_insns.LAYERS if layer[0] == args.layer)
            w, a = int(args.bits[1]), int(args.bits[3])
            model.write_bytes(bench_insns.bench_conv.bitlite_model(layer, w, a,
                                                                   np.random.default_rng(0)))
        manifest, profile = Path(tmp) / "jobs.json", Path(tmp) / "profile.txt"
        code_file = Path(tmp) / "code.txt"
        op_times = Path(tmp) / "ops.tsv"
        job = {"name": args.bits, "model": str(model), "invokes": args.invokes, "bitlite": True,
               "kernel": args.kernel}
        if args.ops:
            job["profile"] = str(op_times)
        manifest.write_text(json.dumps([job]))
        env = {k: v for k, v in os.environ.items() if k not in bench_insns.HOST_ONLY_ENV}
        plugin = f"{args.plugin},out={Path(tmp) / 'counts'},profile={profile}"
        if args.cycles:
            plugin += f",code={code_file}"
        env.update(BITLITE_QEMU_CPU=args.cpu, QEMU_PLUGIN=plugin)
        child = subprocess.run([str(args.python), str(Path(__file__).parent / "insn_driver.py"),
                                str(manifest)], env=env, capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(child.stderr[-3000:])
        # The blocks dumped at marker 2 ran between markers 1 and 2: the N invokes (and one
        # marker call, ~9k instructions of ctypes and Python).
        dump = profile.read_text().split("marker 2\n", 1)[1].split("marker", 1)[0]
        ops = op_times.read_text() if args.ops else ""
        code = cycle_model.read_code(code_file) if args.cycles else {}
    # "map START-END PERMS OFFSET DEV INODE PATH" of every executable mapping.
    maps = []
    for match in re.finditer(r"^map (\w+)-(\w+) \S+ (\w+) \S+ \S+\s+(.*)$", child.stderr, re.M):
        start, end, offset, path = match.groups()
        maps.append((int(start, 16), int(end, 16), int(offset, 16), path or "[anon]"))
    starts, names = functions(args.unstripped)
    blocks = [line.split() for line in dump.splitlines()]
    prices = {}
    if args.cycles:
        prices = cycle_model.block_cycles({code[(int(pc, 16), int(n))] for pc, n, _ in blocks},
                                          CORES[args.cpu].mca_cpu, MCA_CACHE)
    per_function, cycles = collections.Counter(), collections.Counter()
    for pc, insns, execs in blocks:
        key = (int(pc, 16), int(insns))
        total = int(insns) * int(execs)
        where = next((m for m in maps if m[0] <= key[0] < m[1]), None)
        if where is None:
            name = "[unmapped]"
        elif where[3].endswith("libbitlite_delegate.so"):
            # Shared libraries are linked at 0 with file offset == address in their text.
            index = bisect.bisect_right(starts, key[0] - where[0] + where[2]) - 1
            name = f"bitlite: {names[index] if index >= 0 else '?'}"
        else:
            name = Path(where[3]).name
        per_function[name] += total
        if args.cycles:
            # Blocks llvm-mca cannot model cost a cycle per instruction, as in cycle_model.
            price = prices[code[key]]
            cycles[name] += (int(insns) if price is None else price) * int(execs)
    grand = sum(per_function.values())
    kernel = re.findall(r"kernel (\S+)$", child.stderr, re.M)
    print(f"{args.network or args.layer} {args.bits} -cpu {args.cpu} (kernel {kernel}): "
          f"{grand / args.invokes:,.0f} instructions per invoke\n")
    if args.cycles:
        all_cycles = sum(cycles.values())
        print(f"core cycles per invoke on {args.cpu} ({CORES[args.cpu].mca_cpu} model, no "
              f"cache misses): {all_cycles / args.invokes:,.0f}\n")
        print("| where | instructions per invoke | share | core cycles per invoke | share |\n"
              "|---|---|---|---|---|")
        for name, total in cycles.most_common(args.top):
            print(f"| {name[:110]} | {per_function[name] / args.invokes:,.0f} | "
                  f"{100 * per_function[name] / grand:.1f}% | {total / args.invokes:,.0f} | "
                  f"{100 * total / all_cycles:.1f}% |")
    else:
        print("| where | instructions per invoke | share |\n|---|---|---|")
        for name, total in per_function.most_common(args.top):
            print(f"| {name[:110]} | {total / args.invokes:,.0f} | {100 * total / grand:.1f}% |")
    if ops:
        print_ops(ops)
    return 0


def print_ops(ops: str) -> None:
    """The delegate's per-op profile (node_profile.h's lines), each op's share of the time."""
    rows = []
    for line in ops.splitlines():
        tensor, kernel, samples = line.split("\t")
        rows.append((tensor, kernel, float(np.median([int(ns) for ns in samples.split(",")]))))
    total = sum(row[2] for row in rows)
    print("\n| op (output tensor) | kernel | share of the delegate's op time |\n|---|---|---|")
    for tensor, kernel, ns in rows:
        print(f"| {tensor} | {kernel} | {100 * ns / total:.1f}% |")


if __name__ == "__main__":
    sys.exit(main())
