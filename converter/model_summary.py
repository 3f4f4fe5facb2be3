"""`summary(model)`: what each layer of a QAT (or float) tf_keras model costs, before conversion,
in the spirit of larq's `lq.models.summary`.

Per layer: weight and input bits, parameters, the bytes its weights take in the converted
.tflite, multiply-accumulates and binary operations per example. Totals compare those bytes
with the same parameters stored as float32 and as int8.

- bytes: a layer that becomes a bitlite op (layers.becomes_bitlite_op: sub-byte, or W8A8)
  stores its codes packed (FORMAT.md: C_out rows of ceil(K * bits / 8) bytes) plus
  a float32 multiplier and offset per output channel, which also carry the bias and a folded
  BatchNorm; every other layer stores float32 parameters (an 8-bit layer that stays builtin
  runs as float builtins on its integer codes). A BatchNorm folded into an op is counted as its own
  float layer here, as Keras holds it: the totals slightly overstate the .tflite.
- binary operations: a W-bit x A-bit layer runs W x A one-bit AND + popcount planes per
  multiply-accumulate in the bit-serial kernel (one XNOR + popcount at W1A1, as larq counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
    QuantizeLayer)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapper)

from . import layers, report

_FLOAT_BYTES = 4


@dataclass
class LayerCost:
    name: str
    kind: str  # the Keras class of the (wrapped) layer
    weight_bits: int | None  # None: a float layer
    activation_bits: int | None
    parameters: int
    bytes: int
    macs: int

    @property
    def sub_byte(self) -> bool:
        return self.weight_bits is not None and layers.is_sub_byte(self.weight_bits,
                                                                   self.activation_bits)

    @property
    def binary_operations(self) -> int:
        return self.macs * self.weight_bits * self.activation_bits if self.sub_byte else 0

    @property
    def bits(self) -> str:
        return "float" if self.weight_bits is None else f"W{self.weight_bits}A{self.activation_bits}"


def layer_costs(model) -> list[LayerCost]:
    """One LayerCost per layer holding parameters or doing multiply-accumulates, in the
    model's layer order (nested models expanded); input quantizers left out (one step each)."""
    costs = []
    for layer in _layers(model):
        if isinstance(layer, QuantizeLayer):
            continue
        cost = _cost(layer)
        if cost.parameters or cost.macs:
            costs.append(cost)
    return costs


def summary(model) -> str:
    """The per-layer table and the totals, as text."""
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"summary needs a built tf_keras model, got {type(model).__name__}")
    costs = layer_costs(model)
    rows = [("layer", "type", "bits", "params", "bytes", "MACs", "binary ops")]
    rows += [(c.name, c.kind, c.bits, f"{c.parameters:,}", f"{c.bytes:,}", f"{c.macs:,}",
              f"{c.binary_operations:,}") for c in costs]
    parameters = sum(c.parameters for c in costs)
    stored = sum(c.bytes for c in costs)
    macs = sum(c.macs for c in costs)
    rows.append(("total", "", "", f"{parameters:,}", f"{stored:,}", f"{macs:,}",
                 f"{sum(c.binary_operations for c in costs):,}"))
    sub_byte_macs = sum(c.macs for c in costs if c.sub_byte)
    lines = [report.aligned(rows, left=3)]
    fp32, int8 = _FLOAT_BYTES * parameters, parameters
    lines.append(f"weights: {stored:,} bytes; fp32 {fp32:,} bytes ({_ratio(fp32, stored)}), "
                 f"int8 {int8:,} bytes ({_ratio(int8, stored)})")
    share = f"{100 * sub_byte_macs / macs:.1f}%" if macs else "none"
    lines.append(f"MACs per example: {macs:,}, {share} of them at 1-4 bits")
    return "\n".join(lines)


def _ratio(other: int, stored: int) -> str:
    return f"{other / stored:.1f}x the bitlite bytes" if stored else "-"


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _cost(layer) -> LayerCost:
    inner = layer.layer if isinstance(layer, QuantizeWrapper) else layer
    kernel = _kernel(inner)
    if isinstance(layer, QuantizeWrapper):  # tfmot moved the kernel out of inner's weights
        bias = inner.bias if inner.use_bias else None
        parameters = sum(int(np.prod(v.shape)) for v in (kernel, bias) if v is not None)
    else:
        parameters = inner.count_params()
    weight_bits = activation_bits = None
    stored = _FLOAT_BYTES * parameters
    macs = 0
    if kernel is not None:
        output_shape = layer.output_shape
        out_channels = int(output_shape[-1])
        reduction = int(np.prod(kernel.shape)) // out_channels  # K: products per output value
        macs = int(np.prod(output_shape[1:])) * reduction
        if isinstance(inner, keras.layers.Conv2DTranspose):
            macs //= inner.strides[0] * inner.strides[1]  # an output sums K / strides on average
        if isinstance(layer, QuantizeWrapper):
            weight_bits = layer.quantize_config.weight_bits
            input_quantizer = _input_quantizer(layer)
            activation_bits = input_quantizer and input_quantizer.num_bits
            if activation_bits is not None and layers.becomes_bitlite_op(
                    inner, weight_bits, activation_bits, input_quantizer.signed):
                row_bytes = -(-reduction * weight_bits // 8)
                stored = out_channels * (row_bytes + 2 * _FLOAT_BYTES)
    return LayerCost(inner.name, type(inner).__name__, weight_bits, activation_bits,
                     parameters, stored, macs)


def _kernel(layer):
    for attribute in ("depthwise_kernel", "kernel"):
        kernel = getattr(layer, attribute, None)
        if kernel is not None and len(kernel.shape) >= 2:
            return kernel
    return None


def _input_quantizer(wrapper):
    """The quantizer in front of a wrapped layer (quantize_model puts one there), or None."""
    source = wrapper.input._keras_history.layer
    return source.quantizer if isinstance(source, QuantizeLayer) else None

