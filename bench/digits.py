"""The bundled offline task: sklearn's 8x8 handwritten digits, a small CNN, float and QAT training.

Shared by the demo (bench/digits_demo.py), the accuracy benchmark and the end-to-end tests, so
all of them measure the same model on the same split.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import tf_keras as keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0


def load_data():
    """(x_train, y_train, x_test, y_test): 8x8x1 float32 images in [0, 1], stratified 75/25 split."""
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.25, random_state=SEED, stratify=labels)
    return x_train, y_train, x_test, y_test


def build_cnn(width: int = 32) -> keras.Model:
    """Conv-BN-ReLU x3 with a max pool, global average pool and a dense classifier.

    With the default quantize_model settings the first conv and the dense layer stay 8-bit and
    the two middle convolutions become bitlite ops.
    """
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((8, 8, 1))
    x = inputs
    for i, (filters, pool) in enumerate([(width, False), (width, True), (2 * width, False)]):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        if pool:
            x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def compile_and_fit(model: keras.Model, x, y, epochs: int, learning_rate: float) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    return model


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=-1) == labels))
