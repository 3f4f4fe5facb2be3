"""Delegate output vs the independent reference (tests/support/reference.py), bit for bit.

Two kinds of check (FORMAT.md "Arithmetic"):
  * multiplier 1, offset 0, NONE: the output is float(acc), so it must equal the integer
    accumulator exactly; a wrong code, bit layout, padding or index shows up as an integer.
  * random multiplier/offset/activation: the output must be bit-identical to float32
    "multiply, round, add, round" (no tolerance: the spec forbids FMA).
Every case runs under each in-process runtime (tf.lite and ai_edge_litert).
"""

import re

import numpy as np
import pytest

from bitlite.converter import custom_ops

from support import cases
from support import reference as ref
from support import tflite_builder
from support.cases import PAIRS, check, check_exact, pair_id
from support.checks import KEEPS_CODES
from support.harness import run_model

# ---------------------------------------------------------------------------------------------
# Every bit pair, random geometry
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_conv_accumulator_exact_every_bit_pair(pair, runtime, rng, delegate_library):
    case = cases.conv_case(rng, *pair, exact=True, **cases.random_conv_geometry(rng))
    check_exact(case, runtime)


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_conv_output_stage_bit_exact_every_bit_pair(pair, runtime, rng, delegate_library):
    case = cases.conv_case(rng, *pair, exact=False, **cases.random_conv_geometry(rng))
    check(case, runtime)


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_fc_every_bit_pair(pair, runtime, rng, delegate_library):
    # Odd K (not a multiple of 8/16/32) and odd C_out; rank 2 with batch 3 via resize.
    k = int(rng.choice([1, 7, 33, 65, 127, 129, 257]))
    c_out = int(rng.choice([1, 3, 5, 9, 17]))
    check_exact(cases.fc_case(rng, *pair, exact=True, leading=(3,), k=k, c_out=c_out),
                runtime)
    check(cases.fc_case(rng, *pair, exact=False, leading=(3,), k=k, c_out=c_out), runtime)


# ---------------------------------------------------------------------------------------------
# Geometry, one feature at a time (bit pairs rotate so each geometry meets a different one)
# ---------------------------------------------------------------------------------------------

GEOMETRIES = {
    "1x1_cin1": dict(kernel_h=1, kernel_w=1, c_in=1, c_out=1, height=3, width=4),
    "1x1_cin65": dict(kernel_h=1, kernel_w=1, c_in=65, c_out=7, height=2, width=3),
    "3x3_same_cin3": dict(kernel_h=3, kernel_w=3, c_in=3, c_out=5, padding="SAME"),
    "3x3_valid_cin7": dict(kernel_h=3, kernel_w=3, c_in=7, c_out=3, padding="VALID"),
    "5x5_same_cin17": dict(kernel_h=5, kernel_w=5, c_in=17, c_out=9, height=7, width=6),
    "5x5_valid_cin33": dict(kernel_h=5, kernel_w=5, c_in=33, c_out=3, height=7, width=5,
                            padding="VALID"),
    "1x3_same": dict(kernel_h=1, kernel_w=3, c_in=7, c_out=3),
    "3x1_valid": dict(kernel_h=3, kernel_w=1, c_in=3, c_out=7, padding="VALID"),
    "5x3_stride2_same": dict(kernel_h=5, kernel_w=3, c_in=3, stride_h=2, stride_w=2,
                             height=9, width=8),
    "3x3_stride2_same_even": dict(kernel_h=3, kernel_w=3, stride_h=2, stride_w=2,
                                  height=8, width=6),    # SAME: extra pad row goes to bottom
    "3x3_stride2_valid": dict(kernel_h=3, kernel_w=3, c_in=17, stride_h=2, stride_w=2,
                              height=7, width=8, padding="VALID"),
    "3x3_stride3_same": dict(kernel_h=3, kernel_w=3, stride_h=3, stride_w=3, height=10,
                             width=8),
    "3x3_stride3x1_valid": dict(kernel_h=3, kernel_w=3, stride_h=3, stride_w=1, height=10,
                                width=6, padding="VALID"),
    "3x3_dilation2_same": dict(kernel_h=3, kernel_w=3, c_in=7, dilation_h=2, dilation_w=2,
                               height=7, width=7),
    "3x3_dilation2_valid": dict(kernel_h=3, kernel_w=3, dilation_h=2, dilation_w=2,
                                height=7, width=8, padding="VALID"),
    "3x3_dilation2_stride2_same": dict(kernel_h=3, kernel_w=3, dilation_h=2, dilation_w=2,
                                       stride_h=2, stride_w=2, height=9, width=8),
    "3x5_dilation2x1_stride1x2": dict(kernel_h=3, kernel_w=5, dilation_h=2, dilation_w=1,
                                      stride_h=1, stride_w=2, height=8, width=9),
    "5x5_kernel_larger_than_input_same": dict(kernel_h=5, kernel_w=5, height=3, width=2),
    "3x3_batch3": dict(kernel_h=3, kernel_w=3, c_in=3, batch=3),
    "3x3_batch2_stride2_valid": dict(kernel_h=3, kernel_w=3, c_in=33, batch=2, stride_h=2,
                                     stride_w=2, padding="VALID", height=7, width=7),
}


