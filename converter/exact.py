"""The QAT model's inference computes what the converted .tflite computes, bit for bit.

Training runs the tfmot graph as it is (float convolutions of dequantized values, BatchNorm on
batch statistics). Inference (`training` false or None: predict, evaluate, a plain call) runs
`exact_outputs` instead, which walks the same graph but computes
- each block (blocks.py: a quantized layer with its folded BatchNorm and ReLU/ReLU6/LeakyReLU)
  as FORMAT.md's arithmetic: the integer sum of code products, exact (a float64 convolution of
  integer codes is exact below 2^53) and rounded once to float32 (as the delegate converts its
  int32 sum), times the float32 multiplier, plus the float32 offset, then the activation;
- each other BatchNormalization on the last axis as `x * multiplier + offset`, folded by the
  same function (folding.py);
- every other layer as the layer itself.
The multipliers and offsets are folded in NumPy and read from variables (FoldedConstants), so
that inference and converter hold the same float32 numbers whatever graph surrounds them.
The converter writes exactly these multipliers, offsets and codes (a block as one bitlite op,
sub-byte or W8A8; an 8-bit block beyond the op's int32 accumulator as DIV, ROUND, MINIMUM,
MAXIMUM, integer-valued float CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, MUL, ADD; a
BatchNorm as MUL, ADD). Elementwise IEEE
operations and an exact integer sum give the same float32 on every runtime, so every quantizer
after them sees the same value and rounds to the same code.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf
import tf_keras as keras

from . import activations, folding, graph, layers, pooling
from .blocks import Block, find_blocks
from .facts import Call


def integer_sum(block: Block, codes, kernel_codes) -> tf.Tensor:
    """The block's sum of code products as the .tflite computes it: per range of input
    channels (Block.reduction_chunks) the exact integer sum, computed in float64 (exact below
    2^53) and rounded once to float32, then the ranges' sums added left to right in float32."""
    layer = block.layer
    x, kernel = tf.cast(codes, tf.float64), tf.cast(kernel_codes, tf.float64)
    chunks = block.reduction_chunks()
    if len(chunks) == 1:  # the whole kernel (a transposed one's input channels are its last axis)
        return tf.cast(_linear(layer, x, kernel), tf.float32)
    return pooling.sum_in_order([
        tf.cast(_linear(layer, x[..., first:stop], kernel[..., first:stop, :]), tf.float32)
        for first, stop in chunks])


def _linear(layer, x, kernel):
    """What the layer computes with this kernel, no bias, no activation (Conv1D and Conv2D,
    grouped too, DepthwiseConv2D, Conv2DTranspose, Dense on any rank)."""
    if isinstance(layer, keras.layers.Conv2DTranspose):
        # Keras' call, with the output size of the op's pads (FORMAT.md, which equals Keras'
        # deconv_output_length).
        g = layers.transpose_geometry(layer)
        shape = tf.shape(x)
        out_h = (shape[1] - 1) * g["stride_h"] + g["kernel_h"] - g["pad_top"] - g["pad_bottom"]
        out_w = (shape[2] - 1) * g["stride_w"] + g["kernel_w"] - g["pad_left"] - g["pad_right"]
        return tf.nn.conv2d_transpose(x, kernel, tf.stack([shape[0], out_h, out_w,
                                                           kernel.shape[-2]]),
                                      layer.strides, layer.padding.upper())
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return tf.nn.depthwise_conv2d(x, kernel, (1, *layer.strides, 1), layer.padding.upper(),
                                      dilations=layer.dilation_rate)
    if isinstance(layer, keras.layers.Conv2D):
        return tf.nn.conv2d(x, kernel, layer.strides, layer.padding.upper(),
                            dilations=layer.dilation_rate)
    if isinstance(layer, keras.layers.Conv1D):
        # Causal: zeros on the left, then 'valid' (the zero code is 0 on every grid but the
        # {-1, +1} one, which layers.binary_padding_problem refuses).
        geometry = layers.conv2d_geometry(layer)
        x = tf.pad(x, [[0, 0], [layers.causal_padding(layer), 0], [0, 0]])
        return tf.nn.conv1d(x, kernel, layer.strides[0], geometry["padding"].upper(),
                            dilations=layer.dilation_rate[0])
    return tf.tensordot(x, kernel, axes=1)


