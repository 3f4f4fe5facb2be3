"""quantize_model's per-layer precision (layer_bits) and its min/max quantizers, end to end, and
the per-layer report of `bitlite convert`."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapper)

from bitlite.converter import cli, convert, graph, load_qat_model, quantize_model
from bitlite.converter.quantizers import MinMaxActivationQuantizer, MinMaxWeightQuantizer

from support.checks import RUNTIMES, assert_matches_keras, tflite_ops
from support.harness import run_model
from support.models import randomize

L = keras.layers


def small_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same", name="c0")(inputs)))
    x = L.DepthwiseConv2D(3, padding="same", name="dw", activation="relu")(x)
    x = L.Conv2D(8, 3, strides=2, padding="same", name="c1", activation="relu")(x)
    x = L.Dense(6, name="d0", activation="relu")(L.Flatten()(x))
    return randomize(keras.Model(inputs, L.Dense(4, name="d1")(x)), seed=3)


def bits_of(qat) -> dict:
    """Layer name -> (weight bits, input bits) of every wrapped layer."""
    bits = {}
    for layer in qat.layers:
        if isinstance(layer, QuantizeWrapper):
            quantize_layer = qat.get_layer(f"quant_input_{layer.layer.name}")
            bits[layer.layer.name] = (layer.quantize_config.weight_bits,
                                      quantize_layer.quantizer.num_bits)
    return bits


def run_and_convert(qat, seed=0):
    rng = np.random.default_rng(seed)
    qat.predict(rng.normal(size=(32, 8, 8, 3)).astype(np.float32), verbose=0)
    x = rng.normal(size=(16, 8, 8, 3)).astype(np.float32)
    return x, qat.predict(x, verbose=0), convert(qat)


def test_layer_bits_dict_mixes_precisions_and_converts_exactly(delegate_library):
    qat = quantize_model(small_model(), 4, 4, keep_first_last_8bit=False,
                         layer_bits={"dw": (2, 4), "c1": (1, 3), "d1": (8, 8), "d0": None})
    assert bits_of(qat) == {"c0": (4, 4), "dw": (2, 4), "c1": (1, 3), "d1": (8, 8)}
    x, expected, data = run_and_convert(qat)
    # c0 W4A4, dw W2A4, c1 W1A3 and d1 W8A8 become bitlite ops; d0 (float) does not.
    pairs = sorted((op["options"]["weight_bits"], op["options"]["activation_bits"])
                   for op in tflite_ops(data) if op["name"].startswith("Bitlite"))
    assert pairs == [(1, 3), (2, 4), (4, 4), (8, 8)], pairs
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(data, x, runtime))


def test_8bit_depthwise_and_separable_become_w8a8_ops(delegate_library):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 3))
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(inputs)
    x = L.SeparableConv2D(5, 3, padding="same", activation="relu", name="sep")(x)
    x = L.Conv2D(4, 3, name="c")(x)
    float_model = randomize(keras.Model(inputs, x), seed=4)
    qat = quantize_model(float_model, 2, 2, keep_first_last_8bit=False,
                         layer_bits={"dw": (8, 8), "sep": (8, 8)})
    x, expected, data = run_and_convert(qat)
    ops = tflite_ops(data)
    bits = [(op["options"]["weight_bits"], op["options"]["groups"]) for op in ops
            if op["name"] == "BitliteConv2D"]
    # dw (groups = 3) and sep's depthwise part (groups = 6) at W8A8, c at W2; sep's pointwise
    # part reads 6 channels, too few for the W8A8 kernels: a float CONV_2D.
    assert bits == [(8, 3), (8, 6), (2, 1)], ops
    names = [op["name"] for op in ops]
    assert "DEPTHWISE_CONV_2D" not in names and names.count("CONV_2D") == 1, ops
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(data, x, runtime))


def test_layer_bits_callable_decides_every_layer():
    def choose(layer):
        return None if layer.name == "d0" else (8, 8) if layer.name == "c0" else (3, 2)

    qat = quantize_model(small_model(), layer_bits=choose)
    # keep_first_last_8bit does not override the callable: d1 stays W3A2.
    assert bits_of(qat) == {"c0": (8, 8), "dw": (3, 2), "c1": (3, 2), "d1": (3, 2)}


def test_keep_8bit_and_skip_are_layer_bits_shorthands():
    a = quantize_model(small_model(), 2, 2, keep_8bit=["c1"], skip=["dw"])
    b = quantize_model(small_model(), 2, 2, layer_bits={"c1": (8, 8), "dw": None})
    assert bits_of(a) == bits_of(b) == {"c0": (8, 8), "c1": (8, 8), "d0": (2, 2),
                                         "d1": (8, 8)}


@pytest.mark.parametrize("bits,message", [
    ((8, 4), r"bits \(8, 4\) are not supported"), ((5, 5), "not supported"),
    ("W2A2", "not supported"), ((2,), "not supported"), ((True, 2), "not supported")])
def test_layer_bits_rejects_unsupported_values(bits, message):
    with pytest.raises(ValueError, match=message) as error:
        quantize_model(small_model(), layer_bits={"c1": bits})
    assert "'c1'" in str(error.value) and "None to leave it float" in str(error.value)


def test_layer_bits_rejects_conflicts_and_unknown_names():
    with pytest.raises(ValueError, match="layer_bits and in keep_8bit/skip"):
        quantize_model(small_model(), skip=["c1"], layer_bits={"c1": (2, 2)})
    with pytest.raises(ValueError, match="layer_bits names layers the model does not have"):
        quantize_model(small_model(), layer_bits={"c9": (2, 2)})
    with pytest.raises(ValueError, match="dict or a callable"):
        quantize_model(small_model(), layer_bits=[("c1", (2, 2))])


def test_minmax_steps_follow_the_ranges():
    qat = quantize_model(small_model(), 3, 4, keep_first_last_8bit=False, quantizer="minmax")
    x = np.random.default_rng(1).normal(size=(8, 8, 8, 3)).astype(np.float32)
    qat.predict(x, verbose=0)
    wrapper = qat.get_layer("quant_c0")
    kernel, quantizer = graph.wrapped_kernel(wrapper)
    weights = graph.quantizer_variables(wrapper)
    assert isinstance(quantizer, MinMaxWeightQuantizer)
    # Per output channel: the largest |w| lands on the top code of the 3-bit grid (3).
    expected = np.abs(kernel.numpy()).reshape(-1, 8).max(axis=0) / 3
    np.testing.assert_allclose(weights["step"].numpy(), expected, rtol=1e-6)
    input_layer = qat.get_layer("quant_input_c0")
    assert isinstance(input_layer.quantizer, MinMaxActivationQuantizer)
    # The raw input is signed: 4 bits -> codes -8..7, step max|x| / 7 after the first batch.
    np.testing.assert_allclose(input_layer.quantizer_vars["step"].numpy(),
                               np.abs(x).max() / 7, rtol=1e-6)
    # Depthwise: one step per output channel ci * M + m, from that channel's 3x3 taps.
    dw_kernel, _ = graph.wrapped_kernel(qat.get_layer("quant_dw"))
    dw_weights = graph.quantizer_variables(qat.get_layer("quant_dw"))
    assert dw_weights["step"].shape == dw_kernel.shape[-2:]


@pytest.mark.parametrize("bits", [(1, 1), (2, 2), (4, 4), (2, 3)])
def test_minmax_trains_converts_and_matches_keras(bits, tmp_path, delegate_library):
    qat = quantize_model(small_model(), *bits, quantizer="minmax")
    rng = np.random.default_rng(sum(bits))
    x_train = rng.normal(size=(64, 8, 8, 3)).astype(np.float32)
    qat.compile(optimizer="adam", loss="mse")
    qat.fit(x_train, rng.normal(size=(64, 4)).astype(np.float32), epochs=2, verbose=0)
    # The moving averages moved during training and survive a save and load.
    step = qat.get_layer("quant_input_dw").quantizer_vars["step"].numpy()
    qat.save(tmp_path / "qat.keras")
    loaded = load_qat_model(tmp_path / "qat.keras", compile=False)
    assert loaded.get_layer("quant_input_dw").quantizer_vars["step"].numpy() == step
    x = rng.normal(size=(16, 8, 8, 3)).astype(np.float32)
    expected = loaded.predict(x, verbose=0)
    np.testing.assert_array_equal(expected, qat.predict(x, verbose=0))
    data = convert(loaded)
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(data, x, runtime))


def test_unknown_quantizer_rejected():
    with pytest.raises(ValueError, match="quantizer must be one of"):
        quantize_model(small_model(), quantizer="tfmot")


def test_convert_prints_layer_report(tmp_path, capsys):
    qat = quantize_model(small_model(), 2, 2, keep_first_last_8bit=False)
    qat.predict(np.zeros((1, 8, 8, 3), np.float32) + 0.5, verbose=0)
    qat.save(tmp_path / "qat.keras")
    out = tmp_path / "out.tflite"
    assert cli.main(["convert", str(tmp_path / "qat.keras"), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "running the TFLite converter" in captured.err
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines()
            if line.split() and line.split()[0] in ("c0", "dw", "c1", "d0", "d1", "total")}
    # MACs per example: outputs x K; packed bytes: C_out rows of ceil(K * 2 / 8) bytes.
    assert rows["c0"][1:] == ["BitliteConv2D", "W2A2", f"{8 * 8 * 8 * 27:,}", f"{8 * 7:,}"]
    assert rows["dw"][1:] == ["BitliteConv2D", "W2A2", f"{8 * 8 * 8 * 9:,}", f"{8 * 3:,}"]
    assert rows["d0"][1:] == ["BitliteFullyConnected", "W2A2", f"{6 * 128:,}", f"{6 * 32:,}"]
    total_macs = 8 * 8 * 8 * 27 + 8 * 8 * 8 * 9 + 4 * 4 * 8 * 72 + 6 * 128 + 4 * 6
    assert rows["total"][1] == f"{total_macs:,}"
    size = out.stat().st_size
    assert f"file size: {size} bytes" in captured.out
    assert "same model in fp32:" in captured.out and "same model in int8:" in captured.out


def test_weighted_layers_left_float_are_named_in_one_warning(delegate_library):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="c", activation="relu")(inputs)
    # Dilated: no BitliteConv2DTranspose (test_conv2d_transpose has the other variants).
    x = keras.layers.Conv2DTranspose(4, 3, dilation_rate=2, name="up")(x)
    y = keras.layers.Dense(2, name="head")(keras.layers.Flatten()(x))
    with pytest.warns(UserWarning) as record:
        qat = quantize_model(keras.Model(inputs, y), 2, 2, keep_first_last_8bit=False)
    messages = [str(w.message) for w in record if "leaves these layers float" in str(w.message)]
    assert len(messages) == 1 and "'up' (Conv2DTranspose: dilation_rate=(2, 2)" in messages[0], (
        messages)
    assert "'c'" not in messages[0] and "'head'" not in messages[0], messages
    # The transposed convolution runs as a float builtin beside the two bitlite ops.
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype(np.float32)
    qat.predict(x, verbose=0)
    data = convert(qat)
    names = [op["name"] for op in tflite_ops(data)]
    assert "TRANSPOSE_CONV" in names and names.count("BitliteConv2D") == 1, names
    assert_matches_keras(x, qat.predict(x, verbose=0), run_model(data, x, "tf"), exact=False)
