"""Average pooling that TensorFlow and TFLite compute with the same float operations.

TF's AvgPool / Mean and TFLite's AVERAGE_POOL_2D / MEAN (XNNPACK's too) each sum a window in
their own order, and some multiply by 1/n where others divide: the results differ in the last
bit, and a quantizer reading them can round a value at a tie differently on the two sides.
quantize_model therefore replaces AveragePooling2D and GlobalAveragePooling2D by these
subclasses, which sum with single elementwise adds in a fixed order (a pooling window's
elements one after the other in row-major order; a global pool's positions by halves) and
multiply the sum by float32(1/n). The TFLiteConverter turns each op into its one TFLite
builtin (STRIDED_SLICE, RESHAPE, UNPACK, SPLIT_V, ADD, MUL), so the .tflite does the same
float32 operations in the same order. A chain of adds stays a chain under Grappler (it may
become one AddN, which sums its inputs in the same left-to-right order).

Training computes as the parent layers (the order matters to exactness only, and training then
follows exactly the path it followed before these layers existed). So do the layers where the
order cannot be written so: channels_first, SAME padding that pads, unknown spatial sizes.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


def sum_in_order(parts: list):
    """parts[0] + parts[1] + ... as single adds, left to right."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _mean_of(parts: list):
    return sum_in_order(parts) * tf.constant(1.0 / len(parts), tf.float32)


def _spatial_size(layer, x):
    """(H, W) when the layer can compute in order, else None."""
    height, width = x.shape[1:3] if x.shape.rank == 4 else (None, None)
    if layer.data_format != "channels_last" or height is None or width is None:
        return None
    return height, width


@keras.utils.register_keras_serializable(package="bitlite")
class OrderedAveragePooling2D(keras.layers.AveragePooling2D):
    """AveragePooling2D summing each window in row-major order (see the module docstring)."""

    def call(self, inputs, training=None):
        size = _spatial_size(self, inputs)
        (pool_h, pool_w), (stride_h, stride_w) = self.pool_size, self.strides
        if training or size is None or (self.padding == "same" and (
                size[0] % stride_h or size[1] % stride_w
                or pool_h > stride_h or pool_w > stride_w)):
            return super().call(inputs)  # a padded window averages fewer elements
        height, width = size
        out_h = (height - pool_h) // stride_h + 1 if self.padding == "valid" else height // stride_h
        out_w = (width - pool_w) // stride_w + 1 if self.padding == "valid" else width // stride_w
        parts = [inputs[:, i:i + (out_h - 1) * stride_h + 1:stride_h,
                        j:j + (out_w - 1) * stride_w + 1:stride_w, :]
                 for i in range(pool_h) for j in range(pool_w)]
        return _mean_of(parts)


@keras.utils.register_keras_serializable(package="bitlite")
class OrderedGlobalAveragePooling2D(keras.layers.GlobalAveragePooling2D):
    """GlobalAveragePooling2D summing the positions in a fixed order (_sum_positions), then
    times float32(1 / (H * W))."""

    def call(self, inputs, training=None):
        size = _spatial_size(self, inputs)
        if training or size is None:
            return super().call(inputs)
        height, width = size
        positions = tf.reshape(inputs, [-1, height * width, inputs.shape[-1]])
        mean = _sum_positions(positions) * tf.constant(1.0 / (height * width), tf.float32)
        return mean[:, None, None, :] if self.keepdims else mean


def _sum_positions(x):
    """The sum over axis 1 of x [N, n, C]: the first half plus the second half, elementwise,
    repeated (an odd last position is added to the sum of the others). Few ops, each one
    TFLite builtin (RESHAPE, UNPACK, SPLIT_V, ADD), where one add per position would make
    small models grow."""
    n, channels = x.shape[1], x.shape[2]
    if n == 1:
        return tf.reshape(x, [-1, channels])
    if n % 2:
        head, last = tf.split(x, [n - 1, 1], axis=1)
        return _sum_positions(head) + tf.reshape(last, [-1, channels])
    first, second = tf.unstack(tf.reshape(x, [-1, 2, n // 2, channels]), axis=1)
    return _sum_positions(first + second)


_ORDERED = {keras.layers.AveragePooling2D: OrderedAveragePooling2D,
            keras.layers.GlobalAveragePooling2D: OrderedGlobalAveragePooling2D}
LAYERS = tuple(_ORDERED.values())


def ordered_type(layer) -> type:
    """The class quantize_model copies `layer` as: its ordered form for the two pooling
    layers, else its own class."""
    return _ORDERED.get(type(layer), type(layer))
