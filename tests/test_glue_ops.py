"""The delegate claims the float builtins between bitlite ops ("glue", cc/FORMAT.md "Builtin
ops the delegate runs"): converted networks become one delegate partition and compute exactly
what they compute with the glue left to the runtime (delegate option claim_builtins=false),
which is exactly the Keras QAT model (support.checks.assert_matches_keras).

Partitions are counted from the delegate's verbose lines ("bitlite: delegate partition of N
nodes", one per delegate kernel the runtime creates), read from the process's stderr.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import tf_keras as keras

from bitlite import delegate
from bitlite.converter import convert, custom_ops, quantize_model

from support import architectures, networks, tflite_builder
from support import reference as ref
from support.checks import KEEPS_CODES, RUNTIMES, assert_matches_keras, tflite_ops
from support.models import randomize

L = keras.layers
PARTITION = re.compile(r"bitlite: delegate partition of (\d+) nodes")
FUSED_NODES = re.compile(r"bitlite: delegate partition of \d+ nodes \((\d+) fused\)")
CODES = re.compile(r"internal tensors \((\d+) as codes, (\d+) with codes beside\)")


def resnet_with_max_pool():
    """ResNet-style with a MAX_POOL_2D (SAME, stride 2) after the stem and a zero-padded
    strided convolution (PAD, then VALID) down to 3x3, whose ordered global pooling sums an
    odd number of positions (SPLIT_V)."""
    inputs = keras.Input((12, 12, 3))
    x = networks.conv_bn(inputs, 16, kernel=3)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    shortcut = x
    y = networks.conv_bn(x, 16, kernel=3)
    y = L.BatchNormalization()(L.Conv2D(16, 3, padding="same", use_bias=False)(y))
    x = L.ReLU()(L.Add()([y, shortcut]))
    x = L.ZeroPadding2D(1)(x)
    x = networks.conv_bn(L.Conv2D(24, 3, strides=2, use_bias=False)(x), 24)
    outputs = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="resnet_with_max_pool")


# name -> (builder, delegate partitions with the glue claimed, builtins the .tflite must hold)
NETWORKS = {
    "resnet": (architectures.resnet_style, 1, ("ADD", "RESHAPE", "UNPACK", "MUL")),
    "resnet18": (architectures.resnet18, 1, ("MAX_POOL_2D", "ADD", "RESHAPE")),
    "resnet_max_pool_pad": (resnet_with_max_pool, 1, ("MAX_POOL_2D", "PAD", "SPLIT_V")),
    "vgg": (architectures.vgg_style, 1, ("MAX_POOL_2D", "RESHAPE")),
    "densenet": (networks.densenet, 1, ("CONCATENATION", "STRIDED_SLICE", "RELU")),
    "mobilenet_v2": (networks.mobilenet_v2, 1, ("ADD", "UNPACK")),
    "yolo": (architectures.yolo_style, 1,
             ("RESIZE_NEAREST_NEIGHBOR", "CONCATENATION", "MAX_POOL_2D", "PAD")),
}

_converted = {}


def convert_w2a2(builder):
    """(qat, .tflite bytes, x, Keras outputs) of builder()'s network: random weights, W2A2,
    a predict on 32 rows to initialise the steps, 8 rows to compare."""
    keras.utils.set_random_seed(5)
    float_model = randomize(builder(), seed=5)
    qat = quantize_model(float_model, 2, 2)
    rng = np.random.default_rng(5)
    shape = float_model.input_shape[1:]
    qat.predict(rng.normal(size=(32, *shape)).astype(np.float32), verbose=0)
    x = rng.normal(size=(8, *shape)).astype(np.float32)
    return qat, convert(qat), x, qat.predict(x, verbose=0)


def converted(name):
    """convert_w2a2 of NETWORKS[name], once per session."""
    if name not in _converted:
        _converted[name] = convert_w2a2(NETWORKS[name][0])
    return _converted[name]


def run(data: bytes, x: np.ndarray, runtime: str, claim_builtins: bool,
        codes_between_ops: bool = True, threads: int = 1, fuse_ops: bool = True,
        kernel: str = "auto") -> np.ndarray:
    interpreter = delegate.Interpreter(
        model_content=data, runtime=runtime, num_threads=threads,
        delegate_options={"claim_builtins": str(claim_builtins).lower(), "verbose": "true",
                          "codes_between_ops": str(codes_between_ops).lower(),
                          "fuse_ops": str(fuse_ops).lower(), "num_threads": str(threads),
                          "kernel": kernel})
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def partitions(stderr: str) -> list[int]:
    return [int(n) for n in PARTITION.findall(stderr)]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_glue_claimed_network_is_one_partition_and_exact(name, runtime, delegate_library,
                                                         capfd):
    _, data, x, expected = converted(name)
    names = [op["name"] for op in tflite_ops(data)]
    bitlite_ops = sum(n.startswith("Bitlite") for n in names)
    assert set(NETWORKS[name][2]) <= set(names), names
    capfd.readouterr()
    for batch in (1, len(x)):
        glued = run(data, x[:batch], runtime, claim_builtins=True)
        with_glue = partitions(capfd.readouterr().err)
        alone = run(data, x[:batch], runtime, claim_builtins=False)
        without_glue = partitions(capfd.readouterr().err)
        # Bit for bit (the bytes, so that even a zero's sign counts) against the glue left to
        # the runtime, and the project's rule against Keras.
        assert glued.tobytes() == alone.tobytes(), f"{name}: glue changed the output"
        assert_matches_keras(x[:batch], expected[:batch], glued)
        assert len(with_glue) == NETWORKS[name][1], (name, with_glue, names)
        assert sum(with_glue) > bitlite_ops, "no builtin was claimed"
        assert len(without_glue) > len(with_glue), (without_glue, with_glue)
        assert sum(without_glue) == bitlite_ops




@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_codes_between_ops_change_nothing(name, delegate_library, capfd):
    """cc/FORMAT.md "Codes between ops" and "Codes beside floats": tensors kept as int8
    codes between bitlite ops, and codes that a glue op writes beside its floats, give the
    bytes that float tensors give, at batch 1 and 8; where the CPU's rows keep codes, the
    networks with bitlite op -> bitlite op edges (a residual block's two convolutions,
    MobileNetV2's expand -> depthwise -> project) keep some, and those whose residual ADDs,
    max pools or concatenations feed bitlite ops write codes beside them."""
    _, data, x, _ = converted(name)
    capfd.readouterr()
    for batch in (1, len(x)):
        with_codes = run(data, x[:batch], "tf", claim_builtins=True, codes_between_ops=True)
        kept = CODES.findall(capfd.readouterr().err)
        floats = run(data, x[:batch], "tf", claim_builtins=True, codes_between_ops=False)
        none = CODES.findall(capfd.readouterr().err)
        assert with_codes.tobytes() == floats.tobytes(), name
        assert kept and none and sum(int(c) + int(s) for c, s in none) == 0, (kept, none)
        if KEEPS_CODES and name in ("resnet", "resnet18", "mobilenet_v2"):
            assert sum(int(c) for c, _ in kept) > 0, (name, kept)
        if KEEPS_CODES and name in ("resnet", "resnet18", "densenet", "mobilenet_v2"):
            assert sum(int(s) for _, s in kept) > 0, (name, kept)


# What a node's verbose line says it runs inside it: a max pool or ADD inside a convolution,
# or a glue builtin inside the elementwise glue op before it ("MUL" after a global pool's
# last ADD, "ROUND" after a quantizer's DIV).
FUSED = re.compile(r"then a fused (max pool|[A-Z0-9_]+(?= \())")


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_fused_ops_change_nothing(name, delegate_library, capfd):
    """cc/FORMAT.md "Fused ops": a MAX_POOL_2D or a residual ADD that alone reads a
    BitliteConv2D's output runs inside it (a pool on its accumulators, FORMAT.md says why that
    is exact): the bytes of every node run on its own (fuse_ops=false), at batch 1 and 8,
    with codes between ops and without; the partition keeps its nodes and counts the fused
    ones, and every max pool of these networks is fused where it alone reads a convolution
    (all but two of YOLO's: one shares its input with a concatenation, one reads a PAD), as
    are ResNet's residual ADDs; and a chain of elementwise glue ops runs as its first op
    (the scalar MUL of an ordered global average pool inside its last ADD)."""
    _, data, x, _ = converted(name)
    names = [op["name"] for op in tflite_ops(data)]
    capfd.readouterr()
    for batch in (1, len(x)):
        for codes in (True, False):
            fused = run(data, x[:batch], "tf", claim_builtins=True, codes_between_ops=codes)
            fused_err = capfd.readouterr().err
            apart = run(data, x[:batch], "tf", claim_builtins=True, codes_between_ops=codes,
                        fuse_ops=False)
            apart_err = capfd.readouterr().err
            assert fused.tobytes() == apart.tobytes(), (name, batch, codes)
            kinds = FUSED.findall(fused_err)
            assert not FUSED.findall(apart_err)
            assert partitions(apart_err) == partitions(fused_err)
            assert [int(n) for n in FUSED_NODES.findall(fused_err)] == [len(kinds)]
            assert [int(n) for n in FUSED_NODES.findall(apart_err)] == [0]
            pools_after_convs = names.count("MAX_POOL_2D") - (2 if name == "yolo" else 0)
            assert kinds.count("max pool") == pools_after_convs, fused_err
            if name.startswith("resnet"):
                assert "ADD" in kinds, fused_err
            # The ordered global average pool ends with a scalar MUL after its last ADD.
            if "MUL" in names and name != "yolo":
                assert "MUL" in kinds, fused_err


def test_fused_ops_on_the_reference_kernel_change_nothing(delegate_library, capfd):
    """The fused node's fallback (FORMAT.md "Fused ops"): on the reference kernel the op
    computes its floats and runs the glue's MAX_POOL_2D or ADD on them, the same bytes."""
    _, data, x, _ = converted("resnet_max_pool_pad")
    capfd.readouterr()
    fused = run(data, x, "tf", claim_builtins=True, kernel="reference")
    kinds = FUSED.findall(capfd.readouterr().err)
    apart = run(data, x, "tf", claim_builtins=True, kernel="reference", fuse_ops=False)
    assert fused.tobytes() == apart.tobytes()
    assert {"max pool", "ADD"} <= set(kinds), kinds


def large_max_pool():
    """A 3x3 stride-2 MAX_POOL_2D of 64x64x64 between bitlite ops: 590k compares, enough for
    the delegate to split its rows between 2 threads. Not pooled after, so that one wrong
    element shows."""
    inputs = keras.Input((64, 64, 3))
    x = L.Conv2D(64, 3, padding="same", activation="relu")(inputs)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    return keras.Model(inputs, L.Conv2D(16, 3, padding="same")(x))


def large_residual_add():
    """A residual ADD of 64x64x32 (131k elements a row of the batch) between bitlite ops:
    enough for the delegate to split it between threads. The output is the next layer's, not
    pooled, so that one wrong element of the sum shows."""
    inputs = keras.Input((64, 64, 3))
    x = L.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    y = L.Conv2D(32, 3, padding="same")(x)
    x = L.ReLU()(L.Add()([x, y]))
    return keras.Model(inputs, L.Conv2D(16, 3, padding="same")(x))


def converted_with(build, seed: int, op: str):
    """(QAT model, its .tflite holding builtin `op`, input rows) of a random W2A2 network."""
    keras.utils.set_random_seed(seed)
    qat = quantize_model(randomize(build(), seed=seed), 2, 2)
    x = np.random.default_rng(seed).normal(size=(2, *qat.input_shape[1:])).astype(np.float32)
    qat.predict(x, verbose=0)
    data = convert(qat)
    assert op in [op["name"] for op in tflite_ops(data)]
    return qat, data, x


@pytest.mark.parametrize("build,op", [(large_max_pool, "MAX_POOL_2D"),
                                      (large_residual_add, "ADD")])
def test_glue_split_between_threads_gives_the_same_bytes(delegate_library, build, op):
    """Also the fused max pool's ranges of pooled rows (and its glue row split, unfused)."""
    qat, data, x = converted_with(build, 8, op)
    reference = run(data, x, "tf", claim_builtins=False)
    for threads in (1, 2, 3):
        for fuse in (True, False):
            got = run(data, x, "tf", claim_builtins=True, threads=threads, fuse_ops=fuse)
            assert got.tobytes() == reference.tobytes(), (threads, fuse)
    assert_matches_keras(x, qat.predict(x, verbose=0), reference)


def narrow_8bit_in_the_middle():
    """A 1x1 convolution kept 8-bit between sub-byte ones that reads 4 channels: it stays
    float builtins (the W8A8 kernels need 8 codes a tap, and a 1x1 kernel has no columns to
    fold), its input quantizer (DIV, ROUND, MINIMUM, MAXIMUM) fed by a bitlite op and its
    affine stage (MUL, ADD) feeding one."""
    inputs = keras.Input((8, 8, 8))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 1, name="narrow")(x)))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, L.Dense(10)(L.GlobalAveragePooling2D()(x)))