def block_output(block: Block, x, multiplier, offset) -> tf.Tensor:
    """FORMAT.md's arithmetic of a block on its input `x` (before the input quantizer), with
    the block's folded multiplier and offset."""
    step = graph.quantizer_variables(block.input_quantizer.node.layer)["step"]
    codes = block.input_quantizer.quantizer.codes(x, tf.convert_to_tensor(step))
    y = integer_sum(block, codes, _kernel_codes(block)) * multiplier + offset
    y = activations.apply_fused(block.activation, block.alpha, y)
    if block.trailing_activation is not None:
        y = block.trailing_activation(y)
    return y


def _kernel_codes(block: Block) -> tf.Tensor:
    """The kernel's codes as the wrapper's quantizer computes them, from the current
    variables; the step is initialised first if the wrapper never ran, as its own call
    would."""
    wrapper = block.wrapper.node.layer
    kernel, quantizer = graph.wrapped_kernel(wrapper)
    weight_vars = graph.quantizer_variables(wrapper)
    quantizer(kernel, False, weight_vars)
    return quantizer.codes(tf.convert_to_tensor(kernel),
                           tf.convert_to_tensor(weight_vars["step"]))


class FoldedConstants(tf.Module):
    """The float32 (multiplier, offset) of every block and standalone BatchNorm, folded in
    NumPy (folding.py) and held in variables that the inference graph reads.

    Folding inside the graph would let Grappler round differently from the converter (see
    fold_batch_norm); a variable's value is what it is in every graph. `refresh` re-folds from
    the current weights and statistics: QatModel calls it before predict, evaluate and eager
    calls and after fit, so a graph that reads the variables sees the current weights' fold.
    The variables are created on first refresh; a trace (tf.function, SavedModel export)
    refreshes from outside its graph (tf.init_scope) when they do not exist yet.
    """

    def __init__(self, calls: list[Call], blocks: list[Block]):
        super().__init__(name="folded_constants")
        self._blocks = blocks
        # Keyed by layer name (unique in a model): a tf.Module tracks dicts with string keys.
        self._folds = {block.wrapper.node.layer.name: functools.partial(_block_fold, block)
                       for block in blocks}
        # A BatchNorm a block absorbs is folded into that block's constants, not on its own.
        absorbed = {index for block in blocks for index in block.absorbed}
        for call in calls:
            if call.index not in absorbed and call.batch_norm_on_last_axis:
                self._folds[call.name] = functools.partial(_batch_norm_fold, call)
        self.folded = {}

    def refresh(self):
        with tf.init_scope():
            for key, fold in self._folds.items():
                values = fold()
                if key not in self.folded:
                    self.folded[key] = tuple(tf.Variable(value, trainable=False, name=name)
                                             for value, name in zip(values, _NAMES))
                else:
                    for variable, value in zip(self.folded[key], values):
                        variable.assign(value)

    def steps_initialized(self) -> bool:
        """Whether every block's input step has been initialised (by the first call)."""
        with tf.init_scope():  # the variables' values now, also while a graph is traced
            return all(graph.quantizer_state(block.input_quantizer.node.layer).initialized
                       for block in self._blocks)

    def of(self, layer) -> tuple[tf.Variable, tf.Variable]:
        if not self.folded:
            self.refresh()
        return self.folded[layer.name]


_NAMES = ("multiplier", "offset")


def _block_fold(block: Block) -> tuple[np.ndarray, np.ndarray]:
    _kernel_codes(block)  # initialises the weight step if the wrapper never ran
    calls = [block.input_quantizer, block.wrapper, block.batch_norm]
    return block.affine({call.index: graph.read_state(call) for call in calls if call})


def _batch_norm_fold(call: Call) -> tuple[np.ndarray, np.ndarray]:
    return folding.batch_norm_affine(graph.read_state(call).statistics)


