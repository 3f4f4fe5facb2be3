"""Conv2DTranspose as a BitliteConv2DTranspose op (issue 14), quantize_model -> convert ->
delegate, against the Keras QAT model by the suite's one rule (assert_matches_keras).

A single-layer matrix over strides 1-3, 'same'/'valid', output_padding (None or set), kernels
smaller than the stride, bias or BatchNorm + ReLU, both input grids and bit pairs rotating
through W1-4 x A1-4, with odd channel counts; a U-Net-style model (Conv2D down, Conv2DTranspose
up with BatchNorm + ReLU, concatenated skip) whose first and last layers stay 8-bit; and the
variants that stay float (dilated, channels_first) named in quantize_model's one warning.
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
import tf_keras as keras

from bitlite.converter import convert, load_qat_model, quantize_model

from support.checks import assert_matches_keras, tflite_ops
from support.harness import run_model

L = keras.layers
BIT_PAIRS = [(1, 1), (2, 2), (3, 3), (4, 4), (2, 4), (4, 2), (1, 3), (3, 1), (4, 1), (1, 4)]
# (kernel, strides, padding, output_padding): every stride 1-3 with both paddings, with and
# without output_padding; kernels below, at and above the stride.
GEOMETRIES = [(k, s, p, op) for (k, s), p, op in itertools.product(
    [(3, (1, 1)), (3, (2, 2)), (2, (2, 2)), (4, (2, 2)), (1, (3, 3)), (3, (3, 2)), (5, (3, 3))],
    ["same", "valid"], [None, "max"])]


def _case_id(geometry, bits, index) -> str:
    kernel, strides, padding, output_padding = geometry
    return (f"k{kernel}-s{strides[0]}x{strides[1]}-{padding}-op{output_padding}"
            f"-W{bits[0]}A{bits[1]}-{index}")


CASES = [(geometry, bits, index) for index, (geometry, bits) in
         enumerate(zip(GEOMETRIES, itertools.cycle(BIT_PAIRS)))]


def _transposed_model(geometry, index: int) -> keras.Model:
    """Input (a ReLU for the unsigned grid) -> Conv2DTranspose(7 of 5 channels) -> [BatchNorm ->
    ReLU] or its own relu / none."""
    kernel, strides, padding, output_padding = geometry
    if output_padding == "max":
        output_padding = tuple(s - 1 for s in strides)  # the largest Keras takes
        if padding == "same" and kernel % 2 == 0 and 0 in output_padding:
            output_padding = None  # TF's 'same' rejects this output size
    keras.utils.set_random_seed(index)
    inputs = keras.Input((5, 4, 5))
    x = L.ReLU()(inputs) if index % 2 else inputs
    batch_norm = index % 3 == 0
    x = L.Conv2DTranspose(
        7, kernel, strides=strides, padding=padding, output_padding=output_padding,
        activation=None if batch_norm else ("relu", None)[index % 2],
        bias_initializer=keras.initializers.RandomNormal(0.0, 0.3, seed=index), name="up")(x)
    if batch_norm:
        layer = L.BatchNormalization()
        x = L.ReLU()(layer(x))
        rng = np.random.default_rng(index)
        layer.set_weights([rng.uniform(0.5, 1.5, 7), rng.normal(0, 0.3, 7),
                           rng.normal(0, 0.3, 7), rng.uniform(0.5, 2, 7)])
    return keras.Model(inputs, x)


def _check_runs(qat, data: bytes, rng, shape):
    for batch, runtime in ((1, "tf"), (3, "litert")):
        x = rng.normal(size=(batch, *shape)).astype(np.float32)
        assert_matches_keras(x, qat.predict(x, verbose=0), run_model(data, x, runtime))


@pytest.mark.parametrize("geometry,bits,index", CASES,
                         ids=[_case_id(*case) for case in CASES])
def test_transposed_layer_converts_and_matches_keras(geometry, bits, index, delegate_library):
    float_model = _transposed_model(geometry, index)
    qat = quantize_model(float_model, *bits, keep_first_last_8bit=False)
    rng = np.random.default_rng(zlib.crc32(_case_id(geometry, bits, index).encode()))
    shape = float_model.input_shape[1:]
    qat.predict(rng.normal(size=(16, *shape)).astype(np.float32), verbose=0)
    data = convert(qat)
    ops = tflite_ops(data)
    names = [op["name"] for op in ops]
    # The layer with its BatchNorm and ReLU is the op; the unsigned input's RELU stays.
    assert names.count("BitliteConv2DTranspose") == 1 and set(names) <= {
        "BitliteConv2DTranspose", "RELU"}, names
    assert float_model.output_shape == qat.output_shape
    _check_runs(qat, data, rng, shape)


@pytest.mark.parametrize("index", [2, 3])
def test_8bit_transposed_layer_is_a_w8a8_op(index, delegate_library, rng):
    # The only quantized layer is first and last: kept 8-bit (keep_first_last_8bit).
    float_model = _transposed_model(GEOMETRIES[index], index)
    qat = quantize_model(float_model, 2, 2)
    shape = float_model.input_shape[1:]
    qat.predict(rng.normal(size=(16, *shape)).astype(np.float32), verbose=0)
    data = convert(qat)
    ops = [op for op in tflite_ops(data) if op["name"] == "BitliteConv2DTranspose"]
    assert len(ops) == 1 and ops[0]["options"]["weight_bits"] == 8, ops
    assert ops[0]["options"]["activation_bits"] == 8
    _check_runs(qat, data, rng, shape)


def _unet() -> keras.Model:
    """Conv2D down (stride 2, BatchNorm, ReLU), Conv2DTranspose up (stride 2, BatchNorm,
    ReLU), the skip concatenated, a 1x1 head."""
    keras.utils.set_random_seed(14)
    inputs = keras.Input((16, 12, 3))
    skip = L.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    x = L.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="down")(skip)
    x = L.ReLU()(L.BatchNormalization(name="down_bn")(x))
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="bottom")(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", use_bias=False, name="up")(x)
    x = L.ReLU()(L.BatchNormalization(name="up_bn")(x))
    x = L.Concatenate()([x, skip])
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="fuse")(x)
    return keras.Model(inputs, L.Conv2D(2, 1, name="head")(x))


@pytest.mark.parametrize("quantizer", ["lsq", "minmax"])
def test_unet_converts_matches_keras_and_reloads(quantizer, delegate_library, rng, tmp_path):
    float_model = _unet()
    for layer in float_model.layers:
        if isinstance(layer, L.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.3, channels),
                               rng.normal(0, 0.3, channels), rng.uniform(0.5, 2, channels)])
    qat = quantize_model(float_model, 2, 2, quantizer=quantizer)
    shape = float_model.input_shape[1:]
    qat.compile(keras.optimizers.Adam(1e-3), "mse")
    qat.fit(rng.normal(size=(32, *shape)).astype(np.float32),
            rng.normal(size=(32, 16, 12, 2)).astype(np.float32), epochs=1, verbose=0)
    data = convert(qat)
    names = [op["name"] for op in tflite_ops(data)]
    assert names.count("BitliteConv2DTranspose") == 1, names
    assert "TRANSPOSE_CONV" not in names, names
    _check_runs(qat, data, rng, shape)
    # The transposed kernel's [C_out, 1] steps save and load with the model.
    qat.save(tmp_path / "unet.keras")
    loaded = load_qat_model(tmp_path / "unet.keras")
    x = rng.normal(size=(4, *shape)).astype(np.float32)
    assert np.array_equal(loaded.predict(x, verbose=0), qat.predict(x, verbose=0))
    assert convert(loaded) == data


@pytest.mark.parametrize("variant,why", [
    (dict(dilation_rate=2), "dilation_rate=(2, 2)"),
    (dict(data_format="channels_first"), "data_format='channels_first'"),
])
def test_unsupported_transposed_variants_stay_float_with_one_warning(variant, why):
    inputs = keras.Input((6, 6, 6))
    x = L.Conv2D(6, 3, padding="same", name="c", activation="relu")(inputs)
    x = L.Conv2DTranspose(4, 3, name="up", **variant)(x)
    y = L.Dense(2, name="head")(L.Flatten()(x))
    with pytest.warns(UserWarning) as record:
        qat = quantize_model(keras.Model(inputs, y), 2, 2, keep_first_last_8bit=False)
    messages = [str(w.message) for w in record if "leaves these layers float" in str(w.message)]
    assert len(messages) == 1 and f"'up' (Conv2DTranspose: {why}" in messages[0], messages
    assert type(qat.get_layer("up")) is L.Conv2DTranspose  # no wrapper, no input quantizer
    assert "quant_input_up" not in [layer.name for layer in qat.layers]
