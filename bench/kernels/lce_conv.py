"""Larq Compute Engine timings of binary convolutions, for bench_conv.py's W1A1 comparison.

LCE needs its own TensorFlow pin and numpy<2, so this script runs in a separate environment
(`make .venv-lce/.deps`, see the Makefile) and bench_conv.py calls it as a subprocess:

    .venv-lce/bin/python bench/kernels/lce_conv.py --layer resnet18_3x3_64_56 56 56 64 64 3 1 \
        --threads 1 2 --runs 200

For each layer, a larq QuantConv2D with sign-binarized inputs and weights (ste_sign), then
BatchNormalization and ReLU, is converted by LCE's converter into one LceBconv2d op with a
fused per-channel multiplier, bias and ReLU and float output: the same work as a bitlite W1A1
op. It is timed in LCE's interpreter with both of its optimized x86 kernels (the default
BGEMM and the indirect BGEMM); the faster one is reported. LCE's `predict` also copies the
input in and the output out (about 0.02 ms for a 56x56x64 layer), which bitlite's timing in
tf.lite does not include. Prints one JSON object: {layer: {threads: [median_ms, min_ms]}}.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import larq as lq  # noqa: E402
import larq_compute_engine as lce  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from larq_compute_engine.tflite.python.interpreter import Interpreter  # noqa: E402


def binary_conv_model(h: int, w: int, c_in: int, c_out: int, kernel: int, stride: int) -> bytes:
    inputs = keras.Input(shape=(h, w, c_in), batch_size=1)
    y = lq.layers.QuantConv2D(c_out, kernel, strides=stride, padding="same", pad_values=1.0,
                              input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                              kernel_constraint="weight_clip", use_bias=False)(inputs)
    y = keras.layers.BatchNormalization()(y)
    outputs = keras.layers.ReLU()(y)
    model = keras.Model(inputs, outputs)
    # Non-trivial BatchNorm statistics, so the fused multiplier and bias are real work.
    rng = np.random.default_rng(0)
    bn = model.layers[-2]
    bn.set_weights([rng.uniform(0.5, 1.5, c_out), rng.normal(size=c_out),
                    rng.normal(size=c_out), rng.uniform(0.5, 1.5, c_out)])
    return lce.convert_keras_model(model)


def time_ms(interpreter: Interpreter, x: np.ndarray, runs: int) -> tuple[float, float]:
    """Median and minimum over `runs` predictions, after warm-up (as bench_conv.time_ms)."""
    for _ in range(5):
        interpreter.interpreter.predict([x])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.interpreter.predict([x])
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), 1e3 * float(np.min(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", nargs=7, action="append", required=True,
                        metavar=("NAME", "H", "W", "C_IN", "C_OUT", "KERNEL", "STRIDE"))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, list[float]]] = {}
    for name, *sizes in args.layer:
        h, w, c_in, c_out, kernel, stride = map(int, sizes)
        model = binary_conv_model(h, w, c_in, c_out, kernel, stride)
        x = rng.normal(size=(1, h, w, c_in)).astype(np.float32)
        results[name] = {}
        for threads in args.threads:
            best = None
            for indirect in (False, True):
                interpreter = Interpreter(model, num_threads=threads, use_indirect_bgemm=indirect)
                timing = time_ms(interpreter, x, args.runs)
                best = timing if best is None or timing[0] < best[0] else best
            results[name][str(threads)] = list(best)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
