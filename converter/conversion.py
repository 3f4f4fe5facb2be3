"""convert: a trained bitlite QAT model -> .tflite bytes whose sub-byte layers are bitlite ops.

A linear pipeline; each stage reads only what the one before produced:
1. read (graph.read_model): the QAT model's layer calls and the values of their variables,
   read once into plain data;
2. plan (plan.plan_conversion): the blocks (blocks.py: a quantized layer with the BatchNorm
   and ReLU it folds) and every number the .tflite carries;
3. export: the float export model with its regions between markers (export.py), converted by
   the stock TFLiteConverter (float, no optimizations, custom ops allowed); each marked region
   is then replaced by the ops the converter writes (regions.py), orphan tensors, buffers and
   operator codes are dropped (the file size reflects the packed weights), and the
   description and format-version metadata are set.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from . import custom_ops, graph, tflite_edit
from .export import build_export_model
from .plan import plan_conversion
from .regions import replace_regions

DESCRIPTION = "bitlite model: run with bitlite.delegate.load_delegate()"
VERSION_METADATA = "bitlite_format_version"


def convert(qat_model, progress: Callable[[str], None] | None = None) -> bytes:
    """Converts a QAT model made by quantize_model (trained, or at least run once) to .tflite.

    Raises ConversionError naming the layer when a quantized layer cannot be expressed.
    `progress`, if given, receives a line at each stage and every few replaced layers (the
    bitlite CLI prints them: a large model takes a while).
    """
    say = progress or (lambda message: None)
    facts = graph.read_model(qat_model)
    plan = plan_conversion(facts)
    say(f"{len(plan.blocks)} quantized layers; building the export model")
    export_model, regions = build_export_model(plan)
    say(f"running the TFLite converter on {len(export_model.layers)} layers")
    converter = tf.lite.TFLiteConverter.from_keras_model(export_model)
    converter.allow_custom_ops = True  # the markers come out as custom ops
    model = tflite_edit.read(converter.convert())
    replace_regions(model, regions, say)
    tflite_edit.remove_unused(model)
    model.description = DESCRIPTION
    tflite_edit.set_metadata(model, VERSION_METADATA, str(custom_ops.FORMAT_VERSION).encode())
    return tflite_edit.write(model)
