"""The float *export* model: what the stock TFLiteConverter sees.

It mirrors the QAT model with plain float layers:
- an input QuantizeLayer becomes its fake quantization written with TF ops (x / s, round,
  clip, * s) and the trained step as a constant;
- an 8-bit wrapped layer becomes the plain layer holding its dequantized kernel (codes * step);
- each sub-byte block becomes `output_marker(float block(input_marker(x)))`; the converter later
  replaces everything between the markers by one bitlite op. The float block in between only
  needs the right output shape; it emulates the block anyway, which keeps the export model
  meaningful when debugging.
The fake quantizations are put between markers too: the TFLiteConverter rewrites a division by
a constant into a multiplication by its reciprocal, which can move a value across a rounding
boundary, so the converter re-emits them as an exact DIV, ROUND, MINIMUM, MAXIMUM, MUL.
So the .tflite reproduces Keras up to the float rounding of the float layers.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapper)

from . import graph, markers
from .blocks import Block, dequantized_kernel, trained_step
from .errors import ConversionError
from .quantizers import kernel_attribute


class FakeQuant(keras.layers.Layer):
    """`codes(x) * step` with a constant trained step: an input QuantizeLayer as float ops."""

    def __init__(self, quantize_layer: QuantizeLayer, name: str | None = None, **kwargs):
        super().__init__(name=name or f"{quantize_layer.name}_fake_quant", **kwargs)
        self.quantizer = quantize_layer.quantizer
        self.step = float(trained_step(quantize_layer.quantizer_vars, quantize_layer.name))

    def call(self, x):
        step = tf.constant(self.step, tf.float32)
        return self.quantizer.codes(x, step) * step


def build_export_model(qat_model, blocks: list[Block]) -> tuple[keras.Model, list]:
    """Returns the export model and its marked regions: `regions[i]` is the Block or FakeQuant
    between the markers with index i."""
    block_of = {id(block.wrapper): block for block in blocks}
    absorbed = {id(node) for block in blocks for node in block.absorbed_nodes}
    consumers = graph.Consumers(qat_model)
    rebuild = graph.Rebuild(qat_model)
    copies = graph.LayerCopies()
    regions = []
    for node in graph.model_nodes(qat_model):
        if id(node) in absorbed:
            continue  # computed inside its block
        layer = node.layer
        if isinstance(layer, QuantizeLayer):
            if _read_outside_blocks(node, consumers, block_of):
                if layer.quantizer.binary:
                    raise ConversionError(
                        f"layer {layer.name!r}: its signed 1-bit (sign) output is read by "
                        "something other than a quantized layer, and a sign quantizer has no "
                        "exact float form in TFLite; build the model with bitlite's "
                        "quantize_model, which puts input quantizers only in front of the "
                        "layers it quantizes, or use 2 or more activation bits")
                x = rebuild.new(node.keras_inputs[0])
                rebuild.set_outputs(node, _marked(FakeQuant(layer), x, regions))
        elif id(layer) in block_of:
            block = block_of[id(layer)]
            y = _marked(lambda x: _export_block(block, x, copies), rebuild.new(block.input),
                        regions, region=block)
            if block.trailing_activation is not None:
                y = keras.layers.Activation(block.trailing_activation,
                                            name=f"{block.name}_activation")(y)
            rebuild.set(block.output, y)
        elif isinstance(layer, QuantizeWrapper):
            rebuild.set_outputs(node, _call_dequantized(layer, *rebuild.arguments(node)))
        else:
            rebuild.set_outputs(node, copies.call(layer, *rebuild.arguments(node)))
    return rebuild.model(name=f"{qat_model.name}_export"), regions


def _read_outside_blocks(node, consumers: graph.Consumers, block_of: dict) -> bool:
    """Whether an input quantizer's output is needed by more than the blocks reading its input
    (a model output counts as a reader outside blocks)."""
    output = node.outputs
    return consumers.is_output(output) or any(
        id(reader.layer) not in block_of for reader in consumers.readers(output))


def _marked(compute, x, regions: list, region=None):
    """`compute(x)` between the markers of a new region (`region` defaults to `compute`)."""
    index = len(regions)
    regions.append(compute if region is None else region)
    x = markers.Marker(markers.INPUT, index)(x)
    return markers.Marker(markers.OUTPUT, index)(compute(x))


def _export_block(block: Block, x, copies: graph.LayerCopies):
    """The float emulation of a block (replaced by a bitlite op in the .tflite)."""
    # Named after the block: the same quantizer may also get a FakeQuant of its own outside.
    y = FakeQuant(block.input_quantizer, name=f"{block.name}_input_fake_quant")(x)
    y = _call_dequantized(block.wrapper, [y], {}, linear=block.trailing_activation is not None)
    for layer in (block.batch_norm, block.activation_layer):
        if layer is not None:
            y = copies.call(layer, [y], {})
    return y


def _call_dequantized(wrapper: QuantizeWrapper, args, kwargs, linear: bool = False):
    """Calls a plain copy of the wrapped layer holding its dequantized kernel (codes * step),
    the kernel value Keras computes with; `linear` drops the layer's own activation."""
    config = wrapper.layer.get_config()
    if linear:
        config["activation"] = "linear"
    layer = type(wrapper.layer).from_config(config)
    outputs = layer(*args, **kwargs)
    getattr(layer, kernel_attribute(layer)).assign(dequantized_kernel(wrapper))
    if layer.use_bias:
        layer.bias.assign(wrapper.layer.bias)
    return outputs
