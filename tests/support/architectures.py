"""Small whole architectures for the end-to-end tests (random weights come later): ResNet-style
(residual Add, strided 1x1 projection), VGG-style (stacked 3x3, pooling, Dense),
MobileNet-style (depthwise-separable blocks with ReLU6, a SeparableConv2D), a detection
head with two outputs, all on 16x16x3 inputs, a YOLO-style detector on 32x32x3, and ResNet-18
itself on 64x64x3."""

from __future__ import annotations

import tf_keras as keras

from bench.arm import whole_models
from support.networks import conv_bn

L = keras.layers


def resnet_style(width: int = 16):
    """Two residual blocks of `width` and 2 x `width` channels (64: ResNet-18's first stages,
    whose 3x3 layers of stride 1 run as Winograd F(2x2, 3x3) where the CPU's rule takes them)."""
    inputs = keras.Input((16, 16, 3))
    x = conv_bn(inputs, width, kernel=3)
    for index, (filters, strides) in enumerate([(width, 1), (2 * width, 2)]):
        shortcut = x
        y = conv_bn(x, filters, kernel=3, strides=strides)
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same", use_bias=False)(y))
        if strides != 1 or shortcut.shape[-1] != filters:
            shortcut = L.BatchNormalization()(L.Conv2D(
                filters, 1, strides=strides, use_bias=False, name=f"projection{index}")(x))
        x = L.ReLU()(L.Add()([y, shortcut]))
    outputs = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="resnet_style")


def resnet18():
    """ResNet-18 as benchmarked (bench/arm/whole_models.py): the ImageNet stem (7x7/2 conv,
    3x3/2 max pool), 2-2-2-2 basic blocks of 64 to 512 channels with projections, global
    average pooling, 10 classes; at 64x64, the smallest input that keeps that stem."""
    return whole_models.resnet18(64, 10)


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


def conv_bn_leaky(x, filters, kernel=3, strides=1):
    """YOLO's convolution: no bias, BatchNorm, LeakyReLU(0.1)."""
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    return L.LeakyReLU(0.1)(L.BatchNormalization()(x))


def yolo_style():
    """YOLOv3-tiny's layout, narrow: a max-pooled LeakyReLU backbone (the last pool of stride
    1, padded on the bottom and right as in the reference implementation), a head at 4x4 and
    one at 8x8 fed by the 4x4 features upsampled and concatenated with the 8x8 ones. Each head
    predicts 3 anchors x (4 box + 1 objectness + 2 classes); both are reshaped to rows of 7 and
    concatenated, as exported detectors output them."""
    inputs = keras.Input((32, 32, 3))
    x = conv_bn_leaky(inputs, 8)
    x = L.MaxPooling2D(2)(x)
    x = conv_bn_leaky(x, 16)
    x = L.MaxPooling2D(2)(x)
    route = conv_bn_leaky(x, 32)  # 8x8
    x = L.MaxPooling2D(2)(route)
    x = conv_bn_leaky(x, 64)  # 4x4
    x = L.MaxPooling2D(2, strides=1)(L.ZeroPadding2D(((0, 1), (0, 1)))(x))
    features = conv_bn_leaky(x, 32, kernel=1)
    coarse = L.Conv2D(3 * 7, 1, name="head_coarse")(conv_bn_leaky(features, 64))
    up = L.UpSampling2D(2)(conv_bn_leaky(features, 16, kernel=1))
    fine = conv_bn_leaky(L.Concatenate()([up, route]), 32)
    fine = L.Conv2D(3 * 7, 1, name="head_fine")(fine)
    rows = [L.Reshape((-1, 7))(head) for head in (coarse, fine)]
    return keras.Model(inputs, L.Concatenate(axis=1)(rows), name="yolo_style")
