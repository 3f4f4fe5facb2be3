"""Grouped and depthwise BitliteConv2D (FORMAT.md "Groups"): delegate vs reference, bit for bit.

The reference itself is first checked against TensorFlow's depthwise and per-group convolutions,
so a wrong group-to-channel mapping in both the oracle and the delegate cannot hide.
Every delegate case runs under tf.lite and ai_edge_litert (the `runtime` fixture).
"""

import numpy as np
import pytest
import tensorflow as tf

from bitlite.converter import custom_ops

from support import cases
from support import reference as ref
from support.cases import PAIRS, check, check_exact, pair_id


# ---------------------------------------------------------------------------------------------
# The oracle against TensorFlow
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("multiplier", [1, 2, 3])
@pytest.mark.parametrize("stride,dilation,padding", [
    (1, 1, "SAME"), (2, 1, "VALID"), (1, 2, "SAME"), (2, 1, "SAME")])
def test_reference_depthwise_matches_tf(multiplier, stride, dilation, padding, rng):
    c_in, kh, kw = 3, 3, 2
    qx = rng.integers(-8, 8, size=(2, 7, 6, c_in))
    qw = rng.integers(-8, 8, size=(c_in * multiplier, kh, kw, 1))
    ours = ref.conv2d_accumulator(qx, qw, stride_h=stride, stride_w=stride, dilation_h=dilation,
                                  dilation_w=dilation, padding=padding, groups=c_in)
    # TF's depthwise filter is [KH, KW, C_in, M] and output channel ci * M + m.
    filters = qw.reshape(c_in, multiplier, kh, kw).transpose(2, 3, 0, 1).astype(np.float64)
    theirs = tf.nn.depthwise_conv2d(qx.astype(np.float64), filters,
                                    strides=[1, stride, stride, 1], padding=padding,
                                    dilations=[dilation, dilation]).numpy()
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("groups,c_in,c_out", [(2, 4, 6), (3, 6, 3), (4, 8, 8)])
def test_reference_grouped_matches_tf_per_group(groups, c_in, c_out, rng):
    qx = rng.integers(-8, 8, size=(2, 6, 5, c_in))
    qw = rng.integers(-8, 8, size=(c_out, 3, 3, c_in // groups))
    ours = ref.conv2d_accumulator(qx, qw, padding="SAME", groups=groups)
    # One ordinary convolution per group, concatenated along channels.
    step_in, step_out = c_in // groups, c_out // groups
    parts = [
        tf.nn.conv2d(qx[..., g * step_in:(g + 1) * step_in].astype(np.float64),
                     qw[g * step_out:(g + 1) * step_out].transpose(1, 2, 3, 0).astype(
                         np.float64), strides=1, padding="SAME").numpy()
        for g in range(groups)]
    assert np.array_equal(ours, np.concatenate(parts, axis=-1))


# ---------------------------------------------------------------------------------------------
# The options writer
# ---------------------------------------------------------------------------------------------

def _spec(**overrides):
    spec = dict(kernel_h=3, kernel_w=3, weight_bits=2, activation_bits=2,
                activation_signed=False, input_scale=0.5, in_channels=6, out_channels=4,
                activation="NONE", multiplier=[1.0] * 4, offset=[0.0] * 4)
    spec.update(overrides)
    return spec


def test_options_writer_writes_groups():
    decoded = custom_ops.decode_options(custom_ops.conv2d_options(**_spec(groups=2)))
    assert decoded["groups"] == 2


@pytest.mark.parametrize("groups,message", [(0, "groups must be >= 1"),
                                            (4, "must divide in_channels = 6"),
                                            (3, "out_channels = 4")])
def test_options_writer_rejects_bad_groups(groups, message):
    with pytest.raises(ValueError, match=message):
        custom_ops.conv2d_options(**_spec(groups=groups))


# ---------------------------------------------------------------------------------------------
# Delegate vs reference
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("multiplier", [1, 2, 3])
def test_depthwise_every_bit_pair(pair, multiplier, runtime, rng, delegate_library):
    c_in = int(rng.choice([1, 3, 5]))
    geometry = dict(c_in=c_in, c_out=c_in * multiplier, groups=c_in, kernel_h=3, kernel_w=3,
                    height=5, width=4, padding=str(rng.choice(["SAME", "VALID"])))
    check_exact(cases.conv_case(rng, *pair, exact=True, **geometry), runtime)
    check(cases.conv_case(rng, *pair, exact=False, **geometry), runtime)


@pytest.mark.parametrize("pair", PAIRS[::3], ids=pair_id)
def test_grouped_random_geometry(pair, runtime, rng, delegate_library):
    geometry = cases.random_conv_geometry(rng)
    groups = int(rng.choice([2, 3, 4]))
    geometry.update(groups=groups, c_in=groups * int(rng.integers(1, 6)),
                    c_out=groups * int(rng.integers(1, 4)))
    check_exact(cases.conv_case(rng, *pair, exact=True, **geometry), runtime)
    check(cases.conv_case(rng, *pair, exact=False, **geometry), runtime)


GROUPED_GEOMETRIES = {
    "depthwise_3x3_stride2_same": dict(c_in=4, c_out=4, groups=4, stride_h=2, stride_w=2,
                                       height=7, width=8),
    "depthwise_m2_3x3_stride2_valid": dict(c_in=3, c_out=6, groups=3, stride_h=2, stride_w=2,
                                           height=9, width=7, padding="VALID"),
    "depthwise_m3_dilation2_same": dict(c_in=2, c_out=6, groups=2, dilation_h=2, dilation_w=2,
                                        height=7, width=7),
    "depthwise_5x5_dilation2_stride2": dict(c_in=5, c_out=5, groups=5, kernel_h=5, kernel_w=5,
                                            dilation_h=2, dilation_w=2, stride_h=2,
                                            stride_w=2, height=11, width=10),
    "depthwise_1x1_wide": dict(c_in=65, c_out=130, groups=65, kernel_h=1, kernel_w=1,
                               height=2, width=3),
    "grouped_g2_1x1_pointwise": dict(c_in=8, c_out=6, groups=2, kernel_h=1, kernel_w=1),
    "grouped_g4_3x3_valid_batch3": dict(c_in=8, c_out=12, groups=4, batch=3, padding="VALID"),
    "grouped_g3_kernel_larger_than_input": dict(c_in=9, c_out=3, groups=3, kernel_h=5,
                                                kernel_w=5, height=3, width=2),
}


@pytest.mark.parametrize("name", sorted(GROUPED_GEOMETRIES))
def test_grouped_geometry(name, runtime, rng, delegate_library):
    pair = PAIRS[sorted(GROUPED_GEOMETRIES).index(name) * 5 % len(PAIRS)]
    check_exact(cases.conv_case(rng, *pair, exact=True, **GROUPED_GEOMETRIES[name]), runtime)
    check(cases.conv_case(rng, *pair, exact=False, **GROUPED_GEOMETRIES[name]), runtime)


def test_groups_change_the_answer(runtime, rng, delegate_library):
    # The same codes read as groups = 2 and as groups = 1 (with C_in halved) must differ:
    # a delegate that ignored `groups` would read channel 0..C_in/G of every pixel.
    case = cases.conv_case(rng, 4, 4, False, exact=True, c_in=6, c_out=4, groups=2)
    ungrouped = ref.conv2d_accumulator(
        ref.quantize_input(case.x[..., :3], case.spec["input_scale"], 4, False), case.qw,
        padding="SAME")
    assert not np.array_equal(case.acc, ungrouped)
    check_exact(case, runtime)
