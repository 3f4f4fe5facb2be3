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


import numpy as np
import pytest
import tf_keras as keras

from bitlite.converter import convert, graph, quantize_model

from support.checks import RUNTIMES, assert_matches_keras, tflite_ops
from support.harness import run_in_tflite_runtime, run_model
from support.networks import trained, upscaled_digits

L = keras.layers


# Two seeds per network, each with its own (weight bits, activation bits).
BITS = {"resnet": [(2, 2), (4, 4)], "densenet": [(4, 4), (1, 2)],
        "mobilenet_v2": [(2, 2), (3, 3)], "efficientnet_lite": [(4, 4), (2, 2)]}
CASES = [(network, seed, *bits) for network, pairs in BITS.items()
         for seed, bits in enumerate(pairs)]


@pytest.fixture(scope="module")
def digits():
    return upscaled_digits()


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
        assert_matches_keras(x, expected, eager, what=f"{case}: an eager call against predict")
        results.append((case, convert(qat), expected))
    return results


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_row_equals_keras(converted, digits, runtime):
    for case, model, expected in converted:
        assert_matches_keras(digits[2], expected, run_model(model, digits[2], runtime),
                             what=f"{case} under {runtime}")


def test_every_row_equals_keras_under_tflite_runtime(converted, digits, delegate_library,
                                                     tmp_path):
    outputs, _ = run_in_tflite_runtime(
        delegate_library,
        {index: (model, digits[2], None, None) for index, (_, model, _) in enumerate(converted)},
        tmp_path, timeout=600)
    for index, (case, _, expected) in enumerate(converted):
        assert_matches_keras(digits[2], expected, outputs[index],
                             what=f"{case} under tflite-runtime")


def test_models_learned(converted, digits):
    """The trained models are not degenerate (constant logits would agree trivially)."""
    for case, _, expected in converted:
        assert len(np.unique(expected.argmax(1))) >= 3, case


@pytest.mark.parametrize("features", [3000, 140000])
def test_8bit_sums_beyond_float32_integers_are_exact(features, rng):
    """An 8-bit classifier whose sums pass 2^24, where a float32 sum of integers rounds:
    `features` positive products of codes near 127. With 3000 (sums of 4.5e7) it is a W8A8
    bitlite op, whose int32 sum is exact; with 140000 even int32 cannot hold every sum
    (2.3e9), so the .tflite sums ranges of input channels that stay below 2^24 in float32
    builtins and adds them in order, as the QAT model's inference does."""
    inputs = keras.Input((features,))
    qat = quantize_model(keras.Model(inputs, L.Dense(4)(inputs)))
    x = rng.uniform(0.8, 1.0, size=(16, features)).astype(np.float32)
    qat.predict(x, verbose=0)  # initialises the steps; then put the codes near their maximum
    wrapper = qat.layers[-1]
    kernel, _ = graph.wrapped_kernel(wrapper)
    weight_vars = graph.quantizer_variables(wrapper)
    kernel.assign(rng.uniform(0.8, 1.0, size=kernel.shape))
    weight_vars["step"].assign(np.full(weight_vars["step"].shape, 1 / 127, np.float32))
    qat.layers[-2].quantizer_vars["step"].assign(1 / 127)
    expected = qat.predict(x, verbose=0)
    assert np.abs(expected).max() > 2 ** 24 / 127 ** 2  # the sums did pass 2^24
    model = convert(qat)
    names = [op["name"] for op in tflite_ops(model)]
    if features == 3000:
        assert names == ["BitliteFullyConnected"], names
    else:
        assert "BitliteFullyConnected" not in names and names.count("FULLY_CONNECTED") > 1
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(model, x, runtime),
                             what=f"wide 8-bit classifier under {runtime}")
