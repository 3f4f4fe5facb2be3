"""Reading, inspecting and editing .tflite flatbuffers through the TFLite schema's Python
object API (schema_py_generated ModelT/SubGraphT/OperatorT/TensorT...).

Generic helpers only: the converter, `bitlite info` and the tests use them alike.
"""

from __future__ import annotations

import sys

import flatbuffers
import numpy as np


def _schema_module():
    """TensorFlow's schema once TensorFlow is imported (the converter edits what TF's converter
    wrote, so it uses TF's schema version); else LiteRT's, which imports in a fraction of a
    second and is there in a delegate-only install (`bitlite info` needs no TensorFlow)."""
    if "tensorflow" not in sys.modules:
        try:
            from ai_edge_litert import schema_py_generated
            return schema_py_generated
        except ImportError:
            pass
    try:
        from tensorflow.lite.python import schema_py_generated
    except ImportError:
        raise ImportError("reading a .tflite needs the TFLite schema from ai-edge-litert or "
                          "tensorflow: pip install ai-edge-litert") from None
    return schema_py_generated


schema = _schema_module()

_BUILTIN_NAMES = {value: name for name, value in vars(schema.BuiltinOperator).items()
                  if not name.startswith("_")}
_NUMPY_TYPES = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT32: np.int32,
                schema.TensorType.UINT8: np.uint8, schema.TensorType.INT8: np.int8,
                schema.TensorType.INT64: np.int64, schema.TensorType.FLOAT16: np.float16,
                schema.TensorType.INT16: np.int16, schema.TensorType.BOOL: np.bool_}
_FILE_IDENTIFIER = b"TFL3"
# TFLite's schema asks for 16-byte aligned buffer data (force_align: 16); the Python object
# API ignores it and would place byte buffers anywhere.
_BUFFER_ALIGNMENT = 16


def read(data: bytes):
    """Parses .tflite bytes into a mutable ModelT."""
    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


class _AlignedBuilder(flatbuffers.Builder):
    """Places byte vectors (buffer data, custom options) on 16-byte boundaries."""

    def CreateNumpyVector(self, x):
        if x.dtype != np.uint8 or x.ndim != 1:
            return super().CreateNumpyVector(x)
        payload = x.tobytes()
        self.StartVector(1, len(payload), _BUFFER_ALIGNMENT)
        self.head -= len(payload)
        self.Bytes[self.head:self.head + len(payload)] = payload
        self.vectorNumElems = len(payload)
        return self.EndVector()


def write(model) -> bytes:
    """Serialises a ModelT to .tflite bytes (byte buffers 16-byte aligned)."""
    builder = _AlignedBuilder(1024)
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def op_name(model, op) -> str:
    """Builtin operator name ('CONV_2D') or custom code ('BitliteConv2D')."""
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == schema.BuiltinOperator.CUSTOM:
        return as_text(code.customCode)
    return _BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")


def tensor_name(subgraph, index: int) -> str:
    return as_text(subgraph.tensors[index].name)


def output_name(subgraph, op) -> str:
    """The name of an op's first output ("" for none). The object API holds op.outputs as a
    list or as a NumPy array, whose truth value is ambiguous: test its length."""
    outputs = op.outputs
    return tensor_name(subgraph, outputs[0]) if outputs is not None and len(outputs) else ""


def buffer_data(model, tensor) -> np.ndarray | None:
    """Raw bytes (uint8) of a constant tensor, None if the tensor has no data."""
    data = model.buffers[tensor.buffer].data if tensor.buffer else None
    if data is None or len(data) == 0:
        return None
    return np.asarray(data, dtype=np.uint8)


def is_constant(model, tensor) -> bool:
    return buffer_data(model, tensor) is not None


def constant(model, subgraph, index: int) -> np.ndarray | None:
    """Value of a constant tensor as a numpy array of its shape, None if not constant."""
    tensor = subgraph.tensors[index]
    data = buffer_data(model, tensor)
    if data is None or tensor.type not in _NUMPY_TYPES:
        return None
    shape = [] if tensor.shape is None else list(tensor.shape)
    return np.frombuffer(data.tobytes(), dtype=_NUMPY_TYPES[tensor.type]).reshape(shape)


