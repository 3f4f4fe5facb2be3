"""quantize_model and the LSQ quantizers, checked against NumPy and the LSQ paper.

Esser et al. 2020, "Learned Step Size Quantization": codes clip(round(v / s), -Qn, Qp), the step
gradient d(v_hat)/ds = round(v/s) - v/s inside the range and -Qn / Qp outside it, scaled by
g = 1 / sqrt(N * Qp) (N: elements sharing the step), and the initial step 2 <|v|> / sqrt(Qp).
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapperV2)

from bitlite.converter import (ActivationQuantizer, WeightQuantizer, convert, graph,
                               load_qat_model, quantize_model)

L = keras.layers


def wrappers(qat) -> dict:
    """Inner layer name -> its QuantizeWrapperV2."""
    return {layer.layer.name: layer for layer in qat.layers
            if isinstance(layer, QuantizeWrapperV2)}


def input_quantizer(wrapper) -> QuantizeLayer:
    """The QuantizeLayer whose output the wrapped layer reads."""
    producer = wrapper.input._keras_history.layer
    assert isinstance(producer, QuantizeLayer), type(producer)
    return producer


def bits_of(qat) -> dict:
    """Inner layer name -> (weight bits, input bits, input signed)."""
    result = {}
    for name, wrapper in wrappers(qat).items():
        quantizer = input_quantizer(wrapper).quantizer
        result[name] = (wrapper.quantize_config.weight_bits, quantizer.num_bits,
                        quantizer.signed)
    return result


def chain_model():
    """conv -> BN -> ReLU -> pool -> conv -> ReLU -> flatten -> dense -> dense."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 2))
    x = L.ReLU(name="relu0")(L.BatchNormalization(name="bn0")(L.Conv2D(4, 3, name="c0")(inputs)))
    x = L.MaxPooling2D(name="pool")(x)
    x = L.ReLU(name="relu1")(L.Conv2D(4, 1, padding="same", name="c1")(x))
    x = L.Dense(5, activation="relu", name="d0")(L.Flatten(name="flatten")(x))
    return keras.Model(inputs, L.Dense(3, name="d1")(x))


# ---------------------------------------------------------------------------------------------
# Which layers, which bits, which grid
# ---------------------------------------------------------------------------------------------

def test_first_and_last_kept_8bit_by_default():
    assert bits_of(quantize_model(chain_model(), 3, 2)) == {
        "c0": (8, 8, True), "c1": (3, 2, False), "d0": (3, 2, False), "d1": (8, 8, False)}


def two_stems_two_heads():
    """Two inputs, each with its own stem conv, joined; a 1x1 conv; a Dense head and a conv
    head."""
    a, b = keras.Input((6, 6, 2)), keras.Input((6, 6, 2))
    stems = [L.ReLU()(L.Conv2D(4, 3, name=f"stem_{n}")(x)) for n, x in (("a", a), ("b", b))]
    mid = L.ReLU()(L.Conv2D(4, 1, name="mid")(L.Concatenate()(stems)))
    heads = [L.Dense(3, name="dense_head")(L.Flatten()(mid)), L.Conv2D(2, 1, name="conv_head")(mid)]
    return keras.Model([a, b], heads)


def concatenated_heads():
    """A detector's export: two conv heads reshaped to rows and concatenated into one output."""
    inputs = keras.Input((6, 6, 2))
    x = L.ReLU()(L.Conv2D(4, 3, padding="same", name="stem")(inputs))
    x = L.ReLU()(L.Conv2D(4, 3, padding="same", name="mid")(x))
    heads = [L.Reshape((-1, 3))(L.Conv2D(3, 1, name=name)(x)) for name in ("head_a", "head_b")]
    return keras.Model(inputs, L.Concatenate(axis=1)(heads))


def residual_backbone():
    """Three residual blocks and no head: the output is the last block's ReLU(Add)."""
    inputs = keras.Input((6, 6, 2))
    x = L.ReLU()(L.Conv2D(4, 3, padding="same", name="stem")(inputs))
    for block in range(3):
        y = L.ReLU()(L.Conv2D(4, 3, padding="same", name=f"b{block}a")(x))
        x = L.ReLU()(L.Add()([L.Conv2D(4, 3, padding="same", name=f"b{block}b")(y), x]))
    return keras.Model(inputs, x)


def eight_bit(qat) -> set:
    return {name for name, bits in bits_of(qat).items() if bits[0] == 8}


