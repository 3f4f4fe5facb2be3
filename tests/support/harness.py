"""Runs one-op bitlite models through a runtime with the delegate (shared by the tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
