"""What the converter writes for each layer call of a QAT model, read from the model once.

`plan_conversion` walks the QAT model once, in execution order, and records what each layer call
becomes in the export model (export.py): a plain copy, an input quantizer's fake quantization,
a block (blocks.py), or a BatchNorm no block folds. Every number the .tflite carries is computed
here, once: the trained steps, the weight codes and their packed rows, the custom options, the
folded multipliers and offsets and the reduction ranges. Export and the region replacement only
read these records; nothing after this stage reads the QAT model's variables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)

from . import custom_ops, folding, graph, layers
from .blocks import Block, find_blocks, trained_step
from .errors import ConversionError


@dataclass(frozen=True)
class Copy:
    """A layer call the export model repeats as it is."""
    node: object


@dataclass(frozen=True)
class InputCodes:
    """An input quantizer with its trained step: `codes(x) = quantizer.codes(x, step)`."""
    name: str
    quantizer: object  # quantizers.ActivationQuantizer
    step: float


@dataclass(frozen=True)
class FakeQuant:
    """An input QuantizeLayer whose output something besides blocks reads: `codes(x) * step`."""
    node: object
    codes: InputCodes


@dataclass(frozen=True)
class Affine:
    """A BatchNorm no block folds: `x * multiplier + offset` (float32 [C])."""
    node: object
    name: str
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
    def bitlite_op(self) -> bool:
        return self.block.bitlite_op

    @property
    def op_code(self) -> str:
        return self.block.op_code

    @property
    def one_row(self) -> bool:
        """A Conv1D: its [N, W, C] tensors are computed as [N, 1, W, C]."""
        return isinstance(self.block.wrapper.layer, keras.layers.Conv1D)


@dataclass(frozen=True)
class ConversionPlan:
    model: object  # the QAT model, whose graph the export model repeats
    steps: list  # Copy | FakeQuant | Affine | BlockNumbers, in execution order

    @property
    def blocks(self) -> list:
        """The BlockNumbers among the steps."""
        return [step for step in self.steps if isinstance(step, BlockNumbers)]


def plan_conversion(qat_model) -> ConversionPlan:
    """The plan of `qat_model`; raises ConversionError for what the converter cannot express
    (a layer quantized in another way, a step that never saw data, a sign-quantized tensor that
    a float op reads)."""
    blocks = find_blocks(qat_model)
    block_of = {id(block.wrapper): block for block in blocks}
    absorbed = {id(node) for block in blocks for node in block.absorbed_nodes}
    consumers = graph.Consumers(qat_model)
    steps = []
    for node in graph.model_nodes(qat_model):
        layer = node.layer
        if id(node) in absorbed:
            continue  # computed inside its block
        if isinstance(layer, QuantizeLayer):
            if _read_outside_blocks(node, consumers, block_of):
                steps.append(FakeQuant(node, _fake_quant_codes(layer)))
        elif id(layer) in block_of:
            steps.append(_block_numbers(block_of[id(layer)]))
        elif folding.batch_norm_on_last_axis(layer, node.keras_inputs[0]):
            steps.append(Affine(node, layer.name, *folding.batch_norm_affine(layer)))
        else:
            steps.append(Copy(node))
    return ConversionPlan(qat_model, steps)


def _read_outside_blocks(node, consumers: graph.Consumers, block_of: dict) -> bool:
    """Whether an input quantizer's output is needed by more than the blocks reading its input
    (a model output counts as a reader outside blocks)."""
    output = node.outputs
    return consumers.is_output(output) or any(
        id(reader.layer) not in block_of for reader in consumers.readers(output))


def _input_codes(quantize_layer: QuantizeLayer, block_name: str) -> InputCodes:
    """The codes of an input quantizer; `block_name` names the layer in the error raised when
    its step never saw data."""
    return InputCodes(quantize_layer.name, quantize_layer.quantizer,
                      float(trained_step(quantize_layer, block_name)))


def _fake_quant_codes(quantize_layer: QuantizeLayer) -> InputCodes:
    if quantize_layer.quantizer.binary:
        raise ConversionError(
            f"layer {quantize_layer.name!r}: its signed 1-bit (sign) output is read by "
            "something other than a quantized layer, and a sign quantizer has no exact float "
            "form in TFLite; build the model with bitlite's quantize_model, which puts input "
            "quantizers only in front of the layers it quantizes, or use 2 or more activation "
            "bits")
    return _input_codes(quantize_layer, quantize_layer.name)


def _block_numbers(block: Block) -> BlockNumbers:
    block.check_trained()
    layer = block.wrapper.layer
    kernel_codes = block.kernel_codes().numpy()
    multiplier, offset = block.affine()
    layer_class, config = type(layer), layer.get_config()
    if isinstance(layer, keras.layers.Conv1D):
        layer_class = keras.layers.Conv2D
        config = dict(name=layer.name, filters=layer.filters, groups=layer.groups,
                      **layers.conv2d_geometry(layer))
        kernel_codes = kernel_codes[np.newaxis]
    config.update(activation="linear", use_bias=False)
    input_codes = _input_codes(block.input_quantizer, block.name)
    return BlockNumbers(
        block=block, input_codes=input_codes, multiplier=multiplier, offset=offset,
        kernel_codes=kernel_codes, chunks=block.reduction_chunks(),
        layer_class=layer_class, layer_config=config,
        packed_weights=_packed_weights(block, kernel_codes) if block.bitlite_op else None,
        options=(_options(block, np.float32(input_codes.step), multiplier, offset)
                 if block.bitlite_op else None))


def _packed_weights(block: Block, kernel_codes: np.ndarray) -> np.ndarray:
    """uint8 [C_out, row_bytes] rows of the kernel's codes in FORMAT.md order."""
    _, out_channels, _ = layers.channels(block.wrapper.layer)
    # Conv/Dense [..., C_in / G, C_out] and depthwise [KH, KW, C_in, M] (output channel
    # ci * M + m) both flatten to [(kh, kw, ci in group), C_out].
    rows = kernel_codes.astype(np.int64).reshape(-1, out_channels).T
    return custom_ops.pack_weights(rows, block.wrapper.quantize_config.weight_bits)


def _options(block: Block, input_scale: np.float32, multiplier: np.ndarray,
             offset: np.ndarray) -> bytes:
    """FlexBuffer custom options: grids, the input step, the folded multiplier and offset and
    the geometry."""
    layer = block.wrapper.layer
    input_quantizer = block.input_quantizer.quantizer
    in_channels, out_channels, groups = layers.channels(layer)
    common = dict(
        weight_bits=block.wrapper.quantize_config.weight_bits,
        activation_bits=input_quantizer.num_bits, activation_signed=input_quantizer.signed,
        input_scale=input_scale, in_channels=in_channels, out_channels=out_channels,
        activation=block.activation, multiplier=multiplier.astype(np.float32),
        offset=offset.astype(np.float32))
    if block.op_code == custom_ops.FULLY_CONNECTED:
        return custom_ops.fully_connected_options(**common)
    geometry = layers.conv2d_geometry(layer)
    (kernel_h, kernel_w), (stride_h, stride_w), (dilation_h, dilation_w) = (
        geometry["kernel_size"], geometry["strides"], geometry["dilation_rate"])
    return custom_ops.conv2d_options(
        kernel_h=kernel_h, kernel_w=kernel_w, stride_h=stride_h, stride_w=stride_w,
        dilation_h=dilation_h, dilation_w=dilation_w, padding=geometry["padding"].upper(),
        groups=groups, **common)
