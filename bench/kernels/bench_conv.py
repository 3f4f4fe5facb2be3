"""Layer benchmark of the bitlite delegate's kernels against TFLite's XNNPACK fp32 and int8.

Every layer is timed as it runs inside a real network of its kind, 1 and 2 threads:
  fp32  the equivalent Keras layer converted to fp32 (XNNPACK; float in and out, as in an
        fp32 network);
  int8  the same converted to int8 with a representative data set, with int8 input and output
        (no QUANTIZE / DEQUANTIZE around it: inside an int8 network its neighbours read and
        write int8 tensors);
  WxAy  the bitlite op between two 1x1 depthwise bitlite ops of its widths, all one delegate
        partition: it reads codes and writes codes (cc/FORMAT.md "Codes between ops"), as
        between the layers of a converted network; each invoke's time less the two
        neighbours' own (the delegate's per-op profile, delegate option `profile`), so that it
        carries an invoke's cost like fp32 and int8 (the op's own time is in the JSON too).
        Fully connected layers run alone.
  WxAy at the edge: the op alone in a model, reading floats (quantizing and packing them) and
        writing floats, as a network's first or last bitlite op.
Binary convolutions also run in Larq Compute Engine (bench/kernels/lce_conv.py, in the separate
environment .venv-lce that `make bench-kernels` creates; --no-lce skips it), a one-layer model
set against bitlite's at the edge.

    make bench-kernels    (the installed bitlite; or, from the repository root after
    `pip install --no-build-isolation -e .`,
        TF_USE_LEGACY_KERAS=1 .venv/bin/python -m bench.kernels.bench_conv)

Writes bench/results/kernels_x86.json and prints a markdown table. The machine must be quiet
for the numbers to mean anything; the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

# name, kind (conv, depthwise or fc), input [H, W, C_in] (FC: [K]), C_out, kernel, stride
LAYERS = [
    ("resnet18_3x3_64_56", "conv", (56, 56, 64), 64, 3, 1),
    ("resnet18_3x3_128_28", "conv", (28, 28, 128), 128, 3, 1),
    ("vgg_small_3x3_128_32", "conv", (32, 32, 128), 128, 3, 1),
    ("mobilenet_1x1_256_28", "conv", (28, 28, 256), 256, 1, 1),
    ("resnet18_1x1_256_14", "conv", (14, 14, 256), 256, 1, 1),
    ("mobilenet_dw3x3_128_56", "depthwise", (56, 56, 128), 128, 3, 1),
    ("mobilenet_dw3x3_256_28_s2", "depthwise", (28, 28, 256), 256, 3, 2),
    ("dense_1024_1000", "fc", (1024,), 1000, 1, 1),
]
# weight bits, activation bits; 1-bit activations use the signed {-1, +1} grid (XNOR nets).
BIT_PAIRS = [(1, 1), (2, 2), (3, 3), (4, 4), (2, 4)]
THREADS = (1, 2)
# Targets of the brief, for the headline layer at 1 thread: speed-up over XNNPACK fp32 (bitlite
# in a network); W1A1 at the edge over LCE's one-layer model; and issue 12's for the 1x1 layer
# at 14x14, W2A2 over fp32.
TARGETS = {"W1A1": 8.0, "W2A2": 3.0, "W4A4": 1.5}
TARGET_W1A1_VS_LCE = 5.0
SMALL_1X1 = ("resnet18_1x1_256_14", "W2A2", 2.5)
LCE_SCRIPT = Path(__file__).resolve().with_name("lce_conv.py")


WARMUP_INVOKES = 5  # warm caches, thread pools and lazily prepared kernels


def invoke_ms(interpreter, x: np.ndarray, runs: int) -> np.ndarray:
    """Milliseconds of each of `runs` invokes after WARMUP_INVOKES."""
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], x.astype(detail["dtype"]))
    for _ in range(WARMUP_INVOKES):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return 1e3 * np.array(times)


def time_ms(interpreter, x: np.ndarray, runs: int) -> tuple[float, float]:
    """Median and minimum of `runs` invokes: on a shared, busy machine the median includes
    preemptions, the minimum shows what the kernel costs when it runs undisturbed."""
    times = invoke_ms(interpreter, x, runs)
    return float(np.median(times)), float(np.min(times))


def bitlite_op(kind, c_in, c_out, kernel, stride, weight_bits, activation_bits, rng):
    """(packed weights, spec, custom options) of a bitlite op with random weight codes;
    kind conv, depthwise (groups = c_in) or fc."""
    from bitlite.converter import custom_ops

    groups = c_in if kind == "depthwise" else 1
    codes_shape = (c_out, c_in) if kind == "fc" else (c_out, kernel, kernel, c_in // groups)
    low, high = custom_ops.weight_code_range(weight_bits)
    codes = rng.integers(low, high + 1, size=codes_shape)
    if weight_bits == 1:
        codes = np.where(codes < 0, -1, 1)
    packed = custom_ops.pack_weights(codes.reshape(c_out, -1), weight_bits)
    spec = dict(weight_bits=weight_bits, activation_bits=activation_bits,
                activation_signed=activation_bits == 1, input_scale=0.05, in_channels=c_in,
                out_channels=c_out, activation="RELU",
                multiplier=np.full(c_out, 0.01, np.float32),
                offset=np.zeros(c_out, np.float32))
    if kind == "fc":
        return packed, spec, custom_ops.fully_connected_options(**spec)
    spec.update(kernel_h=kernel, kernel_w=kernel, stride_h=stride, stride_w=stride,
                padding="SAME", groups=groups)
    return packed, spec, custom_ops.conv2d_options(**spec)


def bitlite_model(layer, weight_bits, activation_bits, rng) -> bytes:
    """The layer's bitlite op alone: floats in and out."""
    from tests.support import tflite_builder

    name, kind, shape, c_out, kernel, stride = layer
    op = bitlite_op(kind, shape[-1], c_out, kernel, stride, weight_bits, activation_bits, rng)
    if kind == "fc":
        return tflite_builder.fc_model([1, shape[-1]], *op)
    return tflite_builder.conv_model([1, *shape], *op)


