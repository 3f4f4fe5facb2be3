"""Malformed models and options: a Python exception that names the problem, never a crash.

Models that might crash the delegate run in a child process (bad_model_runner.py), so a
segfault fails only its own case. The child is restarted after a crash on the cases left.
"""

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flatbuffers import flexbuffers

from bitlite.converter import custom_ops

from support import reference as ref
from support import tflite_builder
from support.harness import run_model

RUNNER = Path(__file__).resolve().parent / "bad_model_runner.py"
CHILD_TIMEOUT_S = 300
INPUT_SHAPE = [1, 6, 6, 3]

# ---------------------------------------------------------------------------------------------
# The valid layer every case breaks in one way: BitliteConv2D 3x3, C_in 3, C_out 4, W2 A3.
# ---------------------------------------------------------------------------------------------

BASE_SPEC = dict(weight_bits=2, activation_bits=3, activation_signed=False, input_scale=0.25,
                 in_channels=3, out_channels=4, kernel_h=3, kernel_w=3, stride_h=1,
                 stride_w=1, dilation_h=1, dilation_w=1, padding="SAME", activation="RELU",
                 multiplier=np.float32([0.5, 1, 2, 4]), offset=np.float32([0, 1, -1, 0.5]))


def base_packed():
    codes = ref.random_weight_codes(np.random.default_rng(7), 2, (4, 27))
    return custom_ops.pack_weights(codes, 2)


def base_options() -> bytes:
    return custom_ops.conv2d_options(**BASE_SPEC)


def options_with(**changes) -> bytes:
    """The base options as a dict, with keys changed (value None deletes the key)."""
    options = flexbuffers.Loads(bytearray(base_options()))
    for key, value in changes.items():
        if value is None:
            del options[key]
        else:
            options[key] = value
    return bytes(flexbuffers.Dumps(options))


def options_with_double_scale(value: float) -> bytes:
    """input_scale stored as a 64-bit float `value`. flexbuffers.Dumps fails on floats beyond
    the float32 range, so write a placeholder double and patch its 8 bytes."""
    placeholder = struct.pack("<d", 1e-50)             # not a float32: stored as a double
    blob = options_with(input_scale=1e-50)
    assert blob.count(placeholder) == 1
    patched = blob.replace(placeholder, struct.pack("<d", value))
    assert flexbuffers.Loads(bytearray(patched))["input_scale"] == value
    return patched


def f32(*values) -> bytes:
    return np.float32(values).tobytes()


def x_for(shape):
    return [np.random.default_rng(3).normal(size=shape).astype(np.float32)]


