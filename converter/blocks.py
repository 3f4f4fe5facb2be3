"""Which parts of a QAT model compute as one unit, and the numbers that unit carries.

A block is a QuantizeWrapperV2(Conv1D | Conv2D | DepthwiseConv2D | Dense) with its input
QuantizeLayer,
plus the BatchNormalization and then the ReLU/ReLU6 that follow it when each is the sole reader
of the tensor before it. BatchNorm folds only after a linear layer; a layer's own relu/relu6 is
fused; another own activation (tanh, swish ...) stays outside the block as a float op.

A block computes FORMAT.md's arithmetic, `activation(float32(acc) * multiplier + offset)` with
`acc` the exact integer sum of code products, both in the QAT model's inference (exact.py) and
in the .tflite: as one bitlite op (sub-byte, or W8A8 while the op's int32 accumulator holds
every sum), else as builtin ops (export.py).
`affine` computes multiplier and offset once, in NumPy, for both (folding.py says why). The
rules a layer must meet are layers.py's, and the quantizer state is read through graph.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapper)

from . import activations, custom_ops, folding, graph, layers
from .errors import ConversionError
from .quantizers import ActivationQuantizer, KernelQuantizeConfig


@dataclass
class Block:
    wrapper: QuantizeWrapper
    input_quantizer: QuantizeLayer
    input: object  # Keras tensor the input quantizer reads
    output: object  # Keras tensor the block's last layer writes
    batch_norm: keras.layers.BatchNormalization | None = None
    activation_layer: keras.layers.Layer | None = None
    activation: str = "NONE"  # the op's fused activation (FORMAT.md)
    trailing_activation: object = None  # own activation applied after the op, as float ops
    absorbed_nodes: list = field(default_factory=list)  # BN / activation calls folded in
    # One bitlite op in the .tflite (layers.becomes_bitlite_op); else an 8-bit layer as
    # builtin ops on its integer codes, summing in float32 ranges.
    bitlite_op: bool = True

    @property
    def name(self) -> str:
        return self.wrapper.layer.name

    @property
    def op_code(self) -> str:
        if isinstance(self.wrapper.layer, keras.layers.Dense):
            return custom_ops.FULLY_CONNECTED
        return custom_ops.CONV2D

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 [C_out] (multiplier, offset) from the current variables (FORMAT.md: input
        step x weight step, bias and the BatchNorm's moving statistics folded in)."""
        layer = self.wrapper.layer
        _, out_channels, _ = layers.channels(layer)
        return folding.block_affine(
            graph.quantizer_variables(self.input_quantizer)["step"],
            graph.quantizer_variables(self.wrapper)["step"],
            layer.bias if layer.use_bias else None, out_channels, self.batch_norm)

    def input_step(self) -> tf.Tensor:
        """The input quantizer's step, from the current variable."""
        return tf.convert_to_tensor(graph.quantizer_variables(self.input_quantizer)["step"])

    def reduction_chunks(self) -> list[tuple[int, int]]:
        """[(first, stop)] input-channel ranges whose integer sums the .tflite computes in
        float32 separately, then adds in order.

        A float32 sum of integer products is exact in any order while every partial sum stays
        below 2^24 (FORMAT.md "Exactness"). A bitlite op sums in int32, so it needs one range;
        so does an 8-bit layer whose worst case, `K * max|qw| * max|qx|`, stays below; else
        each range holds as many channels as keep its own worst case below. Depthwise and
        grouped layers stay one range: a depthwise sum has only KH * KW products, and an
        8-bit grouped layer beyond the bound is not split (FORMAT.md says so).
        """
        layer = self.wrapper.layer
        in_channels, _, groups = layers.channels(layer)
        if self.bitlite_op or groups > 1:
            return [(0, in_channels)]
        weight_bits = self.wrapper.quantize_config.weight_bits
        quantizer = self.input_quantizer.quantizer
        largest_product = 2 ** (weight_bits - 1) * max(-quantizer.qmin, quantizer.qmax)
        window = layers.reduction_size(layer) // in_channels
        per_range = max(1, (2 ** 24 - 1) // (window * largest_product))
        return [(first, min(first + per_range, in_channels))
                for first in range(0, in_channels, per_range)]

    def check_trained(self):
        """Raises ConversionError if a step of the block never saw data."""
        trained_step(self.input_quantizer, self.name)
        trained_step(self.wrapper, self.name)

    def kernel_codes(self) -> tf.Tensor:
        """The kernel's codes as the wrapper's quantizer computes them, from the current
        variables; the step is initialised first if the wrapper never ran, as its own call
        would."""
        kernel, quantizer = graph.wrapped_kernel(self.wrapper)
        weight_vars = graph.quantizer_variables(self.wrapper)
        quantizer(kernel, False, weight_vars)
        return quantizer.codes(tf.convert_to_tensor(kernel),
                               tf.convert_to_tensor(weight_vars["step"]))

def trained_step(layer, layer_name: str) -> np.ndarray:
    """Float32 step of the quantizer of an input QuantizeLayer or of a QuantizeWrapper's kernel;
    raises if it never saw data (lazy initialisation)."""
    quantizer_vars = graph.quantizer_variables(layer)
    if not bool(graph.local_value(quantizer_vars["initialized"])):
        raise ConversionError(
            f"layer {layer_name!r}: its quantizer step was never initialised; run the QAT "
            "model on data (fit, or at least one predict) before converting")
    return graph.local_value(quantizer_vars["step"]).astype(np.float32)


def find_blocks(model) -> list[Block]:
    """The blocks of a QAT model (sub-byte and 8-bit), in execution order; raises
    ConversionError for a layer that is quantized in a way the converter cannot express."""
    nodes = graph.model_nodes(model)
    consumers = graph.Consumers(model)
    calls = graph.call_counts(nodes)
    blocks = []
    for node in nodes:
        layer = node.layer
        if isinstance(layer, QuantizeLayer):
            if not isinstance(layer.quantizer, ActivationQuantizer):
                raise ConversionError(
                    f"layer {layer.name!r} quantizes with {type(layer.quantizer).__name__}, "
                    "not a bitlite quantizer: build the QAT model with bitlite's quantize_model")
            continue
        if not isinstance(layer, QuantizeWrapper):
            continue
        input_quantizer, input_quantizer_node = graph.producer(node.keras_inputs[0])
        _check_wrapper(layer, input_quantizer, calls[id(layer)])
        bits = (layer.quantize_config.weight_bits, input_quantizer.quantizer.num_bits)
        sub_byte = layers.is_sub_byte(*bits)
        reason = (sub_byte and layers.sub_byte_problem(layer.layer, *bits)
                  or layers.binary_padding_problem(layer.layer, input_quantizer.quantizer.binary))
        if reason:
            raise ConversionError(
                f"layer {layer.layer.name!r} ({type(layer.layer).__name__}) cannot become a "
                f"bitlite op: {reason}; {layers.way_out(layer.layer.name)}")
        block = Block(wrapper=layer, input_quantizer=input_quantizer,
                      input=input_quantizer_node.keras_inputs[0], output=node.outputs,
                      bitlite_op=layers.becomes_bitlite_op(
                          layer.layer, *bits, input_quantizer.quantizer.signed))
        _fuse_following_layers(block, consumers)
        blocks.append(block)
    if not any(isinstance(node.layer, (QuantizeLayer, QuantizeWrapper)) for node in nodes):
        raise ConversionError(
            f"model {model.name!r} has no quantized layer: it is a float model; make the QAT "
            "model with bitlite's quantize_model, train it (or predict once), then convert")
    return blocks


def _check_wrapper(wrapper, input_producer, calls: int):
    name = wrapper.layer.name
    shared = layers.shared_problem(name, calls)
    if shared:
        raise ConversionError(shared)
    if not isinstance(wrapper.quantize_config, KernelQuantizeConfig):
        raise ConversionError(
            f"layer {name!r} is wrapped with {type(wrapper.quantize_config).__name__}, not "
            "bitlite's KernelQuantizeConfig: build the QAT model with bitlite's quantize_model")
    if type(wrapper.layer) not in layers.QUANTIZABLE_LAYERS:
        raise ConversionError(
            f"layer {name!r} ({type(wrapper.layer).__name__}) inside a quantize wrapper: bitlite "
            f"converts {', '.join(t.__name__ for t in layers.QUANTIZABLE_LAYERS)} only; leave "
            f"it float with quantize_model(..., skip=[{name!r}])")
    if not (isinstance(input_producer, QuantizeLayer)
            and isinstance(input_producer.quantizer, ActivationQuantizer)):
        raise ConversionError(
            f"layer {name!r}: its input does not come from a bitlite input QuantizeLayer; build "
            "the QAT model with bitlite's quantize_model")


def _fuse_following_layers(block: Block, consumers: graph.Consumers):
    own = activations.function_name(block.wrapper.layer.activation)
    if own not in activations.FUSABLE:
        # Applied after the op; nothing after a non-linearity can fold into it.
        block.trailing_activation = block.wrapper.layer.activation
        return
    block.activation = activations.FUSABLE[own]
    if own != "linear":
        return
    reader = consumers.sole_reader(block.output)
    if reader is not None and folding.batch_norm_on_last_axis(reader.layer, block.output):
        block.batch_norm = reader.layer
        block.absorbed_nodes.append(reader)
        block.output = reader.outputs
        reader = consumers.sole_reader(block.output)
    if reader is not None:
        name = activations.layer_activation(reader.layer)
        if name in ("relu", "relu6"):
            block.activation = activations.FUSABLE[name]
            block.activation_layer = reader.layer
            block.absorbed_nodes.append(reader)
            block.output = reader.outputs

