"""Reading a functional (or Sequential) tf_keras model: its layer calls in order, who reads
each tensor, and the values of the variables tfmot and Keras keep on its layers.

It is the one module that reads tf_keras' and tfmot's private attributes (_keras_history,
_inbound_nodes, _nodes_by_depth, _nested_outputs, _weight_vars), so a change of theirs is
mended here alone. Variables are read as this worker holds them (local_value): under a
tf.distribute strategy, without waiting for other workers.

`read_model` is the first stage of `convert`: the model's calls and every value the converter
needs (quantizer steps, weights, BatchNorm statistics), read once into plain data (facts.py);
the later stages plan and export from these alone. The QAT model's inference (exact.py) walks
the same calls (read_calls).

quantize_model, the export model and that inference each re-create a model call by call,
replacing some layers (Rebuild, LayerCopies, FlatNodes): the bookkeeping they share is here,
beside the private attributes it reads.
"""

from __future__ import annotations

import collections

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapper)

from . import custom_ops
from .facts import BatchNormStatistics, Call, CallState, ModelFacts, QuantizerState


def tensor_key(tensor) -> tuple:
    """Identifies a Keras tensor by the layer call that produced it."""
    history = tensor._keras_history
    return id(history.layer), history.node_index, history.tensor_index


def producer(tensor):
    """(layer, node) that produced a Keras tensor."""
    history = tensor._keras_history
    return history.layer, history.layer._inbound_nodes[history.node_index]


def model_nodes(model) -> list:
    """The layer calls of a model in execution order, input layers left out."""
    if type(model).__module__.split(".")[0] == "keras":
        raise ValueError(
            f"model {model.name!r} is a Keras 3 model; bitlite (through "
            "tensorflow-model-optimization) needs Keras 2 models: build it with "
            "`import tf_keras as keras` (pip install tf_keras), or with tf.keras after setting "
            "os.environ['TF_USE_LEGACY_KERAS'] = '1' before TensorFlow is first imported")
    if not getattr(model, "_is_graph_network", False):
        raise ValueError(
            f"model {model.name!r} is not a graph of layers: bitlite needs a built Sequential "
            "or functional tf_keras model (give the first layer an input shape or use "
            "keras.Input); subclassed models are not supported")
    nodes = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        nodes.extend(node for node in model._nodes_by_depth[depth] if not node.is_input)
    return nodes


def call_counts(nodes) -> collections.Counter:
    """id(layer) -> how many of `nodes` (layer calls) call it."""
    return collections.Counter(id(node.layer) for node in nodes)


def output_tensors(node) -> list:
    return tf.nest.flatten(node.outputs)


class FlatNodes:
    """The layer calls of a model in execution order, as model_nodes gives them, except that
    each call of a nested model (a Model used as a layer) is replaced by the calls of that
    model's own layers, recursively: quantize_model rebuilds nested models flat.

    The flat list reads tensors across the nesting: an input of a nested model holds the value
    of the outer argument it was called on, and the output of the nested call the value of
    the nested model's output. `resolve` follows these links to the tensor whose layer call
    (in `nodes`, or an input of the outer model) computes the value.
    """

    def __init__(self, model):
        self.nodes = []
        self._same_as = {}
        self._expand(model)

    def resolve(self, tensor):
        while tensor_key(tensor) in self._same_as:
            tensor = self._same_as[tensor_key(tensor)]
        return tensor

    def _expand(self, model):
        for node in model_nodes(model):
            nested = node.layer
            if not isinstance(nested, keras.Model):
                self.nodes.append(node)
                continue
            # Flat, a nested model's layers exist once: a second call would need copies (new
            # weights), and call arguments such as training=False would be lost.
            if any(tensor_key(t) in self._same_as for t in nested.inputs) or node.call_kwargs:
                how = ("is called more than once" if not node.call_kwargs
                       else f"is called with {sorted(node.call_kwargs)}")
                raise ValueError(
                    f"nested model {nested.name!r} {how}; bitlite rebuilds nested models flat, "
                    f"so call it once on its inputs alone or build the model without nesting")
            outer_inputs = node.keras_inputs
            if len(outer_inputs) != len(nested.inputs):
                raise ValueError(f"nested model {nested.name!r} is called on "
                                 f"{len(outer_inputs)} tensors but has {len(nested.inputs)} "
                                 f"inputs")
            for inner, outer in zip(nested.inputs, outer_inputs):
                self._same_as[tensor_key(inner)] = outer
            self._expand(nested)
            for outer, inner in zip(output_tensors(node), nested.outputs):
                self._same_as[tensor_key(outer)] = inner


