"""quantize_model(..., residual_bits=B): an integer residual stream, converted exactly.

Every Add's inputs and output (after the Add's ReLU where that is its only reader) are
quantized per tensor to B bits; the converted .tflite must still equal the Keras QAT model
(tf.lite, LiteRT and tflite-runtime here; emulated aarch64 and armv7 in tests/arm), and the
stream's tensors must lie on their grids (integer codes within the range).
"""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from bitlite.converter import convert, load_qat_model, quantize_model
from bitlite.converter.graph import producer

from support.architectures import resnet_style
from support.checks import RUNTIMES, assert_matches_keras
from support.harness import run_in_tflite_runtime, run_model
from support.models import randomize

import test_glue_ops as glue

L = keras.layers


def stream_layers(qat) -> list:
    return [layer for layer in qat.layers if layer.name.startswith("quant_residual")]


def assert_on_grid(qat, x, bits: int) -> None:
    """Each residual quantizer's output is step * an integer code of its B-bit grid."""
    quantizers = stream_layers(qat)
    values = keras.Model(qat.input, [layer.output for layer in quantizers]).predict(x, verbose=0)
    for layer, value in zip(quantizers, values):
        step = [w for w in layer.weights if "step" in w.name][0].numpy()
        ratios = value / step  # step * code, divided back: within float rounding of the code
        codes = np.round(ratios)
        assert np.abs(ratios - codes).max() < 1e-3, layer.name
        signed = codes.min() < 0
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        assert low <= codes.min() and codes.max() <= high, (layer.name, codes.min(), codes.max())


def check_converted(qat, rng) -> None:
    """The converted model equals Keras at batch 1 and 8 in tf.lite and LiteRT."""
    data = convert(qat)
    x = rng.normal(size=(8, *qat.input_shape[1:])).astype(np.float32)
    expected = qat.predict(x, verbose=0)
    for runtime in RUNTIMES:
        for batch in (1, len(x)):
            assert_matches_keras(x[:batch], expected[:batch],
                                 run_model(data, x[:batch], runtime))


@pytest.mark.parametrize("bits, quantizer", [(8, "lsq"), (4, "minmax")])
def test_residual_stream_is_quantized_and_converts_exactly(bits, quantizer, delegate_library,
                                                           tmp_path):
    keras.utils.set_random_seed(7)
    float_model = randomize(resnet_style(), seed=7)
    qat = quantize_model(float_model, 2, 2, quantizer=quantizer, residual_bits=bits)
    # Two Adds: the first reads a conv branch and the stem's ReLU, the second a conv branch
    # and the strided projection (each quantized), and each writes through its ReLU.
    names = sorted(layer.name for layer in stream_layers(qat))
    adds = [layer.name for layer in float_model.layers if isinstance(layer, L.Add)]
    relus_after = [layer.name for layer in float_model.layers
                   if isinstance(layer, L.ReLU) and producer(layer.input)[0].name in adds]
    assert names == sorted([f"quant_residual_input{i}_{add}" for add in adds for i in (0, 1)]
                           + [f"quant_residual_{relu}" for relu in relus_after])
    rng = np.random.default_rng(7)
    x = rng.normal(size=(32, 16, 16, 3)).astype(np.float32)
    qat.compile(optimizer=keras.optimizers.Adam(1e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    steps_before = [w.numpy().copy() for layer in stream_layers(qat) for w in layer.weights]
    qat.fit(x, rng.integers(0, 10, size=32), epochs=2, batch_size=16, verbose=0)
    steps_after = [w.numpy() for layer in stream_layers(qat) for w in layer.weights]
    assert any(not np.array_equal(a, b) for a, b in zip(steps_before, steps_after))
    assert_on_grid(qat, x, bits)
    check_converted(qat, rng)
    path = tmp_path / "residual.keras"
    qat.save(path)
    loaded = load_qat_model(path)
    assert_on_grid(loaded, x, bits)
    check_converted(loaded, rng)


def test_add_output_read_twice_is_quantized_after_the_add(delegate_library):
    """An Add whose output two layers read (no single ReLU after it) is quantized itself,
    on the signed grid; a later Add reading it does not quantize it again."""
    inputs = keras.Input((8, 8, 8))
    x = L.Conv2D(8, 3, padding="same")(inputs)
    first = L.Add(name="first")([x, inputs])
    y = L.Conv2D(8, 3, padding="same")(first)
    second = L.Add(name="second")([y, first])
    outputs = L.Dense(4)(L.Flatten()(second))
    keras.utils.set_random_seed(3)
    float_model = randomize(keras.Model(inputs, outputs), seed=3)
    qat = quantize_model(float_model, 2, 2, residual_bits=6)
    assert sorted(layer.name for layer in stream_layers(qat)) == sorted([
        "quant_residual_input0_first", "quant_residual_input1_first", "quant_residual_first",
        "quant_residual_input0_second", "quant_residual_second"])
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 8, 8, 8)).astype(np.float32)
    qat.predict(x, verbose=0)
    assert_on_grid(qat, x, 6)
    check_converted(qat, rng)


