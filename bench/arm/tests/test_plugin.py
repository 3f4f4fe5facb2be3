"""The qemu plugin's counts on a guest program with known answers (known_answers.c): exact
instruction counts of a loop, exact cache misses of strided walks, the prefetcher's effect,
and the code= dump of a block's encodings. Run by `make test-arm-plugin` (part of make test).

Needs aarch64-linux-gnu-gcc, qemu-user and the plugin (bench/arm/build_plugin.sh); its path
comes from BITLITE_INSN_PLUGIN, else the build script's default place.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PLUGIN = Path(os.environ.get("BITLITE_INSN_PLUGIN",
                             REPO / "build/arm/qemu-src/libinsn_count.so"))
# Small caches, so that the 16 KB walks overflow L1 and fit in L2.
CACHES = "l1=4096:4:64,l2=65536:8:64"
WALK_LINES = 16384 // 64
# Encodings (from the A64 manual) of the loop body in known_answers.c.
ADD_X10_1, SUB_X9_1 = "9100054a", "d1000529"


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    binary = tmp_path_factory.mktemp("known_answers") / "known_answers"
    subprocess.run(["aarch64-linux-gnu-gcc", "-O1", "-static", "-o", str(binary),
                    str(HERE / "known_answers.c")], check=True)
    return binary


def run(program: Path, tmp_path: Path, options: str) -> tuple[dict, dict, Path]:
    """Runs the program under the plugin: (marker -> instructions, marker -> cache counters
    [L1 accesses, L1 misses, L2 accesses, L2 misses], the code file)."""
    out, code = tmp_path / "counts", tmp_path / "code"
    subprocess.run(["qemu-aarch64", "-plugin", f"{PLUGIN},out={out},code={code},{options}",
                    str(program)], check=True, timeout=60)
    text = out.read_text()
    marks = {int(m): int(n) for m, n in re.findall(r"^marker (\d+) (\d+)$", text, re.M)}
    caches = {int(fields[0]): [int(f) for f in fields[1:]]
              for fields in (line.split()[1:] for line in text.splitlines()
                             if line.startswith("cache "))}
    return marks, caches, code


def between(counters: dict, first: int) -> list:
    return [b - a for a, b in zip(counters[first], counters[first + 1])]


def test_loop_instructions_exact(program, tmp_path):
    marks, _, _ = run(program, tmp_path, CACHES)
    short, long = marks[1] - marks[0], marks[3] - marks[2]
    # 3 instructions per iteration; the same few around it (mov, second marker) in both runs.
    assert long - short == 3 * (5000 - 1000)
    assert 0 <= short - 3 * 1000 < 10


def test_strided_walk_misses(program, tmp_path):
    _, caches, _ = run(program, tmp_path, CACHES)
    # Cold: every line misses both levels.
    assert between(caches, 4) == [WALK_LINES, WALK_LINES, WALK_LINES, WALK_LINES]
    # Again: 16 KB does not fit the 4 KB L1 (LRU evicts each line before its reuse) but fits L2.
    assert between(caches, 6) == [WALK_LINES, WALK_LINES, WALK_LINES, 0]
    # 8 loads per line: one miss per line.
    assert between(caches, 8)[:2] == [8 * WALK_LINES, WALK_LINES]


def test_next_line_prefetch_halves_cold_misses(program, tmp_path):
    _, caches, _ = run(program, tmp_path, CACHES + ",prefetch=1")
    # Each demand miss brings the next line too, so only every other line misses.
    assert between(caches, 4)[:2] == [WALK_LINES, WALK_LINES // 2]


def test_code_dump_has_the_loop_block(program, tmp_path):
    marks, _, code = run(program, tmp_path, CACHES)
    blocks = [line.split() for line in code.read_text().splitlines()]
    assert any(words[-3:-1] == [ADD_X10_1, SUB_X9_1] for words in blocks)
    assert all(re.fullmatch(r"[0-9a-f]+", word) for words in blocks for word in words)


def test_bad_cache_spec_refused(program, tmp_path):
    child = subprocess.run(["qemu-aarch64", "-plugin", f"{PLUGIN},l1=1000:3:64", str(program)],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode != 0 and "bad cache level" in child.stderr