class Consumers:
    """Who reads each tensor of a model (layer calls, and whether it is a model output)."""

    def __init__(self, model):
        self._readers = {}
        for node in model_nodes(model):
            for tensor in node.keras_inputs:
                self._readers.setdefault(tensor_key(tensor), []).append(node)
        self._outputs = {tensor_key(t) for t in model.outputs}

    def readers(self, tensor) -> list:
        return self._readers.get(tensor_key(tensor), [])

    def is_output(self, tensor) -> bool:
        return tensor_key(tensor) in self._outputs


def clone_layer(layer, layer_class=None, **config_changes):
    """A fresh, unbuilt copy of `layer` (weights are copied once it is built), of class
    `layer_class` (default: the layer's own), its configuration updated by config_changes."""
    config = layer.get_config() | config_changes
    if isinstance(layer, keras.layers.BatchNormalization) and layer.synchronized:
        # tf_keras' BatchNormalization.get_config leaves `synchronized` out: the copy would
        # take its batch statistics per replica again (each worker its own moving statistics).
        config["synchronized"] = True
    return (layer_class or type(layer)).from_config(config)


class Rebuild:
    """Re-creates a model's graph: new inputs, then each node mapped by the caller.

    The caller visits `model_nodes(model)` in order, reads the new tensors of a node's inputs
    with `arguments(node)` / `new(tensor)`, calls whatever layers it likes and records the
    result with `set(tensor, new_tensor)`.
    """

    def __init__(self, model, resolve=lambda tensor: tensor, inputs=None):
        """resolve: FlatNodes.resolve when the caller visits FlatNodes(model).nodes.
        inputs: the values of the model's inputs (a list), to evaluate the graph on tensors
        rather than build a new model; new keras.Inputs when None."""
        self._model = model
        self._resolve = resolve
        self._new = {}
        self.inputs = []
        for index, tensor in enumerate(model.inputs):
            new_input = inputs[index] if inputs is not None else keras.Input(
                shape=tensor.shape[1:], batch_size=tensor.shape[0], dtype=tensor.dtype,
                name=tensor._keras_history.layer.name)
            self.inputs.append(new_input)
            self.set(tensor, new_input)

    def new(self, tensor):
        return self._new[tensor_key(self._resolve(tensor))]

    def set(self, tensor, new_tensor):
        self._new[tensor_key(self._resolve(tensor))] = new_tensor

    def set_outputs(self, node, new_outputs):
        for old, new in zip(output_tensors(node), tf.nest.flatten(new_outputs)):
            self.set(old, new)

    def apply(self, compute, tensor, output):
        """Records `compute(new tensor of tensor)` as the new tensor of `output`."""
        self.set(output, compute(self.new(tensor)))

    def copy(self, node, copies: LayerCopies):
        """Records the outputs of the node's layer's copy (`copies`) called on its new
        arguments."""
        self.set_outputs(node, copies.call(node.layer, *self.arguments(node)))

    def arguments(self, node) -> tuple[list, dict]:
        """The node's call arguments with every Keras tensor replaced by its new tensor."""
        # Arguments also hold plain values (the 3.0 of `x + 3.0`, a None): only Keras tensors
        # carry a _keras_history, and is_keras_tensor raises on anything that is no tensor.
        def swap(value):
            return self.new(value) if hasattr(value, "_keras_history") else value

        return (tf.nest.map_structure(swap, node.call_args),
                tf.nest.map_structure(swap, node.call_kwargs))

    def outputs(self):
        """The new tensors of the model's outputs, nested as the model nests them."""
        return tf.nest.map_structure(self.new, self._model._nested_outputs)

    def model(self, name: str, model_class=keras.Model):
        inputs = self.inputs if len(self.inputs) > 1 else self.inputs[0]
        return model_class(inputs, self.outputs(), name=name)


