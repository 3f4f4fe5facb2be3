"""The float *export* model: what the stock TFLiteConverter sees.

It mirrors the QAT model with plain float layers and region markers. The converter later
replaces everything between a region's markers by ops it writes itself:
- a block (blocks.py), sub-byte or W8A8: one bitlite op;
- an 8-bit block beyond the op's int32 accumulator (blocks.Block.bitlite_op): two regions
  around the converter's own integer-valued convolution, its input
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

from . import activations, graph, layers, markers, pooling
from .plan import Affine, BlockNumbers, ConversionPlan, FakeQuant, InputCodes


class FakeQuantLayer(keras.layers.Layer):
    """`codes(x) * step` with a constant trained step: an input QuantizeLayer as float ops;
    with `codes_only`, `codes(x)` (an 8-bit block's input)."""

    def __init__(self, codes: InputCodes, name: str, codes_only: bool = False, **kwargs):
        super().__init__(name=name, **kwargs)
        self.codes = codes
        self.codes_only = codes_only

    def call(self, x):
        step = tf.constant(self.codes.step, tf.float32)
        codes = self.codes.quantizer.codes(x, step)
        return codes if self.codes_only else codes * step


class AffineLayer(keras.layers.Layer):
    """`activation(x * multiplier + offset)` with constant float32 [C] vectors (`alpha`:
    LEAKY_RELU's slope)."""

    def __init__(self, multiplier, offset, activation: str = "NONE", alpha=None, **kwargs):
        super().__init__(**kwargs)
        self.multiplier = multiplier
        self.offset = offset
        self.activation = activation
        self.alpha = alpha

    def call(self, x):
        return activations.apply_fused(self.activation, self.alpha,
                                       x * self.multiplier + self.offset)


def build_export_model(plan: ConversionPlan) -> tuple[keras.Model, list]:
    """Returns the export model and its marked regions: `regions[i]` is the layer between the
    markers with index i (a FakeQuantLayer or AffineLayer), or the BlockNumbers of a sub-byte
    block."""
    regions = []
    computes = [_step_function(step, regions) for step in plan.steps]
    rebuild = graph.Rebuild(plan.model)
    copies = graph.LayerCopies()
    for step, compute in zip(plan.steps, computes):
        if compute is None:
            rebuild.copy(step.call.node, copies)
        else:
            rebuild.apply(compute, *step.ends)
    return rebuild.model(name=f"{plan.model.name}_export"), regions


def _step_function(step, regions: list):
    """What a step computes in the export model, as a function of the new tensor of its input;
    None for a copy. Regions are numbered as the functions run, in the plan's order."""
    if isinstance(step, BlockNumbers):
        return lambda x: _export_block(step, x, regions)
    if isinstance(step, FakeQuant):
        fake_quant = FakeQuantLayer(step.codes, name=f"{step.codes.name}_fake_quant")
        return lambda x: _marked(fake_quant, x, regions)
    if isinstance(step, Affine):
        affine = AffineLayer(step.multiplier, step.offset, name=f"{step.call.name}_affine")
        return lambda x: _marked(affine, x, regions)
    return None


def _marked(compute, x, regions: list, region=None):
    """`compute(x)` between the markers of a new region (`region` defaults to `compute`)."""
    index = len(regions)
    regions.append(compute if region is None else region)
    x = markers.Marker(markers.INPUT, index)(x)
    return markers.Marker(markers.OUTPUT, index)(compute(x))


def _export_block(numbers: BlockNumbers, x, regions: list):
    """A block as input codes -> integer sum -> affine (exact.block_output's steps): one
    region for a bitlite op's block; for an 8-bit block beyond the op's int32 accumulator the
    codes and the affine are regions and the integer sum stays the TFLiteConverter's own
    convolution. A Conv1D's regions compute on [N, 1, W, C], between EXPAND_DIMS and SQUEEZE
    (and the PAD of causal padding) outside them. The layer's own activation that no op fuses
    follows, as float ops."""
    block = numbers.block
    if not block.one_row:
        y = _export_block_regions(numbers, x, regions)
    else:
        x = tf.expand_dims(x, 1)
        if block.causal_padding:
            x = keras.layers.ZeroPadding2D(((0, 0), (block.causal_padding, 0)),
                                           name=f"{numbers.name}_causal")(x)
        y = tf.squeeze(_export_block_regions(numbers, x, regions), 1)
    if block.trailing_activation is not None:
        y = keras.layers.Activation(block.trailing_activation,
                                    name=f"{block.name}_activation")(y)
    return y


def _export_block_regions(numbers: BlockNumbers, x, regions: list):
    codes = FakeQuantLayer(numbers.input_codes, name=f"{numbers.name}_input_codes",
                           codes_only=True)
    affine = AffineLayer(numbers.multiplier, numbers.offset, numbers.block.activation,
                         numbers.block.alpha,
                         name=f"{numbers.name}_affine")
    if numbers.block.bitlite_op:
        return _marked(lambda x: affine(_integer_sum(numbers, codes(x))), x, regions,
                       region=numbers)
    return _marked(affine, _integer_sum(numbers, _marked(codes, x, regions)), regions)


def _integer_sum(numbers: BlockNumbers, codes):
    """Plain copies of the block's layer (linear, no bias) whose kernels hold the integer
    weight codes, one per range of input channels (BlockNumbers.chunks), called on the
    integer input codes and added in order: exact.integer_sum's operations."""
    chunks = numbers.chunks
    parts = []
    for first, stop in chunks:
        config = dict(numbers.layer_config, name=f"{numbers.layer_config['name']}_channels{first}")
        layer = numbers.layer_class.from_config(config)
        whole = len(chunks) == 1  # the whole kernel (a transposed one's C_in is its last axis)
        parts.append(layer(codes if whole else codes[..., first:stop]))
        getattr(layer, layers.kernel_attribute(layer)).assign(
            numbers.kernel_codes if whole else numbers.kernel_codes[..., first:stop, :])
    return pooling.sum_in_order(parts)
