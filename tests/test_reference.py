"""Checks the test oracle itself (tests/support/reference.py) against TensorFlow's own ops.

If the reference were wrong, every kernel test would compare against the wrong answer; TF's
conv2d and round/clip are implementations nobody in this project wrote.
"""

import numpy as np
import pytest
import tensorflow as tf

from support import reference as ref


def _tf_accumulator(qx, qw, stride_h, stride_w, dilation_h, dilation_w, padding):
    """Integer conv through tf.nn.conv2d in float64 (exact for these small integers).

    TF's CPU conv refuses stride > 1 together with dilation > 1, so the dilation is spelled
    out by inserting zeros into the kernel: same effective size, same TF padding rule.
    """
    c_out, kh, kw, c_in = qw.shape
    dilated = np.zeros((c_out, (kh - 1) * dilation_h + 1, (kw - 1) * dilation_w + 1, c_in))
    dilated[:, ::dilation_h, ::dilation_w, :] = qw
    filters = np.transpose(dilated, (1, 2, 3, 0))            # TF wants [KH, KW, C_in, C_out]
    out = tf.nn.conv2d(qx.astype(np.float64), filters, strides=[1, stride_h, stride_w, 1],
                       padding=padding)
    return out.numpy()


GEOMETRIES = [
    # (H, W, C_in, C_out, KH, KW, stride_h, stride_w, dilation_h, dilation_w, padding)
    (5, 5, 3, 2, 3, 3, 1, 1, 1, 1, "SAME"),
    (6, 7, 1, 3, 3, 3, 2, 2, 1, 1, "SAME"),
    (7, 6, 5, 4, 5, 3, 2, 3, 1, 1, "SAME"),
    (9, 8, 3, 2, 3, 3, 2, 2, 2, 2, "SAME"),
    (8, 9, 2, 3, 3, 1, 3, 1, 2, 1, "SAME"),
    (7, 7, 3, 2, 3, 3, 1, 1, 1, 1, "VALID"),
    (9, 10, 4, 3, 3, 5, 2, 3, 2, 1, "VALID"),
    (10, 9, 1, 1, 2, 4, 3, 2, 1, 2, "VALID"),
    (4, 4, 2, 2, 5, 5, 1, 1, 1, 1, "SAME"),   # kernel larger than the input
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "x".join(map(str, g)))
def test_reference_conv_matches_tf_conv2d(geometry, rng):
    h, w, c_in, c_out, kh, kw, sh, sw, dh, dw, padding = geometry
    qx = rng.integers(-8, 8, size=(2, h, w, c_in))
    qw = rng.integers(-8, 8, size=(c_out, kh, kw, c_in))
    ours = ref.conv2d_accumulator(qx, qw, stride_h=sh, stride_w=sw, dilation_h=dh,
                                  dilation_w=dw, padding=padding)
    theirs = _tf_accumulator(qx, qw, sh, sw, dh, dw, padding)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
@pytest.mark.parametrize("signed", [False, True])
def test_reference_quantization_matches_tf_round_clip(bits, signed, rng):
    scale = np.float32(0.3)
    lo, hi = ref.activation_grid(bits, signed)
    k = rng.integers(lo - 3, hi + 3, size=500)
    ties = ((k + 0.5) * scale).astype(np.float32)
    x = np.concatenate([ties, rng.normal(0, hi * scale, size=500).astype(np.float32)])
    ours = ref.quantize_input(x, scale, bits, signed)
    if signed and bits == 1:
        theirs = tf.where(x >= 0, 1, -1).numpy()
    else:
        theirs = tf.clip_by_value(tf.round(tf.constant(x) / scale), lo, hi).numpy()
    assert np.array_equal(ours, theirs)


def test_reference_quantization_special_values():
    # Spelled out from FORMAT.md: NaN -> 0 (sign grid: +1); +-inf clip; -0.0 is >= 0.
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.5, 1.5, 2.5, -0.5], np.float32)
    assert ref.quantize_input(x, 1.0, 2, False).tolist() == [0, 3, 0, 0, 0, 2, 2, 0]
    assert ref.quantize_input(x, 1.0, 2, True).tolist() == [0, 1, -2, 0, 0, 1, 1, 0]
    assert ref.quantize_input(x, 1.0, 3, True).tolist() == [0, 3, -4, 0, 0, 2, 2, 0]
    assert ref.quantize_input(x, 1.0, 1, True).tolist() == [1, 1, -1, 1, 1, 1, 1, -1]
    assert ref.quantize_input(x, 1.0, 1, False).tolist() == [0, 1, 0, 0, 0, 1, 1, 0]
    # FORMAT.md: a negative denormal is +1 (same answer with and without flush-to-zero);
    # the smallest negative normal is -1.
    tiny = np.finfo(np.float32).tiny
    assert ref.quantize_input(np.float32([-1e-45, 1e-45, -tiny]), 1.0, 1, True).tolist() == [1, 1, -1]


def test_reference_output_stage_rounds_twice():
    # acc * m + off where a fused multiply-add would give a different float32.
    acc = np.array([3], np.int64)
    m = np.float32(1 + 2**-23)
    off = np.float32(-3)
    fused = np.float32(np.float64(3) * np.float64(m) + np.float64(off))   # exact, then round
    separate = ref.output_stage(acc, [m], [off], "NONE")[0]
    assert separate == np.float32(np.float32(3 * m) - 3)
    assert fused != separate, "example must distinguish FMA from separate roundings"


def test_reference_unpack_rows_hand_example():
    # 3-bit row [7, 0, 5, 6] stored: bytes 0x47 0x0D (worked out in test_custom_ops.py).
    assert ref.unpack_rows(np.array([[0x47, 0x0D]], np.uint8), 3, 4).tolist() == [[3, -4, 1, 2]]
