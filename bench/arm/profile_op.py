"""Where a bitlite op's ARM instructions go: per-function instruction counts of one invoke.

Runs one bitlite layer of bench_insns.py, or a whole network of whole_models.py (--network),
in the emulated aarch64 Python under the plugin with profile=FILE, takes the blocks executed
between the driver's markers (N invokes) and maps their addresses to functions of the
unstripped delegate library (same build id as the installed, stripped one) or to the other
mapped files (libc, LiteRT, Python).

    .venv/bin/python -m bench.arm.profile_op resnet18_3x3_64_56 W1A1
    .venv/bin/python -m bench.arm.profile_op --network resnet18_224 W1A1 --ops
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

from bench.arm import bench_insns, whole_models

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
        op_times = Path(tmp) / "ops.tsv"
        job = {"name": args.bits, "model": str(model), "invokes": args.invokes, "bitlite": True,
               "kernel": args.kernel}
        if args.ops:
            job["profile"] = str(op_times)
        manifest.write_text(json.dumps([job]))
        env = {k: v for k, v in os.environ.items() if k not in bench_insns.HOST_ONLY_ENV}
        env.update(BITLITE_QEMU_CPU=args.cpu,
                   QEMU_PLUGIN=f"{args.plugin},out={Path(tmp) / 'counts'},profile={profile}")
        child = subprocess.run([str(args.python), str(Path(__file__).parent / "insn_driver.py"),
                                str(manifest)], env=env, capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(child.stderr[-3000:])
        # The blocks dumped at marker 2 ran between markers 1 and 2: the N invokes (and one
        # marker call, ~9k instructions of ctypes and Python).
        dump = profile.read_text().split("marker 2\n", 1)[1].split("marker", 1)[0]
        ops = op_times.read_text() if args.ops else ""
    # "map START-END PERMS OFFSET DEV INODE PATH" of every executable mapping.
    maps = []
    for match in re.finditer(r"^map (\w+)-(\w+) \S+ (\w+) \S+ \S+\s+(.*)$", child.stderr, re.M):
        start, end, offset, path = match.groups()
        maps.append((int(start, 16), int(end, 16), int(offset, 16), path or "[anon]"))
    starts, names = functions(args.unstripped)
    per_function = collections.Counter()
    for line in dump.splitlines():
        pc, insns, execs = line.split()
        pc, total = int(pc, 16), int(insns) * int(execs)
        where = next((m for m in maps if m[0] <= pc < m[1]), None)
        if where is None:
            per_function["[unmapped]"] += total
        elif where[3].endswith("libbitlite_delegate.so"):
            # Shared libraries are linked at 0 with file offset == address in their text.
            index = bisect.bisect_right(starts, pc - where[0] + where[2]) - 1
            per_function[f"bitlite: {names[index] if index >= 0 else '?'}"] += total
        else:
            per_function[Path(where[3]).name] += total
    grand = sum(per_function.values())
    kernel = re.findall(r"kernel (\S+)$", child.stderr, re.M)
    print(f"{args.network or args.layer} {args.bits} -cpu {args.cpu} (kernel {kernel}): "
          f"{grand / args.invokes:,.0f} instructions per invoke\n")
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
