"""Runs inside the emulated Debian 11 (Bullseye) aarch64 Python made by
`tools/arm/setup_emulated_python.sh aarch64-bullseye DEST WHEEL` (started by
test_arm_bullseye.py through DEST/python).

    python bullseye_guest.py MANIFEST.json REPORT.json

MANIFEST is {"wheel": name of the bitlite wheel file, "jobs": [{"model", "input", "num_threads",
"outputs": {runtime: .npy}}]}. Every model runs through bitlite.delegate.Interpreter under each
runtime named in its "outputs" (tflite_runtime 2.13 and ai_edge_litert 1.4 there) and output 0
is saved. REPORT gets what the system is (glibc, Python, pip), how bitlite was installed, and
whether this pip's tag check accepts the wheel's file name and would refuse the same wheel
tagged for a newer glibc. Only NumPy, bitlite, the runtimes and Debian's pip are needed here.
"""

import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path

import bitlite.delegate

# tests/: the job runner shared with the other emulated and tflite_runtime runs.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run_in_tflite_runtime import invoke_job  # noqa: E402

DISTRIBUTIONS = {"tflite_runtime": "tflite-runtime", "litert": "ai-edge-litert"}
# A glibc newer than Bullseye's 2.31: this pip must refuse a wheel tagged for it.
TOO_NEW = "manylinux_2_34_aarch64"


def pip_tag_check(wheel_name: str) -> dict:
    """What this pip's install-time check (the wheel file name's tags against the interpreter's
    supported tags, the check that rejects "not a supported wheel on this platform") says about
    the bitlite wheel's name, and about the same name retagged for glibc 2.34."""
    import pip
    from pip._internal.models.wheel import Wheel
    from pip._internal.utils.compatibility_tags import get_supported

    supported = get_supported()
    platform_tag = wheel_name[:-len(".whl")].rsplit("-", 1)[1]
    too_new = wheel_name.replace(platform_tag, TOO_NEW)
    manylinux = sorted({tag.platform for tag in supported if tag.platform.startswith("manylinux_")},
                       key=lambda name: int(name.split("_")[2]))
    return {"pip": pip.__version__, "accepts_wheel": Wheel(wheel_name).supported(supported),
            "accepts_too_new": Wheel(too_new).supported(supported),
            "newest_manylinux": manylinux[-1] if manylinux else None}


def installed_bitlite() -> dict:
    distribution = importlib.metadata.distribution("bitlite")
    wheel = distribution.read_text("WHEEL") or ""
    return {"version": distribution.version,
            "installer": (distribution.read_text("INSTALLER") or "").strip(),
            "tags": [line.split(":", 1)[1].strip() for line in wheel.splitlines()
                     if line.startswith("Tag:")],
            "location": str(distribution.locate_file("")),
            "library": bitlite.delegate.library_path()}


def main(manifest: str, report: str) -> int:
    with open(manifest) as handle:
        spec = json.load(handle)
    runtimes = sorted({runtime for job in spec["jobs"] for runtime in job["outputs"]})
    for job in spec["jobs"]:
        for runtime, output in job["outputs"].items():
            # verbose: the delegate names the kernel it picked for each node on stderr.
            interpreter = bitlite.delegate.Interpreter(
                model_path=job["model"], runtime=runtime, num_threads=job.get("num_threads"),
                delegate_options={"verbose": "true"})
            invoke_job(interpreter, dict(job, output=output))
    with open(report, "w") as handle:
        json.dump({"machine": platform.machine(),
                   "glibc": os.confstr("CS_GNU_LIBC_VERSION"),
                   "python": platform.python_version(),
                   "bitlite": installed_bitlite(),
                   "pip_tags": pip_tag_check(spec["wheel"]),
                   "runtimes": {runtime: importlib.metadata.version(DISTRIBUTIONS[runtime])
                                for runtime in runtimes},
                   "models": len(spec["jobs"])}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
