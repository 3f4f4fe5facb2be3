"""Models the converter cannot turn into bitlite ops: convert() raises ConversionError whose
message names the layer and says what to do instead; never a bare KeyError or Keras error.

quantize_model never builds most of these, so they are built by hand from bitlite's exported
quantizer classes, as a user writing a custom QAT graph would.
"""

import re

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapperV2)

from bitlite.converter import (ActivationQuantizer, ConversionError, KernelQuantizeConfig,
                               convert, quantize_model)

from support.checks import RUNTIMES, assert_matches_keras, tflite_ops
from support.harness import run_model

L = keras.layers
# What a message may point the user to.
WAY_OUT = re.compile(r"quantize_model|keep_8bit|skip=|predict|fit")


def run_once(model, seed=0):
    """One predict: initialises every quantizer step (they initialise lazily)."""
    shape = model.input_shape[1:]
    x = np.random.default_rng(seed).normal(size=(8, *shape)).astype(np.float32)
    return x, model.predict(x, verbose=0)


def conversion_error(model, layer_names, way_out: str | None = None) -> str:
    """convert(model)'s ConversionError message, checked to name one of `layer_names` (a
    name or a tuple of names) and to point somewhere (WAY_OUT, and `way_out` if given)."""
    with pytest.raises(ConversionError) as error:
        convert(model)
    message = str(error.value)
    names = (layer_names,) if isinstance(layer_names, str) else layer_names
    assert any(f"'{name}'" in message for name in names), message
    assert WAY_OUT.search(message), message
    if way_out is not None:
        assert way_out in message, message
    return message


def quantized(x, name, weight_bits=2, activation_bits=2, signed=True, layer=None):
    """bitlite's input QuantizeLayer -> QuantizeWrapperV2(layer, KernelQuantizeConfig)."""
    layer = layer or L.Conv2D(4, 3, padding="same", name=name)
    x = QuantizeLayer(ActivationQuantizer(activation_bits, signed), name=f"q_{name}")(x)
    return QuantizeWrapperV2(layer, KernelQuantizeConfig(weight_bits))(x)


def test_model_that_never_ran():
    inputs = keras.Input((6, 6, 2))
    x = L.ReLU()(L.Conv2D(4, 3, name="c0")(inputs))
    x = L.ReLU()(L.Conv2D(4, 3, name="c1")(x))
    qat = quantize_model(keras.Model(inputs, L.Dense(2, name="d")(L.Flatten()(x))), 2, 2)
    # The float layer's name, or that of its input quantizer in the QAT model, will do.
    message = conversion_error(qat, ("c0", "quant_input_c0"))
    assert "predict" in message or "fit" in message, message
    run_once(qat)
    convert(qat)  # the way out works


def test_tfmot_default_quantization_rejected():
    inputs = keras.Input((6, 6, 2))
    float_model = keras.Model(inputs, L.Dense(2)(L.Flatten()(L.Conv2D(4, 3)(inputs))))
    qat = tfmot.quantization.keras.quantize_model(float_model)
    run_once(qat)
    first = next(layer for layer in qat.layers if isinstance(layer, QuantizeLayer))
    conversion_error(qat, first.name, "bitlite's quantize_model")


