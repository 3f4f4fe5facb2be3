"""`bitlite` command line: convert a saved QAT model, describe a converted .tflite, summarise a
model's precision and cost, benchmark it.

    bitlite convert MODEL -o OUT.tflite   (progress on stderr; per-layer report on stdout)
    bitlite info OUT.tflite               (no TensorFlow needed: LiteRT's schema is enough)
    bitlite summary MODEL                 (per layer bits, parameters, bytes, MACs)
    bitlite bench MODEL                   (per-op and whole-model latency; see bench.py)
"""

from __future__ import annotations

import argparse
import os
import sys

# A command line tool should print its own messages, not TensorFlow's start-up logging; this
# works because the package imports TensorFlow only when a command needs it (native_logs
# catches the C++ lines this does not silence).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bitlite", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"bitlite {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    convert_parser = commands.add_parser(
        "convert", help="convert a saved QAT model (.keras, .h5 or SavedModel directory)")
    convert_parser.add_argument("model", help="QAT model saved with model.save()")
    convert_parser.add_argument("-o", "--output", required=True, help="output .tflite path")
    info_parser = commands.add_parser("info", help="list the ops of a converted .tflite")
    info_parser.add_argument("tflite", help=".tflite file")
    summary_parser = commands.add_parser(
        "summary", help="per-layer bits, parameters, bytes and MACs of a saved Keras model")
    summary_parser.add_argument("model", help="QAT (or float) model saved with model.save()")
    from . import bench_cli
    bench_cli.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench_cli.run(args, _fail)
    return {"convert": _convert, "info": _info, "summary": _summary}[args.command](args)


def _version() -> str:
    from importlib import metadata
    try:
        return metadata.version("bitlite")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _load_keras_model(command: str, path: str):
    """The saved model, or an error line: (model, None) or (None, exit status)."""
    from .qat import load_qat_model

    try:
        return load_qat_model(path, compile=False), None
    except (OSError, ValueError) as error:
        return None, _fail(command, f"cannot load {path} as a saved Keras model ({error})")


def _summary(args) -> int:
    from . import native_logs

    with native_logs.captured():
        model, status = _load_keras_model("summary", args.model)
        if model is None:
            return status
        from .model_summary import summary
        try:
            print(summary(model))
        except ValueError as error:
            return _fail("summary", str(error))
    return 0


def _convert(args) -> int:
    from . import native_logs

    def progress(message):
        # Indented: the one line starting with "bitlite" on stderr is the error, if any.
        print(f"  {message}", file=sys.stderr, flush=True)

    progress(f"loading {args.model}")
    with native_logs.captured():
        model, status = _load_keras_model("convert", args.model)
        if model is None:
            return status
        from .conversion import convert
        from .errors import ConversionError
        try:
            data = convert(model, progress=progress)
        except ConversionError as error:
            return _fail("convert", str(error))
    try:
        with open(args.output, "wb") as file:
            file.write(data)
    except OSError as error:
        return _fail("convert", f"cannot write {args.output}: {error.strerror}")
    from . import report, tflite_edit
    layers = report.bitlite_layers(tflite_edit.read(data))
    from .model_summary import layer_costs
    ops = {layer.name for layer in layers}
    kept = [cost for cost in layer_costs(model) if cost.weight_bits == 8 and cost.name not in ops]
    print(report.layer_table(layers, kept))
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
    try:
        text = describe(data)
    except ImportError as error:
        return _fail("info", str(error))
    except Exception as error:  # noqa: BLE001 - a damaged flatbuffer fails in many ways
        return _fail("info", f"{args.tflite} is damaged or truncated: cannot parse it as "
                             f"a .tflite ({type(error).__name__}: {error})")
    print(text)
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
                # The output's name says which Keras layer a builtin op computes (and the
                # DIV/ROUND/... of an exact fake quantization which quantizer).
                output = tflite_edit.output_name(subgraph, op)
                lines.append(f"  {position:4d}  {tflite_edit.op_name(model, op):<16} {output}")
                continue
            lines.append(f"  {position:4d}  {layer.op}  {_bitlite_summary(layer.options)}  "
                         f"packed weights {layer.packed_bytes} B  "
                         f"({tflite_edit.tensor_name(subgraph, op.inputs[1])})")
    if not layers:
        lines.append("no bitlite ops: this model runs without the bitlite delegate (it was not "
                     "converted by `bitlite convert`, or every layer stayed 8-bit or float)")
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
    alpha = f" alpha {options['alpha']:.6g}" if "alpha" in options else ""
    return f"{text}  activation {options['activation']}{alpha}"


if __name__ == "__main__":
    sys.exit(main())
