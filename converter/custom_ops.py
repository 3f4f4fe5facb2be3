"""Writer of the bitlite custom-op format (cc/FORMAT.md is the spec; the delegate reads it).

Everything that turns quantized layer parameters into the bytes of a bitlite op lives here,
so the converter and the tests build ops the same way.
"""

from __future__ import annotations

import numpy as np
from flatbuffers import flexbuffers

FORMAT_VERSION = 1
CONV2D = "BitliteConv2D"
FULLY_CONNECTED = "BitliteFullyConnected"
CONV2D_TRANSPOSE = "BitliteConv2DTranspose"
OP_NAMES = (CONV2D, FULLY_CONNECTED, CONV2D_TRANSPOSE)
SUPPORTED_BITS = (1, 2, 3, 4)  # sub-byte widths, for weights and activations in any pair
W8A8 = (8, 8)  # a layer kept at 8 bits (FORMAT.md "Bit widths")
_WEIGHT_BITS = SUPPORTED_BITS + (8,)
ACTIVATIONS = ("NONE", "RELU", "RELU6", "LEAKY_RELU")
PADDINGS = ("SAME", "VALID")


def weight_code_range(bits: int) -> tuple[int, int]:
    """Smallest and largest signed weight code (1 bit is the {-1, +1} grid)."""
    if bits == 1:
        return -1, 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def activation_code_range(bits: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest input activation code (signed 1 bit is the {-1, +1} grid)."""
    if not signed:
        return 0, (1 << bits) - 1
    return weight_code_range(bits)


def is_op_bits(weight_bits, activation_bits) -> bool:
    """Whether a bitlite op takes these widths: both sub-byte, or W8A8."""
    return ((weight_bits, activation_bits) == W8A8
            or (weight_bits in SUPPORTED_BITS and activation_bits in SUPPORTED_BITS))


def accumulator_fits(k: int, weight_bits: int, activation_bits: int,
                     activation_signed: bool) -> bool:
    """Whether K code products of these grids always sum within the op's int32 accumulator
    (the delegate refuses a layer where they may not; FORMAT.md "Arithmetic")."""
    largest_weight = max(map(abs, weight_code_range(weight_bits)))
    largest_input = max(map(abs, activation_code_range(activation_bits, activation_signed)))
    return k * largest_weight * largest_input <= 2 ** 31 - 1


def pack_weights(codes: np.ndarray, bits: int) -> np.ndarray:
    """Packs signed weight codes [C_out, K] into the canonical uint8 rows [C_out, row_bytes].

    Codes are stored offset-binary (1 bit: bit set means +1), LSB first, each row padded to
    whole bytes (at 8 bits, one byte `code + 128` per code).
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"weight codes must be [C_out, K], got shape {codes.shape}")
    if bits not in _WEIGHT_BITS:
        raise ValueError(f"weight_bits must be one of {_WEIGHT_BITS}, got {bits}")
    lo, hi = weight_code_range(bits)
    if bits == 1:
        if not np.isin(codes, (-1, 1)).all():
            raise ValueError("1-bit weight codes must be -1 or +1")
        stored = (codes.astype(np.int64) + 1) // 2
    else:
        if codes.min(initial=0) < lo or codes.max(initial=0) > hi:
            raise ValueError(f"{bits}-bit weight codes must lie in [{lo}, {hi}]")
        stored = codes.astype(np.int64) - lo
    c_out, k = stored.shape
    # Bit j of a code goes to stream bit k * bits + j; np.packbits with little bit order
    # then lays the stream out LSB first, exactly as FORMAT.md says.
    bit_planes = (stored[:, :, None] >> np.arange(bits)) & 1
    stream = bit_planes.reshape(c_out, k * bits).astype(np.uint8)
    return np.packbits(stream, axis=1, bitorder="little")


def _float32_blob(values, length: int, name: str) -> bytes:
    array = np.asarray(values, dtype=np.float32).reshape(-1)
    if array.size != length:
        raise ValueError(f"{name} must have {length} values, got {array.size}")
    return array.astype("<f4").tobytes()


