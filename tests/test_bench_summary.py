"""`bitlite.converter.summary` / `bitlite summary` and `bitlite bench`, on test_cli's saved QAT
model, and their bad input."""

from __future__ import annotations

import json

import pytest

from bitlite.converter import summary

from support.cli import BITLITE_OPS, SUB_BYTE, assert_one_line_error, float_model, run_main

# conv1 of test_cli's model: 3x3, 8 -> 16 channels, SAME on 8x8, W2A3, with bias.
CONV1_K, CONV1_OUT, CONV1_PIXELS = 3 * 3 * 8, 16, 8 * 8


def test_summary_counts_conv1(saved):
    rows = {line.split()[0]: line.split()[1:] for line in summary(saved[1]).splitlines()}
    macs = CONV1_PIXELS * CONV1_OUT * CONV1_K
    packed = CONV1_OUT * -(-CONV1_K * 2 // 8)  # rows of ceil(K * bits / 8) bytes
    assert rows["conv1"] == [
        "Conv2D", "W2A3", f"{CONV1_K * CONV1_OUT + CONV1_OUT:,}",
        f"{packed + CONV1_OUT * 8:,}",  # plus a float32 multiplier and offset per channel
        f"{macs:,}", f"{macs * 2 * 3:,}"]
    assert rows["conv0"][1] == "W8A8" and rows["conv0"][-1] == "0"
    # conv0 (3x3, 1 -> 8 channels, narrow) stays float32; logits (12 -> 4) is a W8A8 op: one
    # byte per weight code, and a float32 multiplier and offset per output channel.
    assert rows["conv0"][3] == f"{4 * (9 * 8 + 8):,}", rows["conv0"]
    assert rows["logits"][3] == f"{12 * 4 + 4 * 8:,}", rows["logits"]
    batch_norm = [row for name, row in rows.items() if name.startswith("batch_normalization")]
    assert batch_norm and batch_norm[0][1] == "float", rows
    parameters = float_model().count_params()
    assert rows["total"][0] == f"{parameters:,}", rows["total"]
    assert f"fp32 {4 * parameters:,} bytes" in summary(saved[1])


def test_summary_command(saved, capsys):
    status, stdout, _ = run_main(["summary", saved[0] / "qat.keras"], capsys)
    assert status == 0
    assert [line.split()[0] for line in stdout.splitlines()
            if line.split()[0] in {name for name, _, _ in SUB_BYTE}] == ["conv1", "conv2",
                                                                        "hidden"], stdout


@pytest.mark.parametrize("name", ["missing.keras", "text.keras"])
def test_summary_unreadable_model(bad_files, name, capsys):  # noqa: F811
    status, _, stderr = run_main(["summary", bad_files / name], capsys)
    assert_one_line_error(status, stderr, name)


@pytest.fixture(scope="module")
def benched(saved, tmp_path_factory, delegate_library):
    """`bitlite bench qat.keras` at 1 and 2 threads on LiteRT: (status, stdout, JSON, PNG)."""
    directory = tmp_path_factory.mktemp("bench")
    report, plot = directory / "bench.json", directory / "bench.png"
    status = pytest.importorskip("bitlite.converter.cli").main(
        ["bench", str(saved[0] / "qat.keras"), "--threads", "1,2", "--runs", "3",
         "--runtimes", "litert", "--json", str(report), "--plot", str(plot)])
    return status, json.loads(report.read_text()), plot


def test_bench_times_every_op_of_every_version(benched):
    status, report, plot = benched
    assert status == 0
    runs = report["results"]
    assert sorted((r["variant"], r["threads"]) for r in runs) == [
        (variant, threads) for variant in ("bitlite", "fp32", "int8") for threads in (1, 2)]
    for run in runs:
        assert run["runtime"] == "litert" and run["total_ms"] > 0 and run["total_cpu_ms"] > 0
    for run in (r for r in runs if r["variant"] == "bitlite"):
        bitlite = [op for op in run["ops"] if op["op"].startswith("Bitlite")]
        # Measured by the delegate, with the kernel that ran each layer.
        assert [op["name"] for op in bitlite] == [name for name, _, _ in BITLITE_OPS], bitlite
        assert all(op["ms"] > 0 and "/" in op["kernel"] for op in bitlite), bitlite
        builtin = [op for op in run["ops"] if op["kernel"] == "builtin"]
        assert builtin and all(op["ms"] > 0 for op in builtin), builtin
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_bad_input(bad_files, tmp_path, capsys):  # noqa: F811
    for name in ("missing.tflite", "truncated.tflite", "text.keras"):
        status, _, stderr = run_main(["bench", bad_files / name], capsys)
        assert_one_line_error(status, stderr, name)
    status, _, stderr = run_main(["bench", bad_files / "text.tflite", "--runtimes", "nope"],
                                 capsys)
    assert_one_line_error(status, stderr, "nope")


def test_bench_model_without_bitlite_ops(tmp_path, capsys, delegate_library):
    import tensorflow as tf
    path = tmp_path / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(float_model()).convert())
    status, stdout, stderr = run_main(["bench", path, "--runs", "2", "--runtimes", "litert"],
                                      capsys)
    assert status == 0 and "has no bitlite ops" in stderr, stderr
    assert "FULLY_CONNECTED" in stdout, stdout
