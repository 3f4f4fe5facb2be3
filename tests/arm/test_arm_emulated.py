"""The cross-built bitlite wheels on Linux ARM, emulated with qemu-user: the same one-op models
run on x86 with the host delegate, then inside emulated ARM Pythons with the ARM wheel
installed, and the outputs must be bit-identical.

    aarch64, -cpu cortex-a53 (no dotprod: Pi 3/Zero 2), ai-edge-litert 2.3.0
    aarch64, -cpu cortex-a72 (no dotprod: Pi 4), ai-edge-litert 2.3.0
    aarch64, -cpu cortex-a76 (dotprod: Pi 5), ai-edge-litert 2.3.0
    aarch64, -cpu neoverse-n1 (dotprod, Arm servers), ai-edge-litert 2.3.0
    armv7l,  -cpu cortex-a7 (NEON, VFPv4: Pi 2 / 32-bit OS), tflite-runtime 2.14.0

BITLITE_ARM_ROOT is the directory holding aarch64/ and armv7l/, each made by
tools/arm/setup_emulated_python.sh with the wheel from tools/arm/build_wheel.sh installed.
Without it, or without qemu, these tests skip; with CI set they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from support import cases, harness
from support.checks import assert_matches_keras, skip_or_fail
from converted_models import GLUE_NETWORKS, LEFT_TO_RUNTIME, converted_cases

ROOT_ENV = "BITLITE_ARM_ROOT"
RUNNER = Path(__file__).resolve().parents[1] / "arm_run_models.py"
QEMU = {"aarch64": "qemu-aarch64", "armv7l": "qemu-arm"}
# Linux HWCAP bits: aarch64 HWCAP_ASIMDDP (dotprod); arm HWCAP_NEON and HWCAP_VFPv4.
HWCAP_ASIMDDP = 1 << 20
HWCAP_NEON, HWCAP_VFPV4 = 1 << 12, 1 << 16
NO_DOTPROD = ("cortex-a53", "cortex-a72")
# Host variables that must not reach the emulated Python: a host PYTHONPATH (x86 source or
# build folders) would shadow the installed wheel, a host BITLITE_DELEGATE_LIBRARY is an x86 library.
HOST_ONLY_ENV = ("PYTHONPATH", "PYTHONHOME", "BITLITE_DELEGATE_LIBRARY")

# Verbose lines: one "taking over" per interpreter (the models run in the manifest's order), then
# one "delegate partition" per delegate kernel the runtime creates.
DELEGATION = re.compile(r"^bitlite: (?:taking over (\d+) of (\d+) nodes|"
                        r"delegate partition of (\d+) nodes)", re.M)

TARGETS = [
    pytest.param("aarch64", "cortex-a53", id="aarch64-cortex-a53"),
    pytest.param("aarch64", "cortex-a72", id="aarch64-cortex-a72"),
    pytest.param("aarch64", "cortex-a76", id="aarch64-cortex-a76"),
    pytest.param("aarch64", "neoverse-n1", id="aarch64-neoverse-n1"),
    pytest.param("armv7l", "cortex-a7", id="armv7l-cortex-a7"),
]


def _cases() -> dict:
    """name -> (Case, num_threads): every weight/activation width, both ops, channel counts
    around SIMD widths (tails), strides, dilation, padding, batch > 1 (resize), 1-4 threads."""
    rng = np.random.default_rng(2718)
    built = {
        "conv_W1A1s_c64_same": (cases.conv_case(rng, 1, 1, True, exact=False, c_in=64,
                                                c_out=8, height=6, width=6), None),
        "conv_W1A1s_c17_valid": (cases.conv_case(rng, 1, 1, True, exact=True, c_in=17,
                                                 c_out=5, padding="VALID", height=7,
                                                 width=6), 1),
        "conv_W2A2u_stride2": (cases.conv_case(rng, 2, 2, False, exact=False, c_in=37, c_out=5,
                                               stride_h=2, stride_w=2, padding="VALID",
                                               height=9, width=8), 2),
        "conv_W4A4s_dilation2_batch2": (cases.conv_case(
            rng, 4, 4, True, exact=False, c_in=33, c_out=9, kernel_h=3, kernel_w=5,
            dilation_h=2, batch=2, height=8, width=9), 4),
        "conv_W3A3u_k5_exact": (cases.conv_case(rng, 3, 3, False, exact=True, c_in=20, c_out=7,
                                                kernel_h=5, kernel_w=5, height=7,
                                                width=7), None),
        "conv_W2A4s_c128": (cases.conv_case(rng, 2, 4, True, exact=False, c_in=128, c_out=16,
                                            kernel_h=1, kernel_w=1, height=5, width=5), 2),
        # Winograd F(2x2, 3x3) on the Cortex-A53 and A72 (and x86 AVX-512 VNNI): 3x3, stride
        # 1, 64+ input channels, p >= 6 (A72: 8); odd sizes (blocks past the last row and
        # column), batches.
        "conv_W4A4u_c64_winograd": (cases.conv_case(rng, 4, 4, False, exact=True, c_in=64,
                                                    c_out=20, batch=2, height=7, width=9), 2),
        "conv_W3A3s_c72_valid_winograd": (cases.conv_case(
            rng, 3, 3, True, exact=False, c_in=72, c_out=17, padding="VALID", height=8,
            width=5), None),
        "fc_W1A1s_k256_batch3": (cases.fc_case(rng, 1, 1, True, exact=False, leading=(3,),
                                               k=256, c_out=16), None),
        "fc_W3A4u_rank3": (cases.fc_case(rng, 3, 4, False, exact=False, leading=(2, 5), k=65,
                                         c_out=9), 2),
    }
    for weight_bits in (1, 2, 3, 4):
        for activation_bits in (1, 2, 3, 4):
            signed = (weight_bits + activation_bits) % 2 == 0
            name = f"fc_W{weight_bits}A{activation_bits}{'s' if signed else 'u'}_k77"
            built[name] = (cases.fc_case(rng, weight_bits, activation_bits, signed,
                                         exact=False, leading=(2,), k=77, c_out=11), 1)
    return built


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The cases written as files, with a manifest an emulated runner can read."""
    directory = tmp_path_factory.mktemp("arm_models")
    built = _cases()
    built.update({name: (case, None) for name, case in converted_cases().items()})
    jobs = {}
    for name, (case, threads) in built.items():
        (directory / f"{name}.tflite").write_bytes(case.model)
        np.save(directory / f"{name}_x.npy", case.x)
        jobs[name] = {"model": str(directory / f"{name}.tflite"),
                      "input": str(directory / f"{name}_x.npy"), "num_threads": threads}
    return directory, built, jobs