class LayerCopies:
    """Clones each layer once (shared layers stay shared) and copies its weights after the
    first call has built it."""

    def __init__(self, copy_type=type):
        """copy_type(layer): the class of the copy (default: the layer's own)."""
        self._copies = {}
        self._copy_type = copy_type

    def call(self, layer, args, kwargs):
        """Calls the copy of `layer` with the given (new) arguments."""
        copy = self._copies.get(id(layer))
        first_call = copy is None
        if first_call:
            copy = self._copies[id(layer)] = clone_layer(layer, self._copy_type(layer))
        outputs = copy(*args, **kwargs)
        if first_call:
            copy.set_weights(weight_values(layer))
        return outputs


def weight_values(layer) -> list:
    """layer.get_weights(), each variable read by local_value (get_weights all-reduces)."""
    if not all(isinstance(weight, tf.Variable) for weight in layer.weights):
        return layer.get_weights()  # weight handlers (some RNN cells): Keras' own reading
    return [local_value(weight) for weight in layer.weights]


def local_value(value) -> np.ndarray:
    """The value of a variable (or of a tensor, array, number) as this worker holds it, read
    without any cross-worker communication.

    Under a tf.distribute strategy a model's variables are DistributedValues: one copy per
    replica of this worker (one per local device). Read whole outside a replica context
    (`.numpy()`, np.asarray, get_weights), a SyncOnRead variable with MEAN aggregation, such as
    BatchNormalization's moving statistics, is all-reduced over every replica of the cluster:
    under MultiWorkerMirroredStrategy that waits until every other worker reads it too, so
    `convert` called on the chief alone never returned. Here only this worker's copies are
    read (strategy.experimental_local_results): a mirrored variable's copies are equal and the
    first is taken; a MEAN SyncOnRead variable gives the mean of this worker's copies, summed
    in replica order and divided by their count (on one machine, MirroredStrategy, that is the
    mean a plain read gives); an ONLY_FIRST_REPLICA one gives the first copy, as a plain read.

    The QAT model's inference folds its constants through here too (folding.py, exact.py), so
    on each worker the converted model and the model's own inference use that worker's
    BatchNorm statistics, which differ between workers unless the BatchNorm is synchronized
    (README "Training on several machines").
    """
    if not isinstance(value, tf.distribute.DistributedValues):
        return np.asarray(value)
    copies = [np.asarray(copy)
              for copy in value.distribute_strategy.experimental_local_results(value)]
    if getattr(value, "synchronization", None) != tf.VariableSynchronization.ON_READ:
        return copies[0]
    if value.aggregation == tf.VariableAggregation.MEAN:
        total = copies[0]
        for copy in copies[1:]:
            total = total + copy
        return (total / len(copies)).astype(copies[0].dtype)
    if value.aggregation == tf.VariableAggregation.ONLY_FIRST_REPLICA:
        return copies[0]
    # SUM (or NONE) is a cluster-wide total, which no worker holds alone; no layer the
    # converter reads has such a variable.
    raise ValueError(f"variable {value.name!r} is aggregated with {value.aggregation} across "
                     "replicas; bitlite reads only mirrored, MEAN or ONLY_FIRST_REPLICA ones")


def wrapped_kernel(wrapper) -> tuple:
    """(float kernel variable, weight quantizer) of a QuantizeWrapper: tfmot keeps them in the
    wrapper and puts the quantized kernel tensor on the inner layer once it is called."""
    kernel, quantizer, _ = wrapper._weight_vars[0]
    return kernel, quantizer


def quantizer_variables(layer) -> dict:
    """The variables ({'step', 'initialized', ...}) of an input QuantizeLayer's quantizer, or
    of a QuantizeWrapper's kernel quantizer."""
    if isinstance(layer, QuantizeLayer):
        return layer.quantizer_vars
    _, _, variables = layer._weight_vars[0]
    return variables


def read_model(model) -> ModelFacts:
    """A model's calls and every value the converter reads, read once."""
    calls = read_calls(model)
    return ModelFacts(model, calls, {call.index: read_state(call) for call in calls})