class _NoOpConfig(tfmot.quantization.keras.QuantizeConfig):
    """A QuantizeConfig that is not bitlite's."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


def test_foreign_quantize_config_rejected():
    inputs = keras.Input((6, 6, 2))
    x = QuantizeLayer(ActivationQuantizer(2, True), name="q")(inputs)
    x = QuantizeWrapperV2(L.Conv2D(4, 3, name="foreign"), _NoOpConfig())(x)
    model = keras.Model(inputs, x)
    run_once(model)
    conversion_error(model, "foreign", "quantize_model")


def test_unsupported_layer_in_wrapper_rejected():
    inputs = keras.Input((6, 6, 2))
    x = quantized(inputs, "up", layer=L.Conv2DTranspose(4, 3, dilation_rate=2, name="up"))
    model = keras.Model(inputs, x)
    run_once(model)
    message = conversion_error(model, "up", "skip=['up']")
    assert "dilation_rate=(2, 2)" in message, message


def test_transposed_kernel_stepped_on_its_input_channels_rejected():
    # KernelQuantizeConfig(2) steps the last kernel axis: a transposed kernel's C_in.
    inputs = keras.Input((6, 6, 2))
    x = quantized(inputs, "up", layer=L.Conv2DTranspose(4, 3, name="up"))
    model = keras.Model(inputs, x)
    run_once(model)
    conversion_error(model, "up", "not its output channels (1, 1)")


def test_causal_conv1d_on_signed_1bit_input_rejected():
    inputs = keras.Input((8, 2))
    x = quantized(inputs, "causal", 2, 1, layer=L.Conv1D(4, 3, padding="causal", name="causal"))
    model = keras.Model(inputs, x)
    run_once(model)
    conversion_error(model, "causal", "padding='causal'")


def test_wrapper_without_input_quantizer_rejected():
    inputs = keras.Input((6, 6, 2))
    x = QuantizeWrapperV2(L.Conv2D(4, 3, name="bare"), KernelQuantizeConfig(2))(inputs)
    model = keras.Model(inputs, x)
    run_once(model)
    conversion_error(model, "bare", "quantize_model")


@pytest.mark.parametrize("weight_bits,activation_bits", [(8, 2), (2, 8), (3, 5)])
def test_mixed_8bit_and_sub_byte_rejected(weight_bits, activation_bits):
    inputs = keras.Input((6, 6, 2))
    model = keras.Model(inputs, quantized(inputs, "mixed", weight_bits, activation_bits))
    run_once(model)
    message = conversion_error(model, "mixed", "keep_8bit=['mixed']")
    assert f"W{weight_bits}A{activation_bits}" in message, message


def test_channels_first_rejected():
    inputs = keras.Input((2, 6, 6))
    layer = L.Conv2D(4, 3, data_format="channels_first", name="nchw")
    # Not run: TensorFlow has no NCHW convolution on CPU; the check comes before the steps'.
    model = keras.Model(inputs, quantized(inputs, "nchw", layer=layer))
    conversion_error(model, "nchw", "keep_8bit=['nchw']")


def test_grouped_conv_converts_or_names_the_way_out(delegate_library):
    """Grouped convolutions are either bitlite ops computing what Keras computes, or refused
    with the layer named and the way out (FORMAT.md has groups; the converter may lag)."""
    keras.utils.set_random_seed(21)
    inputs = keras.Input((6, 6, 4))
    x = L.ReLU()(L.Conv2D(8, 1, name="first")(inputs))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same", groups=4,
                                                 name="grouped")(x)))
    float_model = keras.Model(inputs, L.Dense(3, name="last")(L.Flatten()(x)))
    try:
        qat = quantize_model(float_model, 2, 2)
    except ValueError as error:
        message = str(error)
        assert "'grouped'" in message and "keep_8bit=['grouped']" in message, message
        qat = quantize_model(float_model, 2, 2, keep_8bit=["grouped"])  # the way out works
        run_once(qat)
        convert(qat)
        return
    run_once(qat)
    data = convert(qat)
    grouped = [op for op in tflite_ops(data)
               if "options" in op and op["options"]["weight_bits"] != 8]  # first, last: W8A8
    assert len(grouped) == 1 and grouped[0]["options"].get("groups") == 4, grouped
    x = np.random.default_rng(1).normal(size=(8, 6, 6, 4)).astype(np.float32)
    expected = qat.predict(x, verbose=0)
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(data, x, runtime))


def test_wrapper_called_twice_rejected():
    """One quantized layer applied to two tensors: the converter emits one op per block, so
    it must refuse (quantize_model refuses the float equivalent), not crash."""
    inputs = keras.Input((6, 6, 2))
    shared = QuantizeWrapperV2(L.Conv2D(4, 3, padding="same", name="shared"),
                               KernelQuantizeConfig(2))
    a = shared(QuantizeLayer(ActivationQuantizer(2, False), name="q_a")(L.ReLU()(inputs)))
    b = shared(QuantizeLayer(ActivationQuantizer(2, True), name="q_b")(inputs))
    model = keras.Model(inputs, L.Add()([a, b]))
    run_once(model)
    conversion_error(model, "shared")


def test_quantized_input_also_read_outside_its_layer(delegate_library):
    """A quantized tensor read by its layer and by another layer (here a model output): either
    converted (the other reader sees the fake-quantized value) and equal to Keras, or refused
    by name. Not a Keras "name used 2 times" error from the export model."""
    inputs = keras.Input((6, 6, 2))
    q = QuantizeLayer(ActivationQuantizer(2, True), name="shared_q")(inputs)
    y = QuantizeWrapperV2(L.Conv2D(4, 3, padding="same", name="reader"),
                          KernelQuantizeConfig(2))(q)
    outputs = L.Concatenate()([L.Flatten()(y), L.Flatten()(q)])
    model = keras.Model(inputs, outputs)
    x, expected = run_once(model)
    try:
        data = convert(model)
    except ConversionError as error:
        assert "'shared_q'" in str(error) and WAY_OUT.search(str(error)), str(error)
        return
    # The other reader sees the fake-quantized value, `codes * step`: a float product that TF's
    # quantizer and the .tflite's MUL may round apart (README "What exact means").
    assert_matches_keras(x, expected, run_model(data, x, "litert"), exact=False)


@pytest.mark.parametrize("with_layer", [False, True], ids=["alone", "beside_its_layer"])
def test_sign_quantizer_read_outside_a_layer_rejected(with_layer):
    """A signed 1-bit input quantizer's output has no float form outside a bitlite op (the
    sign grid is not codes * step), whether or not a bitlite op reads it as well."""
    inputs = keras.Input((6, 6, 2))
    q = QuantizeLayer(ActivationQuantizer(1, True), name="sign_q")(inputs)
    outputs = L.Dense(2)(L.Flatten()(q))
    if with_layer:
        y = QuantizeWrapperV2(L.Conv2D(4, 3, name="reader"), KernelQuantizeConfig(1))(q)
        outputs = L.Concatenate()([outputs, L.Flatten()(y)])
    model = keras.Model(inputs, outputs)
    run_once(model)
    conversion_error(model, "sign_q")
