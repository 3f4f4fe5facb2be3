"""The numbers of an affine output stage, `x * multiplier + offset`, folded once for both sides.

A block's (blocks.py) multiplier is its input step times its weight steps and its offset the
bias, with a BatchNorm on the last axis that follows it folded in; a BatchNorm that no block
folds becomes that affine form by itself. The converter writes these float32 numbers, and the
QAT model's inference (exact.py) reads the very same numbers from variables: both come from
the NumPy functions below, on values read by graph.py, which is what makes the .tflite equal
`qat.predict` bit for bit.
"""

from __future__ import annotations

import numpy as np


def fold_batch_norm(scale, bias, statistics) -> tuple[np.ndarray, np.ndarray]:
    """(multiplier, offset) of `BatchNorm(x * scale + bias)` as `x * multiplier + offset`, with
    a BatchNorm's graph.BatchNormStatistics: float32 NumPy, each operation one IEEE rounding in
    the order written.

    NumPy, not TF ops, because the QAT model's inference and the converter must hold the very
    same float32 constants: TF ops run inside a graph, and Grappler rewrites a graph by its
    context (x / sqrt(y) into x * rsqrt(y), products regrouped across the ops around it), so
    the same TF function gave a multiplier one ulp apart inside `predict` and eagerly in the
    converter, and a deep network turned that ulp into a different code at a rounding tie
    (issue 10). The QAT model reads these NumPy results from variables (exact.FoldedConstants).
    """
    channels = statistics.mean.shape[0]
    scale = np.broadcast_to(np.asarray(scale, np.float32), [channels])
    bias = np.broadcast_to(np.asarray(bias, np.float32), [channels])
    root = np.sqrt(statistics.variance + statistics.epsilon)
    return (scale * statistics.gamma / root,
            (bias - statistics.mean) * statistics.gamma / root + statistics.beta)


def batch_norm_affine(statistics) -> tuple[np.ndarray, np.ndarray]:
    """(multiplier, offset) of a BatchNorm alone."""
    return fold_batch_norm(np.float32(1.0), np.float32(0.0), statistics)


def block_affine(input_step, weight_step, bias, out_channels: int,
                 batch_norm=None) -> tuple[np.ndarray, np.ndarray]:
    """float32 [C_out] (multiplier, offset) of a block (FORMAT.md: input step x weight step,
    the bias, None for none, and a following BatchNorm's statistics, None for none, folded
    in)."""
    scale = np.asarray(input_step, np.float32) * np.asarray(weight_step, np.float32).reshape(-1)
    scale = np.broadcast_to(scale, [out_channels])
    bias = (np.asarray(bias, np.float32) if bias is not None
            else np.zeros([out_channels], np.float32))
    if batch_norm is None:
        return scale.copy(), bias
    return fold_batch_norm(scale, bias, batch_norm)