def test_residual_stream_in_tflite_runtime(delegate_library, tmp_path):
    """The converted stream (8 bits) equals Keras under tflite-runtime too, at batch 1 and 8."""
    keras.utils.set_random_seed(7)
    qat = quantize_model(randomize(resnet_style(), seed=7), 2, 2, residual_bits=8)
    x = np.random.default_rng(7).normal(size=(8, 16, 16, 3)).astype(np.float32)
    qat.predict(x, verbose=0)
    expected = qat.predict(x, verbose=0)
    data = convert(qat)
    outputs, _ = run_in_tflite_runtime(
        delegate_library, {batch: (data, x[:batch], None, None) for batch in (1, len(x))},
        tmp_path)
    for batch, out in outputs.items():
        assert_matches_keras(x[:batch], expected[:batch], out,
                             what=f"batch {batch} under tflite-runtime")


def test_stream_quantizers_run_in_one_pass_each(delegate_library, capfd):
    """Each quantizer of the stream (DIV, ROUND, MINIMUM, MAXIMUM, MUL) runs inside the op
    before it, the DIV or the Add's (cc/FORMAT.md "Fused ops": one pass over the tensor): the
    same bytes as every node on its own, at batch 1 and 8, on 1 and 2 threads (batch 8 shares
    the chains' blocks between them)."""
    keras.utils.set_random_seed(7)
    qat = quantize_model(randomize(resnet_style(), seed=7), 2, 2, residual_bits=8)
    x = np.random.default_rng(7).normal(size=(8, 16, 16, 3)).astype(np.float32)
    qat.predict(x, verbose=0)
    data = convert(qat)
    capfd.readouterr()
    for batch in (1, len(x)):
        for threads in (1, 2):
            fused = glue.run(data, x[:batch], "tf", claim_builtins=True, threads=threads)
            steps = glue.FUSED.findall(capfd.readouterr().err)
            apart = glue.run(data, x[:batch], "tf", claim_builtins=True, threads=threads,
                             fuse_ops=False)
            capfd.readouterr()
            assert fused.tobytes() == apart.tobytes(), (batch, threads)
            for op in ("ROUND", "MINIMUM", "MAXIMUM"):
                assert steps.count(op) == len(stream_layers(qat)), (op, steps)


@pytest.mark.parametrize("bits", [1, 9, 0, True, 8.0, "8"])
def test_residual_bits_out_of_range_is_refused(bits):
    with pytest.raises(ValueError, match="residual_bits must be None or an integer in 2..8"):
        quantize_model(resnet_style(), 2, 2, residual_bits=bits)


def test_residual_bits_without_an_add_is_refused():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, L.Dense(4)(L.Flatten()(L.Conv2D(8, 3)(inputs))), name="plain")
    with pytest.raises(ValueError, match="model 'plain' has no Add layer"):
        quantize_model(model, 2, 2, residual_bits=8)
