"""The delegate's kernels against each other: `kernel=bitserial` (the SIMD bitserial kernel
on the widest ISA this CPU runs), `kernel=int` (the int8 kernel where the CPU has one),
`kernel=lut` (the lookup-table kernel on the widest ISA) and `kernel=auto` must give
bit-identical outputs to `kernel=reference` (the scalar specification) on every bit pair, and
every thread count must give the same outputs.
"""

import re

import numpy as np
import pytest

from support import cases
from support.checks import winograd_expected
from support.harness import invoke, prepared_interpreter, run_model

PAIRS = [(w, a, s) for w in (1, 2, 3, 4) for a in (1, 2, 3, 4) for s in (False, True)]


def pair_id(pair):
    w, a, s = pair
    return f"W{w}A{a}{'s' if s else 'u'}"


def run(case, runtime, **options):
    options = {key: str(value) for key, value in options.items()}
    return run_model(case.model, case.x, runtime, delegate_options=options)


def assert_bitwise_equal(actual, expected, case, what):
    # Bit patterns, so NaN payloads and signed zeros count too.
    assert actual.shape == expected.shape, (what, case.description)
    assert np.array_equal(actual.view(np.uint32), expected.view(np.uint32)), \
        f"{what}: " + cases.mismatch_report(actual, expected, case)


def wide_conv_geometry(rng):
    """Random geometry with channel counts across the 64-bit words of the bitserial planes."""
    geometry = cases.random_conv_geometry(rng)
    geometry.update(c_in=int(rng.choice([1, 63, 64, 65, 130])),
                    c_out=int(rng.choice([1, 5, 16, 17, 33])))
    return geometry


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_conv_bitserial_matches_reference(pair, runtime, rng, delegate_library):
    for geometry in (cases.random_conv_geometry(rng), wide_conv_geometry(rng)):
        case = cases.conv_case(rng, *pair, exact=False, **geometry)
        reference = run(case, runtime, kernel="reference")
        assert_bitwise_equal(reference, case.expected, case, "reference vs NumPy")
        # int: the int8 kernel where the CPU has one (AVX512-VNNI), else bitserial.
        for kernel in ("bitserial", "int", "lut", "auto"):
            fast = run(case, runtime, kernel=kernel)
            assert_bitwise_equal(fast, reference, case, f"{kernel} vs reference")


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_fully_connected_bitserial_matches_reference(pair, runtime, rng, delegate_library):
    case = cases.fc_case(rng, *pair, exact=False, leading=(3, 2), k=int(rng.choice([17, 64, 200])),
                         c_out=int(rng.choice([1, 9, 40])))
    reference = run(case, runtime, kernel="reference")
    for kernel in ("bitserial", "int", "lut"):
        fast = run(case, runtime, kernel=kernel)
        assert_bitwise_equal(fast, reference, case, f"{kernel} vs reference")


@pytest.mark.parametrize("kernel", ["bitserial", "int", "lut"])
@pytest.mark.parametrize("pair", [(1, 1, True), (2, 2, False), (4, 3, True)], ids=pair_id)
def test_thread_counts_give_identical_outputs(pair, kernel, rng, delegate_library):
    case = cases.conv_case(rng, *pair, exact=False, batch=2, height=13, width=11, c_in=70,
                           c_out=37, kernel_h=3, kernel_w=3, padding="SAME")
    one = run(case, "tf", kernel=kernel, num_threads=1)
    assert_bitwise_equal(one, case.expected, case, "1 thread vs NumPy")
    for threads in (2, 4):
        several = run(case, "tf", kernel=kernel, num_threads=threads)
        assert_bitwise_equal(several, one, case, f"{threads} threads vs 1")


@pytest.mark.parametrize("pair", [(4, 4, False), (3, 3, True), (2, 3, False), (4, 2, True)],
                         ids=pair_id)
def test_winograd_layers_match_reference(pair, runtime, rng, delegate_library, capfd):
    # 3x3 layers of stride 1 with 64+ input channels, odd sizes (2x2 blocks past the last row
    # and column), VALID and SAME, batch 2: kernel=auto (Winograd where the CPU's rule takes
    # it), with winograd=false and at 3 threads, all bit for bit the reference.
    for c_in, padding, height, width in ((64, "SAME", 7, 9), (72, "VALID", 10, 5)):
        case = cases.conv_case(rng, *pair, exact=False, batch=2, height=height, width=width,
                               c_in=c_in, c_out=19, padding=padding)
        reference = run(case, runtime, kernel="reference")
        assert_bitwise_equal(reference, case.expected, case, "reference vs NumPy")
        capfd.readouterr()
        fast = run(case, runtime, verbose="true")
        names = re.findall(r"kernel (\S+)$", capfd.readouterr().err, re.M)
        if winograd_expected() is not None:
            assert any(n.startswith("winograd/") for n in names) == winograd_expected(), names
        assert_bitwise_equal(fast, reference, case, f"{names} vs reference")
        direct = run(case, runtime, winograd="false", verbose="true")
        assert not any(n.startswith("winograd/") for n in
                       re.findall(r"kernel (\S+)$", capfd.readouterr().err, re.M))
        assert_bitwise_equal(direct, reference, case, "winograd=false vs reference")
        threads = run(case, runtime, num_threads=3)
        assert_bitwise_equal(threads, reference, case, "3 threads vs reference")


def scratch_needed(case, runtime, **options) -> int:
    """The bytes of scratch the layer's kernel asks for, read off the refusal under a limit of
    64 (the delegate names what it takes)."""
    with pytest.raises((RuntimeError, ValueError)) as error:
        run(case, runtime, max_scratch_bytes=64, **options)
    found = re.search(r"takes (\d+) bytes, more than the limit of 64", str(error.value))
    assert found, str(error.value)
    return int(found[1])


