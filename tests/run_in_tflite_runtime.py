"""Runs bitlite models under tflite_runtime (its own venv: no TF, no bitlite installed).

    python run_in_tflite_runtime.py LIBRARY MANIFEST.json

MANIFEST is a list of {"model": path, "input": .npy, "output": .npy, "num_threads": int|null},
each optionally with "delegate_options" (a dict of strings for load_delegate, e.g. verbose).
Each model is loaded from its file (weights mmapped), the input resized to the array's shape,
and output 0 saved. Any error propagates: a non-zero exit with the traceback on stderr.
"""

import json
import sys

import numpy as np


def run(library: str, job: dict) -> None:
    # Imported here, not at the top: tests/arm_run_models.py reuses invoke_job in Pythons
    # that have another runtime.
    from tflite_runtime.interpreter import Interpreter, load_delegate

    kwargs = {} if job.get("num_threads") is None else {"num_threads": job["num_threads"]}
    invoke_job(Interpreter(model_path=job["model"],
                           experimental_delegates=[load_delegate(library,
                                                                 job.get("delegate_options"))],
                           **kwargs), job)


def invoke_job(interpreter, job: dict) -> None:
    """Resizes the input to the job's array, invokes, saves output 0 (any TFLite runtime)."""
    x = np.load(job["input"])
    detail = interpreter.get_input_details()[0]
    if tuple(detail["shape"]) != x.shape:
        interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    np.save(job["output"], interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def main(library: str, manifest: str) -> int:
    with open(manifest) as handle:
        for job in json.load(handle):
            run(library, job)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
