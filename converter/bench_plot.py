"""`bitlite bench --plot OUT.png`: the per-op times of the bitlite model (one bar per op and
thread count, first runtime) beside the whole-model times of every version, runtime and thread
count."""

from __future__ import annotations


def write(runs: list, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    runtime = runs[0].runtime
    per_op = [r for r in runs if r.variant == "bitlite" and r.runtime == runtime]
    labels = [f"{op.position} {op.op} {op.name}"[:48] for op in per_op[0].ops]
    figure, (ops_axis, total_axis) = plt.subplots(
        1, 2, figsize=(14, max(4, 0.25 * len(labels) + 1)), width_ratios=[3, 2])
    height = 0.8 / len(per_op)
    for index, run in enumerate(per_op):
        positions = [i + index * height for i in range(len(labels))]
        ops_axis.barh(positions, [op.ms or 0 for op in run.ops], height,
                      label=f"{run.threads} thread(s)")
    ops_axis.set_yticks(range(len(labels)), labels, fontsize=7)
    ops_axis.invert_yaxis()
    ops_axis.set_xlabel("ms (median)")
    ops_axis.set_title(f"bitlite model per op ({runtime})")
    ops_axis.legend()
    names = [f"{r.variant} {r.runtime} {r.threads}t" for r in runs]
    total_axis.barh(range(len(runs)), [r.total_ms for r in runs],
                    color=[f"C{['bitlite', 'fp32', 'int8'].index(r.variant)}" for r in runs])
    total_axis.set_yticks(range(len(runs)), names, fontsize=8)
    total_axis.invert_yaxis()
    total_axis.set_xlabel("ms per invoke (median, batch 1)")
    total_axis.set_title("whole model")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
