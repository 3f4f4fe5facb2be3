"""The Android build (`make aar`): ELF facts of the libraries and the AAR's layout.

What the Android loader and an app's Gradle build rely on, checked from the files alone (no
device here). BITLITE_ANDROID_BUILD is tools/android/build.sh's output directory (default
build/android) and the AAR is looked for in dist/.
"""
import os
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BITLITE_ANDROID_BUILD", REPO / "build" / "android"))
ABIS = ("arm64-v8a", "armeabi-v7a")
DELEGATE = "libbitlite_delegate.so"
JNI = "libbitlite_jni.so"
LIBRARIES = [BUILD / abi / name for abi in ABIS for name in (DELEGATE, JNI)]
STUB_LIBRARIES = ("libc.so", "libdl.so", "libm.so")
# armv7 VFP has no round-to-integer instruction: std::nearbyint calls libm's nearbyintf.
BIONIC_NEEDED = {"arm64-v8a": ["libc.so", "libdl.so"],
                 "armeabi-v7a": ["libm.so", "libc.so", "libdl.so"]}
# What `readelf -h` says: the machine, and for ARM the float ABI of armeabi-v7a (softfp: floats
# passed in core registers, which the ELF header calls soft-float).
ELF_HEADER = {"arm64-v8a": ["AArch64"], "armeabi-v7a": ["ARM", "soft-float ABI"]}
PAGE_16K = 16384
# The delegate measured 707 KB stripped (2026-12-04) and 1,003 KB on arm64-v8a (2026-12-07,
# with Winograd, the W8A8 rows and the fused ops); the bound, a quarter above that, catches an
# unstripped build (several MB) or libc++ pulled in wholesale.
DELEGATE_MAX_BYTES = 1_250_000


def library_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def readelf(*args: str, path: Path) -> str:
    assert path.is_file(), f"{path} missing: run `make android`"
    return subprocess.run(["readelf", "-W", *args, str(path)], check=True,
                          capture_output=True, text=True).stdout


def needed(path: Path) -> list[str]:
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", readelf("-d", path=path))


def dynamic_symbols(path: Path) -> list[tuple[str, str, str]]:
    """(binding, section index, name with @version) of each dynamic symbol but the null one.
    readelf may append the version index, "(2)", after the name."""
    rows = []
    for line in readelf("--dyn-syms", path=path).splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0].endswith(":"):
            rows.append((fields[4], fields[6], fields[7]))
    return rows


def symbol_list(library: str) -> set[str]:
    text = (REPO / "tools" / "android" / f"{library.removesuffix('.so')}.symbols").read_text()
    return {line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")}


@pytest.mark.parametrize("abi", ABIS)
def test_delegate_needs_only_bionic_libraries(abi):
    assert needed(BUILD / abi / DELEGATE) == BIONIC_NEEDED[abi]


@pytest.mark.parametrize("abi", ABIS)
def test_jni_glue_needs_the_delegate_and_bionic_only(abi):
    assert needed(BUILD / abi / JNI) == ["libbitlite_delegate.so", "libc.so", "libdl.so"]


@pytest.mark.parametrize("path", LIBRARIES, ids=library_id)
def test_every_bionic_import_is_versioned_LIBC_and_in_our_symbol_lists(path):
    declared = set().union(*(symbol_list(lib) for lib in STUB_LIBRARIES))
    ours = {"tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate"}
    imports = [name for _, index, name in dynamic_symbols(path) if index == "UND"]
    assert imports, "no imports read: readelf output format changed?"
    for name in imports:
        base, _, version = name.partition("@")
        if base in ours:
            continue
        assert version == "LIBC" and base in declared, name


@pytest.mark.parametrize("abi", ABIS)
def test_delegate_exports_exactly_the_plugin_functions(abi):
    exports = {name for binding, index, name in dynamic_symbols(BUILD / abi / DELEGATE)
               if index != "UND" and binding in ("GLOBAL", "WEAK")}
    assert exports == {"tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate"}


@pytest.mark.parametrize("abi", ABIS)
def test_jni_glue_exports_exactly_its_native_methods(abi):
    exports = {name for binding, index, name in dynamic_symbols(BUILD / abi / JNI)
               if index != "UND" and binding in ("GLOBAL", "WEAK")}
    assert exports == {"Java_org_bitlite_BitliteDelegate_nativeCreate",
                       "Java_org_bitlite_BitliteDelegate_nativeDestroy"}


@pytest.mark.parametrize("path", LIBRARIES, ids=library_id)
def test_loadable_on_16k_page_devices(path):
    loads = [line.split() for line in readelf("-l", path=path).splitlines()
             if line.split()[:1] == ["LOAD"]]
    assert loads
    for load in loads:
        alignment, offset, vaddr = int(load[-1], 16), int(load[1], 16), int(load[2], 16)
        assert alignment % PAGE_16K == 0 and offset % PAGE_16K == vaddr % PAGE_16K, load


@pytest.mark.parametrize("path", LIBRARIES, ids=library_id)
def test_no_text_relocations_and_stripped(path):
    assert "TEXTREL" not in readelf("-d", path=path)
    assert ".symtab" not in readelf("-S", path=path)


@pytest.mark.parametrize("path", LIBRARIES, ids=library_id)
def test_machine_and_float_abi(path):
    header = readelf("-h", path=path)
    machine = re.search(r"Machine:\s+(.+)", header).group(1).strip()
    assert machine == ELF_HEADER[path.parent.name][0]
    assert all(fact in header for fact in ELF_HEADER[path.parent.name][1:])


@pytest.mark.parametrize("abi", ABIS)
def test_delegate_is_small(abi):
    assert (BUILD / abi / DELEGATE).stat().st_size <= DELEGATE_MAX_BYTES


def aar_path() -> Path:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    path = REPO / "dist" / f"bitlite-{version}.aar"
    assert path.is_file(), f"{path} missing: run `make aar`"
    return path


def test_aar_holds_manifest_classes_and_both_libraries():
    with zipfile.ZipFile(aar_path()) as aar:
        names = set(aar.namelist())
        manifest = aar.read("AndroidManifest.xml").decode()
    assert names == {"AndroidManifest.xml", "R.txt", "proguard.txt", "classes.jar",
                     *(f"jni/{abi}/{name}" for abi in ABIS for name in (DELEGATE, JNI))}
    assert 'package="org.bitlite"' in manifest and 'minSdkVersion="24"' in manifest


def test_aar_classes_are_ours_only_and_java8():
    with zipfile.ZipFile(aar_path()) as aar, aar.open("classes.jar") as jar_file:
        with zipfile.ZipFile(jar_file) as jar:
            classes = {name: jar.read(name) for name in jar.namelist()}
    # The TFLite stand-in must not shadow the app's real org.tensorflow.lite.Delegate.
    assert set(classes) == {"org/bitlite/BitliteDelegate.class",
                            "org/bitlite/BitliteDelegate$Options.class"}
    for data in classes.values():
        assert data[:4] == b"\xca\xfe\xba\xbe" and int.from_bytes(data[6:8], "big") == 52


def test_aar_libraries_are_the_built_ones():
    with zipfile.ZipFile(aar_path()) as aar:
        for path in LIBRARIES:
            assert aar.read(f"jni/{library_id(path)}") == path.read_bytes(), path
