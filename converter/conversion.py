"""convert: a trained bitlite QAT model -> .tflite bytes whose sub-byte layers are bitlite ops.

1. plan.plan_conversion reads the QAT model once: the quantized layers (with the BatchNorm/ReLU
   they fold, blocks.py) and every number the .tflite carries;
2. export.build_export_model writes the float export model with its regions between markers;
3. the stock TFLiteConverter converts it (float, no optimizations, custom ops allowed);
4. each marked region, markers included, is replaced: a sub-byte block by one bitlite op
   (input: the input marker's input and the packed weights; output: the output marker's
   output), codes, fake quantizations and affine stages by builtin ops computing what the QAT
   model's inference computes (exact.py);
5. orphan tensors, buffers and operator codes are dropped (the file size reflects the packed
   weights), the description and format-version metadata are set, and the result is checked.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from . import custom_ops, markers, tflite_edit
from .errors import ConversionError
from .export import AffineLayer, FakeQuantLayer, build_export_model
from .plan import BlockNumbers, plan_conversion

DESCRIPTION = "bitlite model: run with bitlite.delegate.load_delegate()"
VERSION_METADATA = "bitlite_format_version"


def convert(qat_model, progress: Callable[[str], None] | None = None) -> bytes:
    """Converts a QAT model made by quantize_model (trained, or at least run once) to .tflite.

    Raises ConversionError naming the layer when a quantized layer cannot be expressed.
    `progress`, if given, receives a line at each stage and every few replaced layers (the
    bitlite CLI prints them: a large model takes a while).
    """
    say = progress or (lambda message: None)
    plan = plan_conversion(qat_model)
    say(f"{len(plan.blocks)} quantized layers; building the export model")
    export_model, regions = build_export_model(plan)
    say(f"running the TFLite converter on {len(export_model.layers)} layers")
    converter = tf.lite.TFLiteConverter.from_keras_model(export_model)
    converter.allow_custom_ops = True  # the markers come out as custom ops
    model = tflite_edit.read(converter.convert())
    subgraph = model.subgraphs[0]
    found = markers.find(model, subgraph)
    flow = tflite_edit.Dataflow(model, subgraph)
    every = max(1, len(regions) // 10)
    for index, region in enumerate(regions):
        _replace_region(model, flow, found, index, region)
        if (index + 1) % every == 0 or index + 1 == len(regions):
            say(f"replaced {index + 1}/{len(regions)} regions (last: {region.name})")
    subgraph.operators = flow.operators()
    tflite_edit.remove_unused(model)
    model.description = DESCRIPTION
    tflite_edit.set_metadata(model, VERSION_METADATA, str(custom_ops.FORMAT_VERSION).encode())
    _verify(model, plan.blocks)
    return tflite_edit.write(model)


def _replace_region(model, flow: tflite_edit.Dataflow, found: dict, index: int, region):
    """Replaces region `index` (its markers' positions in `found`, as the TFLite converter
    wrote them) in `flow`, which holds the subgraph's operators as earlier regions left them."""
    subgraph = model.subgraphs[0]
    what = f"layer {region.name!r}"
    try:
        start = subgraph.operators[found[(markers.INPUT, index)]]
        end = subgraph.operators[found[(markers.OUTPUT, index)]]
    except KeyError:
        raise ConversionError(f"{what}: the TFLite converter lost its region markers") from None
    x, y = start.inputs[0], end.outputs[0]
    try:
        ops = flow.ops_between(x, y)
    except ValueError as error:
        raise ConversionError(f"{what}: its converted region is not self-contained ({error})"
                              ) from None
    if not any(op is start for op in ops):
        raise ConversionError(f"{what}: its converted region bypasses the input marker")
    if isinstance(region, BlockNumbers):
        new_ops = [_bitlite_op(model, subgraph, region, x, y)]
    elif isinstance(region, AffineLayer):
        new_ops = _affine_ops(model, subgraph, region, x, y)
    else:
        new_ops = _fake_quant_ops(model, subgraph, region, x, y)
    flow.replace(ops, new_ops)
    if y not in subgraph.outputs:  # model outputs keep the names callers look them up by
        subgraph.tensors[y].name = f"{region.name}/output"


