"""What graph.read_model reads of a model: plain records of its layer calls and of the values
they compute with, which the converter plans from and the QAT model's inference walks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Call:
    """One layer call of a model, as read_calls reads it: what the converter plans from and
    what the QAT model's inference walks. The Keras objects are kept as handles: `node` and its
    `input` / `output` tensors for re-creating the graph (export model, inference), `layer`
    (the wrapped layer of a QuantizeWrapper) for its class and configuration."""
    index: int  # position in execution order
    node: object
    layer: object
    input: object  # the first Keras tensor read
    output: object  # node.outputs
    quantizer: object = None  # an input QuantizeLayer's quantizer, a QuantizeWrapper's config
    wrapped: bool = False  # a QuantizeWrapper's call (`layer` is the layer it wraps)
    producer: int | None = None  # the call computing `input`; None: a model input
    readers: tuple = ()  # the calls reading `output`
    is_output: bool = False  # `output` is a model output
    times_called: int = 1  # calls of this layer in the model
    activation: str | None = None  # the name of the layer's own activation function
    computes: str | None = None  # what a standalone activation layer computes: 'relu',
    # 'relu6' (a ReLU with max_value=6, or an Activation layer), 'leaky_relu' (LeakyReLU, or
    # a ReLU with a negative slope, for normal float32 slopes up to 1)
    alpha: float | None = None  # a 'leaky_relu' layer's slope (float32)
    batch_norm_on_last_axis: bool = False  # a BatchNormalization folding per channel

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass(frozen=True)
class QuantizerState:
    """A quantizer's float32 step (per output channel for a kernel), and whether the step was
    ever initialised (lazily, by the first call on data)."""
    step: np.ndarray
    initialized: bool


@dataclass(frozen=True)
class BatchNormStatistics:
    """A BatchNormalization's float32 [C] gamma, beta (1 and 0 where it has none) and moving
    statistics, and its epsilon."""
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    epsilon: np.float32


@dataclass(frozen=True)
class CallState:
    """The values a call computes with, read once (read_model): an input quantizer's `step`; a
    QuantizeWrapper's `step` (of its kernel quantizer), float `kernel`, `bias` (None: none) and
    `kernel_quantizer`; a BatchNorm's `statistics`."""
    step: QuantizerState | None = None
    kernel: np.ndarray | None = None
    kernel_quantizer: object = None
    bias: np.ndarray | None = None
    statistics: BatchNormStatistics | None = None


@dataclass(frozen=True)
class ModelFacts:
    """A model as read_model reads it: its calls, and each call's state by index."""
    model: object  # the Keras model, whose graph an export model re-creates
    calls: list
    states: dict  # Call.index -> CallState

    @property
    def name(self) -> str:
        return self.model.name
