"""colab/quickstart.ipynb runs top to bottom in short mode and the converted model agrees with Keras.

The notebook runs in a Jupyter kernel of this very interpreter, with this process's environment
(PYTHONPATH, BITLITE_DELEGATE_LIBRARY, TF_USE_LEGACY_KERAS ...), so it tests the same bitlite
as the rest of the suite. Offline it takes the sklearn-digits fallback.
"""

import re
import sys
from pathlib import Path

import pytest

from support.checks import skip_or_fail

NOTEBOOK = Path(__file__).resolve().parent.parent / "colab" / "quickstart.ipynb"
AGREEMENT_LINE = re.compile(r"Keras QAT vs TFLite arg-max agreement\s+([0-9.]+)")


@pytest.fixture
def kernel_env(tmp_path, monkeypatch, delegate_library):
    """A `python3` kernelspec that starts sys.executable, found first through JUPYTER_PATH.

    The default spec may say plain `python` or belong to another environment; this one cannot.
    """
    try:
        from ipykernel.kernelspec import install
    except ImportError:
        skip_or_fail("ipykernel is not installed (pip install '.[test]')")
    prefix = tmp_path / "jupyter"
    install(kernel_name="python3", prefix=str(prefix))  # writes argv [sys.executable, ...]
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("BITLITE_NOTEBOOK_SHORT", "1")
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")


def test_quickstart_notebook_runs_and_agrees(kernel_env, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable, spec.argv

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), (
        "the notebook is stored with outputs; clear them")
    run_dir = tmp_path / "run"  # the notebook writes its .tflite into its working directory
    run_dir.mkdir()
    # A cell that raises stops the run with CellExecutionError (allow_errors is off).
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(run_dir)}})
    client.execute()

    results = [cell for cell in nb.cells if "results" in cell.metadata.get("tags", [])]
    assert len(results) == 1, "the notebook needs exactly one cell tagged 'results'"
    text = "".join(output.get("text", "") for output in results[0].outputs
                   if output.output_type == "stream")
    match = AGREEMENT_LINE.search(text)
    assert match, f"no agreement line in the results cell output:\n{text}"
    assert float(match.group(1)) == 1.0, f"Keras and bitlite TFLite disagree:\n{text}"
    # Agreement means little if the model predicts one class for everything (~0.1 on these
    # balanced test sets). The short run reaches ~0.99 on the digits (offline); 0.2, twice
    # chance, is a bar the CIFAR-10 short run should clear too (unmeasured here: no network).
    accuracy = re.search(r"bitlite TFLite accuracy\s+([0-9.]+)", text)
    assert accuracy and float(accuracy.group(1)) > 0.2, f"the model did not learn:\n{text}"
    assert list(run_dir.glob("*.tflite")), "the notebook wrote no .tflite"
