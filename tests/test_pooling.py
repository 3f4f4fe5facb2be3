"""The ordered average pooling layers (converter/pooling.py): Keras' averages up to float
rounding, the substitution quantize_model makes, and the fall-back where no order is written."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from bitlite.converter import quantize_model
from bitlite.converter.pooling import OrderedAveragePooling2D, OrderedGlobalAveragePooling2D

L = keras.layers


@pytest.mark.parametrize("shape", [(3, 8, 8, 5), (2, 7, 7, 3), (2, 3, 5, 4)])
@pytest.mark.parametrize("ordered, keras_layer", [
    (OrderedGlobalAveragePooling2D(), L.GlobalAveragePooling2D()),
    (OrderedGlobalAveragePooling2D(keepdims=True), L.GlobalAveragePooling2D(keepdims=True)),
    (OrderedAveragePooling2D(1), L.AveragePooling2D(1)),
    (OrderedAveragePooling2D(2), L.AveragePooling2D(2)),
    (OrderedAveragePooling2D(3, 2), L.AveragePooling2D(3, 2)),
    (OrderedAveragePooling2D(2, padding="same"), L.AveragePooling2D(2, padding="same")),
], ids=["global", "global-keepdims", "pool1", "pool2", "pool3-stride2", "pool2-same"])
def test_ordered_pooling_averages_as_keras(shape, ordered, keras_layer, rng):
    x = rng.normal(size=shape).astype(np.float32)
    expected = keras_layer(x).numpy()
    actual = ordered(x).numpy()
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=4e-7)


def test_quantize_model_orders_average_pooling():
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, activation="relu")(inputs)
    x = L.AveragePooling2D(2)(x)
    x = L.Conv2D(4, 1, activation="relu")(x)
    outputs = L.Dense(2)(L.GlobalAveragePooling2D()(x))
    qat = quantize_model(keras.Model(inputs, outputs))
    kinds = {type(layer) for layer in qat.layers}
    assert {OrderedAveragePooling2D, OrderedGlobalAveragePooling2D} <= kinds
    assert not kinds & {L.AveragePooling2D, L.GlobalAveragePooling2D}


def test_training_pools_as_keras(rng):
    """Training takes the parent layers' path (bit for bit), inference the ordered one."""
    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    for ordered, keras_layer in [(OrderedGlobalAveragePooling2D(), L.GlobalAveragePooling2D()),
                                 (OrderedAveragePooling2D(2), L.AveragePooling2D(2))]:
        assert np.array_equal(ordered(x, training=True), keras_layer(x))
