"""bitlite converter: quantization-aware training with 1-4 bit LSQ quantizers (tfmot) and
conversion to .tflite files whose sub-byte layers are bitlite custom ops.

The names below are imported on first use, so `bitlite --help` and the format writer
(`bitlite.converter.custom_ops`) do not pay for importing TensorFlow.
"""

import importlib
import os

# tfmot and the converter need Keras 2 (tf_keras); this only helps if TensorFlow is not yet
# imported, which is why it sits at the top of the package.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

_EXPORTS = {
    "quantize_model": ".qat",
    "load_qat_model": ".qat",
    "convert": ".conversion",
    "summary": ".model_summary",
    "ConversionError": ".errors",
    "ActivationQuantizer": ".quantizers",
    "WeightQuantizer": ".quantizers",
    "KernelQuantizeConfig": ".quantizers",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)


def __dir__():
    return sorted(list(globals()) + __all__)
