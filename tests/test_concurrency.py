"""Several interpreters in several Python threads, and interpreters created and destroyed in
a loop (issue 9, "Concurrency and leaks").

The runtimes release the GIL in invoke(), so the threads run the delegate's kernels at the
same time, each kernel on its own thread pool when num_threads is 2.
"""

import gc
import threading

import numpy as np

from support import cases
from bitlite import delegate
from support.harness import invoke, prepared_interpreter

INVOKES_PER_THREAD = 25


def thread_models(rng):
    """One model per kernel family: GEMM conv, depthwise, grouped (reference), dense."""
    return [
        cases.conv_case(rng, 2, 2, False, exact=False, height=12, width=11, c_in=16, c_out=16),
        cases.conv_case(rng, 1, 3, True, exact=False, height=9, width=9, c_in=8, c_out=16,
                        groups=8),
        cases.conv_case(rng, 4, 3, False, exact=False, c_in=6, c_out=4, groups=2),
        cases.fc_case(rng, 3, 4, True, exact=False, leading=(4,), k=64, c_out=32),
    ]


# (model, interpreter num_threads, shared delegate): four threads on model 0 in every
# combination, then one thread on each model, so equal and different models run at once.
THREADS = [(0, 1, False), (0, 2, False), (0, 1, True), (0, 2, True),
           (1, 2, True), (2, 1, False), (3, 2, False), (3, 1, True)]


def bits(array: np.ndarray) -> np.ndarray:
    return array.view(np.uint32)


def test_threads_give_the_single_threaded_outputs(runtime, rng, delegate_library):
    models = thread_models(rng)
    # No num_threads option: every interpreter's own num_threads applies to its kernels.
    shared = delegate.load_delegate(runtime=runtime)

    def interpreter_for(model, num_threads, use_shared):
        case = models[model]
        return prepared_interpreter(case.model, case.x, runtime, num_threads=num_threads,
                                    experimental_delegates=[shared] if use_shared else None)

    expected = [invoke(interpreter_for(*config), models[config[0]].x) for config in THREADS]
    start = threading.Barrier(len(THREADS))
    failures = []

    def work(index):
        try:
            model, *_ = THREADS[index]
            interpreter = interpreter_for(*THREADS[index])
            start.wait()
            for _ in range(INVOKES_PER_THREAD):
                out = invoke(interpreter, models[model].x)
                if not np.array_equal(bits(out), bits(expected[index])):
                    failures.append(f"thread {index} {THREADS[index]}: {models[model].description}")
                    return
        except Exception as error:  # reported below: an exception in a thread is lost
            failures.append(f"thread {index} {THREADS[index]}: {error!r}")
            start.abort()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(THREADS))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures, failures


def anonymous_resident_bytes() -> int:
    """RssAnon: the resident heap and stacks. Not VmRSS, which also counts the pages of
    mapped libraries (TensorFlow's are hundreds of MiB) that the kernel evicts and reloads
    as other processes need memory."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_create_destroy_does_not_grow_memory(rng, delegate_library):
    # 1 MiB of packed weights (W4, 2048 x 1024): each interpreter's delegate kernel keeps
    # about that much of its own (the weights repacked for its kernel), so leaking what a
    # kernel or an interpreter holds would add at least 1 MiB per cycle.
    case = cases.fc_case(rng, 4, 4, False, exact=False, leading=(2,), k=2048, c_out=1024)
    warm_up, cycles = 30, 150

    def cycle():
        out = invoke(prepared_interpreter(case.model, case.x, "litert", num_threads=2), case.x)
        assert np.array_equal(bits(out), bits(case.expected))

    for _ in range(warm_up):
        cycle()
    gc.collect()
    before = anonymous_resident_bytes()
    for _ in range(cycles):
        cycle()
    gc.collect()
    growth = anonymous_resident_bytes() - before
    # A leak of the per-kernel state would grow RSS by >= 150 MiB here (measured: 154 MiB when
    # the interpreters are kept alive); after the warm-up the allocator reuses freed blocks
    # (measured: flat from cycle 30 on), so what remains is fragmentation, a few MiB at most.
    assert growth < 32 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over {cycles} cycles"
