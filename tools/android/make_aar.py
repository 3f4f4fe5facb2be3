"""Packages the Android library: dist/bitlite-<version>.aar, without Gradle.

    python3 tools/android/make_aar.py BUILD_DIR OUT_DIR

BUILD_DIR holds one directory per ABI (tools/android/build.sh's output); every ABI found
there with both libraries goes into jni/<abi>/. An AAR is a zip: AndroidManifest.xml,
classes.jar, R.txt (no resources), proguard.txt (rules for the app's R8) and the .so files.
"""
import pathlib
import subprocess
import sys
import tempfile
import tomllib
import zipfile

REPO = pathlib.Path(__file__).resolve().parents[2]
ANDROID = REPO / "android"
LIBRARIES = ("libbitlite_delegate.so", "libbitlite_jni.so")
ABIS = ("arm64-v8a", "armeabi-v7a")
MIN_SDK = 24  # as cc/toolchains/android-zig.cmake

MANIFEST = f"""<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="org.bitlite">
    <uses-sdk android:minSdkVersion="{MIN_SDK}" />
</manifest>
"""
# R8 must keep the names JNI looks up.
PROGUARD = "-keepclasseswithmembernames class org.bitlite.** { native <methods>; }\n"


def compile_classes(work: pathlib.Path) -> pathlib.Path:
    """javac for Java 8 bytecode (what every Android toolchain accepts); the TFLite stand-in
    is only on the class path, so it cannot end up in classes.jar."""
    stubs, classes = work / "stubs", work / "classes"
    javac = ["javac", "--release", "8", "-Xlint:all", "-Werror"]
    subprocess.run(javac + ["-d", stubs, *sorted((ANDROID / "java-stubs").rglob("*.java"))],
                   check=True)
    subprocess.run(javac + ["-cp", stubs, "-d", classes,
                            *sorted((ANDROID / "java").rglob("*.java"))], check=True)
    jar = work / "classes.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(classes.rglob("*.class")):
            out.write(path, path.relative_to(classes).as_posix())
    return jar


def main(build_dir: pathlib.Path, out_dir: pathlib.Path) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    abis = [abi for abi in ABIS if all((build_dir / abi / lib).is_file() for lib in LIBRARIES)]
    if not abis:
        sys.exit(f"no ABI in {build_dir} has {' and '.join(LIBRARIES)}: run `make android`")
    out_dir.mkdir(parents=True, exist_ok=True)
    aar = out_dir / f"bitlite-{version}.aar"
    with tempfile.TemporaryDirectory() as work, zipfile.ZipFile(aar, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("AndroidManifest.xml", MANIFEST)
        out.writestr("R.txt", "")
        out.writestr("proguard.txt", PROGUARD)
        out.write(compile_classes(pathlib.Path(work)), "classes.jar")
        for abi in abis:
            for lib in LIBRARIES:
                out.write(build_dir / abi / lib, f"jni/{abi}/{lib}")
    print(aar)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
