"""The format writer (converter/custom_ops.py) against cc/FORMAT.md: packing and options."""

import re
from pathlib import Path

import numpy as np
import pytest
from flatbuffers import flexbuffers

from bitlite.converter import custom_ops

from support import reference as ref

FORMAT_MD = Path(__file__).resolve().parent.parent / "cc" / "FORMAT.md"


def _stream_pack(codes, bits):
    """Straight from FORMAT.md: stored code k at stream bits k*b.., bit j -> byte j//8 bit j%8."""
    codes = np.asarray(codes)
    row_bytes = -(-codes.shape[1] * bits // 8)
    out = np.zeros((codes.shape[0], row_bytes), np.uint8)
    for r, row in enumerate(codes):
        for k, code in enumerate(row):
            stored = (code + 1) // 2 if bits == 1 else code + 2 ** (bits - 1)
            for j in range(bits):
                if (stored >> j) & 1:
                    position = k * bits + j
                    out[r, position // 8] |= 1 << (position % 8)
    return out


# ---------------------------------------------------------------------------------------------
# Packing
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("k", [1, 3, 5, 7, 9, 13, 17, 31, 33, 65])
def test_pack_unpack_round_trip(bits, k, rng):
    codes = ref.random_weight_codes(rng, bits, (5, k))
    packed = custom_ops.pack_weights(codes, bits)
    assert packed.dtype == np.uint8
    assert packed.shape == (5, -(-k * bits // 8))                 # row_bytes = ceil(K*b/8)
    assert np.array_equal(ref.unpack_rows(packed, bits, k), codes)  # independent reader
    assert np.array_equal(packed, _stream_pack(codes, bits))       # independent writer


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_pack_unused_high_bits_are_zero(bits):
    # The most positive code sets every stored bit, so any stray bit past K*b would show.
    k = 5 if bits != 4 else 3                                       # K*b not a multiple of 8
    codes = np.full((2, k), ref.weight_grid(bits)[1])
    packed = custom_ops.pack_weights(codes, bits)
    used = k * bits % 8
    assert used != 0
    assert (packed[:, -1] >> used == 0).all()


# Hand-computed rows, byte by byte (stored code u: 1 bit u=(q+1)/2, else u=q+2^(b-1)).
HAND_EXAMPLES = {
    # 1 bit, K=10: u = 1 0 0 1 1 1 0 1 | 0 1 -> byte0 LSB first 0b10111001, byte1 0b10.
    1: ([+1, -1, -1, +1, +1, +1, -1, +1, -1, +1], [0xB9, 0x02]),
    # 2 bit, K=6: u = 0 1 2 3 | 3 2 -> 0 | 1<<2 | 2<<4 | 3<<6 = 0xE4; 3 | 2<<2 = 0x0B.
    2: ([-2, -1, 0, 1, 1, 0], [0xE4, 0x0B]),
    # 3 bit, K=4: u = 7 0 5 6 -> stream bits 0-2: 111, 3-5: 000, 6-8: 101 (code 2 spans the
    # byte boundary: bits 6,7 in byte0, bit 8 in byte1), 9-11: 011 (u=6 is 0b110 LSB first).
    # byte0 = 0b01000111 = 0x47; byte1 = bit0 1, bits1-3 0,1,1 = 0b1101 = 0x0D.
    3: ([3, -4, 1, 2], [0x47, 0x0D]),
    # 4 bit, K=5: u = 0 15 8 7 13 -> 0 | 15<<4 = 0xF0; 8 | 7<<4 = 0x78; 13 = 0x0D.
    4: ([-8, 7, 0, -1, 5], [0xF0, 0x78, 0x0D]),
    # 8 bit (W8A8), K=5: one byte u = q + 128 per code.
    8: ([-128, 127, 0, -1, 28], [0x00, 0xFF, 0x80, 0x7F, 0x9C]),
}


@pytest.mark.parametrize("bits", sorted(HAND_EXAMPLES))
def test_pack_hand_computed_layout(bits):
    codes, expected = HAND_EXAMPLES[bits]
    packed = custom_ops.pack_weights(np.array([codes]), bits)
    assert packed.tolist() == [expected]
    # Rows are independent: each starts at bit 0 of its own first byte.
    two = custom_ops.pack_weights(np.array([codes, codes]), bits)
    assert two.tolist() == [expected, expected]
    assert ref.unpack_rows(packed, bits, len(codes)).tolist() == [codes]


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------

def _common(**overrides):
    common = dict(weight_bits=3, activation_bits=2, activation_signed=True,
                  input_scale=0.1, in_channels=7, out_channels=3, activation="RELU6",
                  multiplier=[0.5, -1.25, 3.0], offset=[0.0, 1.5, -2.0])
    common.update(overrides)
    return common


OPS = ("BitliteConv2D", "BitliteFullyConnected", "BitliteConv2DTranspose")
# FORMAT.md's keys written with activation LEAKY_RELU only.
LEAKY_ONLY = {"alpha"}


def _format_md_keys():
    """Key names of the FORMAT.md options table (`key` cells of its rows), per op: its `ops`
    cell is `all` or one op without the `Bitlite` prefix."""
    keys = {op: set() for op in OPS}
    for line in FORMAT_MD.read_text().splitlines():
        match = re.match(r"\|\s*(`[a-z_]+`(?:,\s*`[a-z_]+`)*)\s*\|\s*\w+\s*\|\s*(\w+)\s*\|", line)
        if not match:
            continue
        names = re.findall(r"`([a-z_]+)`", match.group(1))
        for op in OPS if match.group(2) == "all" else [f"Bitlite{match.group(2)}"]:
            keys[op].update(names)
    return keys


def test_format_md_table_parsed():
    keys = _format_md_keys()
    assert {"version", "padding", "kernel_h", "multiplier"} <= keys["BitliteConv2D"]
    assert "padding" not in keys["BitliteFullyConnected"]
    assert {"version", "stride_w", "pad_top", "pad_right"} <= keys["BitliteConv2DTranspose"]
    assert not {"padding", "groups", "dilation_h"} & keys["BitliteConv2DTranspose"]


def _transpose_options(**common_overrides) -> bytes:
    # Keras' 4x4 stride-2 'same' with output_padding 1 down the rows, 'valid' None across.
    (top, bottom), (left, right) = (custom_ops.transpose_pads(4, 2, "same", 1),
                                    custom_ops.transpose_pads(3, 3, "valid", None))
    return custom_ops.conv2d_transpose_options(
        kernel_h=4, kernel_w=3, stride_h=2, stride_w=3, pad_top=top, pad_bottom=bottom,
        pad_left=left, pad_right=right, **_common(**common_overrides))


def test_conv2d_transpose_options_encode_decode():
    decoded = custom_ops.decode_options(_transpose_options())
    assert set(decoded) == _format_md_keys()["BitliteConv2DTranspose"] - LEAKY_ONLY
    assert (decoded["kernel_h"], decoded["kernel_w"]) == (4, 3)
    assert (decoded["stride_h"], decoded["stride_w"]) == (2, 3)
    # FORMAT.md's table: same with op: before max(2 * 2 - 1, 0) // 2 = 1, after 3 - 1 = 2;
    # valid without: 0 and min(3 - 3, 0) = 0.
    assert [decoded[k] for k in ("pad_top", "pad_bottom", "pad_left", "pad_right")] == [
        1, 2, 0, 0]
    assert decoded["multiplier"].tolist() == [0.5, -1.25, 3.0]


@pytest.mark.parametrize("pads,message", [
    (dict(pad_top=-1), "pad_top must be >= 0"),
    (dict(pad_right=-3), "pad_right must be >= -2"),
    (dict(stride_h=0), "stride_h must be >= 1"),
])
def test_conv2d_transpose_options_refuse_out_of_range(pads, message):
    geometry = dict(kernel_h=3, kernel_w=3, stride_h=2, stride_w=3) | pads
    with pytest.raises(ValueError, match=message):
        custom_ops.conv2d_transpose_options(**geometry, **_common())


def test_conv2d_options_encode_decode():
    blob = custom_ops.conv2d_options(kernel_h=3, kernel_w=5, stride_h=2, stride_w=1,
                                     dilation_h=1, dilation_w=2, padding="SAME", **_common())
    decoded = custom_ops.decode_options(blob)
    assert set(decoded) == _format_md_keys()["BitliteConv2D"] - LEAKY_ONLY
    assert decoded["version"] == 1
    assert (decoded["weight_bits"], decoded["activation_bits"]) == (3, 2)
    assert decoded["activation_signed"] is True
    assert decoded["input_scale"] == float(np.float32(0.1))        # float32 value, exactly
    assert (decoded["in_channels"], decoded["out_channels"]) == (7, 3)
    assert (decoded["kernel_h"], decoded["kernel_w"]) == (3, 5)
    assert (decoded["stride_h"], decoded["stride_w"]) == (2, 1)
    assert (decoded["dilation_h"], decoded["dilation_w"]) == (1, 2)
    assert (decoded["padding"], decoded["activation"]) == ("SAME", "RELU6")
    assert decoded["groups"] == 1
    assert decoded["multiplier"].tolist() == [0.5, -1.25, 3.0]
    assert decoded["offset"].tolist() == [0.0, 1.5, -2.0]


def test_fully_connected_options_encode_decode():
    decoded = custom_ops.decode_options(custom_ops.fully_connected_options(**_common()))
    assert set(decoded) == _format_md_keys()["BitliteFullyConnected"] - LEAKY_ONLY
    assert decoded["in_channels"] == 7 and decoded["activation"] == "RELU6"


def test_leaky_relu_options_carry_alpha_as_a_float32():
    decoded = custom_ops.decode_options(custom_ops.fully_connected_options(
        **_common(activation="LEAKY_RELU", alpha=0.1)))
    assert set(decoded) == _format_md_keys()["BitliteFullyConnected"]
    assert decoded["activation"] == "LEAKY_RELU"
    assert decoded["alpha"] == float(np.float32(0.1))    # what tf.nn.leaky_relu multiplies by


def test_options_flexbuffer_types_match_format_md():
    # The C++ reader checks types; these are the FlexBuffer types FORMAT.md promises.
    blobs = [bytearray(blob) for blob in (
        custom_ops.conv2d_options(kernel_h=1, kernel_w=1, **_common()), _transpose_options(),
        custom_ops.fully_connected_options(**_common(activation="LEAKY_RELU", alpha=0.5)))]
    roots = [(set(flexbuffers.Loads(blob)), flexbuffers.GetRoot(blob).AsMap) for blob in blobs]
    kinds = {"int": "IsInt", "bool": "IsBool", "float": "IsFloat", "string": "IsString",
             "blob": "IsBlob"}
    for line in FORMAT_MD.read_text().splitlines():
        match = re.match(r"\|\s*(`[a-z_]+`(?:,\s*`[a-z_]+`)*)\s*\|\s*(\w+)\s*\|", line)
        if match and match.group(2) in kinds:
            for name in re.findall(r"`([a-z_]+)`", match.group(1)):
                root = next(root for keys, root in roots if name in keys)
                assert getattr(root[name], kinds[match.group(2)]), (name, match.group(2))
    root = roots[0][1]
    # Blobs are little-endian float32 of exactly C_out entries.
    assert len(bytes(root["multiplier"].AsBlob)) == 3 * 4


# ---------------------------------------------------------------------------------------------
# Writer errors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [0, 5, 7, 16])
def test_pack_rejects_unsupported_bits(bits):
    with pytest.raises(ValueError, match="weight_bits"):
        custom_ops.pack_weights(np.zeros((1, 4), int), bits)


@pytest.mark.parametrize("bits,codes", [
    (1, [1, 0, -1]),            # 0 is not on the sign grid
    (2, [1, 2]), (2, [-3]),
    (3, [4]), (3, [-5]),
    (4, [8]), (4, [-9]),
    (8, [128]), (8, [-129]),
])
def test_pack_rejects_out_of_range_codes(bits, codes):
    with pytest.raises(ValueError, match="codes"):
        custom_ops.pack_weights(np.array([codes]), bits)


def test_pack_rejects_wrong_rank():
    with pytest.raises(ValueError, match="C_out, K"):
        custom_ops.pack_weights(np.zeros(4, int), 2)


@pytest.mark.parametrize("field,value,message", [
    ("weight_bits", 0, "bit widths"), ("weight_bits", 5, "bit widths"),
    ("activation_bits", 8, "bit widths"),  # 8 bits only as W8A8
    ("weight_bits", 8, "bit widths"),
    ("activation", "TANH", "activation"),
    ("alpha", 0.1, "alpha goes with activation LEAKY_RELU only"),
    ("input_scale", 0.0, "input_scale"), ("input_scale", -1.0, "input_scale"),
    ("input_scale", float("nan"), "input_scale"), ("input_scale", float("inf"), "input_scale"),
    ("input_scale", 1e-50, "input_scale"),          # underflows to 0 as a float32
    ("multiplier", [1.0, 2.0], "multiplier"), ("offset", [1.0] * 4, "offset"),
])
def test_options_writer_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        custom_ops.fully_connected_options(**_common(**{field: value}))
    with pytest.raises(ValueError, match=message):
        custom_ops.conv2d_options(kernel_h=1, kernel_w=1, **_common(**{field: value}))


@pytest.mark.parametrize("alpha,message", [
    (None, "alpha goes with activation LEAKY_RELU only"),
    (0.0, r"alpha must be a normal float32 in \[FLT_MIN, 1\]"),
    (-0.1, "alpha must be a normal"), (1.5, "alpha must be a normal"),
    (float("nan"), "alpha must be a normal"),
    (1e-50, "alpha must be a normal"),              # 0 as a float32
    (1e-40, "alpha must be a normal"),              # a subnormal float32
])
def test_options_writer_rejects_bad_alpha(alpha, message):
    with pytest.raises(ValueError, match=message):
        custom_ops.fully_connected_options(**_common(activation="LEAKY_RELU", alpha=alpha))


def test_options_writer_rejects_bad_padding():
    with pytest.raises(ValueError, match="padding"):
        custom_ops.conv2d_options(kernel_h=1, kernel_w=1, padding="FULL", **_common())


@pytest.mark.parametrize("field", ["kernel_h", "kernel_w", "stride_h", "stride_w",
                                   "dilation_h", "dilation_w"])
def test_conv2d_options_writer_rejects_non_positive_geometry(field):
    # FORMAT.md: these are >= 1. The writer should refuse to emit a model the delegate must
    # reject anyway (a converter bug would otherwise surface only at load time on device).
    geometry = dict(kernel_h=3, kernel_w=3, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1)
    geometry[field] = 0
    with pytest.raises(ValueError, match=field.split("_")[0]):
        custom_ops.conv2d_options(**geometry, **_common())


def test_w8a8_options_encode_decode():
    options = custom_ops.decode_options(custom_ops.conv2d_options(
        kernel_h=3, kernel_w=3, **_common(weight_bits=8, activation_bits=8)))
    assert (options["weight_bits"], options["activation_bits"]) == (8, 8)


@pytest.mark.parametrize("k,signed,fits", [
    (65793, False, True), (65794, False, False),        # 128 * 255 per product
    (131071, True, True), (131072, True, False),        # 128 * 128
    (16_000_000, False, True),                          # W2A2: 2 * 3 per product
])
def test_accumulator_bound_is_the_delegates(k, signed, fits):
    bits = (8, 8) if k < 1_000_000 else (2, 2)
    assert custom_ops.accumulator_fits(k, *bits, signed) is fits