def _bitlite_op(model, subgraph, block: BlockNumbers, x: int, y: int):
    weights = tflite_edit.add_constant(model, subgraph, block.packed_weights,
                                       name=f"{block.name}/packed_weights")
    return tflite_edit.custom_op(model, block.op_code, inputs=[x, weights], outputs=[y],
                                 options=block.options)


def _float_constant(model, subgraph, value, name: str) -> int:
    return tflite_edit.add_constant(model, subgraph, np.asarray(value, np.float32), name=name)


def _fake_quant_ops(model, subgraph, fake_quant: FakeQuantLayer, x: int, y: int) -> list:
    """y = clip(round(x / s), qmin, qmax) * s as TFLite builtins, the division kept a DIV;
    without the MUL when the region computes codes only."""
    quantizer = fake_quant.codes.quantizer  # never the sign grid: plan refuses it

    def scalar(value, suffix):
        return _float_constant(model, subgraph, value, f"{fake_quant.name}/{suffix}")

    step = scalar(fake_quant.codes.step, "step")
    divided, rounded, clipped_high = (
        tflite_edit.add_tensor(subgraph, like=x, name=f"{fake_quant.name}/{suffix}")
        for suffix in ("div", "round", "minimum"))
    clipped = y if fake_quant.codes_only else tflite_edit.add_tensor(
        subgraph, like=x, name=f"{fake_quant.name}/clip")
    ops = [
        tflite_edit.builtin_op(model, "DIV", [x, step], [divided], schema.DivOptionsT()),
        tflite_edit.builtin_op(model, "ROUND", [divided], [rounded]),
        tflite_edit.builtin_op(model, "MINIMUM", [rounded, scalar(quantizer.qmax, "qmax")],
                               [clipped_high]),
        tflite_edit.builtin_op(model, "MAXIMUM", [clipped_high, scalar(quantizer.qmin, "qmin")],
                               [clipped]),
    ]
    if not fake_quant.codes_only:
        ops.append(tflite_edit.builtin_op(model, "MUL", [clipped, step], [y],
                                          schema.MulOptionsT()))
    return ops


_FUSED_ACTIVATIONS = {"NONE": schema.ActivationFunctionType.NONE,
                      "RELU": schema.ActivationFunctionType.RELU,
                      "RELU6": schema.ActivationFunctionType.RELU6}


def _affine_ops(model, subgraph, affine: AffineLayer, x: int, y: int) -> list:
    """y = activation(x * multiplier + offset): a MUL, then an ADD with the fused activation
    (a clamp, exact), each one float32 rounding as in FORMAT.md's output stage."""
    multiplier = _float_constant(model, subgraph, affine.multiplier, f"{affine.name}/multiplier")
    offset = _float_constant(model, subgraph, affine.offset, f"{affine.name}/offset")
    product = tflite_edit.add_tensor(subgraph, like=x, name=f"{affine.name}/product")
    add_options = schema.AddOptionsT()
    add_options.fusedActivationFunction = _FUSED_ACTIVATIONS[affine.activation]
    return [
        tflite_edit.builtin_op(model, "MUL", [x, multiplier], [product], schema.MulOptionsT()),
        tflite_edit.builtin_op(model, "ADD", [product, offset], [y], add_options),
    ]


def _verify(model, blocks: list[BlockNumbers]):
    left = markers.remaining(model)
    if left:
        raise ConversionError(f"{left} region marker op(s) left in the converted model")
    weight_names = [f"{block.name}/packed_weights" for block in blocks if block.bitlite_op]
    found = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if tflite_edit.op_name(model, op) in custom_ops.OP_NAMES:
                found.append(tflite_edit.tensor_name(subgraph, op.inputs[1]))
    if sorted(found) != sorted(weight_names):
        raise ConversionError(
            f"expected one bitlite op per sub-byte layer {[b.name for b in blocks]}, got ops "
            f"with weights {found}")
