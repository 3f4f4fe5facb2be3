"""Whole networks as .tflite for the cycle model (bench_cycles.py): Keras builders with random
weights (time depends on the graph, not on the weights), converted three ways:
  fp32  stock TFLite converter (LiteRT runs it on XNNPACK)
  int8  stock converter, full-integer quantization with a random representative set
  W?A?  bitlite: quantize_model (first conv and classifier stay 8-bit by default), convert

MobileNet v1/v2 at 224 are the stock Keras applications (weights=None): the same layers and
op counts as the published TFLite MobileNets, so their modelled times can be set against
published measurements. YOLOv3-tiny at 416 is the detector users deploy (LeakyReLU, an
upsampled neck, two heads).
"""

from __future__ import annotations

import numpy as np

SEED = 0


def _keras():
    import tf_keras as keras  # the Keras bitlite's converter takes (TF_USE_LEGACY_KERAS=1)
    return keras


def _conv_bn_relu(x, filters, kernel=3, strides=1):
    L = _keras().layers
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    return L.ReLU()(L.BatchNormalization()(x))


def _basic_blocks(x, stage_filters, blocks: int):
    """ResNet basic blocks, `blocks` per stage; each stage after the first starts with stride
    2, and a shortcut that changes shape is a 1x1 conv + BN (projection)."""
    L = _keras().layers
    for stage, filters in enumerate(stage_filters):
        for block in range(blocks):
            strides = 2 if stage and not block else 1
            y = _conv_bn_relu(x, filters, strides=strides)
            y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same", use_bias=False)(y))
            shortcut = x
            if strides != 1 or x.shape[-1] != filters:
                shortcut = L.BatchNormalization()(
                    L.Conv2D(filters, 1, strides=strides, use_bias=False)(x))
            x = L.ReLU()(L.Add()([y, shortcut]))
    return x


def resnet18(size: int, classes: int):
    """ResNet-18 (basic blocks, 2-2-2-2). At 224 the ImageNet stem (7x7/2 conv, 3x3/2 max
    pool); at 32 the CIFAR stem (one 3x3 conv, no pooling)."""
    keras = _keras()
    L = keras.layers
    inputs = keras.Input((size, size, 3))
    if size >= 64:
        x = _conv_bn_relu(inputs, 64, kernel=7, strides=2)
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    else:
        x = _conv_bn_relu(inputs, 64)
    x = _basic_blocks(x, (64, 128, 256, 512), blocks=2)
    outputs = L.Dense(classes)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name=f"resnet18_{size}")


def resnet20():
    """ResNet-20 for CIFAR-10 (He et al. 2016, section 4.2): a 3x3 conv of 16, three stages of
    three basic blocks (16, 32, 64 channels), global average pooling, FC10. The narrow
    channels are its point: the layers are small. Projection shortcuts (option B) where the
    shape changes, as in Keras' own CIFAR ResNet example."""
    keras = _keras()
    L = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = _basic_blocks(_conv_bn_relu(inputs, 16), (16, 32, 64), blocks=3)
    outputs = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="resnet20_32")


def vgg_small():
    """The VGG-small of the binary-network literature (CIFAR-10, 32x32):
    2x128C3-MP-2x256C3-MP-2x512C3-MP-FC10."""
    keras = _keras()
    L = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for filters in (128, 256, 512):
        x = _conv_bn_relu(_conv_bn_relu(x, filters), filters)
        x = L.MaxPooling2D()(x)
    outputs = L.Dense(10)(L.Flatten()(x))
    return keras.Model(inputs, outputs, name="vgg_small")


def mobilenet_v1():
    return _keras().applications.MobileNet(weights=None, input_shape=(224, 224, 3))


def mobilenet_v2():
    return _keras().applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))


def _conv_bn_leaky(x, filters, kernel=3):
    L = _keras().layers
    x = L.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
    return L.LeakyReLU(alpha=0.1)(L.BatchNormalization()(x))


