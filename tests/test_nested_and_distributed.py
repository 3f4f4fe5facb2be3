"""quantize_model on nested models (flattened, their layers quantized) and under tf.distribute.

Both are trained for an epoch, converted, and must compute what the QAT model computes in Keras,
bit for bit (support.checks.assert_matches_keras). The distributed case runs in a subprocess: logical CPU devices
must be configured before TensorFlow runs any op, which the rest of the suite has done already.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tf_keras as keras

from bitlite.converter import convert, quantize_model

from support.checks import RUNTIMES, assert_matches_keras, tflite_ops
from support.harness import run_model

L = keras.layers
SHAPE = (10, 10, 3)
# Mixed precision inside the nested blocks; the others get the default W2A2, and the first
# (outer) conv and the last (outer) dense stay 8-bit.
LAYER_BITS = {"seq_depthwise": (4, 2), "func_conv": (4, 2)}
# Sub-byte layers in execution order across the nesting, with their (weight, input) bits.
SUB_BYTE = [("seq_conv", (2, 2)), ("seq_depthwise", (4, 2)), ("func_conv", (4, 2)),
            ("deep_conv", (2, 2))]


def nested_model():
    """outer conv -> Sequential block -> functional block (BN+ReLU, holding a Sequential two
    levels down) -> pooling -> dense."""
    keras.utils.set_random_seed(5)
    sequential_block = keras.Sequential([
        L.Conv2D(8, 3, padding="same", name="seq_conv"),
        L.BatchNormalization(name="seq_bn"), L.ReLU(name="seq_relu"),
        L.DepthwiseConv2D(3, padding="same", name="seq_depthwise"), L.ReLU(name="seq_relu2"),
    ], name="sequential_block")
    deep_block = keras.Sequential([L.Conv2D(8, 3, padding="same", name="deep_conv"),
                                   L.ReLU(name="deep_relu")], name="deep_block")
    block_input = keras.Input((10, 10, 8))
    y = L.Conv2D(8, 3, padding="same", name="func_conv")(block_input)
    y = L.ReLU(name="func_relu")(L.BatchNormalization(name="func_bn")(y))
    functional_block = keras.Model(block_input, deep_block(y), name="functional_block")

    inputs = keras.Input(SHAPE)
    x = L.ReLU(name="outer_relu")(L.Conv2D(8, 3, padding="same", name="outer_conv")(inputs))
    x = functional_block(sequential_block(x))
    outputs = L.Dense(4, name="logits")(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="nested")


def fit_one_epoch(qat, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, *SHAPE)).astype(np.float32)
    y = rng.integers(0, 4, size=64)
    qat.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(x, y, batch_size=16, epochs=1, verbose=0)


def converted_outputs(qat, seed: int, runtime: str = "tf"):
    """(x, Keras outputs, converted model's outputs) on random inputs."""
    x = np.random.default_rng(seed).normal(size=(32, *SHAPE)).astype(np.float32)
    return x, qat.predict(x, verbose=0), run_model(convert(qat), x, runtime)


@pytest.fixture(scope="module")
def nested_qat():
    float_model = nested_model()
    qat = quantize_model(float_model, 2, 2, layer_bits=LAYER_BITS)
    fit_one_epoch(qat, seed=1)
    return qat


def test_nested_models_are_flattened(nested_qat):
    assert not any(isinstance(layer, keras.Model) for layer in nested_qat.layers)
    wrapped = [layer.layer.name for layer in nested_qat.layers if hasattr(layer, "layer")]
    assert wrapped == ["outer_conv", *(name for name, _ in SUB_BYTE), "logits"]


def test_nested_ops(nested_qat):
    ops = tflite_ops(convert(nested_qat))
    custom = [op for op in ops if "options" in op]
    sub_byte = [op for op in custom if op["options"]["weight_bits"] != 8]
    assert [op["name"] for op in sub_byte] == ["BitliteConv2D"] * len(SUB_BYTE), ops
    for op, (name, bits) in zip(sub_byte, SUB_BYTE):
        options = op["options"]
        assert (options["weight_bits"], options["activation_bits"]) == bits, name
        # Every input comes from a ReLU, across the nested models' boundaries: unsigned.
        assert options["activation_signed"] is False, name
    # Kept 8-bit, both W8A8 ops: the first reads 3 channels, 9 codes a row of its 3x3 kernel
    # once the delegate folds its columns (README "What is supported"); the last.
    kept = [op["name"] for op in custom if op["options"]["weight_bits"] == 8]
    assert kept == ["BitliteConv2D", "BitliteFullyConnected"], ops
    assert "CONV_2D" not in [op["name"] for op in ops], ops


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_nested_matches_keras(nested_qat, runtime, delegate_library):
    x, expected, actual = converted_outputs(nested_qat, seed=2, runtime=runtime)
    assert_matches_keras(x, expected, actual)


def test_first_layer_inside_a_nested_model():
    """keep_first_last_8bit counts in execution order: here the first layer is nested."""
    block = keras.Sequential([L.Conv2D(4, 3, name="nested_first"), L.ReLU()], name="block")
    inputs = keras.Input(SHAPE)
    x = L.Conv2D(4, 3, name="outer_middle")(block(inputs))
    outputs = L.Dense(2, name="outer_last")(L.Flatten()(x))
    qat = quantize_model(keras.Model(inputs, outputs), 2, 2)
    bits = {layer.layer.name: layer.quantize_config.weight_bits for layer in qat.layers
            if hasattr(layer, "quantize_config")}
    assert bits == {"nested_first": 8, "outer_middle": 2, "outer_last": 8}


def test_nested_model_called_twice_is_refused():
    block = keras.Sequential([L.Conv2D(3, 3, padding="same")], name="twice")
    inputs = keras.Input(SHAPE)
    with pytest.raises(ValueError, match="'twice' is called more than once.*without nesting"):
        quantize_model(keras.Model(inputs, L.Flatten()(block(block(inputs)))))


def test_nested_model_with_call_arguments_is_refused():
    block = keras.Sequential([L.Conv2D(3, 3), L.BatchNormalization()], name="frozen")
    inputs = keras.Input(SHAPE)
    with pytest.raises(ValueError, match=r"'frozen' is called with \['training'\]"):
        quantize_model(keras.Model(inputs, L.Flatten()(block(inputs, training=False))))


def test_layer_names_must_be_unique_across_nesting():
    block = keras.Sequential([L.Conv2D(3, 3, name="conv")], name="block")
    inputs = keras.Input(SHAPE)
    x = L.Conv2D(3, 3, name="conv")(block(inputs))
    with pytest.raises(ValueError, match="two layers are named 'conv'"):
        quantize_model(keras.Model(inputs, L.Flatten()(x)))


# ---------------------------------------------------------------------------------------------
# tf.distribute: run as `python test_nested_and_distributed.py distributed` in a subprocess
# ---------------------------------------------------------------------------------------------

def distributed_main(quantizer: str):
    """MirroredStrategy over two logical CPUs: quantize_model, compile and fit in its scope
    (the lazy step init runs in a replica context there, each replica on half the batch),
    then check that the replicas' copies of every variable agree, convert and compare."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        qat = quantize_model(nested_model(), 2, 2, layer_bits=LAYER_BITS, quantizer=quantizer)
        fit_one_epoch(qat, seed=3)
    # Mirrored variables only: BatchNorm's moving statistics are per replica by design.
    differing = [v.name for v in qat.variables if isinstance(v, tf.distribute.DistributedValues)
                 and v.synchronization != tf.VariableSynchronization.ON_READ
                 and not all(np.array_equal(c.numpy(), v.values[0].numpy()) for c in v.values)]
    flags = [v for v in qat.variables if v.name.endswith("_step_initialized:0")]
    steps = {v.name.replace("_step_initialized:0", "_step:0") for v in flags}
    x, expected, actual = converted_outputs(qat, seed=4)
    assert_matches_keras(x, expected, actual)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "differing": differing,
                      "flags": len(flags), "initialized": all(bool(v.numpy()) for v in flags),
                      "steps": [float(np.min(v.numpy())) for v in qat.variables
                                if v.name in steps]}))


@pytest.mark.parametrize("quantizer", ["lsq", "minmax"])
def test_quantize_fit_and_convert_under_mirrored_strategy(quantizer, delegate_library):
    here = os.path.dirname(os.path.abspath(__file__))
    result = subprocess.run([sys.executable, __file__, "distributed", quantizer], cwd=here,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2 and report["differing"] == []
    # One flag per quantizer: an input and a kernel quantizer per quantized layer.
    assert report["flags"] == 2 * (len(SUB_BYTE) + 2) and report["initialized"]
    # Initialised steps are data-dependent, not the variables' initial 1.0.
    assert len(report["steps"]) == report["flags"]
    assert all(0 < step != 1.0 for step in report["steps"]), report["steps"]


if __name__ == "__main__" and sys.argv[1:2] == ["distributed"]:
    distributed_main(sys.argv[2])
