"""The aarch64 wheel on a Raspberry Pi OS Bullseye-class system: Debian 11's own arm64 glibc
2.31, Python 3.9 and pip 20.3.4, emulated with qemu-user (-cpu cortex-a72, the Pi 4's core).

tools/arm/setup_emulated_python.sh aarch64-bullseye installs the wheel with that pip and its
tag check on (no --platform), with the runtimes a Bullseye user can install from PyPI:
tflite-runtime 2.13.0 and ai-edge-litert 1.4.0 (the newest with cp39 aarch64 wheels for glibc
<= 2.31). The one-op models of test_arm_emulated.py then run under both runtimes there, and
their outputs must be bit-identical to the x86 delegate's.

BITLITE_ARM_ROOT is the directory holding aarch64-bullseye/ (see test_arm_emulated.py). Without
it, or without qemu, these tests skip; with CI set they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from support import cases, harness
from support.checks import skip_or_fail
from test_arm_emulated import HOST_ONLY_ENV, ROOT_ENV, _cases, x86_mismatch

ENV_NAME = "aarch64-bullseye"
CPU = "cortex-a72"  # Pi 4: no dotprod
GUEST = Path(__file__).resolve().with_name("bullseye_guest.py")
REPO = Path(__file__).resolve().parents[2]
RUNTIMES = {"tflite_runtime": "2.13.0", "litert": "1.4.0"}
LIBRARY = "bitlite/delegate/libbitlite_delegate.so"


def _python() -> Path:
    root = os.environ.get(ROOT_ENV)
    if not root:
        skip_or_fail(f"{ROOT_ENV} is not set (directory of the emulated Pythons made by "
                     f"tools/arm/setup_emulated_python.sh)")
    if shutil.which("qemu-aarch64") is None:
        skip_or_fail("qemu-aarch64 not found (Debian: apt-get install qemu-user)")
    python = Path(root) / ENV_NAME / "python"
    if not python.is_file():
        skip_or_fail(f"{python} does not exist: run tools/arm/setup_emulated_python.sh "
                     f"{ENV_NAME} {python.parent} WHEEL")
    return python


def _wheel() -> Path:
    """The aarch64 wheel `make arm-env` installed (dist/, from tools/arm/build_wheel.sh)."""
    wheels = sorted((REPO / "dist").glob("bitlite-*-py3-none-*_aarch64.whl"))
    if len(wheels) != 1:
        skip_or_fail(f"expected one aarch64 wheel in {REPO / 'dist'}, found {wheels}")
    return wheels[0]


@pytest.fixture(scope="module")
def bullseye(tmp_path_factory, delegate_library):
    """One emulated run of every model under both runtimes: (built cases, x86 outputs,
    outputs per runtime, report, kernels named on stderr, wheel)."""
    python, wheel = _python(), _wheel()
    directory = tmp_path_factory.mktemp("bullseye")
    built = _cases()
    jobs, x86 = [], {}
    for name, (case, threads) in built.items():
        model = directory / f"{name}.tflite"
        model.write_bytes(case.model)
        np.save(directory / f"{name}_x.npy", case.x)
        x86[name] = harness.run_model(model, case.x, "litert", num_threads=threads)
        jobs.append({"model": str(model), "input": str(directory / f"{name}_x.npy"),
                     "num_threads": threads,
                     "outputs": {runtime: str(directory / f"{name}_{runtime}.npy")
                                 for runtime in RUNTIMES}})
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"wheel": wheel.name, "jobs": jobs}))
    env = {key: value for key, value in os.environ.items() if key not in HOST_ONLY_ENV}
    env["BITLITE_QEMU_CPU"] = CPU
    child = subprocess.run([str(python), str(GUEST), str(manifest),
                            str(directory / "report.json")],
                           env=env, capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, f"exit {child.returncode}\n{child.stderr[-4000:]}"
    report = json.loads((directory / "report.json").read_text())
    print(f"{ENV_NAME} -cpu {CPU}: {report}")
    kernels = sorted(set(re.findall(r"kernel (\S+)$", child.stderr, re.M)))
    outputs = {runtime: {name: np.load(job["outputs"][runtime])
                         for name, job in zip(built, jobs)} for runtime in RUNTIMES}
    return built, x86, outputs, report, kernels, wheel


def test_system_is_bullseye_class(bullseye):
    """The emulated system is what Raspberry Pi OS Bullseye (Debian 11) has."""
    report = bullseye[3]
    assert report["machine"] == "aarch64", report
    assert report["glibc"] == "glibc 2.31", report
    assert report["python"].startswith("3.9."), report
    assert report["runtimes"] == RUNTIMES, report


def test_pip_installed_the_wheel_with_its_tag_check(bullseye):
    """Debian 11's pip installed the wheel as tagged: its tag check accepts manylinux_2_24 on
    glibc 2.31 and would refuse a wheel needing a newer glibc, and the library installed is
    the wheel's own."""
    report, wheel = bullseye[3], bullseye[5]
    tags = report["pip_tags"]
    assert tags["pip"] == "20.3.4", tags  # Debian 11's python-pip-whl: what a venv gets
    assert tags["newest_manylinux"] == "manylinux_2_31_aarch64", tags
    assert tags["accepts_wheel"] and not tags["accepts_too_new"], tags
    installed = report["bitlite"]
    assert installed["installer"] == "pip", installed
    assert installed["tags"] == [wheel.name[:-len(".whl")].split("-", 2)[2]], installed
    assert installed["library"].endswith(f"/venv/lib/python3.9/site-packages/{LIBRARY}"), installed
    on_disk = Path(os.environ[ROOT_ENV]) / ENV_NAME / "venv/lib/python3.9/site-packages" / LIBRARY
    with zipfile.ZipFile(wheel) as archive:
        assert on_disk.read_bytes() == archive.read(LIBRARY), \
            f"{on_disk} is not the library of {wheel.name}: rerun make arm-env"


def test_neon_kernels_without_dotprod(bullseye):
    """On the Pi 4's core the bitlite ops ran NEON kernels, none of them the dotprod one."""
    kernels = [k for k in bullseye[4] if not k.startswith("glue/")]
    assert kernels and all(k.endswith("/neon") for k in kernels), kernels


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bullseye_matches_x86(bullseye, runtime):
    built, x86, outputs = bullseye[:3]
    failures = []
    for name, (case, _) in built.items():
        out, expected = outputs[runtime][name], x86[name]
        if not np.array_equal(expected, case.expected, equal_nan=True):
            failures.append(cases.mismatch_report(expected, case.expected, case))
        elif (mismatch := x86_mismatch(name, case, out, expected)) is not None:
            failures.append(mismatch)
    assert not failures, f"{ENV_NAME} {runtime} {RUNTIMES[runtime]}:\n" + "\n".join(failures)
