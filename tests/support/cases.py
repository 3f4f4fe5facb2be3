"""Random but reproducible bitlite op cases: model bytes, input, and the reference answer.

Shared by the kernel tests (in-process runtimes), test_tflite_runtime.py (subprocess) and the
emulated ARM runs; `check` and `check_exact` hold a runtime's output to the answer bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitlite.converter import custom_ops

from . import reference as ref
from . import tflite_builder
from .harness import run_model

# Input steps: powers of two make (k + 0.5) * s an exact tie after the float32 division; the
# others exercise the division itself (a kernel multiplying by 1/s differs near ties).
SCALES = (0.25, 0.5, 0.125, 0.1, 0.0371, 1.3, 0.7)


@dataclass
class Case:
    model: bytes
    x: np.ndarray            # float32 input fed to the model
    expected: np.ndarray     # float32 reference output
    acc: np.ndarray          # int64 reference accumulator
    qw: np.ndarray           # weight codes ([C_out, KH, KW, C_in] conv, [C_out, K] fc)
    spec: dict               # options keyword arguments (FORMAT.md keys)
    description: str


def make_input(rng: np.random.Generator, shape, scale: float, bits: int,
               signed: bool) -> np.ndarray:
    """float32 input mixing what the quantizer must get right.

    Off-grid values, exact .5 ties and their float32 neighbours, values beyond the clip
    range, +-inf, NaN, +-0 and tiny values (the sign grid's edge).
    """
    lo, hi = ref.activation_grid(bits, signed)
    scale = np.float32(scale)
    size = int(np.prod(shape))
    k = rng.integers(lo - 2, hi + 3, size=size).astype(np.float32)
    x = ((k + rng.uniform(-0.5, 0.5, size=size).astype(np.float32)) * scale).astype(np.float32)
    kind = rng.random(size)
    ties = ((k + np.float32(0.5)) * scale).astype(np.float32)
    x = np.where(kind < 0.15, ties, x)
    x = np.where((kind >= 0.15) & (kind < 0.20), np.nextafter(ties, np.float32(np.inf)), x)
    x = np.where((kind >= 0.20) & (kind < 0.25), np.nextafter(ties, np.float32(-np.inf)), x)
    far = (rng.choice([-1, 1], size=size) * rng.uniform(3, 100, size=size) * hi * scale)
    x = np.where((kind >= 0.25) & (kind < 0.30), far.astype(np.float32), x)
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e-45, -1e-45],
                        np.float32)
    pick = (kind >= 0.30) & (kind < 0.34)
    x = np.where(pick, specials[rng.integers(0, specials.size, size=size)], x)
    return x.reshape(shape).astype(np.float32)


def make_output_stage(rng: np.random.Generator, acc: np.ndarray, c_out: int,
                      exact: bool) -> dict:
    """The output stage's keys: multiplier, offset, activation (and LEAKY_RELU's alpha).
    exact: 1, 0, NONE so the output is float(acc).

    Otherwise random per-channel multipliers scaled so outputs spread over about [-10, 10]
    (RELU and RELU6 both clip something), random offsets, random activation.
    """
    if exact:
        return dict(multiplier=np.ones(c_out, np.float32), offset=np.zeros(c_out, np.float32),
                    activation="NONE")
    spread = max(1.0, float(np.abs(acc).max(initial=0)))
    multiplier = (rng.choice([-1, 1], size=c_out) * rng.uniform(0.5, 8.0, size=c_out) / spread)
    offset = rng.normal(0, 3, size=c_out)
    stage = dict(multiplier=multiplier.astype(np.float32), offset=offset.astype(np.float32),
                 activation=str(rng.choice(ref.ACTIVATIONS)))
    if stage["activation"] == "LEAKY_RELU":
        stage["alpha"] = float(np.float32(rng.choice([0.1, 1.0, rng.uniform(0.01, 1)])))
    return stage


def _quant_spec(rng, weight_bits, activation_bits, signed, c_in, c_out, scale):
    return dict(weight_bits=weight_bits, activation_bits=activation_bits,
                activation_signed=signed,
                input_scale=float(np.float32(scale if scale else rng.choice(SCALES))),
                in_channels=c_in, out_channels=c_out)


def conv_case(rng: np.random.Generator, weight_bits: int, activation_bits: int, signed: bool,
              *, exact: bool, batch=1, height=6, width=5, c_in=3, c_out=3, kernel_h=3,
              kernel_w=3, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
              padding="SAME", groups=1, scale=None) -> Case:
    """A BitliteConv2D case with the given geometry and random weights/inputs."""
    spec = _quant_spec(rng, weight_bits, activation_bits, signed, c_in, c_out, scale)
    spec.update(kernel_h=kernel_h, kernel_w=kernel_w, stride_h=stride_h, stride_w=stride_w,
                dilation_h=dilation_h, dilation_w=dilation_w, padding=padding, groups=groups)
    qw = ref.random_weight_codes(rng, weight_bits,
                                 (c_out, kernel_h, kernel_w, c_in // groups))
    x = make_input(rng, (batch, height, width, c_in), spec["input_scale"], activation_bits,
                   signed)
    qx = ref.quantize_input(x, spec["input_scale"], activation_bits, signed)
    acc = ref.conv2d_accumulator(qx, qw, stride_h=stride_h, stride_w=stride_w,
                                 dilation_h=dilation_h, dilation_w=dilation_w, padding=padding,
                                 groups=groups)
    spec.update(make_output_stage(rng, acc, c_out, exact))
    expected = ref.conv2d(x, qw, **spec)
    packed = custom_ops.pack_weights(ref.conv_weight_matrix(qw), weight_bits)
    # The declared input is batch 1 (signature -1): batch > 1 goes through resize.
    model = tflite_builder.conv_model([1, height, width, c_in], packed, spec,
                                      custom_ops.conv2d_options(**spec))
    description = (f"conv W{weight_bits}A{activation_bits}{'s' if signed else 'u'} "
                   f"x{list(x.shape)} k{kernel_h}x{kernel_w} s{stride_h},{stride_w} "
                   f"d{dilation_h},{dilation_w} {padding} C_out={c_out} groups={groups} "
                   f"scale={spec['input_scale']} act={spec['activation']}")
    return Case(model, x, expected, acc, qw, spec, description)


def random_conv_geometry(rng: np.random.Generator) -> dict:
    """Small random geometry: odd channel counts, kernels 1/3/5 (often non-square), strides
    1-3, dilation 1-2, SAME or VALID, spatial size just big enough for a VALID output."""
    geometry = dict(
        c_in=int(rng.choice([1, 3, 7, 17, 33, 65])), c_out=int(rng.choice([1, 3, 5, 7, 9])),
        kernel_h=int(rng.choice([1, 3, 5])), kernel_w=int(rng.choice([1, 3, 5])),
        stride_h=int(rng.choice([1, 2, 3])), stride_w=int(rng.choice([1, 2, 3])),
        dilation_h=int(rng.choice([1, 2])), dilation_w=int(rng.choice([1, 2])),
        padding=str(rng.choice(["SAME", "VALID"])), batch=int(rng.choice([1, 2])))
    geometry["height"] = (geometry["kernel_h"] - 1) * geometry["dilation_h"] + 1 + \
        int(rng.integers(0, 5))
    geometry["width"] = (geometry["kernel_w"] - 1) * geometry["dilation_w"] + 1 + \
        int(rng.integers(0, 5))
    return geometry


def fc_case(rng: np.random.Generator, weight_bits: int, activation_bits: int, signed: bool,
            *, exact: bool, leading=(1,), k=17, c_out=5, declared_leading=None,
            scale=None) -> Case:
    """A BitliteFullyConnected case on x [*leading, K]; the model declares
    [*declared_leading, K] (default: leading with batch 1) and is resized to x's shape."""
    spec = _quant_spec(rng, weight_bits, activation_bits, signed, k, c_out, scale)
    qw = ref.random_weight_codes(rng, weight_bits, (c_out, k))
    x = make_input(rng, (*leading, k), spec["input_scale"], activation_bits, signed)
    qx = ref.quantize_input(x, spec["input_scale"], activation_bits, signed)
    acc = qx.reshape(-1, k) @ qw.T
    acc = acc.reshape(*leading, c_out)
    spec.update(make_output_stage(rng, acc, c_out, exact))
    expected = ref.fully_connected(x, qw, **spec)
    packed = custom_ops.pack_weights(qw, weight_bits)
    declared = list(declared_leading or (1, *leading[1:])) + [k]
    model = tflite_builder.fc_model(declared, packed, spec,
                                    custom_ops.fully_connected_options(**spec))
    description = (f"fc W{weight_bits}A{activation_bits}{'s' if signed else 'u'} "
                   f"x{list(x.shape)} C_out={c_out} scale={spec['input_scale']} "
                   f"act={spec['activation']}")
    return Case(model, x, expected, acc, qw, spec, description)


