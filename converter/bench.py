"""Measured latency of a .tflite, whole and per op, for `bitlite bench`.

Every per-op time is measured, none estimated:
- bitlite ops: the delegate times each node it runs (delegate option profile=PATH,
  cc/src/node_profile.h) inside the very invokes that give the whole-model time;
- builtin ops: each is cut out of the .tflite into a one-op model (its tensors, its constant
  data) and timed alone with the same runtime and threads. Such a time includes one invoke's
  fixed cost and runs with warm caches, so the builtin ops' times add up to a little more
  than their share of the whole model.
Times are medians over `runs` invokes after two warm-up invokes, batch 1, in milliseconds.
The whole model's process CPU time per invoke is kept too: on a machine busy with other work
it is the compute alone at 1 thread, where wall time also counts the waits for a core.
"""

from __future__ import annotations

import copy
import gc
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from . import report, tflite_edit

WARM_UP = 2
BUILTIN_METHOD = "cut into a one-op model and timed alone (includes one invoke's fixed cost)"
BITLITE_METHOD = "timed by the delegate inside the whole-model invokes (profile option)"


@dataclass
class OpTime:
    position: int  # operator index in subgraph 0
    op: str  # builtin name or custom code
    name: str  # Keras layer (bitlite ops) or output tensor (builtin ops)
    kernel: str  # the delegate's kernel, "builtin" for builtin ops
    ms: float | None  # None: could not be run alone (see note)
    note: str = ""


@dataclass
class Run:
    variant: str  # "bitlite", "fp32" or "int8"
    runtime: str
    threads: int
    total_ms: float
    total_cpu_ms: float  # process CPU time (all threads) per invoke, median
    ops: list[OpTime] = field(default_factory=list)


def bitlite_op_count(data: bytes) -> int:
    return len(report.bitlite_layers(tflite_edit.read(data)))


def time_model(data: bytes, variant: str, runtime: str, threads: int, runs: int,
               per_op: bool, progress=lambda: None) -> Run:
    """Whole-model time, and with per_op the time of every op of subgraph 0."""
    model = tflite_edit.read(data)
    layers = {layer.position: layer for layer in report.bitlite_layers(model)}
    with tempfile.TemporaryDirectory(prefix="bitlite_bench_") as directory:
        profile = os.path.join(directory, "profile.tsv") if per_op and layers else None
        total, total_cpu = _median_invoke_ms(data, runtime, threads, runs, bool(layers),
                                             profile)
        progress()
        node_times = _read_profile(profile) if profile else {}
    result = Run(variant, runtime, threads, total, total_cpu)
    if not per_op:
        return result
    subgraph = model.subgraphs[0]
    for position, op in enumerate(subgraph.operators):
        name = tflite_edit.op_name(model, op)
        layer = layers.get(position)
        if layer is not None:
            kernel, samples = node_times.get(op.outputs[0], ("?", []))
            measured = samples[WARM_UP:] or samples
            ms = statistics.median(measured) / 1e6 if measured else None
            result.ops.append(OpTime(position, name, layer.name, kernel, ms,
                                     "" if ms is not None else "the delegate wrote no times"))
            continue
        output = tflite_edit.output_name(subgraph, op)
        try:
            ms, _ = _median_invoke_ms(one_op_model(model, position), runtime, threads, runs,
                                      False, None)
            note = ""
        except Exception as error:  # noqa: BLE001 - the runtime's errors have no common type
            ms, note = None, f"cannot run alone: {' '.join(str(error).split())[:200]}"
        result.ops.append(OpTime(position, name, output, "builtin", ms, note))
        progress()
    return result


def one_op_model(model, position: int) -> bytes:
    """A .tflite holding operator `position` of subgraph 0 alone: its non-constant inputs become
    the model's inputs, its outputs the outputs, its constants keep their data."""
    schema = tflite_edit.schema
    subgraph = model.subgraphs[0]
    op = subgraph.operators[position]
    options = op.builtinOptions
    if options is not None and any("subgraph" in key.lower() for key in vars(options)):
        raise ValueError("it calls other subgraphs")
    single = schema.ModelT()
    single.version = model.version
    single.operatorCodes = [model.operatorCodes[op.opcodeIndex]]
    single.buffers = [schema.BufferT()]  # buffer 0: the empty one of non-constant tensors
    cut = schema.SubGraphT()
    cut.tensors, cut.inputs = [], []
    index_of = {}

    def take(tensor: int) -> int:
        if tensor < 0:  # an optional input left out
            return tensor
        if tensor not in index_of:
            copied = copy.copy(subgraph.tensors[tensor])
            if tflite_edit.is_constant(model, copied):
                single.buffers.append(model.buffers[copied.buffer])
                copied.buffer = len(single.buffers) - 1
            else:
                copied.buffer = 0
            index_of[tensor] = len(cut.tensors)
            cut.tensors.append(copied)
        return index_of[tensor]

    alone = copy.copy(op)
    alone.opcodeIndex = 0
    alone.inputs = [take(t) for t in op.inputs]
    alone.outputs = [take(t) for t in op.outputs]
    alone.intermediates = [take(t) for t in (op.intermediates if op.intermediates is not None
                                             else [])]
    cut.inputs = [index_of[t] for t in dict.fromkeys(op.inputs)
                  if t >= 0 and not tflite_edit.is_constant(model, subgraph.tensors[t])]
    cut.outputs = list(alone.outputs)
    cut.operators = [alone]
    single.subgraphs = [cut]
    return tflite_edit.write(single)


def _median_invoke_ms(data: bytes, runtime: str, threads: int, runs: int, with_delegate: bool,
                      profile: str | None) -> tuple[float, float]:
    """Medians of one invoke's wall time and of the process CPU time it took, in ms."""
    from bitlite import delegate

    options = {"profile": profile} if profile else {}
    interpreter = delegate.Interpreter(
        model_content=data, runtime=runtime, num_threads=threads, delegate_options=options,
        experimental_delegates=None if with_delegate else [])
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], _random(rng, detail))
    times, cpu_times = [], []
    for index in range(WARM_UP + runs):
        start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
        interpreter.invoke()
        if index >= WARM_UP:
            times.append(time.perf_counter_ns() - start)
            cpu_times.append(time.process_time_ns() - cpu_start)
    del interpreter
    gc.collect()  # the delegate writes its profile when the interpreter is destroyed
    return statistics.median(times) / 1e6, statistics.median(cpu_times) / 1e6


def _random(rng, detail) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    shape = [max(1, int(d)) for d in detail["shape"]]
    if dtype.kind == "f":
        return rng.normal(size=shape).astype(dtype)
    return np.zeros(shape, dtype)  # indices, shapes, flags: 0 is valid for all of them


def _read_profile(path: str) -> dict[int, tuple[str, list[int]]]:
    """output tensor -> (kernel, nanoseconds per invoke), as node_profile.cc writes them."""
    times = {}
    if not os.path.exists(path):
        return times
    with open(path) as file:
        for line in file:
            tensor, kernel, samples = line.rstrip("\n").split("\t")
            times[int(tensor)] = (kernel, [int(s) for s in samples.split(",")])
    return times