def yolov3_tiny(size: int = 416, classes: int = 80):
    """YOLOv3-tiny (Redmon and Farhadi 2018, darknet's yolov3-tiny.cfg): six 3x3 convolutions
    with BatchNorm and LeakyReLU(0.1), each but the last two followed by a 2x2 max pool (the
    last pool of stride 1, padded on the bottom and right), a 1024-channel 3x3 layer, then a
    head at size/32 and one at size/16 fed by upsampled features concatenated with the 13x13
    stage's. The two heads (3 anchors x (5 + classes) channels each) are the outputs."""
    keras = _keras()
    L = keras.layers
    inputs = keras.Input((size, size, 3))
    x = inputs
    for filters in (16, 32, 64, 128):
        x = L.MaxPooling2D(2)(_conv_bn_leaky(x, filters))
    route = _conv_bn_leaky(x, 256)
    x = L.MaxPooling2D(2)(route)
    x = _conv_bn_leaky(x, 512)
    x = L.MaxPooling2D(2, strides=1)(L.ZeroPadding2D(((0, 1), (0, 1)))(x))
    features = _conv_bn_leaky(_conv_bn_leaky(x, 1024), 256, kernel=1)
    anchors = 3 * (5 + classes)
    coarse = L.Conv2D(anchors, 1)(_conv_bn_leaky(features, 512))
    up = L.UpSampling2D(2)(_conv_bn_leaky(features, 128, kernel=1))
    fine = L.Conv2D(anchors, 1)(_conv_bn_leaky(L.Concatenate()([up, route]), 256))
    return keras.Model(inputs, [coarse, fine], name=f"yolov3_tiny_{size}")


BUILDERS = {"resnet18_224": lambda: resnet18(224, 1000), "resnet18_32": lambda: resnet18(32, 10),
            "resnet20_32": resnet20, "vgg_small_32": vgg_small, "mobilenet_v1_224": mobilenet_v1,
            "mobilenet_v2_224": mobilenet_v2, "yolov3_tiny_416": yolov3_tiny}


def _samples(model, count: int) -> np.ndarray:
    shape = (count, *model.input_shape[1:])
    return np.random.default_rng(SEED).normal(size=shape).astype(np.float32)


def stock_models(float_model, calibration: np.ndarray) -> dict:
    """fp32 and int8 .tflite bytes from the stock converter."""
    import tensorflow as tf

    built = {"fp32": tf.lite.TFLiteConverter.from_keras_model(float_model).convert()}
    converter = tf.lite.TFLiteConverter.from_keras_model(float_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    built["int8"] = converter.convert()
    return built


def qat_model(float_model, weight_bits: int, activation_bits: int):
    """quantize_model's QAT model, untrained, its quantizers' steps set by one predict."""
    from bitlite.converter import quantize_model

    qat = quantize_model(float_model, weight_bits=weight_bits, activation_bits=activation_bits)
    qat.predict(_samples(float_model, 4), verbose=0)
    return qat


def bitlite_model(float_model, weight_bits: int, activation_bits: int) -> bytes:
    from bitlite.converter import convert

    return convert(qat_model(float_model, weight_bits, activation_bits))


def seeded(name: str):
    """The network `name` with the same random weights and layer names every time (the names
    end up in the .tflite: the same network converts to the same bytes)."""
    _keras().backend.clear_session()  # Keras numbers its layers' default names per session
    _keras().utils.set_random_seed(SEED)
    return BUILDERS[name]()


def models(name: str, variants) -> dict:
    """variant -> .tflite bytes for the network `name`; variants among fp32, int8, W?A?."""
    float_model = seeded(name)
    built = {}
    if {"fp32", "int8"} & set(variants):
        stock = stock_models(float_model, _samples(float_model, 8))
        built.update({v: stock[v] for v in ("fp32", "int8") if v in variants})
    for variant in variants:
        if variant.startswith("W"):
            w, a = (int(n) for n in variant[1:].split("A"))
            built[variant] = bitlite_model(float_model, w, a)
    return built