class Dataflow:
    """Which operator writes and which read each tensor of a subgraph, kept current while
    regions of operators are replaced by new ones, so that replacing every region of a model
    costs time in proportion to its operators (not regions x operators).

    Operators are known by identity, as a replacement shifts positions; `operators()` lists
    them in order once every replacement is done.
    """

    def __init__(self, model, subgraph):
        self._model = model
        self._subgraph = subgraph
        self._writer = {}  # tensor -> op
        self._readers = {}  # tensor -> {id(op): op}
        self._position = {}  # id(op) -> position; a new op takes that of the op it replaces
        self._replaced = {}  # id(op) -> the ops in its place (none for all but a region's last)
        for position, op in enumerate(subgraph.operators):
            self._position[id(op)] = position
            self._link(op)

    def _link(self, op):
        for tensor in op.outputs:
            self._writer[tensor] = op
        for tensor in op.inputs:
            if tensor >= 0:
                self._readers.setdefault(tensor, {})[id(op)] = op

    def _unlink(self, op):
        for tensor in op.outputs:
            if self._writer.get(tensor) is op:
                del self._writer[tensor]
        for tensor in op.inputs:
            self._readers.get(tensor, {}).pop(id(op), None)

    def ops_between(self, start: int, end: int) -> list:
        """The operators computing tensor `end` from tensor `start` (and constants).

        Raises ValueError when that computation reads any other non-constant tensor, or when
        one of its intermediate tensors is read outside it or is a subgraph output: then the
        operators cannot be replaced by one op from `start` to `end`.
        """
        region, pending = {}, [end]
        while pending:
            tensor = pending.pop()
            if (tensor == start or tensor < 0
                    or is_constant(self._model, self._subgraph.tensors[tensor])):
                continue
            op = self._writer.get(tensor)
            if op is None:
                raise ValueError(f"tensor {tensor_name(self._subgraph, tensor)!r} enters the "
                                 "region from outside")
            if id(op) not in region:
                region[id(op)] = op
                pending.extend(op.inputs)
        inner = {t for op in region.values() for t in op.outputs} - {end}
        for tensor in inner:
            if self._readers.get(tensor, {}).keys() - region.keys() or (
                    tensor in self._subgraph.outputs):
                raise ValueError(f"tensor {tensor_name(self._subgraph, tensor)!r} is also used "
                                 "outside the region")
        return sorted(region.values(), key=lambda op: self._position[id(op)])

    def replace(self, ops: list, new_ops: list) -> None:
        """Removes `ops` and puts `new_ops` (in order) where the last of them was: the region's
        inputs exist by then and its output's readers come later, so topological order holds."""
        last = max(ops, key=lambda op: self._position[id(op)])
        for op in ops:
            self._unlink(op)
            self._replaced[id(op)] = []
        self._replaced[id(last)] = list(new_ops)
        for op in new_ops:
            self._position[id(op)] = self._position[id(last)]
            self._link(op)

    def operators(self) -> list:
        """The subgraph's operators in order, every replacement made."""
        result = []

        def place(op):
            if id(op) not in self._replaced:
                result.append(op)
            for new_op in self._replaced.get(id(op), ()):
                place(new_op)

        for op in self._subgraph.operators:
            place(op)
        return result


