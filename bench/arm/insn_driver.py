"""Runs models inside the emulated aarch64 Python under insn_count_plugin.c (started by
bench_insns.py through the DEST/python wrapper of tools/arm/setup_emulated_python.sh).

    python insn_driver.py MANIFEST.json

MANIFEST is a list of {"name", "model": path, "bitlite": bool, "invokes": N, "kernel": the
delegate's kernel option, optional "profile": its per-op profile file}. Per model:
create the interpreter (single-threaded: the plugin's counter is not thread-safe), set a
fixed input, invoke once (lazy packing and first-run work), then markers 3i and 3i+1, N more
invokes, marker 3i+2. The plugin prints the instruction count at each marker, so the
difference is "N+1 invokes minus 1 invoke" in one process, and interpreter creation, delegate prepare,
weight packing and Python start-up all cancel out. Only NumPy, bitlite and LiteRT are used.
"""

import ctypes
import json
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

import bitlite.delegate

# The plugin's marker: getppid (aarch64 syscall 173) with a magic first argument, which the
# kernel ignores. c_long: ctypes would pass plain ints as 32-bit C ints.
NR_GETPPID = 173
MARKER_MAGIC = 0xB17E5EED
LIBC = ctypes.CDLL(None)


def marker(label: int) -> None:
    LIBC.syscall(ctypes.c_long(NR_GETPPID), ctypes.c_long(MARKER_MAGIC), ctypes.c_long(label))


def interpreter_for(job: dict):
    if job["bitlite"]:
        # verbose: the delegate names the kernel it picked on stderr ("... kernel NAME").
        options = {"verbose": "true", "kernel": job.get("kernel", "auto")}
        if "profile" in job:
            options["profile"] = job["profile"]
        return bitlite.delegate.Interpreter(model_path=job["model"], runtime="litert",
                                            num_threads=1, delegate_options=options)
    # The default op resolver applies LiteRT's XNNPACK delegate (fp32 and int8).
    return Interpreter(model_path=job["model"], num_threads=1)


def main(manifest: str) -> int:
    with open(manifest) as handle:
        jobs = json.load(handle)
    for i, job in enumerate(jobs):
        # The host splits the verbose stderr by these lines to know whose kernel line is whose.
        print(f"job {job['name']}", file=sys.stderr, flush=True)
        interpreter = interpreter_for(job)
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        x = np.random.default_rng(0).uniform(-1, 1, size=detail["shape"])
        interpreter.set_tensor(detail["index"], x.astype(detail["dtype"]))
        interpreter.invoke()
        if job["bitlite"]:
            # Where the code lies (guest addresses: qemu emulates this file), for profile_op.py.
            with open("/proc/self/maps") as maps:
                for line in maps:
                    if line.split()[1][2] == "x":
                        print(f"map {line.strip()}", file=sys.stderr, flush=True)
        # 3i..3i+1 brackets nothing: what a marker call itself costs (~9k instructions of
        # ctypes), which the host subtracts from 3i+1..3i+2, the N invokes.
        marker(3 * i)
        marker(3 * i + 1)
        for _ in range(job["invokes"]):
            interpreter.invoke()
        marker(3 * i + 2)
        del interpreter
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
