"""Shared pytest setup for bitlite tests.

Run from the repo root with bitlite importable: installed (`make test`), or for development
    PYTHONPATH=build/pysrc BITLITE_DELEGATE_LIBRARY=build/cc/libbitlite_delegate.so pytest tests
"""

import os

# Keras 2 (tf_keras) must be chosen before anything imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import zlib  # noqa: E402

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
