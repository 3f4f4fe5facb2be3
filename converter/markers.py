"""Region boundaries that survive the stock TFLiteConverter.

The export model wraps each region the converter must rewrite (a sub-byte block, a fake
quantization) as `output_marker(region(input_marker(x)))`. A marker must be an op that the
converter can neither lower to builtins nor fuse across, and that comes out as a CUSTOM op under
`allow_custom_ops`: TF's regularized incomplete gamma functions `Igamma(a, x)` / `Igammac(a, x)`
have no TFLite builtin and no lowering (TF 2.21; by contrast Lgamma is lowered to ~50 builtins,
CheckNumerics is dropped). They are binary, which lets the second operand carry the region
index as a constant scalar: the converter keeps it as a constant input tensor, and distinct
constants keep it from merging two markers on one tensor (CSE). Marker values are meaningless;
the converter removes every marker again.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from . import tflite_edit

INPUT = "Igamma"
OUTPUT = "Igammac"
_FUNCTIONS = {INPUT: tf.math.igamma, OUTPUT: tf.math.igammac}


class Marker(keras.layers.Layer):
    """Identity-shaped marker of where region `index` starts (INPUT) or ends (OUTPUT)."""

    def __init__(self, kind: str, index: int, **kwargs):
        role = "in" if kind == INPUT else "out"
        super().__init__(name=f"bitlite_region{index}_{role}", **kwargs)
        self.kind = kind
        self.index = index

    def call(self, x):
        return _FUNCTIONS[self.kind](x, tf.constant(float(self.index), x.dtype))


def find(model, subgraph) -> dict[tuple[str, int], int]:
    """(kind, region index) -> operator position of every marker in `subgraph`."""
    found = {}
    for position, op in enumerate(subgraph.operators):
        kind = tflite_edit.op_name(model, op)
        if kind not in _FUNCTIONS:
            continue
        index = tflite_edit.constant(model, subgraph, op.inputs[1])
        if index is None or index.size != 1 or not float(index.item()).is_integer():
            raise ValueError(f"{kind} op at position {position} is not a bitlite region marker")
        key = (kind, int(index.item()))
        if key in found:
            raise ValueError(f"region {key[1]} has two {kind} markers")
        found[key] = position
    return found


def remaining(model) -> int:
    """Number of marker ops left anywhere in the model."""
    return sum(tflite_edit.op_name(model, op) in _FUNCTIONS
               for subgraph in model.subgraphs for op in subgraph.operators)
