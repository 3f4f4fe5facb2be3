"""Independent NumPy reference of the bitlite op arithmetic (cc/FORMAT.md, version 1).

Written from the spec only: it shares no code with the delegate or the converter, so a bug
in either shows up as a mismatch here. It favours plain, obviously-correct loops over speed;
tests keep shapes small.

Parameters use the FORMAT.md key names, so a test can pass the same keyword dict to
`custom_ops.conv2d_options(**spec)` (the model) and to `conv2d(x, qw, **spec)` (this file).
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("NONE", "RELU", "RELU6", "LEAKY_RELU")


# ---------------------------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------------------------

def activation_grid(bits: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest input code of a grid (signed 1 bit means the codes -1 and +1)."""
    if not signed:
        return 0, 2**bits - 1
    if bits == 1:
        return -1, 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def weight_grid(bits: int) -> tuple[int, int]:
    """Smallest and largest weight code (1 bit means the codes -1 and +1)."""
    if bits == 1:
        return -1, 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def random_weight_codes(rng: np.random.Generator, bits: int, shape) -> np.ndarray:
    """Uniform random codes on the weight grid (1 bit draws only -1 and +1)."""
    if bits == 1:
        return rng.choice(np.array([-1, 1]), size=shape)
    lo, hi = weight_grid(bits)
    return rng.integers(lo, hi + 1, size=shape)


def quantize_input(x, input_scale: float, activation_bits: int,
                   activation_signed: bool) -> np.ndarray:
    """Input float32 values -> int64 codes, exactly as FORMAT.md "Quantization grids" says."""
    x = np.asarray(x, dtype=np.float32)
    nan = np.isnan(x)
    if activation_signed and activation_bits == 1:
        # Sign grid: -1 only at or below -FLT_MIN; 0, -0, negative denormals and NaN are +1.
        negative = ~nan & (x <= -np.finfo(np.float32).tiny)
        return np.where(negative, -1, 1).astype(np.int64)
    lo, hi = activation_grid(activation_bits, activation_signed)
    # One IEEE float32 division, then round-half-to-even (np.rint is nearbyint).
    with np.errstate(over="ignore"):                 # huge x / small s is +-inf: fine, clips
        ratio = np.divide(x, np.float32(input_scale), dtype=np.float32)
    rounded = np.rint(ratio)
    # Clip while still a float (so +-inf clip too), and keep NaN away from the int cast.
    clipped = np.clip(np.where(nan, np.float32(0), rounded), lo, hi)
    return clipped.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Packed weights (read one bit at a time, independently of custom_ops.pack_weights)
# ---------------------------------------------------------------------------------------------

