"""The tests' fixtures; what the tests share besides fixtures is the `support` package.

Run from the repo root with bitlite installed: `make test-py`, or for development after
`pip install -e .` (rerun it after a C++ change), `pytest tests`.
"""

import os

# Keras 2 (tf_keras) must be chosen before anything imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import struct  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bitlite.converter import quantize_model  # noqa: E402
from support.checks import RUNTIMES, skip_or_fail  # noqa: E402
from support.cli import float_model  # noqa: E402


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


# The longest modules (seconds of their tests under `make test-py`, 2026-12-06, from its
# --junitxml), run first: the Makefile's `--dist loadscope --no-loadscope-reorder` hands each
# module to one worker in this order, so the short ones fill in beside them. pytest-xdist's own
# order (most tests first) left test_deep_networks.py, 6 tests, running alone at the end:
# test-py took 991 s on a fresh 2-core machine.
LONGEST_MODULES_FIRST = (
    "test_deep_networks.py",     # 450 s: its fixture trains 8 deep networks
    "test_layer_matrix.py",      # 353 s
    "test_end_to_end.py",        # 203 s
    "test_conv2d_transpose.py",  # 169 s
    "test_glue_ops.py",          # 158 s
)


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        if name in LONGEST_MODULES_FIRST:
            return LONGEST_MODULES_FIRST.index(name)
        return len(LONGEST_MODULES_FIRST)
    items.sort(key=rank)  # stable: every module keeps its own order


def pytest_configure(config):
    # tf.lite.Interpreter is deprecated but still one of the runtimes we support on purpose.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*tf.lite.Interpreter is deprecated:UserWarning")


# ---------------------------------------------------------------------------------------------
# The command-line tests' saved models (test_cli.py, test_bench_summary.py)
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A QAT model run once (steps initialised) and saved; its Keras outputs on test data."""
    directory = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(31)
    qat = quantize_model(float_model(), 2, 3)
    qat.predict(rng.uniform(0, 1, size=(32, 8, 8, 1)).astype(np.float32), verbose=0)
    qat.save(directory / "qat.keras")
    x = rng.uniform(0, 1, size=(20, 8, 8, 1)).astype(np.float32)
    return directory, qat, x, qat.predict(x, verbose=0)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bad")
    (directory / "text.tflite").write_text("not a flatbuffer\n")
    (directory / "text.keras").write_text("not a model\n")
    # Starts like a .tflite (root offset, TFL3 identifier), then ends: a cut-off download.
    (directory / "truncated.tflite").write_bytes(struct.pack("<I", 64) + b"TFL3" + bytes(8))
    model = float_model()  # a float model: never went through quantize_model
    model.save(directory / "float.keras")
    untrained = quantize_model(float_model(), 2, 2)  # never ran: steps not initialised
    untrained.save(directory / "never_ran.keras")
    return directory
