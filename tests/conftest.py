"""Shared pytest setup for bitlite tests.

Run from the repo root with bitlite importable: installed (`make test`), or for development
    PYTHONPATH=build/pysrc BITLITE_DELEGATE_LIBRARY=build/cc/libbitlite_delegate.so pytest tests
"""

import os

# Keras 2 (tf_keras) must be chosen before anything imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import importlib  # noqa: E402
import sys  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# In-process runtimes every kernel test runs under (tflite_runtime lives in its own venv and
# is covered by test_tflite_runtime.py).
RUNTIMES = ("tf", "litert")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str):
    """Skip locally; in CI a missing core piece is a failure, never a silent skip."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test id: reproducible, independent of test order."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(scope="session")
def delegate_library():
    """Path of the delegate .so (bitlite.delegate.library_path()); skipped if not built."""
    from bitlite.delegate import library_path
    try:
        return library_path()
    except FileNotFoundError as error:
        skip_or_fail(str(error))


@pytest.fixture(params=RUNTIMES)
def runtime(request):
    """Each in-process TFLite runtime name accepted by bitlite.delegate (runtime=...)."""
    return request.param


def pytest_configure(config):
    # tf.lite.Interpreter is deprecated but still one of the runtimes we support on purpose.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")


# ---------------------------------------------------------------------------------------------
# Helpers of the converter-level tests (test_end_to_end, test_qat, test_cli, ...)
# ---------------------------------------------------------------------------------------------

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
TFLITE_RUNTIME_ENV = "BITLITE_TFLITE_RUNTIME_PYTHON"


def bench_module(name: str):
    """bench/<name>.py (digits: the shared digits task; tflite_run: predict and timing)."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    return importlib.import_module(name)


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
    """Absolute tolerance of a converted model's output against Keras.

    Between the last quantizer and the output, Keras and TFLite differ only in float32
    rounding (folded BatchNorm, reordered sums): a few ulps of the output magnitude. 1e-4 is
    ~50 ulps of a value of 16 (float32 spacing there is 1.9e-6); larger outputs scale it.
    """
    return 1e-4 * max(1.0, float(np.abs(expected).max()) / 16.0)


# An upstream float32 difference this small (relative to the tensor's largest value) can
# still move a value across a quantizer's rounding boundary and change one code.
_BOUNDARY_MARGIN = 1e-5


def _near_quantizer_boundary(qat, x: np.ndarray) -> np.ndarray:
    """Per row of x: whether some quantizer input of the Keras model lies within float32
    rounding of a boundary where its code changes (k + 0.5 inside the grid; 0 for a sign)."""
    import tf_keras as keras
    from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
        QuantizeLayer)

    layers = [layer for layer in qat.layers if isinstance(layer, QuantizeLayer)]
    probe = keras.Model(qat.inputs, [layer.input for layer in layers])
    values = probe.predict(x, verbose=0)
    values = values if isinstance(values, list) else [values]
    near = np.zeros(len(x), bool)
    for layer, value in zip(layers, values):
        quantizer = layer.quantizer
        value = value.reshape(len(x), -1).astype(np.float64)
        step = float(layer.quantizer_vars["step"].numpy())
        if quantizer.binary:
            distance = np.abs(value)
        else:
            t = value / step
            boundary = np.clip(np.floor(t) + 0.5, quantizer.qmin + 0.5, quantizer.qmax - 0.5)
            distance = np.abs(t - boundary) * step
        margin = _BOUNDARY_MARGIN * np.abs(value).max(axis=1, keepdims=True)
        near |= (distance <= margin).any(axis=1)
    return near


def assert_matches_keras(qat, x: np.ndarray, expected: np.ndarray, actual: np.ndarray):
    """A converted model's output `actual` equals the QAT model's `expected` on every row of x
    up to float32 rounding (keras_tolerance), with the same arg-max.

    The one allowed exception: a row whose Keras quantizer inputs sit within float32 rounding
    of a rounding boundary may have one code flipped by an upstream rounding difference (an
    8-bit float layer, a folded BatchNorm), which moves the output by a quantization step. Such
    rows must be rare (1% of rows, at least one); any other difference is a failure.
    """
    assert actual.shape == expected.shape and actual.dtype == np.float32, (
        actual.shape, actual.dtype, expected.shape)
    tolerance = keras_tolerance(expected)
    rows = len(x)
    difference = np.abs(actual - expected).reshape(rows, -1).max(axis=1)
    off = np.flatnonzero(~(difference <= tolerance))  # NaN counts as off
    explained = np.zeros(rows, bool)
    if off.size:
        explained[off] = _near_quantizer_boundary(qat, x[off])
        unexplained = off[~explained[off]]
        assert unexplained.size == 0, (
            f"{unexplained.size} of {rows} rows differ from Keras by more than {tolerance:.3g} "
            f"(max {difference[unexplained].max():.3g}, rows {unexplained[:10].tolist()}) with "
            f"no quantizer input near a rounding boundary")
        assert off.size <= max(1, rows // 100), (
            f"{off.size} of {rows} rows have a flipped code (max difference "
            f"{difference.max():.3g}): far more than float32 rounding explains")
    flat_expected = expected.reshape(rows, -1)
    disagree = np.argmax(flat_expected, axis=1) != np.argmax(actual.reshape(rows, -1), axis=1)
    top2 = np.sort(flat_expected, axis=1)[:, -2:]
    # A flipped row may change the arg-max only when Keras' top two are closer than the flip.
    excused = explained & (top2[:, 1] - top2[:, 0] <= difference)
    assert not (disagree & ~excused).any(), (
        f"arg-max differs on rows {np.flatnonzero(disagree & ~excused)[:10].tolist()}")
