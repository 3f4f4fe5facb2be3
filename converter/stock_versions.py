"""The fp32 and int8 versions of a QAT model by TensorFlow's stock converter, which `bitlite
bench` runs beside the bitlite .tflite: the same layers and float weights, quantizers taken out.
"""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow as tf
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapper)

from . import graph
from .layers import kernel_attribute

# Calibration inputs of the int8 version: random, as bench measures speed, not accuracy.
_CALIBRATION_SAMPLES = 8


def float_model(qat_model):
    """The QAT model without its quantizers: each input QuantizeLayer dropped, each wrapped
    layer unwrapped with its float (latent) weights."""
    rebuild = graph.Rebuild(qat_model)
    copies = graph.LayerCopies()
    for node in graph.model_nodes(qat_model):
        layer = node.layer
        args, kwargs = rebuild.arguments(node)
        if isinstance(layer, QuantizeLayer):
            rebuild.set_outputs(node, args[0])
            continue
        if isinstance(layer, QuantizeWrapper):
            rebuild.set_outputs(node, _unwrapped_call(layer, args, kwargs))
        else:
            rebuild.set_outputs(node, copies.call(layer, args, kwargs))
    return rebuild.model(name=f"{qat_model.name}_float")


def _unwrapped_call(wrapper, args, kwargs):
    """Calls a plain copy of a wrapped layer holding its float weights (tfmot keeps the float
    kernel in the wrapper, and puts the quantized one on the inner layer)."""
    copy = graph.clone_layer(wrapper.layer)
    outputs = copy(*args, **kwargs)
    float_kernel, _ = graph.wrapped_kernel(wrapper)
    getattr(copy, kernel_attribute(copy)).assign(float_kernel)
    if copy.use_bias:
        copy.bias.assign(wrapper.layer.bias)
    return outputs


def fp32_and_int8(qat_model) -> dict[str, bytes]:
    model = float_model(qat_model)
    fp32 = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    rng = np.random.default_rng(0)
    shapes = [[1, *tensor.shape[1:]] for tensor in model.inputs]

    def calibration():
        for _ in range(_CALIBRATION_SAMPLES):
            yield [rng.normal(size=shape).astype(np.float32) for shape in shapes]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration
    with warnings.catch_warnings():
        # Said of float inputs, which stay float (quantized inside): nothing is missing.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        int8 = converter.convert()
    return {"fp32": fp32, "int8": int8}
