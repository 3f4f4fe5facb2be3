"""`bitlite` command line: convert a saved QAT model, or describe a converted .tflite.

    bitlite convert MODEL -o OUT.tflite
    bitlite info OUT.tflite
"""

from __future__ import annotations

import argparse
import os
import sys

# tfmot and the converter need Keras 2; must be set before TensorFlow is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bitlite", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    convert_parser = commands.add_parser(
        "convert", help="convert a saved QAT model (.keras, .h5 or SavedModel directory)")
    convert_parser.add_argument("model", help="QAT model saved with model.save()")
    convert_parser.add_argument("-o", "--output", required=True, help="output .tflite path")
    info_parser = commands.add_parser("info", help="list the ops of a converted .tflite")
    info_parser.add_argument("tflite", help=".tflite file")
    args = parser.parse_args(argv)

    if args.command == "convert":
        from .convert import convert
        from .errors import ConversionError
        from .qat import load_qat_model

        try:
            data = convert(load_qat_model(args.model, compile=False))
        except ConversionError as error:
            print(f"bitlite convert: {error}", file=sys.stderr)
            return 1
        with open(args.output, "wb") as file:
            file.write(data)
        print(f"wrote {args.output} ({len(data)} bytes)")
        return 0

    with open(args.tflite, "rb") as file:
        data = file.read()
    print(describe(data))
    return 0


def describe(data: bytes) -> str:
    """Human-readable listing of a .tflite: ops in order (bitlite ops in detail) and sizes.

    The fp32 size is the file size with each bitlite op's packed weights replaced by the
    float32 kernel they encode (4 bytes x C_out x K); the op's per-channel multiplier/offset
    stand for the bias and BatchNorm a float model would carry as well, so they are not
    counted again.
    """
    from . import custom_ops, tflite_edit

    model = tflite_edit.read(data)
    lines = []
    if model.description:
        lines.append(f"description: {tflite_edit.as_text(model.description)}")
    for name, value in tflite_edit.metadata(model).items():
        if name.startswith("bitlite"):
            lines.append(f"{name}: {value.decode(errors='replace')}")
    packed_total = float_total = 0
    for index, subgraph in enumerate(model.subgraphs):
        lines.append(f"subgraph {index}: {len(subgraph.operators)} ops")
        for position, op in enumerate(subgraph.operators):
            name = tflite_edit.op_name(model, op)
            if name not in custom_ops.OP_NAMES:
                lines.append(f"  {position:4d}  {name}")
                continue
            options = custom_ops.decode_options(bytes(op.customOptions))
            weights = subgraph.tensors[op.inputs[1]]
            packed = tflite_edit.buffer_data(model, weights)
            packed_bytes = 0 if packed is None else packed.size
            k = options["in_channels"] * options.get("kernel_h", 1) * options.get("kernel_w", 1)
            packed_total += packed_bytes
            float_total += 4 * options["out_channels"] * k
            lines.append(f"  {position:4d}  {name}  {_bitlite_summary(options)}  "
                         f"packed weights {packed_bytes} B  "
                         f"({tflite_edit.tensor_name(subgraph, op.inputs[1])})")
    fp32_size = len(data) - packed_total + float_total
    lines.append(f"file size: {len(data)} bytes")
    lines.append(f"same model in fp32: {fp32_size} bytes ({fp32_size / len(data):.1f}x; "
                 f"bitlite packed weights {packed_total} B replaced by {float_total} B float32)")
    return "\n".join(lines)


def _bitlite_summary(options: dict) -> str:
    grid = "signed" if options["activation_signed"] else "unsigned"
    text = (f"W{options['weight_bits']}A{options['activation_bits']} ({grid} input, "
            f"scale {options['input_scale']:.6g})  {options['in_channels']}->"
            f"{options['out_channels']}")
    if "kernel_h" in options:
        text += (f"  kernel {options['kernel_h']}x{options['kernel_w']}  stride "
                 f"{options['stride_h']}x{options['stride_w']}  dilation "
                 f"{options['dilation_h']}x{options['dilation_w']}  {options['padding']}")
    return f"{text}  activation {options['activation']}"


if __name__ == "__main__":
    sys.exit(main())
