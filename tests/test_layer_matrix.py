"""Every quantizable layer type through quantize_model -> convert -> delegate, against Keras.

The matrix: layer type (Conv2D, DepthwiseConv2D with multiplier 1-2, grouped Conv2D,
SeparableConv2D, Conv1D (grouped too, causal padding too), Dense on rank 2 and rank 3) x
geometry (stride, padding, dilation) x fused activation (none, relu, relu6, LeakyReLU of slope
0.1) x BatchNorm (with, without) x input grid (raw input: signed; after a ReLU: unsigned), with
the bit pairs rotating through a representative subset of W1-4 x A1-4 so every pair meets
several layer types. Each case is a tiny random model, run once (the
lazy step initialisation), converted, and run at batch 1 (tf.lite) and batch 8 (LiteRT).

Every layer has a random bias or a BatchNorm, so that outputs do not all sit on a lattice of
quantization steps (where feature-map ties would make comparisons of arg-maxes meaningless).
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from bitlite.converter import convert, quantize_model

from support.checks import assert_matches_keras, tflite_ops
from support.harness import run_model

L = keras.layers
BIT_PAIRS = [(1, 1), (2, 2), (3, 3), (4, 4), (2, 4), (4, 2), (1, 3), (3, 1), (4, 1), (1, 4)]
GEOMETRIES = [dict(strides=s, padding=p, dilation_rate=d)
              for (s, d), p in itertools.product([(1, 1), (2, 1), (1, 2)], ["same", "valid"])]
ACTIVATIONS = ["none", "relu", "relu6", "leaky"]
CONV_TYPES = ["conv2d", "depthwise", "grouped", "separable", "conv1d"]
CAUSAL = [dict(strides=s, padding="causal", dilation_rate=d) for s, d in [(1, 1), (1, 2), (2, 1)]]


@dataclass(frozen=True)
class LayerCase:
    layer_type: str
    bits: tuple
    geometry: dict
    activation: str
    batch_norm: bool
    unsigned_input: bool
    depth_multiplier: int = 1  # of the depthwise part
    groups: int = 1  # of a Conv1D

    @property
    def id(self) -> str:
        g = self.geometry
        shape = (f"-s{g['strides']}{g['padding']}d{g['dilation_rate']}" if g else "")
        multiplier = f"-m{self.depth_multiplier}" if self.depth_multiplier > 1 else ""
        multiplier += f"-g{self.groups}" if self.groups > 1 else ""
        return (f"{self.layer_type}{multiplier}-W{self.bits[0]}A{self.bits[1]}{shape}-"
                f"{self.activation}{'-bn' if self.batch_norm else ''}"
                f"{'-u' if self.unsigned_input else '-s'}")

    @property
    def seed(self) -> int:
        return zlib.crc32(self.id.encode())


def _matrix() -> list[LayerCase]:
    """Each conv type meets every geometry x activation (BatchNorm, the input grid and the
    depth multiplier rotate); Dense meets every activation x BatchNorm; the bit pairs rotate
    throughout."""
    cases = []
    pairs = itertools.cycle(BIT_PAIRS)
    for layer_type in CONV_TYPES:
        geometries = GEOMETRIES + (CAUSAL if layer_type == "conv1d" else [])
        for index, (geometry, activation) in enumerate(
                itertools.product(geometries, ACTIVATIONS)):
            cases.append(LayerCase(layer_type, next(pairs), geometry, activation,
                                   batch_norm=index % 2 == 0, unsigned_input=index % 4 < 2,
                                   depth_multiplier=1 + index % 3 if layer_type in (
                                       "depthwise", "separable") else 1,
                                   groups=1 + index % 3 % 2 if layer_type == "conv1d" else 1))
    for layer_type in ("dense2d", "dense3d"):
        for index, (activation, batch_norm) in enumerate(
                itertools.product(ACTIVATIONS, [False, True])):
            cases.append(LayerCase(layer_type, next(pairs), {}, activation, batch_norm,
                                   unsigned_input=index % 2 == 1))
    return cases


def _layer(case: LayerCase, own_activation: str | None):
    bias = dict(use_bias=True,
                bias_initializer=keras.initializers.RandomNormal(0.0, 0.3, seed=7))
    conv = dict(kernel_size=3, activation=own_activation, **case.geometry, **bias)
    if case.layer_type == "conv2d":
        return L.Conv2D(6, **conv)
    if case.layer_type == "grouped":
        return L.Conv2D(6, groups=2, **conv)
    if case.layer_type == "depthwise":
        return L.DepthwiseConv2D(depth_multiplier=case.depth_multiplier, **conv)
    if case.layer_type == "separable":
        return L.SeparableConv2D(5, depth_multiplier=case.depth_multiplier, **conv)
    if case.layer_type == "conv1d":
        return L.Conv1D(6, groups=case.groups, **conv)
    return L.Dense(7, activation=own_activation, **bias)


def _model(case: LayerCase) -> keras.Model:
    """Input (ReLU for the unsigned grid) -> the layer -> [BatchNorm -> ReLU layer], the
    LeakyReLU layer after the layer or its BatchNorm."""
    keras.utils.set_random_seed(case.seed)
    shape = {"dense2d": (12,), "dense3d": (5, 12), "conv1d": (9, 4)}.get(case.layer_type,
                                                                      (7, 7, 4))
    inputs = keras.Input(shape)
    x = L.ReLU()(inputs) if case.unsigned_input else inputs
    own = (None if case.batch_norm or case.activation in ("none", "leaky")
           else case.activation)
    x = _layer(case, own)(x)
    if case.batch_norm:
        batch_norm = L.BatchNormalization()
        x = batch_norm(x)
        rng = np.random.default_rng(case.seed)
        channels = batch_norm.gamma.shape[0]
        batch_norm.set_weights([rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.3, channels),
                                rng.normal(0, 0.3, channels), rng.uniform(0.5, 2, channels)])
        if case.activation in ("relu", "relu6"):
            x = L.ReLU(max_value=6.0 if case.activation == "relu6" else None)(x)
    if case.activation == "leaky":
        x = L.LeakyReLU(alpha=0.1)(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("case", _matrix(), ids=lambda case: case.id)
def test_layer_converts_and_matches_keras(case, delegate_library):
    float_model = _model(case)
    if case.geometry.get("padding") == "causal" and case.bits[1] == 1 and not case.unsigned_input:
        # The causal zeros have no code on the {-1, +1} grid (layers.binary_padding_problem).
        with pytest.raises(ValueError, match="padding='causal' with a signed 1-bit input"):
            quantize_model(float_model, *case.bits, keep_first_last_8bit=False)
        return
    qat = quantize_model(float_model, *case.bits, keep_first_last_8bit=False)
    rng = np.random.default_rng(case.seed)
    shape = float_model.input_shape[1:]
    qat.predict(rng.normal(size=(16, *shape)).astype(np.float32), verbose=0)
    data = convert(qat)
    # The layer (both parts of a SeparableConv2D) and its BatchNorm/activation become bitlite
    # ops, nothing else computes (a Conv1D's op runs on [N, 1, W, C] between EXPAND_DIMS and
    # a SQUEEZE, which TFLite writes as a RESHAPE, after the PAD of causal padding).
    names = [op["name"] for op in tflite_ops(data)]
    bitlite = [name for name in names if name.startswith("Bitlite")]
    assert len(bitlite) == (2 if case.layer_type == "separable" else 1), names
    allowed = {"RELU", "EXPAND_DIMS", "SQUEEZE", "RESHAPE", "PAD"} if case.layer_type == (
        "conv1d") else {"RELU"}
    assert set(names) - set(bitlite) <= allowed, names   # RELU: the unsigned input's
    for batch, runtime in ((1, "tf"), (8, "litert")):
        x = rng.normal(size=(batch, *shape)).astype(np.float32)
        expected = qat.predict(x, verbose=0)
        assert_matches_keras(x, expected, run_model(data, x, runtime))


@pytest.mark.parametrize("layer, fused", [
    (L.LeakyReLU(alpha=0.1), "LEAKY_RELU"), (L.LeakyReLU(alpha=1.0), "LEAKY_RELU"),
    (L.ReLU(negative_slope=0.25), "LEAKY_RELU"),  # Keras runs tf.nn.leaky_relu for it too
    (L.LeakyReLU(alpha=0.0), "RELU"),             # ... and tf.nn.relu for a slope of 0
    (L.LeakyReLU(alpha=1.5), None),               # beyond 1: a LEAKY_RELU of the runtime's
    (L.LeakyReLU(alpha=1e-40), None),             # a subnormal float32 slope: the same
    (L.Activation(tf.nn.leaky_relu), None),       # its slope (0.2) is in no config
    (L.ReLU(negative_slope=0.25, max_value=6.0), None),
], ids=["leaky0.1", "leaky1", "relu_negative_slope", "leaky0", "leaky1.5", "leaky1e-40",
        "activation_fn", "clipped_leaky"])
def test_leaky_relu_fuses_where_the_op_computes_it(layer, fused, delegate_library):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 5))
    x = L.Conv2D(7, 3, padding="same", name="conv")(inputs)
    x = L.BatchNormalization()(x)
    model = keras.Model(inputs, L.Conv2D(4, 1, name="head")(layer(x)))
    qat = quantize_model(model, 2, 2, keep_first_last_8bit=False)
    rng = np.random.default_rng(3)
    qat.predict(rng.normal(size=(16, 6, 6, 5)).astype(np.float32), verbose=0)
    data = convert(qat)
    ops = tflite_ops(data)
    conv = next(op for op in ops if op["name"] == "BitliteConv2D")
    options = conv["options"]
    assert options["activation"] == (fused or "NONE"), options["activation"]
    if fused == "LEAKY_RELU":
        assert options["alpha"] == float(np.float32(layer.get_config().get(
            "alpha", layer.get_config().get("negative_slope"))))
    # What is not fused stays a float layer: a LEAKY_RELU builtin where TFLite writes one.
    leaky_builtin = fused is None and not isinstance(layer, L.ReLU)
    assert ("LEAKY_RELU" in [op["name"] for op in ops]) == leaky_builtin
    for batch, runtime in ((1, "tf"), (8, "litert")):
        x = rng.normal(size=(batch, 6, 6, 5)).astype(np.float32)
        assert_matches_keras(x, qat.predict(x, verbose=0), run_model(data, x, runtime))


def test_fused_leaky_relu_is_what_the_keras_layers_compute():
    """The QAT model's inference computes a fused LEAKY_RELU as activations.apply_fused; it
    must be what Keras' own layers compute, bit for bit, on any float32 (specials included)."""
    from bitlite.converter import activations

    rng = np.random.default_rng(0)
    special = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, -3e38, 3e38,
                          np.finfo(np.float32).tiny, -np.finfo(np.float32).tiny])
    y = np.concatenate([special, rng.normal(0, 10, 4000).astype(np.float32),
                        np.float32(rng.normal(0, 1, 1000) * 1e-20)])
    for alpha in (0.1, 1 / 3, 0.30000001, 1.0, 2.0**-24):
        fused = activations.apply_fused("LEAKY_RELU", np.float32(alpha), tf.constant(y))
        for layer in (L.LeakyReLU(alpha=alpha), L.ReLU(negative_slope=alpha)):
            keras_y = layer(tf.constant(y)).numpy()
            assert keras_y.tobytes() == fused.numpy().tobytes(), (alpha, type(layer).__name__)