def test_every_stem_and_head_is_kept_8bit():
    """First and last per input and per output: each input's first quantized reader, each
    output's (each concatenated head's) last quantized producer, in execution order."""
    keras.utils.set_random_seed(3)
    assert eight_bit(quantize_model(two_stems_two_heads(), 2, 2)) == {
        "stem_a", "stem_b", "dense_head", "conv_head"}
    # A head left float: the output's last quantized producer is the layer before it.
    assert eight_bit(quantize_model(two_stems_two_heads(), 2, 2, skip=["conv_head"])) == {
        "stem_a", "stem_b", "dense_head", "mid"}
    assert eight_bit(quantize_model(concatenated_heads(), 2, 2)) == {"stem", "head_a", "head_b"}
    # The skips reach the output through Add, but only the last block's layer is a last one.
    assert eight_bit(quantize_model(residual_backbone(), 2, 2)) == {"stem", "b2b"}


def test_keep_first_last_off_quantizes_all():
    qat = quantize_model(chain_model(), 1, 4, keep_first_last_8bit=False)
    assert bits_of(qat) == {
        "c0": (1, 4, True), "c1": (1, 4, False), "d0": (1, 4, False), "d1": (1, 4, False)}


def test_keep_8bit_and_skip():
    qat = quantize_model(chain_model(), 2, 2, keep_first_last_8bit=False, keep_8bit=["c1"],
                         skip=["d0"])
    assert bits_of(qat) == {"c0": (2, 2, True), "c1": (8, 8, False), "d1": (2, 2, False)}
    # A skipped layer is copied as a plain float layer.
    assert type(qat.get_layer("d0")) is L.Dense


def test_only_conv_and_dense_are_wrapped():
    float_model = chain_model()
    qat = quantize_model(float_model, 2, 2)
    for name, wrapper in wrappers(qat).items():
        assert type(wrapper.layer) is type(float_model.get_layer(name))
    assert sorted(wrappers(qat)) == ["c0", "c1", "d0", "d1"]
    # BatchNorm, activations, pooling and flatten stay ordinary layers (folded at conversion).
    others = [layer for layer in qat.layers
              if not isinstance(layer, (QuantizeWrapperV2, QuantizeLayer, L.InputLayer))]
    assert sorted(type(layer).__name__ for layer in others) == [
        "BatchNormalization", "Flatten", "MaxPooling2D", "ReLU", "ReLU"]
    assert sum(isinstance(layer, QuantizeLayer) for layer in qat.layers) == 4


def sign_model():
    """Each named conv reads a tensor whose sign quantize_model must infer."""
    keras.utils.set_random_seed(4)
    conv = lambda name, **kw: L.Conv2D(4, 3, padding="same", name=name, **kw)  # noqa: E731
    inputs = keras.Input((6, 6, 2))
    a = conv("reads_input")(inputs)
    b = conv("reads_relu_pool")(L.MaxPooling2D()(L.ReLU()(a)))
    c = conv("reads_bn", activation="relu6")(L.BatchNormalization()(b))
    d = conv("reads_own_relu6")(c)
    e = conv("reads_leaky_relu")(L.LeakyReLU()(d))
    f = conv("reads_add_of_relus")(L.Add()([c, L.Activation("relu")(e)]))
    g = conv("reads_add_with_linear")(L.Add()([c, e]))
    h = conv("reads_concat_of_relus")(L.Concatenate()([L.ReLU()(f), c]))
    i = conv("reads_concat_with_linear")(L.Concatenate()([g, c]))
    outputs = L.Dense(2, name="reads_flatten_linear")(L.Flatten()(L.Add()([h, i])))
    return keras.Model(inputs, outputs)


def test_input_grid_unsigned_only_after_relu():
    signed = {name: bits[2] for name, bits in
              bits_of(quantize_model(sign_model(), 2, 2, keep_first_last_8bit=False)).items()}
    assert signed == {
        "reads_input": True, "reads_relu_pool": False, "reads_bn": True,
        "reads_own_relu6": False, "reads_leaky_relu": True, "reads_add_of_relus": False,
        "reads_add_with_linear": True, "reads_concat_of_relus": False,
        "reads_concat_with_linear": True, "reads_flatten_linear": True}