@pytest.fixture(scope="module")
def x86_outputs(models, delegate_library):
    """Outputs of the host (x86) delegate under LiteRT, the baseline ARM must reproduce."""
    directory, built, jobs = models
    return {name: harness.run_model(Path(job["model"]), built[name][0].x, "litert",
                                    num_threads=job["num_threads"])
            for name, job in jobs.items()}


def _bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)


def x86_mismatch(name: str, case, out: np.ndarray, x86: np.ndarray) -> str | None:
    """How an emulated output differs from x86's bit for bit (dtype and shape first), or None."""
    if out.dtype != np.float32 or out.shape != x86.shape:
        return f"{name}: {out.dtype}{out.shape} vs x86 {x86.dtype}{x86.shape}"
    if np.array_equal(_bits(out), _bits(x86)):
        return None
    differ = np.argwhere(_bits(out) != _bits(x86))
    first = tuple(differ[0])
    return (f"{case.description}: {len(differ)}/{out.size} outputs not bit-identical to x86; "
            f"first at {first}: {out[first]!r} vs x86 {x86[first]!r} "
            f"(reference {case.expected[first]!r})")


def test_x86_baseline_matches_reference(models, x86_outputs):
    """The baseline itself is right (else an ARM mismatch would be hard to read)."""
    _, built, _ = models
    failures = [cases.mismatch_report(x86_outputs[name], case.expected, case)
                for name, (case, _) in built.items() if isinstance(case, cases.Case)
                if not np.array_equal(x86_outputs[name], case.expected, equal_nan=True)]
    assert not failures, "\n".join(failures)


def test_x86_baseline_of_converted_models_matches_keras(models, x86_outputs):
    """Converted models: the x86 baseline reproduces the Keras QAT model."""
    _, built, _ = models
    converted = [(name, case) for name, (case, _) in built.items()
                 if not isinstance(case, cases.Case)]
    assert len(converted) == 4 + len(GLUE_NETWORKS)
    for name, case in converted:
        assert_matches_keras(case.x, case.expected, x86_outputs[name])


def _emulated_python(arch: str) -> Path:
    root = os.environ.get(ROOT_ENV)
    if not root:
        skip_or_fail(f"{ROOT_ENV} is not set (directory of the emulated Pythons made by "
                     f"tools/arm/setup_emulated_python.sh)")
    if shutil.which(QEMU[arch]) is None:
        skip_or_fail(f"{QEMU[arch]} not found (Debian: apt-get install qemu-user)")
    python = Path(root) / arch / "python"
    if not python.is_file():
        skip_or_fail(f"{python} does not exist: run tools/arm/setup_emulated_python.sh "
                     f"{arch} {Path(root) / arch} WHEEL")
    return python


def _check_cpu(report: dict, arch: str, cpu: str) -> None:
    """The delegate ran on the machine and CPU features asked for."""
    assert report["machine"] == arch, report
    assert report["library"].endswith("site-packages/bitlite/delegate/libbitlite_delegate.so"), \
        f"the emulated run did not use the installed wheel's library: {report['library']}"
    features = report["cpuinfo_features"].split()
    if arch == "aarch64":
        dotprod = cpu not in NO_DOTPROD
        assert bool(report["hwcap"] & HWCAP_ASIMDDP) == dotprod, report
        assert ("asimddp" in features) == dotprod, report
    else:
        assert report["hwcap"] & HWCAP_NEON and report["hwcap"] & HWCAP_VFPV4, report
        assert "neon" in features and "vfpv4" in features, report


