"""Keeping TensorFlow's native log lines out of the command line's output.

TensorFlow's C++ code (start-up lines, cuInit errors on machines without a GPU, the MLIR
converter's warnings) writes straight to file descriptor 2, and part of it ignores
TF_CPP_MIN_LOG_LEVEL. While a command runs TensorFlow, descriptor 2 goes to a temporary file;
Python's sys.stderr keeps writing to the real stderr, so bitlite's own progress and error lines
still show. If the command ends in an unexpected exception (not the OSError / ValueError of
bad input, which the command reports in one line), the captured log is replayed: it is then
the best clue there is.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

_STDERR = 2


@contextlib.contextmanager
def captured():
    sys.stderr.flush()
    real_stderr = os.dup(_STDERR)
    log = tempfile.TemporaryFile()
    os.dup2(log.fileno(), _STDERR)
    python_stderr = sys.stderr
    if _writes_to_descriptor(python_stderr, _STDERR):
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(real_stderr), "wb"),
                                      write_through=True)
    try:
        yield
    except (OSError, ValueError):  # bad input: the command says what is wrong in one line
        _restore(real_stderr, python_stderr)
        raise
    except BaseException:
        _restore(real_stderr, python_stderr)
        log.seek(0)
        sys.stderr.write(log.read().decode(errors="replace"))
        raise
    else:
        _restore(real_stderr, python_stderr)
    finally:
        log.close()


def _restore(real_stderr: int, python_stderr):
    if sys.stderr is not python_stderr:
        # Flushed, not closed: a logger made while the command ran (TensorFlow's, on first use)
        # holds this stream and writes to the real stderr through it; it closes when the last
        # holder lets go.
        sys.stderr.flush()
        sys.stderr = python_stderr
    os.dup2(real_stderr, _STDERR)
    os.close(real_stderr)


def _writes_to_descriptor(stream, descriptor: int) -> bool:
    """Whether a text stream is backed by the descriptor (not so under pytest's capsys)."""
    try:
        return stream.fileno() == descriptor
    except (AttributeError, OSError, ValueError):
        return False
