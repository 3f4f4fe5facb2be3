"""The Android build's kernels against the Linux aarch64 build's, output for output.

tools/android/kernel_digests.sh builds cc/tests/kernel_digest.cc both ways (zig's clang with
libc++; Debian's g++ with libstdc++) and runs each under qemu-aarch64 on a CPU without dotprod
(cortex-a53) and one with it (cortex-a76): for each table (GEMM, depthwise) a digest of the
generated cases, of the reference kernel's outputs and of each kernel row's outputs.
"""
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIGESTS = REPO / "build" / "android" / "kernel-digests"
CPUS = ("cortex-a53", "cortex-a76")
BUILDS = ("android-arm64-v8a", "linux-aarch64")


@pytest.fixture(scope="module")
def digests() -> dict[tuple[str, str], list[list[str]]]:
    """(build, cpu) -> the output's lines, split into words. Runs the script once."""
    subprocess.run([str(REPO / "tools" / "android" / "kernel_digests.sh"), *CPUS], check=True)
    return {(build, cpu): [line.split() for line in
                           (DIGESTS / f"{build}-{cpu}.txt").read_text().splitlines()]
            for build in BUILDS for cpu in CPUS}


@pytest.mark.parametrize("cpu", CPUS)
def test_android_kernels_write_what_linux_aarch64_kernels_write(digests, cpu):
    android, linux = (digests[build, cpu] for build in BUILDS)
    assert android == linux


@pytest.mark.parametrize("cpu", CPUS)
@pytest.mark.parametrize("build", BUILDS)
def test_every_row_writes_what_the_reference_writes(digests, build, cpu):
    lines = digests[build, cpu]
    tables = {}
    for words in lines:
        if words[0] == "cases":
            _, table, count, _ = words
            assert int(count) > 90, words  # nearly every generated case runs
            tables[table] = {}
        elif words[0] != "total":
            table, row, digest = words
            tables[table][row] = digest
    assert set(tables) == {"gemm", "gemm-w8a8", "depthwise"}
    for table, rows in tables.items():
        assert len(rows) > 2, table  # the reference and at least a scalar and a NEON row
        assert set(rows.values()) == {rows["reference"]}, (table, rows)
    assert lines[-1][0] == "total"


@pytest.mark.parametrize("build", BUILDS)
def test_dotprod_kernel_runs_only_where_the_cpu_has_dotprod(digests, build):
    def rows(cpu):
        return {words[1] for words in digests[build, cpu] if words[0] == "gemm"}
    assert "int8/neondot" not in rows("cortex-a53")
    assert "int8/neondot" in rows("cortex-a76")
    assert {"bitserial/neon", "int8/neon", "lut/neon"} <= rows("cortex-a53")
