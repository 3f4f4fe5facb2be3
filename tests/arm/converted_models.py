"""Models made by the real converter for the emulated ARM runs: the trained digits model, a
representative mix of the layer matrix (grouped conv, depthwise, residual add, rank-3 dense,
a dense head, 1-4 bit mixed), a trained deep bottleneck ResNet (test_deep_networks), a
ResNet-style network with an 8-bit integer residual stream (test_residual_bits) and W2A2
ResNet-18 and MobileNetV2-, DenseNet- (concatenation), EfficientNet-Lite- and YOLO-style
networks with random weights whose glue the delegate claims (one partition each,
test_glue_ops), so ARM runs what users convert, not only hand-built one-op models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tf_keras as keras

from bitlite.converter import convert, quantize_model
from bench import digits
from support.models import randomize
from support import architectures, networks
from support.networks import trained, upscaled_digits

L = keras.layers


@dataclass
class ConvertedCase:
    model: bytes
    x: np.ndarray
    expected: np.ndarray     # the Keras QAT model's output on x
    qat: keras.Model
    description: str


def _digits_w2a2() -> ConvertedCase:
    x_train, y_train, x_test, _ = digits.load_data()
    float_model = digits.compile_and_fit(digits.build_cnn(width=8), x_train, y_train, epochs=4,
                                         learning_rate=3e-3)
    qat = quantize_model(float_model, weight_bits=2, activation_bits=2)
    digits.compile_and_fit(qat, x_train, y_train, epochs=2, learning_rate=1e-3)
    x = x_test[:32]
    return ConvertedCase(convert(qat), x, qat.predict(x, verbose=0), qat,
                         "digits CNN, W2A2 middle convs, trained")


def _layer_mix() -> ConvertedCase:
    keras.utils.set_random_seed(7)
    inputs = keras.Input((9, 9, 6))
    x = L.Conv2D(8, 3, padding="same", groups=2, name="grouped")(inputs)
    x = L.ReLU(name="relu_grouped")(L.BatchNormalization(name="bn_grouped")(x))
    y = L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, name="depthwise")(x)
    y = L.ReLU(max_value=6.0, name="relu6_depthwise")(L.BatchNormalization(name="bn_dw")(y))
    y = L.Conv2D(16, 1, name="pointwise")(y)
    shortcut = L.Conv2D(16, 1, strides=2, padding="valid", name="shortcut")(
        L.Cropping2D(1)(x))
    z = L.Add(name="residual")([y, shortcut])
    z = L.Reshape((16, 16), name="tokens")(z)
    z = L.Dense(5, name="dense_rank3")(z)
    # A classifier head: arg-max over a rank-3 output of identical quantized tokens would tie.
    outputs = L.Dense(10, name="head")(L.Flatten(name="flatten")(z))
    float_model = keras.Model(inputs, outputs)
    randomize(float_model, seed=11)
    bits = {"grouped": (3, 2), "depthwise": (2, 2), "pointwise": (1, 1), "shortcut": (4, 4),
            "dense_rank3": (4, 1), "head": (2, 4)}
    qat = quantize_model(float_model, layer_bits=bits)
    rng = np.random.default_rng(5)
    qat.predict(rng.normal(size=(4, 9, 9, 6)).astype(np.float32), verbose=0)  # lazy step init
    x = rng.normal(size=(3, 9, 9, 6)).astype(np.float32)
    return ConvertedCase(convert(qat), x, qat.predict(x, verbose=0), qat,
                         "grouped W3A2, depthwise W2A2, W1A1, W4A4 residual, rank-3 dense W4A1, "
                         "head W2A4")


def _residual_stream() -> ConvertedCase:
    """quantize_model(..., residual_bits=8): the residual ADDs' inputs and outputs on 8-bit
    grids (test_residual_bits)."""
    keras.utils.set_random_seed(7)
    float_model = randomize(architectures.resnet_style(), seed=7)
    qat = quantize_model(float_model, 2, 2, residual_bits=8)
    rng = np.random.default_rng(7)
    qat(rng.normal(size=(32, 16, 16, 3)).astype(np.float32), training=False)
    x = rng.normal(size=(8, 16, 16, 3)).astype(np.float32)
    return ConvertedCase(convert(qat), x, qat.predict(x, verbose=0), qat,
                         "ResNet-style W2A2 with an 8-bit integer residual stream")


def _deep_resnet() -> ConvertedCase:
    digits = upscaled_digits()
    qat = trained("resnet", 0, 2, 2, digits)
    x = digits[2][:8]
    return ConvertedCase(convert(qat), x, qat.predict(x, verbose=0), qat,
                         "ResNet-50-deep bottleneck network W2A2, trained")


# Whole backbones the delegate takes as one partition, glue included (cc/FORMAT.md "Builtin ops
# the delegate runs"): inverted residuals (ADD, depthwise), dense blocks (CONCATENATION,
# STRIDED_SLICE, AVERAGE_POOL_2D) and EfficientNet-Lite's 5x5 depthwise stages, at 16x16, a
# YOLO-style detector at 32x32 (LeakyReLU fused into its ops, MAX_POOL_2D,
# RESIZE_NEAREST_NEIGHBOR), whose outputs' reshapes to rows of a dynamic batch stay the
# runtime's after the partition, and ResNet-18 itself at 64x64 (its W8A8 7x7 stem with the max
# pool fused, residual ADDs, strided projections).
GLUE_NETWORKS = {
    "resnet18_w2a2": (architectures.resnet18, "ResNet-18"),
    "mobilenet_v2_w2a2": (networks.mobilenet_v2, "MobileNetV2-style"),
    "densenet_w2a2": (networks.densenet, "DenseNet-style (concatenation)"),
    "efficientnet_lite_w2a2": (networks.efficientnet_lite, "EfficientNet-Lite-style"),
    "yolo_w2a2": (architectures.yolo_style, "YOLO-style (LeakyReLU, upsampled neck)"),
}
# Nodes each leaves to the runtime (all others are the delegate's): the YOLO-style heads'
# reshapes of a dynamic batch (SHAPE, STRIDED_SLICE, PACK, RESHAPE each) and their CONCATENATION.
LEFT_TO_RUNTIME = {"yolo_w2a2": 9}


def _glue_network(name: str, rows: int = 8) -> ConvertedCase:
    """As test_glue_ops.converted(): W2A2, random weights and BatchNorm statistics, steps
    initialised on random rows (here by one eager call: a predict would trace the model once
    more, seconds a network), then the Keras outputs on `rows` other random inputs."""
    builder, description = GLUE_NETWORKS[name]
    keras.utils.set_random_seed(5)
    float_model = randomize(builder(), seed=5)
    qat = quantize_model(float_model, 2, 2)
    rng = np.random.default_rng(5)
    shape = float_model.input_shape[1:]
    qat(rng.normal(size=(32, *shape)).astype(np.float32), training=False)
    x = rng.normal(size=(rows, *shape)).astype(np.float32)
    return ConvertedCase(convert(qat), x, qat.predict(x, verbose=0), qat,
                         f"{description} network W2A2, random weights, glue claimed")


def converted_cases() -> dict[str, ConvertedCase]:
    built = {"digits_w2a2": _digits_w2a2(), "layer_mix": _layer_mix(),
             "deep_resnet_w2a2": _deep_resnet(), "residual_bits_8": _residual_stream()}
    built.update({name: _glue_network(name) for name in GLUE_NETWORKS})
    return built
