"""`bitlite` command line: convert a saved QAT model, or describe a converted .tflite.

    bitlite convert MODEL -o OUT.tflite   (progress on stderr; per-layer report on stdout)
    bitlite info OUT.tflite
"""

from __future__ import annotations

import argparse
import os
import sys

# A command line tool should print its own messages, not TensorFlow's start-up logging; this
# works because the package imports TensorFlow only when a command needs it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
    return _convert(args) if args.command == "convert" else _info(args)


def _convert(args) -> int:
    from . import report, tflite_edit
    from .conversion import convert
    from .errors import ConversionError
    from .qat import load_qat_model

    def progress(message):
        # Indented: the one line starting with "bitlite" on stderr is the error, if any.
        print(f"  {message}", file=sys.stderr, flush=True)

    progress(f"loading {args.model}")
    try:
        model = load_qat_model(args.model, compile=False)
    except (OSError, ValueError) as error:
        return _fail("convert", f"cannot load {args.model} as a saved QAT model ({error})")
    try:
        data = convert(model, progress=progress)
    except ConversionError as error:
        return _fail("convert", str(error))
    try:
        with open(args.output, "wb") as file:
            file.write(data)
    except OSError as error:
        return _fail("convert", f"cannot write {args.output}: {error.strerror}")
    layers = report.bitlite_layers(tflite_edit.read(data))
    print(report.layer_table(layers))
    print("\n".join(report.size_lines(len(data), layers)))
    print(f"wrote {args.output} ({len(data)} bytes)")
    return 0


def _info(args) -> int:
    try:
        with open(args.tflite, "rb") as file:
            data = file.read()
    except OSError as error:
        return _fail("info", f"cannot read {args.tflite}: {error.strerror}")
    if data[4:8] != b"TFL3":
        return _fail("info", f"{args.tflite} is not a .tflite file (no TFL3 identifier)")
    print(describe(data))
    return 0


def _fail(command: str, message: str) -> int:
    """One line on stderr, exit status 1 (no traceback: the message says what to do)."""
    print(f"bitlite {command}: {' '.join(message.split())}", file=sys.stderr)
    return 1


def describe(data: bytes) -> str:
    """Human-readable listing of a .tflite: ops in order (bitlite ops in detail) and sizes.

    The fp32 and int8 sizes: see report.size_lines.
    """
    from . import report, tflite_edit

    model = tflite_edit.read(data)
    lines = []
    if model.description:
        lines.append(f"description: {tflite_edit.as_text(model.description)}")
    for name, value in tflite_edit.metadata(model).items():
        if name.startswith("bitlite"):
            lines.append(f"{name}: {value.decode(errors='replace')}")
    layers = {layer.position: layer for layer in report.bitlite_layers(model)}
    for index, subgraph in enumerate(model.subgraphs):
        lines.append(f"subgraph {index}: {len(subgraph.operators)} ops")
        for position, op in enumerate(subgraph.operators):
            layer = layers.get(position) if index == 0 else None
            if layer is None:
                lines.append(f"  {position:4d}  {tflite_edit.op_name(model, op)}")
                continue
            lines.append(f"  {position:4d}  {layer.op}  {_bitlite_summary(layer.options)}  "
                         f"packed weights {layer.packed_bytes} B  "
                         f"({tflite_edit.tensor_name(subgraph, op.inputs[1])})")
    lines.extend(report.size_lines(len(data), list(layers.values())))
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
        if options["groups"] > 1:
            text += f"  groups {options['groups']}"
    return f"{text}  activation {options['activation']}"


if __name__ == "__main__":
    sys.exit(main())
