"""A/B of two builds of the delegate library on one .tflite, in one process, interleaved.

Where the change is also the converter's (a new op option), --model-b gives B its own
.tflite, converted by B's converter from the same network.

On a shared machine two runs at different times see different load; here both builds' interpreters
(each at 1 thread and at --threads) take turns, ten invokes at a time, for --seconds, so they
meet the same load. The order of the turns is shuffled every round: in a fixed order the
interpreter after the 2-thread ones measured up to 2.4x slower whichever build it was. Two .so files load side by side (each dlopen'ed under its own path). The
interpreter's builtin ops run on --interpreter-threads (default 1: XNNPACK's pool then cannot
take the second core from the delegate's).

    .venv/bin/python bench/ab_delegates.py MODEL.tflite OLD.so NEW.so [--threads 2]
        [--model-b NEW.tflite]

Prints the median and 10th percentile wall time per invoke of each build and thread count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, load_delegate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("a", help="delegate library A")
    parser.add_argument("b", help="delegate library B")
    parser.add_argument("--threads", type=int, default=2, help="the delegate's, besides 1")
    parser.add_argument("--interpreter-threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--model-b", help="B's .tflite (default: MODEL)")
    args = parser.parse_args()
    runs = {}
    for name, library, model in (("A", args.a, args.model),
                                 ("B", args.b, args.model_b or args.model)):
        for threads in dict.fromkeys((1, args.threads)):
            interpreter = Interpreter(
                model_path=model, num_threads=args.interpreter_threads,
                experimental_delegates=[load_delegate(library, {"num_threads": str(threads)})])
            interpreter.allocate_tensors()
            for detail in interpreter.get_input_details():
                shape = [max(1, int(d)) for d in detail["shape"]]
                interpreter.set_tensor(detail["index"], np.random.default_rng(0).normal(
                    size=shape).astype(detail["dtype"]))
            for _ in range(5):  # warm caches and lazily initialised kernels
                interpreter.invoke()
            runs[(name, threads)] = (interpreter, [])
    rng = np.random.default_rng(0)
    order = list(runs.values())
    end = time.time() + args.seconds
    while time.time() < end:
        rng.shuffle(order)
        for interpreter, times in order:
            for _ in range(10):
                start = time.perf_counter_ns()
                interpreter.invoke()
                times.append(time.perf_counter_ns() - start)
    print(f"{os.path.basename(args.model)}, interpreter threads {args.interpreter_threads}, "
          f"load average {os.getloadavg()[0]:.1f}")
    for (name, threads), (_, times) in runs.items():
        print(f"  {name} {threads} thread(s): median {statistics.median(times) / 1e6:.3f} ms, "
              f"p10 {np.percentile(times, 10) / 1e6:.3f} ms, {len(times)} invokes")


if __name__ == "__main__":
    main()
