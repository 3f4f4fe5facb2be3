"""The `bitlite` command line: `convert` a saved QAT model, `info` on the result, and bad input.

Run in-process through converter.cli.main (fast), once as `python -m bitlite.converter.cli`
and once through the installed console script (present under `make test`).
"""

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bitlite.converter import cli, convert

from support.checks import RUNTIMES, assert_matches_keras, skip_or_fail
from support.cli import BITLITE_OPS, assert_one_line_error, float_model, run_main
from support.harness import run_model

@pytest.fixture(scope="module")
def converted(saved):
    """`bitlite convert qat.keras -o qat.tflite`, in-process: (output path, its stdout)."""
    directory = saved[0]
    out = directory / "qat.tflite"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(["convert", str(directory / "qat.keras"), "-o", str(out)]) == 0
    return out, stdout.getvalue()


def test_convert_writes_what_convert_returns(saved, converted):
    qat = saved[1]
    out, stdout = converted
    assert out.read_bytes() == convert(qat)
    assert str(out) in stdout and str(out.stat().st_size) in stdout, stdout


def test_converted_file_matches_keras(saved, converted, delegate_library):
    _, qat, x, expected = saved
    for runtime in RUNTIMES:
        assert_matches_keras(x, expected, run_model(converted[0], x, runtime))


def test_info_lists_bitlite_ops_and_sizes(converted, capsys):
    out = converted[0]
    status, stdout, _ = run_main(["info", out], capsys)
    assert status == 0
    lines = stdout.splitlines()
    ops = [line for line in lines if "Bitlite" in line]
    assert len(ops) == len(BITLITE_OPS), stdout
    model = float_model()
    packed_total = float_total = 0
    for line, (name, weight_bits, activation_bits) in zip(ops, BITLITE_OPS):
        kernel = model.get_layer(name).kernel.shape
        k, c_out = int(np.prod(kernel[:-1])), int(kernel[-1])
        packed = c_out * -(-k * weight_bits // 8)  # rows of ceil(K * bits / 8) bytes
        packed_total += packed
        float_total += 4 * c_out * k
        op = "BitliteFullyConnected" if name in ("hidden", "logits") else "BitliteConv2D"
        assert op in line and f"W{weight_bits}A{activation_bits}" in line, line
        assert f"packed weights {packed} B" in line, line
    # The kept 8-bit classifier is a W8A8 op above; the kept first conv (one input channel)
    # stays builtin ops, named by their output (the codes of its input, then its exact
    # integer sums and affine stage).
    builtin = {line.split()[1]: line.split()[2] for line in lines
               if len(line.split()) == 3 and line.split()[0].isdigit()}
    assert "conv0" in builtin["CONV_2D"] and "FULLY_CONNECTED" not in builtin, stdout
    assert builtin["DIV"].endswith("_input_codes/div"), stdout
    size = out.stat().st_size
    assert f"file size: {size} bytes" in stdout, stdout
    # fp32 size: the same file with each op's packed weights replaced by float32 kernels.
    assert f"same model in fp32: {size - packed_total + float_total} bytes" in stdout, stdout


def test_convert_report_names_the_kept_8bit_layers(converted):
    rows = {line.split()[0]: line.split()[1:] for line in converted[1].splitlines()
            if line.strip()}
    assert rows["conv0"][:3] == ["float", "builtins", "W8A8"], converted[1]
    assert rows["logits"][:2] == ["BitliteFullyConnected", "W8A8"], converted[1]


def test_info_needs_no_tensorflow(converted):
    """A delegate-only install (the wheel and ai-edge-litert): TensorFlow cannot be imported."""
    code = ("import sys\n"
            "class NoTensorFlow:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('tensorflow', 'tf_keras'):\n"
            "            raise ImportError('no ' + name + ' in this test')\n"
            "sys.meta_path.insert(0, NoTensorFlow())\n"
            "from bitlite.converter import cli\n"
            "status = cli.main(['info', sys.argv[1]])\n"
            "assert 'tensorflow' not in sys.modules\n"
            "sys.exit(status)\n")
    child = subprocess.run([sys.executable, "-c", code, str(converted[0])],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    assert "BitliteConv2D" in child.stdout and "file size" in child.stdout, child.stdout


def test_info_on_model_without_bitlite_ops(tmp_path, capsys):
    import tensorflow as tf
    path = tmp_path / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(float_model()).convert())
    status, stdout, _ = run_main(["info", path], capsys)
    assert status == 0 and "no bitlite ops" in stdout, stdout


def test_version(capsys):
    status, stdout, _ = run_main(["--version"], capsys)
    assert status == 0 and stdout.startswith("bitlite "), stdout


def test_console_script(saved, tmp_path, delegate_library):
    # pip puts console scripts beside the interpreter; `make test` does not activate the venv.
    search_path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    script = shutil.which("bitlite", path=search_path)
    if script is None:
        skip_or_fail("the `bitlite` console script is not installed (pip install .)")
    directory, qat, x, expected = saved
    out = tmp_path / "script.tflite"
    child = subprocess.run([script, "convert", str(directory / "qat.keras"), "-o", str(out)],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    assert "wrote" in child.stdout, child.stdout
    # Only bitlite's own (indented) progress lines: none of TensorFlow's native log lines.
    foreign = [line for line in child.stderr.splitlines() if not line.startswith("  ")]
    assert not foreign, foreign
    assert_matches_keras(x, expected, run_model(out, x, "litert"))


# ---------------------------------------------------------------------------------------------
# Bad input: non-zero exit, one line saying what is wrong, no traceback
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["missing.keras", "text.keras", "text.tflite"])
def test_convert_unreadable_model(bad_files, name, tmp_path, capsys):
    status, _, stderr = run_main(
        ["convert", bad_files / name, "-o", tmp_path / "out.tflite"], capsys)
    assert_one_line_error(status, stderr, name)
    assert not (tmp_path / "out.tflite").exists()


def test_convert_float_model_is_not_a_qat_model(bad_files, tmp_path, capsys):
    status, _, stderr = run_main(
        ["convert", bad_files / "float.keras", "-o", tmp_path / "out.tflite"], capsys)
    assert_one_line_error(status, stderr, "quantize_model")
    assert not (tmp_path / "out.tflite").exists()


def test_convert_model_that_never_ran(bad_files, tmp_path, capsys):
    status, _, stderr = run_main(
        ["convert", bad_files / "never_ran.keras", "-o", tmp_path / "out.tflite"], capsys)
    assert_one_line_error(status, stderr)
    assert "predict" in stderr or "fit" in stderr, stderr


def test_convert_to_missing_directory(saved, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "dir" / "out.tflite"
    status, _, stderr = run_main(["convert", saved[0] / "qat.keras", "-o", out], capsys)
    assert_one_line_error(status, stderr, str(out))


@pytest.mark.parametrize("name", ["missing.tflite", "text.tflite", "truncated.tflite",
                                  "float.keras"])
def test_info_unreadable_file(bad_files, name, capsys):
    status, _, stderr = run_main(["info", bad_files / name], capsys)
    assert_one_line_error(status, stderr, name)


def test_python_dash_m_bad_input_has_no_traceback(tmp_path):
    """What a shell user sees: TensorFlow's own log lines may come first, then one line."""
    child = subprocess.run([sys.executable, "-m", "bitlite.converter.cli", "info",
                            str(tmp_path / "missing.tflite")],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode != 0
    assert "Traceback" not in child.stderr, child.stderr[-2000:]
    assert child.stderr.strip().splitlines()[-1].startswith("bitlite"), child.stderr[-2000:]