def mismatch_report(actual: np.ndarray, expected: np.ndarray, case: Case) -> str:
    """Readable failure message: where and how the delegate differs from the reference."""
    if actual.shape != expected.shape:
        return f"{case.description}: shape {actual.shape} != reference {expected.shape}"
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    bad = np.argwhere(~same)
    first = tuple(bad[0])
    return (f"{case.description}: {len(bad)}/{same.size} outputs differ; first at {first}: "
            f"got {actual[first]!r}, reference {expected[first]!r} "
            f"(acc {case.acc[first] if case.acc.shape == expected.shape else '?'})")


# Every weight x activation bit width, with both activation grids (signed 1 bit = {-1, +1}).
PAIRS = [(w, a, s) for w in (1, 2, 3, 4) for a in (1, 2, 3, 4) for s in (False, True)]


def pair_id(pair):
    w, a, s = pair
    return f"W{w}A{a}{'s' if s else 'u'}"


def check(case, runtime, **run_options):
    out = run_model(case.model, case.x, runtime, **run_options)
    assert out.dtype == np.float32
    assert np.array_equal(out, case.expected), mismatch_report(out, case.expected, case)
    return out


def check_exact(case, runtime):
    out = check(case, runtime)
    # float(acc) of these small sums is exact: the output IS the integer accumulator.
    assert np.array_equal(out, case.acc), mismatch_report(out, case.acc, case)
