"""Which layer calls of a QAT model compute as one unit: block matching on graph.Call facts.

A block is a QuantizeWrapperV2(Conv1D | Conv2D | DepthwiseConv2D | Conv2DTranspose | Dense)
with its input QuantizeLayer, plus the BatchNormalization and then the ReLU/ReLU6/LeakyReLU
(a normal float32 slope up to 1) that follow it when each is the sole reader of the tensor
before it. BatchNorm folds only after a linear layer; a layer's own relu/relu6 is fused;
another own activation (tanh, swish ...) stays outside the block as a float op.

A block computes FORMAT.md's arithmetic, `activation(float32(acc) * multiplier + offset)` with
`acc` the exact integer sum of code products, both in the QAT model's inference (exact.py) and
in the .tflite: as one bitlite op (sub-byte, or W8A8 while the op's int32 accumulator holds
every sum), else as builtin ops (export.py). Both read the blocks found here: matched on the
calls graph.read_calls read, checked once against the rules a layer must meet (layers.py),
with the layer's channels and geometry taken once; `affine` folds values graph.py read
(folding.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import tf_keras as keras

from . import activations, custom_ops, folding, layers
from .errors import ConversionError
from .facts import Call, CallState
from .quantizers import ActivationQuantizer, KernelQuantizeConfig


@dataclass(frozen=True)
class Block:
    wrapper: Call  # the QuantizeWrapper's call (its `layer` is the wrapped layer)
    input_quantizer: Call  # the input QuantizeLayer's call (its `quantizer` is the grid)
    output: object  # Keras tensor the block's last layer writes
    batch_norm: Call | None  # a BatchNorm folded in
    activation: str  # the op's fused activation (FORMAT.md)
    alpha: float | None  # LEAKY_RELU's slope
    trailing_activation: object  # own activation applied after the op, as float ops; or None
    absorbed: tuple  # indices of the BN / activation calls folded in
    # One bitlite op in the .tflite (layers.becomes_bitlite_op); else an 8-bit layer as
    # builtin ops on its integer codes, summing in float32 ranges.
    bitlite_op: bool
    channels: tuple[int, int, int]  # layers.channels: (C_in, C_out, groups)
    reduction_size: int  # layers.reduction_size: the codes each output sums over
    # layers.conv2d_geometry of a convolution, layers.transpose_geometry of a transposed one;
    # None for Dense
    geometry: dict | None
    causal_padding: int  # layers.causal_padding: zeros padded on the left of a Conv1D's input

    @property
    def name(self) -> str:
        return self.wrapper.name

    @property
    def layer(self):
        """The quantized Keras layer (its class and configuration)."""
        return self.wrapper.layer

    @property
    def input(self):
        """The Keras tensor the input quantizer reads."""
        return self.input_quantizer.input

    @property
    def weight_bits(self) -> int:
        return self.wrapper.quantizer.weight_bits

    @property
    def op_code(self) -> str:
        if isinstance(self.layer, keras.layers.Dense):
            return custom_ops.FULLY_CONNECTED
        if isinstance(self.layer, keras.layers.Conv2DTranspose):
            return custom_ops.CONV2D_TRANSPOSE
        return custom_ops.CONV2D

    @property
    def one_row(self) -> bool:
        """A Conv1D: its [N, W, C] tensors are computed as [N, 1, W, C]."""
        return isinstance(self.layer, keras.layers.Conv1D)

    def affine(self, states: dict[int, CallState]) -> tuple[np.ndarray, np.ndarray]:
        """float32 [C_out] (multiplier, offset) from the values read (graph.CallState by call
        index; FORMAT.md: input step x weight step, bias and the BatchNorm's moving
        statistics folded in)."""
        weights = states[self.wrapper.index]
        return folding.block_affine(
            states[self.input_quantizer.index].step.step, weights.step.step, weights.bias,
            self.channels[1], self.batch_norm and states[self.batch_norm.index].statistics)

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
        in_channels, _, groups = self.channels
        if self.bitlite_op or groups > 1:
            return [(0, in_channels)]
        quantizer = self.input_quantizer.quantizer
        largest_product = 2 ** (self.weight_bits - 1) * max(-quantizer.qmin, quantizer.qmax)
        window = self.reduction_size // in_channels
        per_range = max(1, (2 ** 24 - 1) // (window * largest_product))
        return [(first, min(first + per_range, in_channels))
                for first in range(0, in_channels, per_range)]


def find_blocks(calls: list[Call], model_name: str) -> list[Block]:
    """The blocks among a model's calls (sub-byte and 8-bit), in execution order; raises
    ConversionError for a layer that is quantized in a way the converter cannot express."""
    blocks = []
    for call in calls:
        if call.wrapped:
            blocks.append(_block(call, calls))
        elif call.quantizer is not None and not isinstance(call.quantizer,
                                                           ActivationQuantizer):
            raise ConversionError(
                f"layer {call.name!r} quantizes with {type(call.quantizer).__name__}, "
                "not a bitlite quantizer: build the QAT model with bitlite's quantize_model")
    if not any(call.quantizer is not None for call in calls):
        raise ConversionError(
            f"model {model_name!r} has no quantized layer: it is a float model; make the QAT "
            "model with bitlite's quantize_model, train it (or predict once), then convert")
    return blocks


def _block(wrapper: Call, calls: list[Call]) -> Block:
    """The block of a QuantizeWrapper's call, with the layers after it that it absorbs."""
    input_quantizer = calls[wrapper.producer] if wrapper.producer is not None else None
    following = _following_layers(wrapper, calls)
    _check_wrapper(wrapper, input_quantizer)
    layer, grid = wrapper.layer, input_quantizer.quantizer
    bits = (wrapper.quantizer.weight_bits, grid.num_bits)
    bitlite_op = layers.becomes_bitlite_op(layer, *bits, grid.signed)
    reason = (layers.is_sub_byte(*bits) and layers.sub_byte_problem(layer, *bits)
              or layers.binary_padding_problem(layer, grid.binary)
              or layers.transpose_op_problem(layer, bitlite_op))
    if reason:
        raise ConversionError(
            f"layer {wrapper.name!r} ({type(layer).__name__}) cannot become a "
            f"bitlite op: {reason}; {layers.way_out(wrapper.name)}")
    if isinstance(layer, keras.layers.Dense):
        geometry = None
    elif isinstance(layer, keras.layers.Conv2DTranspose):
        geometry = layers.transpose_geometry(layer)
    else:
        geometry = layers.conv2d_geometry(layer)
    return Block(
        wrapper=wrapper, input_quantizer=input_quantizer, **following,
        channels=layers.channels(layer), reduction_size=layers.reduction_size(layer),
        geometry=geometry, causal_padding=layers.causal_padding(layer), bitlite_op=bitlite_op)