@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_conv_geometry(name, runtime, rng, delegate_library):
    pair = PAIRS[sorted(GEOMETRIES).index(name) * 7 % len(PAIRS)]
    check_exact(cases.conv_case(rng, *pair, exact=True, **GEOMETRIES[name]), runtime)
    check(cases.conv_case(rng, *pair, exact=False, **GEOMETRIES[name]), runtime)


# ---------------------------------------------------------------------------------------------
# Fully connected shapes
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("leading,declared", [
    ((1,), None),            # rank 2, batch 1
    ((5,), None),            # rank 2, batch 5 via resize
    ((1, 4), None),          # rank 3
    ((3, 2), None),          # rank 3, batch resized
    ((2, 3, 2), None),       # rank 4: every leading dim folds into N
], ids=lambda v: "x".join(map(str, v)) if v else "default")
def test_fc_ranks(leading, declared, runtime, rng, delegate_library):
    pair = PAIRS[int(rng.integers(len(PAIRS)))]
    check(cases.fc_case(rng, *pair, exact=False, leading=leading, k=33, c_out=7), runtime)
    check_exact(cases.fc_case(rng, *pair, exact=True, leading=leading, k=19, c_out=3), runtime)


# ---------------------------------------------------------------------------------------------
# The input quantizer, one grid at a time
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [1, 2, 3, 4])
@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("scale", [0.25, 0.1, 0.0371])
def test_input_quantization_grid(bits, signed, scale, runtime, rng, delegate_library):
    # A 1x1 conv with one weight +1 and multiplier 1 reads the input codes out directly.
    scale = np.float32(scale)
    lo, hi = ref.activation_grid(bits, signed)
    k = np.arange(lo - 3, hi + 3, dtype=np.float32)
    ties = ((k + np.float32(0.5)) * scale).astype(np.float32)
    values = np.concatenate([
        (k * scale).astype(np.float32), ties,
        np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf)),
        np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e30, -1e30,
                  np.finfo(np.float32).max, -np.finfo(np.float32).max], np.float32),
        cases.make_input(rng, (64,), scale, bits, signed).ravel(),
    ]).astype(np.float32)
    spec = dict(weight_bits=2, activation_bits=bits, activation_signed=signed,
                input_scale=float(scale), in_channels=1, out_channels=1, kernel_h=1,
                kernel_w=1, activation="NONE", multiplier=[1.0], offset=[0.0])
    packed = custom_ops.pack_weights(np.array([[1]]), 2)
    x = values.reshape(1, 1, -1, 1)
    model = tflite_builder.conv_model(list(x.shape), packed, spec,
                                      custom_ops.conv2d_options(**spec))
    out = run_model(model, x, runtime).ravel()
    codes = ref.quantize_input(values, scale, bits, signed)
    bad = np.flatnonzero(out != codes)
    assert bad.size == 0, [(values[i], out[i], codes[i]) for i in bad[:10]]


# ---------------------------------------------------------------------------------------------
# Output stage details
# ---------------------------------------------------------------------------------------------

