"""Learned step size quantizers (LSQ, Esser et al. 2020) for tfmot quantization-aware training.

Forward: codes `q = clip(round(x / s), qmin, qmax)` (round half to even, as `tf.round`), output
`q * s`; on the signed 1-bit grid `q = +1 if x >= 0 else -1`. The grids are the ones of
cc/FORMAT.md, so the codes Keras trains with are exactly the codes the delegate computes.
Backward: straight-through estimator for the rounding, LSQ gradient for the step `s`, scaled by
`1 / sqrt(numel * qmax)`.

Step initialisation is lazy: the first call of the layer (the first training batch, or the
first inference batch if the model runs before it trains) sets `s = 2 * mean(|x|) / sqrt(qmax)`
(per output channel for weights) and raises a non-trainable flag, so nothing has to be
calibrated up front and loading a saved model keeps the trained steps.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from . import custom_ops

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


class _LsqQuantizer(tfmot.quantization.keras.quantizers.Quantizer):
    """Shared LSQ logic; subclasses choose the grid and the axis of the step."""

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
            initializer=keras.initializers.Ones(), trainable=True, constraint=_min_step)
        initialized = layer.add_weight(
            f"{name}_step_initialized", shape=(), dtype=tf.bool,
            initializer=keras.initializers.Zeros(), trainable=False)
        return {"step": step, "initialized": initialized}

    def codes(self, x, step):
        """Integer codes of `x` on this grid (as float32), without gradients.

        The converter calls this too, so the emitted codes are the ones Keras computes.
        """
        if self.binary:
            return tf.where(x >= 0, tf.ones_like(x), -tf.ones_like(x))
        return tf.clip_by_value(tf.round(x / step), self.qmin, self.qmax)

    def _initial_step(self, x):
        mean_abs = tf.reduce_mean(tf.abs(x), axis=self._reduce_axes(x))
        return _min_step(2.0 * mean_abs / (self.qmax ** 0.5))

    def _initialized_step(self, x, weights):
        step, initialized = weights["step"], weights["initialized"]

        def initialize():
            with tf.control_dependencies(
                    [step.assign(self._initial_step(x)), initialized.assign(True)]):
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
    """Signed LSQ quantizer of a kernel, one step per output channel (the last axis)."""

    def __init__(self, num_bits: int):
        super().__init__(num_bits, signed=True)

    def _step_shape(self, tensor_shape):
        return (int(tensor_shape[-1]),)

    def _reduce_axes(self, x):
        return list(range(x.shape.rank - 1))

    def _elements_per_step(self, x):
        return tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)


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


# The layers KernelQuantizeConfig handles (exact types: Conv2DTranspose subclasses Conv2D).
QUANTIZABLE_LAYERS = (keras.layers.Conv2D, keras.layers.Dense)


@keras.utils.register_keras_serializable(package="bitlite")
class KernelQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """QuantizeConfig of a wrapped Conv2D/Dense: quantizes the kernel and nothing else.

    The layer's input is quantized by a QuantizeLayer in front of the wrapper; its output stays
    float (BatchNorm and activations follow as ordinary layers).
    """

    def __init__(self, weight_bits: int):
        self.weight_bits = weight_bits
        self.weight_quantizer = WeightQuantizer(weight_bits)

    def get_weights_and_quantizers(self, layer):
        return [(layer.kernel, self.weight_quantizer)]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        layer.kernel = quantize_weights[0]

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {"weight_bits": self.weight_bits}


def custom_objects() -> dict:
    """The classes a saved QAT model needs besides tfmot's own."""
    return {cls.__name__: cls for cls in (WeightQuantizer, ActivationQuantizer,
                                          KernelQuantizeConfig)}
