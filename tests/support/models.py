"""Random-weight models for the converter tests (and the fuzzer's seed corpus): random biases and
BatchNorm statistics, small models of the layer shapes the digits CNN lacks, the convert-once
recipe, and the check of a conversion under every in-process runtime."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import tf_keras as keras

from bitlite.converter import convert, quantize_model

from .checks import RUNTIMES, assert_matches_keras
from .harness import run_model

L = keras.layers


def randomize(model, seed: int):
    """Random biases and BatchNorm statistics (Keras starts them at 0 / identity).

    Not only for variety: an untrained layer with zero bias and identity BN can produce an
    accumulator of exactly 0, which the delegate keeps exactly 0 while Keras' float sum leaves
    +-1e-8 noise; a following signed 1-bit quantizer then takes opposite signs (FORMAT.md: 0
    is +1). A non-zero offset moves such outputs off 0, as trained biases and BN do.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.3, channels),
                               rng.normal(0, 0.3, channels), rng.uniform(0.5, 2.0, channels)])
        elif getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0, 0.3, layer.bias.shape))
    return model


def stays_float_when_kept_8bit(layer) -> bool:
    """A convolution that, kept 8-bit, stays float builtins instead of a W8A8 op (README
    "What is supported"): it reads fewer than 8 channels per group and its kernel row is not 8
    contiguous codes either (the W8A8 kernels read 8 codes a tap, folding a kernel's columns
    into one where they are contiguous: one group, no column dilation)."""
    if not isinstance(layer, (L.Conv1D, L.Conv2D)) or isinstance(layer, L.DepthwiseConv2D):
        return False
    groups = getattr(layer, "groups", 1)
    group_channels = layer.kernel.shape[-2]
    if group_channels >= 8:
        return False
    kernel_w, dilation_w = layer.kernel_size[-1], layer.dilation_rate[-1]
    folds = groups == 1 and dilation_w == 1 and kernel_w > 1 and kernel_w * group_channels >= 8
    return not folds


def conversion(float_model, seed: int, *args, **kwargs):
    """quantize_model(float_model, ...), run once on random data (lazy step init), converted;
    with random test inputs and the Keras outputs on them."""
    rng = np.random.default_rng(seed)
    shape = float_model.input_shape[1:]
    qat = quantize_model(float_model, *args, **kwargs)
    qat.predict(rng.normal(size=(32, *shape)).astype(np.float32), verbose=0)
    x = rng.normal(size=(16, *shape)).astype(np.float32)
    return SimpleNamespace(qat=qat, data=convert(qat), x=x, expected=qat.predict(x, verbose=0))


def check_every_runtime(converted, exact: bool = True):
    """`conversion`'s result under each in-process runtime (exact: see assert_matches_keras)."""
    for runtime in RUNTIMES:
        actual = run_model(converted.data, converted.x, runtime)
        assert_matches_keras(converted.x, converted.expected, actual, exact=exact,
                             what=f"the converted model under {runtime}")


def small_cnn():
    keras.utils.set_random_seed(11)
    inputs = keras.Input((6, 6, 3))
    x = inputs
    for i in range(2):
        x = L.Conv2D(16, 3, padding="same", name=f"conv{i}")(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    outputs = L.Dense(8, name="dense")(L.Flatten()(x))
    return randomize(keras.Model(inputs, outputs), seed=11)


def signed_w1a1():
    keras.utils.set_random_seed(12)
    inputs = keras.Input((8, 8, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(inputs)))
    x = L.BatchNormalization()(L.Conv2D(16, 3, padding="same", name="no_relu")(x))
    # No ReLU in between: this layer's input quantizer is the signed 1-bit grid {-1, +1}.
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same", name="sign_in")(x)))
    outputs = L.Dense(4)(L.GlobalAveragePooling2D()(x))
    return randomize(keras.Model(inputs, outputs), seed=12)


def dense_rank3():
    keras.utils.set_random_seed(13)
    inputs = keras.Input((6, 12))
    x = L.Dense(16, activation="relu")(inputs)
    x = L.ReLU()(L.BatchNormalization()(L.Dense(16, name="fc_bn")(x)))
    x = L.Dense(16, activation="relu6", name="fc_relu6")(x)
    outputs = L.Dense(3)(L.Flatten()(x))
    return randomize(keras.Model(inputs, outputs), seed=13)


def residual():
    keras.utils.set_random_seed(14)
    inputs = keras.Input((8, 8, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(inputs)))
    a = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same", name="branch_a")(x)))
    b = L.BatchNormalization()(L.Conv2D(16, 1, name="branch_b")(x))
    x = L.ReLU()(L.Add()([a, b]))
    c = L.ReLU()(L.Conv2D(8, 3, padding="same", name="branch_c")(x))
    d = L.Conv2D(8, 1, activation="relu", name="branch_d")(x)
    x = L.Concatenate()([c, d])
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same", name="merge")(x)))
    outputs = L.Dense(5)(L.GlobalAveragePooling2D()(x))
    return randomize(keras.Model(inputs, outputs), seed=14)


def geometry():
    keras.utils.set_random_seed(15)
    inputs = keras.Input((13, 12, 3))
    x = L.Conv2D(8, 3)(inputs)
    x = L.ReLU(max_value=6.0)(L.Conv2D(8, 3, strides=2, padding="valid", name="stride2")(x))
    x = L.Conv2D(8, 3, dilation_rate=2, padding="same", activation="relu6", name="dilated")(x)
    x = L.BatchNormalization()(L.Conv2D(8, (1, 3), strides=(1, 2), padding="same",
                                        name="asymmetric")(x))
    x = L.ReLU()(L.Conv2D(8, (2, 2), dilation_rate=(2, 1), padding="valid", name="valid_d2")(x))
    outputs = L.Dense(3)(L.Flatten()(x))
    return randomize(keras.Model(inputs, outputs), seed=15)


# name -> (builder, weight bits, activation bits, {bitlite op: (fused activation, signed
# input)}, builtin ops that must remain: Add/Concatenate stay outside the bitlite ops).
MODELS = {
    # "no_relu" reads a ReLU output (unsigned 1 bit, {0, 1}); "sign_in" reads BN (sign grid).
    "signed_w1a1": (signed_w1a1, 1, 1, {"no_relu": ("NONE", False), "sign_in": ("RELU", True)},
                    []),
    "dense_rank3": (dense_rank3, 3, 2, {"fc_bn": ("RELU", False),
                                        "fc_relu6": ("RELU6", False)}, []),
    "residual": (residual, 2, 3, {"branch_a": ("RELU", False), "branch_b": ("NONE", False),
                                  "branch_c": ("RELU", False), "branch_d": ("RELU", False),
                                  "merge": ("RELU", False)}, ["ADD", "CONCATENATION"]),
    "geometry": (geometry, 4, 2, {"stride2": ("RELU6", True), "dilated": ("RELU6", False),
                                  "asymmetric": ("NONE", False), "valid_d2": ("RELU", True)},
                 []),
}
