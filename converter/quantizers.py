"""Learned step size quantizers (LSQ, Esser et al. 2020) for tfmot quantization-aware training.

Forward: codes `q = clip(round(x / s), qmin, qmax)` (round half to even, as `tf.round`), output
`q * s`; on the signed 1-bit grid `q = -1 if x <= -FLT_MIN else +1`. The grids are the ones of
cc/FORMAT.md, so the codes Keras trains with are exactly the codes the delegate computes.
Backward: straight-through estimator for the rounding, LSQ gradient for the step `s`, scaled by
`1 / sqrt(numel * qmax)`.

Step initialisation is lazy: the first call of the layer (the first training batch, or the
first inference batch if the model runs before it trains) sets `s = 2 * mean(|x|) / sqrt(qmax)`
(per output channel for weights) and raises a non-trainable flag, so nothing has to be
calibrated up front and loading a saved model keeps the trained steps. Under a tf.distribute
strategy the replicas average their statistics, so all copies of a step stay equal.

`quantize_model(quantizer="minmax")` uses MinMaxWeightQuantizer / MinMaxActivationQuantizer
instead: the same grids and codes, with steps from min/max statistics (see _MinMaxStep).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from . import custom_ops
from .layers import kernel_attribute

MAX_BITS = 8
# Keeps the step positive (a grid needs s > 0) when an optimizer step would cross zero.
MIN_STEP = 1e-8


@tf.custom_gradient
def _straight_through(value, surrogate):
    """`value` forward, gradient of `surrogate` backward (both of the same shape)."""
    return tf.identity(value), lambda dy: (tf.zeros_like(dy), dy)


def _scale_gradient(x, scale):
    """Identity forward; the gradient is multiplied by `scale`."""

    @tf.custom_gradient
    def scaled(x):
        return tf.identity(x), lambda dy: dy * scale

    return scaled(x)


def _min_step(step):
    return tf.maximum(step, MIN_STEP)


def _same_on_every_replica(compute):
    """`compute` for a tf.cond branch; in a replica context of a tf.distribute strategy with
    several replicas, a function returning the replicas' mean of compute() instead.

    Each replica sees its own slice of the batch: statistics taken from it, and the steps
    they set, would differ between the replicas' copies of the variables for good (the
    synchronised gradient updates move all copies alike), while conversion reads one copy.
    The all-reduce cannot run inside a tf.cond branch, so it runs here, on every call.
    """
    replica = tf.distribute.get_replica_context()
    if replica is None or replica.num_replicas_in_sync == 1:
        return compute
    mean = replica.all_reduce(tf.distribute.ReduceOp.MEAN, compute())
    return lambda: mean


class _LsqQuantizer(tfmot.quantization.keras.quantizers.Quantizer):
    """Shared LSQ logic; subclasses choose the grid and the axis of the step."""

    step_trainable = True  # LSQ learns the step by gradient descent

    def __init__(self, num_bits: int, signed: bool):
        if isinstance(num_bits, bool) or not isinstance(num_bits, int) or not (
                1 <= num_bits <= MAX_BITS):
            raise ValueError(f"num_bits must be an integer in 1..{MAX_BITS}, got {num_bits!r}")
        self.num_bits = num_bits
        self.signed = bool(signed)
        self.qmin, self.qmax = custom_ops.activation_code_range(num_bits, self.signed)
        self._weights = None  # the variables, once built

    @property
    def binary(self) -> bool:
        """The signed 1-bit grid {-1, +1}: a sign, not a rounding."""
        return self.signed and self.num_bits == 1

    def _step_shape(self, tensor_shape) -> tuple:
        raise NotImplementedError

    def _reduce_axes(self, x) -> list[int] | None:
        """Axes averaged over for the step initialisation (None: all)."""
        raise NotImplementedError

    def _per_step(self, reduce, x):
        """`reduce` (tf.reduce_mean, ...) of x over _reduce_axes, in the step's shape."""
        reduced = reduce(x, axis=self._reduce_axes(x), keepdims=True)
        return tf.reshape(reduced, self._step_shape(x.shape))

    def _elements_per_step(self, x):
        raise NotImplementedError

    def build(self, tensor_shape, name, layer):
        # tfmot's QuantizeLayer.build never marks the layer built, so loading a .keras file
        # builds it twice (build_from_config, then the functional call): hand back the same
        # variables the second time. A quantizer instance belongs to one layer.
        if self._weights is None:
            self._weights = self._add_weights(tensor_shape, name, layer)
        return self._weights

    def _add_weights(self, tensor_shape, name, layer):
        step = layer.add_weight(
            f"{name}_step", shape=self._step_shape(tensor_shape),
            initializer=keras.initializers.Ones(), trainable=self.step_trainable,
            constraint=_min_step)
        initialized = layer.add_weight(
            f"{name}_step_initialized", shape=(), dtype=tf.bool,
            initializer=keras.initializers.Zeros(), trainable=False)
        return {"step": step, "initialized": initialized}

    def codes(self, x, step):
        """Integer codes of `x` on this grid (as float32), without gradients.

        The converter calls this too, so the emitted codes are the ones Keras computes.
        """
        if self.binary:
            # cc/FORMAT.md's sign rule: gives the same code with and without flush-to-zero.
            negative = x <= -np.finfo(np.float32).tiny
            return tf.where(negative, -tf.ones_like(x), tf.ones_like(x))
        return tf.clip_by_value(tf.round(x / step), self.qmin, self.qmax)

    def _initial_step(self, x):
        mean_abs = self._per_step(tf.reduce_mean, tf.abs(x))
        return _min_step(2.0 * mean_abs / (self.qmax ** 0.5))

    def _initialized_step(self, x, weights):
        step, initialized = weights["step"], weights["initialized"]
        initial_step = _same_on_every_replica(lambda: self._initial_step(x))

        def initialize():
            with tf.control_dependencies(
                    [step.assign(initial_step()), initialized.assign(True)]):
                return tf.constant(True)

        done = tf.cond(initialized, lambda: tf.constant(True), initialize)
        with tf.control_dependencies([done]):
            return tf.identity(step)

    def __call__(self, inputs, training, weights, **kwargs):
        # Same computation in training and inference: LSQ has no moving statistics.
        x = tf.convert_to_tensor(inputs)
        step = self._initialized_step(x, weights)
        grad_scale = tf.math.rsqrt(self._elements_per_step(x) * float(self.qmax))
        step = _scale_gradient(step, grad_scale)
        surrogate = tf.clip_by_value(x / step, float(self.qmin), float(self.qmax))
        return _straight_through(tf.stop_gradient(self.codes(x, step)), surrogate) * step

    def get_config(self):
        return {"num_bits": self.num_bits}


