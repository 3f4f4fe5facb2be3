"""Runs bitlite models through a runtime with the delegate (shared by the tests): in this
process (tf.lite, ai_edge_litert) or in tflite_runtime's own venv (run_in_tflite_runtime)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from support.checks import tflite_runtime_python

TFLITE_RUNTIME_SCRIPT = Path(__file__).resolve().parents[1] / "run_in_tflite_runtime.py"


def prepared_interpreter(model: bytes | Path, inputs, runtime: str, *, num_threads=None,
                         delegate_options=None, experimental_delegates=None):
    """An interpreter with the bitlite delegate, its inputs resized to the arrays' shapes
    (batch > 1 goes through resize_tensor_input) and its tensors allocated.
    model: bytes (model_content) or a Path (model_path: the runtime mmaps the weights)."""
    from bitlite import delegate

    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    source = {"model_path": str(model)} if isinstance(model, Path) else {"model_content": model}
    interpreter = delegate.Interpreter(
        **source, runtime=runtime, num_threads=num_threads,
        delegate_options=delegate_options, experimental_delegates=experimental_delegates)
    details = interpreter.get_input_details()
    assert len(details) == len(inputs), (details, len(inputs))
    for detail, value in zip(details, inputs):
        if tuple(detail["shape"]) != value.shape:
            interpreter.resize_tensor_input(detail["index"], list(value.shape))
    interpreter.allocate_tensors()
    return interpreter


def invoke(interpreter, inputs) -> np.ndarray:
    """Sets the inputs, invokes, returns a copy of output 0."""
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def run_model(model: bytes | Path, inputs, runtime: str, *, num_threads=None,
              delegate_options=None, experimental_delegates=None) -> np.ndarray:
    """Builds an interpreter with the bitlite delegate (prepared_interpreter), invokes once,
    returns output 0."""
    interpreter = prepared_interpreter(
        model, inputs, runtime, num_threads=num_threads, delegate_options=delegate_options,
        experimental_delegates=experimental_delegates)
    return invoke(interpreter, inputs)


def run_in_tflite_runtime(delegate_library: str, jobs: dict, directory: Path,
                          timeout: int = 300) -> tuple[dict, str]:
    """Runs `jobs` {name: (model, input array, num_threads or None, delegate options or
    None)} in order in one tflite_runtime process (tests/run_in_tflite_runtime.py, the venv of
    support.checks.tflite_runtime_python: skipped locally, a failure in CI, when unset). A
    model is a .tflite Path or its bytes, written to a file under `directory`: the runtime
    loads every model from a file. Returns ({name: output 0}, the process's stderr); a
    non-zero exit fails the test."""
    python = tflite_runtime_python()
    directory.mkdir(parents=True, exist_ok=True)
    manifest = []
    for index, (name, (model, x, threads, options)) in enumerate(jobs.items()):
        stem = directory / f"job{index}"
        if not isinstance(model, Path):
            stem.with_suffix(".tflite").write_bytes(model)
            model = stem.with_suffix(".tflite")
        np.save(f"{stem}_x.npy", x)
        job = {"model": str(model), "input": f"{stem}_x.npy", "output": f"{stem}_y.npy",
               "num_threads": threads}
        if options is not None:
            job["delegate_options"] = options
        manifest.append(job)
    (directory / "manifest.json").write_text(json.dumps(manifest))
    child = subprocess.run([python, str(TFLITE_RUNTIME_SCRIPT), delegate_library,
                            str(directory / "manifest.json")],
                           capture_output=True, text=True, timeout=timeout)
    assert child.returncode == 0, f"exit {child.returncode}\n{child.stderr[-3000:]}"
    outputs = {name: np.load(job["output"]) for name, job in zip(jobs, manifest)}
    return outputs, child.stderr