def test_float_model_not_mutated():
    float_model = chain_model()
    x = np.random.default_rng(0).normal(size=(8, 6, 6, 2)).astype(np.float32)
    layers = list(float_model.layers)
    weights = [w.copy() for w in float_model.get_weights()]
    before = float_model.predict(x, verbose=0)
    qat = quantize_model(float_model, 2, 2)
    # Training the QAT copy must not write through to the float model's variables.
    qat.compile(keras.optimizers.SGD(0.5), "mse")
    qat.fit(x, np.ones((8, 3), np.float32), epochs=2, verbose=0)
    assert float_model.layers == layers
    assert all(np.array_equal(a, b) for a, b in zip(float_model.get_weights(), weights))
    assert np.array_equal(float_model.predict(x, verbose=0), before)
    # ... and the QAT model started from the float weights (then trained away from them).
    assert not np.array_equal(wrappers(qat)["d1"].layer.bias.numpy(),
                              float_model.get_layer("d1").bias.numpy())


# ---------------------------------------------------------------------------------------------
# LSQ grids, forward
# ---------------------------------------------------------------------------------------------

def numpy_codes(x, step, bits, signed):
    """FORMAT.md grids, written out independently."""
    if signed and bits == 1:
        return np.where(x >= 0, 1.0, -1.0).astype(np.float32)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    v = x.astype(np.float32) / np.float32(step)  # float32 division, as TF does
    return np.clip(np.round(v), lo, hi).astype(np.float32)  # np.round: half to even


def grid_probe(rng, step, bits):
    """Exact ties (k + 0.5) * step (step a power of two), off-grid and far values, +-0."""
    k = np.arange(-(2 ** bits) - 2, 2 ** bits + 3)
    ties = (k + 0.5) * step
    values = rng.normal(0, 2 ** bits * step, size=200)
    return np.concatenate([ties, values, [0.0, -0.0, 1e-30, -1e-30, 1e6, -1e6]]).astype(
        np.float32)


def built(quantizer, shape, step):
    """The quantizer's variables on a throwaway layer, step set and marked initialised."""
    weights = quantizer.build(shape, "probe", keras.layers.Layer())
    weights["step"].assign(np.broadcast_to(step, weights["step"].shape))
    weights["initialized"].assign(True)
    return weights


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_activation_grid_matches_numpy(bits, signed, rng):
    step = 0.25
    x = grid_probe(rng, step, bits)
    quantizer = ActivationQuantizer(bits, signed)
    codes = quantizer.codes(tf.constant(x), tf.constant(step)).numpy()
    assert np.array_equal(codes, numpy_codes(x, step, bits, signed))
    if signed and bits == 1:
        assert codes[x == 0].tolist() == [1.0, 1.0]  # +0 and -0: the sign grid has +1 at 0
    # The forward pass is codes * step.
    batch = x.reshape(1, -1)
    out = quantizer(tf.constant(batch), False, built(quantizer, batch.shape, step)).numpy()
    assert np.array_equal(out, numpy_codes(batch, step, bits, signed) * np.float32(step))


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_weight_grid_matches_numpy_per_channel(bits, rng):
    steps = np.array([0.25, 0.1, 0.0371], np.float32)  # one per output channel
    kernel = (rng.normal(0, 2 ** bits, size=(3, 3, 2, 3)) * steps).astype(np.float32)
    kernel[0, 0, 0] = (np.array([0.5, -1.5, 2.5]) * steps).astype(np.float32)  # ties
    quantizer = WeightQuantizer(bits)
    codes = quantizer.codes(tf.constant(kernel), tf.constant(steps)).numpy()
    for c in range(3):
        assert np.array_equal(codes[..., c], numpy_codes(kernel[..., c], steps[c], bits, True))


def test_round_half_to_even_on_ties():
    quantizer = ActivationQuantizer(4, signed=True)
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], np.float32)
    assert quantizer.codes(tf.constant(x), tf.constant(1.0)).numpy().tolist() == [
        0, 2, 2, 0, -2, -2]


# ---------------------------------------------------------------------------------------------
# LSQ step gradient
# ---------------------------------------------------------------------------------------------

def lsq_step_gradient(x, upstream, step, bits, signed, elements):
    """dL/ds of the LSQ paper for L = sum(upstream * v_hat), `elements` sharing the step s."""
    lo, hi = (-1, 1) if signed and bits == 1 else (
        (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1))
    v = x.astype(np.float32) / np.float32(step)
    codes = numpy_codes(x, step, bits, signed)
    inside = (v > lo) & (v < hi)
    dq_ds = np.where(inside, codes - v, codes)  # outside the range the code is -Qn or Qp
    return (upstream * dq_ds).sum() / np.sqrt(elements * hi), inside


