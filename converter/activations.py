"""What an activation computes, as far as bitlite cares: can a bitlite op fuse it, and is its
output known to be non-negative (which lets the next quantizer use an unsigned grid)."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from . import graph

# Keras activation name -> the `activation` option of a bitlite op.
FUSABLE = {"linear": "NONE", "relu": "RELU", "relu6": "RELU6"}
# What a standalone activation layer computes (facts.Call.computes) -> the option.
FUSABLE_LAYERS = {"relu": "RELU", "relu6": "RELU6", "leaky_relu": "LEAKY_RELU"}
_NON_NEGATIVE = frozenset({"relu", "relu6", "sigmoid", "hard_sigmoid", "softmax"})


def apply_fused(activation: str, alpha: float | None, y):
    """A bitlite op's fused activation (FORMAT.md "Arithmetic") on float32 `y`, by the op
    TensorFlow runs for the Keras layer it fused: LEAKY_RELU is `tf.nn.leaky_relu`, the select
    `y > 0 ? y : y * alpha` with alpha as a float32."""
    if activation == "LEAKY_RELU":
        return tf.nn.leaky_relu(y, alpha=float(alpha))
    return {"NONE": tf.identity, "RELU": tf.nn.relu, "RELU6": tf.nn.relu6}[activation](y)


def output_is_non_negative(layer) -> bool:
    """True when the layer's output is >= 0 whatever its input (ReLU-like layers, or a layer
    whose own activation is)."""
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        return config["negative_slope"] == 0 and config["threshold"] >= 0
    if isinstance(layer, keras.layers.Softmax):
        return True
    return graph.activation_function_name(getattr(layer, "activation", None)) in _NON_NEGATIVE
