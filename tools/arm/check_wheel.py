"""Checks a cross-built bitlite wheel before it is tagged and shipped.

    python check_wheel.py WHEEL aarch64|armv7l REPO

Fails unless the wheel holds the Python packages and a delegate library built for ARCH (ELF
class, machine, and for armv7l the hard-float ABI that Raspberry Pi OS and Debian armhf use),
and unless no file in it mentions REPO or the home directory: a wheel must not depend on, or
leak, the machine it was built on.
"""

import os
import struct
import sys
import zipfile

LIBRARY = "bitlite/delegate/libbitlite_delegate.so"
REQUIRED = (LIBRARY, "bitlite/delegate/__init__.py", "bitlite/converter/__init__.py")
# ELF class (1: 32-bit, 2: 64-bit) and e_machine per wheel platform.
TARGETS = {"aarch64": (2, 183), "armv7l": (1, 40)}
EF_ARM_ABI_FLOAT_HARD = 0x400


def elf_problem(data: bytes, arch: str) -> str | None:
    if data[:4] != b"\x7fELF":
        return "not an ELF file"
    elf_class, machine = data[4], struct.unpack_from("<H", data, 18)[0]
    if (elf_class, machine) != TARGETS[arch]:
        return f"ELF class {elf_class} machine {machine}, expected {TARGETS[arch]} for {arch}"
    if arch == "armv7l":
        flags = struct.unpack_from("<I", data, 36)[0]
        if not flags & EF_ARM_ABI_FLOAT_HARD:
            return f"not hard-float (e_flags {flags:#x})"
    return None


def main(wheel: str, arch: str, repo: str) -> int:
    problems = []
    host_paths = [os.path.realpath(repo)]
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        host_paths.append(home)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        problems += [f"missing {name}" for name in REQUIRED if name not in names]
        for name in names:
            data = archive.read(name)
            problems += [f"{name} contains the host path {path}" for path in host_paths
                         if path.encode() in data]
            if name == LIBRARY and (problem := elf_problem(data, arch)):
                problems.append(f"{name}: {problem}")
    for problem in problems:
        print(f"check_wheel: {wheel}: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_wheel: {os.path.basename(wheel)}: {LIBRARY} is {arch}, no host paths")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