def test_quantizer_emulation_ops_are_claimed(delegate_library, capfd):
    """The narrow 8-bit layer's input quantizer and affine stage sit between bitlite ops and
    the runtime's CONV_2D: the delegate runs them, and the result is unchanged."""
    keras.utils.set_random_seed(6)
    qat = quantize_model(randomize(narrow_8bit_in_the_middle(), seed=6), 2, 2,
                         keep_first_last_8bit=False, layer_bits={"narrow": (8, 8)})
    x = np.random.default_rng(6).normal(size=(4, 8, 8, 8)).astype(np.float32)
    qat.predict(x, verbose=0)
    expected = qat.predict(x, verbose=0)
    data = convert(qat)
    names = [op["name"] for op in tflite_ops(data)]
    for op in ("DIV", "ROUND", "MINIMUM", "MAXIMUM", "CONV_2D", "MUL", "ADD"):
        assert op in names, (op, names)
    capfd.readouterr()
    glued = run(data, x, "tf", claim_builtins=True)
    # Each node's verbose line, or its mention inside the op that runs it (the quantizer's
    # ROUND, MINIMUM, MAXIMUM inside its DIV: "then a fused ROUND (bitlite: node 9 (ROUND))").
    described = re.findall(r"bitlite: node \d+ \((\w+)\)", capfd.readouterr().err)
    for op in ("DIV", "ROUND", "MINIMUM", "MAXIMUM", "MUL", "ADD"):
        assert op in described, (op, described)
    assert "CONV_2D" not in described, described
    assert glued.tobytes() == run(data, x, "tf", claim_builtins=False).tobytes()
    assert_matches_keras(x, expected, glued)