# name -> options bytes, expected substrings (any one, case-insensitive)
OPTION_CASES = {
    "options_empty": (b"", ("option",)),
    "options_truncated_half": (base_options()[: len(base_options()) // 2], ("option",)),
    "options_truncated_last_byte": (base_options()[:-1], ("option",)),
    "options_not_a_map": (bytes(flexbuffers.Dumps([1, 2, 3])), ("option", "map")),
    "version_2": (options_with(version=2), ("version",)),
    "version_0": (options_with(version=0), ("version",)),
    "version_as_string": (options_with(version="1"), ("version",)),
    "unknown_key": (options_with(fancy_new_key=1), ("fancy_new_key",)),
    "in_channels_as_string": (options_with(in_channels="3"), ("in_channels",)),
    "weight_bits_as_float": (options_with(weight_bits=2.0), ("weight_bits",)),
    "padding_as_int": (options_with(padding=1), ("padding",)),
    "activation_signed_as_string": (options_with(activation_signed="no"),
                                    ("activation_signed",)),
    "input_scale_as_string": (options_with(input_scale="0.25"), ("input_scale",)),
    "multiplier_as_string": (options_with(multiplier="1111"), ("multiplier",)),
    "multiplier_as_float_vector": (options_with(multiplier=[1.0, 1.0, 1.0, 1.0]),
                                   ("multiplier",)),
    "padding_lowercase": (options_with(padding="same"), ("padding",)),
    "padding_full": (options_with(padding="FULL"), ("padding",)),
    "activation_tanh": (options_with(activation="TANH"), ("activation",)),
    "activation_lowercase": (options_with(activation="relu"), ("activation",)),
    "leaky_relu_without_alpha": (options_with(activation="LEAKY_RELU"), ("alpha",)),
    "alpha_without_leaky_relu": (options_with(alpha=0.1), ("alpha",)),
    "leaky_relu_alpha_0": (options_with(activation="LEAKY_RELU", alpha=0.0), ("alpha",)),
    # A double that becomes 0 as a float32.
    "leaky_relu_alpha_1e-50": (options_with(activation="LEAKY_RELU", alpha=1e-50), ("alpha",)),
    "leaky_relu_alpha_2": (options_with(activation="LEAKY_RELU", alpha=2.0), ("alpha",)),
    "leaky_relu_alpha_nan": (options_with(activation="LEAKY_RELU", alpha=float("nan")),
                             ("alpha",)),
    "leaky_relu_alpha_as_string": (options_with(activation="LEAKY_RELU", alpha="0.1"),
                                   ("alpha",)),
    "multiplier_3_floats": (options_with(multiplier=f32(1, 1, 1)), ("multiplier",)),
    "multiplier_17_bytes": (options_with(multiplier=f32(1, 1, 1, 1) + b"\0"), ("multiplier",)),
    "multiplier_empty": (options_with(multiplier=b""), ("multiplier",)),
    "offset_5_floats": (options_with(offset=f32(0, 0, 0, 0, 0)), ("offset",)),
    "stride_h_0": (options_with(stride_h=0), ("stride",)),
    "stride_w_negative": (options_with(stride_w=-1), ("stride",)),
    "dilation_h_0": (options_with(dilation_h=0), ("dilation",)),
    "kernel_h_0": (options_with(kernel_h=0), ("kernel",)),
    "kernel_w_huge": (options_with(kernel_w=2**40), ("kernel",)),
    "kernel_w_mismatches_weights": (options_with(kernel_w=5), ("row_bytes", "weight")),
    "in_channels_0": (options_with(in_channels=0), ("in_channels",)),
    # K changes with in_channels, so the packed weights no longer fit.
    "in_channels_mismatches_weights": (options_with(in_channels=5), ("weight",)),
    "in_channels_beyond_int32": (options_with(in_channels=2**31 + 3), ("in_channels",)),
    "out_channels_0": (options_with(out_channels=0, multiplier=b"", offset=b""),
                       ("out_channels",)),
    # Blobs agree with out_channels = 5, the weight tensor has 4 rows.
    "out_channels_mismatches_weights": (
        options_with(out_channels=5, multiplier=f32(1, 1, 1, 1, 1), offset=f32(0, 0, 0, 0, 0)),
        ("out_channels", "weight")),
}
for _key in ("weight_bits", "activation_bits"):
    for _bits in (0, 5, 8, -1):
        OPTION_CASES[f"{_key}_{_bits}"] = (options_with(**{_key: _bits}), (_key,))
for _value, _label in ((0.0, "0"), (-0.25, "negative"), (float("nan"), "nan"),
                       (float("inf"), "inf"), (1e-50, "underflows_float32")):
    OPTION_CASES[f"input_scale_{_label}"] = (options_with(input_scale=_value), ("input_scale",))
# The step is a float32 (FORMAT.md divides in float32): 1e40 is +inf there.
OPTION_CASES["input_scale_overflows_float32"] = (options_with_double_scale(1e40),
                                                 ("input_scale",))
for _key in flexbuffers.Loads(bytearray(base_options())):
    OPTION_CASES[f"missing_{_key}"] = (options_with(**{_key: None}), (_key,))

# Tensor-level defects from the builder: name -> expected substrings.
TENSOR_EXPECTATIONS = {
    "input_int8": ("float32",),
    "input_uint8": ("float32",),
    "weights_float32": ("uint8",),
    "weights_int8": ("uint8",),
    "weights_not_constant": ("constant",),
    "weights_extra_row_byte": ("row_bytes", "weight"),
    "weights_missing_row": ("out_channels", "weight"),
    "weights_rank1": ("weight",),
    "weights_rank3": ("weight",),
    # TFLite itself refuses a buffer smaller than the tensor, before the delegate sees it.
    "weights_short_buffer": ("invalidly specified", "bytes"),
    "input_channels_mismatch": ("in_channels", "channel"),
    "input_rank3": ("rank", "dimension", "4-d", "4d", "[n, h, w, c_in]"),
    "input_rank5": ("rank", "dimension", "4-d", "4d", "[n, h, w, c_in]"),
    "one_input": ("input",),
    "options_random_bytes": ("option",),
    "fc_input_rank1": ("rank", "dimension"),
    "fc_input_k_mismatch": ("in_channels", "channel"),
    "valid_kernel_larger_than_input": ("output", "kernel", "valid", "input"),
    "accumulator_may_overflow_int32": ("overflow",),
    # BitliteConv2DTranspose (issue 14): its own keys, its pads' range, its output size.
    "transpose_with_dilation_key": ("dilation_h",),
    "transpose_missing_pad_left": ("pad_left",),
    "transpose_pad_bottom_below_one_minus_stride": ("pad_bottom",),
    "transpose_pads_crop_the_whole_output": ("crop", "output"),
    "transpose_input_rank3": ("[n, h, w, c_in]",),
}


def _valid_kernel_larger_than_input():
    spec = dict(BASE_SPEC, kernel_h=7, kernel_w=7, padding="VALID")
    codes = ref.random_weight_codes(np.random.default_rng(1), 2, (4, 7 * 7 * 3))
    # The declared output shape is irrelevant: the op cannot produce one.
    model = tflite_builder.conv_model(INPUT_SHAPE, custom_ops.pack_weights(codes, 2), spec,
                                      custom_ops.conv2d_options(**spec),
                                      output_shape=[1, 1, 1, 4])
    return model, x_for(INPUT_SHAPE)


def _accumulator_may_overflow_int32():
    # W4 x A4 unsigned: 8 * 15 per term; one more K than fits int32 for sure (FORMAT.md).
    k = (2**31 - 1) // 120 + 1
    spec = dict(weight_bits=4, activation_bits=4, activation_signed=False, input_scale=1.0,
                in_channels=k, out_channels=1, activation="NONE", multiplier=[1.0], offset=[0.0])
    packed = np.zeros((1, -(-k // 2)), np.uint8)        # all codes -8
    model = tflite_builder.fc_model([1, k], packed, spec,
                                    custom_ops.fully_connected_options(**spec))
    return model, [np.zeros((1, k), np.float32)]


def _transposed_cases() -> dict:
    """BitliteConv2DTranspose models (the base layer's weights, Keras' 3x3 stride-2 'same'),
    each broken in one way."""
    spec = dict(BASE_SPEC, stride_h=2, stride_w=2)
    for key in ("dilation_h", "dilation_w", "padding"):
        del spec[key]
    top, bottom = custom_ops.transpose_pads(3, 2, "same", None)
    pads = dict(pad_top=top, pad_bottom=bottom, pad_left=top, pad_right=bottom)
    options = flexbuffers.Loads(bytearray(custom_ops.conv2d_transpose_options(**spec, **pads)))

    def model(input_shape=INPUT_SHAPE, **changes):
        broken = dict(options)
        for key, value in changes.items():
            if value is None:
                del broken[key]
            else:
                broken[key] = value
        out_shape = [1, 2 * input_shape[1], 2 * input_shape[-2], 4]
        return (tflite_builder.one_op_model("BitliteConv2DTranspose", input_shape, base_packed(),
                                            out_shape, bytes(flexbuffers.Dumps(broken))),
                x_for(input_shape))

    return {"transpose_with_dilation_key": model(dilation_h=1),
            "transpose_missing_pad_left": model(pad_left=None),
            "transpose_pad_bottom_below_one_minus_stride": model(pad_bottom=-2),
            "transpose_pads_crop_the_whole_output": model(pad_top=20),
            "transpose_input_rank3": model(input_shape=[6, 6, 3])}


def expected_words(name):
    """Substrings (any one, case-insensitive) the error message of case `name` must contain."""
    return OPTION_CASES[name][1] if name in OPTION_CASES else TENSOR_EXPECTATIONS[name]


CASE_NAMES = sorted(set(OPTION_CASES) | set(TENSOR_EXPECTATIONS))


def build_cases():
    """name -> (model bytes, inputs) for every case (built lazily: one is ~80 MB)."""
    rng = np.random.default_rng(11)
    packed = base_packed()
    models = {name: (tflite_builder.conv_model(INPUT_SHAPE, packed, BASE_SPEC, options),
                     x_for(INPUT_SHAPE))
              for name, (options, _) in OPTION_CASES.items()}
    models.update(tflite_builder.broken_conv_models(INPUT_SHAPE, packed, BASE_SPEC,
                                                    base_options(), rng))
    fc_spec = {k: v for k, v in BASE_SPEC.items()
               if not k.startswith(("kernel", "stride", "dilation", "padding"))}
    fc_spec["in_channels"] = 27
    models.update(tflite_builder.broken_fc_models(
        27, packed, fc_spec, custom_ops.fully_connected_options(**fc_spec), rng))
    models["valid_kernel_larger_than_input"] = _valid_kernel_larger_than_input()
    models["accumulator_may_overflow_int32"] = _accumulator_may_overflow_int32()
    models.update(_transposed_cases())
    assert set(models) == set(CASE_NAMES)
    return models


# ---------------------------------------------------------------------------------------------
# Isolated runs
# ---------------------------------------------------------------------------------------------

def run_isolated(runtime: str, models: dict, case_dir: Path) -> dict:
    """name -> result dict from bad_model_runner.py; a case that kills the child is recorded
    as {"outcome": "crash", ...} and the child restarts on the cases after it.
    models: name -> (model bytes, inputs) or (model bytes, inputs, delegate options); the
    output of a case that ran is in case_dir / f"{name}.out.npy"."""
    case_dir.mkdir(parents=True, exist_ok=True)
    for name, (model, inputs, *options) in models.items():
        (case_dir / f"{name}.tflite").write_bytes(model)
        np.savez(case_dir / f"{name}.npz", *inputs)
        if options:
            (case_dir / f"{name}.json").write_text(json.dumps(options[0]))
    results, remaining = {}, list(models)
    while remaining:
        try:
            child = subprocess.run(
                [sys.executable, str(RUNNER), runtime, str(case_dir), *remaining],
                capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
            stdout, stderr, code = child.stdout, child.stderr, child.returncode
        except subprocess.TimeoutExpired as expired:
            stdout = expired.stdout.decode() if isinstance(expired.stdout, bytes) else \
                (expired.stdout or "")
            stderr, code = "timeout", "timeout"
        for line in stdout.splitlines():
            if line.startswith("BITLITE-RESULT "):
                result = json.loads(line[len("BITLITE-RESULT "):])
                results[result["case"]] = result
        remaining = [name for name in remaining if name not in results]
        if remaining:
            results[remaining.pop(0)] = {"outcome": "crash", "returncode": code,
                                         "stderr": stderr[-2000:]}
    return results


_results_cache = {}


@pytest.fixture
def bad_results(runtime, delegate_library, tmp_path_factory):
    """Results of every case in build_cases() under `runtime`, computed once per runtime."""
    if runtime not in _results_cache:
        _results_cache[runtime] = run_isolated(
            runtime, build_cases(), tmp_path_factory.mktemp(f"bad_{runtime}"))
    return _results_cache[runtime]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_malformed_model_raises_named_error(name, runtime, bad_results):
    result = bad_results[name]
    expected = expected_words(name)
    assert result["outcome"] != "crash", f"{name} crashed the process: {result}"
    assert result["outcome"] == "raised", f"{name} was accepted and ran"
    message = result["message"]
    # Python-visible, of the runtimes' usual error types; not the "load the delegate" hint,
    # which would send the user looking in the wrong place.
    assert {"RuntimeError", "ValueError"} & set(result["bases"]), result
    assert result["type"] != "DelegateNotLoadedError", message
    assert any(word in message.lower() for word in expected), (
        f"{name}: message does not name the problem (want one of {expected}): {message}")


def test_valid_base_model_runs(runtime, delegate_library):
    # Guards the cases above: the unbroken layer they start from must be accepted.
    model = tflite_builder.conv_model(INPUT_SHAPE, base_packed(), BASE_SPEC, base_options())
    x = x_for(INPUT_SHAPE)[0]
    codes = ref.unpack_rows(base_packed(), 2, 27).reshape(4, 3, 3, 3)
    assert np.array_equal(run_model(model, x, runtime), ref.conv2d(x, codes, **BASE_SPEC))


# ---------------------------------------------------------------------------------------------
# Canary: options fuzzing must never crash
# ---------------------------------------------------------------------------------------------

def fuzzed_options(rng):
    """Every truncation of a valid options blob, plus 200 random single-byte changes."""
    valid = base_options()
    cases = {f"truncated_{n}": valid[:n] for n in range(len(valid))}
    for i in range(200):
        data = bytearray(valid)
        position = int(rng.integers(len(data)))
        data[position] ^= int(rng.integers(1, 256))
        cases[f"flip_{i}_at_{position}"] = bytes(data)
    return cases


def test_options_fuzz_never_crashes(runtime, delegate_library, tmp_path):
    rng = np.random.default_rng(2024)
    packed, x = base_packed(), x_for(INPUT_SHAPE)
    models = {name: (tflite_builder.conv_model(INPUT_SHAPE, packed, BASE_SPEC, options), x)
              for name, options in fuzzed_options(rng).items()}
    results = run_isolated(runtime, models, tmp_path)
    crashes = {name: r for name, r in results.items() if r["outcome"] == "crash"}
    assert not crashes, f"{len(crashes)} fuzzed options crashed the delegate: " \
                        f"{dict(list(crashes.items())[:3])}"
    # A truncated FlexBuffer is never a valid options map: each must be an error.
    accepted = [name for name, r in results.items()
                if name.startswith("truncated_") and r["outcome"] == "ok"]
    assert not accepted, accepted
    # Whatever was rejected was rejected with a Python error of the usual kinds.
    odd = {n: r["type"] for n, r in results.items()
           if r["outcome"] == "raised" and not {"RuntimeError", "ValueError"} & set(r["bases"])}
    assert not odd, odd


# ---------------------------------------------------------------------------------------------
# Extreme but valid geometries (issue 9): windows whose dilation or stride reaches far past a
# tiny input. Every fast kernel once wrote out of bounds or took gigabytes on these; now each
# runs on the taps that read the input and equals the reference kernel bit for bit.
# ---------------------------------------------------------------------------------------------

INT32_MAX = 2**31 - 1
KERNEL_CHOICES = ("auto", "bitserial", "int", "lut", "reference")


def extreme_geometry_models():
    """name -> (model, inputs) for SAME convolutions, depthwise and grouped ones included,
    with dilations and strides up to INT32_MAX on 1x1 to 2x3 inputs."""
    rng = np.random.default_rng(19)
    models = {}
    # The reported case: depthwise 2x2, SAME, stride 1, dilation INT32_MAX, [1, 1, 1, 2], W2A2.
    layers = [("depthwise_2x2_d_max", [1, 1, 1, 2], dict(kernel_h=2, kernel_w=2, groups=2,
                                                          in_channels=2, out_channels=2,
                                                          dilation_h=INT32_MAX,
                                                          dilation_w=INT32_MAX))]
    for dilation in (2**13, 2**14, 2**30, INT32_MAX):
        for stride in (1, INT32_MAX):
            for groups, c_in in ((1, 8), (2, 6), (6, 6)):
                layers.append((f"d{dilation}_s{stride}_g{groups}", [1, 2, 3, c_in],
                               dict(kernel_h=3, kernel_w=2, groups=groups, in_channels=c_in,
                                    out_channels=c_in, dilation_h=dilation, dilation_w=dilation,
                                    stride_h=stride, stride_w=stride)))
    for name, shape, layer in layers:
        spec = dict(BASE_SPEC, weight_bits=2, activation_bits=2, padding="SAME",
                    multiplier=np.float32(rng.normal(size=layer["out_channels"])),
                    offset=np.float32(rng.normal(size=layer["out_channels"])), **layer)
        k = spec["kernel_h"] * spec["kernel_w"] * spec["in_channels"] // spec["groups"]
        codes = ref.random_weight_codes(rng, 2, (spec["out_channels"], k))
        packed = custom_ops.pack_weights(codes, 2)
        model = tflite_builder.conv_model(shape, packed, spec, custom_ops.conv2d_options(**spec))
        models[name] = (model, x_for(shape))
    return models


def test_extreme_geometries_run_like_the_reference(runtime, delegate_library, tmp_path):
    layers = extreme_geometry_models()
    models = {f"{name}-{kernel}": (model, inputs, {"kernel": kernel})
              for name, (model, inputs) in layers.items() for kernel in KERNEL_CHOICES}
    results = run_isolated(runtime, models, tmp_path)
    failed = {name: r for name, r in results.items() if r["outcome"] != "ok"}
    assert not failed, dict(list(failed.items())[:3])
    for name in layers:
        expected = np.load(tmp_path / f"{name}-reference.out.npy")
        for kernel in KERNEL_CHOICES:
            y = np.load(tmp_path / f"{name}-{kernel}.out.npy")
            assert y.tobytes() == expected.tobytes(), (name, kernel, y, expected)


def test_scratch_limit_refuses_a_layer_with_a_named_error(runtime, delegate_library):
    model = tflite_builder.conv_model(INPUT_SHAPE, base_packed(), BASE_SPEC, base_options())
    with pytest.raises((RuntimeError, ValueError)) as error:
        run_model(model, x_for(INPUT_SHAPE), runtime,
                  delegate_options={"kernel": "bitserial", "max_scratch_bytes": "64"})
    assert "more than the limit of 64 (delegate option max_scratch_bytes)" in str(error.value)


# ---------------------------------------------------------------------------------------------
# Delegate options (parsed by the C++ plugin entry point and by the Python wrapper)
# ---------------------------------------------------------------------------------------------

def test_load_delegate_rejects_non_integer_num_threads(runtime, delegate_library):
    from bitlite import delegate
    with pytest.raises(ValueError) as error:
        delegate.load_delegate(num_threads="abc", runtime=runtime)
    assert "num_threads" in str(error.value), str(error.value)


def _runtime_load_delegate(runtime):
    if runtime == "tf":
        import tensorflow as tf
        return tf.lite.experimental.load_delegate
    from ai_edge_litert.interpreter import load_delegate
    return load_delegate


@pytest.mark.parametrize("value", ["abc", "", "2x", "-7"])
def test_plugin_rejects_bad_num_threads(value, runtime, delegate_library):
    # The runtime's own load_delegate passes strings straight to tflite_plugin_create_delegate.
    with pytest.raises(ValueError) as error:
        _runtime_load_delegate(runtime)(delegate_library, {"num_threads": value})
    assert "num_threads" in str(error.value), str(error.value)


def test_plugin_rejects_unknown_option(runtime, delegate_library):
    from bitlite import delegate
    with pytest.raises(ValueError) as error:
        delegate.load_delegate(runtime=runtime, no_such_option="1")
    assert "no_such_option" in str(error.value), str(error.value)


def test_plugin_accepts_documented_options(runtime, delegate_library):
    from bitlite import delegate
    assert delegate.load_delegate(num_threads=2, verbose=True, runtime=runtime) is not None
    assert delegate.load_delegate(kernel="lut", max_scratch_bytes=1 << 20,
                                  runtime=runtime) is not None


def test_plugin_rejects_bad_max_scratch_bytes(runtime, delegate_library):
    from bitlite import delegate
    with pytest.raises(ValueError) as error:
        delegate.load_delegate(max_scratch_bytes=0, runtime=runtime)
    assert "max_scratch_bytes" in str(error.value), str(error.value)


# ---------------------------------------------------------------------------------------------
# A bitlite model without the delegate (needs no library)
# ---------------------------------------------------------------------------------------------

def _runtime_interpreter(runtime):
    if runtime == "tf":
        import tensorflow as tf
        return tf.lite.Interpreter
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter


@pytest.mark.parametrize("op", ["conv", "fc"])
def test_missing_delegate_raises_delegate_not_loaded(op, runtime):
    from bitlite import delegate
    model = _valid_model(op)
    interpreter = delegate.Interpreter(model_content=model, runtime=runtime,
                                       experimental_delegates=[])
    with pytest.raises(delegate.DelegateNotLoadedError) as error:
        interpreter.allocate_tensors()
    message = str(error.value)
    assert "load_delegate" in message and "bitlite" in message, message
    assert isinstance(error.value, RuntimeError)     # old `except RuntimeError` still works


@pytest.mark.parametrize("op", ["conv", "fc"])
def test_plain_runtime_reports_unresolved_custom_op(op, runtime):
    # Documents the runtime behaviour the wrapper translates: construction works, allocation
    # fails naming the op.
    interpreter = _runtime_interpreter(runtime)(model_content=_valid_model(op))
    with pytest.raises(RuntimeError, match="unresolved custom op"):
        interpreter.allocate_tensors()


def _valid_model(op):
    if op == "conv":
        return tflite_builder.conv_model(INPUT_SHAPE, base_packed(), BASE_SPEC, base_options())
    fc_spec = {k: v for k, v in BASE_SPEC.items()
               if not k.startswith(("kernel", "stride", "dilation", "padding"))}
    fc_spec["in_channels"] = 27
    return tflite_builder.fc_model([2, 27], base_packed(), fc_spec,
                                   custom_ops.fully_connected_options(**fc_spec))


# ---------------------------------------------------------------------------------------------
# Malformed glue around a bitlite op: left to the runtime or refused, never a crash, and the
# same outcome whether the delegate claims builtins or not
# ---------------------------------------------------------------------------------------------

def _add_options(activation=0):
    from tensorflow.lite.python import schema_py_generated as schema
    options = schema.AddOptionsT()
    options.fusedActivationFunction = activation
    return schema.BuiltinOptions.AddOptions, options


def glue_cases() -> dict:
    """name -> model bytes: a valid conv [1, 6, 6, 4] then one builtin, broken in one way."""
    from tensorflow.lite.python import schema_py_generated as schema
    T = tflite_builder.T

    def model(builtin, second=None, **kwargs):
        return tflite_builder.conv_then_builtin_model(INPUT_SHAPE, base_packed(), BASE_SPEC,
                                                      base_options(), builtin, second, **kwargs)

    pool = schema.Pool2DOptionsT()
    pool.padding, pool.strideW, pool.strideH, pool.filterWidth, pool.filterHeight = 1, 0, 0, 2, 2
    # A valid one (a 6x6 conv output pooled 2x2 to 3x3), which the conv op runs fused.
    pool_ok = schema.Pool2DOptionsT()
    pool_ok.padding, pool_ok.strideW, pool_ok.strideH = 1, 2, 2
    pool_ok.filterWidth, pool_ok.filterHeight = 2, 2
    concat = schema.ConcatenationOptionsT()
    concat.axis = 7
    on_channels = schema.ConcatenationOptionsT()
    on_channels.axis = 3

    def concat_channels(second):
        return model("CONCATENATION", second, output_shape=[1, 6, 6, 6],
                     builtin_options=(schema.BuiltinOptions.ConcatenationOptions, on_channels))

    def resize(size, **kwargs):
        return model("RESIZE_NEAREST_NEIGHBOR", size, output_shape=[1, 12, 12, 4],
                     builtin_options=tflite_builder.resize_nearest_options(
                         half_pixel_centers=True), **kwargs)

    def leaky_relu(alpha):
        return model("LEAKY_RELU", builtin_options=tflite_builder.leaky_relu_options(alpha))
    return {
        "glue_resize_valid": resize(np.int32([12, 12])),
        "glue_resize_three_sizes": resize(np.int32([12, 12, 1])),
        "glue_resize_zero_size": resize(np.int32([0, 12])),
        "glue_resize_negative_size": resize(np.int32([12, -3])),
        "glue_resize_huge_size": resize(np.int32([1 << 30, 1 << 30])),
        "glue_resize_float_size": resize(np.float32([12, 12])),
        "glue_resize_int8_output": resize(np.int32([12, 12]), output_type=T.INT8),
        "glue_leaky_relu_valid": leaky_relu(0.2),
        "glue_leaky_relu_nan_alpha": leaky_relu(float("nan")),
        "glue_leaky_relu_no_options": model("LEAKY_RELU"),
        "glue_add_valid_per_channel": model("ADD", np.float32([1, 2, 3, 4]),
                                            builtin_options=_add_options(1)),
        "glue_add_unsupported_broadcast": model("ADD", np.ones((6, 1, 1), np.float32),
                                                output_shape=[6, 6, 6, 4],
                                                builtin_options=_add_options()),
        "glue_add_shapes_do_not_broadcast": model("ADD", np.ones((5,), np.float32),
                                                  builtin_options=_add_options()),
        "glue_add_int32_constant": model("ADD", np.ones((4,), np.int32),
                                         builtin_options=_add_options()),
        "glue_add_tanh_activation": model("ADD", np.float32([1, 2, 3, 4]),
                                          builtin_options=_add_options(4)),
        "glue_add_one_input": model("ADD", builtin_options=_add_options()),
        "glue_mul_no_options": model("MUL", np.float32([2])),
        "glue_round_int8_output": model("ROUND", output_type=T.INT8),
        "glue_reshape_wrong_size": model("RESHAPE", np.int32([5, 7])),
        "glue_reshape_two_stretch_dims": model("RESHAPE", np.int32([-1, -1])),
        "glue_max_pool_fused": model(
            "MAX_POOL_2D", output_shape=[1, 3, 3, 4],
            builtin_options=(schema.BuiltinOptions.Pool2DOptions, pool_ok)),
        "glue_max_pool_zero_strides": model(
            "MAX_POOL_2D", builtin_options=(schema.BuiltinOptions.Pool2DOptions, pool)),
        "glue_pad_negative": model("PAD", np.int32([[0, 0], [-1, 0], [0, 0], [0, 0]])),
        "glue_pad_wrong_rank": model("PAD", np.int32([[0, 0], [1, 1]])),
        "glue_concat_axis_out_of_range": model(
            "CONCATENATION", builtin_options=(schema.BuiltinOptions.ConcatenationOptions, concat)),
        "glue_concat_shapes_differ": concat_channels(np.ones((1, 5, 6, 2), np.float32)),
        "glue_concat_ranks_differ": concat_channels(np.ones((6, 6, 2), np.float32)),
        "glue_concat_int32_input": concat_channels(np.ones((1, 6, 6, 2), np.int32)),
        # The quantizer emulation's float ops (DIV, ROUND, MINIMUM, MAXIMUM, MUL).
        "glue_div_valid": model("DIV", np.float32([0.5])),
        "glue_div_int32_divisor": model("DIV", np.int32([2])),
        "glue_div_shapes_do_not_broadcast": model("DIV", np.ones((5,), np.float32)),
        "glue_minimum_valid": model("MINIMUM", np.float32([0.25])),
        "glue_minimum_int8_output": model("MINIMUM", np.float32([0.25]), output_type=T.INT8),
        "glue_maximum_rank3_constant": model("MAXIMUM", np.ones((6, 1, 1), np.float32),
                                             output_shape=[6, 6, 6, 4]),
        "glue_maximum_one_input": model("MAXIMUM"),
        # A one-element constant of rank 5 after a rank-4 ADD: the output gains a dim, so the
        # MAXIMUM is not a step of the ADD's chain (FORMAT.md "Fused ops") but its own op.
        "glue_chain_rank5_scalar": tflite_builder.conv_then_builtins_model(
            INPUT_SHAPE, base_packed(), BASE_SPEC, base_options(), [
                dict(builtin="ADD", constant=np.float32([1, 2, 3, 4]),
                     builtin_options=_add_options(1)),
                dict(builtin="MAXIMUM", constant=np.full((1, 1, 1, 1, 1), 0.5, np.float32),
                     output_shape=[1, 1, 6, 6, 4])]),
    }


def test_malformed_glue_is_left_to_the_runtime_or_refused(delegate_library, tmp_path):
    x = x_for([2, 6, 6, 3])
    for runtime in ("tf", "litert"):
        outcomes = {}
        for claim in ("true", "false"):
            models = {name: (data, x, {"claim_builtins": claim})
                      for name, data in glue_cases().items()}
            outcomes[claim] = run_isolated(runtime, models, tmp_path / f"{runtime}_{claim}")
        for name in glue_cases():
            glued, alone = outcomes["true"][name], outcomes["false"][name]
            assert glued["outcome"] != "crash", f"{name} crashed under {runtime}: {glued}"
            assert glued["outcome"] == alone["outcome"], (name, runtime, glued, alone)
            if glued["outcome"] == "ok":
                a = np.load(tmp_path / f"{runtime}_true" / f"{name}.out.npy")
                b = np.load(tmp_path / f"{runtime}_false" / f"{name}.out.npy")
                assert a.tobytes() == b.tobytes(), name
        assert outcomes["true"]["glue_add_valid_per_channel"]["outcome"] == "ok"
        assert outcomes["true"]["glue_max_pool_fused"]["outcome"] == "ok"
        assert outcomes["true"]["glue_resize_valid"]["outcome"] == "ok"
        assert outcomes["true"]["glue_leaky_relu_valid"]["outcome"] == "ok"
        assert outcomes["true"]["glue_div_valid"]["outcome"] == "ok"
        assert outcomes["true"]["glue_minimum_valid"]["outcome"] == "ok"
        assert outcomes["true"]["glue_chain_rank5_scalar"]["outcome"] == "ok"
