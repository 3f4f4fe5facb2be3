"""The error the converter raises for models it cannot turn into a bitlite .tflite."""


class ConversionError(ValueError):
    """A layer cannot be converted; the message names it, says why and what to do instead."""