def pointwise_rgb_stem():
    """A 1x1 stem on 3 channels (kept 8-bit, narrow, nothing to fold: float builtins), then
    sub-byte layers."""
    inputs = keras.Input((8, 8, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 1, name="stem")(inputs)))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, L.Dense(10)(L.GlobalAveragePooling2D()(x)))


def test_glue_feeding_only_the_runtime_stays_with_it(delegate_library, capfd):
    """A narrow 8-bit stem that stays float builtins: its input quantizer feeds only the
    runtime's CONV_2D, so the delegate leaves it there and says why."""
    _, data, x = converted_with(pointwise_rgb_stem, 7, "CONV_2D")
    capfd.readouterr()
    run(data, x[:1], "tf", claim_builtins=True)
    err = capfd.readouterr().err
    described = re.findall(r"bitlite: node \d+ \((\w+)\):", err)
    for op in ("MUL", "ADD", "RESHAPE", "UNPACK"):
        assert op in described, (op, described)
    assert "connected to no bitlite op" in err


# A BitliteConv2D 3x3, 3 -> 4 channels, W2A2, no activation (negative outputs for LEAKY_RELU)
# on [1, 6, 6, 3], which single_glue_model follows with one builtin.
CONV_SPEC = dict(weight_bits=2, activation_bits=2, activation_signed=True, input_scale=0.25,
                 in_channels=3, out_channels=4, kernel_h=3, kernel_w=3, stride_h=1, stride_w=1,
                 dilation_h=1, dilation_w=1, padding="SAME", activation="NONE",
                 multiplier=np.float32([0.5, 1.25, 2, 0.375]),
                 offset=np.float32([0, 1, -1, 0.5]))


