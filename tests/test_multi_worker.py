"""quantize_model under tf.distribute.MultiWorkerMirroredStrategy, two workers on 127.0.0.1.

Both workers train the same QAT model (each on its own data, so that their BatchNorm moving
statistics differ, as they do on a cluster); then the second worker saves its variables and
exits, and the chief alone converts: `convert` must read no variable through a cross-worker
collective (one that would wait for the worker that left). The .tflite must equal the chief's
own Keras inference, `qat(x, training=False)`, bit for bit (support.checks.assert_matches_keras):
the chief's BatchNorm statistics are its own (README "Training on several machines"), unless
the BatchNorm is synchronized (then every worker's are the same).

The workers run this file as a script in subprocesses: a TensorFlow process joins one cluster,
once, before it runs any op, which the rest of the suite has done already. Every wait is
bounded: a deadlocked worker fails the test when its time is up, and is killed.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tf_keras as keras

from bitlite.converter import convert, quantize_model

from support.checks import RUNTIMES, assert_matches_keras
from support.cli import float_model
from support.harness import run_model

TIMEOUT_S = 240  # both workers together, from start to the chief's report
# (quantizer, BatchNormalization(synchronized=...)): synchronized BatchNorm takes its batch
# statistics over both workers' batches, so both workers' moving statistics stay equal.
CASES = [("lsq", False), ("minmax", False), ("lsq", True)]


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (bound to port 0 together, so distinct, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_workers(tmp_path, quantizer: str, synchronized: bool) -> dict:
    """Starts both workers, waits at most TIMEOUT_S for both, kills whatever is left; returns
    the chief's report (the last line of its stdout)."""
    here = os.path.dirname(os.path.abspath(__file__))
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": index}}))
        log = open(tmp_path / f"worker{index}.log", "w+")
        workers.append((subprocess.Popen(
            [sys.executable, __file__, "worker", str(tmp_path), quantizer, str(synchronized)],
            cwd=here, env=env,
            stdout=log, stderr=subprocess.STDOUT, text=True), log))
    deadline = time.monotonic() + TIMEOUT_S
    timed_out = []
    for index, (process, _) in enumerate(workers):
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out.append(index)
    for process, _ in workers:
        if process.poll() is None:
            process.kill()
            process.wait()
    logs = []
    for process, log in workers:
        log.seek(0)
        logs.append(log.read())
        log.close()
    tails = "\n".join(f"--- worker {i} (exit {p.returncode}) ---\n{text[-4000:]}"
                      for i, ((p, _), text) in enumerate(zip(workers, logs)))
    assert not timed_out, f"workers {timed_out} still ran after {TIMEOUT_S} s (deadlock?)\n{tails}"
    assert all(p.returncode == 0 for p, _ in workers), tails
    return json.loads(logs[0].strip().splitlines()[-1])


def synchronized_copy(model):
    """The model with every BatchNormalization synchronized=True, same weights."""
    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return type(layer).from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


@pytest.mark.parametrize("quantizer, synchronized", CASES)
def test_train_on_two_workers_convert_on_the_chief_alone(tmp_path, quantizer, synchronized,
                                                         delegate_library):
    report = run_workers(tmp_path, quantizer, synchronized)
    assert report["workers"] == 2 and report["replicas"] == 2, report
    # Mirrored variables (kernels, steps, biases, BatchNorm's gamma and beta) are the same on
    # both workers; BatchNorm's moving statistics are each worker's own unless synchronized.
    assert report["mirrored_differ"] == [], report
    assert report["statistics"] > 0, report
    assert report["statistics_differ"] == (0 if synchronized else report["statistics"]), report
    assert report["matches"] == list(RUNTIMES), report


def test_quantize_model_keeps_batch_norm_synchronized():
    """tf_keras' BatchNormalization.get_config leaves `synchronized` out; quantize_model's
    copies keep it (graph.clone_layer)."""
    qat = quantize_model(synchronized_copy(float_model()), 2, 3)
    norms = [layer for layer in qat.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.synchronized for layer in norms)


# ---------------------------------------------------------------------------------------------
# A worker: `python test_multi_worker.py worker DIRECTORY QUANTIZER SYNCHRONIZED`, TF_CONFIG set
# ---------------------------------------------------------------------------------------------

def worker_main(directory: str, quantizer: str, synchronized: bool):
    import faulthandler

    # Where a worker waits when the test's time runs out: its stacks, in its log.
    faulthandler.dump_traceback_later(TIMEOUT_S - 15, exit=False)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    index = strategy.cluster_resolver.task_id
    chief = index == 0

    def worker_data(context):
        # Each worker its own examples, shifted by its index: its BatchNorm sees other batch
        # statistics than the other worker's, as on a cluster reading different files.
        rng = np.random.default_rng(context.input_pipeline_id)
        x = rng.uniform(0, 1, size=(64, 8, 8, 1)).astype(np.float32) + context.input_pipeline_id
        y = rng.integers(0, 4, size=64)
        batch = context.get_per_replica_batch_size(16)
        return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch)

    with strategy.scope():
        model = synchronized_copy(float_model()) if synchronized else float_model()
        qat = quantize_model(model, 2, 3, quantizer=quantizer)
        qat.compile(keras.optimizers.Adam(1e-3),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(strategy.distribute_datasets_from_function(worker_data), epochs=1,
            steps_per_epoch=4, verbose=0)

    # Each worker's own copy of every variable, read without collectives.
    own = {v.name: strategy.experimental_local_results(v)[0].numpy() for v in qat.variables}
    other_path = os.path.join(directory, "worker1.npz")
    if not chief:
        np.savez(other_path + ".partial.npz", **own)
        os.replace(other_path + ".partial.npz", other_path)  # whole, or not there
        return  # exits without converting: the chief must not wait for it
    deadline = time.monotonic() + 60
    while not os.path.exists(other_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    other = dict(np.load(other_path))
    statistics = [name for name in own if "moving_" in name]
    differ = [name for name in own if not np.array_equal(own[name], other[name])]

    x = np.random.default_rng(7).uniform(0, 2, size=(32, 8, 8, 1)).astype(np.float32)
    data = convert(qat)
    expected = qat(x, training=False).numpy()  # the chief's own Keras inference
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(data, x, runtime),
                             what=f"the converted model under {runtime}")
    print(json.dumps({
        "workers": len(strategy.cluster_resolver.cluster_spec().as_dict()["worker"]),
        "replicas": strategy.num_replicas_in_sync,
        "mirrored_differ": sorted(set(differ) - set(statistics)),
        "statistics": len(statistics), "statistics_differ": len(set(statistics) & set(differ)),
        "matches": list(RUNTIMES)}))


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    worker_main(sys.argv[2], sys.argv[3], sys.argv[4] == "True")
