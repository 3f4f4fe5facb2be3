"""Narrow deep networks on 16x16 digits, trained for real (test_deep_networks.py, and the
emulated ARM runs of tests/arm): a bottleneck ResNet as deep as ResNet-50, a DenseNet,
MobileNetV2 and EfficientNet-Lite, with BatchNorm momentum 0.5 so that two epochs move its
statistics."""

from __future__ import annotations

import numpy as np
import tf_keras as keras

from bench import digits
from bitlite.converter import quantize_model

L = keras.layers
SIZE = 16


def batch_norm():
    return L.BatchNormalization(momentum=0.5)


def conv_bn(x, filters, kernel=1, strides=1, activation="relu"):
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = batch_norm()(x)
    return L.ReLU(max_value=6.0 if activation == "relu6" else None)(x) if activation else x


def resnet_bottleneck() -> keras.Model:
    """ResNet-50's layout (3, 4, 6, 3 bottleneck blocks) at 1/16 of its width."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = conv_bn(inputs, 8, kernel=3)
    for stage, (blocks, width) in enumerate([(3, 4), (4, 8), (6, 16), (3, 32)]):
        for index in range(blocks):
            strides = 2 if index == 0 and stage > 0 else 1
            shortcut = x
            y = conv_bn(x, width, strides=strides)
            y = conv_bn(y, width, kernel=3)
            y = conv_bn(y, 4 * width, activation=None)
            if index == 0:
                shortcut = conv_bn(x, 4 * width, strides=strides, activation=None)
            x = L.ReLU()(L.Add()([y, shortcut]))
    return keras.Model(inputs, L.Dense(10)(L.GlobalAveragePooling2D()(x)), name="resnet")


def densenet() -> keras.Model:
    """DenseNet-BC: pre-activation BatchNorm-ReLU-conv layers concatenated, transitions with
    average pooling."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = conv_bn(inputs, 16, kernel=3, activation=None)
    for block, layers in enumerate([4, 4, 4]):
        for _ in range(layers):
            y = L.Conv2D(32, 1, use_bias=False)(L.ReLU()(batch_norm()(x)))
            y = L.Conv2D(8, 3, padding="same", use_bias=False)(L.ReLU()(batch_norm()(y)))
            x = L.Concatenate()([x, y])
        if block < 2:
            x = L.Conv2D(x.shape[-1] // 2, 1, use_bias=False)(L.ReLU()(batch_norm()(x)))
            x = L.AveragePooling2D(2)(x)
    x = L.GlobalAveragePooling2D()(L.ReLU()(batch_norm()(x)))
    return keras.Model(inputs, L.Dense(10)(x), name="densenet")


def inverted_residual(x, expansion, filters, kernel, strides):
    y = conv_bn(x, expansion * x.shape[-1], activation="relu6") if expansion > 1 else x
    y = L.DepthwiseConv2D(kernel, strides=strides, padding="same", use_bias=False)(y)
    y = L.ReLU(max_value=6.0)(batch_norm()(y))
    y = conv_bn(y, filters, activation=None)
    return L.Add()([x, y]) if strides == 1 and x.shape[-1] == filters else y


def mobile_net(name, stages, head) -> keras.Model:
    """stages: (expansion, filters, repeats, kernel, first stride) as in the papers' tables."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = conv_bn(inputs, 8, kernel=3, activation="relu6")
    for expansion, filters, repeats, kernel, strides in stages:
        for index in range(repeats):
            x = inverted_residual(x, expansion, filters, kernel, strides if index == 0 else 1)
    x = L.GlobalAveragePooling2D()(conv_bn(x, head, activation="relu6"))
    return keras.Model(inputs, L.Dense(10)(x), name=name)


def mobilenet_v2() -> keras.Model:
    return mobile_net("mobilenet_v2", [(1, 8, 1, 3, 1), (6, 8, 2, 3, 2), (6, 8, 3, 3, 2),
                                       (6, 16, 4, 3, 1), (6, 16, 3, 3, 2), (6, 24, 1, 3, 1)],
                      head=128)


def efficientnet_lite() -> keras.Model:
    return mobile_net("efficientnet_lite", [(1, 8, 1, 3, 1), (6, 8, 2, 3, 2), (6, 12, 2, 5, 2),
                                            (6, 16, 3, 3, 2), (6, 24, 3, 5, 1)], head=128)


NETWORKS = {"resnet": resnet_bottleneck, "densenet": densenet, "mobilenet_v2": mobilenet_v2,
            "efficientnet_lite": efficientnet_lite}


def upscaled_digits():
    """(x_train, y_train, x_held_out): digits upscaled to 16x16 RGB, 600 training and 64
    held-out images."""
    x_train, y_train, x_test, _ = digits.load_data()

    def upscale(images):
        images = np.repeat(np.repeat(images, SIZE // 8, axis=1), SIZE // 8, axis=2)
        return np.repeat(images, 3, axis=3)

    return upscale(x_train[:600]), y_train[:600], upscale(x_test[:64])


def trained(network: str, seed: int, weight_bits: int, activation_bits: int, data):
    """A QAT network trained two epochs on `data` (upscaled_digits())."""
    x_train, y_train, _ = data
    keras.utils.set_random_seed(seed)
    qat = quantize_model(NETWORKS[network](), weight_bits, activation_bits)
    qat.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(x_train, y_train, epochs=2, batch_size=50, verbose=0)
    return qat
