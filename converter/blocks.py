"""Which parts of a QAT model compute as one unit, and the numbers that unit carries.

A block is a QuantizeWrapperV2(Conv2D | DepthwiseConv2D | Dense) with its input QuantizeLayer,
plus the BatchNormalization and then the ReLU/ReLU6 that follow it when each is the sole reader
of the tensor before it. BatchNorm folds only after a linear layer; a layer's own relu/relu6 is
fused; another own activation (tanh, swish ...) stays outside the block as a float op.

A block computes FORMAT.md's arithmetic, `activation(float32(acc) * multiplier + offset)` with
`acc` the exact integer sum of code products, both in the QAT model's inference (exact.py) and
in the .tflite: a sub-byte block as one bitlite op, an 8-bit block as builtin ops (export.py).
`affine` computes multiplier and offset once, in NumPy, for both (fold_batch_norm says why).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapper)

from . import activations, custom_ops, graph
from .errors import ConversionError
from .quantizers import QUANTIZABLE_LAYERS, ActivationQuantizer, KernelQuantizeConfig


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
    sub_byte: bool = True  # a bitlite op; else 8-bit, builtin ops in the .tflite

    @property
    def name(self) -> str:
        return self.wrapper.layer.name

    @property
    def op_code(self) -> str:
        if isinstance(self.wrapper.layer, keras.layers.Dense):
            return custom_ops.FULLY_CONNECTED
        return custom_ops.CONV2D

    def packed_weights(self) -> np.ndarray:
        """uint8 [C_out, row_bytes] rows of the weight codes Keras uses (FORMAT.md order)."""
        codes = self.kernel_codes().numpy().astype(np.int64)
        _, out_channels, _ = channels(self.wrapper.layer)
        # Conv/Dense [..., C_in / G, C_out] and depthwise [KH, KW, C_in, M] (output channel
        # ci * M + m) both flatten to [(kh, kw, ci in group), C_out].
        rows = codes.reshape(-1, out_channels).T
        return custom_ops.pack_weights(rows, self.wrapper.quantize_config.weight_bits)

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 [C_out] (multiplier, offset) from the current variables (FORMAT.md: input
        step x weight step, bias and the BatchNorm's moving statistics folded in)."""
        layer = self.wrapper.layer
        _, _, weight_vars = self.wrapper._weight_vars[0]
        _, out_channels, _ = channels(layer)
        scale = (_float32(self.input_quantizer.quantizer_vars["step"])
                 * _float32(weight_vars["step"]).reshape(-1))
        scale = np.broadcast_to(scale, [out_channels])
        bias = _float32(layer.bias) if layer.use_bias else np.zeros([out_channels], np.float32)
        if self.batch_norm is None:
            return scale.copy(), bias
        return batch_norm_fold(self.batch_norm, scale, bias)

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
        in_channels, _, groups = channels(layer)
        if self.sub_byte or groups > 1:
            return [(0, in_channels)]
        weight_bits = self.wrapper.quantize_config.weight_bits
        quantizer = self.input_quantizer.quantizer
        largest_product = 2 ** (weight_bits - 1) * max(-quantizer.qmin, quantizer.qmax)
        window = int(np.prod(getattr(layer, "kernel_size", (1,))))
        per_range = max(1, (2 ** 24 - 1) // (window * largest_product))
        return [(first, min(first + per_range, in_channels))
                for first in range(0, in_channels, per_range)]

    def check_trained(self):
        """Raises ConversionError if a step of the block never saw data."""
        trained_step(self.input_quantizer.quantizer_vars, self.name)
        trained_step(self.wrapper._weight_vars[0][2], self.name)

    def kernel_codes(self) -> tf.Tensor:
        """The kernel's codes as the wrapper's quantizer computes them, from the current
        variables; the step is initialised first if the wrapper never ran, as its own call
        would."""
        kernel, quantizer, weight_vars = self.wrapper._weight_vars[0]
        quantizer(kernel, False, weight_vars)
        return quantizer.codes(tf.convert_to_tensor(kernel),
                               tf.convert_to_tensor(weight_vars["step"]))

    def options(self) -> bytes:
        """FlexBuffer custom options: grids, input step, folded multiplier/offset, geometry."""
        layer = self.wrapper.layer
        input_scale = np.float32(trained_step(self.input_quantizer.quantizer_vars, self.name))
        in_channels, out_channels, groups = channels(layer)
        multiplier, offset = self.affine()
        common = dict(
            weight_bits=self.wrapper.quantize_config.weight_bits,
            activation_bits=self.input_quantizer.quantizer.num_bits,
            activation_signed=self.input_quantizer.quantizer.signed,
            input_scale=input_scale, in_channels=in_channels,
            out_channels=out_channels, activation=self.activation,
            multiplier=multiplier.astype(np.float32), offset=offset.astype(np.float32))
        if self.op_code == custom_ops.FULLY_CONNECTED:
            return custom_ops.fully_connected_options(**common)
        kernel_h, kernel_w = layer.kernel_size
        return custom_ops.conv2d_options(
            kernel_h=kernel_h, kernel_w=kernel_w, stride_h=layer.strides[0],
            stride_w=layer.strides[1], dilation_h=layer.dilation_rate[0],
            dilation_w=layer.dilation_rate[1], padding=layer.padding.upper(), groups=groups,
            **common)


def channels(layer) -> tuple[int, int, int]:
    """(C_in, C_out, groups) of a built Conv2D, DepthwiseConv2D or Dense (FORMAT.md "Groups")."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _, _, in_channels, multiplier = layer.depthwise_kernel.shape
        return int(in_channels), int(in_channels * multiplier), int(in_channels)
    groups = getattr(layer, "groups", 1)
    *_, group_in_channels, out_channels = layer.kernel.shape
    return int(group_in_channels * groups), int(out_channels), int(groups)


def _float32(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def fold_batch_norm(scale, bias, gamma, beta, mean, variance, epsilon):
    """(multiplier, offset) of `BatchNorm(x * scale + bias)` as `x * multiplier + offset`:
    float32 NumPy, each operation one IEEE rounding in the order written.

    NumPy, not TF ops, because the QAT model's inference and the converter must hold the very
    same float32 constants: TF ops run inside a graph, and Grappler rewrites a graph by its
    context (x / sqrt(y) into x * rsqrt(y), products regrouped across the ops around it), so
    the same TF function gave a multiplier one ulp apart inside `predict` and eagerly in the
    converter, and a deep network turned that ulp into a different code at a rounding tie
    (issue 10). The QAT model reads these NumPy results from variables (exact.FoldedConstants).
    """
    root = np.sqrt(variance + epsilon)
    return scale * gamma / root, (bias - mean) * gamma / root + beta


def batch_norm_fold(layer, scale, bias) -> tuple[np.ndarray, np.ndarray]:
    """fold_batch_norm with the layer's moving statistics; scale and bias broadcast to its
    channels."""
    channels = int(layer.moving_mean.shape[0])
    ones, zeros = np.ones([channels], np.float32), np.zeros([channels], np.float32)
    return fold_batch_norm(
        np.broadcast_to(_float32(scale), [channels]), np.broadcast_to(_float32(bias), [channels]),
        _float32(layer.gamma) if layer.gamma is not None else ones,
        _float32(layer.beta) if layer.beta is not None else zeros,
        _float32(layer.moving_mean), _float32(layer.moving_variance), np.float32(layer.epsilon))


def trained_step(quantizer_vars: dict, layer_name: str) -> np.ndarray:
    """Float32 step of an LSQ quantizer; raises if it never saw data (lazy initialisation)."""
    if not bool(quantizer_vars["initialized"].numpy()):
        raise ConversionError(
            f"layer {layer_name!r}: its quantizer step was never initialised; run the QAT "
            "model on data (fit, or at least one predict) before converting")
    return quantizer_vars["step"].numpy().astype(np.float32)


def find_blocks(model) -> list[Block]:
    """The blocks of a QAT model (sub-byte and 8-bit), in execution order; raises
    ConversionError for a layer that is quantized in a way the converter cannot express."""
    consumers = graph.Consumers(model)
    blocks = []
    nodes = graph.model_nodes(model)
    calls = collections.Counter(id(node.layer) for node in nodes)
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
        _check_wrapper(layer, node, calls[id(layer)])
        input_quantizer, input_quantizer_node = graph.producer(node.keras_inputs[0])
        bits = (layer.quantize_config.weight_bits, input_quantizer.quantizer.num_bits)
        sub_byte = min(bits) <= max(custom_ops.SUPPORTED_BITS)
        if sub_byte:
            _check_sub_byte(layer, *bits)
        block = Block(wrapper=layer, input_quantizer=input_quantizer,
                      input=input_quantizer_node.keras_inputs[0], output=node.outputs,
                      sub_byte=sub_byte)
        _fuse_following_layers(block, consumers)
        blocks.append(block)
    if not any(isinstance(node.layer, (QuantizeLayer, QuantizeWrapper)) for node in nodes):
        raise ConversionError(
            f"model {model.name!r} has no quantized layer: it is a float model; make the QAT "
            "model with bitlite's quantize_model, train it (or predict once), then convert")
    return blocks


def _check_wrapper(wrapper, node, calls: int):
    name = wrapper.layer.name
    if calls > 1:
        raise ConversionError(
            f"layer {name!r} is called {calls} times; a bitlite op computes one call, so give "
            f"each call its own layer (bitlite's quantize_model refuses shared layers, or "
            f"leaves them float with skip=[{name!r}])")
    if not isinstance(wrapper.quantize_config, KernelQuantizeConfig):
        raise ConversionError(
            f"layer {name!r} is wrapped with {type(wrapper.quantize_config).__name__}, not "
            "bitlite's KernelQuantizeConfig: build the QAT model with bitlite's quantize_model")
    if type(wrapper.layer) not in QUANTIZABLE_LAYERS:
        raise ConversionError(
            f"layer {name!r} ({type(wrapper.layer).__name__}) inside a quantize wrapper: bitlite "
            f"converts Conv2D, DepthwiseConv2D and Dense only; leave it float with "
            f"quantize_model(..., skip=[{name!r}])")
    producer, _ = graph.producer(node.keras_inputs[0])
    if not (isinstance(producer, QuantizeLayer)
            and isinstance(producer.quantizer, ActivationQuantizer)):
        raise ConversionError(
            f"layer {name!r}: its input does not come from a bitlite input QuantizeLayer; build "
            "the QAT model with bitlite's quantize_model")


def sub_byte_problem(layer) -> str | None:
    """Why a quantizable layer cannot become a bitlite op, None if it can."""
    data_format = getattr(layer, "data_format", "channels_last")
    if data_format != "channels_last":
        return f"data_format={data_format!r} (bitlite ops are NHWC)"
    return None


def way_out(layer_name: str) -> str:
    return (f"keep it 8-bit with quantize_model(..., keep_8bit=[{layer_name!r}]) or leave it "
            f"float with quantize_model(..., skip=[{layer_name!r}])")


def _check_sub_byte(wrapper, weight_bits: int, activation_bits: int):
    layer = wrapper.layer
    reason = sub_byte_problem(layer)
    if not {weight_bits, activation_bits} <= set(custom_ops.SUPPORTED_BITS):
        reason = (f"W{weight_bits}A{activation_bits}: a bitlite op needs weights and input both "
                  f"in {custom_ops.SUPPORTED_BITS} bits")
    if reason:
        raise ConversionError(f"layer {layer.name!r} ({type(layer).__name__}) cannot become a "
                              f"bitlite op: {reason}; {way_out(layer.name)}")


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
    if reader is not None and _folds_into(reader.layer, block):
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


def _folds_into(layer, block: Block) -> bool:
    """A BatchNormalization normalising the channel axis of the block's output."""
    if type(layer) is not keras.layers.BatchNormalization:
        return False
    rank = block.output.shape.rank
    return list(layer.axis) == [rank - 1]
