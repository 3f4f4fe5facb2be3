"""Acceptance test of the whole chain: Keras QAT model -> convert -> .tflite -> delegate.

The converted model must compute what the QAT model computes in Keras (`qat.predict`) on every
input, bit for bit (support.checks.assert_matches_keras, the suite's one rule), under every
runtime, from bytes and from a file, at batch 1 and batched. The trained digits CNN
is the main case; small random-weight models cover every bit pair and the layer shapes the
digits CNN lacks.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from bitlite import delegate
from bitlite.converter import convert, quantize_model

from bench import digits, tflite_run
from support.checks import assert_matches_keras, tflite_ops
from support.harness import run_in_tflite_runtime, run_model
from support.models import (MODELS, check_every_runtime, conversion, small_cnn,
                            stays_float_when_kept_8bit)

L = keras.layers
BITLITE_OPS = ("BitliteConv2D", "BitliteFullyConnected")

# Short but real training: ~10 s on 2 cores, ~99% test accuracy float and QAT (W2A2).
FLOAT_EPOCHS, QAT_EPOCHS = 15, 15


def stock_fp32_size(float_model) -> int:
    """Size of the float model converted by the stock TFLiteConverter, no optimizations."""
    return len(tf.lite.TFLiteConverter.from_keras_model(float_model).convert())


def quantized_layers(model):
    return [layer for layer in model.layers if type(layer) in (L.Conv2D, L.Dense)]


def check_ops(data: bytes, float_model, kept: set):
    """Every Conv2D/Dense of `float_model` became one bitlite op, in order, with its kernel
    geometry, the kept ones as W8A8 ops (FORMAT.md "Bit widths") but a narrow kept conv that
    cannot fold its kernel's columns, which stays a float CONV_2D. Returns the ops of the sub-byte layers."""
    ops = tflite_ops(data)
    custom = [op for op in ops if "options" in op]
    quantized = [layer for layer in quantized_layers(float_model)
                 if not (layer.name in kept and stays_float_when_kept_8bit(layer))]
    assert [op["name"] for op in custom] == [
        "BitliteConv2D" if isinstance(layer, L.Conv2D) else "BitliteFullyConnected"
        for layer in quantized], [op["name"] for op in ops]
    for op, layer in zip(custom, quantized):
        kernel = layer.kernel.shape
        k, c_out = int(np.prod(kernel[:-1])), int(kernel[-1])
        options = op["options"]
        bits = (options["weight_bits"], options["activation_bits"])
        assert (bits == (8, 8)) == (layer.name in kept), (layer.name, bits)
        assert (options["in_channels"], options["out_channels"]) == (kernel[-2], c_out)
        # One row of ceil(K * bits / 8) bytes per output channel (FORMAT.md).
        assert len(op["weights"]) == c_out * -(-k * options["weight_bits"] // 8), layer.name
        if isinstance(layer, L.Conv2D):
            assert (options["kernel_h"], options["kernel_w"]) == layer.kernel_size
            assert (options["stride_h"], options["stride_w"]) == layer.strides
            assert (options["dilation_h"], options["dilation_w"]) == layer.dilation_rate
            assert options["padding"] == layer.padding.upper()
    names = [op["name"] for op in ops]
    float_convs = [layer for layer in quantized_layers(float_model)
                   if layer.name in kept and stays_float_when_kept_8bit(layer)]
    assert names.count("CONV_2D") == len(float_convs), names
    assert not {"DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} & set(names), names
    return [op for op, layer in zip(custom, quantized) if layer.name not in kept]


# ---------------------------------------------------------------------------------------------
# The trained digits CNN at W2A2 (bench/digits.py)
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    x_train, y_train, x_test, y_test = digits.load_data()
    float_model = digits.build_cnn()  # seeds Keras itself: the run is reproducible
    digits.compile_and_fit(float_model, x_train, y_train, FLOAT_EPOCHS, 3e-3)
    qat = quantize_model(float_model, 2, 2)
    digits.compile_and_fit(qat, x_train, y_train, QAT_EPOCHS, 1e-3)
    data = convert(qat)
    path = tmp_path_factory.mktemp("digits") / "digits_w2a2.tflite"
    path.write_bytes(data)
    return SimpleNamespace(float_model=float_model, qat=qat, data=data, path=path,
                           x=x_test, y=y_test, expected=qat.predict(x_test, verbose=0))


def test_digits_qat_is_trained(trained):
    assert digits.accuracy(trained.expected, trained.y) > 0.9
    # Trained logits of a few units, not a degenerate model whose outputs agree trivially.
    assert 4 < np.abs(trained.expected).max() < 16


def test_digits_ops(trained):
    first, last = "conv0", "logits"  # kept 8-bit by default
    custom = check_ops(trained.data, trained.float_model, kept={first, last})
    for op in custom:  # conv1 and conv2: W2A2, unsigned input (after ReLU), BN+ReLU fused
        options = op["options"]
        assert (options["weight_bits"], options["activation_bits"]) == (2, 2)
        assert options["activation_signed"] is False
        assert options["activation"] == "RELU"


def test_digits_smaller_than_fp32(trained):
    assert len(trained.data) < stock_fp32_size(trained.float_model)


def batch_one_outputs(source: dict, x: np.ndarray, runtime: str) -> np.ndarray:
    """One interpreter at the model's own input shape [1, ...], invoked once per image."""
    interpreter = delegate.Interpreter(**source, runtime=runtime)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    assert list(detail["shape"]) == [1, *x.shape[1:]]
    output = interpreter.get_output_details()[0]["index"]
    outputs = []
    for image in x:
        interpreter.set_tensor(detail["index"], image[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output)[0].copy())
    return np.stack(outputs)


@pytest.mark.parametrize("batch", ["batch1", "full"])
@pytest.mark.parametrize("source", ["model_content", "model_path"])
def test_digits_matches_keras(trained, runtime, source, batch, delegate_library):
    from_file = source == "model_path"
    if batch == "full":  # harness.run_model: a Path means model_path, bytes model_content
        actual = run_model(trained.path if from_file else trained.data, trained.x, runtime)
    else:
        model = str(trained.path) if from_file else trained.data
        actual = batch_one_outputs({source: model}, trained.x, runtime)
    assert_matches_keras(trained.x, trained.expected, actual)


def test_digits_bench_predict_matches_keras(trained, delegate_library):
    """bench/tflite_run.predict, what the demo and the accuracy benchmark use."""
    actual = tflite_run.predict(delegate.Interpreter(model_content=trained.data), trained.x)
    assert_matches_keras(trained.x, trained.expected, actual)


def test_digits_in_tflite_runtime(trained, delegate_library, tmp_path):
    # The model from its file (weights mmapped), all rows, then batch 1 at the model's own
    # shape with 1 and 2 threads.
    jobs = {"all": (trained.path, trained.x, None, None)}
    picks = [0, 1, 2, 3]
    for i in picks:
        jobs[i] = (trained.path, trained.x[i:i + 1], i % 2 + 1, None)
    outputs, _ = run_in_tflite_runtime(delegate_library, jobs, tmp_path)
    assert_matches_keras(trained.x, trained.expected, outputs["all"])
    for i in picks:
        assert_matches_keras(trained.x[i:i + 1], trained.expected[i:i + 1], outputs[i])


# ---------------------------------------------------------------------------------------------
# Random-weight models (untrained: one predict initialises the quantizer steps)
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_cnn_model():
    model = small_cnn()
    return SimpleNamespace(model=model, fp32_size=stock_fp32_size(model))


@pytest.mark.parametrize("weight_bits,activation_bits",
                         [(w, a) for w in (1, 2, 3, 4) for a in (1, 2, 3, 4)],
                         ids=lambda bits: str(bits))
def test_every_bit_pair(small_cnn_model, weight_bits, activation_bits, delegate_library):
    # All three layers sub-byte: conv0 reads the raw (signed) input, conv1 and dense read ReLU
    # outputs (unsigned), so both grids of every activation width run.
    converted = conversion(small_cnn_model.model, 100 * weight_bits + activation_bits,
                           weight_bits, activation_bits, keep_first_last_8bit=False)
    custom = check_ops(converted.data, small_cnn_model.model, kept=set())
    assert [op["options"]["activation_signed"] for op in custom] == [True, False, False]
    for op in custom:
        assert (op["options"]["weight_bits"], op["options"]["activation_bits"]) == (
            weight_bits, activation_bits)
    check_every_runtime(converted)
    assert len(converted.data) < small_cnn_model.fp32_size


def first_last(model) -> set:
    layers = quantized_layers(model)
    return {layers[0].name, layers[-1].name}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_random_model(name, delegate_library):
    build, weight_bits, activation_bits, ops, builtins = MODELS[name]
    float_model = build()
    converted = conversion(float_model, 7, weight_bits, activation_bits)
    custom = check_ops(converted.data, float_model, kept=first_last(float_model))
    assert [(op["options"]["activation"], op["options"]["activation_signed"])
            for op in custom] == list(ops.values())
    for op in custom:
        assert (op["options"]["weight_bits"], op["options"]["activation_bits"]) == (
            weight_bits, activation_bits)
    names = [op["name"] for op in tflite_ops(converted.data)]
    for builtin in builtins:
        assert builtin in names, names
    check_every_runtime(converted)
    assert len(converted.data) < stock_fp32_size(float_model)