def unpack_rows(packed: np.ndarray, bits: int, k: int) -> np.ndarray:
    """uint8 rows [C_out, row_bytes] -> signed codes [C_out, K], one bit at a time."""
    packed = np.asarray(packed, dtype=np.uint8)
    codes = np.zeros((packed.shape[0], k), dtype=np.int64)
    for row in range(packed.shape[0]):
        for index in range(k):
            stored = 0
            for bit in range(bits):
                position = index * bits + bit          # bit position in the row's stream
                byte = int(packed[row, position // 8])
                stored |= ((byte >> (position % 8)) & 1) << bit
            if bits == 1:
                codes[row, index] = 1 if stored else -1
            else:
                codes[row, index] = stored - 2 ** (bits - 1)
    return codes


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------

def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def output_size_and_pad(size: int, kernel: int, stride: int, dilation: int,
                        padding: str) -> tuple[int, int]:
    """(output size, padding before) along one spatial axis."""
    if padding == "VALID":
        return _ceil_div(size - (kernel - 1) * dilation, stride), 0
    if padding == "SAME":
        out = _ceil_div(size, stride)
        total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
        return out, total // 2        # the odd extra row/column goes after (TensorFlow)
    raise ValueError(f"padding {padding!r}")


def conv2d_accumulator(qx: np.ndarray, qw: np.ndarray, *, stride_h=1, stride_w=1,
                       dilation_h=1, dilation_w=1, padding="VALID", groups=1) -> np.ndarray:
    """Integer convolution: qx [N, H, W, C_in], qw [C_out, KH, KW, C_in / groups] -> acc int64.

    With groups G, output channel c reads the input channels of group c // (C_out / G).
    """
    qx = np.asarray(qx, dtype=np.int64)
    qw = np.asarray(qw, dtype=np.int64)
    n, h, w, c_in = qx.shape
    c_out, kh_size, kw_size, wc_in = qw.shape
    assert c_in % groups == 0 and c_out % groups == 0 and wc_in == c_in // groups, \
        (qw.shape, qx.shape, groups)
    # Input channel that each (output channel, in-group channel) pair reads.
    group_of_output = np.arange(c_out) // (c_out // groups)
    channel = group_of_output[:, None] * wc_in + np.arange(wc_in)[None, :]     # [C_out, C_in/G]
    oh_size, pad_top = output_size_and_pad(h, kh_size, stride_h, dilation_h, padding)
    ow_size, pad_left = output_size_and_pad(w, kw_size, stride_w, dilation_w, padding)
    assert oh_size > 0 and ow_size > 0, "empty output"
    acc = np.zeros((n, oh_size, ow_size, c_out), dtype=np.int64)
    oh = np.arange(oh_size)[:, None]
    ow = np.arange(ow_size)[None, :]
    for kh in range(kh_size):
        for kw in range(kw_size):
            ih = oh * stride_h - pad_top + kh * dilation_h         # [OH, 1]
            iw = ow * stride_w - pad_left + kw * dilation_w        # [1, OW]
            inside = (ih >= 0) & (ih < h) & (iw >= 0) & (iw < w)   # [OH, OW]
            # Gather with clamped indices, then zero what lies in the padding.
            patch = qx[:, np.clip(ih, 0, h - 1), np.clip(iw, 0, w - 1), :]   # [N, OH, OW, C_in]
            patch = patch * inside[None, :, :, None]
            per_output = patch[..., channel]                    # [N, OH, OW, C_out, C_in/G]
            acc += np.einsum("nhwoc,oc->nhwo", per_output, qw[:, kh, kw, :])
    return acc


# ---------------------------------------------------------------------------------------------
# Output stage and full ops
# ---------------------------------------------------------------------------------------------

def output_stage(acc: np.ndarray, multiplier, offset, activation: str,
                 alpha=None) -> np.ndarray:
    """float(acc) * multiplier, then + offset, each rounded to float32 (no FMA); activation
    (LEAKY_RELU's slope `alpha`)."""
    multiplier = np.asarray(multiplier, dtype=np.float32)
    offset = np.asarray(offset, dtype=np.float32)
    y = np.asarray(acc).astype(np.float32)
    y = np.multiply(y, multiplier, dtype=np.float32)
    y = np.add(y, offset, dtype=np.float32)
    if activation == "RELU":
        y = np.maximum(y, np.float32(0))
    elif activation == "RELU6":
        y = np.minimum(np.maximum(y, np.float32(0)), np.float32(6))
    elif activation == "LEAKY_RELU":
        y = np.where(y > 0, y, np.multiply(y, np.float32(alpha), dtype=np.float32))
    elif activation != "NONE":
        raise ValueError(f"activation {activation!r}")
    return y.astype(np.float32)


def conv2d(x, qw, *, weight_bits, activation_bits, activation_signed, input_scale,
           in_channels, out_channels, kernel_h, kernel_w, stride_h=1, stride_w=1,
           dilation_h=1, dilation_w=1, padding="VALID", groups=1, activation="NONE",
           alpha=None, multiplier, offset) -> np.ndarray:
    """BitliteConv2D on float32 NHWC x with weight codes qw [C_out, KH, KW, C_in / groups]."""
    qw = np.asarray(qw)
    assert qw.shape == (out_channels, kernel_h, kernel_w, in_channels // groups), qw.shape
    lo, hi = weight_grid(weight_bits)
    assert qw.min() >= lo and qw.max() <= hi and (weight_bits > 1 or not (qw == 0).any())
    qx = quantize_input(x, input_scale, activation_bits, activation_signed)
    acc = conv2d_accumulator(qx, qw, stride_h=stride_h, stride_w=stride_w,
                             dilation_h=dilation_h, dilation_w=dilation_w, padding=padding,
                             groups=groups)
    return output_stage(acc, multiplier, offset, activation, alpha)


def fully_connected(x, qw, *, in_channels, out_channels, **spec) -> np.ndarray:
    """BitliteFullyConnected on float32 x [..., K] with weight codes qw [C_out, K]."""
    x = np.asarray(x, dtype=np.float32)
    assert x.shape[-1] == in_channels and qw.shape == (out_channels, in_channels)
    leading = x.shape[:-1]
    # FORMAT.md: a 1x1 convolution with every leading dimension folded into N.
    x4 = x.reshape(-1, 1, 1, in_channels)
    y = conv2d(x4, np.asarray(qw).reshape(out_channels, 1, 1, in_channels),
               in_channels=in_channels, out_channels=out_channels, kernel_h=1, kernel_w=1,
               **spec)
    return y.reshape(*leading, out_channels)


def conv_weight_matrix(qw: np.ndarray) -> np.ndarray:
    """[C_out, KH, KW, C_in/G] codes -> [C_out, K], FORMAT.md order k=(kh*KW+kw)*(C_in/G)+ci."""
    qw = np.asarray(qw)
    return qw.reshape(qw.shape[0], -1)


def max_abs_accumulator_term(weight_bits: int, activation_bits: int, signed: bool) -> int:
    """max|qw| * max|qx|, the per-term bound FORMAT.md uses for the int32 overflow rule."""
    w_lo, w_hi = weight_grid(weight_bits)
    a_lo, a_hi = activation_grid(activation_bits, signed)
    return max(abs(w_lo), abs(w_hi)) * max(abs(a_lo), abs(a_hi))