def test_output_stage_is_not_fused(runtime, rng, delegate_library):
    # Multipliers 1 + j * 2^-23 and offsets near -acc make "round(acc*m) + off" differ from a
    # fused multiply-add on most outputs, so an FMA anywhere in the kernel cannot hide.
    case = cases.conv_case(rng, 4, 4, False, exact=True, kernel_h=3, kernel_w=3, c_in=7,
                           c_out=9, height=5, width=5)
    spec = dict(case.spec,
                multiplier=(1 + np.arange(1, 10) * 2.0**-23).astype(np.float32),
                offset=np.full(9, -np.median(case.acc), np.float32))
    fused = (case.acc * spec["multiplier"].astype(np.float64) + spec["offset"]).astype(
        np.float32)
    expected = ref.conv2d(case.x, case.qw, **spec)
    assert (fused != expected).mean() > 0.1, "the case must tell FMA from two roundings"
    packed = custom_ops.pack_weights(ref.conv_weight_matrix(case.qw), 4)
    model = tflite_builder.conv_model([1, 5, 5, 7], packed, spec,
                                      custom_ops.conv2d_options(**spec))
    out = run_model(model, case.x, runtime)
    assert np.array_equal(out, expected), f"{(out != expected).sum()} outputs differ"


@pytest.mark.parametrize("activation, alpha", [
    ("NONE", None), ("RELU", None), ("RELU6", None), ("LEAKY_RELU", 0.1), ("LEAKY_RELU", 1.0),
    ("LEAKY_RELU", float(np.finfo(np.float32).tiny))])
def test_activations(activation, alpha, runtime, rng, delegate_library):
    # Offsets put outputs below 0, inside (0, 6) and above 6 so each clip point matters; the
    # smallest slope (FLT_MIN) makes subnormal outputs, which FORMAT.md's IEEE arithmetic keeps
    # (TensorFlow would flush them: cc/FORMAT.md "Where it stops").
    case = cases.fc_case(rng, 2, 2, True, exact=True, leading=(4,), k=9, c_out=5)
    spec = dict(case.spec, activation=activation, multiplier=np.full(5, 1.7, np.float32),
                offset=np.float32([-3, 0, 3, 5.5, 9]))
    if alpha is not None:
        spec["alpha"] = alpha
    model = tflite_builder.fc_model([1, 9], custom_ops.pack_weights(case.qw, 2), spec,
                                    custom_ops.fully_connected_options(**spec))
    expected = ref.fully_connected(case.x, case.qw, **spec)
    out = run_model(model, case.x, runtime)
    assert np.array_equal(out, expected)
    if activation == "LEAKY_RELU":
        assert (out < 0).any() and np.array_equal(out < 0, expected < 0)
    elif activation != "NONE":
        assert out.min() >= 0
    if activation == "RELU6":
        assert out.max() <= 6


# ---------------------------------------------------------------------------------------------
# Interpreter life cycle and threads
# ---------------------------------------------------------------------------------------------