def gradients(quantizer, x, upstream, step):
    weights = built(quantizer, x.shape, step)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(quantizer(x, True, weights) * upstream)
    grad_x, grad_step = tape.gradient(loss, [x, weights["step"]])
    return grad_x.numpy(), grad_step.numpy()


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_activation_step_gradient_is_lsq(bits, signed, rng):
    step = np.float32(0.3)
    x = rng.normal(0, 2 ** bits * step, size=(3, 5, 4)).astype(np.float32)  # N = 20 per example
    upstream = rng.normal(size=x.shape).astype(np.float32)
    grad_x, grad_step = gradients(ActivationQuantizer(bits, signed), x, upstream, step)
    # N counts the elements of one example (the paper's activation rule), not the batch.
    expected, inside = lsq_step_gradient(x, upstream, step, bits, signed, elements=20)
    np.testing.assert_allclose(grad_step, expected, rtol=1e-4)
    # Straight-through estimator: gradient 1 inside the range (up to the rounding of the
    # surrogate x / s times s), exactly 0 where clipped.
    np.testing.assert_allclose(grad_x[inside], upstream[inside], rtol=1e-6)
    assert not grad_x[~inside].any()


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_weight_step_gradient_is_lsq_per_channel(bits, rng):
    steps = np.array([0.2, 0.05, 0.7], np.float32)
    kernel = (rng.normal(0, 2 ** bits, size=(3, 3, 2, 3)) * steps).astype(np.float32)
    upstream = rng.normal(size=kernel.shape).astype(np.float32)
    _, grad_step = gradients(WeightQuantizer(bits), kernel, upstream, steps)
    for c in range(3):  # N = 3 * 3 * 2 weights share each channel's step
        expected, _ = lsq_step_gradient(kernel[..., c], upstream[..., c], steps[c], bits, True,
                                        elements=18)
        np.testing.assert_allclose(grad_step[c], expected, rtol=1e-4, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Lazy step initialisation
# ---------------------------------------------------------------------------------------------

def test_steps_initialise_on_first_call_only(rng):
    qat = quantize_model(chain_model(), 2, 3, keep_first_last_8bit=False)
    first = input_quantizer(wrappers(qat)["c0"])
    kernel, _ = graph.wrapped_kernel(wrappers(qat)["c0"])
    kernel_vars = graph.quantizer_variables(wrappers(qat)["c0"])
    assert not bool(first.quantizer_vars["initialized"].numpy())
    assert not bool(kernel_vars["initialized"].numpy())

    x = rng.normal(size=(8, 6, 6, 2)).astype(np.float32)
    qat(x, training=False)
    # 2 <|x|> / sqrt(Qp): Qp = 1 for the 2-bit signed weights, 3 for the 3-bit signed input.
    np.testing.assert_allclose(first.quantizer_vars["step"].numpy(),
                               2 * np.abs(x).mean() / np.sqrt(3), rtol=1e-5)
    np.testing.assert_allclose(kernel_vars["step"].numpy(),
                               2 * np.abs(kernel.numpy()).mean(axis=(0, 1, 2)), rtol=1e-5)
    assert bool(first.quantizer_vars["initialized"].numpy())

    # Every other quantizer initialised from what it saw on that same call.
    probe = keras.Model(qat.inputs, [input_quantizer(w).input for w in wrappers(qat).values()])
    for wrapper, seen in zip(wrappers(qat).values(), probe.predict(x, verbose=0)):
        quantizer = input_quantizer(wrapper)
        expected = 2 * np.abs(seen).mean() / np.sqrt(quantizer.quantizer.qmax)
        np.testing.assert_allclose(quantizer.quantizer_vars["step"].numpy(), expected,
                                   rtol=1e-5, err_msg=wrapper.layer.name)

    steps = [w.numpy().copy() for w in qat.weights if "step" in w.name]
    qat(10 * x, training=False)  # a later call does not re-initialise
    assert all(np.array_equal(a, w.numpy()) for a, w in
               zip(steps, [w for w in qat.weights if "step" in w.name]))


def test_steps_are_trained(rng):
    qat = quantize_model(chain_model(), 2, 2)
    x = rng.normal(size=(16, 6, 6, 2)).astype(np.float32)
    qat(x, training=False)
    steps = [w for w in qat.trainable_weights if "step" in w.name]
    assert len(steps) == 8  # an input and a kernel step for each of the 4 wrapped layers
    before = [w.numpy().copy() for w in steps]
    qat.compile(keras.optimizers.SGD(0.1), "mse")
    qat.fit(x, rng.normal(size=(16, 3)), epochs=1, verbose=0)
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, steps))


