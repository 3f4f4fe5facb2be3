"""Run by an emulated ARM Python after installing the bitlite wheel: proves the installed
package imports, that its delegate library is built for this machine's architecture, and that
the TFLite runtime there can load it as an external delegate."""

import platform
import sys

import bitlite.delegate

# ELF e_machine values: what the wheel's library must be built for on each platform.
ELF_MACHINE = {"aarch64": 183, "armv7l": 40}

path = bitlite.delegate.library_path()
with open(path, "rb") as library:
    header = library.read(20)
machine = int.from_bytes(header[18:20], "little")
expected = ELF_MACHINE[platform.machine()]
if header[:4] != b"\x7fELF" or machine != expected:
    sys.exit(f"{path}: ELF machine {machine}, expected {expected} for {platform.machine()}")
delegate = bitlite.delegate.load_delegate()
print(f"bitlite {platform.machine()}: {path} loads in {type(delegate).__module__}")
