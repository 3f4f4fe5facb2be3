"""The float *export* model: what the stock TFLiteConverter sees.

It mirrors the QAT model with plain float layers and region markers. The converter later
replaces everything between a region's markers by ops it writes itself:
- a sub-byte block (blocks.py): one bitlite op;
- an 8-bit block: two regions around the converter's own integer-valued convolution, its input
  codes (`round(x / s)` clipped, written as DIV, ROUND, MINIMUM, MAXIMUM) and its affine output
  stage (MUL by the multiplier, ADD of the offset with the fused ReLU);
- a BatchNormalization no block folds: its affine form (MUL, ADD);
- an input QuantizeLayer whose output something besides blocks reads: its fake quantization
  (DIV, ROUND, MINIMUM, MAXIMUM, MUL).
Inside a region the export model emulates the region (a block as codes, integer sum, affine),
which keeps it meaningful when debugging; the markers keep the TFLiteConverter from fusing
across the region's edges or rewriting what is inside (it turns a division by a constant into
a multiplication by its reciprocal, and folds multiplications into convolution weights). The
result computes what the QAT model's inference computes (exact.py), op for op.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)

from . import folding, graph, markers, pooling
from .blocks import Block, trained_step
from .errors import ConversionError
from .exact import ACTIVATIONS
from .layers import kernel_attribute


class FakeQuant(keras.layers.Layer):
    """`codes(x) * step` with a constant trained step: an input QuantizeLayer as float ops;
    with `codes_only`, `codes(x)` (an 8-bit block's input)."""

    def __init__(self, quantize_layer: QuantizeLayer, name: str | None = None,
                 codes_only: bool = False, **kwargs):
        super().__init__(name=name or f"{quantize_layer.name}_fake_quant", **kwargs)
        self.quantizer = quantize_layer.quantizer
        self.step = float(trained_step(quantize_layer, quantize_layer.name))
        self.codes_only = codes_only

    def call(self, x):
        step = tf.constant(self.step, tf.float32)
        codes = self.quantizer.codes(x, step)
        return codes if self.codes_only else codes * step


class Affine(keras.layers.Layer):
    """`activation(x * multiplier + offset)` with constant float32 [C] vectors."""

    def __init__(self, multiplier, offset, activation: str = "NONE", **kwargs):
        super().__init__(**kwargs)
        self.multiplier = multiplier
        self.offset = offset
        self.activation = activation

    def call(self, x):
        return ACTIVATIONS[self.activation](x * self.multiplier + self.offset)


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
            block.check_trained()
            y = _export_block(block, rebuild.new(block.input), regions)
            if block.trailing_activation is not None:
                y = keras.layers.Activation(block.trailing_activation,
                                            name=f"{block.name}_activation")(y)
            rebuild.set(block.output, y)
        elif folding.batch_norm_on_last_axis(layer, node.keras_inputs[0]):
            # A BatchNorm no block folds (those are absorbed): its affine form alone.
            affine = Affine(*folding.batch_norm_affine(layer), name=f"{layer.name}_affine")
            rebuild.set_outputs(node, _marked(affine, rebuild.new(node.keras_inputs[0]), regions))
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


def _export_block(block: Block, x, regions: list):
    """A block as input codes -> integer sum -> affine (exact.block_output's steps): one
    region for a sub-byte block; for an 8-bit block the codes and the affine are regions and
    the integer sum stays the TFLiteConverter's own convolution."""
    codes = FakeQuant(block.input_quantizer, name=f"{block.name}_input_codes", codes_only=True)
    affine = Affine(*block.affine(), block.activation, name=f"{block.name}_affine")
    if block.sub_byte:
        return _marked(lambda x: affine(_integer_sum(block, codes(x))), x, regions,
                       region=block)
    return _marked(affine, _integer_sum(block, _marked(codes, x, regions)), regions)


def _integer_sum(block: Block, codes):
    """Plain copies of the block's layer (linear, no bias) whose kernels hold the integer
    weight codes, one per range of input channels (Block.reduction_chunks), called on the
    integer input codes and added in order: exact.integer_sum's operations."""
    config = block.wrapper.layer.get_config()
    config.update(activation="linear", use_bias=False)
    chunks = block.reduction_chunks()
    kernel_codes = block.kernel_codes()
    parts = []
    for first, stop in chunks:
        layer = type(block.wrapper.layer).from_config(
            dict(config, name=f"{config['name']}_channels{first}"))
        parts.append(layer(codes if len(chunks) == 1 else codes[..., first:stop]))
        getattr(layer, kernel_attribute(layer)).assign(kernel_codes[..., first:stop, :])
    return pooling.sum_in_order(parts)
