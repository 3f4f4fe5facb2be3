"""What each bitlite op of a converted .tflite costs: bits, work and bytes, and the size of the
whole model against fp32 and int8 weights. `bitlite convert` prints the table, `bitlite info`
the per-op lines and the totals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import custom_ops, tflite_edit


@dataclass
class BitliteLayer:
    position: int  # operator index in subgraph 0
    name: str  # the Keras layer the op came from
    op: str  # custom code
    options: dict  # decoded FlexBuffer options
    packed_bytes: int
    output_shape: list  # as declared in the .tflite (batch 1)

    @property
    def reduction_size(self) -> int:
        """K, the codes of one weight row (FORMAT.md: KH * KW * C_in / groups)."""
        options = self.options
        return (options.get("kernel_h", 1) * options.get("kernel_w", 1)
                * options["in_channels"] // options.get("groups", 1))

    @property
    def weights(self) -> int:
        return self.options["out_channels"] * self.reduction_size

    @property
    def macs(self) -> int:
        """Multiply-accumulates per example: every output value sums K products (a transposed
        convolution's K / (stride_h * stride_w) on average: each tap reaches one output of
        that many)."""
        macs = int(np.prod(self.output_shape[1:])) * self.reduction_size
        if self.op == custom_ops.CONV2D_TRANSPOSE:
            macs //= self.options["stride_h"] * self.options["stride_w"]
        return macs


def bitlite_layers(model) -> list[BitliteLayer]:
    """The bitlite ops of subgraph 0 of a ModelT, in execution order."""
    subgraph = model.subgraphs[0]
    layers = []
    for position, op in enumerate(subgraph.operators):
        name = tflite_edit.op_name(model, op)
        if name not in custom_ops.OP_NAMES:
            continue
        packed = tflite_edit.buffer_data(model, subgraph.tensors[op.inputs[1]])
        weight_name = tflite_edit.tensor_name(subgraph, op.inputs[1])
        layers.append(BitliteLayer(
            position=position, name=weight_name.removesuffix("/packed_weights"), op=name,
            options=custom_ops.decode_options(bytes(op.customOptions)),
            packed_bytes=0 if packed is None else packed.size,
            output_shape=list(subgraph.tensors[op.outputs[0]].shape)))
    return layers


def size_lines(file_size: int, layers: list[BitliteLayer]) -> list[str]:
    """The file size, and what it would be with each bitlite op's packed weights stored as
    float32 (4 bytes each) or int8 (1 byte each); the per-channel multiplier and offset stand
    for the bias and BatchNorm (or the int8 scales) any version carries, so they count once."""
    packed = sum(layer.packed_bytes for layer in layers)
    weights = sum(layer.weights for layer in layers)
    fp32 = file_size - packed + 4 * weights
    int8 = file_size - packed + weights
    return [f"file size: {file_size} bytes",
            f"same model in fp32: {fp32} bytes ({fp32 / file_size:.1f}x; bitlite packed "
            f"weights {packed} B replaced by {4 * weights} B float32)",
            f"same model in int8: {int8} bytes ({int8 / file_size:.1f}x)"]


def layer_table(layers: list[BitliteLayer], kept=()) -> str:
    """One row per bitlite op: layer, op, W/A bits, MACs per example, packed weight bytes; then
    one per 8-bit layer left to builtin ops (summary.LayerCost: beyond the op's int32
    accumulator, it runs as float builtins on integer codes, its DIV/ROUND/MINIMUM/MAXIMUM
    input quantizer included). The total counts the
    MACs of both and the packed bytes of the bitlite ops."""
    rows = [("layer", "op", "bits", "MACs", "packed bytes")]
    for layer in layers:
        rows.append((layer.name, layer.op,
                     f"W{layer.options['weight_bits']}A{layer.options['activation_bits']}",
                     f"{layer.macs:,}", f"{layer.packed_bytes:,}"))
    for cost in kept:
        rows.append((cost.name, "float builtins", cost.bits, f"{cost.macs:,}",
                     f"fp32 {cost.bytes:,}"))
    macs = sum(layer.macs for layer in layers) + sum(cost.macs for cost in kept)
    rows.append(("total", "", "", f"{macs:,}", f"{sum(layer.packed_bytes for layer in layers):,}"))
    return aligned(rows, left=3)


def aligned(rows: list[tuple], left: int) -> str:
    """Text columns: the first `left` aligned to the left, the numbers to the right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) if i < left else cell.rjust(width)
                               for i, (cell, width) in enumerate(zip(row, widths))).rstrip()
                     for row in rows)