# The measured op of bitlite_in_network_model: its output tensor (tflite_builder.conv_chain_model).
IN_NETWORK_OUTPUT_TENSOR = 4


def bitlite_in_network_model(layer, weight_bits, activation_bits, rng) -> bytes | None:
    """The layer's bitlite op between two 1x1 depthwise ops of the same widths (cheap, and
    codes of its grids on both sides); None for a fully connected layer."""
    from tests.support import tflite_builder

    name, kind, shape, c_out, kernel, stride = layer
    if kind == "fc":
        return None
    widths = (weight_bits, activation_bits, rng)
    return tflite_builder.conv_chain_model([1, *shape], [
        bitlite_op("depthwise", shape[-1], shape[-1], 1, 1, *widths),
        bitlite_op(kind, shape[-1], c_out, kernel, stride, *widths),
        bitlite_op("depthwise", c_out, c_out, 1, 1, *widths)])


def keras_models(layer, rng) -> tuple[bytes, bytes]:
    """The fp32 and int8 (representative data set, int8 input and output) TFLite models."""
    import tensorflow as tf

    name, kind, shape, c_out, kernel, stride = layer
    inputs = tf.keras.Input(shape=shape, batch_size=1)
    if kind == "conv":
        outputs = tf.keras.layers.Conv2D(c_out, kernel, strides=stride, padding="same",
                                         activation="relu")(inputs)
    elif kind == "depthwise":
        outputs = tf.keras.layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", depth_multiplier=c_out // shape[-1],
            activation="relu")(inputs)
    else:
        outputs = tf.keras.layers.Dense(c_out, activation="relu")(inputs)
    model = tf.keras.Model(inputs, outputs)
    fp32 = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = rng.normal(size=(8, *shape)).astype(np.float32)
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return fp32, converter.convert()


def run_bitlite(model: bytes, x, threads, runs) -> tuple[float, float]:
    from bitlite import delegate

    interpreter = delegate.Interpreter(model_content=model, runtime="tf",
                                       delegate_options={"num_threads": str(threads)})
    interpreter.allocate_tensors()
    return time_ms(interpreter, x, runs)


