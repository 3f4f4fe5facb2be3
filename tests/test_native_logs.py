"""native_logs.captured: TensorFlow's native log lines go to a file while a command runs, and
Python's own stderr keeps working, during the command and after it."""

import logging
import os
import sys

from bitlite.converter import native_logs


def test_a_logger_made_while_captured_still_writes_after(monkeypatch, capfd):
    # As on a terminal: Python's stderr is descriptor 2 itself (not pytest's capture object).
    monkeypatch.setattr(sys, "stderr", open(2, "w", closefd=False))
    with native_logs.captured():
        os.write(2, b"native line\n")
        handler = logging.StreamHandler(sys.stderr)  # as TensorFlow's logger on first use
        handler.stream.write("during\n")
    handler.stream.write("after\n")
    handler.stream.flush()
    err = capfd.readouterr().err
    assert "during\nafter\n" in err
    assert "native line" not in err