def _common_options(
    *, weight_bits, activation_bits, activation_signed, input_scale, in_channels, out_channels,
    activation, multiplier, offset, alpha=None,
) -> dict:
    if not is_op_bits(weight_bits, activation_bits):
        raise ValueError(
            f"bit widths must both be in {SUPPORTED_BITS}, or both 8, got "
            f"W{weight_bits}A{activation_bits}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if (activation == "LEAKY_RELU") != (alpha is not None):
        raise ValueError(f"alpha goes with activation LEAKY_RELU only, got {activation!r} "
                         f"with alpha {alpha!r}")
    scale = float(np.float32(input_scale))
    # Normal floats only: a denormal step would be flushed to 0 on flush-to-zero CPUs.
    if not np.isfinite(scale) or scale < np.finfo(np.float32).tiny:
        raise ValueError(f"input_scale must be finite and a normal float > 0, got {input_scale}")
    return {
        "version": FORMAT_VERSION,
        "weight_bits": int(weight_bits),
        "activation_bits": int(activation_bits),
        "activation_signed": bool(activation_signed),
        "input_scale": scale,
        "in_channels": int(in_channels),
        "out_channels": int(out_channels),
        "activation": activation,
        "multiplier": _float32_blob(multiplier, out_channels, "multiplier"),
        "offset": _float32_blob(offset, out_channels, "offset"),
        **({} if alpha is None else {"alpha": _slope(alpha)}),
    }


def leaky_slope(alpha) -> float | None:
    """LEAKY_RELU's `alpha` as the float32 TensorFlow multiplies by, where FORMAT.md takes it:
    a normal float in [FLT_MIN, 1]; None otherwise."""
    slope = float(np.float32(alpha))
    return slope if np.finfo(np.float32).tiny <= slope <= 1 else None


def _slope(alpha) -> float:
    slope = leaky_slope(alpha)
    if slope is None:
        raise ValueError(f"alpha must be a normal float32 in [FLT_MIN, 1], got {alpha}")
    return slope


def conv2d_options(
    *, kernel_h, kernel_w, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, padding="VALID",
    groups=1, **common,
) -> bytes:
    """FlexBuffer custom options of a BitliteConv2D op (keys as in FORMAT.md).

    groups > 1 is a grouped convolution (depthwise: groups = in_channels); each weight row
    then holds kernel_h * kernel_w * in_channels / groups codes.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    geometry = dict(kernel_h=kernel_h, kernel_w=kernel_w, stride_h=stride_h, stride_w=stride_w,
                    dilation_h=dilation_h, dilation_w=dilation_w, groups=groups)
    for key, value in geometry.items():
        if int(value) < 1:
            raise ValueError(f"{key} must be >= 1, got {value}")
    in_channels, out_channels = int(common["in_channels"]), int(common["out_channels"])
    if in_channels % int(groups) or out_channels % int(groups):
        raise ValueError(f"groups = {groups} must divide in_channels = {in_channels} and "
                         f"out_channels = {out_channels}")
    options = _common_options(**common)
    options.update({key: int(value) for key, value in geometry.items()}, padding=padding)
    return bytes(flexbuffers.Dumps(options))


def transpose_pads(kernel: int, stride: int, padding: str, output_padding) -> tuple[int, int]:
    """(pad before, pad after) of one axis of a BitliteConv2DTranspose for Keras'
    Conv2DTranspose (dilation 1): the padding tf.nn.conv2d_transpose gives an output of Keras'
    deconv_output_length (FORMAT.md "BitliteConv2DTranspose"). output_padding None or int."""
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    if output_padding is None:
        if padding == "valid":
            return 0, min(kernel - stride, 0)
        before = max(kernel - stride, 0) // 2
        return before, kernel - stride - before
    if padding == "valid":
        return 0, -output_padding
    total = 2 * (kernel // 2) - output_padding
    before = max(total, 0) // 2
    return before, total - before


def conv2d_transpose_options(
    *, kernel_h, kernel_w, stride_h=1, stride_w=1, pad_top=0, pad_bottom=0, pad_left=0,
    pad_right=0, **common,
) -> bytes:
    """FlexBuffer custom options of a BitliteConv2DTranspose op (keys as in FORMAT.md); the
    pads are the transposed convolution's (transpose_pads)."""
    for key, value in dict(kernel_h=kernel_h, kernel_w=kernel_w, stride_h=stride_h,
                           stride_w=stride_w).items():
        if int(value) < 1:
            raise ValueError(f"{key} must be >= 1, got {value}")
    for key, value, lowest in (("pad_top", pad_top, 0), ("pad_left", pad_left, 0),
                               ("pad_bottom", pad_bottom, 1 - int(stride_h)),
                               ("pad_right", pad_right, 1 - int(stride_w))):
        if int(value) < lowest:
            raise ValueError(f"{key} must be >= {lowest}, got {value}")
    options = _common_options(**common)
    options.update(kernel_h=int(kernel_h), kernel_w=int(kernel_w), stride_h=int(stride_h),
                   stride_w=int(stride_w), pad_top=int(pad_top), pad_bottom=int(pad_bottom),
                   pad_left=int(pad_left), pad_right=int(pad_right))
    return bytes(flexbuffers.Dumps(options))


def fully_connected_options(**common) -> bytes:
    """FlexBuffer custom options of a BitliteFullyConnected op (keys as in FORMAT.md)."""
    return bytes(flexbuffers.Dumps(_common_options(**common)))


def decode_options(data: bytes) -> dict:
    """Decodes custom options back to a dict (blobs become float32 arrays), for `bitlite info`."""
    options = flexbuffers.Loads(bytearray(data))
    for key in ("multiplier", "offset"):
        if key in options:
            options[key] = np.frombuffer(bytes(options[key]), dtype="<f4")
    return options
