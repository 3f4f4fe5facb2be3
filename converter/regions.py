"""The .tflite side of `convert`: each marked region of the converted export model replaced by
the ops the converter writes itself.

A sub-byte (or W8A8) block becomes one bitlite op (input: the input marker's input and the
packed weights; output: the output marker's output); codes, fake quantizations and affine
stages become builtin ops computing what the QAT model's inference computes (exact.py). The
markers go with their regions, and `replace_regions` checks that none is left.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema

from . import custom_ops, markers, tflite_edit
from .errors import ConversionError
from .export import AffineLayer, FakeQuantLayer
from .plan import BlockNumbers


def replace_regions(model, regions: list, say: Callable[[str], None]):
    """Replaces every region of `model` (the TFLite converter's output of the export model;
    `regions` as build_export_model returns them), saying every few regions how far it got."""
    subgraph = model.subgraphs[0]
    found = markers.find(model, subgraph)
    flow = tflite_edit.Dataflow(model, subgraph)
    every = max(1, len(regions) // 10)
    for index, region in enumerate(regions):
        _replace_region(model, flow, found, index, region)
        if (index + 1) % every == 0 or index + 1 == len(regions):
            say(f"replaced {index + 1}/{len(regions)} regions (last: {region.name})")
    subgraph.operators = flow.operators()
    _verify(model, [region for region in regions if isinstance(region, BlockNumbers)])


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


def _bitlite_op(model, subgraph, numbers: BlockNumbers, x: int, y: int):
    weights = tflite_edit.add_constant(model, subgraph, numbers.packed_weights,
                                       name=f"{numbers.name}/packed_weights")
    return tflite_edit.custom_op(model, numbers.block.op_code, inputs=[x, weights],
                                 outputs=[y], options=numbers.options)


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
                      "RELU6": schema.ActivationFunctionType.RELU6,
                      "LEAKY_RELU": schema.ActivationFunctionType.NONE}


def _affine_ops(model, subgraph, affine: AffineLayer, x: int, y: int) -> list:
    """y = activation(x * multiplier + offset): a MUL, then an ADD with the fused activation
    (a clamp, exact), each one float32 rounding as in FORMAT.md's output stage; LEAKY_RELU, no
    fused activation of ADD, is a LEAKY_RELU op after it (the select of tf.nn.leaky_relu)."""
    multiplier = _float_constant(model, subgraph, affine.multiplier, f"{affine.name}/multiplier")
    offset = _float_constant(model, subgraph, affine.offset, f"{affine.name}/offset")
    product = tflite_edit.add_tensor(subgraph, like=x, name=f"{affine.name}/product")
    leaky = affine.activation == "LEAKY_RELU"
    total = tflite_edit.add_tensor(subgraph, like=x, name=f"{affine.name}/sum") if leaky else y
    add_options = schema.AddOptionsT()
    add_options.fusedActivationFunction = _FUSED_ACTIVATIONS[affine.activation]
    ops = [
        tflite_edit.builtin_op(model, "MUL", [x, multiplier], [product], schema.MulOptionsT()),
        tflite_edit.builtin_op(model, "ADD", [product, offset], [total], add_options),
    ]
    if leaky:
        leaky_options = schema.LeakyReluOptionsT()
        leaky_options.alpha = affine.alpha
        ops.append(tflite_edit.builtin_op(model, "LEAKY_RELU", [total], [y], leaky_options))
    return ops


def _verify(model, blocks: list[BlockNumbers]):
    """Checks that no marker is left and that each bitlite op reads its block's weights."""
    left = markers.remaining(model)
    if left:
        raise ConversionError(f"{left} region marker op(s) left in the converted model")
    weight_names = [f"{block.name}/packed_weights" for block in blocks]
    found = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if tflite_edit.op_name(model, op) in custom_ops.OP_NAMES:
                found.append(tflite_edit.tensor_name(subgraph, op.inputs[1]))
    if sorted(found) != sorted(weight_names):
        raise ConversionError(
            f"expected one bitlite op per sub-byte layer {[b.name for b in blocks]}, got ops "
            f"with weights {found}")
