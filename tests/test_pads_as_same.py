"""quantize_model turns a ZeroPadding2D + VALID convolution into the convolution's own SAME
padding where that pads exactly the same zeros (Keras' MobileNetV2 before each strided
depthwise layer): same outputs, no float PAD between two bitlite ops in the .tflite."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from bitlite.converter import convert, quantize_model

from support.checks import RUNTIMES, assert_matches_keras, tflite_ops
from support.harness import run_model
from support.models import randomize

L = keras.layers


def strided_network(size: int, pads, conv_type, name: str) -> keras.Model:
    """conv -> ReLU -> ZeroPadding2D(pads) -> strided 3x3 VALID conv_type -> ReLU -> Dense; with
    pads None, no ZeroPadding2D and the strided layer padding 'same' itself."""
    inputs = keras.Input((size, size, 8))
    x = L.ReLU()(L.Conv2D(16, 3, padding="same", name=f"{name}_first")(inputs))
    if pads is not None:
        x = L.ZeroPadding2D(pads, name=f"{name}_pad")(x)
    options = dict(strides=2, padding="valid" if pads is not None else "same",
                   name=f"{name}_strided")
    x = (L.DepthwiseConv2D(3, **options) if conv_type is L.DepthwiseConv2D
         else L.Conv2D(16, 3, **options))(x)
    outputs = L.Dense(10)(L.Flatten()(L.ReLU()(x)))
    return keras.Model(inputs, outputs, name=name)


def quantized(model, bits, x):
    qat = quantize_model(model, *bits, keep_first_last_8bit=False)
    qat.predict(x, verbose=0)  # steps from the same data
    return qat


# Even inputs pad (0, 1) for a stride-2 3x3 'same' convolution, odd ones (1, 1).
@pytest.mark.parametrize("size, pads", [(8, ((0, 1), (0, 1))), (7, ((1, 1), (1, 1)))])
@pytest.mark.parametrize("conv_type", [L.DepthwiseConv2D, L.Conv2D])
def test_same_pads_become_the_convolutions_padding(size, pads, conv_type, delegate_library):
    keras.utils.set_random_seed(4)
    padded = randomize(strided_network(size, pads, conv_type, "padded"), seed=4)
    same = strided_network(size, None, conv_type, "same")
    same.set_weights(padded.get_weights())
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, size, size, 8)).astype(np.float32)
    np.testing.assert_array_equal(padded.predict(x, verbose=0), same.predict(x, verbose=0))

    qat = quantized(padded, (2, 2), x)
    assert not [layer for layer in qat.layers if isinstance(layer, L.ZeroPadding2D)]
    wrapped = [layer.layer for layer in qat.layers if hasattr(layer, "layer")]
    assert [layer.padding for layer in wrapped if layer.name.endswith("_strided")] == ["same"]
    # The same model as the one built with padding='same': equal outputs after training.
    reference = quantized(same, (2, 2), x)
    np.testing.assert_array_equal(qat.predict(x, verbose=0), reference.predict(x, verbose=0))

    data = convert(qat)
    assert "PAD" not in [op["name"] for op in tflite_ops(data)]
    expected = qat.predict(x, verbose=0)
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(data, x, runtime))


def other_pads(size: int = 8) -> keras.Model:
    """Pads that are not 'same''s (1 on every side of an even input): the ZeroPadding2D stays."""
    return strided_network(size, ((1, 1), (1, 1)), L.DepthwiseConv2D, "other")


def binary_input() -> keras.Model:
    """The same pads before a convolution reading signed 1-bit codes: a padded zero quantizes
    to +1 there, not to the 0 'same' pads with, so the ZeroPadding2D stays."""
    inputs = keras.Input((8, 8, 8))
    x = L.Conv2D(16, 3, padding="same", name="binary_first")(inputs)  # signed output
    x = L.ZeroPadding2D(((0, 1), (0, 1)))(x)
    x = L.Conv2D(16, 3, strides=2, padding="valid", name="binary_strided")(x)
    return keras.Model(inputs, L.Dense(10)(L.Flatten()(x)), name="binary")


def two_readers() -> keras.Model:
    """The padded tensor has a second reader: the ZeroPadding2D stays."""
    inputs = keras.Input((8, 8, 8))
    x = L.ZeroPadding2D(((0, 1), (0, 1)))(L.ReLU()(inputs))
    y = L.Conv2D(16, 3, strides=2, padding="valid")(x)
    z = L.Conv2D(16, 3, strides=2, padding="valid")(x)
    return keras.Model(inputs, L.Dense(10)(L.Flatten()(L.Concatenate()([y, z]))), name="two")


@pytest.mark.parametrize("build, bits", [(other_pads, (2, 2)), (binary_input, (1, 1)),
                                         (two_readers, (2, 2))])
def test_other_pads_stay_and_still_convert_exactly(build, bits, delegate_library):
    keras.utils.set_random_seed(6)
    model = randomize(build(), seed=6)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(8, *model.input_shape[1:])).astype(np.float32)
    qat = quantized(model, bits, x)
    assert [layer for layer in qat.layers if isinstance(layer, L.ZeroPadding2D)]
    data = convert(qat)
    assert "PAD" in [op["name"] for op in tflite_ops(data)]
    expected = qat.predict(x, verbose=0)
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(data, x, runtime))