def add_constant(model, subgraph, array: np.ndarray, name: str) -> int:
    """Appends a constant tensor (new buffer) holding `array`; returns its index."""
    types = {np.dtype(v): k for k, v in _NUMPY_TYPES.items()}
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=np.uint8)
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.shape = np.asarray(array.shape, dtype=np.int32)
    tensor.type = types[array.dtype]
    tensor.buffer = len(model.buffers) - 1
    tensor.name = name
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def add_tensor(subgraph, like: int, name: str) -> int:
    """Appends a non-constant tensor with the type and shape of tensor `like`."""
    model_tensor = subgraph.tensors[like]
    tensor = schema.TensorT()
    tensor.shape = model_tensor.shape
    tensor.shapeSignature = model_tensor.shapeSignature
    tensor.type = model_tensor.type
    tensor.name = name
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def _opcode_index(model, builtin: int, custom_code: str | None = None) -> int:
    """Index of the operator code (appended, version 1, if the model has none yet)."""
    for index, existing in enumerate(model.operatorCodes):
        if (max(existing.builtinCode, existing.deprecatedBuiltinCode) == builtin
                and (custom_code is None or as_text(existing.customCode) == custom_code)):
            return index
    opcode = schema.OperatorCodeT()
    opcode.builtinCode = builtin
    # Codes past 127 live in builtinCode only; the deprecated byte holds the placeholder.
    opcode.deprecatedBuiltinCode = min(builtin,
                                       schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    opcode.customCode = custom_code
    opcode.version = 1
    model.operatorCodes.append(opcode)
    return len(model.operatorCodes) - 1


def builtin_op(model, name: str, inputs: list[int], outputs: list[int], options=None):
    """A builtin operator ('DIV', ...) with optional options object (e.g. DivOptionsT())."""
    op = schema.OperatorT()
    op.opcodeIndex = _opcode_index(model, getattr(schema.BuiltinOperator, name))
    op.inputs = list(inputs)
    op.outputs = list(outputs)
    op.builtinOptionsType = schema.BuiltinOptions.NONE
    if options is not None:
        op.builtinOptionsType = getattr(schema.BuiltinOptions, type(options).__name__[:-1])
        op.builtinOptions = options
    return op


def custom_op(model, code: str, inputs: list[int], outputs: list[int], options: bytes):
    """A CUSTOM operator with FlexBuffer options."""
    op = schema.OperatorT()
    op.opcodeIndex = _opcode_index(model, schema.BuiltinOperator.CUSTOM, code)
    op.inputs = list(inputs)
    op.outputs = list(outputs)
    op.builtinOptionsType = schema.BuiltinOptions.NONE
    op.customOptions = np.frombuffer(options, dtype=np.uint8)
    op.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
    return op


def set_metadata(model, name: str, data: bytes) -> None:
    """Adds or replaces a Model.metadata entry."""
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(data, dtype=np.uint8)
    model.buffers.append(buffer)
    model.metadata = [m for m in (model.metadata or []) if as_text(m.name) != name]
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)


def metadata(model) -> dict[str, bytes]:
    """Model.metadata entries: name -> the bytes of their buffer."""
    result = {}
    for entry in model.metadata or []:
        data = model.buffers[entry.buffer].data
        result[as_text(entry.name)] = b"" if data is None else bytes(data)
    return result


def remove_unused(model) -> None:
    """Drops tensors no operator or subgraph input/output uses, then buffers and operator codes
    nothing refers to, renumbering every reference (signature defs included)."""
    for subgraph_index, subgraph in enumerate(model.subgraphs):
        used = set(subgraph.inputs) | set(subgraph.outputs)
        for op in subgraph.operators:
            used.update(op.inputs)
            used.update(op.outputs)
            used.update(op.intermediates if op.intermediates is not None else ())
        used.discard(-1)
        new_index = {old: new for new, old in enumerate(sorted(used))}
        new_index[-1] = -1
        subgraph.tensors = [subgraph.tensors[old] for old in sorted(used)]
        subgraph.inputs = [new_index[t] for t in subgraph.inputs]
        subgraph.outputs = [new_index[t] for t in subgraph.outputs]
        for op in subgraph.operators:
            op.inputs = [new_index[t] for t in op.inputs]
            op.outputs = [new_index[t] for t in op.outputs]
            if op.intermediates is not None:
                op.intermediates = [new_index[t] for t in op.intermediates]
        for signature in model.signatureDefs or []:
            if signature.subgraphIndex == subgraph_index:
                for entry in (signature.inputs or []) + (signature.outputs or []):
                    entry.tensorIndex = new_index[entry.tensorIndex]

    # Buffer 0 is the empty sentinel every tensor without data points to.
    used = {0} | {t.buffer for s in model.subgraphs for t in s.tensors}
    used |= {m.buffer for m in model.metadata or []} | set(model.metadataBuffer or [])
    new_index = {old: new for new, old in enumerate(sorted(used))}
    model.buffers = [model.buffers[old] for old in sorted(used)]
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.buffer = new_index[tensor.buffer]
    for entry in model.metadata or []:
        entry.buffer = new_index[entry.buffer]
    if model.metadataBuffer is not None:
        model.metadataBuffer = [new_index[b] for b in model.metadataBuffer]

    used = sorted({op.opcodeIndex for s in model.subgraphs for op in s.operators})
    new_index = {old: new for new, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[old] for old in used]
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            op.opcodeIndex = new_index[op.opcodeIndex]


def as_text(value) -> str:
    """A flatbuffer string field (bytes or None) as str."""
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
