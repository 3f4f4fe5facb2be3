"""Cycles of a measured region from the plugin's outputs: llvm-mca cycles per executed block
times its executions, plus the cache simulation's demand misses times their penalties.

    cycles = sum over blocks (mca cycles per iteration * executions)
             + sum over levels (demand misses at the level * penalty of going one level down)

llvm-mca (Debian's LLVM) is given each block as a loop body and runs it 100 times: its cycles
per iteration are the block's steady-state cost with its own dependencies, L1 hits and
perfect branch prediction. Blocks are keyed by their encodings, so a block's cost is computed
once per CPU (cached on disk in build/arm/mca-cache).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

MCA_ITERATIONS = 100
# llvm-mc decodes every extension the three cores may run (the guest's CPU decides which ones
# actually execute); unknown encodings are dropped from the block.
DISASSEMBLER = ["llvm-mc", "--disassemble", "-triple=aarch64", "--show-encoding",
                "-mattr=+v8.2a,+dotprod,+i8mm,+fullfp16,+rcpc,+crc,+crypto"]


def read_counts(path: Path) -> tuple[dict, dict]:
    """The plugin's out= file: marker -> instructions, marker -> cache counters."""
    marks, caches = {}, {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields[0] == "marker":
            marks[int(fields[1])] = int(fields[2])
        elif fields[0] == "cache":
            caches[int(fields[1])] = [int(f) for f in fields[2:]]
    return marks, caches


def read_profile(path: Path) -> dict:
    """The plugin's profile= file: marker -> {(pc, insns): executions since the last marker}."""
    dumps, current = {}, None
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields[0] == "marker":
            current = dumps.setdefault(int(fields[1]), {})
        else:
            key = (int(fields[0], 16), int(fields[1]))
            current[key] = current.get(key, 0) + int(fields[2])
    return dumps


def read_code(path: Path) -> dict:
    """The plugin's code= file: (pc, insns) -> tuple of instruction words (hex)."""
    code = {}
    for line in path.read_text().splitlines():
        pc, *words = line.split()
        code[(int(pc, 16), len(words))] = tuple(words)
    return code


def disassemble(words: set) -> dict:
    """word (hex) -> assembly text, for the encodings llvm-mc knows."""
    hex_input = "\n".join(" ".join(f"0x{w[i:i + 2]}" for i in (6, 4, 2, 0)) for w in words)
    child = subprocess.run(DISASSEMBLER, input=hex_input, capture_output=True, text=True)
    text = {}
    for line in child.stdout.splitlines():
        match = re.match(r"\s+(.*?)\s*// encoding: \[0x(..),0x(..),0x(..),0x(..)\]", line)
        if match:
            asm, b0, b1, b2, b3 = match.groups()
            text[b3 + b2 + b1 + b0] = asm
    return text


def for_mca(asm: str) -> str:
    """llvm-mca's Cortex-A53 model stalls ~100 cycles on bl/blr (an artefact: A72/A76 take ~4);
    a call costs a branch plus a link-register write, so it is modelled as the plain branch."""
    return re.sub(r"^bl(r?)\b", r"b\1", asm)


def run_mca(regions: list, cpu: str) -> list:
    """Cycles per iteration of each region (a list of assembly lines); None where llvm-mca
    cannot model it (the whole batch is retried region by region on an error)."""
    source = "".join(f"# LLVM-MCA-BEGIN r{i}\n" + "\n".join(lines) + "\n# LLVM-MCA-END\n"
                     for i, lines in enumerate(regions))
    command = ["llvm-mca", "-mtriple=aarch64", f"-mcpu={cpu}", f"-iterations={MCA_ITERATIONS}",
               "-resource-pressure=0", "-instruction-info=0"]
    child = subprocess.run(command, input=source, capture_output=True, text=True)
    if child.returncode != 0:
        if len(regions) == 1:
            return [None]
        half = len(regions) // 2
        return run_mca(regions[:half], cpu) + run_mca(regions[half:], cpu)
    cycles = [int(c) / MCA_ITERATIONS for c in re.findall(r"^Total Cycles:\s+(\d+)",
                                                           child.stdout, re.M)]
    assert len(cycles) == len(regions), (len(cycles), len(regions))
    return cycles


def block_cycles(blocks: set, cpu: str, cache_dir: Path) -> dict:
    """words tuple -> cycles per execution on `cpu`; blocks llvm-mca cannot model cost one
    cycle per instruction (their share is reported by modelled_cycles)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache_file = cache_dir / f"{cpu}.json"
    known = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    key = {words: hashlib.sha1(" ".join(words).encode()).hexdigest() for words in blocks}
    missing = [words for words in blocks if key[words] not in known]
    if missing:
        text = disassemble({w for words in missing for w in words})
        regions = [[for_mca(text[w]) for w in words if w in text] or ["nop"] for words in missing]
        for words, cycles in zip(missing, run_mca(regions, cpu)):
            known[key[words]] = cycles
        cache_file.write_text(json.dumps(known))
    return {words: known[key[words]] for words in blocks}


def modelled_cycles(core, blocks: dict, misses: list, cache_dir: Path) -> dict:
    """blocks: "word word ..." (a block's encodings) -> executions in the region; misses:
    demand misses per cache level."""
    blocks = {tuple(key.split()): count for key, count in blocks.items()}
    costs = block_cycles(set(blocks), core.mca_cpu, cache_dir)
    core_cycles = unmodelled = 0.0
    for words, count in blocks.items():
        cycles = costs[words]
        if cycles is None:
            cycles = len(words)
            unmodelled += cycles * count
        core_cycles += cycles * count
    memory_cycles = sum(m * p for m, p in zip(misses, core.miss_penalties()))
    total = core_cycles + memory_cycles
    return {"cycles": total, "core_cycles": core_cycles, "memory_cycles": memory_cycles,
            "unmodelled_share": unmodelled / core_cycles if core_cycles else 0.0,
            "ms": total / (core.ghz * 1e6)}
