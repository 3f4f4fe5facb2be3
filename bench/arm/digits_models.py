"""The whole digits CNN of bench/digits.py as .tflite models for bench_insns.py: fp32 and int8
(stock converter) and bitlite per bit pair (QAT, then bitlite's converter).

Training is brief (instruction counts do not depend on accuracy, only on the graph). With the
default quantize_model settings the first conv and the dense layer stay 8-bit (float builtin
ops on XNNPACK) and the two middle convolutions become bitlite ops.
"""

from __future__ import annotations

import numpy as np

from bench import digits
from bench.arm import whole_models

NAME = "digits_cnn_8x8"
EPOCHS = 2


def models(bit_pairs) -> dict:
    """variant -> .tflite bytes; variants fp32, int8 and W?A?."""
    from bitlite.converter import convert, quantize_model

    x_train, y_train, _, _ = digits.load_data()
    float_model = digits.compile_and_fit(digits.build_cnn(), x_train, y_train, epochs=EPOCHS,
                                         learning_rate=3e-3)
    built = whole_models.stock_models(float_model, x_train[:64])
    for w, a in bit_pairs:
        qat = quantize_model(float_model, weight_bits=w, activation_bits=a)
        digits.compile_and_fit(qat, x_train, y_train, epochs=EPOCHS, learning_rate=1e-3)
        built[f"W{w}A{a}"] = convert(qat)
    return built


def layer() -> tuple:
    """A LAYERS-style entry describing the model's input, for the results JSON."""
    return (NAME, "model", tuple(np.shape(digits.load_data()[0][0])), 10, 3, 1)