def single_glue_model(builtin, second=None, output_shape=None, options=None) -> bytes:
    packed = custom_ops.pack_weights(
        ref.random_weight_codes(np.random.default_rng(7), 2, (4, 27)), 2)
    return tflite_builder.conv_then_builtin_model(
        [1, 6, 6, 3], packed, CONV_SPEC, custom_ops.conv2d_options(**CONV_SPEC), builtin,
        second, output_shape=output_shape, builtin_options=options)


def resize_model(height, width, align_corners=False, half_pixel_centers=False) -> bytes:
    return single_glue_model(
        "RESIZE_NEAREST_NEIGHBOR", np.int32([height, width]), [1, height, width, 4],
        tflite_builder.resize_nearest_options(align_corners, half_pixel_centers))


def leaky_relu_model(alpha) -> bytes:
    return single_glue_model("LEAKY_RELU", options=tflite_builder.leaky_relu_options(alpha))


# (name, model, claimed): resizes up, down and to odd sizes under each index rule, and
# LEAKY_RELU's slopes; beyond the rules the delegate runs, the node stays the runtime's.
SINGLE_GLUE = [
    *[(f"resize_{h}x{w}_{int(a)}{int(p)}", resize_model(h, w, a, p), not (a and p))
      for h, w in [(12, 12), (9, 4), (3, 5), (1, 1), (6, 6), (13, 7)]
      for a, p in [(False, False), (False, True), (True, False), (True, True)]],
    *[(f"leaky_relu_{alpha}", leaky_relu_model(alpha), 0 <= alpha <= 1)
      for alpha in (0.0, 0.1, 0.3, 1.0, 1.5, -0.2)],
]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_resize_and_leaky_relu_equal_the_runtimes_kernels(runtime, delegate_library, capfd):
    """RESIZE_NEAREST_NEIGHBOR (UpSampling2D, a YOLO neck's) and LEAKY_RELU run by the delegate
    give the bytes of the runtime's own kernels, for every size and index rule it claims."""
    x = np.random.default_rng(4).normal(size=(2, 6, 6, 3)).astype(np.float32)
    capfd.readouterr()
    outputs = {}
    for name, data, claimed in SINGLE_GLUE:
        glued = outputs[name] = run(data, x, runtime, claim_builtins=True)
        err = capfd.readouterr().err
        alone = run(data, x, runtime, claim_builtins=False)
        capfd.readouterr()
        assert glued.tobytes() == alone.tobytes(), name
        assert partitions(err) == [2 if claimed else 1], (name, err)
        if not claimed:
            assert "left to the runtime" in err, (name, err)
    # Both signs reach the nodes: the slope shows.
    assert np.count_nonzero(outputs["leaky_relu_0.1"] < 0) > 0
    assert np.count_nonzero(outputs["leaky_relu_0.1"] > 0) > 0