def run_bitlite_in_network(model: bytes, x, threads, runs, profile: Path) -> dict:
    """The middle op of bitlite_in_network_model's `model`: each invoke's time less its two
    neighbours' own (the delegate's per-op profile), so that, like the fp32 and int8 figures,
    it includes the interpreter's and Python's cost of an invoke; its median and minimum, the
    median of the op alone, and the tensors the partition kept as codes (2 where the CPU's
    rows keep codes between ops, FORMAT.md; 0 leaves the op reading and writing floats)."""
    from bitlite import delegate

    profile.unlink(missing_ok=True)
    with captured_stderr() as stderr:
        interpreter = delegate.Interpreter(
            model_content=model, runtime="tf",
            delegate_options={"num_threads": str(threads), "profile": str(profile),
                              "verbose": "true"})
        interpreter.allocate_tensors()
        times = invoke_ms(interpreter, x, runs)
    del interpreter  # the delegate writes its profile when its kernel is freed
    op_ms = {}
    for line in profile.read_text().splitlines():
        tensor, _, ns = line.split("\t")
        op_ms[int(tensor)] = np.array([int(v) / 1e6 for v in ns.split(",") if v])[-runs:]
    inside = times - op_ms[IN_NETWORK_OUTPUT_TENSOR - 2] - op_ms[IN_NETWORK_OUTPUT_TENSOR + 2]
    codes = re.findall(r"internal tensors \((\d+) as codes", "".join(stderr))
    return {"median_ms": float(np.median(inside)), "min_ms": float(np.min(inside)),
            "op_median_ms": float(np.median(op_ms[IN_NETWORK_OUTPUT_TENSOR])),
            "tensors_as_codes": int(codes[0]) if codes else None}


@contextlib.contextmanager
def captured_stderr():
    """The process's file descriptor 2 (the delegate's C++ messages) during the block: yields
    a list that holds the text afterwards."""
    text = []
    with tempfile.TemporaryFile(mode="w+") as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text.append(capture.read())