@tf.autograph.experimental.do_not_convert
def exact_outputs(model, calls: list[Call], blocks: list[Block], constants: FoldedConstants,
                  inputs):
    """The model's inference outputs as the .tflite computes them (module docstring). Plain
    Python that only builds TF ops: AutoGraph has nothing to convert in it."""
    block_of = {block.wrapper.index: block for block in blocks}
    absorbed = {index for block in blocks for index in block.absorbed}
    values = graph.Rebuild(model, inputs=tf.nest.flatten(inputs))
    for call in calls:
        if call.index in absorbed:
            continue
        node = call.node
        block = block_of.get(call.index)
        if block is not None:
            values.set(block.output, block_output(block, values.new(block.input),
                                                  *constants.of(node.layer)))
            continue
        args, kwargs = values.arguments(node)
        if call.batch_norm_on_last_axis:
            # No block folds it (those are absorbed): `x * multiplier + offset` alone.
            multiplier, offset = constants.of(node.layer)
            values.set_outputs(node, args[0] * multiplier + offset)
        else:
            values.set_outputs(node, node.layer(*args, **kwargs))
    return values.outputs()


@keras.utils.register_keras_serializable(package="bitlite")
class QatModel(keras.Model):
    """The functional model quantize_model returns: trains as tfmot's graph, infers as the
    .tflite computes (exact_outputs), with the folded constants refreshed (FoldedConstants)
    before every inference entry point and after fit."""

    @tf.autograph.experimental.do_not_convert  # Python decisions at trace time, no tensors
    def call(self, inputs, training=None, mask=None):
        if training:
            return super().call(inputs, training=training, mask=mask)
        constants = self.folded_constants()
        if not tf.executing_eagerly():
            if not constants.steps_initialized():
                # The first inference initialises the input steps from its data; folding needs
                # them, and a graph cannot fold in NumPy midway. This graph computes as tfmot's
                # (predict and evaluate trace again once the steps exist).
                return super().call(inputs, training=False, mask=mask)
            return exact_outputs(self, *self._blocks(), constants, inputs)
        if not constants.steps_initialized():
            super().call(inputs, training=False, mask=mask)  # initialises the steps
        constants.refresh()
        return exact_outputs(self, *self._blocks(), constants, inputs)

    def fit(self, *args, **kwargs):
        history = super().fit(*args, **kwargs)
        self.folded_constants().refresh()
        return history

    def predict(self, *args, **kwargs):
        return self._infer(super().predict, "predict_function", *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        return self._infer(super().evaluate, "test_function", *args, **kwargs)

    def predict_on_batch(self, *args, **kwargs):
        return self._infer(super().predict_on_batch, "predict_function", *args, **kwargs)

    def test_on_batch(self, *args, **kwargs):
        return self._infer(super().test_on_batch, "test_function", *args, **kwargs)

    def _infer(self, method, function: str, *args, **kwargs):
        """Refreshes the folded constants, runs Keras' method; a function traced before the
        steps existed (tfmot's graph, see call) is dropped so that the next call traces the
        exact one."""
        constants = self.folded_constants()
        traced_without_steps = not constants.steps_initialized()
        if not traced_without_steps:
            constants.refresh()
        result = method(*args, **kwargs)
        if traced_without_steps:
            setattr(self, function, None)
            constants.refresh()
        return result

    def folded_constants(self) -> FoldedConstants:
        if getattr(self, "_folded_constants", None) is None:
            # A checkpoint dependency (a SavedModel export captures the variables), but no
            # Keras attribute: they are derived state, not weights of the model.
            constants = FoldedConstants(*self._blocks())
            object.__setattr__(self, "_folded_constants", constants)
            self._track_trackable(constants, name="bitlite_folded_constants", overwrite=True)
        return self._folded_constants

    def _blocks(self) -> tuple[list[Call], list[Block]]:
        """The model's calls (graph.read_calls) and its blocks among them."""
        if getattr(self, "_exact_blocks", None) is None:
            calls = graph.read_calls(self)
            # Plain attribute: Keras would track a list attribute as part of the model.
            object.__setattr__(self, "_exact_blocks", (calls, find_blocks(calls, self.name)))
        return self._exact_blocks
