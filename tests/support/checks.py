"""The runtimes the tests run under, CI-aware skipping, reading a .tflite's operators, and the
one equivalence rule of a converted model against the QAT model (README "What exact means")."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

# In-process runtimes every kernel test runs under (tflite_runtime lives in its own venv and
# is covered by test_tflite_runtime.py).
RUNTIMES = ("tf", "litert")
TFLITE_RUNTIME_ENV = "BITLITE_TFLITE_RUNTIME_PYTHON"


def cpu_flags() -> set[str] | None:
    """This x86 CPU's /proc/cpuinfo flags; None where there are none (not x86 Linux)."""
    try:
        found = re.search(r"^flags\s*:(.*)$", open("/proc/cpuinfo").read(), re.M)
    except OSError:
        return None
    return set(found[1].split()) if found is not None else None


def winograd_expected() -> bool | None:
    """Whether kernel=auto runs 3x3 stride-1 layers of p >= 6 and 64+ input channels as
    Winograd F(2x2, 3x3) on this x86 CPU (gemm_kernels.cc: AVX-512 VNNI without AMX); None
    where the test cannot tell (not x86 Linux: tests/arm checks the aarch64 rules)."""
    flags = cpu_flags()
    if flags is None:
        return None
    return {"avx512_vnni", "avx512bw"} <= flags and "amx_int8" not in flags


# The kernel rows that keep codes between ops (cc/src/kernels/gemm/gemm_kernels.cc: the
# AVX-512 rows, W2A2 picks bitserial/avx512vpopcntdq on x86; the aarch64 NEON rows); on
# other x86 CPUs every tensor stays float.
KEEPS_CODES = {"avx512bw", "avx512_vpopcntdq"} <= (cpu_flags() or set())


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str):
    """Skip locally; in CI a missing core piece is a failure, never a silent skip."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def tflite_runtime_python() -> str:
    """The python of the tflite-runtime venv; skipped locally, a failure in CI, when unset."""
    python = os.environ.get(TFLITE_RUNTIME_ENV)
    if not python:
        skip_or_fail(f"{TFLITE_RUNTIME_ENV} is not set (the python of a venv with tflite-runtime)")
    assert Path(python).exists(), f"{TFLITE_RUNTIME_ENV}={python} does not exist"
    return python


def tflite_ops(data: bytes) -> list:
    """The operators of a .tflite in order, read with TF's own flatbuffer schema (not through
    the converter's helpers): dicts with `name` (builtin name or custom code), and for custom
    ops `options` (decoded FlexBuffer map) and `weights` (bytes of input 1's buffer)."""
    from flatbuffers import flexbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    builtin_names = {value: name for name, value in vars(schema.BuiltinOperator).items()
                     if not name.startswith("_")}
    ops = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            if builtin != schema.BuiltinOperator.CUSTOM:
                ops.append({"name": builtin_names[builtin]})
                continue
            weights = model.buffers[subgraph.tensors[op.inputs[1]].buffer].data
            ops.append({"name": code.customCode.decode(),
                        "options": flexbuffers.Loads(bytearray(bytes(op.customOptions))),
                        "weights": b"" if weights is None else bytes(weights)})
    return ops


def keras_tolerance(expected: np.ndarray) -> float:
    """How far an output may move where TF and TFLite round float layers differently (see
    assert_matches_keras): a few ulps of the output. 1e-4 is ~50 ulps of a value of 16 (float32
    spacing there is 1.9e-6); larger outputs scale it."""
    return 1e-4 * max(1.0, float(np.abs(expected).max()) / 16.0)


def assert_matches_keras(x: np.ndarray, expected: np.ndarray, actual: np.ndarray, *,
                         exact: bool = True, what: str = "the converted model"):
    """The one rule for a converted model's output `actual` against the QAT model's inference
    `expected` on the rows of x (README "What exact means"): every row equal bit for bit, as
    both compute every quantized layer, folded BatchNorm, ReLU, add, concatenation and pooling
    with the same float32 operations (converter/exact.py).

    exact=False where the output passes through float operations that TF and TFLite round
    differently (layers left float, sigmoid, swish, GELU, softmax and the like, or a fake-
    quantized tensor read outside its layer): then every row within keras_tolerance, with the
    same arg-max. No row is excused either way: a flipped code moves an output by a
    quantization step, far more than the tolerance."""
    assert actual.shape == expected.shape and actual.dtype == np.float32, (
        actual.shape, actual.dtype, expected.shape)
    rows = len(x)
    allowed = 0.0 if exact else keras_tolerance(expected)
    difference = np.abs(actual - expected).reshape(rows, -1).max(axis=1)
    off = np.flatnonzero(~(difference <= allowed))  # NaN counts as off
    agree = (np.argmax(expected.reshape(rows, -1), axis=1)
             == np.argmax(actual.reshape(rows, -1), axis=1))
    assert off.size == 0, (
        f"{what}: {off.size} of {rows} rows differ from qat.predict by more than {allowed:.3g} "
        f"(max {difference[off].max():.3g}, rows {off[:10].tolist()}, arg-max agreement "
        f"{agree.mean():.3f})")
    assert agree.all(), f"{what}: arg-max differs on rows {np.flatnonzero(~agree)[:10].tolist()}"
