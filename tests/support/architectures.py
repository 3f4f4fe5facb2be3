"""Small whole architectures for the end-to-end tests (random weights come later): ResNet-style
(residual Add, strided 1x1 projection), VGG-style (stacked 3x3, pooling, Dense),
MobileNet-style (depthwise-separable blocks with ReLU6, a SeparableConv2D) and a detection
head with two outputs, all on 16x16x3 inputs."""

from __future__ import annotations

import tf_keras as keras

from support.networks import conv_bn

L = keras.layers


def resnet_style():
    inputs = keras.Input((16, 16, 3))
    x = conv_bn(inputs, 16, kernel=3)
    for index, (filters, strides) in enumerate([(16, 1), (32, 2)]):
        shortcut = x
        y = conv_bn(x, filters, kernel=3, strides=strides)
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
    x = conv_bn(inputs, 16, kernel=3, strides=2, activation="relu6")
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
    x = conv_bn(inputs, 16, kernel=3, strides=2)
    x = conv_bn(x, 32, kernel=3, strides=2)
    features = conv_bn(x, 32, kernel=3)
    classes = L.Conv2D(3, 1, name="classes")(conv_bn(features, 16, kernel=3))
    boxes = L.Conv2D(4, 1, name="boxes")(conv_bn(features, 16, kernel=3))
    return keras.Model(inputs, [classes, boxes], name="detection_head")
