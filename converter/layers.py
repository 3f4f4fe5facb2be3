"""What bitlite knows of a Keras layer, and the rules a quantized layer must meet.

quantize_model checks these rules when it plans a QAT model, and the converter checks them again
on whatever model it is given (a hand-built one may break them): both ask here, so the two
never disagree on what a sub-byte layer is or why one is refused. Each check returns the
reason (None: the layer passes); the caller raises its own error with it (quantize_model a
ValueError, the converter a ConversionError).
"""

from __future__ import annotations

import tf_keras as keras

from . import custom_ops

# The layers a bitlite op (or an 8-bit block) computes, as exact types: Conv2DTranspose
# subclasses Conv2D, Conv1DTranspose Conv1D. A Conv1D is computed as a Conv2D of one row.
QUANTIZABLE_LAYERS = (keras.layers.Conv2D, keras.layers.Conv1D, keras.layers.DepthwiseConv2D,
                      keras.layers.Dense, keras.layers.Conv2DTranspose)
# What quantize_model quantizes: those, and SeparableConv2D as two of them.
PLANNED_LAYERS = QUANTIZABLE_LAYERS + (keras.layers.SeparableConv2D,)

# Layers with weights that multiply their input which bitlite does not quantize: they stay
# float, and quantize_model says so (subclasses of the quantizable types included, e.g.
# Conv1DTranspose, and the Conv2DTranspose variants transpose_problem names).
_WEIGHTED_LAYERS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                    keras.layers.DepthwiseConv1D, keras.layers.SeparableConv1D,
                    keras.layers.Dense, keras.layers.EinsumDense,
                    keras.layers.LocallyConnected1D, keras.layers.LocallyConnected2D)

SUB_BYTE_BITS = custom_ops.SUPPORTED_BITS
KEPT = (8, 8)  # weight and input bits of a layer kept 8-bit (it runs as float ops)


def transpose_problem(layer) -> str | None:
    """Why a Conv2DTranspose stays float (None: it becomes a BitliteConv2DTranspose, which
    has no dilation and reads NHWC)."""
    if type(layer) is not keras.layers.Conv2DTranspose:
        return None
    if tuple(layer.dilation_rate) != (1, 1):
        return f"dilation_rate={tuple(layer.dilation_rate)} (bitlite transposes undilated kernels)"
    if layer.data_format != "channels_last":
        return f"data_format={layer.data_format!r} (bitlite ops are NHWC)"
    return None


def is_planned(layer) -> bool:
    """Whether quantize_model quantizes `layer`'s type (and variant)."""
    return type(layer) in PLANNED_LAYERS and not transpose_problem(layer)


def left_float_reason(layer) -> str | None:
    """Why `layer`, which multiplies its input by weights, stays float (None: it does not, or
    is quantized): bitlite does not quantize its type, or not this variant of it."""
    if not isinstance(layer, _WEIGHTED_LAYERS) or is_planned(layer):
        return None
    return transpose_problem(layer) or "not a type bitlite quantizes"


def kernel_attribute(layer) -> str:
    """Name of the weight a quantizable layer multiplies its input with."""
    return "depthwise_kernel" if isinstance(layer, keras.layers.DepthwiseConv2D) else "kernel"


def output_channel_dims(layer) -> tuple[int, int]:
    """How many kernel axes index the output channels, and how many follow them (see
    WeightQuantizer): a transposed kernel is [KH, KW, C_out, C_in]."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return 1, 1
    return (2 if isinstance(layer, keras.layers.DepthwiseConv2D) else 1), 0


def transpose_geometry(layer) -> dict:
    """kernel_h, kernel_w, stride_h, stride_w and the pads (pad_top, pad_bottom, pad_left,
    pad_right) of a Conv2DTranspose's BitliteConv2DTranspose (FORMAT.md)."""
    output_padding = layer.output_padding or (None, None)
    (top, bottom), (left, right) = (
        custom_ops.transpose_pads(k, s, layer.padding, p)
        for k, s, p in zip(layer.kernel_size, layer.strides, output_padding))
    (kernel_h, kernel_w), (stride_h, stride_w) = layer.kernel_size, layer.strides
    return dict(kernel_h=kernel_h, kernel_w=kernel_w, stride_h=stride_h, stride_w=stride_w,
                pad_top=top, pad_bottom=bottom, pad_left=left, pad_right=right)


