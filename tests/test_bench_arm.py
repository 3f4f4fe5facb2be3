"""`bitlite bench --arm CORE` without what it needs: one clear error line each, never a crash.
The measurement itself needs the emulated ARM environment and minutes (bench/model_table.py
uses it; tests/arm would be its place)."""

from __future__ import annotations

import stat

import pytest

from bitlite.converter import convert

from support.cli import assert_one_line_error, run_main

pytest.importorskip("bench.arm.bench_cycles")  # the checkout's bench/, on pytest's path
from bench.arm import bench_cycles, bench_insns  # noqa: E402


def test_unknown_core(tmp_path, capsys):
    status, _, stderr = run_main(["bench", tmp_path / "any.tflite", "--arm", "cortex-z9"], capsys)
    assert_one_line_error(status, stderr, "--arm", "cortex-z9", ", ".join(bench_cycles.CORES))


def test_outside_a_source_checkout(tmp_path, monkeypatch, capsys):
    """What an installed wheel meets: no bench/arm anywhere above the current folder."""
    monkeypatch.chdir(tmp_path)
    status, _, stderr = run_main(["bench", tmp_path / "any.tflite", "--arm", "cortex-a53"],
                                 capsys)
    assert_one_line_error(status, stderr, "--arm", "source checkout", "make arm-env")


def test_checkout_without_the_arm_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench_cycles, "EMULATED_PYTHON", tmp_path / "no-arm-env" / "python")
    monkeypatch.setattr(bench_cycles, "PLUGIN", tmp_path / "no-plugin.so")
    monkeypatch.setenv("PATH", str(tmp_path))  # no qemu, no llvm
    status, _, stderr = run_main(["bench", tmp_path / "any.tflite", "--arm", "cortex-a53"],
                                 capsys)
    assert_one_line_error(status, stderr, "no-arm-env", "make arm-env", "no-plugin.so",
                          "build_plugin.sh", "qemu-aarch64", "llvm-mca")


def test_emulation_that_fails(saved, tmp_path, monkeypatch, capsys, delegate_library):
    """An emulated Python that exits at once: the error names the core and the exit status."""
    def failing_program(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\necho emulation broke >&2\nexit 3\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    python = failing_program(tmp_path / "arm" / "python")
    (python.parent / bench_insns.SITE_LIBRARY).parent.mkdir(parents=True)
    (python.parent / bench_insns.SITE_LIBRARY).write_bytes(b"not a library")
    for tool in ("qemu-aarch64", "llvm-mc", "llvm-mca"):
        failing_program(tmp_path / "bin" / tool)
    monkeypatch.setattr(bench_cycles, "EMULATED_PYTHON", python)
    monkeypatch.setattr(bench_cycles, "PLUGIN", python)  # exists: the emulation fails first
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    model = tmp_path / "model.tflite"
    model.write_bytes(convert(saved[1]))
    status, _, stderr = run_main(["bench", model, "--runs", "1", "--runtimes", "litert",
                                  "--arm", "cortex-a53"], capsys)
    assert_one_line_error(status, stderr, "--arm", "cortex-a53", "exit 3", "emulation broke")


@pytest.mark.parametrize("argv, named", [
    (["--layers", "8x64,bad", "W4A4"], "'bad' is not SIZExCHANNELS"),
    (["--cpu", "cortex-z9"], "invalid choice: 'cortex-z9'"),
    (["W9A2"], "'W9A2' is not a pair like W2A2"),
])
def test_winograd_cycles_refuses_malformed_arguments(argv, named, monkeypatch, capsys):
    """bench/arm/winograd_cycles.py: a usage error naming the argument, before it emulates."""
    from bench.arm import winograd_cycles

    monkeypatch.setattr("sys.argv", ["winograd_cycles", *argv])
    monkeypatch.setattr(winograd_cycles.measure_cycles, "measure",
                        lambda *args: pytest.fail("emulated despite a malformed argument"))
    with pytest.raises(SystemExit) as exit_info:
        winograd_cycles.main()
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
