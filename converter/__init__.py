"""bitlite converter: quantization-aware training with 1-4 bit LSQ quantizers (tfmot) and
conversion to .tflite files whose sub-byte layers are bitlite custom ops."""

from .convert import convert
from .errors import ConversionError
from .qat import load_qat_model, quantize_model
from .quantizers import ActivationQuantizer, KernelQuantizeConfig, WeightQuantizer

__all__ = ["quantize_model", "convert", "load_qat_model", "ConversionError",
           "ActivationQuantizer", "WeightQuantizer", "KernelQuantizeConfig"]