def _check_kernels(kernels: list, arch: str, cpu: str) -> None:
    """Dispatch used NEON kernels for the bitlite ops, the dotprod one exactly where the CPU
    has dotprod, the in-order cores' int row exactly on the Cortex-A53 (told apart by the CPU
    part in the emulated /proc/cpuinfo), and Winograd F(2x2, 3x3) for 3x3 layers of stride 1
    on the A53 and A72: the models include 4-bit layers, for which kernel=auto picks an int8
    kernel. The claimed glue builtins ("glue/ADD" ...) are scalar on every CPU."""
    kernels = [k for k in kernels if not k.startswith("glue/")]
    assert kernels and all(k.endswith(("/neon", "/neondot", "/neon-a53")) for k in kernels), kernels
    dotprod = arch == "aarch64" and cpu not in NO_DOTPROD
    assert ("int8/neondot" in kernels) == dotprod, (cpu, kernels)
    in_order = cpu == "cortex-a53"
    assert ("int8/neon-a53" in kernels) == in_order, (cpu, kernels)
    # Winograd's rules: the in-order cores' and the out-of-order int8/neon row's (aarch64
    # without dotprod); SDOT cores and armv7 are not measured, so run direct.
    winograd = arch == "aarch64" and not dotprod
    assert ("winograd/int8/neon" in kernels) == winograd, (cpu, kernels)
    assert all(not k.startswith("winograd/") or winograd for k in kernels), (cpu, kernels)


def _partitions_per_model(stderr: str) -> list[tuple[int, int, list[int]]]:
    """(nodes taken, nodes in the graph, partitions' node counts) per interpreter, in order."""
    models = []
    for match in DELEGATION.finditer(stderr):
        if match[1] is not None:
            models.append((int(match[1]), int(match[2]), []))
        else:
            assert models, "a delegate partition before any 'taking over' line"
            models[-1][2].append(int(match[3]))
    return models


def _check_glue_networks(stderr: str, names: list) -> None:
    """The glue networks are one partition on ARM too (of every node, but for the YOLO-style
    head's reshapes of a dynamic batch): the delegate claimed the glue builtins between the
    bitlite ops, as on x86 (test_glue_ops)."""
    models = _partitions_per_model(stderr)
    assert len(models) == len(names), (len(models), len(names))
    for name, (taken, total, partitions) in zip(names, models):
        if name in GLUE_NETWORKS:
            assert partitions == [taken], (name, taken, total, partitions)
            assert total - taken == LEFT_TO_RUNTIME.get(name, 0), (name, taken, total)


@pytest.mark.parametrize("arch, cpu", TARGETS)
def test_emulated_arm_matches_x86(arch, cpu, models, x86_outputs, tmp_path):
    python = _emulated_python(arch)
    _, built, jobs = models
    manifest = [dict(job, output=str(tmp_path / f"{name}_y.npy")) for name, job in jobs.items()]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    env = {key: value for key, value in os.environ.items() if key not in HOST_ONLY_ENV}
    env["BITLITE_QEMU_CPU"] = cpu
    child = subprocess.run([str(python), str(RUNNER), str(tmp_path / "manifest.json"),
                            str(tmp_path / "report.json")],
                           env=env, capture_output=True, text=True, timeout=900)
    assert child.returncode == 0, f"exit {child.returncode}\n{child.stderr[-4000:]}"
    report = json.loads((tmp_path / "report.json").read_text())
    # The verbose line of each node ends with "kernel NAME".
    report["kernels"] = sorted(set(re.findall(r"kernel (\S+)$", child.stderr, re.M)))
    print(f"{arch} -cpu {cpu}: {report}")
    _check_cpu(report, arch, cpu)
    _check_kernels(report["kernels"], arch, cpu)
    _check_glue_networks(child.stderr, list(jobs))

    failures = []
    for name, (case, _) in built.items():
        out = np.load(tmp_path / f"{name}_y.npy")
        x86 = x86_outputs[name]
        if not isinstance(case, cases.Case):
            # Converted models: with Keras, as on x86 (their float builtins, 8-bit layers on
            # integer codes, adds, affine stages, are exact on every CPU as well), and byte for
            # byte the x86 output (so that even a zero's sign counts).
            try:
                assert_matches_keras(case.x, case.expected, out)
            except AssertionError as error:
                failures.append(f"{case.description}: {error}")
            else:
                if out.tobytes() != x86.tobytes():
                    failures.append(f"{case.description}: matches Keras but its bytes differ "
                                    f"from x86's")
        elif (mismatch := x86_mismatch(name, case, out, x86)) is not None:
            failures.append(mismatch)
    hint = ("\nThis runtime runs with flush-to-zero on (denormal inputs read as 0): a float "
            "comparison such as x >= 0 then differs from x86 for negative denormals."
            if report["flushes_denormals"] else "")
    assert not failures, (f"{arch} -cpu {cpu} ({report['runtime']}, kernels "
                          f"{report['kernels']}):\n" + "\n".join(failures) + hint)
