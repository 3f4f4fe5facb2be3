"""Layers large enough for the kernels to share among threads (ThreadsForWork in
cc/src/threading/thread_pool.h gives one thread per 2^19 word operations, so test_concurrency's
small models now run on one thread each): every thread count gives the reference's outputs
bit for bit, also with several interpreters invoking at once (issue 12, threads).
"""

import threading

import numpy as np

from support import cases
from support.harness import invoke, prepared_interpreter


def large_cases(rng):
    # 32x32x64 -> 64, 3x3: 2.36M word operations at W2A2 bitserial (up to 4 threads), as
    # CIFAR ResNet-18's first stage; W4A4 runs on the int8 kernel where the CPU has one.
    return [cases.conv_case(rng, bits, bits, False, exact=False, height=32, width=32, c_in=64,
                            c_out=64) for bits in (2, 4)]


def test_thread_counts_give_the_reference_outputs(runtime, rng, delegate_library):
    for case in large_cases(rng):
        for num_threads in (1, 2, 3):
            out = invoke(prepared_interpreter(case.model, case.x, runtime,
                                              num_threads=num_threads), case.x)
            assert np.array_equal(out.view(np.uint32), case.expected.view(np.uint32)), (
                f"{num_threads} threads: {case.description}")


def test_interpreters_sharing_layers_among_threads_at_once(rng, delegate_library):
    case = large_cases(rng)[0]
    interpreters = [prepared_interpreter(case.model, case.x, "litert", num_threads=2)
                    for _ in range(3)]
    start = threading.Barrier(len(interpreters))
    failures = []

    def work(interpreter):
        try:
            start.wait()
            for _ in range(10):
                out = invoke(interpreter, case.x)
                if not np.array_equal(out.view(np.uint32), case.expected.view(np.uint32)):
                    failures.append(case.description)
                    return
        except Exception as error:  # reported below: an exception in a thread is lost
            failures.append(repr(error))
            start.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in interpreters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
