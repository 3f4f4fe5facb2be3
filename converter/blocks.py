"""Which parts of a QAT model become one bitlite op, and the numbers that op carries.

A block is a sub-byte QuantizeWrapperV2(Conv2D | DepthwiseConv2D | Dense) with its input
QuantizeLayer, plus the BatchNormalization and then the ReLU/ReLU6 that follow it when each is
the sole reader of the tensor before it. BatchNorm folds only after a linear layer; a layer's own relu/relu6 is fused;
another own activation (tanh, swish ...) stays outside the op as a float op.
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
        codes = weight_codes(self.wrapper).numpy().astype(np.int64)
        _, out_channels, _ = channels(self.wrapper.layer)
        # Conv/Dense [..., C_in / G, C_out] and depthwise [KH, KW, C_in, M] (output channel
        # ci * M + m) both flatten to [(kh, kw, ci in group), C_out].
        rows = codes.reshape(-1, out_channels).T
        return custom_ops.pack_weights(rows, self.wrapper.quantize_config.weight_bits)

    def options(self) -> bytes:
        """FlexBuffer custom options: grids, input step, folded multiplier/offset, geometry."""
        layer = self.wrapper.layer
        _, _, weight_vars = self.wrapper._weight_vars[0]
        input_scale = np.float32(trained_step(self.input_quantizer.quantizer_vars, self.name))
        weight_scale = trained_step(weight_vars, self.name).reshape(-1)
        in_channels, out_channels, groups = channels(layer)
        bias = layer.bias.numpy() if layer.use_bias else np.zeros(out_channels, np.float32)
        if self.batch_norm is None:
            multiplier = input_scale * weight_scale
            offset = bias
        else:
            gamma, beta, mean, variance = _batch_norm_parameters(self.batch_norm, out_channels)
            root = np.sqrt(variance + np.float32(self.batch_norm.epsilon))
            multiplier = input_scale * weight_scale * gamma / root
            offset = (bias - mean) * gamma / root + beta
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


def trained_step(quantizer_vars: dict, layer_name: str) -> np.ndarray:
    """Float32 step of an LSQ quantizer; raises if it never saw data (lazy initialisation)."""
    if not bool(quantizer_vars["initialized"].numpy()):
        raise ConversionError(
            f"layer {layer_name!r}: its quantizer step was never initialised; run the QAT "
            "model on data (fit, or at least one predict) before converting")
    return quantizer_vars["step"].numpy().astype(np.float32)


def weight_codes(wrapper) -> tf.Tensor:
    """Kernel codes exactly as the wrapper's quantizer computes them in Keras."""
    kernel, quantizer, weight_vars = wrapper._weight_vars[0]
    return quantizer.codes(tf.convert_to_tensor(kernel),
                           tf.constant(trained_step(weight_vars, wrapper.layer.name)))


def dequantized_kernel(wrapper) -> np.ndarray:
    """codes * step, the kernel value the wrapped layer computes with in Keras."""
    _, _, weight_vars = wrapper._weight_vars[0]
    step = tf.constant(trained_step(weight_vars, wrapper.layer.name))
    return (weight_codes(wrapper) * step).numpy()


def find_blocks(model) -> list[Block]:
    """The sub-byte blocks of a QAT model, in execution order; raises ConversionError for a
    layer that is quantized in a way the converter cannot express."""
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
        if min(bits) > max(custom_ops.SUPPORTED_BITS):
            continue  # an 8-bit layer: stays float (fake-quantized) in the .tflite
        _check_sub_byte(layer, *bits)
        block = Block(wrapper=layer, input_quantizer=input_quantizer,
                      input=input_quantizer_node.keras_inputs[0], output=node.outputs)
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


def _batch_norm_parameters(layer, channels: int):
    ones, zeros = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    gamma = layer.gamma.numpy() if layer.gamma is not None else ones
    beta = layer.beta.numpy() if layer.beta is not None else zeros
    return (gamma.astype(np.float32), beta.astype(np.float32),
            layer.moving_mean.numpy().astype(np.float32),
            layer.moving_variance.numpy().astype(np.float32))