# ---------------------------------------------------------------------------------------------
# Save, load, convert
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_qat():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 6, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    qat = quantize_model(chain_model(), 2, 2)
    qat.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    qat.fit(x, y, epochs=1, verbose=0)
    return qat, x, y, convert(qat)


def test_convert_is_deterministic(trained_qat):
    qat, _, _, data = trained_qat
    assert convert(qat) == data


@pytest.mark.parametrize("suffix", [".keras", ".h5", ""], ids=["keras", "h5", "savedmodel"])
def test_save_load_convert_identical(trained_qat, suffix, tmp_path):
    qat, x, y, data = trained_qat
    path = tmp_path / f"qat{suffix}"
    qat.save(path)
    loaded = load_qat_model(path)
    assert np.array_equal(loaded.predict(x, verbose=0), qat.predict(x, verbose=0))
    assert convert(loaded) == data
    # Training resumes from the saved optimizer state.
    loaded.fit(x, y, epochs=1, verbose=0)


# ---------------------------------------------------------------------------------------------
# Errors: what is wrong and what to do instead
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [0, 5, 8, True, 2.5])
@pytest.mark.parametrize("option", ["weight_bits", "activation_bits"])
def test_unsupported_bits_rejected(option, bits):
    with pytest.raises(ValueError) as error:
        quantize_model(chain_model(), **{option: bits})
    message = str(error.value)
    assert option in message and "(1, 2, 3, 4)" in message, message


@pytest.mark.parametrize("option", ["keep_8bit", "skip"])
def test_unknown_layer_name_rejected(option):
    with pytest.raises(ValueError) as error:
        quantize_model(chain_model(), **{option: ["c7"]})
    message = str(error.value)
    assert option in message and "'c7'" in message, message
    # The way out: the names that could have been meant.
    assert all(f"'{name}'" in message for name in ("c0", "c1", "d0", "d1")), message


@pytest.mark.parametrize("option", ["keep_8bit", "skip"])
def test_non_quantizable_layer_named(option):
    with pytest.raises(ValueError) as error:
        quantize_model(chain_model(), **{option: ["flatten"]})
    message = str(error.value)
    assert "'flatten'" in message and "Flatten" in message, message
    assert f"remove it from {option}" in message or "remove it from keep_8bit/skip" in message, (
        message)


def test_layer_called_twice_rejected():
    inputs = keras.Input((6, 6, 2))
    shared = L.Conv2D(2, 3, padding="same", name="shared")
    x = shared(L.ReLU()(shared(inputs)))
    float_model = keras.Model(inputs, L.Dense(3)(L.Flatten()(L.Conv2D(2, 3)(L.Conv2D(2, 3)(x)))))
    with pytest.raises(ValueError) as error:
        quantize_model(float_model)
    message = str(error.value)
    assert "'shared'" in message and "skip=['shared']" in message, message
    # The way out works: a skipped shared layer stays float and shared.
    quantize_model(float_model, skip=["shared"])


def test_channels_first_rejected_below_8bit():
    inputs = keras.Input((6, 6, 2))
    x = L.Permute((3, 1, 2))(L.Conv2D(2, 1)(inputs))  # first layer: kept 8-bit
    x = L.Conv2D(4, 3, data_format="channels_first", name="nchw")(x)
    float_model = keras.Model(inputs, L.Dense(3)(L.Flatten()(x)))
    with pytest.raises(ValueError) as error:
        quantize_model(float_model)
    message = str(error.value)
    assert "'nchw'" in message and "channels_first" in message, message
    assert "keep_8bit=['nchw']" in message and "skip=['nchw']" in message, message
    quantize_model(float_model, keep_8bit=["nchw"])  # the way out works


def test_subclassed_model_rejected():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="functional"):
        quantize_model(net)


def test_keras3_model_rejected_with_the_way_out():
    keras3 = pytest.importorskip("keras")
    if keras3.__version__.startswith("2."):
        pytest.skip("the installed keras package is Keras 2")
    model = keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(2)])
    with pytest.raises(ValueError) as error:
        quantize_model(model)
    message = str(error.value)
    assert "Keras 3" in message and "tf_keras" in message, message
    assert "TF_USE_LEGACY_KERAS" in message, message


def test_model_without_conv_or_dense_rejected():
    inputs = keras.Input((4, 4, 1))
    with pytest.raises(ValueError, match="no Conv2D"):
        quantize_model(keras.Model(inputs, L.Flatten()(L.ReLU()(inputs))))
