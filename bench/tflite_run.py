"""Running a .tflite model over a data set and timing it, the same way for every runtime."""

from __future__ import annotations

import time

import numpy as np


def predict(interpreter, x: np.ndarray) -> np.ndarray:
    """Outputs of the model's first output for every row of x, in one resized batch."""
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x.astype(detail["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def median_latency_ms(interpreter, images: np.ndarray, repeats: int = 200) -> float:
    """Median wall time of one batch-1 inference, cycling over the given images."""
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], [1, *images.shape[1:]])
    interpreter.allocate_tensors()
    times = []
    for i in range(repeats + 10):
        interpreter.set_tensor(detail["index"], images[i % len(images)][None].astype(detail["dtype"]))
        start = time.perf_counter()
        interpreter.invoke()
        if i >= 10:  # the first invokes warm caches and lazily initialised kernels
            times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))
