"""What an activation computes, as far as bitlite cares: can a bitlite op fuse it, and is its
output known to be non-negative (which lets the next quantizer use an unsigned grid)."""

from __future__ import annotations

import tf_keras as keras

# Keras activation name -> the `activation` option of a bitlite op.
FUSABLE = {"linear": "NONE", "relu": "RELU", "relu6": "RELU6"}
_NON_NEGATIVE = frozenset({"relu", "relu6", "sigmoid", "hard_sigmoid", "softmax"})


def function_name(fn) -> str | None:
    """Registered name of an activation function ('relu', 'linear' ...), None if it has none."""
    name = keras.activations.serialize(fn)
    return name if isinstance(name, str) else None


def layer_activation(layer) -> str | None:
    """Name of the activation a standalone activation layer computes (a ReLU layer with default
    slope and threshold is 'relu', or 'relu6' with max_value=6); None otherwise."""
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        if config["negative_slope"] == 0 and config["threshold"] == 0:
            if config["max_value"] is None:
                return "relu"
            if float(config["max_value"]) == 6.0:
                return "relu6"
        return None
    if type(layer) is keras.layers.Activation:
        return function_name(layer.activation)
    return None


def output_is_non_negative(layer) -> bool:
    """True when the layer's output is >= 0 whatever its input (ReLU-like layers, or a layer
    whose own activation is)."""
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        return config["negative_slope"] == 0 and config["threshold"] >= 0
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return callable(activation) and function_name(activation) in _NON_NEGATIVE