def read_calls(model) -> list[Call]:
    """The layer calls of a model in execution order (model_nodes), with who reads each."""
    nodes = model_nodes(model)
    index_of = {id(node): index for index, node in enumerate(nodes)}
    consumers = Consumers(model)
    times_called = call_counts(nodes)
    calls = []
    for index, node in enumerate(nodes):
        layer, x = node.layer, node.keras_inputs[0]
        wrapped = isinstance(layer, QuantizeWrapper)
        _, producer_node = producer(x)
        calls.append(Call(
            index=index, node=node, layer=layer.layer if wrapped else layer, input=x,
            output=node.outputs, wrapped=wrapped,
            quantizer=(layer.quantizer if isinstance(layer, QuantizeLayer)
                       else layer.quantize_config if wrapped else None),
            producer=index_of.get(id(producer_node)),
            readers=tuple(index_of[id(reader)] for reader in consumers.readers(node.outputs)),
            is_output=consumers.is_output(node.outputs), times_called=times_called[id(layer)],
            activation=(activation_function_name(getattr(layer.layer, "activation", None))
                        if wrapped else None),
            computes=_activation_layer_name(layer), alpha=_leaky_slope(layer),
            batch_norm_on_last_axis=(type(layer) is keras.layers.BatchNormalization
                                     and list(layer.axis) == [x.shape.rank - 1])))
    return calls


def activation_function_name(fn) -> str | None:
    """Registered name of an activation function ('relu', 'linear' ...), None if it has none
    (or `fn` is no function)."""
    if not callable(fn):
        return None
    name = keras.activations.serialize(fn)
    return name if isinstance(name, str) else None


def _activation_layer_name(layer) -> str | None:
    """Name of the activation a standalone activation layer computes (a ReLU layer with default
    slope and threshold is 'relu', or 'relu6' with max_value=6; 'leaky_relu' where
    _leaky_slope has one); None otherwise."""
    if _leaky_slope(layer) is not None:
        return "leaky_relu"
    if isinstance(layer, keras.layers.LeakyReLU):
        # A slope of 0 is tf.nn.relu in Keras' backend.relu.
        return "relu" if float(layer.get_config()["alpha"]) == 0 else None
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        if config["negative_slope"] == 0 and config["threshold"] == 0:
            if config["max_value"] is None:
                return "relu"
            if float(config["max_value"]) == 6.0:
                return "relu6"
        return None
    if type(layer) is keras.layers.Activation:
        name = activation_function_name(layer.activation)
        # tf.nn.leaky_relu as a function keeps its slope out of any config: not fused.
        return None if name == "leaky_relu" else name
    return None


def _leaky_slope(layer) -> float | None:
    """The float32 slope of a layer computing `tf.nn.leaky_relu` (Keras' backend.relu runs it
    for LeakyReLU, and for a ReLU with a negative slope, no threshold and no maximum) where the
    slope is a normal float32 in [FLT_MIN, 1] (custom_ops.leaky_slope): there the select
    TensorFlow computes is monotone and TFLite's kernels compute the same; None otherwise."""
    if isinstance(layer, keras.layers.LeakyReLU):
        slope = layer.get_config()["alpha"]
    elif isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        if config["threshold"] != 0 or config["max_value"] is not None:
            return None
        slope = config["negative_slope"]
    else:
        return None
    return custom_ops.leaky_slope(slope)


def read_state(call: Call) -> CallState:
    """The values of a call's variables as this worker holds them (local_value)."""
    if call.batch_norm_on_last_axis:
        return CallState(statistics=batch_norm_statistics(call.layer))
    layer = call.node.layer
    if isinstance(layer, QuantizeLayer):
        return CallState(step=quantizer_state(layer))
    if not call.wrapped or not layer._weight_vars:
        return CallState()
    kernel, kernel_quantizer = wrapped_kernel(layer)
    bias = call.layer.bias if getattr(call.layer, "use_bias", False) else None
    return CallState(step=quantizer_state(layer), kernel=local_value(kernel),
                     kernel_quantizer=kernel_quantizer,
                     bias=None if bias is None else local_value(bias))


def quantizer_state(layer) -> QuantizerState | None:
    """The step of an input QuantizeLayer's quantizer or of a QuantizeWrapper's kernel
    quantizer; None for a quantizer without one (not bitlite's)."""
    variables = quantizer_variables(layer)
    if "step" not in variables:
        return None
    return QuantizerState(local_value(variables["step"]).astype(np.float32),
                          bool(local_value(variables["initialized"])))


def batch_norm_statistics(layer) -> BatchNormStatistics:
    channels = int(layer.moving_mean.shape[0])

    def read(variable, default):
        if variable is None:
            return np.full([channels], default, np.float32)
        return np.asarray(local_value(variable), np.float32)

    return BatchNormStatistics(read(layer.gamma, 1), read(layer.beta, 0),
                               read(layer.moving_mean, 0), read(layer.moving_variance, 1),
                               np.float32(layer.epsilon))
