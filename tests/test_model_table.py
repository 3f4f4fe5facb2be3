"""bench/model_table.py end to end on a tiny network (save the QAT model, `bitlite bench` it,
read its JSON into a row and README's markdown), without the ARM columns: the emulation takes
minutes (its bad input is tested in test_bench_arm.py)."""

from __future__ import annotations

import json

import pytest
import tf_keras as keras

from bitlite.converter import convert, report, tflite_edit
from bitlite.converter.qat import load_qat_model

from bench import model_table

L = keras.layers


def tiny():
    """Stem (8-bit by default), one 16 -> 16 conv (the bitlite op at the asked width), head."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 3))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same", use_bias=False)(inputs)))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(16, 3, padding="same", use_bias=False)(x)))
    return keras.Model(inputs, L.Dense(4)(L.GlobalAveragePooling2D()(x)), name="tiny")


def test_table_of_a_tiny_network(tmp_path, delegate_library):
    output = tmp_path / "results" / "table.json"
    result = model_table.make_table({"tiny": tiny}, ["W2A3"], runs=2, arm=None, output=output,
                                    directory=tmp_path, command="a test")
    assert json.loads(output.read_text()) == result
    (row,) = result["rows"]
    assert (row["model"], row["bits"], result["command"]) == ("tiny", "W2A3", "a test")
    # The saved model is the QAT model at the asked width, and the row's bitlite size is its
    # conversion's.
    converted = convert(load_qat_model(tmp_path / "tiny_W2A3.keras", compile=False))
    widths = {(layer.options["weight_bits"], layer.options["activation_bits"])
              for layer in report.bitlite_layers(tflite_edit.read(converted))}
    assert (2, 3) in widths, widths
    assert row["tflite_bytes"]["bitlite"] == len(converted)
    # The x86 times are `bitlite bench`'s whole-model medians at 1 thread.
    bench = json.loads((tmp_path / "tiny_W2A3.json").read_text())
    assert row["x86_ms"] == {r["variant"]: r["total_ms"] for r in bench["results"]}
    assert row["x86_cpu_ms"] == {r["variant"]: r["total_cpu_ms"] for r in bench["results"]}
    assert set(row["x86_ms"]) == {"bitlite", "fp32", "int8"}
    size, ms = row["tflite_bytes"], row["x86_cpu_ms"]
    line = (f"| tiny | W2A3 | {size['bitlite'] / 1024:.0f} | {size['fp32'] / size['bitlite']:.2f}x"
            f" | {ms['bitlite']:.3f} | {ms['fp32'] / ms['bitlite']:.2f}x | "
            f"{ms['int8'] / ms['bitlite']:.2f}x |")
    assert line in model_table.markdown(result["rows"], None).splitlines()


def test_model_table_bad_arguments(capsys):
    for argv in (["--models", "resnet99"], ["--bits", "W2"], ["--bits", "W2A9"]):
        with pytest.raises(SystemExit) as exit_:
            model_table.main(argv)
        assert exit_.value.code == 2
        assert argv[1] in capsys.readouterr().err