def _options(kind: str, **fields):
    """(BuiltinOptions type, options object) of the schema's `kind`Options with `fields`."""
    from tensorflow.lite.python import schema_py_generated as schema
    options = getattr(schema, f"{kind}OptionsT")()
    for name, value in fields.items():
        setattr(options, name, value)
    return getattr(schema.BuiltinOptions, f"{kind}Options"), options


def elementwise_chain(head: dict) -> list:
    """`head` (an ADD with RELU6: values in [0, 6]), then every kind of step a chain takes
    (FORMAT.md "Fused ops"): scalar constants second and first (SUB, DIV, MINIMUM: not
    commutative), MUL, ROUND, RELU, LEAKY_RELU, MAXIMUM, on values that stay finite (8 - x >= 2,
    so 24 / it is) and end in [-1, 3] with both signs before the LEAKY_RELU."""
    scalar = lambda value: np.float32([value])  # noqa: E731
    return [head,
            dict(builtin="SUB", constant=scalar(8.0), constant_first=True,
                 builtin_options=_options("Sub")),
            dict(builtin="DIV", constant=scalar(24.0), constant_first=True,
                 builtin_options=_options("Div")),
            dict(builtin="MUL", constant=scalar(1.5), builtin_options=_options("Mul")),
            dict(builtin="ROUND"),
            dict(builtin="MINIMUM", constant=scalar(12.0), constant_first=True),
            dict(builtin="RELU"),
            dict(builtin="SUB", constant=scalar(9.0), builtin_options=_options("Sub")),
            dict(builtin="LEAKY_RELU", builtin_options=_options("LeakyRelu", alpha=0.25)),
            dict(builtin="MAXIMUM", constant=scalar(-1.0))]


