"""Runs bitlite models inside an emulated ARM Python (started by test_arm_emulated.py through
the DEST/python wrapper of tools/arm/setup_emulated_python.sh).

    python arm_run_models.py MANIFEST.json REPORT.json

MANIFEST is a list of {"model": path, "input": .npy, "output": .npy, "num_threads": int|null}.
Every model runs through bitlite.delegate.Interpreter with the TFLite runtime installed there
(ai_edge_litert on aarch64, tflite_runtime on armv7l) and the delegate library of the
installed bitlite wheel; output 0 is saved. REPORT gets what ran: machine, runtime, library,
and the CPU features the (emulated) kernel reported, so the test can check the CPU it asked
for is the one the delegate saw. Only NumPy, bitlite and a runtime are needed here.
"""

import ctypes
import importlib.metadata
import json
import platform
import struct
import sys

import bitlite.delegate

from run_in_tflite_runtime import invoke_job  # this script's folder, tests/: the shared job runner

AT_HWCAP = 16
# Runtime module -> its distribution, for the version in the report.
RUNTIMES = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime",
            "tensorflow": "tensorflow"}


def run_job(job: dict, runtime=None) -> None:
    """One model: load from its file, resize the input to the array's shape, invoke, save."""
    # verbose: the delegate names the kernel it picked for each node on stderr.
    invoke_job(bitlite.delegate.Interpreter(model_path=job["model"], runtime=runtime,
                                            num_threads=job.get("num_threads"),
                                            delegate_options={"verbose": "true"}), job)


def cpu_features() -> str:
    """The Features line of /proc/cpuinfo (qemu serves the sysroot's copy)."""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("Features"):
                return line.split(":", 1)[1].strip()
    return ""


def flushes_denormals() -> bool:
    """Whether this process's FPU flushes denormals to zero. tflite_runtime 2.14's armv7
    library is linked with -ffast-math (crtfastmath), which sets FPSCR.FZ when it loads."""
    smallest = struct.unpack("<f", struct.pack("<I", 1))[0]
    return smallest * 1.0 == 0.0


def main(manifest: str, report: str) -> int:
    with open(manifest) as handle:
        jobs = json.load(handle)
    for job in jobs:
        run_job(job)
    libc = ctypes.CDLL(None)
    libc.getauxval.restype = ctypes.c_ulong
    libc.getauxval.argtypes = [ctypes.c_ulong]
    runtime = next(name for name in RUNTIMES if name in sys.modules)
    with open(report, "w") as handle:
        json.dump({"machine": platform.machine(),
                   "runtime": f"{runtime} {importlib.metadata.version(RUNTIMES[runtime])}",
                   "library": bitlite.delegate.library_path(),
                   "hwcap": libc.getauxval(AT_HWCAP), "cpuinfo_features": cpu_features(),
                   "flushes_denormals": flushes_denormals(),
                   "models": len(jobs)}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
