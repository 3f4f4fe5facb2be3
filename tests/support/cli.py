"""The command-line tests' QAT model and their ways of running `bitlite` (test_cli.py,
test_bench_summary.py; the fixtures that save the model are conftest.py's)."""

from __future__ import annotations

import tf_keras as keras

from bitlite.converter import cli

L = keras.layers
# (layer name, weight bits, activation bits) of the sub-byte layers of the model below, and
# of all its bitlite ops: the last layer, kept 8-bit, is a W8A8 op; the first, kept 8-bit
# too, reads one channel and stays float builtins (layers.W8A8_MIN_CHANNELS).
SUB_BYTE = [("conv1", 2, 3), ("conv2", 2, 3), ("hidden", 2, 3)]
BITLITE_OPS = [*SUB_BYTE, ("logits", 8, 8)]


def float_model():
    keras.utils.set_random_seed(31)
    inputs = keras.Input((8, 8, 1))
    x = L.ReLU()(L.Conv2D(8, 3, padding="same", name="conv0")(inputs))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same", name="conv1")(x)))
    x = L.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = L.Dense(12, activation="relu", name="hidden")(L.Flatten()(x))
    return keras.Model(inputs, L.Dense(4, name="logits")(x))


def run_main(args, capsys):
    """(exit status, stdout, stderr) of cli.main(args); an exception escaping main fails."""
    try:
        status = cli.main([str(a) for a in args])
    except SystemExit as exit_:  # argparse usage errors
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, stderr, *mentions):
    """Failure exit; stderr ends with one `bitlite ...` line (progress lines may precede it)
    naming what is wrong, and holds no traceback."""
    assert status not in (0, None), status
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("bitlite"), stderr
    for mention in mentions:
        assert mention in lines[-1], lines[-1]