@pytest.mark.parametrize("head", ["channels", "general"])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_elementwise_chain_runs_as_one_op(head, runtime, rng, delegate_library, capfd):
    """A chain of ten elementwise glue ops after a bitlite convolution runs inside its first
    (an ADD of a per-channel constant, or of a [6, 1, 1] one: the strided broadcast), all nine
    others fused: the bytes of the nodes run one by one (fuse_ops=false) and of the runtime's
    own kernels (claim_builtins=false), at batch 1 and 4 (a resize re-prepares the chain) on 1
    and 2 threads (batch 4's outputs are split between them)."""
    spec = dict(weight_bits=2, activation_bits=2, activation_signed=False, input_scale=0.3,
                in_channels=3, out_channels=16, kernel_h=3, kernel_w=3, padding="SAME",
                activation="NONE", multiplier=rng.uniform(0.1, 0.3, 16).astype(np.float32),
                offset=rng.normal(3.0, 1.5, 16).astype(np.float32))
    qw = ref.random_weight_codes(rng, 2, (16, 3, 3, 3))
    packed = custom_ops.pack_weights(ref.conv_weight_matrix(qw), 2)
    added = (rng.normal(0.0, 1.0, 16) if head == "channels" else rng.normal(0.0, 1.0, (6, 1, 1)))
    chain = elementwise_chain(dict(builtin="ADD", constant=added.astype(np.float32),
                                   builtin_options=_options("Add", fusedActivationFunction=3)))
    data = tflite_builder.conv_then_builtins_model([1, 6, 5, 3], packed, spec,
                                                   custom_ops.conv2d_options(**spec), chain)
    capfd.readouterr()
    for batch in (1, 4):
        x = rng.normal(0.0, 1.5, (batch, 6, 5, 3)).astype(np.float32)
        for threads in (1, 2):
            fused = run(data, x, runtime, claim_builtins=True, threads=threads)
            steps = FUSED.findall(capfd.readouterr().err)
            apart = run(data, x, runtime, claim_builtins=True, threads=threads, fuse_ops=False)
            runtime_ops = run(data, x, runtime, claim_builtins=False, threads=threads)
            capfd.readouterr()
            assert steps == [step["builtin"] for step in chain[1:]], steps
            assert fused.tobytes() == apart.tobytes(), (batch, threads)
            assert fused.tobytes() == runtime_ops.tobytes(), (batch, threads)
            assert len(np.unique(fused)) >= 5, f"the chain collapsed to {np.unique(fused)}"
