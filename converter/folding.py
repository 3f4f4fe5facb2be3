"""The numbers of an affine output stage, `x * multiplier + offset`, folded once for both sides.

A block's (blocks.py) multiplier is its input step times its weight steps and its offset the
bias, with a BatchNorm on the last axis that follows it folded in; a BatchNorm that no block
folds becomes that affine form by itself. The converter writes these float32 numbers, and the
QAT model's inference (exact.py) reads the very same numbers from variables: both come from
the NumPy functions below, which is what makes the .tflite equal `qat.predict` bit for bit.
"""

from __future__ import annotations

import numpy as np
import tf_keras as keras

from . import graph


def batch_norm_on_last_axis(layer, x) -> bool:
    """Whether `layer` is a BatchNormalization normalising the last axis of its input `x`:
    the only kind that folds into an affine form per output channel."""
    return (type(layer) is keras.layers.BatchNormalization
            and list(layer.axis) == [x.shape.rank - 1])


def _float32(value) -> np.ndarray:
    # A variable's value on this worker (graph.local_value: no cross-worker read).
    return np.asarray(graph.local_value(value), dtype=np.float32)


def fold_batch_norm(scale, bias, gamma, beta, mean, variance, epsilon):
    """(multiplier, offset) of `BatchNorm(x * scale + bias)` as `x * multiplier + offset`:
    float32 NumPy, each operation one IEEE rounding in the order written.

    NumPy, not TF ops, because the QAT model's inference and the converter must hold the very
    same float32 constants: TF ops run inside a graph, and Grappler rewrites a graph by its
    context (x / sqrt(y) into x * rsqrt(y), products regrouped across the ops around it), so
    the same TF function gave a multiplier one ulp apart inside `predict` and eagerly in the
    converter, and a deep network turned that ulp into a different code at a rounding tie
    (issue 10). The QAT model reads these NumPy results from variables (exact.FoldedConstants).
    """
    root = np.sqrt(variance + epsilon)
    return scale * gamma / root, (bias - mean) * gamma / root + beta


def batch_norm_fold(layer, scale, bias) -> tuple[np.ndarray, np.ndarray]:
    """fold_batch_norm with the layer's moving statistics; scale and bias broadcast to its
    channels."""
    channels = int(layer.moving_mean.shape[0])
    ones, zeros = np.ones([channels], np.float32), np.zeros([channels], np.float32)
    return fold_batch_norm(
        np.broadcast_to(_float32(scale), [channels]), np.broadcast_to(_float32(bias), [channels]),
        _float32(layer.gamma) if layer.gamma is not None else ones,
        _float32(layer.beta) if layer.beta is not None else zeros,
        _float32(layer.moving_mean), _float32(layer.moving_variance), np.float32(layer.epsilon))


def batch_norm_affine(layer) -> tuple[np.ndarray, np.ndarray]:
    """(multiplier, offset) of the BatchNorm alone."""
    return batch_norm_fold(layer, np.float32(1.0), np.float32(0.0))


def block_affine(input_step, weight_step, bias, out_channels: int,
                 batch_norm=None) -> tuple[np.ndarray, np.ndarray]:
    """float32 [C_out] (multiplier, offset) of a block (FORMAT.md: input step x weight step,
    the bias, None for none, and `batch_norm`'s moving statistics folded in)."""
    scale = _float32(input_step) * _float32(weight_step).reshape(-1)
    scale = np.broadcast_to(scale, [out_channels])
    bias = _float32(bias) if bias is not None else np.zeros([out_channels], np.float32)
    if batch_norm is None:
        return scale.copy(), bias
    return batch_norm_fold(batch_norm, scale, bias)
