"""Builds one-op .tflite models (bytes) holding a bitlite custom op, well formed or broken,
and chains of such ops (conv_chain_model).

Uses the TF wheel's flatbuffer object API (tensorflow.lite.python.schema_py_generated).
A model has:
  tensor 0: float32 input  (batch dim -1 in shape_signature, so resize_tensor_input works)
  tensor 1: uint8 constant weights [C_out, row_bytes] with their own buffer
  tensor 2: float32 output
and one CUSTOM operator. Keyword arguments of `one_op_model` break it in one way at a time.
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from tensorflow.lite.python import schema_py_generated as schema

T = schema.TensorType


def _tensor(name, shape, tensor_type, buffer, dynamic_batch):
    tensor = schema.TensorT()
    tensor.name = name
    tensor.shape = list(shape)
    if dynamic_batch and len(shape) > 0:
        tensor.shapeSignature = [-1] + list(shape[1:])
    tensor.type = tensor_type
    tensor.buffer = buffer
    return tensor


def _buffer(data: bytes | None):
    buffer = schema.BufferT()
    if data is not None:
        buffer.data = np.frombuffer(data, dtype=np.uint8)
    return buffer


def one_op_model(op_name: str, input_shape, weights: np.ndarray, output_shape,
                 options: bytes, *, input_type=T.FLOAT32, weight_type=T.UINT8,
                 weight_shape=None, weight_constant=True, op_inputs=(0, 1),
                 dynamic_batch=True) -> bytes:
    """A .tflite model with a single CUSTOM op `op_name`.

    weights: the array whose bytes fill the weight buffer (any dtype, written as is).
    weight_shape: declared weight tensor shape (default weights.shape) to mismatch on purpose.
    weight_constant=False: the weight tensor has no data and is a graph input instead.
    op_inputs: tensor indices the op reads (drop 1 for a one-input op).
    """
    weights = np.ascontiguousarray(weights)
    declared = list(weights.shape if weight_shape is None else weight_shape)
    buffers = [_buffer(None)]                      # buffer 0: the empty sentinel
    if weight_constant:
        buffers.append(_buffer(weights.tobytes()))
        weight_buffer = 1
    else:
        weight_buffer = 0
    tensors = [
        _tensor("input", input_shape, input_type, 0, dynamic_batch),
        _tensor("weights", declared, weight_type, weight_buffer, False),
        _tensor("output", output_shape, T.FLOAT32, 0, dynamic_batch),
    ]

    operator = schema.OperatorT()
    operator.opcodeIndex = 0
    operator.inputs = list(op_inputs)
    operator.outputs = [2]
    operator.builtinOptionsType = schema.BuiltinOptions.NONE
    operator.customOptions = np.frombuffer(bytes(options), dtype=np.uint8) if options else []
    operator.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS

    subgraph = schema.SubGraphT()
    subgraph.name = "main"
    subgraph.tensors = tensors
    subgraph.inputs = [0] if weight_constant else [0, 1]
    subgraph.outputs = [2]
    subgraph.operators = [operator]

    code = schema.OperatorCodeT()
    code.builtinCode = schema.BuiltinOperator.CUSTOM
    code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = op_name
    code.version = 1

    model = schema.ModelT()
    model.version = 3
    model.description = "bitlite test model"
    model.operatorCodes = [code]
    model.subgraphs = [subgraph]
    model.buffers = buffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# ---------------------------------------------------------------------------------------------
# Well-formed models from a spec dict (the keyword arguments of custom_ops.*_options)
# ---------------------------------------------------------------------------------------------

def conv_output_shape(input_shape, spec) -> list[int]:
    """[N, OH, OW, C_out] by FORMAT.md's output size rules (for the declared output tensor)."""
    n, h, w, _ = input_shape

    def size(extent, kernel, stride, dilation):
        if spec.get("padding", "VALID") == "SAME":
            return -(-extent // stride)
        return -(-(extent - (kernel - 1) * dilation) // stride)

    return [n, size(h, spec["kernel_h"], spec.get("stride_h", 1), spec.get("dilation_h", 1)),
            size(w, spec["kernel_w"], spec.get("stride_w", 1), spec.get("dilation_w", 1)),
            spec["out_channels"]]


def conv_model(input_shape, packed: np.ndarray, spec: dict, options: bytes, **broken) -> bytes:
    """A BitliteConv2D model; `options` are the custom options bytes (maybe broken)."""
    out_shape = broken.pop("output_shape", None) or conv_output_shape(input_shape, spec)
    return one_op_model("BitliteConv2D", input_shape, packed, out_shape, options, **broken)


def conv_chain_model(input_shape, layers) -> bytes:
    """BitliteConv2D ops one after another: layers = [(packed, spec, options), ...], op i
    reading op i - 1's output. Tensor 0 is the float input; op i's weights are tensor 2i + 1
    and its output tensor 2i + 2 (the last one the model's output)."""
    first = schema.ModelT.InitFromPackedBuf(
        bytearray(conv_model(input_shape, *layers[0])), 0)
    subgraph = first.subgraphs[0]
    shape = subgraph.tensors[2].shape
    for packed, spec, options in layers[1:]:
        first.buffers.append(_buffer(np.ascontiguousarray(packed).tobytes()))
        subgraph.tensors.append(_tensor("weights", packed.shape, T.UINT8,
                                        len(first.buffers) - 1, False))
        shape = conv_output_shape(shape, spec)
        subgraph.tensors.append(_tensor("output", shape, T.FLOAT32, 0, True))
        operator = schema.OperatorT()
        operator.opcodeIndex = 0
        operator.inputs = [len(subgraph.tensors) - 3, len(subgraph.tensors) - 2]
        operator.outputs = [len(subgraph.tensors) - 1]
        operator.builtinOptionsType = schema.BuiltinOptions.NONE
        operator.customOptions = np.frombuffer(bytes(options), dtype=np.uint8)
        operator.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
        subgraph.operators.append(operator)
    subgraph.outputs = [len(subgraph.tensors) - 1]
    builder = flatbuffers.Builder(1024)
    builder.Finish(first.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def fc_model(input_shape, packed: np.ndarray, spec: dict, options: bytes, **broken) -> bytes:
    """A BitliteFullyConnected model; x is [..., K], output [..., C_out]."""
    out_shape = broken.pop("output_shape", None) or list(input_shape[:-1]) + [spec["out_channels"]]
    return one_op_model("BitliteFullyConnected", input_shape, packed, out_shape, options,
                        **broken)


# ---------------------------------------------------------------------------------------------
# Deliberately broken models
# ---------------------------------------------------------------------------------------------

def broken_conv_models(input_shape, packed: np.ndarray, spec: dict, options: bytes,
                       rng: np.random.Generator) -> dict:
    """name -> (model bytes, list of input arrays): one tensor-level defect per model.

    Built around a valid conv (input_shape, packed, spec, options); each case changes one
    thing. The inputs match the graph's inputs (the non-constant case also feeds weights).
    """
    n, h, w, c_in = input_shape
    x = rng.normal(size=input_shape).astype(np.float32)
    c_out, row_bytes = packed.shape
    cases = {}

    def add(name, shape, feeds, weights=packed, **broken):
        cases[name] = (conv_model(shape, weights, spec, options, **broken), feeds)

    add("input_int8", input_shape, [x.astype(np.int8)], input_type=T.INT8)
    add("input_uint8", input_shape, [x.astype(np.uint8)], input_type=T.UINT8)
    add("weights_float32", input_shape, [x], weights=packed.astype(np.float32),
        weight_type=T.FLOAT32)
    add("weights_int8", input_shape, [x], weights=packed.view(np.int8), weight_type=T.INT8)
    add("weights_not_constant", input_shape, [x, packed], weight_constant=False)
    add("weights_extra_row_byte", input_shape, [x],
        weights=np.concatenate([packed, np.zeros((c_out, 1), np.uint8)], axis=1))
    add("weights_missing_row", input_shape, [x], weights=packed[:-1])
    add("weights_rank1", input_shape, [x], weights=packed.reshape(-1))
    add("weights_rank3", input_shape, [x], weights=packed.reshape(c_out, 1, row_bytes))
    add("weights_short_buffer", input_shape, [x], weights=packed.reshape(-1)[:-3],
        weight_shape=packed.shape)
    wrong_c = [n, h, w, c_in + 2]
    add("input_channels_mismatch", wrong_c, [rng.normal(size=wrong_c).astype(np.float32)])
    rank3 = [n, h, w * c_in]
    add("input_rank3", rank3, [x.reshape(rank3)], output_shape=[n, h, c_out])
    rank5 = [n, 1, h, w, c_in]
    add("input_rank5", rank5, [x.reshape(rank5)], output_shape=[n, 1, h, w, c_out])
    add("one_input", input_shape, [x], op_inputs=(0,))
    cases["options_random_bytes"] = (
        conv_model(input_shape, packed, spec, rng.integers(0, 256, 64, np.uint8).tobytes()),
        [x])
    return cases


def broken_fc_models(k: int, packed: np.ndarray, spec: dict, options: bytes,
                     rng: np.random.Generator) -> dict:
    """name -> (model bytes, inputs) for BitliteFullyConnected defects (rank, K mismatch)."""
    x1 = rng.normal(size=[k]).astype(np.float32)
    x2 = rng.normal(size=[2, k + 1]).astype(np.float32)
    return {
        "fc_input_rank1": (fc_model([k], packed, spec, options, dynamic_batch=False), [x1]),
        "fc_input_k_mismatch": (fc_model([2, k + 1], packed, spec, options), [x2]),
    }


# ---------------------------------------------------------------------------------------------
# A bitlite conv followed by one builtin (the glue the delegate may claim), well formed or not
# ---------------------------------------------------------------------------------------------

def resize_nearest_options(align_corners=False, half_pixel_centers=False) -> tuple:
    """conv_then_builtin_model's builtin_options for RESIZE_NEAREST_NEIGHBOR."""
    return (schema.BuiltinOptions.ResizeNearestNeighborOptions,
            schema.ResizeNearestNeighborOptionsT(align_corners, half_pixel_centers))


def leaky_relu_options(alpha) -> tuple:
    """conv_then_builtin_model's builtin_options for LEAKY_RELU."""
    return schema.BuiltinOptions.LeakyReluOptions, schema.LeakyReluOptionsT(alpha)


def conv_then_builtin_model(input_shape, packed: np.ndarray, spec: dict, options: bytes,
                            builtin: str, second_input=None, output_shape=None,
                            builtin_options=None, output_type=T.FLOAT32) -> bytes:
    """BitliteConv2D (x, w) -> y, then builtin `builtin` (y[, second_input]) -> z.

    second_input: a numpy array stored as a constant (its dtype picks the tensor type), or None
    for a one-input builtin. builtin_options: (BuiltinOptions type, options object) or None.
    output_shape: z's declared shape (default y's)."""
    return conv_then_builtins_model(input_shape, packed, spec, options, [
        dict(builtin=builtin, constant=second_input, output_shape=output_shape,
             builtin_options=builtin_options, output_type=output_type)])


def conv_then_builtins_model(input_shape, packed: np.ndarray, spec: dict, options: bytes,
                             builtins: list) -> bytes:
    """BitliteConv2D (x, w) -> y, then each builtin of `builtins` in turn on the one before's
    output. Each is a dict: builtin (its name), constant (a numpy array stored as a constant
    second input, its dtype the tensor type; None for a one-input builtin), constant_first (the
    constant as the first input), builtin_options ((BuiltinOptions type, options object)),
    output_shape (default the previous output's), output_type (default FLOAT32)."""
    model = schema.ModelT.InitFromPackedBuf(
        bytearray(conv_model(input_shape, packed, spec, options)), 0)
    subgraph = model.subgraphs[0]
    previous = 2
    types = {np.dtype(np.float32): T.FLOAT32, np.dtype(np.int32): T.INT32,
             np.dtype(np.int8): T.INT8}
    for step in builtins:
        inputs = [previous]
        if step.get("constant") is not None:
            array = np.ascontiguousarray(step["constant"])
            model.buffers.append(_buffer(array.tobytes()))
            subgraph.tensors.append(_tensor("constant", array.shape, types[array.dtype],
                                            len(model.buffers) - 1, False))
            constant = len(subgraph.tensors) - 1
            inputs = [constant, previous] if step.get("constant_first") else [previous, constant]
        declared = list(step.get("output_shape") or subgraph.tensors[previous].shape)
        subgraph.tensors.append(_tensor("z", declared, step.get("output_type", T.FLOAT32), 0,
                                        True))
        output = len(subgraph.tensors) - 1
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator,
                                                                step["builtin"])
        code.version = 1
        model.operatorCodes.append(code)
        operator = schema.OperatorT()
        operator.opcodeIndex = len(model.operatorCodes) - 1
        operator.inputs = inputs
        operator.outputs = [output]
        if step.get("builtin_options") is not None:
            operator.builtinOptionsType, operator.builtinOptions = step["builtin_options"]
        subgraph.operators.append(operator)
        previous = output
    subgraph.outputs = [previous]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
