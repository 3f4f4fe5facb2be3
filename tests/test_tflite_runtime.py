"""The same delegate .so under tflite_runtime 2.14 (a separate venv), compared bit-exactly
with the reference. tflite_runtime differs from tf.lite/LiteRT in ways the delegate must
handle: default num_threads -1, Prepare re-run after a resize, model_path mmap."""

import numpy as np

from support import cases
from support.harness import run_in_tflite_runtime


def _cases(rng):
    """name -> (Case, num_threads or None for the runtime default)."""
    return {
        "conv_W1A1s_same": (cases.conv_case(rng, 1, 1, True, exact=False, c_in=17, c_out=5,
                                            height=7, width=6), None),
        "conv_W2A2u_valid_stride2": (cases.conv_case(
            rng, 2, 2, False, exact=False, c_in=7, c_out=3, stride_h=2, stride_w=2,
            padding="VALID", height=9, width=8), 2),
        "conv_W4A3s_dilation2_batch3": (cases.conv_case(
            rng, 4, 3, True, exact=False, c_in=3, c_out=9, kernel_h=3, kernel_w=5,
            dilation_h=2, batch=3, height=8, width=7), None),
        "conv_W3A4u_exact": (cases.conv_case(rng, 3, 4, False, exact=True, c_in=33, c_out=7,
                                             kernel_h=5, kernel_w=5, height=6, width=6), 1),
        "fc_W2A4s_batch3": (cases.fc_case(rng, 2, 4, True, exact=False, leading=(3,), k=65,
                                          c_out=9), None),
        "fc_W1A2u_rank3": (cases.fc_case(rng, 1, 2, False, exact=False, leading=(2, 5),
                                         k=129, c_out=7), 2),
    }


def test_tflite_runtime_matches_reference(delegate_library, tmp_path):
    built = _cases(np.random.default_rng(314))
    outputs, _ = run_in_tflite_runtime(
        delegate_library,
        {name: (case.model, case.x, threads, None) for name, (case, threads) in built.items()},
        tmp_path)
    failures = []
    for name, (case, _) in built.items():
        out = outputs[name]
        if not (out.dtype == np.float32 and np.array_equal(out, case.expected)):
            failures.append(cases.mismatch_report(out, case.expected, case))
    assert not failures, "\n".join(failures)
