"""Whole architectures through quantize_model -> convert -> delegate, against Keras.

ResNet-style (residual Add, strided 1x1 projection), VGG-style (stacked 3x3, pooling, Dense),
MobileNet-style (depthwise-separable blocks with ReLU6, a SeparableConv2D) and a small
detection head with two outputs. Random weights with random biases and BatchNorm statistics,
one predict to initialise the quantizer steps, then every output of the .tflite (both
in-process runtimes) must match Keras (support.checks.assert_matches_keras).
"""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from bitlite import delegate
from bitlite.converter import convert, quantize_model

from support.checks import RUNTIMES, assert_matches_keras, tflite_ops
from support.models import randomize

L = keras.layers


def conv_bn(x, filters, kernel=3, strides=1, activation="relu", name=None):
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = L.BatchNormalization()(x)
    return L.ReLU(max_value=6.0 if activation == "relu6" else None)(x)


def resnet_style():
    inputs = keras.Input((16, 16, 3))
    x = conv_bn(inputs, 16)
    for index, (filters, strides) in enumerate([(16, 1), (32, 2)]):
        shortcut = x
        y = conv_bn(x, filters, strides=strides)
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same", use_bias=False)(y))
        if strides != 1 or shortcut.shape[-1] != filters:
            shortcut = L.BatchNormalization()(L.Conv2D(
                filters, 1, strides=strides, use_bias=False, name=f"projection{index}")(x))
        x = L.ReLU()(L.Add()([y, shortcut]))
    outputs = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="resnet_style")


def vgg_style():
    inputs = keras.Input((16, 16, 3))
    x = inputs
    for filters in (16, 32):
        x = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = L.MaxPooling2D()(x)
    x = L.Dense(32, activation="relu")(L.Flatten()(x))
    return keras.Model(inputs, L.Dense(10)(x), name="vgg_style")


def mobilenet_style():
    inputs = keras.Input((16, 16, 3))
    x = conv_bn(inputs, 16, strides=2, activation="relu6")
    for filters, strides, multiplier in [(24, 1, 1), (32, 2, 2)]:
        x = L.DepthwiseConv2D(3, strides=strides, padding="same", depth_multiplier=multiplier,
                              use_bias=False)(x)
        x = L.ReLU(6.0)(L.BatchNormalization()(x))
        x = conv_bn(x, filters, kernel=1, activation="relu6")
    x = L.SeparableConv2D(32, 3, padding="same", activation="relu")(x)
    outputs = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="mobilenet_style")


def detection_head():
    """A shared backbone and two heads: class scores [H, W, 3] and box offsets [H, W, 4]."""
    inputs = keras.Input((16, 16, 3))
    x = conv_bn(inputs, 16, strides=2)
    x = conv_bn(x, 32, strides=2)
    features = conv_bn(x, 32)
    classes = L.Conv2D(3, 1, name="classes")(conv_bn(features, 16))
    boxes = L.Conv2D(4, 1, name="boxes")(conv_bn(features, 16))
    return keras.Model(inputs, [classes, boxes], name="detection_head")


def run_all_outputs(data: bytes, x: np.ndarray, runtime: str) -> list[np.ndarray]:
    """Every output of the .tflite, in the order of the model's outputs."""
    interpreter = delegate.Interpreter(model_content=data, runtime=runtime)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


MODELS = {"resnet": (resnet_style, {}), "vgg": (vgg_style, {}),
          "mobilenet": (mobilenet_style, {}),
          # Mixed precision: the heads at W4A4 beside a W2A2 backbone.
          "detection": (detection_head, dict(layer_bits={"classes": (4, 4), "boxes": (4, 4)}))}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_whole_model_matches_keras(name, delegate_library):
    build, options = MODELS[name]
    keras.utils.set_random_seed(5)
    float_model = randomize(build(), seed=5)
    qat = quantize_model(float_model, 2, 2, **options)
    rng = np.random.default_rng(5)
    shape = float_model.input_shape[1:]
    qat.predict(rng.normal(size=(32, *shape)).astype(np.float32), verbose=0)
    data = convert(qat)
    bitlite_ops = [op for op in tflite_ops(data) if op["name"].startswith("Bitlite")]
    assert len(bitlite_ops) >= 3, [op["name"] for op in tflite_ops(data)]
    x = rng.normal(size=(16, *shape)).astype(np.float32)
    expected = qat.predict(x, verbose=0)
    expected = expected if isinstance(expected, list) else [expected]
    for runtime in RUNTIMES:
        for batch in (1, len(x)):
            actual = run_all_outputs(data, x[:batch], runtime)
            # The two heads differ in channels: pair each Keras output with its tensor.
            actual = sorted(actual, key=lambda a: a.shape[-1])
            for want, got in zip(sorted(expected, key=lambda e: e.shape[-1]), actual):
                assert_matches_keras(x[:batch], want[:batch], got)