def causal_padding(layer) -> int:
    """Zeros a causal Conv1D pads on the left of its input (0 for any other layer)."""
    if getattr(layer, "padding", None) != "causal":
        return 0
    return (layer.kernel_size[0] - 1) * layer.dilation_rate[0]


def conv2d_geometry(layer) -> dict:
    """Kernel, strides, dilation and padding of a convolution as one Conv2D computes them: a
    Conv1D is a Conv2D of one row, its causal padding applied to the input beforehand."""
    if isinstance(layer, keras.layers.Conv1D):
        padding = "valid" if layer.padding == "causal" else layer.padding
        return dict(kernel_size=(1, *layer.kernel_size), strides=(1, *layer.strides),
                    dilation_rate=(1, *layer.dilation_rate), padding=padding)
    return dict(kernel_size=tuple(layer.kernel_size), strides=tuple(layer.strides),
                dilation_rate=tuple(layer.dilation_rate), padding=layer.padding)


def channels(layer) -> tuple[int, int, int]:
    """(C_in, C_out, groups) of a built Conv2D, DepthwiseConv2D or Dense (FORMAT.md "Groups")."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _, _, in_channels, multiplier = layer.depthwise_kernel.shape
        return int(in_channels), int(in_channels * multiplier), int(in_channels)
    if isinstance(layer, keras.layers.Conv2DTranspose):
        *_, out_channels, in_channels = layer.kernel.shape
        return int(in_channels), int(out_channels), 1
    groups = getattr(layer, "groups", 1)
    *_, group_in_channels, out_channels = layer.kernel.shape
    return int(group_in_channels * groups), int(out_channels), int(groups)


def reduction_size(layer) -> int:
    """K, the codes each output sums over: kernel taps x the input channels of one group."""
    in_channels, _, groups = channels(layer)
    window = 1
    for size in getattr(layer, "kernel_size", ()):
        window *= size
    return window * in_channels // groups


# The W8A8 GEMM kernels read a convolution's 8-bit input codes a word (8 codes) per kernel
# tap, so a convolution with fewer input channels per group fills part of each word (3 of 8
# for an RGB stem). The delegate folds the kernel's columns into the channels where they are
# contiguous (one group, no column dilation: cc/src/kernels/gemm/conv2d_gemm.h), which packs
# such a layer densely: ResNet-18's 7x7 3 -> 64 stem at 224x224 takes 1.27 ms as a W8A8 op so
# (2.4 ms unfolded) against 2.2 ms for XNNPACK fp32 with its BatchNorm MUL and ADD (x86, 1
# thread). A narrow layer that cannot fold (1x1, dilated columns, groups) keeps the exact
# float-builtin form.
W8A8_MIN_CHANNELS = 8


def packs_narrow_input_densely(layer) -> bool:
    """Whether a convolution reading fewer than W8A8_MIN_CHANNELS channels per group fills
    the W8A8 kernels' words once the delegate folds its kernel's columns: one group, columns
    not dilated, and a row of taps of W8A8_MIN_CHANNELS codes or more."""
    in_channels, _, groups = channels(layer)
    geometry = conv2d_geometry(layer)
    kernel_w = geometry["kernel_size"][1]
    return (groups == 1 and geometry["dilation_rate"][1] == 1 and kernel_w > 1
            and kernel_w * in_channels >= W8A8_MIN_CHANNELS)


def becomes_bitlite_op(layer, weight_bits: int, activation_bits: int,
                       activation_signed: bool) -> bool:
    """Whether a quantized layer is one bitlite op in the .tflite: sub-byte, or W8A8 where the
    op's int32 accumulator holds every sum and a convolution reads W8A8_MIN_CHANNELS input
    channels per group or more, or packs its narrow input densely (depthwise and Dense layers
    are never narrow)."""
    if is_sub_byte(weight_bits, activation_bits):
        return True
    in_channels, _, groups = channels(layer)
    # A transposed convolution has no builtin form here: always the op.
    narrow = (type(layer) in (keras.layers.Conv1D, keras.layers.Conv2D)
              and in_channels // groups < W8A8_MIN_CHANNELS
              and not packs_narrow_input_densely(layer))
    k = reduction_size(layer)
    return not narrow and custom_ops.accumulator_fits(k, weight_bits, activation_bits,
                                                      activation_signed)


def transpose_op_problem(layer, bitlite_op: bool) -> str | None:
    """Why a quantized Conv2DTranspose has no exact form: an 8-bit one whose sums the op's int32
    accumulator may not hold (it has no builtin form, becomes_bitlite_op)."""
    if isinstance(layer, keras.layers.Conv2DTranspose) and not bitlite_op:
        return ("at 8 bits its sums may overflow the op's int32 accumulator "
                f"(K = {reduction_size(layer)} codes per output)")
    return None


def is_bit_width(bits) -> bool:
    """Whether `bits` is a sub-byte width a bitlite op takes (an int, not a bool)."""
    return not isinstance(bits, bool) and bits in SUB_BYTE_BITS


def bits_problem(bits) -> str | None:
    """Why (weight bits, activation bits) is no layer precision: both sub-byte, or KEPT."""
    try:
        weight, activation = bits
    except (TypeError, ValueError):
        weight = activation = None
    if (weight, activation) == KEPT or (is_bit_width(weight) and is_bit_width(activation)):
        return None
    return (f"bits {bits!r} are not supported; give (weight_bits, activation_bits) with both in "
            f"{SUB_BYTE_BITS}, (8, 8) to keep the layer 8-bit, or None to leave it float")


def is_sub_byte(weight_bits: int, activation_bits: int | None) -> bool:
    """Whether a quantized layer is meant to be a bitlite op: a width below 8 (whether it can
    be is sub_byte_problem's question). activation_bits None: its input is not quantized."""
    return min(b for b in (weight_bits, activation_bits) if b is not None) <= max(SUB_BYTE_BITS)


def sub_byte_problem(layer, weight_bits: int, activation_bits: int) -> str | None:
    """Why a quantizable layer cannot become a bitlite op at these widths, None if it can."""
    if not (is_bit_width(weight_bits) and is_bit_width(activation_bits)):
        return (f"W{weight_bits}A{activation_bits}: a bitlite op needs weights and input both "
                f"in {SUB_BYTE_BITS} bits")
    data_format = getattr(layer, "data_format", "channels_last")
    if data_format != "channels_last":
        return f"data_format={data_format!r} (bitlite ops are NHWC)"
    return None


def binary_padding_problem(layer, binary_input: bool) -> str | None:
    """Why a causal Conv1D cannot read a signed 1-bit ({-1, +1}) input: its left zeros are
    padded ahead of the bitlite op, and a zero has no code on that grid."""
    if binary_input and causal_padding(layer):
        return ("padding='causal' with a signed 1-bit input: a bitlite op pads only 'same' "
                "or 'valid', and the causal zeros padded ahead of it have no {-1, +1} code; "
                "use 2 or more activation bits, an input after a ReLU, or 'same'/'valid'")
    return None


def shared_problem(layer_name: str, calls: int) -> str | None:
    """Why a layer called `calls` times cannot be quantized: a bitlite op computes one call."""
    if calls > 1:
        return (f"layer {layer_name!r} is called more than once ({calls} times); bitlite "
                "quantizes and converts each call separately, so give each call its own layer "
                f"or leave it float with quantize_model(..., skip=[{layer_name!r}])")
    return None


def way_out(layer_name: str) -> str:
    return (f"keep it 8-bit with quantize_model(..., keep_8bit=[{layer_name!r}]) or leave it "
            f"float with quantize_model(..., skip=[{layer_name!r}])")

