"""The QAT model's inference computes what the converted .tflite computes, bit for bit.

Training runs the tfmot graph as it is (float convolutions of dequantized values, BatchNorm on
batch statistics). Inference (`training` false or None: predict, evaluate, a plain call) runs
`exact_outputs` instead, which walks the same graph but computes
- each block (blocks.py: a quantized layer with its folded BatchNorm and ReLU) as FORMAT.md's
  arithmetic: the integer sum of code products, exact (a float64 convolution of integer codes
  is exact below 2^53) and rounded once to float32 (as the delegate converts its int32 sum),
  times the float32 multiplier, plus the float32 offset, then the activation;
- each other BatchNormalization on the last axis as `x * multiplier + offset`, folded by the
  same TF function (blocks.batch_norm_fold);
- every other layer as the layer itself.
The converter writes exactly these multipliers, offsets and codes (a sub-byte block as one
bitlite op; an 8-bit block as DIV, ROUND, MINIMUM, MAXIMUM, an integer-valued float CONV_2D /
DEPTHWISE_CONV_2D / FULLY_CONNECTED, MUL, ADD; a BatchNorm as MUL, ADD). Elementwise IEEE
operations and an exact integer sum give the same float32 on every runtime, so every quantizer
after them sees the same value and rounds to the same code.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from . import graph, pooling
from .blocks import Block, batch_norm_fold, find_blocks

ACTIVATIONS = {"NONE": tf.identity, "RELU": tf.nn.relu, "RELU6": tf.nn.relu6}


def integer_sum(block: Block, codes, kernel_codes) -> tf.Tensor:
    """The block's sum of code products as the .tflite computes it: per range of input
    channels (Block.reduction_chunks) the exact integer sum, computed in float64 (exact below
    2^53) and rounded once to float32, then the ranges' sums added left to right in float32."""
    layer = block.wrapper.layer
    x, kernel = tf.cast(codes, tf.float64), tf.cast(kernel_codes, tf.float64)
    return pooling.sum_in_order([
        tf.cast(_linear(layer, x[..., first:stop], kernel[..., first:stop, :]), tf.float32)
        for first, stop in block.reduction_chunks()])


def _linear(layer, x, kernel):
    """What the layer computes with this kernel, no bias, no activation (Conv2D, grouped too,
    DepthwiseConv2D, Dense on any rank)."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return tf.nn.depthwise_conv2d(x, kernel, (1, *layer.strides, 1), layer.padding.upper(),
                                      dilations=layer.dilation_rate)
    if isinstance(layer, keras.layers.Conv2D):
        return tf.nn.conv2d(x, kernel, layer.strides, layer.padding.upper(),
                            dilations=layer.dilation_rate)
    return tf.tensordot(x, kernel, axes=1)


def block_output(block: Block, x) -> tf.Tensor:
    """FORMAT.md's arithmetic of a block on its input `x` (before the input quantizer)."""
    quantize = block.input_quantizer
    codes = quantize.quantizer.codes(x, tf.convert_to_tensor(quantize.quantizer_vars["step"]))
    kernel_codes = block.kernel_codes()  # first: it may initialise the weight step
    multiplier, offset = block.affine()
    y = integer_sum(block, codes, kernel_codes) * multiplier + offset
    y = ACTIVATIONS[block.activation](y)
    if block.trailing_activation is not None:
        y = block.trailing_activation(y)
    return y


def standalone_batch_norm(node) -> bool:
    """A BatchNormalization call that no block folds (the caller leaves those out),
    normalising the last axis: it computes `x * multiplier + offset` in inference and in the
    .tflite."""
    return (type(node.layer) is keras.layers.BatchNormalization
            and list(node.layer.axis) == [node.keras_inputs[0].shape.rank - 1])


def batch_norm_affine(layer) -> tuple[tf.Tensor, tf.Tensor]:
    return batch_norm_fold(layer, tf.constant(1.0), tf.constant(0.0))


@tf.autograph.experimental.do_not_convert
def exact_outputs(model, blocks: list[Block], inputs):
    """The model's inference outputs as the .tflite computes them (module docstring). Plain
    Python that only builds TF ops: AutoGraph has nothing to convert in it."""
    block_of = {id(block.wrapper): block for block in blocks}
    absorbed = {id(node) for block in blocks for node in block.absorbed_nodes}
    values = graph.Rebuild(model, inputs=tf.nest.flatten(inputs))
    for node in graph.model_nodes(model):
        if id(node) in absorbed:
            continue
        block = block_of.get(id(node.layer))
        if block is not None:
            values.set(block.output, block_output(block, values.new(block.input)))
            continue
        args, kwargs = values.arguments(node)
        if standalone_batch_norm(node):
            multiplier, offset = batch_norm_affine(node.layer)
            values.set_outputs(node, args[0] * multiplier + offset)
        else:
            values.set_outputs(node, node.layer(*args, **kwargs))
    return values.outputs()


@keras.utils.register_keras_serializable(package="bitlite")
class QatModel(keras.Model):
    """The functional model quantize_model returns: trains as tfmot's graph, infers as the
    .tflite computes (exact_outputs)."""

    def call(self, inputs, training=None, mask=None):
        if training:
            return super().call(inputs, training=training, mask=mask)
        return exact_outputs(self, self._blocks(), inputs)

    def _blocks(self) -> list[Block]:
        if getattr(self, "_exact_blocks", None) is None:
            # Plain attribute: Keras would track a list attribute as part of the model.
            object.__setattr__(self, "_exact_blocks", find_blocks(self))
        return self._exact_blocks