def test_winograd_gives_way_to_direct_under_a_tight_scratch_limit(runtime, rng, delegate_library,
                                                                  capfd):
    # F(2x2, 3x3) keeps transformed patches and products per worker: where max_scratch_bytes
    # holds the direct kernel's scratch but not that, kernel=auto runs the layer direct
    # instead of refusing it, and says so; a limit under both names the direct kernel's need.
    if not winograd_expected():
        pytest.skip("this CPU's kernel=auto runs no layer as Winograd")
    case = cases.conv_case(rng, 3, 3, True, exact=False, height=16, width=16, c_in=64,
                           c_out=64, padding="SAME")
    reference = run(case, runtime, kernel="reference")
    direct = scratch_needed(case, runtime, winograd="false")
    assert scratch_needed(case, runtime) == direct
    capfd.readouterr()
    ample = run(case, runtime, verbose="true")
    assert "kernel winograd/" in capfd.readouterr().err
    assert_bitwise_equal(ample, reference, case, "winograd vs reference")
    # Verbose mode names the kernel at Init, and again where Prepare changes it.
    interpreter = prepared_interpreter(
        case.model, case.x, runtime,
        delegate_options={"max_scratch_bytes": str(direct), "verbose": "true"})
    names = re.findall(r"kernel (\S+)( \(at Prepare\))?$", capfd.readouterr().err, re.M)
    assert names[0][0].startswith("winograd/") and names[-1][1], names
    assert not names[-1][0].startswith("winograd/"), names
    assert_bitwise_equal(invoke(interpreter, case.x), reference, case,
                         "direct under the limit vs reference")
    # Each Prepare decides again: a 4x4 input leaves Winograd the scratch it needs.
    small = rng.normal(size=(1, 4, 4, 64)).astype(np.float32)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(small.shape))
    interpreter.allocate_tensors()
    names = re.findall(r"kernel (\S+) \(at Prepare\)$", capfd.readouterr().err, re.M)
    assert names and names[-1].startswith("winograd/"), names
    expected = run_model(case.model, small, runtime, delegate_options={"kernel": "reference"})
    assert_bitwise_equal(invoke(interpreter, small), expected, case, "winograd again at 4x4")


@pytest.mark.parametrize("kernel", ["bitserial", "lut"])
def test_grouped_conv_runs_on_the_fast_kernels(kernel, rng, delegate_library, capfd):
    case = cases.conv_case(rng, 2, 2, True, exact=False, c_in=8, c_out=8, groups=4)
    out = run(case, "tf", kernel=kernel, verbose="true")
    assert f"kernel {kernel}/" in capfd.readouterr().err
    assert_bitwise_equal(out, run(case, "tf", kernel="reference"), case, "grouped conv")


@pytest.mark.parametrize("pair", [(1, 1, True), (2, 2, False), (4, 4, False), (3, 2, True)],
                         ids=pair_id)
def test_depthwise_runs_its_own_kernel(pair, rng, delegate_library, capfd):
    # groups == c_in: every kernel choice but reference runs the depthwise kernel, bit for bit
    # the reference on every thread count (depth multiplier 2, 19 channels: a partial tile).
    case = cases.conv_case(rng, *pair, exact=False, batch=2, height=9, width=10, c_in=19,
                           c_out=38, groups=19, kernel_h=3, kernel_w=3, padding="SAME")
    reference = run(case, "tf", kernel="reference")
    assert_bitwise_equal(reference, case.expected, case, "reference vs NumPy")
    for kernel in ("auto", "bitserial", "int"):
        for threads in (1, 3):
            out = run(case, "tf", kernel=kernel, num_threads=threads, verbose="true")
            assert "kernel depthwise/" in capfd.readouterr().err
            assert_bitwise_equal(out, reference, case, f"{kernel}, {threads} threads")


def test_verbose_names_the_kernel_of_each_node(rng, delegate_library, capfd):
    # Which kernel `auto` takes for this narrow layer depends on the CPU (int8/avx512vnni
    # without AMX, bitserial with it: gemm_kernels.cc's TapPaddingRatio): named, then any.
    case = cases.conv_case(rng, 1, 1, True, exact=False)
    run(case, "tf", kernel="bitserial", verbose="true")
    assert "kernel bitserial/" in capfd.readouterr().err
    run(case, "tf", verbose="true")
    assert re.search(r"^bitlite: node 0 \(BitliteConv2D\):.*, kernel (bitserial|int8|lut)/\w+$",
                     capfd.readouterr().err, re.M)
    run(case, "tf", kernel="reference", verbose="true")
    assert "kernel reference" in capfd.readouterr().err


@pytest.mark.parametrize("pair", [(1, 4, False), (2, 4, True), (3, 3, True), (4, 4, False)],
                         ids=pair_id)
def test_lut_kernel_runs_every_bit_pair_and_says_so(pair, rng, delegate_library, capfd):
    # The LUT kernel supports every bit pair: kernel=lut never falls back for bit widths.
    case = cases.conv_case(rng, *pair, exact=False)
    out = run(case, "tf", kernel="lut", verbose="true")
    assert "kernel lut/" in capfd.readouterr().err
    assert_bitwise_equal(out, run(case, "tf", kernel="reference"), case, "lut vs reference")


def test_unknown_kernel_is_rejected(rng, delegate_library):
    case = cases.conv_case(rng, 1, 1, True, exact=False)
    with pytest.raises(Exception, match="kernel must be auto, bitserial, int, lut or reference"):
        run(case, "tf", kernel="table")
