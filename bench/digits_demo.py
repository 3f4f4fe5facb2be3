"""`make demo`: train a W2A2 CNN on the bundled digits, convert it, run it with the delegate.

Prints float / QAT / bitlite accuracy, Keras-vs-TFLite agreement, model sizes and batch-1
latency against the float model on XNNPACK.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up chatter out of the table

import warnings

from bitlite.converter import native_logs

# TensorFlow prints its start-up lines once per native library it loads (twice here), whatever
# TF_CPP_MIN_LOG_LEVEL says: keep them out of the demo's output (native_logs.py).
with native_logs.captured():
    import numpy as np
    import tensorflow as tf

    from bench import digits, tflite_run
    from bitlite.converter import convert, quantize_model
    from bitlite.delegate import load_delegate

WEIGHT_BITS, ACTIVATION_BITS = 2, 2


def float_tflite(model) -> bytes:
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def main() -> None:
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
    x_train, y_train, x_test, y_test = digits.load_data()

    print("training the float model ...", flush=True)
    float_model = digits.compile_and_fit(digits.build_cnn(), x_train, y_train, epochs=30,
                                         learning_rate=3e-3)
    float_logits = float_model.predict(x_test, verbose=0)

    print(f"quantization-aware training W{WEIGHT_BITS}A{ACTIVATION_BITS} ...", flush=True)
    qat = quantize_model(float_model, weight_bits=WEIGHT_BITS, activation_bits=ACTIVATION_BITS)
    digits.compile_and_fit(qat, x_train, y_train, epochs=30, learning_rate=1e-3)
    qat_logits = qat.predict(x_test, verbose=0)

    print("converting ...", flush=True)
    bitlite_bytes = convert(qat)
    float_bytes = float_tflite(float_model)
    out_dir = Path(tempfile.mkdtemp(prefix="bitlite_demo_"))
    (out_dir / "digits_w2a2.tflite").write_bytes(bitlite_bytes)

    bitlite_interp = tf.lite.Interpreter(model_content=bitlite_bytes, num_threads=1,
                                         experimental_delegates=[load_delegate()])
    float_interp = tf.lite.Interpreter(model_content=float_bytes, num_threads=1)
    tflite_logits = tflite_run.predict(bitlite_interp, x_test)
    agreement = np.mean(np.argmax(tflite_logits, -1) == np.argmax(qat_logits, -1))
    max_diff = float(np.max(np.abs(tflite_logits - qat_logits)))

    bitlite_ms = tflite_run.median_latency_ms(bitlite_interp, x_test)
    float_ms = tflite_run.median_latency_ms(float_interp, x_test)

    rows = [
        ("float Keras accuracy", f"{digits.accuracy(float_logits, y_test):.4f}"),
        (f"QAT W{WEIGHT_BITS}A{ACTIVATION_BITS} Keras accuracy",
         f"{digits.accuracy(qat_logits, y_test):.4f}"),
        ("bitlite TFLite accuracy", f"{digits.accuracy(tflite_logits, y_test):.4f}"),
        ("Keras QAT vs TFLite arg-max agreement", f"{agreement:.4f}"),
        ("Keras QAT vs TFLite max |logit diff|", f"{max_diff:.3g}"),
        (".tflite size fp32 (stock converter)", f"{len(float_bytes)} bytes"),
        (".tflite size bitlite", f"{len(bitlite_bytes)} bytes"),
        ("latency / image, fp32 on XNNPACK", f"{float_ms:.4f} ms"),
        ("latency / image, bitlite delegate", f"{bitlite_ms:.4f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\nbitlite digits demo ({len(x_test)} test images, 1 thread, model in {out_dir})")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    if agreement < 1.0:
        sys.exit("Keras QAT and bitlite TFLite predictions disagree")


if __name__ == "__main__":
    with native_logs.captured():
        main()
