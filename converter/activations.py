"""What an activation computes, as far as bitlite cares: can a bitlite op fuse it, and is its
output known to be non-negative (which lets the next quantizer use an unsigned grid)."""

from __future__ import annotations

import tf_keras as keras

from . import graph

# Keras activation name -> the `activation` option of a bitlite op.
FUSABLE = {"linear": "NONE", "relu": "RELU", "relu6": "RELU6"}
_NON_NEGATIVE = frozenset({"relu", "relu6", "sigmoid", "hard_sigmoid", "softmax"})


def output_is_non_negative(layer) -> bool:
    """True when the layer's output is >= 0 whatever its input (ReLU-like layers, or a layer
    whose own activation is)."""
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        return config["negative_slope"] == 0 and config["threshold"] >= 0
    if isinstance(layer, keras.layers.Softmax):
        return True
    return graph.activation_function_name(getattr(layer, "activation", None)) in _NON_NEGATIVE