@keras.utils.register_keras_serializable(package="bitlite")
class WeightQuantizer(_LsqQuantizer):
    """Signed LSQ quantizer of a kernel, one step per output channel.

    The output channels are `channel_dims` axes followed by `trailing_dims` more: 1 and 0 for
    Conv2D/Dense kernels [..., C_out], 2 and 0 for a DepthwiseConv2D kernel [KH, KW, C_in, M]
    (output channel ci * M + m), 1 and 1 for a Conv2DTranspose kernel [KH, KW, C_out, C_in]
    (the step then has shape [C_out, 1]).
    """

    def __init__(self, num_bits: int, channel_dims: int = 1, trailing_dims: int = 0):
        super().__init__(num_bits, signed=True)
        self.channel_dims = int(channel_dims)
        self.trailing_dims = int(trailing_dims)

    def _channel_axes(self, rank: int) -> range:
        end = rank - self.trailing_dims
        return range(end - self.channel_dims, end)

    def _step_shape(self, tensor_shape):
        axes = self._channel_axes(len(tensor_shape))
        return tuple(int(tensor_shape[a]) for a in axes) + (1,) * self.trailing_dims

    def _reduce_axes(self, x):
        channels = self._channel_axes(x.shape.rank)
        return [a for a in range(x.shape.rank) if a not in channels]

    def _elements_per_step(self, x):
        axes = self._channel_axes(x.shape.rank)
        channels = tf.reduce_prod(tf.shape(x)[axes.start:axes.stop])
        return tf.cast(tf.size(x) // channels, tf.float32)

    def get_config(self):
        return {"num_bits": self.num_bits, "channel_dims": self.channel_dims,
                "trailing_dims": self.trailing_dims}


@keras.utils.register_keras_serializable(package="bitlite")
class ActivationQuantizer(_LsqQuantizer):
    """LSQ quantizer of an activation tensor, one step for the whole tensor."""

    def _step_shape(self, tensor_shape):
        return ()

    def _reduce_axes(self, x):
        return None

    def _elements_per_step(self, x):
        # LSQ counts the features of one example.
        return tf.cast(tf.size(x) // tf.shape(x)[0], tf.float32)

    def get_config(self):
        return {"num_bits": self.num_bits, "signed": self.signed}


class _MinMaxStep:
    """Mixin replacing LSQ's learned step by one computed from min/max statistics, tracked as
    tfmot's LastValueQuantizer (weights: the current range, per output channel) and
    MovingAverageQuantizer (activations: exponential moving average of the batch ranges,
    decay 0.999) track them, with the range widened to include 0 as tfmot does.

    The step is `M / qmax` on the zero-point-0 grid of FORMAT.md, M = max(|min|, |max|) for
    signed grids and max for unsigned ones (tfmot's symmetric narrow-range scale; on the
    1-bit grids the step is M itself). Codes are FORMAT.md's (divide, round half to even),
    so the delegate computes exactly the codes Keras trains with. tfmot's own classes are not
    used because FakeQuantWithMinMaxVars rounds half up after multiplying by 1/s around a
    nudged zero point: near rounding ties its codes differ from any FORMAT.md op, and it
    refuses 1 bit. Statistics update in training, and on the first call (as LSQ initialises
    lazily) so a model run once can be converted.
    """

    step_trainable = False
    ema_decay = 0.0  # 0: last value

    def _add_weights(self, tensor_shape, name, layer):
        weights = super()._add_weights(tensor_shape, name, layer)
        for bound in ("min", "max"):
            weights[bound] = layer.add_weight(
                f"{name}_{bound}", shape=self._step_shape(tensor_shape),
                initializer=keras.initializers.Zeros(), trainable=False)
        return weights

    def _batch_range(self, x):
        return (tf.minimum(self._per_step(tf.reduce_min, x), 0.0),
                tf.maximum(self._per_step(tf.reduce_max, x), 0.0))

    def _tracked_step(self, batch_range, weights):
        batch_min, batch_max = batch_range
        decay = tf.where(weights["initialized"], self.ema_decay, 0.0)
        new_min = weights["min"] * decay + batch_min * (1.0 - decay)
        new_max = weights["max"] * decay + batch_max * (1.0 - decay)
        magnitude = tf.maximum(-new_min, new_max) if self.signed else new_max
        step = _min_step(magnitude / float(self.qmax))
        with tf.control_dependencies([weights["min"].assign(new_min),
                                      weights["max"].assign(new_max),
                                      weights["step"].assign(step),
                                      weights["initialized"].assign(True)]):
            return tf.identity(step)

    def __call__(self, inputs, training, weights, **kwargs):
        x = tf.convert_to_tensor(inputs)
        update = tf.logical_or(tf.logical_not(weights["initialized"]),
                               tf.cast(False if training is None else training, tf.bool))
        batch_range = _same_on_every_replica(lambda: self._batch_range(x))
        step = tf.stop_gradient(tf.cond(update, lambda: self._tracked_step(batch_range(), weights),
                                        lambda: tf.identity(weights["step"])))
        # Straight-through estimator, zero outside the grid's range.
        surrogate = tf.clip_by_value(x, self.qmin * step, self.qmax * step)
        return _straight_through(tf.stop_gradient(self.codes(x, step) * step), surrogate)


@keras.utils.register_keras_serializable(package="bitlite")
class MinMaxWeightQuantizer(_MinMaxStep, WeightQuantizer):
    """WeightQuantizer with the step from the kernel's current per-channel range."""


@keras.utils.register_keras_serializable(package="bitlite")
class MinMaxActivationQuantizer(_MinMaxStep, ActivationQuantizer):
    """ActivationQuantizer with the step from a moving average of the batch ranges."""

    ema_decay = 0.999  # tfmot's MovingAverageQuantizer default


@dataclass(frozen=True)
class QuantizerFamily:
    """The weight and activation quantizer classes of one `quantize_model(quantizer=...)`."""

    name: str
    weight: type
    activation: type


QUANTIZER_FAMILIES = {
    family.name: family for family in (
        QuantizerFamily("lsq", WeightQuantizer, ActivationQuantizer),
        QuantizerFamily("minmax", MinMaxWeightQuantizer, MinMaxActivationQuantizer))}


def quantizer_family(name: str) -> QuantizerFamily:
    if name not in QUANTIZER_FAMILIES:
        raise ValueError(f"quantizer must be one of {sorted(QUANTIZER_FAMILIES)}, got {name!r}")
    return QUANTIZER_FAMILIES[name]


@keras.utils.register_keras_serializable(package="bitlite")
class KernelQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """QuantizeConfig of a wrapped Conv2D/DepthwiseConv2D/Conv2DTranspose/Dense: quantizes the
    kernel and nothing else (`channel_dims`, `trailing_dims`: see WeightQuantizer).

    The layer's input is quantized by a QuantizeLayer in front of the wrapper; its output stays
    float (BatchNorm and activations follow as ordinary layers).
    """

    def __init__(self, weight_bits: int, channel_dims: int = 1, quantizer: str = "lsq",
                 trailing_dims: int = 0):
        self.weight_bits = weight_bits
        self.channel_dims = channel_dims
        self.trailing_dims = trailing_dims
        self.quantizer = quantizer
        self.weight_quantizer = quantizer_family(quantizer).weight(weight_bits, channel_dims,
                                                                   trailing_dims)

    def get_weights_and_quantizers(self, layer):
        return [(getattr(layer, kernel_attribute(layer)), self.weight_quantizer)]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        setattr(layer, kernel_attribute(layer), quantize_weights[0])

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {"weight_bits": self.weight_bits, "channel_dims": self.channel_dims,
                "quantizer": self.quantizer, "trailing_dims": self.trailing_dims}


def custom_objects() -> dict:
    """The classes a saved QAT model needs besides tfmot's own."""
    return {cls.__name__: cls for cls in (WeightQuantizer, ActivationQuantizer,
                                          MinMaxWeightQuantizer, MinMaxActivationQuantizer,
                                          KernelQuantizeConfig)}
