"""Whole architectures through quantize_model -> convert -> delegate, against Keras.

ResNet-style (residual Add, strided 1x1 projection), VGG-style (stacked 3x3, pooling, Dense),
MobileNet-style (depthwise-separable blocks with ReLU6, a SeparableConv2D) and a small
detection head with two outputs. Random weights with random biases and BatchNorm statistics,
one predict to initialise the quantizer steps, then every output of the .tflite (both
in-process runtimes) must match Keras (support.checks.assert_matches_keras).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import tf_keras as keras

from bitlite import delegate
from bitlite.converter import convert, quantize_model

from support.architectures import detection_head, mobilenet_style, resnet_style, vgg_style
from support.checks import RUNTIMES, assert_matches_keras, tflite_ops, winograd_expected
from support.models import randomize

def run_all_outputs(data: bytes, x: np.ndarray, runtime: str,
                    delegate_options: dict | None = None) -> list[np.ndarray]:
    """Every output of the .tflite, in the order of the model's outputs."""
    interpreter = delegate.Interpreter(model_content=data, runtime=runtime,
                                       delegate_options=delegate_options)
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


def check_matches_keras(float_model, weight_bits: int, activation_bits: int,
                        delegate_options: dict | None = None, **options) -> None:
    """Quantizes, converts and runs the model in every runtime at batch 1 and 16: every
    output equals the Keras QAT model's."""
    qat = quantize_model(float_model, weight_bits, activation_bits, **options)
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
            actual = run_all_outputs(data, x[:batch], runtime, delegate_options)
            # The two heads differ in channels: pair each Keras output with its tensor.
            actual = sorted(actual, key=lambda a: a.shape[-1])
            for want, got in zip(sorted(expected, key=lambda e: e.shape[-1]), actual):
                assert_matches_keras(x[:batch], want[:batch], got)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_whole_model_matches_keras(name, delegate_library):
    build, options = MODELS[name]
    keras.utils.set_random_seed(5)
    check_matches_keras(randomize(build(), seed=5), 2, 2, **options)


def test_winograd_layers_of_one_partition_match_keras(delegate_library, capfd):
    # ResNet-18's first stages at W3A3: where the CPU's rule runs 3x3 layers of 64+ channels
    # as F(2x2, 3x3), several of them in one partition, sharing their workspaces, and one
    # with a fused residual ADD; on 3 threads (workers that transform a chunk once for its
    # blocks of channels); all outputs equal Keras.
    keras.utils.set_random_seed(6)
    float_model = randomize(resnet_style(width=64), seed=6)
    check_matches_keras(float_model, 3, 3, delegate_options={"verbose": "true", "num_threads": "3"})
    winograd = re.findall(r"kernel winograd/", capfd.readouterr().err)
    if winograd_expected():
        assert len(winograd) >= 2 * 2 * len(RUNTIMES), winograd  # 2 layers, 2 batches
