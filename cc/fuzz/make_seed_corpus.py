"""Writes the ops fuzzer's seed corpus (cc/fuzz/corpus) from converted models.

Every bitlite op of the models below becomes a one-node seed (its custom options, weight
buffer and tensor shapes, in the byte format of cc/fuzz/fuzz_graph.h) and every pair of
bitlite ops where one reads the other's output a two-node seed. The models are the end-to-end
tests' converted Keras models plus tests/support/cases.py models for what the converter rarely makes
(grouped, depthwise, leading dims), and the extreme geometries of issue 9.

Run from the repository root with bitlite installed:
    TF_USE_LEGACY_KERAS=1 .venv/bin/python -m cc.fuzz.make_seed_corpus
"""

import os
import shutil
import struct
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

from bitlite.converter import custom_ops  # noqa: E402
from tests.support import cases, models  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus"
KERNELS = ("auto", "bitserial", "int", "lut", "reference")
# The op byte of each custom code (fuzz_graph.h); 2 is a custom op bitlite does not claim.
OPS = ("BitliteConv2D", "BitliteFullyConnected", "NotBitlite", "BitliteConv2DTranspose")
FLOAT32, UINT8 = 1, 3              # TfLiteType
MMAP_RO, ARENA_RW = 1, 2           # TfLiteAllocationType
X_VALUES = 64                      # input floats per seed; the fuzzer repeats them


def tensor(tflite_type: int, allocation: int, shape, data: bytes = b"") -> bytes:
    encoded = struct.pack("<BBB", tflite_type, allocation, len(shape))
    encoded += struct.pack(f"<{len(shape)}i", *shape)
    if allocation != ARENA_RW:
        encoded += struct.pack("<H", len(data)) + data
    return encoded


def seed(ops, x_shape, x_values: np.ndarray, kernel: int, two_threads: bool) -> bytes:
    """ops: (name, options, weight shape, weight bytes, output shape) per node."""
    flags = kernel | (8 if two_threads else 0)
    encoded = struct.pack("<BB", flags, len(ops) - 1) + tensor(FLOAT32, ARENA_RW, x_shape)
    for name, options, w_shape, w_bytes, y_shape in ops:
        encoded += struct.pack("<BH", OPS.index(name), len(options)) + options
        encoded += tensor(UINT8, MMAP_RO, w_shape, w_bytes) + tensor(FLOAT32, ARENA_RW, y_shape)
    return encoded + x_values.astype("<f4").tobytes()


