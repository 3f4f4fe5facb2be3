"""Child process for test_bad_input.py: runs model files that may crash the delegate.

    python bad_model_runner.py RUNTIME CASE_DIR NAME [NAME ...]

For each NAME it runs CASE_DIR/NAME.tflite with the inputs in CASE_DIR/NAME.npz (and the
delegate options in CASE_DIR/NAME.json, if there is one) through
bitlite.delegate.Interpreter (harness.run_model), saves the output as CASE_DIR/NAME.out.npy
and prints one line
    BITLITE-RESULT {"case": NAME, "outcome": "ok"|"raised", "type": ..., "message": ...}
A segfault or abort ends the process without a line for that case; the parent notices,
records the crash and restarts this script on the cases after it.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from support.harness import run_model  # noqa: E402  (this script's folder, tests/, holds support)

MARKER = "BITLITE-RESULT "


def main(runtime: str, case_dir: str, names: list[str]) -> int:
    for name in names:
        model = (Path(case_dir) / f"{name}.tflite").read_bytes()
        with np.load(Path(case_dir) / f"{name}.npz") as data:
            inputs = [data[f"arr_{i}"] for i in range(len(data.files))]
        options_file = Path(case_dir) / f"{name}.json"
        options = json.loads(options_file.read_text()) if options_file.exists() else None
        try:
            y = run_model(model, inputs, runtime, delegate_options=options)
            np.save(Path(case_dir) / f"{name}.out.npy", y)
            result = {"case": name, "outcome": "ok"}
        except Exception as error:  # every Python-visible failure is a result, not a crash
            result = {"case": name, "outcome": "raised", "type": type(error).__name__,
                      "bases": [c.__name__ for c in type(error).__mro__],
                      "message": str(error)}
        print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