def _check_wrapper(wrapper: Call, input_quantizer: Call | None):
    name = wrapper.name
    shared = layers.shared_problem(name, wrapper.times_called)
    if shared:
        raise ConversionError(shared)
    if not isinstance(wrapper.quantizer, KernelQuantizeConfig):
        raise ConversionError(
            f"layer {name!r} is wrapped with {type(wrapper.quantizer).__name__}, not "
            "bitlite's KernelQuantizeConfig: build the QAT model with bitlite's quantize_model")
    problem = layers.transpose_problem(wrapper.layer)
    if type(wrapper.layer) not in layers.QUANTIZABLE_LAYERS or problem:
        variant = f" (not {problem})" if problem else ""
        raise ConversionError(
            f"layer {name!r} ({type(wrapper.layer).__name__}) inside a quantize wrapper: bitlite "
            f"converts {', '.join(t.__name__ for t in layers.QUANTIZABLE_LAYERS)} only{variant}; "
            f"leave it float with quantize_model(..., skip=[{name!r}])")
    config = wrapper.quantizer
    layout = (config.channel_dims, config.trailing_dims)
    if layout != layers.output_channel_dims(wrapper.layer):
        raise ConversionError(
            f"layer {name!r}: its KernelQuantizeConfig steps the kernel axes "
            f"(channel_dims, trailing_dims) = {layout}, not its output channels "
            f"{layers.output_channel_dims(wrapper.layer)}; build the QAT model with bitlite's "
            "quantize_model")
    if not (input_quantizer is not None and not input_quantizer.wrapped
            and isinstance(input_quantizer.quantizer, ActivationQuantizer)):
        raise ConversionError(
            f"layer {name!r}: its input does not come from a bitlite input QuantizeLayer; build "
            "the QAT model with bitlite's quantize_model")


def _sole_reader(call: Call, calls: list[Call]) -> Call | None:
    """The only call reading `call`'s output, or None (several readers, or a model output)."""
    if len(call.readers) == 1 and not call.is_output:
        return calls[call.readers[0]]
    return None


def _following_layers(wrapper: Call, calls: list[Call]) -> dict:
    """What the block of `wrapper` computes after its layer: the fused activation, the calls
    it absorbs (a BatchNorm on the last axis, then a ReLU/ReLU6/LeakyReLU, each the sole
    reader of the tensor before it, after a linear layer) and its output; or the layer's own
    activation that no op fuses, applied after the op."""
    following = dict(output=wrapper.output, batch_norm=None, activation="NONE", alpha=None,
                     trailing_activation=None, absorbed=())
    own = wrapper.activation
    if own not in activations.FUSABLE:
        # Applied after the op; nothing after a non-linearity can fold into it.
        return dict(following, trailing_activation=getattr(wrapper.layer, "activation", None))
    following["activation"] = activations.FUSABLE[own]
    if own != "linear":
        return following
    reader = _sole_reader(wrapper, calls)
    if reader is not None and reader.batch_norm_on_last_axis:
        following.update(batch_norm=reader, output=reader.output, absorbed=(reader.index,))
        reader = _sole_reader(reader, calls)
    if reader is not None and reader.computes in activations.FUSABLE_LAYERS:
        following.update(activation=activations.FUSABLE_LAYERS[reader.computes],
                         alpha=reader.alpha, output=reader.output,
                         absorbed=(*following["absorbed"], reader.index))
    return following
