"""Whole networks through the delegate claiming the glue (one partition each, test_glue_ops)
under tflite_runtime 2.14 (its own venv, run_in_tflite_runtime.py): test_glue_ops' networks
(ResNet-18, ResNet-style, ResNet with max pooling and padding, VGG-style, DenseNet-style,
MobileNetV2, YOLO-style) and EfficientNet-Lite, W2A2 with random weights, at batch 1 and batch 8 (a resize). Each output
matches the Keras QAT model (support.checks.assert_matches_keras) and is byte for byte the
output of tf.lite in this process; the runtime made one delegate partition of the same nodes.
"""

from __future__ import annotations

import pytest

from support import networks
from support.checks import assert_matches_keras, tflite_ops, tflite_runtime_python
from support.harness import run_in_tflite_runtime

import test_glue_ops as glue

NAMES = sorted([*glue.NETWORKS, "efficientnet_lite"])
BATCHES = (1, 8)
_efficientnet = {}


def converted(name):
    """(qat, .tflite bytes, x, Keras outputs): test_glue_ops.converted(), and its recipe
    (test_glue_ops.convert_w2a2) for EfficientNet-Lite."""
    if name in glue.NETWORKS:
        return glue.converted(name)
    if not _efficientnet:
        _efficientnet[name] = glue.convert_w2a2(networks.efficientnet_lite)
    return _efficientnet[name]


@pytest.fixture(scope="module")
def runs(delegate_library, tmp_path_factory):
    """Every network at every batch in one tflite_runtime process: {(name, batch): output},
    and the delegate's partitions (node counts) in job order."""
    tflite_runtime_python()  # skipped (locally) before converting the networks
    jobs = {}
    for name in NAMES:
        _, data, x, _ = converted(name)
        for batch in BATCHES:
            jobs[name, batch] = (data, x[:batch], None, {"verbose": "true"})
    outputs, stderr = run_in_tflite_runtime(delegate_library, jobs,
                                            tmp_path_factory.mktemp("glue_networks"))
    return outputs, glue.partitions(stderr)


def test_one_partition_per_model(runs):
    """Every interpreter made exactly one partition: each model has bitlite ops, so at least
    one each, and as many as jobs in all."""
    _, partitions = runs
    assert len(partitions) == len(NAMES) * len(BATCHES), partitions


@pytest.mark.parametrize("name", NAMES)
def test_network_in_tflite_runtime_matches_keras_and_tf_lite(name, runs, capfd):
    outputs, partitions = runs
    _, data, x, expected = converted(name)
    assert len(partitions) == len(NAMES) * len(BATCHES), partitions
    names = [op["name"] for op in tflite_ops(data)]
    bitlite_ops = sum(n.startswith("Bitlite") for n in names)
    capfd.readouterr()
    for index, batch in enumerate(BATCHES):
        out = outputs[name, batch]
        assert_matches_keras(x[:batch], expected[:batch], out,
                             what=f"{name} at batch {batch} in tflite_runtime")
        in_process = glue.run(data, x[:batch], "tf", claim_builtins=True)
        tf_partitions = glue.partitions(capfd.readouterr().err)
        assert out.tobytes() == in_process.tobytes(), f"{name}: tflite_runtime != tf.lite"
        # The same single partition as tf.lite, glue included.
        nodes = partitions[NAMES.index(name) * len(BATCHES) + index]
        assert tf_partitions == [nodes], (name, batch, tf_partitions, nodes)
        assert nodes > bitlite_ops, f"{name}: no builtin was claimed ({nodes} nodes)"
