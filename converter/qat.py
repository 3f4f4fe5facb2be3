"""quantize_model: a float tf_keras model -> a trainable bitlite quantization-aware model.

Each quantized layer L (Conv2D or Dense) becomes

    QuantizeLayer(ActivationQuantizer)  ->  QuantizeWrapperV2(L, KernelQuantizeConfig)

(tfmot classes, our LSQ quantizers): the input is quantized per tensor, the kernel per output
channel; the output stays float. BatchNormalization and activations stay ordinary layers and
train normally; the converter folds them into the bitlite op later.
"""

from __future__ import annotations

from typing import Iterable

import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapperV2)

from . import activations, custom_ops, graph
from .blocks import sub_byte_problem, way_out
from .quantizers import (QUANTIZABLE_LAYERS, ActivationQuantizer, KernelQuantizeConfig,
                         custom_objects)

SUB_BYTE_BITS = custom_ops.SUPPORTED_BITS
KEPT_BITS = 8

# Layers whose output is non-negative whenever all their inputs are.
_SIGN_PRESERVING = (
    keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D, keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D, keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D, keras.layers.Flatten, keras.layers.Reshape,
    keras.layers.Permute, keras.layers.Dropout, keras.layers.SpatialDropout2D,
    keras.layers.ZeroPadding2D, keras.layers.Cropping2D, keras.layers.UpSampling2D,
    keras.layers.Concatenate, keras.layers.Add, keras.layers.Maximum, keras.layers.Average,
)


def quantize_model(
    model: keras.Model,
    weight_bits: int = 2,
    activation_bits: int = 2,
    *,
    keep_first_last_8bit: bool = True,
    keep_8bit: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> keras.Model:
    """Returns a new QAT model; `model` itself is left untouched.

    Args:
      model: built Sequential or functional tf_keras model.
      weight_bits, activation_bits: 1..4, the grid of every quantized layer except the kept ones.
      keep_first_last_8bit: the first and last quantized layers (in execution order) use 8-bit
        weights and input; they run as float builtin ops after conversion.
      keep_8bit: names of further Conv2D/Dense layers to keep at 8 bits.
      skip: names of Conv2D/Dense layers to leave float (not quantized at all).

    The input quantizer of a layer is unsigned when its input is known to be non-negative
    (produced by a ReLU, possibly through pooling/flatten/reshape/dropout/concat), else signed.
    Step sizes initialise on the model's first call (see quantizers.py). Layers inside a nested
    model (a Model used as a layer) are copied as they are, i.e. stay float.
    """
    for name, bits in (("weight_bits", weight_bits), ("activation_bits", activation_bits)):
        if isinstance(bits, bool) or bits not in SUB_BYTE_BITS:
            raise ValueError(f"{name} must be one of {SUB_BYTE_BITS}, got {bits!r}")
    keep_8bit, skip = set(keep_8bit), set(skip)
    nodes = graph.model_nodes(model)
    _check_names(nodes, keep_8bit, skip)

    quantized = [node.layer for node in nodes
                 if type(node.layer) in QUANTIZABLE_LAYERS and node.layer.name not in skip]
    if not quantized:
        raise ValueError(f"model {model.name!r} has no Conv2D or Dense layer to quantize")
    bits = {}  # id(layer) -> (weight bits, activation bits)
    for index, layer in enumerate(quantized):
        if id(layer) in bits:
            raise ValueError(
                f"layer {layer.name!r} is called more than once; bitlite quantizes each call "
                f"separately, so give each call its own layer or leave it float with "
                f"quantize_model(..., skip=[{layer.name!r}])")
        kept = layer.name in keep_8bit or (
            keep_first_last_8bit and index in (0, len(quantized) - 1))
        if not kept:
            _check_sub_byte_layer(layer)
        bits[id(layer)] = (KEPT_BITS, KEPT_BITS) if kept else (weight_bits, activation_bits)

    rebuild = graph.Rebuild(model)
    copies = graph.LayerCopies()
    sign_memo = {}
    for node in nodes:
        args, kwargs = rebuild.arguments(node)
        layer = node.layer
        if id(layer) in bits:
            layer_weight_bits, layer_activation_bits = bits[id(layer)]
            signed = not _non_negative(node.keras_inputs[0], sign_memo)
            x = QuantizeLayer(ActivationQuantizer(layer_activation_bits, signed),
                              name=f"quant_input_{layer.name}")(args[0])
            wrapper = QuantizeWrapperV2(graph.clone_layer(layer),
                                        KernelQuantizeConfig(layer_weight_bits))
            outputs = wrapper(x, *args[1:], **kwargs)
            _copy_kernel_and_bias(layer, wrapper)
        else:
            outputs = copies.call(layer, args, kwargs)
        rebuild.set_outputs(node, outputs)
    return rebuild.model(name=model.name)


def load_qat_model(path, **load_kwargs) -> keras.Model:
    """Loads a QAT model saved with `model.save(path)` (.keras, .h5 or SavedModel directory);
    `load_kwargs` go to keras.models.load_model (e.g. compile=False)."""
    with tfmot.quantization.keras.quantize_scope(custom_objects()):
        return keras.models.load_model(path, **load_kwargs)


def _copy_kernel_and_bias(layer, wrapper):
    """Copies the float layer's weights into the wrapped copy.

    The copy is built by the wrapper, not before: tfmot orders a wrapper's trainable weights
    differently when the inner layer arrives built, and a loaded model's never does, so
    optimizer state would not load back. Once called, the wrapper has replaced the inner
    layer's `kernel` attribute by the quantized tensor: the variable is in `_weight_vars`.
    """
    kernel, _, _ = wrapper._weight_vars[0]
    kernel.assign(layer.kernel)
    if layer.use_bias:
        wrapper.layer.bias.assign(layer.bias)


def _check_names(nodes, keep_8bit: set, skip: set):
    layers = {node.layer.name: node.layer for node in nodes}
    for option, names in (("keep_8bit", keep_8bit), ("skip", skip)):
        unknown = sorted(names - layers.keys())
        if unknown:
            raise ValueError(f"{option} names layers the model does not have: {unknown}")
    for name in sorted(keep_8bit | skip):
        layer = layers[name]
        if type(layer) not in QUANTIZABLE_LAYERS:
            raise ValueError(
                f"layer {name!r} ({type(layer).__name__}) is not quantized by bitlite (only "
                f"Conv2D and Dense are): remove it from keep_8bit/skip, it stays float anyway")
    both = sorted(keep_8bit & skip)
    if both:
        raise ValueError(f"layers both in keep_8bit and skip: {both}")


def _check_sub_byte_layer(layer):
    reason = sub_byte_problem(layer)
    if reason:
        raise ValueError(
            f"layer {layer.name!r} ({type(layer).__name__}) cannot be quantized below 8 bits: "
            f"{reason}; {way_out(layer.name)}")


def _non_negative(tensor, memo: dict) -> bool:
    """Whether a tensor of the float model is >= 0 by construction (`memo` caches answers:
    residual graphs reach the same tensor along many paths)."""
    key = graph.tensor_key(tensor)
    if key not in memo:
        layer, node = graph.producer(tensor)
        if isinstance(layer, keras.layers.InputLayer):
            memo[key] = False
        elif activations.output_is_non_negative(layer):
            memo[key] = True
        else:
            memo[key] = type(layer) in _SIGN_PRESERVING and all(
                _non_negative(t, memo) for t in node.keras_inputs)
    return memo[key]
