"""bitlite TFLite delegate: runs the Bitlite* custom ops of a converted model.

    interpreter = tf.lite.Interpreter(model_path="model.tflite",
                                      experimental_delegates=[bitlite.delegate.load_delegate()])

The shared library is a standard TFLite external delegate, so the same file also works with
ai_edge_litert and tflite_runtime, and with any runtime's own load_delegate(library_path()).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

__all__ = [
    "DelegateNotLoadedError",
    "Interpreter",
    "library_path",
    "load_delegate",
]

LIBRARY_NAME = "libbitlite_delegate.so"
# Environment override for a library built outside the wheel (development builds, cross builds).
LIBRARY_ENV = "BITLITE_DELEGATE_LIBRARY"
# The runtimes whose interpreters take external delegates: name -> module with Interpreter and
# load_delegate (tf.lite keeps load_delegate under tf.lite.experimental). Lightest first.
RUNTIMES = {
    "litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
    "tf": "tensorflow",
}
_OP_PREFIX = "Bitlite"
_LOAD_HINT = (
    "create the interpreter with the bitlite delegate: "
    "tf.lite.Interpreter(..., experimental_delegates=[bitlite.delegate.load_delegate()]) "
    "(or bitlite.delegate.Interpreter(...), which does it for you)"
)


class DelegateNotLoadedError(RuntimeError):
    """A model with bitlite custom ops was prepared by an interpreter without the delegate."""


def library_path() -> str:
    """Path of the delegate shared library, for any runtime's own load_delegate()."""
    override = os.environ.get(LIBRARY_ENV)
    # The package's folders: in an editable install (`pip install -e .`) the built library
    # lies in site-packages, beside the source folder that holds this file.
    candidates = ([Path(override)] if override
                  else [Path(folder).resolve() / LIBRARY_NAME for folder in __path__])
    path = next((candidate for candidate in candidates if candidate.is_file()), None)
    if path is None:
        where = (f"${LIBRARY_ENV}={override}" if override else
                 f"the package at {', '.join(str(c.parent) for c in candidates)}")
        raise FileNotFoundError(
            f"bitlite delegate library not found in {where}; reinstall bitlite "
            f"(`pip install .` builds it) or point {LIBRARY_ENV} at a built {LIBRARY_NAME}")
    return str(path)


class _Runtime:
    """Interpreter class and load_delegate function of one runtime."""

    def __init__(self, module):
        if module.__name__ == "tensorflow":
            self.interpreter_class = module.lite.Interpreter
            self.load_delegate = module.lite.experimental.load_delegate
        else:
            self.interpreter_class = module.Interpreter
            self.load_delegate = module.load_delegate


def _runtime(runtime: str | None) -> _Runtime:
    """The runtime named, else one already imported, else the first installed."""
    if runtime is not None:
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {sorted(RUNTIMES)}, got {runtime!r}")
        return _Runtime(importlib.import_module(RUNTIMES[runtime]))
    for module_name in RUNTIMES.values():
        if module_name in sys.modules:
            return _Runtime(sys.modules[module_name])
    for module_name in RUNTIMES.values():
        try:
            return _Runtime(importlib.import_module(module_name))
        except ImportError:
            continue
    raise ImportError(
        "no TFLite runtime found: install one of ai-edge-litert, tflite-runtime or tensorflow")


def _options(num_threads, verbose, extra) -> dict:
    options = {key: str(value) for key, value in extra.items()}
    if num_threads is not None:  # validated by the delegate, which names the option
        options["num_threads"] = str(num_threads)
    if verbose:
        options["verbose"] = "true"
    return options


def load_delegate(num_threads: int | None = None, verbose: bool = False, *,
                  runtime: str | None = None, **options):
    """Loads the bitlite delegate for `experimental_delegates=[...]` of any TFLite interpreter.

    num_threads: threads for bitlite ops (default: the interpreter's num_threads).
    verbose: print to stderr which nodes the delegate takes and how it runs them.
    runtime: "litert", "tflite_runtime" or "tf" to pick whose Delegate wrapper is used; by
        default a runtime already imported, else the first installed. The delegate object works
        with every runtime's interpreter.
    Other keyword options are passed to the delegate as strings (see README).
    """
    return _runtime(runtime).load_delegate(library_path(), _options(num_threads, verbose, options))


def _is_missing_delegate_error(error: Exception) -> bool:
    return f"unresolved custom op: {_OP_PREFIX}" in str(error)


_checked_classes: dict[type, type] = {}


def _checked_interpreter_class(base: type) -> type:
    """A subclass of a runtime's Interpreter whose allocate_tensors says how to load bitlite."""
    if base not in _checked_classes:
        def allocate_tensors(self):
            try:
                return base.allocate_tensors(self)
            except RuntimeError as error:
                if _is_missing_delegate_error(error):
                    raise DelegateNotLoadedError(
                        f"this model has bitlite custom ops but no bitlite delegate is loaded: "
                        f"{_LOAD_HINT}. Runtime said: {error}") from error
                raise

        _checked_classes[base] = type(base.__name__, (base,), {
            "allocate_tensors": allocate_tensors, "__module__": __name__})
    return _checked_classes[base]


def Interpreter(model_path: str | None = None, model_content: bytes | None = None, *,
                experimental_delegates=None, num_threads: int | None = None,
                runtime: str | None = None, delegate_options: dict | None = None, **kwargs):
    """A TFLite interpreter of the chosen runtime with the bitlite delegate already loaded.

    experimental_delegates: None loads the bitlite delegate; pass a list to choose yourself
        (then a bitlite model without the delegate raises DelegateNotLoadedError, not the
        runtime's bare "unresolved custom op").
    Other keyword arguments go to the runtime's Interpreter.
    """
    chosen = _runtime(runtime)
    if experimental_delegates is None:
        options = {"num_threads": num_threads, **(delegate_options or {})}
        experimental_delegates = [load_delegate(runtime=runtime, **options)]
    cls = _checked_interpreter_class(chosen.interpreter_class)
    return cls(model_path=model_path, model_content=model_content,
               experimental_delegates=experimental_delegates, num_threads=num_threads, **kwargs)
