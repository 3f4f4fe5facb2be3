"""Every tf_keras.applications network that builds at a small input size, through
quantize_model -> convert -> delegate, against the Keras QAT model.

No training and no downloaded weights (weights=None): random weights with random biases and
BatchNorm statistics, one predict to initialise the steps, then a couple of inputs compared
with test_end_to_end's helpers. W2A2 everywhere except the first and last quantized layers,
which stay 8-bit (quantize_model's default).

`FLOAT_LAYERS` says, per network, which quantizable-looking layers stay float and why; the
test checks that the bitlite ops are exactly the sub-byte layers quantize_model planned.
"""

from __future__ import annotations

import pytest
import tensorflow as tf
import tf_keras as keras

from conftest import tflite_ops
from test_end_to_end import check_every_runtime, conversion, randomize

APPLICATIONS = keras.applications

# Network -> input side. 32 is the smallest every one of them accepts (five stride-2 stages).
NETWORKS = {
    "MobileNetV3Small": 32,
    "MobileNetV3Large": 32,
    "ConvNeXtTiny": 32,
    "RegNetX002": 32,
    "EfficientNetB0": 32,
    "MobileNetV2": 32,
    "ResNet50": 32,
    "DenseNet121": 32,
}

# Besides the two 8-bit layers, what stays a float builtin op in each network, and why.
FLOAT_LAYERS = {
    "MobileNetV3Small": "hard-swish/hard-sigmoid (x + 3, ReLU6, * 1/6, Multiply) and the "
                        "squeeze-excite Multiply: element-wise, builtin float ops",
    "MobileNetV3Large": "as MobileNetV3Small",
    "ConvNeXtTiny": "LayerNormalization, GELU and LayerScale: not foldable into an op's "
                    "per-channel multiplier, builtin float ops after each quantized layer",
    "RegNetX002": "none",
    "EfficientNetB0": "swish and the squeeze-excite sigmoid/Multiply: builtin float ops",
    "MobileNetV2": "none",
    "ResNet50": "none",
    "DenseNet121": "the BatchNorm + ReLU before each conv (pre-activation): BatchNorm folds "
                   "only after a layer, so it runs as a builtin op",
}


def scalar_arguments():
    """TF ops with plain Python numbers and None among their arguments (as in hard-swish)."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="first")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", name="middle")(x + 3.0)
    x = keras.layers.Conv2D(8, 3, padding="same", name="third")(x * 0.5)
    x = tf.reshape(x, [-1, 8 * 8 * 8], name=None)
    return keras.Model(inputs, keras.layers.Dense(4, name="last")(x))


def test_scalar_arguments_match_keras(delegate_library):
    converted = conversion(randomize(scalar_arguments(), seed=4), 4, 2, 2)
    assert ["BitliteConv2D"] * 2 == [op["name"] for op in tflite_ops(converted.data)
                                     if op["name"].startswith("Bitlite")]
    check_every_runtime(converted)


def build(name: str) -> keras.Model:
    keras.utils.set_random_seed(3)
    side = NETWORKS[name]
    model = getattr(APPLICATIONS, name)(input_shape=(side, side, 3), weights=None, classes=10)
    return randomize(model, seed=3)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_application_matches_keras(name, delegate_library):
    assert FLOAT_LAYERS[name]
    converted = conversion(build(name), 3, 2, 2)
    planned = [layer.name for layer in converted.qat.layers
               if hasattr(layer, "quantize_config")
               and layer.quantize_config.weight_bits < 8]
    bitlite_ops = [op for op in tflite_ops(converted.data) if op["name"].startswith("Bitlite")]
    assert len(bitlite_ops) == len(planned), (len(bitlite_ops), planned)
    converted.x = converted.x[:2]
    converted.expected = converted.expected[:2]
    check_every_runtime(converted)
