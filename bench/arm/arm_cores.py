"""The three Raspberry Pi cores the cycle model estimates: caches (fed to the plugin's cache
simulation), extra cycles per miss, clock, and the qemu CPU model that runs the guest.

Sizes and associativity:
- Cortex-A53 (Raspberry Pi 3B+, BCM2837B0, 1.4 GHz): L1D 32 KB 4-way, L2 512 KB 16-way shared,
  64-byte lines. Arm Cortex-A53 TRM, "L2 memory system" (16-way, 64-byte lines):
  https://developer.arm.com/docs/ddi0500/g/functional-description/about-the-cortex-a53-processor-functions/l2-memory-system
  Pi 3B+ clock and cache sizes: https://www.raspberrypi.com/products/raspberry-pi-3-model-b-plus/
- Cortex-A72 (Raspberry Pi 4, BCM2711, 1.5 GHz): L1D 32 KB 2-way, L2 1 MB 16-way shared.
  https://www.raspberrypi.com/documentation/computers/processors.html#bcm2711 ;
  L1D/L2 associativity from the Arm Cortex-A72 TRM (L1 data cache 2-way, L2 16-way).
- Cortex-A76 (Raspberry Pi 5, BCM2712, 2.4 GHz): L1D 64 KB 4-way, L2 512 KB 8-way private,
  L3 2 MB 16-way shared. https://en.wikichip.org/wiki/arm_holdings/microarchitectures/cortex-a76
  (associativity), Pi 5 sizes: https://threedots.ovh/blog/2023/09/gathering-some-raspberry-pi-5-details/

Latencies (load-to-use cycles; the penalty added per demand miss is the next level's latency
less the level that missed, since llvm-mca already charges the L1 latency for every load):
- A76: L1 4 cycles (Arm Cortex-A76 Software Optimization Guide, load latency table), L2 9,
  L3 26-31 (WikiChip page above: "fastest load-to-use latency is 9 cycles", L3 "26 to 31").
- A72: L1 4 cycles (Arm Cortex-A72 Software Optimization Guide, load latency), L2 21
  cycles and DRAM 150 ns: assumed (no measurement found to cite; the order of what pointer
  chasing on a Pi 4 shows). That the A72 fetches the line after a miss (the model's next-line
  prefetch) is observed in http://sandsoftwaresound.net/arm-cortex-a72-tuning-memory-access
- A53: L1 3 cycles (the llvm-mca Cortex-A53 model's load latency), L2 13 cycles and DRAM
  150 ns on the Pi 3's LPDDR2: assumed, no measurement found to cite.
- DRAM on the Pi 5 (LPDDR4X-4267): 100 ns, assumed, no measurement found to cite.
These are fixed per core, never per model or per validation point.

llvm-mca's scheduling model for the A53 is its successor's, the Cortex-A55 (the same class:
in-order, dual-issue, 8-stage): LLVM 14's Cortex-A53 model prices XNNPACK's A53-tuned fp32
GEMM loop (48 FMLA among 101 instructions) at 280 cycles per iteration, 5.8 cycles per FMLA,
where the A53 is commonly rated at one 128-bit FMLA per cycle (8 fp32 FLOP/cycle); the model
serialises the FMLA accumulator chains (9-cycle latency each) that the A53 forwards. The A55
model gives 91 cycles.
bench_cycles.py --mca-a53 prices with the A53 model instead, for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Core:
    name: str           # the qemu CPU model and cpuinfo of the guest
    mca_cpu: str        # llvm-mca's scheduling model
    board: str
    ghz: float
    caches: tuple       # "SIZE:WAYS:LINE" per level, L1D first
    latencies: tuple    # load-to-use cycles per cache level, then DRAM
    prefetch_lines: int  # next-line prefetch depth on an L1 miss

    def plugin_options(self) -> str:
        levels = ",".join(f"l{i + 1}={spec}" for i, spec in enumerate(self.caches))
        return f"{levels},prefetch={self.prefetch_lines}"

    def miss_penalties(self) -> tuple:
        """Extra cycles of a demand miss at each level (over the hit latency of that level)."""
        return tuple(b - a for a, b in zip(self.latencies, self.latencies[1:]))


def _dram_cycles(ns: float, ghz: float) -> int:
    return round(ns * ghz)


# All three cores prefetch at least the next line on a miss (observed on the A72, see above;
# the A53 and A76 manuals describe stride/stream prefetchers): one line for all.
CORES = {
    "cortex-a53": Core("cortex-a53", "cortex-a55", "Raspberry Pi 3B+", 1.4,
                       ("32768:4:64", "524288:16:64"), (3, 13, 13 + _dram_cycles(150, 1.4)), 1),
    "cortex-a72": Core("cortex-a72", "cortex-a72", "Raspberry Pi 4", 1.5,
                       ("32768:2:64", "1048576:16:64"), (4, 21, 21 + _dram_cycles(150, 1.5)), 1),
    "cortex-a76": Core("cortex-a76", "cortex-a76", "Raspberry Pi 5", 2.4,
                       ("65536:4:64", "524288:8:64", "2097152:16:64"),
                       (4, 9, 31, 31 + _dram_cycles(100, 2.4)), 1),
}
