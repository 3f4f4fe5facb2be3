"""Deep networks, trained for real, are exact: every row of the converted model equals
`qat.predict` bit for bit, under tf.lite, LiteRT and tflite-runtime.

Deep residual and dense networks amplify a one-ulp difference at a quantizer's rounding tie
into logits that move by more than 1 (issue 10), so these are the models where exactness is
tested: a bottleneck ResNet as deep as ResNet-50 (16 bottleneck blocks, 53 convolutions), a
DenseNet (BatchNorm-ReLU-conv on concatenations, average-pooling transitions), MobileNetV2
(inverted residuals, depthwise, ReLU6, linear bottlenecks) and EfficientNet-Lite (MBConv with
5x5 depthwise and ReLU6; the Lite variant has no swish and no squeeze-excitation, whose
sigmoid no runtime computes like another). Narrow and on 16x16 digits, so that each trains
two epochs in seconds; BatchNorm momentum 0.5 so that training moves its statistics.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tf_keras as keras

from bitlite.converter import convert, quantize_model

from conftest import RUNTIMES, bench_module, tflite_runtime_python
from harness import run_model

L = keras.layers
SIZE = 16
TFLITE_RUNTIME_SCRIPT = Path(__file__).resolve().parent / "run_in_tflite_runtime.py"


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
# Two seeds per network, each with its own (weight bits, activation bits).
BITS = {"resnet": [(2, 2), (4, 4)], "densenet": [(4, 4), (1, 2)],
        "mobilenet_v2": [(2, 2), (3, 3)], "efficientnet_lite": [(4, 4), (2, 2)]}
CASES = [(network, seed, *bits) for network, pairs in BITS.items()
         for seed, bits in enumerate(pairs)]


@pytest.fixture(scope="module")
def digits():
    return upscaled_digits()


def upscaled_digits():
    """(x_train, y_train, x_held_out): digits upscaled to 16x16 RGB, 600 training and 64
    held-out images."""
    data = bench_module("digits")
    x_train, y_train, x_test, _ = data.load_data()

    def upscale(images):
        images = np.repeat(np.repeat(images, SIZE // 8, axis=1), SIZE // 8, axis=2)
        return np.repeat(images, 3, axis=3)

    return upscale(x_train[:600]), y_train[:600], upscale(x_test[:64])


def trained(network: str, seed: int, weight_bits: int, activation_bits: int, digits):
    x_train, y_train, _ = digits
    keras.utils.set_random_seed(seed)
    qat = quantize_model(NETWORKS[network](), weight_bits, activation_bits)
    qat.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(x_train, y_train, epochs=2, batch_size=50, verbose=0)
    return qat


@pytest.fixture(scope="module")
def converted(digits):
    """(case, .tflite bytes, qat.predict of the held-out images) per case."""
    x = digits[2]
    results = []
    for case in CASES:
        qat = trained(*case, digits)
        expected = qat.predict(x, verbose=0)
        # The same inference run eagerly: a graph (predict's) must not round differently from
        # op-by-op execution (it did where Grappler rewrote the BatchNorm fold, issue 10).
        eager = qat(x, training=False).numpy()
        assert_rows_equal(eager, expected, f"{case}: an eager call against predict")
        results.append((case, convert(qat), expected))
    return results


def assert_rows_equal(actual: np.ndarray, expected: np.ndarray, what: str):
    """Every row bit for bit (the last op of these networks is the 8-bit classifier's affine
    output stage, which both sides compute with the same two float32 roundings)."""
    assert actual.dtype == np.float32 and actual.shape == expected.shape, (actual.shape,
                                                                           expected.shape)
    differing = np.flatnonzero((actual != expected).any(axis=1))
    assert differing.size == 0, (
        f"{what}: {differing.size} of {len(actual)} rows differ from qat.predict (rows "
        f"{differing[:10].tolist()}, max |diff| {np.abs(actual - expected).max():.3g}, arg-max "
        f"agreement {np.mean(actual.argmax(1) == expected.argmax(1)):.3f})")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_row_equals_keras(converted, digits, runtime):
    for case, model, expected in converted:
        assert_rows_equal(run_model(model, digits[2], runtime), expected,
                          f"{case} under {runtime}")


def test_every_row_equals_keras_under_tflite_runtime(converted, digits, delegate_library,
                                                     tmp_path):
    python = tflite_runtime_python()
    np.save(tmp_path / "x.npy", digits[2])
    manifest = []
    for index, (_, model, _) in enumerate(converted):
        (tmp_path / f"{index}.tflite").write_bytes(model)
        manifest.append({"model": str(tmp_path / f"{index}.tflite"),
                         "input": str(tmp_path / "x.npy"),
                         "output": str(tmp_path / f"{index}_y.npy"), "num_threads": None})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    child = subprocess.run([python, str(TFLITE_RUNTIME_SCRIPT), delegate_library,
                            str(tmp_path / "manifest.json")],
                           capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, f"exit {child.returncode}\n{child.stderr[-3000:]}"
    for index, (case, _, expected) in enumerate(converted):
        assert_rows_equal(np.load(tmp_path / f"{index}_y.npy"), expected,
                          f"{case} under tflite-runtime")


def test_models_learned(converted, digits):
    """The trained models are not degenerate (constant logits would agree trivially)."""
    for case, _, expected in converted:
        assert len(np.unique(expected.argmax(1))) >= 3, case


def test_8bit_sums_beyond_float32_integers_are_exact(rng):
    """An 8-bit classifier whose sums pass 2^24, where a float32 sum of integers rounds:
    3000 positive products of codes near 127 reach 4.5e7. The .tflite sums ranges of input
    channels that stay below 2^24 and adds them in order, as the QAT model's inference does."""
    inputs = keras.Input((3000,))
    qat = quantize_model(keras.Model(inputs, L.Dense(4)(inputs)))
    x = rng.uniform(0.8, 1.0, size=(16, 3000)).astype(np.float32)
    qat.predict(x, verbose=0)  # initialises the steps; then put the codes near their maximum
    wrapper = qat.layers[-1]
    kernel, _, weight_vars = wrapper._weight_vars[0]
    kernel.assign(rng.uniform(0.8, 1.0, size=kernel.shape))
    weight_vars["step"].assign(np.full(weight_vars["step"].shape, 1 / 127, np.float32))
    qat.layers[-2].quantizer_vars["step"].assign(1 / 127)
    expected = qat.predict(x, verbose=0)
    assert np.abs(expected).max() > 2 ** 24 / 127 ** 2  # the sums did pass 2^24
    model = convert(qat)
    for runtime in RUNTIMES:
        assert_rows_equal(run_model(model, x, runtime), expected,
                          f"wide 8-bit classifier under {runtime}")