def test_resize_between_invokes(runtime, rng, delegate_library):
    # Prepare must run again after resize_tensor_input (batch 1 -> 4 -> 2) on one interpreter.
    from bitlite import delegate

    case = cases.conv_case(rng, 3, 2, False, exact=False, kernel_h=3, kernel_w=3, c_in=5,
                           c_out=3, stride_h=2, stride_w=2)
    interpreter = delegate.Interpreter(model_content=case.model, runtime=runtime)
    index = interpreter.get_input_details()[0]["index"]
    out_index = interpreter.get_output_details()[0]["index"]
    for batch in (1, 4, 2):
        x = cases.make_input(rng, (batch, 6, 5, 5), case.spec["input_scale"], 2, False)
        interpreter.resize_tensor_input(index, list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        out = interpreter.get_tensor(out_index)
        assert np.array_equal(out, ref.conv2d(x, case.qw, **case.spec)), f"batch {batch}"


def test_ops_reading_each_others_codes_match_the_reference(runtime, rng, delegate_library,
                                                           capfd):
    # tflite_builder.conv_chain_model (bench/kernels' layers between two bitlite ops): a 3x3
    # conv W2A2, a 1x1 W3A3 and a 3x3 depthwise W4A4 one after another in one partition, where
    # the CPUs that keep codes between ops (cc/FORMAT.md "Codes between ops") pass codes of
    # 2, 3 and 4 bits; bit for bit the reference of the three in turn, at batch 1 and 3.
    shapes = [("conv", 5, 16, 3, 2, 2), ("conv", 16, 24, 1, 3, 3), ("depthwise", 24, 24, 3, 4, 4)]
    layers, codes = [], []
    for kind, c_in, c_out, kernel, weight_bits, activation_bits in shapes:
        groups = c_in if kind == "depthwise" else 1
        qw = ref.random_weight_codes(rng, weight_bits, (c_out, kernel, kernel, c_in // groups))
        spec = dict(weight_bits=weight_bits, activation_bits=activation_bits,
                    activation_signed=False, input_scale=float(rng.uniform(0.05, 0.5)),
                    in_channels=c_in, out_channels=c_out, kernel_h=kernel, kernel_w=kernel,
                    padding="SAME", groups=groups, activation="RELU",
                    multiplier=rng.uniform(0.01, 0.2, c_out).astype(np.float32),
                    offset=rng.normal(0.0, 0.5, c_out).astype(np.float32))
        packed = custom_ops.pack_weights(ref.conv_weight_matrix(qw), weight_bits)
        layers.append((packed, spec, custom_ops.conv2d_options(**spec)))
        codes.append(qw)
    model = tflite_builder.conv_chain_model([1, 7, 6, 5], layers)
    capfd.readouterr()
    for batch in (1, 3):
        x = rng.normal(0.0, 1.0, (batch, 7, 6, 5)).astype(np.float32)
        expected = x
        for (_, spec, _), qw in zip(layers, codes):
            expected = ref.conv2d(expected, qw, **spec)
        out = run_model(model, x, runtime, delegate_options={"verbose": "true"})
        assert out.tobytes() == expected.tobytes(), f"batch {batch}"
        kept = re.findall(r"internal tensors \((\d+) as codes", capfd.readouterr().err)
        assert len(kept) == 1 and (kept[0] == "2" or not KEEPS_CODES), kept


def test_model_path_matches_reference(runtime, rng, delegate_library, tmp_path):
    # From a file the weight tensor points into the mmapped model (kTfLiteMmapRo), not a copy.
    case = cases.conv_case(rng, 2, 4, True, exact=False, c_in=7, c_out=5, kernel_h=3,
                           kernel_w=3, batch=2)
    path = tmp_path / "conv.tflite"
    path.write_bytes(case.model)
    out = run_model(path, case.x, runtime)
    assert np.array_equal(out, case.expected), cases.mismatch_report(out, case.expected, case)


@pytest.mark.parametrize("threads", [
    dict(num_threads=2),                                  # interpreter threads
    dict(delegate_options={"num_threads": "3"}),          # delegate's own option
    dict(num_threads=4, delegate_options={"num_threads": "2"}),
], ids=["interpreter2", "delegate3", "both"])
def test_threads_give_identical_results(threads, runtime, rng, delegate_library):
    # Large enough that any work split across threads has several pieces.
    case = cases.conv_case(rng, 2, 3, True, exact=False, batch=2, height=13, width=11,
                           c_in=17, c_out=33, kernel_h=3, kernel_w=3)
    check(case, runtime, **threads)


def _constant_4bit_rows(codes, k):
    """Packed 4-bit rows where row r is K copies of codes[r], built without pack_weights'
    int64 temporaries (which would need gigabytes at K = 17.9M)."""
    rows = []
    for code in codes:
        u = code + 8                                   # offset binary
        row = np.full(-(-k // 2), u | (u << 4), np.uint8)
        if k % 2:
            row[-1] = u                                # unused high nibble stays 0
        rows.append(row)
    return np.stack(rows)


def test_constant_4bit_rows_helper_matches_writer():
    small = _constant_4bit_rows([-8, 7, -3], 7)
    assert np.array_equal(small, custom_ops.pack_weights(
        np.repeat(np.array([[-8], [7], [-3]]), 7, axis=1), 4))


def test_accumulator_at_int32_limit(runtime, delegate_library):
    # FORMAT.md: the delegate rejects only layers where K*max|qw|*max|qx| could overflow int32.
    # W4 x A4 unsigned: 8 * 15 = 120 per term; K = 17895697 gives |acc| <= 2147483640, allowed.
    # Row 0 all -8 and row 1 all +7 against inputs clipped to code 15 reach the bound.
    k = (2**31 - 1) // 120
    assert k * 120 <= 2**31 - 1 < (k + 1) * 120
    spec = dict(weight_bits=4, activation_bits=4, activation_signed=False, input_scale=1.0,
                in_channels=k, out_channels=2, activation="NONE", multiplier=[1.0, 1.0],
                offset=[0.0, 0.0])
    model = tflite_builder.fc_model([1, k], _constant_4bit_rows([-8, 7], k), spec,
                                    custom_ops.fully_connected_options(**spec))
    x = np.full((1, k), 1000.0, np.float32)                # clips to code 15
    out = run_model(model, x, runtime)
    expected = np.array([[-120 * k, 105 * k]], np.int64).astype(np.float32)
    assert np.array_equal(out, expected), (out, expected)