def run_tflite(model: bytes, x, threads, runs) -> tuple[float, float]:
    """An int8 model's input is x quantized with its input's scale and zero point."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=model, num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    if detail["dtype"] == np.int8:
        scale, zero_point = detail["quantization"]
        x = np.clip(np.round(x / scale) + zero_point, -128, 127)
    return time_ms(interpreter, x, runs)


def run_lce(python: Path, layers, runs: int) -> dict:
    """{layer: {threads: (median_ms, min_ms)}} of LCE's binary convolution, from lce_conv.py
    run in LCE's own environment (see its docstring)."""
    command = [str(python), str(LCE_SCRIPT), "--runs", str(runs),
               "--threads", *map(str, THREADS)]
    for name, kind, shape, c_out, kernel, stride in layers:
        if kind == "conv":
            command += ["--layer", name, *map(str, (*shape, c_out, kernel, stride))]
    if "--layer" not in command:
        return {}
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(results, statistic: str) -> str:
    """The layers in networks (bitlite between bitlite ops, int8 without QUANTIZE around it),
    then bitlite at a network's edge beside LCE's one-layer model."""
    bits = [f"W{w}A{a}" for w, a in BIT_PAIRS]
    lines = ["| layer | threads | fp32 | int8 | " + " | ".join(bits) +
             " | W1A1 / W2A2 / W4A4 vs fp32 | vs int8 | at the edge: " + " / ".join(bits) +
             " | LCE 1-bit | W1A1 at the edge vs LCE |",
             "|---" * (len(bits) + 8) + "|"]
    for row in results["rows"]:
        ms = row[statistic]
        inside = {k: ms.get(f"{k}_in_network", ms[k]) for k in bits}
        speedups = [" / ".join(f"{ms[base] / inside[k]:.1f}x" for k in ("W1A1", "W2A2", "W4A4"))
                    for base in ("fp32", "int8")]
        lce = (f"{ms['lce_W1A1']:.3f} | {ms['lce_W1A1'] / ms['W1A1']:.1f}x"
               if "lce_W1A1" in ms else "- | -")
        lines.append(f"| {row['layer']} | {row['threads']} | {ms['fp32']:.3f} | "
                     f"{ms['int8']:.3f} | " + " | ".join(f"{inside[k]:.3f}" for k in bits) +
                     f" | {speedups[0]} | {speedups[1]} | " +
                     " / ".join(f"{ms[k]:.3f}" for k in bits) + f" | {lce} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="timed invokes per measurement")
    parser.add_argument("--layers", nargs="*", default=[layer[0] for layer in LAYERS])
    parser.add_argument("--lce-python", type=Path, default=REPO / ".venv-lce" / "bin" / "python",
                        help="Python of the Larq Compute Engine environment")
    parser.add_argument("--no-lce", action="store_true", help="skip Larq Compute Engine")
    parser.add_argument("--output", type=Path,
                        default=REPO / "bench" / "results" / "kernels_x86.json")
    args = parser.parse_args()
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    rng = np.random.default_rng(0)
    results = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
               "load_average_before": os.getloadavg()[0], "runs": args.runs, "rows": []}
    layers = [layer for layer in LAYERS if layer[0] in args.layers]
    lce = {} if args.no_lce else run_lce(args.lce_python, layers, args.runs)
    profile = Path(tempfile.mkdtemp()) / "profile.tsv"
    for layer in layers:
        x = rng.normal(size=(1, *layer[2])).astype(np.float32)
        fp32, int8 = keras_models(layer, rng)
        bitlite = {f"W{w}A{a}": bitlite_model(layer, w, a, rng) for w, a in BIT_PAIRS}
        in_network = {f"W{w}A{a}": bitlite_in_network_model(layer, w, a, rng)
                      for w, a in BIT_PAIRS}
        for threads in THREADS:
            codes, op_alone = {}, {}
            times = {"fp32": run_tflite(fp32, x, threads, args.runs),
                     "int8": run_tflite(int8, x, threads, args.runs)}
            if layer[0] in lce:
                times["lce_W1A1"] = tuple(lce[layer[0]][str(threads)])
            for key, model in bitlite.items():
                times[key] = run_bitlite(model, x, threads, args.runs)
                if in_network[key] is not None:
                    inside = run_bitlite_in_network(in_network[key], x, threads, args.runs,
                                                    profile)
                    times[f"{key}_in_network"] = (inside["median_ms"], inside["min_ms"])
                    codes[key] = inside["tensors_as_codes"]
                    op_alone[key] = inside["op_median_ms"]
            if any(count == 0 for count in codes.values()):
                print(f"warning: {layer[0]}: codes are not kept between ops on this CPU, the "
                      f"in-network figures read and write floats", flush=True)
            results["rows"].append({"layer": layer[0], "threads": threads,
                                    "median_ms": {k: v[0] for k, v in times.items()},
                                    "min_ms": {k: v[1] for k, v in times.items()},
                                    "in_network_op_alone_median_ms": op_alone,
                                    "in_network_tensors_as_codes": codes})
            print(f"{layer[0]} threads={threads}: " +
                  ", ".join(f"{k} {v[0]:.3f} ms (min {v[1]:.3f})" for k, v in times.items()),
                  flush=True)
    results["load_average_after"] = os.getloadavg()[0]
    results["targets"] = {}
    for statistic in ("median_ms", "min_ms"):
        headline = {row["threads"]: row[statistic] for row in results["rows"]
                    if row["layer"] == LAYERS[0][0]}
        if 1 not in headline:
            continue
        targets = {key: {"target_speedup_vs_fp32": target,
                         "speedup_vs_fp32": headline[1]["fp32"] /
                         headline[1][f"{key}_in_network"]}
                   for key, target in TARGETS.items()}
        small = [row[statistic] for row in results["rows"]
                 if row["layer"] == SMALL_1X1[0] and row["threads"] == 1]
        if small:
            targets[f"{SMALL_1X1[0]}_{SMALL_1X1[1]}"] = {
                "target_speedup_vs_fp32": SMALL_1X1[2],
                "speedup_vs_fp32": small[0]["fp32"] / small[0][f"{SMALL_1X1[1]}_in_network"]}
        if "lce_W1A1" in headline[1]:
            targets["W1A1_vs_lce"] = {"target_speedup": TARGET_W1A1_VS_LCE,
                                      "speedup": headline[1]["lce_W1A1"] / headline[1]["W1A1"]}
        if 2 in headline:
            targets["two_threads_over_one"] = {
                key: headline[1][f"{key}_in_network"] / headline[2][f"{key}_in_network"]
                for key in TARGETS}
        results["targets"][statistic] = targets
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for statistic in ("median_ms", "min_ms"):
        print(f"\n{statistic} (ms per invoke)\n")
        print(markdown(results, statistic))
    print(json.dumps(results.get("targets", {}), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
