"""Stage 2 of `convert`: what the converter writes for each layer call, planned on what
graph.read_model read.

`plan_conversion` matches the blocks (blocks.py) and records, in execution order, what each
layer call becomes in the export model (export.py): a plain copy, an input quantizer's fake
quantization, a block, or a BatchNorm no block folds. Every number the .tflite carries is
computed here, once, from the values read: the weight codes and their packed rows, the custom
options, the folded multipliers and offsets and the reduction ranges. Nothing here reads the
QAT model's variables; export and the region replacement only read these records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tf_keras as keras

from . import custom_ops, folding
from .blocks import Block, find_blocks
from .errors import ConversionError
from .facts import Call, CallState, ModelFacts, QuantizerState


@dataclass(frozen=True)
class _OneCall:
    """A step computing what one layer call computes, from its input to its output."""
    call: Call

    @property
    def ends(self) -> tuple:
        """The Keras tensors it reads and writes."""
        return self.call.input, self.call.output


@dataclass(frozen=True)
class Copy(_OneCall):
    """A layer call the export model repeats as it is."""


@dataclass(frozen=True)
class InputCodes:
    """An input quantizer with its trained step: `codes(x) = quantizer.codes(x, step)`."""
    name: str
    quantizer: object  # quantizers.ActivationQuantizer
    step: float


@dataclass(frozen=True)
class FakeQuant(_OneCall):
    """An input QuantizeLayer whose output something besides blocks reads: `codes(x) * step`."""
    codes: InputCodes


@dataclass(frozen=True)
class Affine(_OneCall):
    """A BatchNorm no block folds: `x * multiplier + offset` (float32 [C])."""
    multiplier: np.ndarray
    offset: np.ndarray


@dataclass(frozen=True)
class BlockNumbers:
    """A block (blocks.Block's structure) with every number the .tflite writes for it."""
    block: Block
    input_codes: InputCodes
    multiplier: np.ndarray  # float32 [C_out]
    offset: np.ndarray  # float32 [C_out]
    kernel_codes: np.ndarray  # the kernel's integer codes (a Conv1D's as its one-row Conv2D's)
    chunks: list  # Block.reduction_chunks
    layer_class: type  # the class and config of the integer-sum copies (linear, no bias; a
    layer_config: dict  # Conv1D's as a Conv2D of one row)
    packed_weights: np.ndarray | None  # a bitlite op's weight rows; None for builtin ops
    options: bytes | None  # a bitlite op's custom options; None for builtin ops

    @property
    def name(self) -> str:
        return self.block.name

    @property
    def ends(self) -> tuple:
        """The Keras tensors the block reads and writes."""
        return self.block.input, self.block.output


@dataclass(frozen=True)
class ConversionPlan:
    model: object  # the QAT model, whose graph the export model repeats
    steps: list  # Copy | FakeQuant | Affine | BlockNumbers, in execution order

    @property
    def blocks(self) -> list:
        """The BlockNumbers among the steps."""
        return [step for step in self.steps if isinstance(step, BlockNumbers)]


def plan_conversion(facts: ModelFacts) -> ConversionPlan:
    """The plan of a QAT model read by graph.read_model; raises ConversionError for what the
    converter cannot express (a layer quantized in another way, a step that never saw data, a
    sign-quantized tensor that a float op reads)."""
    blocks = find_blocks(facts.calls, facts.name)
    block_of = {block.wrapper.index: block for block in blocks}
    absorbed = {index for block in blocks for index in block.absorbed}
    steps = []
    for call in facts.calls:
        state = facts.states[call.index]
        if call.index in absorbed:
            continue  # computed inside its block
        if call.quantizer is not None and not call.wrapped:  # an input QuantizeLayer
            if call.is_output or any(reader not in block_of for reader in call.readers):
                steps.append(FakeQuant(call, _fake_quant_codes(call, state.step)))
        elif call.index in block_of:
            steps.append(_block_numbers(block_of[call.index], facts.states))
        elif call.batch_norm_on_last_axis:
            steps.append(Affine(call, *folding.batch_norm_affine(state.statistics)))
        else:
            steps.append(Copy(call))
    return ConversionPlan(facts.model, steps)


def _trained_step(step: QuantizerState, layer_name: str) -> np.ndarray:
    """The float32 step; raises if it never saw data (lazy initialisation)."""
    if not step.initialized:
        raise ConversionError(
            f"layer {layer_name!r}: its quantizer step was never initialised; run the QAT "
            "model on data (fit, or at least one predict) before converting")
    return step.step


def _input_codes(quantize_layer: Call, step: QuantizerState, block_name: str) -> InputCodes:
    """The codes of an input quantizer; `block_name` names the layer in the error raised when
    its step never saw data."""
    return InputCodes(quantize_layer.name, quantize_layer.quantizer,
                      float(_trained_step(step, block_name)))


def _fake_quant_codes(quantize_layer: Call, step: QuantizerState) -> InputCodes:
    """The codes of an input QuantizeLayer whose output something besides blocks reads (a
    model output counts as such a reader)."""
    if quantize_layer.quantizer.binary:
        raise ConversionError(
            f"layer {quantize_layer.name!r}: its signed 1-bit (sign) output is read by "
            "something other than a quantized layer, and a sign quantizer has no exact float "
            "form in TFLite; build the model with bitlite's quantize_model, which puts input "
            "quantizers only in front of the layers it quantizes, or use 2 or more activation "
            "bits")
    return _input_codes(quantize_layer, step, quantize_layer.name)


def _block_numbers(block: Block, states: dict[int, CallState]) -> BlockNumbers:
    weights = states[block.wrapper.index]
    input_codes = _input_codes(block.input_quantizer, states[block.input_quantizer.index].step,
                               block.name)
    weight_step = _trained_step(weights.step, block.name)
    layer_class, config = _integer_sum_layer(block)
    fields = _option_fields(block, np.float32(input_codes.step)) if block.bitlite_op else None
    kernel_codes = weights.kernel_quantizer.codes(
        tf.convert_to_tensor(weights.kernel), tf.convert_to_tensor(weight_step)).numpy()
    if block.one_row:
        kernel_codes = kernel_codes[np.newaxis]
    chunks = block.reduction_chunks()
    multiplier, offset = block.affine(states)
    packed_weights = options = None
    if block.bitlite_op:
        # Conv/Dense [..., C_in / G, C_out] and depthwise [KH, KW, C_in, M] (output channel
        # ci * M + m) both flatten to [(kh, kw, ci in group), C_out]: FORMAT.md's rows.
        # A transposed kernel [KH, KW, C_out, C_in] first becomes [KH, KW, C_in, C_out].
        rows = (kernel_codes.transpose(0, 1, 3, 2) if block.op_code == custom_ops.CONV2D_TRANSPOSE
                else kernel_codes).astype(np.int64).reshape(-1, block.channels[1]).T
        packed_weights = custom_ops.pack_weights(rows, block.weight_bits)
        write = {custom_ops.FULLY_CONNECTED: custom_ops.fully_connected_options,
                 custom_ops.CONV2D_TRANSPOSE: custom_ops.conv2d_transpose_options,
                 custom_ops.CONV2D: custom_ops.conv2d_options}[block.op_code]
        options = write(multiplier=multiplier.astype(np.float32),
                        offset=offset.astype(np.float32), **fields)
    return BlockNumbers(
        block=block, input_codes=input_codes, multiplier=multiplier, offset=offset,
        kernel_codes=kernel_codes, chunks=chunks, layer_class=layer_class,
        layer_config=config, packed_weights=packed_weights, options=options)


def _integer_sum_layer(block: Block) -> tuple[type, dict]:
    """The class and config of the block's integer-sum copies: linear, no bias; a Conv1D's
    as a Conv2D of one row."""
    layer = block.layer
    layer_class, config = type(layer), layer.get_config()
    if block.one_row:
        layer_class = keras.layers.Conv2D
        config = dict(name=layer.name, filters=layer.filters, groups=layer.groups,
                      **block.geometry)
    config.update(activation="linear", use_bias=False)
    return layer_class, config


def _option_fields(block: Block, input_scale: np.float32) -> dict:
    """The custom options' fields but the folded multiplier and offset: grids, the input step
    and the geometry."""
    input_quantizer = block.input_quantizer.quantizer
    in_channels, out_channels, groups = block.channels
    fields = dict(
        weight_bits=block.weight_bits,
        activation_bits=input_quantizer.num_bits, activation_signed=input_quantizer.signed,
        input_scale=input_scale, in_channels=in_channels, out_channels=out_channels,
        activation=block.activation, alpha=block.alpha)
    if block.op_code == custom_ops.FULLY_CONNECTED:
        return fields
    if block.op_code == custom_ops.CONV2D_TRANSPOSE:
        return dict(fields, **block.geometry)
    geometry = block.geometry
    (kernel_h, kernel_w), (stride_h, stride_w), (dilation_h, dilation_w) = (
        geometry["kernel_size"], geometry["strides"], geometry["dilation_rate"])
    return dict(fields, kernel_h=kernel_h, kernel_w=kernel_w, stride_h=stride_h,
                stride_w=stride_w, dilation_h=dilation_h, dilation_w=dilation_w,
                padding=geometry["padding"].upper(), groups=groups)
