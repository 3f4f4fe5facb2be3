"""quantize_model: a float tf_keras model -> a trainable bitlite quantization-aware model.

Each quantized layer L (Conv1D, Conv2D, DepthwiseConv2D or Dense; a SeparableConv2D is split
into a DepthwiseConv2D and a 1x1 Conv2D first) becomes

    QuantizeLayer(ActivationQuantizer)  ->  QuantizeWrapperV2(L, KernelQuantizeConfig)

(tfmot classes, our LSQ or min/max quantizers): the input is quantized per tensor, the kernel
per output channel; the output stays float. BatchNormalization and activations stay ordinary
layers and train normally; the converter folds them into the bitlite op later. AveragePooling2D
and GlobalAveragePooling2D become their ordered forms (pooling.py).

The model is a QatModel (exact.py): it trains as this graph and infers exactly as the
converted .tflite computes.
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterable, Mapping

import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapperV2)

from . import activations, graph, layers, pooling
from .exact import QatModel
from .layers import KEPT, PLANNED_LAYERS, SUB_BYTE_BITS, kernel_attribute, output_channel_dims
from .quantizers import KernelQuantizeConfig, custom_objects, quantizer_family

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
    layer_bits: Mapping[str, tuple | None] | Callable[[keras.layers.Layer], tuple | None] = None,
    quantizer: str = "lsq",
    residual_bits: int | None = None,
) -> keras.Model:
    """Returns a new QAT model; `model` itself is left untouched.

    Args:
      model: built Sequential or functional tf_keras model, possibly with nested Sequential
        or functional models (a Model used as a layer, at any depth). The QAT model is flat:
        each nested model's layers take its place in the outer graph and are quantized like
        any other, so layer names must be unique across the nesting, a nested model may be
        called only once and without arguments besides its inputs (e.g. no training=False).
      weight_bits, activation_bits: 1..4, the grid of every quantized layer except the kept ones.
      keep_first_last_8bit: the first and last quantized layers use 8-bit weights and input:
        per model input the quantized layer reading it (directly or not) that runs first, per
        model output the quantized layer computing it that runs last, each head of an output
        that concatenates reshaped heads counted apart (_first_and_last: every stem of a
        multi-input model, every head of a detector; nested models' layers counted where they
        run). They become W8A8 bitlite ops (but a convolution reading fewer than 8 channels,
        see layers.becomes_bitlite_op).
      keep_8bit: names of further layers to keep at 8 bits (same as layer_bits (8, 8)).
      skip: names of layers to leave float, not quantized at all (same as layer_bits None).
      layer_bits: per-layer precision, for mixed-precision models (e.g. W2A4 beside W4A4).
        A dict {layer name: bits} decides the layers it names; a callable(layer) -> bits is
        asked for every quantizable layer and decides all of them. bits is (w, a) with both
        in 1..4, (8, 8) to keep the layer 8-bit, or None to leave it float. A layer that
        layer_bits decides is exempt from keep_first_last_8bit.
      quantizer: "lsq" (learned step size) or "minmax" (steps from min/max statistics, as
        tfmot's LastValueQuantizer / MovingAverageQuantizer; see quantizers.py).
      residual_bits: None (default: the residual stream stays float, as Keras computes it), or
        2..8 for an integer residual stream: every Add layer's inputs and its output are
        quantized per tensor to that many bits (the output after the Add's ReLU when a ReLU
        layer is its only reader, on the unsigned grid), as an int8 network carries its
        residuals. An input already on that grid (the output of an earlier Add) is not
        quantized again. See _residual_stream.

    Quantizable layers: Conv1D and Conv2D (grouped too; Conv1D with 'causal' padding too),
    DepthwiseConv2D, SeparableConv2D, Conv2DTranspose (undilated, NHWC) and Dense (any input
    rank). A SeparableConv2D is split into its two parts, see _split_separable. Other layers
    with weights (a dilated Conv2DTranspose, Conv3D, ...) stay float, with one warning naming
    them and why.

    The input quantizer of a layer is unsigned when its input is known to be non-negative
    (produced by a ReLU, possibly through pooling/flatten/reshape/dropout/concat), else signed.
    A ZeroPadding2D that pads exactly what padding='same' would for the quantized convolution
    reading it becomes that convolution's own padding (_pads_as_same). Step sizes initialise
    on the model's first call (see quantizers.py), also when the model is built, compiled and
    fit in a tf.distribute strategy's scope.
    """
    for name, bits in (("weight_bits", weight_bits), ("activation_bits", activation_bits)):
        if not layers.is_bit_width(bits):
            raise ValueError(f"{name} must be one of {SUB_BYTE_BITS}, got {bits!r}")
    quantizers = quantizer_family(quantizer)
    flat = graph.FlatNodes(model)
    nodes = flat.nodes
    readers = _readers(model, flat)
    stream = _residual_stream(model.name, flat.nodes, readers, residual_bits)
    left_float = {node.layer.name: f"{type(node.layer).__name__}: {reason}"
                  for node in nodes for reason in [layers.left_float_reason(node.layer)]
                  if reason}
    if left_float:
        warnings.warn(
            "quantize_model leaves these layers float (bitlite quantizes "
            f"{', '.join(t.__name__ for t in PLANNED_LAYERS)}): "
            + ", ".join(f"{name!r} ({why})" for name, why in left_float.items()),
            stacklevel=2)
    plan = _plan_bits(model, flat, readers, (weight_bits, activation_bits),
                      keep_first_last_8bit, set(keep_8bit), set(skip), layer_bits)
    if not any(bits is not None for bits in plan.values()):
        raise ValueError(f"model {model.name!r} has no "
                         f"{', '.join(t.__name__ for t in PLANNED_LAYERS)} layer to quantize")

    rebuild = graph.Rebuild(model, flat.resolve)
    copies = graph.LayerCopies(copy_type=pooling.ordered_type)
    sign_memo = {}
    padded_same = _pads_as_same(nodes, readers, plan, flat.resolve, sign_memo)
    padding_layers = set(padded_same.values())
    for node in nodes:
        if id(node) in padded_same:
            # Its convolution pads instead (padding='same'): the pad's input goes on.
            rebuild.set_outputs(node, rebuild.new(node.keras_inputs[0]))
            continue
        args, kwargs = rebuild.arguments(node)
        layer = node.layer
        bits = plan.get(id(layer))
        if isinstance(layer, keras.layers.Add) and stream:
            args = _quantized_residual_inputs(node, args, stream, rebuild, quantizers,
                                              residual_bits, flat.resolve, sign_memo)
        if bits is None:
            outputs = copies.call(layer, args, kwargs)
        else:
            signed = not _non_negative(node.keras_inputs[0], flat.resolve, sign_memo)
            reason = layers.binary_padding_problem(layer, signed and bits[1] == 1)
            if reason:
                raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) cannot be "
                                 f"quantized at W{bits[0]}A{bits[1]}: {reason}; "
                                 f"{layers.way_out(layer.name)}")
            bias = layer.bias if layer.use_bias else None
            parts = (_split_separable(layer) if isinstance(layer, keras.layers.SeparableConv2D)
                     else [(layer, getattr(layer, kernel_attribute(layer)), bias)])
            outputs = args[0]
            for index, (part, kernel, part_bias) in enumerate(parts):
                # A part after the first reads the previous part's linear output: signed.
                outputs = _quantized_call(part, kernel, part_bias, bits, signed or index > 0,
                                          quantizers, [outputs, *args[1:]], kwargs,
                                          same=id(layer) in padding_layers)
        if any(graph.tensor_key(t) in stream for t in graph.output_tensors(node)):
            signed = not _non_negative(node.outputs, flat.resolve, sign_memo)
            outputs = QuantizeLayer(quantizers.activation(residual_bits, signed),
                                    name=f"quant_residual_{layer.name}")(outputs)
        rebuild.set_outputs(node, outputs)
    return rebuild.model(name=model.name, model_class=QatModel)


def _quantized_call(layer, kernel, bias, bits: tuple, signed: bool, quantizers, args, kwargs,
                    same: bool = False):
    """input QuantizeLayer -> QuantizeWrapperV2(copy of layer) on new tensors; the copy gets
    `kernel` and `bias` (None: it has none) once the wrapper has built it, and
    padding='same' if `same`."""
    layer_weight_bits, layer_activation_bits = bits
    x = QuantizeLayer(quantizers.activation(layer_activation_bits, signed),
                      name=f"quant_input_{layer.name}")(args[0])
    channel_dims, trailing_dims = output_channel_dims(layer)
    wrapper = QuantizeWrapperV2(
        graph.clone_layer(layer, **({"padding": "same"} if same else {})),
        KernelQuantizeConfig(layer_weight_bits, channel_dims, quantizers.name, trailing_dims))
    outputs = wrapper(x, *args[1:], **kwargs)
    _copy_kernel_and_bias(kernel, bias, wrapper)
    return outputs


def _readers(model, flat) -> dict:
    """Key of each tensor of the float model (resolved across nesting) -> the flat nodes that
    read it; a model output also has the reader None."""
    readers = {}
    for node in flat.nodes:
        for tensor in node.keras_inputs:
            readers.setdefault(graph.tensor_key(flat.resolve(tensor)), []).append(node)
    for tensor in model.outputs:
        readers.setdefault(graph.tensor_key(flat.resolve(tensor)), []).append(None)
    return readers


def _pads_as_same(nodes, readers: dict, plan: dict, resolve, sign_memo) -> dict:
    """id(ZeroPadding2D node) -> id(its convolution's layer), for each ZeroPadding2D whose
    only reader is a quantized Conv2D or DepthwiseConv2D with padding='valid' (undilated,
    channels last), when its pads are exactly those 'same' gives that convolution on the
    unpadded input (as Keras' MobileNetV2 pads before its strided depthwise layers).

    The convolution then pads itself: its input quantizer reads the unpadded tensor, and
    'same' pads the quantized input with zeros, what quantizing the zeros ZeroPadding2D adds
    gives (code 0), except on the signed 1-bit grid, where a zero quantizes to +1: there the
    ZeroPadding2D stays. Same values, but the .tflite has no float PAD between the two
    bitlite ops, so the producer can write the convolution's codes (FORMAT.md "Codes between
    ops")."""
    found = {}
    for node in nodes:
        pad = node.layer
        if type(pad) is not keras.layers.ZeroPadding2D or pad.data_format != "channels_last":
            continue
        only = readers.get(graph.tensor_key(node.outputs), [])
        conv = only[0] if len(only) == 1 and only[0] is not None else None
        layer = conv and conv.layer
        bits = plan.get(id(layer)) if conv is not None else None
        if (bits is None or type(layer) not in (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
                or layer.padding != "valid" or tuple(layer.dilation_rate) != (1, 1)
                or layer.data_format != "channels_last"):
            continue
        signed = not _non_negative(node.keras_inputs[0], resolve, sign_memo)
        if signed and bits[1] == 1:
            continue
        size = node.keras_inputs[0].shape[1:3]
        if None in size:
            continue
        same = tuple(_same_pads(n, k, s) for n, k, s in zip(size, layer.kernel_size,
                                                              layer.strides))
        if tuple(tuple(p) for p in pad.padding) == same:
            found[id(node)] = id(layer)
    return found


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zeros that padding='same' puts around an axis of `size` (TensorFlow's
    rule: the output has ceil(size / stride) elements, the odd one of the total after)."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _residual_stream(model_name: str, nodes, readers: dict, residual_bits) -> set:
    """Keys of the float model's tensors that residual_bits puts on a grid: each Add layer's
    output, or that of the ReLU layer that is its only reader (the stream after the merge's
    activation is non-negative: the unsigned grid gives it every code). Empty for None."""
    if residual_bits is None:
        return set()
    if isinstance(residual_bits, bool) or not isinstance(residual_bits, int) or not (
            2 <= residual_bits <= 8):
        raise ValueError(f"residual_bits must be None or an integer in 2..8 (1 bit has no "
                         f"exact float form between ops), got {residual_bits!r}")
    stream = set()
    for node in nodes:
        if not isinstance(node.layer, keras.layers.Add):
            continue
        key = graph.tensor_key(node.outputs)
        only = readers.get(key, [])
        if len(only) == 1 and only[0] is not None and _is_relu_layer(only[0].layer):
            key = graph.tensor_key(only[0].outputs)
        stream.add(key)
    if not stream:
        raise ValueError(f"residual_bits={residual_bits}: model {model_name!r} has no Add layer "
                         f"(the residual merge whose stream it quantizes)")
    return stream


def _is_relu_layer(layer) -> bool:
    """A layer that only applies an activation whose output is non-negative (ReLU, ReLU6,
    Activation('relu'), ...)."""
    return (type(layer) in (keras.layers.ReLU, keras.layers.Activation)
            and activations.output_is_non_negative(layer))


def _quantized_residual_inputs(node, args, stream: set, rebuild, quantizers, residual_bits,
                               resolve, sign_memo) -> list:
    """The Add call's arguments with each input that is not on the stream's grid already
    quantized by a QuantizeLayer of its own."""
    replaced = {}
    for index, tensor in enumerate(node.keras_inputs):
        if graph.tensor_key(resolve(tensor)) in stream:
            continue
        signed = not _non_negative(tensor, resolve, sign_memo)
        new = rebuild.new(tensor)
        quantize = QuantizeLayer(quantizers.activation(residual_bits, signed),
                                 name=f"quant_residual_input{index}_{node.layer.name}")
        replaced[id(new)] = quantize(new)
    return tf.nest.map_structure(lambda value: replaced.get(id(value), value), args)


def _split_separable(layer) -> list:
    """[(DepthwiseConv2D, kernel, None), (Conv2D 1x1, kernel, bias)]: what `layer` computes.

    A SeparableConv2D is a depthwise convolution followed by a 1x1 convolution, with the
    stride, padding and dilation in the depthwise part and the bias and activation in the
    pointwise part. Quantizing it as one layer would quantize only its input, but the
    depthwise result feeding the pointwise part is a real tensor of float values: a bitlite
    op quantizes its own input, so the converter can represent it exactly only as two ops,
    each with its own input quantizer. Splitting here makes Keras train with exactly those
    two quantized inputs. The parts are unbuilt layers, given their float weights.
    """
    depthwise = keras.layers.DepthwiseConv2D(
        layer.kernel_size, strides=layer.strides, padding=layer.padding,
        depth_multiplier=layer.depth_multiplier, data_format=layer.data_format,
        dilation_rate=layer.dilation_rate, use_bias=False,
        depthwise_regularizer=layer.depthwise_regularizer,
        depthwise_constraint=layer.depthwise_constraint, name=f"{layer.name}_depthwise")
    pointwise = keras.layers.Conv2D(
        layer.filters, 1, data_format=layer.data_format, activation=layer.activation,
        use_bias=layer.use_bias, kernel_regularizer=layer.pointwise_regularizer,
        bias_regularizer=layer.bias_regularizer,
        activity_regularizer=layer.activity_regularizer,
        kernel_constraint=layer.pointwise_constraint, bias_constraint=layer.bias_constraint,
        name=f"{layer.name}_pointwise")
    bias = layer.bias if layer.use_bias else None
    return [(depthwise, layer.depthwise_kernel, None), (pointwise, layer.pointwise_kernel, bias)]


def load_qat_model(path, **load_kwargs) -> keras.Model:
    """Loads a QAT model saved with `model.save(path)` (.keras, .h5 or SavedModel directory);
    `load_kwargs` go to keras.models.load_model (e.g. compile=False)."""
    classes = custom_objects() | {cls.__name__: cls for cls in (QatModel, *pooling.LAYERS)}
    with tfmot.quantization.keras.quantize_scope(classes):
        return keras.models.load_model(path, **load_kwargs)


def _copy_kernel_and_bias(kernel, bias, wrapper):
    """Copies the float layer's `kernel` and `bias` (None: no bias) into the wrapped copy.

    The copy is built by the wrapper, not before: tfmot orders a wrapper's trainable weights
    differently when the inner layer arrives built, and a loaded model's never does, so
    optimizer state would not load back. Once called, the wrapper has replaced the inner
    layer's `kernel` attribute by the quantized tensor: graph.wrapped_kernel finds the variable.
    """
    wrapped_kernel, _ = graph.wrapped_kernel(wrapper)
    wrapped_kernel.assign(kernel)
    if bias is not None:
        wrapper.layer.bias.assign(bias)


# Layers that only place values: a model output made of them (a detector's heads reshaped to
# rows and concatenated) stands for the outputs of the layers that computed those values.
_PLACING = (keras.layers.Concatenate, keras.layers.Reshape, keras.layers.Flatten,
            keras.layers.Permute)


def _first_and_last(model, flat, readers: dict, quantized: set) -> set:
    """id(layer) of the first and last layers among `quantized` (ids): for each model input,
    the one of its readers, direct or not, that runs first; for each model output (each head
    that _PLACING layers combine into one counted apart), the one among its producers, direct
    or not, that runs last. A chain has one of each, as in execution order; a detector keeps
    every head and a two-input model every stem, while a residual network's skips (through
    Add) keep no more than its last layer. `readers`: _readers' map (None for an output)."""
    def key(tensor):
        return graph.tensor_key(flat.resolve(tensor))

    order = {id(node): index for index, node in enumerate(flat.nodes)}
    producer = {key(tensor): node for node in flat.nodes for tensor in graph.output_tensors(node)}

    def met(keys: list, nodes_at, keys_after) -> list:
        """The quantized nodes met walking from tensor keys `keys`: from a tensor to the
        nodes nodes_at(key), from a node to the tensors keys_after(node)."""
        seen, todo = {}, list(keys)
        while todo:
            for node in nodes_at(todo.pop()):
                if id(node) not in seen:
                    seen[id(node)] = node
                    todo.extend(keys_after(node))
        return [node for node in seen.values() if id(node.layer) in quantized]

    def run_order(node):
        return order[id(node)]

    heads, todo = set(), [key(tensor) for tensor in model.outputs]
    while todo:
        tensor_key = todo.pop()
        node = producer.get(tensor_key)
        if node is not None and isinstance(node.layer, _PLACING):
            todo.extend(key(tensor) for tensor in node.keras_inputs)
        else:
            heads.add(tensor_key)
    ends = set()
    for tensor in model.inputs:
        readers_of = met([key(tensor)],
                         lambda k: [r for r in readers.get(k, []) if r is not None],
                         lambda node: [key(t) for t in graph.output_tensors(node)])
        if readers_of:
            ends.add(id(min(readers_of, key=run_order).layer))
    for head in heads:
        producers_of = met([head], lambda k: [producer[k]] if k in producer else [],
                           lambda node: [key(t) for t in node.keras_inputs])
        if producers_of:
            ends.add(id(max(producers_of, key=run_order).layer))
    return ends


def _plan_bits(model, flat, readers: dict, default: tuple, keep_first_last_8bit: bool,
               keep_8bit: set, skip: set, layer_bits) -> dict:
    """id(layer) -> (weight bits, activation bits), or None for float, of every quantizable
    layer. First match decides: keep_8bit / skip / a layer_bits dict entry / the layer_bits
    callable; keep_first_last_8bit for the first and last layers not left float
    (_first_and_last); `default`."""
    nodes = flat.nodes
    by_name = {}
    for node in nodes:
        if by_name.setdefault(node.layer.name, node.layer) is not node.layer:
            # Nested models have their own name scopes; the flat QAT model has one.
            raise ValueError(f"two layers are named {node.layer.name!r} (inside and outside a "
                             f"nested model): rename one, the QAT model is rebuilt flat")
    named = {name: KEPT for name in keep_8bit} | {name: None for name in skip}
    sources = {name: "keep_8bit" for name in keep_8bit} | {name: "skip" for name in skip}
    if isinstance(layer_bits, Mapping):
        named_twice = sorted(set(layer_bits) & set(named))
        if named_twice:
            raise ValueError(f"layers named in layer_bits and in keep_8bit/skip: {named_twice}")
        named |= dict(layer_bits)
        sources |= {name: "layer_bits" for name in layer_bits}
    elif layer_bits is not None and not callable(layer_bits):
        raise ValueError(f"layer_bits must be a dict or a callable, got {layer_bits!r}")
    both = sorted(keep_8bit & skip)
    if both:
        raise ValueError(f"layers both in keep_8bit and skip: {both}")
    for name in sorted(named):
        if name not in by_name:
            candidates = [n for n, layer in by_name.items() if layers.is_planned(layer)]
            raise ValueError(f"{sources[name]} names layers the model does not have: {[name]} "
                             f"(its quantizable layers: {candidates})")
        if not layers.is_planned(by_name[name]):
            why = layers.transpose_problem(by_name[name])
            raise ValueError(
                f"layer {name!r} ({type(by_name[name]).__name__}) is not quantized by bitlite "
                + (f"({why})" if why else
                   f"(only {', '.join(t.__name__ for t in PLANNED_LAYERS)} are)")
                + f": remove it from {sources[name]}, it stays float anyway")

    quantizable = list({id(n.layer): n.layer for n in nodes
                        if layers.is_planned(n.layer)}.values())
    plan = {}
    for layer in quantizable:
        if layer.name in named:
            plan[id(layer)] = _checked_bits(layer.name, named[layer.name])
        elif callable(layer_bits):
            plan[id(layer)] = _checked_bits(layer.name, layer_bits(layer))
    not_float = {id(layer) for layer in quantizable if plan.get(id(layer), default) is not None}
    ends = _first_and_last(model, flat, readers, not_float) if keep_first_last_8bit else set()
    for layer in quantizable:
        if id(layer) not in plan:
            plan[id(layer)] = KEPT if id(layer) in ends else default
    calls = graph.call_counts(nodes)
    for layer in quantizable:
        bits = plan[id(layer)]
        if bits is None:
            continue
        shared = layers.shared_problem(layer.name, calls[id(layer)])
        if shared:
            raise ValueError(shared)
        reason = layers.is_sub_byte(*bits) and layers.sub_byte_problem(layer, *bits)
        if reason:
            raise ValueError(
                f"layer {layer.name!r} ({type(layer).__name__}) cannot be quantized below 8 "
                f"bits: {reason}; {layers.way_out(layer.name)}")
    return plan


def _checked_bits(name: str, bits):
    """A layer's (weight bits, activation bits) as given by the user, validated."""
    if bits is None:
        return None
    reason = layers.bits_problem(bits)
    if reason:
        raise ValueError(f"layer {name!r}: {reason}")
    weight, activation = bits
    return int(weight), int(activation)


def _non_negative(tensor, resolve, memo: dict) -> bool:
    """Whether a tensor of the float model is >= 0 by construction (`resolve`: FlatNodes',
    to see across nested models; `memo` caches answers: residual graphs reach the same
    tensor along many paths)."""
    tensor = resolve(tensor)
    key = graph.tensor_key(tensor)
    if key not in memo:
        layer, node = graph.producer(tensor)
        if isinstance(layer, keras.layers.InputLayer):
            memo[key] = False
        elif activations.output_is_non_negative(layer):
            memo[key] = True
        else:
            memo[key] = type(layer) in _SIGN_PRESERVING and all(
                _non_negative(t, resolve, memo) for t in node.keras_inputs)
    return memo[key]