def bitlite_ops(data: bytes):
    """(x tensor, y tensor, node tuple for seed()) of every bitlite op of subgraph 0."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    subgraph = model.subgraphs[0]
    found = []
    for op in subgraph.operators:
        code = model.operatorCodes[op.opcodeIndex].customCode
        if code is None or code.decode() not in OPS:
            continue
        x, w, y = (subgraph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
        weights = bytes(model.buffers[w.buffer].data)
        node = (code.decode(), bytes(op.customOptions), list(w.shape), weights, list(y.shape))
        found.append((op.inputs[0], op.outputs[0], list(x.shape), node))
    return found


def model_seeds(data: bytes, rng: np.random.Generator, first: int):
    """Seeds of one model; the kernel and thread count rotate with the seed number."""
    found = bitlite_ops(data)
    chains = [[a] for a in found] + [[a, b] for a in found for b in found if b[0] == a[1]]
    for number, chain in enumerate(chains, first):
        x = cases.make_input(rng, (X_VALUES,), 0.25, 2, True)
        yield seed([node for *_, node in chain], chain[0][2], x, number % len(KERNELS),
                   number % 2 == 1)


def converted_models():
    for name, (build, weight_bits, activation_bits, *_) in sorted(models.MODELS.items()):
        yield name, models.conversion(build(), 7, weight_bits, activation_bits).data
    for weight_bits, activation_bits in ((1, 1), (2, 4), (4, 3)):
        yield (f"small_cnn_w{weight_bits}a{activation_bits}",
               models.conversion(models.small_cnn(), 1, weight_bits, activation_bits,
                                     keep_first_last_8bit=False).data)


def case_models(rng: np.random.Generator):
    yield "grouped", cases.conv_case(rng, 2, 3, False, exact=False, c_in=6, c_out=4, groups=2)
    yield "depthwise", cases.conv_case(rng, 3, 2, True, exact=False, c_in=5, c_out=10,
                                       groups=5, stride_h=2, dilation_w=2)
    yield "fc_leading", cases.fc_case(rng, 1, 4, True, exact=False, leading=(2, 3))


def extreme_geometry(weight_bits: int, groups: int, c_in: int, c_out: int) -> bytes:
    """Issue 9's overflow: 2x2 kernel, SAME, dilation 2^31 - 1, a 1x1 input."""
    spec = dict(weight_bits=weight_bits, activation_bits=2, activation_signed=False,
                input_scale=0.5, in_channels=c_in, out_channels=c_out, activation="NONE",
                multiplier=np.ones(c_out), offset=np.zeros(c_out), kernel_h=2, kernel_w=2,
                dilation_h=2**31 - 1, dilation_w=2**31 - 1, padding="SAME", groups=groups)
    row_bytes = -(-4 * (c_in // groups) * weight_bits // 8)
    node = ("BitliteConv2D", custom_ops.conv2d_options(**spec), [c_out, row_bytes],
            bytes(c_out * row_bytes), [1, 1, 1, c_out])
    return seed([node], [1, 1, 1, c_in], np.linspace(-1, 1, 8), 0, False)


def transposed(kernel: int, stride: int, padding: str, output_padding, c_in: int,
               c_out: int) -> bytes:
    """A W2A3 signed Keras Conv2DTranspose on a 3x4 input (issue 14): pads of FORMAT.md."""
    top, bottom = custom_ops.transpose_pads(kernel, stride, padding, output_padding)
    spec = dict(weight_bits=2, activation_bits=3, activation_signed=True, input_scale=0.25,
                in_channels=c_in, out_channels=c_out, activation="RELU",
                multiplier=np.linspace(0.1, 1, c_out), offset=np.linspace(-1, 1, c_out),
                kernel_h=kernel, kernel_w=kernel, stride_h=stride, stride_w=stride,
                pad_top=top, pad_bottom=bottom, pad_left=top, pad_right=bottom)
    codes = (np.arange(c_out * kernel * kernel * c_in) % 4 - 2).reshape(c_out, -1)
    weights = custom_ops.pack_weights(codes, 2)
    out_h = 2 * stride + kernel - top - bottom
    out_w = 3 * stride + kernel - top - bottom
    node = ("BitliteConv2DTranspose", custom_ops.conv2d_transpose_options(**spec),
            list(weights.shape), weights.tobytes(), [1, out_h, out_w, c_out])
    return seed([node], [1, 3, 4, c_in], np.linspace(-1, 1, 12), 1, True)


def main():
    rng = np.random.default_rng(9)
    shutil.rmtree(CORPUS, ignore_errors=True)
    CORPUS.mkdir()
    count = 0
    models = list(converted_models()) + [(name, case.model) for name, case in case_models(rng)]
    for name, data in models:
        for index, encoded in enumerate(model_seeds(data, rng, count)):
            (CORPUS / f"{name}_{index}").write_bytes(encoded)
        count += index + 1
    (CORPUS / "dilation_overflow_depthwise").write_bytes(extreme_geometry(2, 2, 2, 2))
    (CORPUS / "dilation_overflow_conv").write_bytes(extreme_geometry(2, 1, 8, 4))
    (CORPUS / "transposed_same").write_bytes(transposed(3, 2, "same", None, 5, 3))
    (CORPUS / "transposed_valid_output_padding").write_bytes(
        transposed(1, 3, "valid", 2, 3, 2))
    print(f"{len(list(CORPUS.iterdir()))} seeds in {CORPUS}")


if __name__ == "__main__":
    main()