def test_8bit_layer_beyond_the_int32_sum_runs_its_leaky_relu_as_a_builtin(delegate_library):
    """An 8-bit Dense whose sums could pass int32 (K = 140000 > 131071, signed) is no bitlite
    op: builtin ops sum ranges of channels, then MUL, ADD and, for its fused LeakyReLU, a
    LEAKY_RELU builtin (regions._affine_ops); still equal to Keras."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((140000,))
    model = keras.Model(inputs, L.LeakyReLU(alpha=0.1)(L.Dense(3, name="wide")(inputs)))
    qat = quantize_model(model, 2, 2)
    rng = np.random.default_rng(4)
    qat.predict(rng.normal(size=(4, 140000)).astype(np.float32), verbose=0)
    data = convert(qat)
    names = [op["name"] for op in tflite_ops(data)]
    assert not any(name.startswith("Bitlite") for name in names), names
    assert names[-1] == "LEAKY_RELU", names
    for runtime in ("tf", "litert"):
        x = rng.normal(size=(2, 140000)).astype(np.float32)
        out = run_model(data, x, runtime)
        assert out.tobytes() == qat.predict(x, verbose=0).tobytes()
        assert (out < 0).any()


# ---------------------------------------------------------------------------------------------
# What cannot become a bitlite op fails up front, naming the layer, the reason and a way out
# ---------------------------------------------------------------------------------------------

def _unsupported(case: str):
    """(float model, quantize_model kwargs, layer name, reason) of one unsupported case."""
    inputs = keras.Input((6, 6, 4))
    x = L.ReLU()(inputs)
    if case == "channels_first_conv":
        layer = L.Conv2D(4, 3, data_format="channels_first", name="nchw")
        return keras.Model(inputs, layer(x)), {}, "nchw", "data_format='channels_first'"
    if case == "channels_first_separable":
        layer = L.SeparableConv2D(4, 3, data_format="channels_first", name="nchw_sep")
        return keras.Model(inputs, layer(x)), {}, "nchw_sep", "data_format='channels_first'"
    if case == "dilated_transpose_in_layer_bits":
        y = L.Conv2DTranspose(4, 3, dilation_rate=2, name="up")(x)
        model = keras.Model(inputs, L.Dense(2, name="d")(L.Flatten()(y)))
        return model, {"layer_bits": {"up": (2, 2)}}, "up", "dilation_rate=(2, 2)"
    if case == "causal_on_signed_1bit":
        y = L.Conv1D(4, 3, padding="causal", name="causal")(L.Reshape((36, 4))(inputs))
        return keras.Model(inputs, y), {"layer_bits": {"causal": (2, 1)}}, "causal", "causal"
    if case == "mixed_8bit_and_sub_byte":
        model = keras.Model(inputs, L.Conv2D(4, 3, name="c")(x))
        return model, {"layer_bits": {"c": (8, 2)}}, "c", "bits (8, 2) are not supported"
    shared = L.Conv2D(4, 3, padding="same", name="shared")
    return keras.Model(inputs, shared(shared(x))), {}, "shared", "called more than once"


@pytest.mark.parametrize("case", ["channels_first_conv", "channels_first_separable",
                                  "dilated_transpose_in_layer_bits", "causal_on_signed_1bit",
                                  "mixed_8bit_and_sub_byte",
                                  "shared_layer"])
def test_unsupported_layer_fails_with_name_reason_and_way_out(case):
    model, options, name, reason = _unsupported(case)
    with pytest.raises(ValueError) as error:
        quantize_model(model, 2, 2, keep_first_last_8bit=False, **options)
    message = str(error.value)
    assert f"'{name}'" in message and reason in message, message
    assert any(way in message for way in ("keep_8bit=", "skip=", "remove it from",
                                          "None to leave it float")), message


def test_float_model_is_refused_by_convert():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, L.Dense(2, name="d")(inputs), name="plain")
    with pytest.raises(ValueError, match="'plain' has no quantized layer.*quantize_model"):
        convert(model)
