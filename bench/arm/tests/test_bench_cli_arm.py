"""`bitlite bench MODEL --arm cortex-a53` for real, on a tiny QAT model: every version emulated
and priced once, then taken from the saved runs. Skips without the emulated Python, the plugin
or LLVM (`make arm-env`, bench/arm/build_plugin.sh): it is a benchmark's path, and make test
builds them before it runs (test-arm, then test-arm-plugin). About half a minute.
"""

import json

import pytest

from bench.arm import bench_cycles, whole_models  # sets TF_USE_LEGACY_KERAS: first

import tf_keras as keras  # noqa: E402

CORE = "cortex-a53"


def tiny_qat_model():
    L = keras.layers
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)  # the W2A2 bitlite op
    float_model = keras.Model(inputs, L.Dense(4)(L.GlobalAveragePooling2D()(x)))
    return whole_models.qat_model(float_model, 2, 2)


def test_bench_models_every_version_once(tmp_path, monkeypatch, capfd):
    missing = bench_cycles.missing_prerequisites()
    if missing:
        pytest.skip("; ".join(missing))
    from bitlite.converter import cli

    saved = tmp_path / "tiny.keras"
    tiny_qat_model().save(saved)
    monkeypatch.chdir(bench_cycles.REPO)  # --arm looks for the checkout from here
    monkeypatch.setattr(bench_cycles, "REPO", tmp_path)  # saved runs: tmp_path/build/arm
    results = []
    for report in (tmp_path / "first.json", tmp_path / "again.json"):
        assert cli.main(["bench", str(saved), "--runs", "1", "--runtimes", "litert",
                         "--arm", CORE, "--json", str(report)]) == 0
        results.append((json.loads(report.read_text())["arm"], capfd.readouterr()))
    (first, output), (again, output_again) = results
    rows = first["results"]
    assert [(r["runtime"], r["cpu"]) for r in rows] == [(v, CORE) for v in
                                                        ("bitlite", "fp32", "int8")]
    for row in rows:
        assert row["instructions"] > 0 and 0 < row["core_only_ms"] <= row["ms"], row
    # The delegate ran the bitlite version on NEON; XNNPACK the others.
    assert "neon" in rows[0]["kernel"] and rows[1]["kernel"] is None, rows
    assert "emulating bitlite, fp32, int8" in output.err
    assert f"({CORE})" in output.out
    # The second run emulates nothing and prices the same measurement the same.
    assert "emulating" not in output_again.err
    unchanged = [{k: v for k, v in row.items() if k != "emulation_s"} for row in rows]
    assert [{k: v for k, v in row.items() if k != "emulation_s"}
            for row in again["results"]] == unchanged
