"""bench_cycles.merged: a subset run replaces its own rows of arm_cycles.json, keeps the rest."""

from bench.arm.bench_cycles import merged


def row(model, variant, cpu, ms):
    bitlite = variant.startswith("W")
    return {"model": model, "runtime": "bitlite" if bitlite else variant,
            "bits": variant if bitlite else None, "cpu": cpu, "ms": ms}


def test_merged_keeps_other_rows_and_replaces_own():
    previous = [row("a", "int8", "cortex-a53", 1), row("a", "W1A1", "cortex-a53", 2),
                row("b", "fp32", "cortex-a53", 3), row("a", "fp32", "cortex-a72", 4)]
    assert merged([], previous) == previous
    new = [row("a", "fp32", "cortex-a53", 5), row("a", "W1A1", "cortex-a53", 6)]
    assert merged(new, previous) == [previous[0], *new, previous[2], previous[3]]
