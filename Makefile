# bitlite developer entry points. The two that matter:
#   make demo   train a W2A2 CNN on bundled digits, convert, run with the delegate, print results
#   make test   the whole test suite: C++ unit tests (x86, and aarch64/armv7 under qemu), Python
#               tests, the tflite-runtime env, and the wheels run in emulated ARM Pythons
PYTHON ?= python3
VENV := .venv
TFLRT_VENV := .venv-tflite-runtime
LCE_VENV := .venv-lce
PY := $(VENV)/bin/python
BUILD := build
ARM_ROOT := $(BUILD)/arm
# ctest runs this many tests at once (qemu runs one core each; the long binaries are sharded).
NPROC := $(shell nproc)

.PHONY: demo test test-cc test-py test-cc-arm test-arm arm-env install wheel wheel-aarch64 \
	wheel-armv7 bench-accuracy bench-kernels bench-arm bench-arm-cycles test-arm-plugin clean

# Heavy third-party packages, reinstalled only when the pins change.
$(VENV)/.deps: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# tflite-runtime 2.14 needs numpy<2 and is tested in an environment of its own.
$(TFLRT_VENV)/.deps:
	$(PYTHON) -m venv $(TFLRT_VENV)
	$(TFLRT_VENV)/bin/pip install -q "tflite-runtime==2.14.0" "numpy<2"
	touch $@

# Larq Compute Engine (the 1-bit peer in bench-kernels) pins its own TensorFlow and numpy<2;
# tf_keras without its dependencies, as LCE's converter needs only its layers.
$(LCE_VENV)/.deps:
	$(PYTHON) -m venv $(LCE_VENV)
	$(LCE_VENV)/bin/pip install -q "tensorflow-cpu==2.21.0" "larq==0.14.0" \
		"larq-compute-engine==0.16.0" "numpy<2"
	$(LCE_VENV)/bin/pip install -q --no-deps "tf_keras==2.21.0"
	touch $@

# bitlite itself (C++ delegate built by scikit-build-core), rebuilt incrementally every time.
install: $(VENV)/.deps
	$(PY) -m pip install -q --no-deps --no-build-isolation --force-reinstall .

demo: install
	TF_USE_LEGACY_KERAS=1 $(PY) -m bench.digits_demo

# The C++ tests twice: built by GCC (the compiler of the wheels), and by clang (Android's and
# most ARM toolchains are clang-only) with the ASan/UBSan/LSan copies only (GCC's tree tests
# the plain core). The sanitized copies are clang's because clang compiles them several times
# faster: the 32 bit-variant tiles of bitserial/bgemm_8x16_avx512vpopcnt.cc took 1,025 s
# under GCC's sanitizers on a busy 2-core machine, 135 s under clang's (load average 16).
test-cc:
	cmake -S cc -B $(BUILD)/cc-tests -G Ninja -DBITLITE_BUILD_TESTS=ON \
		-DBITLITE_HAVE_SANITIZERS=OFF >/dev/null
	cmake --build $(BUILD)/cc-tests
	ctest --test-dir $(BUILD)/cc-tests --output-on-failure -j $(NPROC)

.PHONY: test-cc-clang
test-cc-clang:
	CXX=clang++ cmake -S cc -B $(BUILD)/cc-tests-clang -G Ninja -DBITLITE_BUILD_TESTS=ON \
		-DBITLITE_REQUIRE_SANITIZERS=ON -DBITLITE_BUILD_FUZZERS=ON \
		-DBITLITE_TEST_PLAIN_CORE=OFF >/dev/null
	cmake --build $(BUILD)/cc-tests-clang
	ctest --test-dir $(BUILD)/cc-tests-clang --output-on-failure -j $(NPROC)

# Two pytest workers (pytest-xdist), each module's tests in one of them (loadscope: a module's
# fixtures, such as the deep networks' trained models, are built once): 629-661 s instead of
# 1,166-1,438 s on the 2-core machine (2026-12-05), where CI had reached 2,709 s of its 45
# minutes. The longest modules go first (tests/conftest.py, --no-loadscope-reorder).
test-py: install $(TFLRT_VENV)/.deps
	BITLITE_TFLITE_RUNTIME_PYTHON=$(abspath $(TFLRT_VENV))/bin/python \
	TF_USE_LEGACY_KERAS=1 $(PY) -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder \
		--ignore=tests/arm --ignore=tests/android tests

# Every tf_keras.applications network of tests/test_applications.py (make test runs two).
.PHONY: test-applications
test-applications: install
	BITLITE_ALL_APPLICATIONS=1 TF_USE_LEGACY_KERAS=1 $(PY) -m pytest -q tests/test_applications.py

# Cross-built unit tests under qemu (needs g++-aarch64-linux-gnu, g++-arm-linux-gnueabihf,
# qemu-user), without the sanitizer copies: on aarch64 they take minutes under emulation; on
# armv7 ASan under qemu-arm stopped in conv2d_gemm_test since the W8A8 cases (an internal
# "CHECK failed: asan_poisoning.cpp:36 AddrIsInMem" on the 65,793-channel cases, and with
# those left out every thread waiting on a futex), not understood yet. The sanitized copies
# run on x86 (test-cc-clang) and in the fuzzer.
test-cc-arm:
	BITLITE_ARM_SANITIZERS=0 tools/arm/ctest.sh aarch64
	BITLITE_ARM_SANITIZERS=0 tools/arm/ctest.sh armv7l

# Emulated aarch64 Python + LiteRT and armv7 Python + tflite-runtime with our wheels installed,
# and a Debian 11 (Raspberry Pi OS Bullseye class: glibc 2.31, Python 3.9) aarch64 Python whose
# own pip installs the aarch64 wheel (cached under build/arm, outside git; the Bullseye one
# takes about 50 s to make, 17 s when cached).
# Each Python is its own target, so that `make -j2 arm-env` (make test) sets them up side by
# side: each runs one emulated core.
ARM_ENVS := arm-env-aarch64 arm-env-armv7l arm-env-aarch64-bullseye
.PHONY: $(ARM_ENVS)
arm-env: $(ARM_ENVS)
arm-env-aarch64 arm-env-aarch64-bullseye: wheel-aarch64
arm-env-armv7l: wheel-armv7
$(ARM_ENVS): arm-env-%:
	tools/arm/setup_emulated_python.sh $* $(ARM_ROOT)/$* \
		dist/bitlite-*-py3-none-*_$(firstword $(subst -, ,$*)).whl

# The qemu plugin's instruction counts and cache simulation on a tiny guest program with known
# answers (needs aarch64-linux-gnu-gcc, qemu-user, libglib2.0-dev; seconds once built).
test-arm-plugin: $(VENV)/.deps
	bench/arm/build_plugin.sh
	$(PY) -m pytest -q bench/arm/tests

# One worker: two (a module each) took 164-196 s against 172-177 s (2026-12-06).
TEST_ARM = BITLITE_ARM_ROOT=$(abspath $(ARM_ROOT)) TF_USE_LEGACY_KERAS=1 \
	$(PY) -m pytest -q tests/arm
test-arm: install arm-env
	$(TEST_ARM)

# libFuzzer over the delegate's options parsing, Prepare and Invoke (cc/fuzz, needs clang and
# libclang-rt-14-dev): `make fuzz` runs FUZZ_SECONDS, fuzz-smoke (part of `make test`) 1
# minute (it was 2: CI's 45 minutes needed the time); any crash, sanitizer report, leak or
# kernel differing from the reference fails.
.PHONY: fuzz fuzz-smoke fuzz-build
FUZZ_SECONDS ?= 3600
# The clang test tree: its sanitized core serves the fuzzer too (cc/tests/CMakeLists.txt).
FUZZ_BUILD := $(BUILD)/cc-tests-clang

fuzz-build:
	CXX=clang++ cmake -S cc -B $(FUZZ_BUILD) -G Ninja \
		-DBITLITE_BUILD_FUZZERS=ON >/dev/null
	cmake --build $(FUZZ_BUILD) --target bitlite_ops_fuzzer

fuzz: fuzz-build
	cc/fuzz/run_fuzzer.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	cc/fuzz/run_fuzzer.sh $(FUZZ_BUILD) 60

# Android arm64-v8a and armeabi-v7a libraries, built with zig from PyPI in place of the NDK
# (android/README.md), and the AAR that packages them (dist/bitlite-<version>.aar).
.PHONY: android aar test-android
android:
	tools/android/build.sh arm64-v8a
	tools/android/build.sh armeabi-v7a

aar: android
	$(PYTHON) tools/android/make_aar.py $(BUILD)/android dist

# The libraries' ELF facts and the AAR's layout; the kernels' outputs in the Android build
# against the Linux aarch64 build's (tools/android/kernel_digests.sh), under qemu-aarch64
# without and with dotprod (cortex-a53, cortex-a76); the C++ tests built by the Android
# toolchain, with dotprod (cortex-a76: the dispatch without it is the digests' and Linux
# aarch64's cortex-a53 ctest; `tools/android/qemu_ctest.sh` alone runs both CPUs).
test-android: aar $(VENV)/.deps
	$(PY) -m pytest -q tests/android
	tools/android/qemu_ctest.sh cortex-a76

# $(call beside,A,B): shell command A runs in the background, its output kept in a log and
# printed when it ends, while B runs; fails if either fails.
beside = log=$$(mktemp); ( $(1) ) >$$log 2>&1 & pid=$$!; ( $(2) ); b=$$?; wait $$pid; a=$$?; \
	echo "== beside it: $(1) (exit $$a)"; cat $$log; rm -f $$log; exit $$(( a || b ))

# Every target above, ordered for CI's 2 cores: a step that keeps one core busy runs beside
# one that can use the other. Alone on a fresh clone (/usr/bin/time, 2026-12-06), seconds of
# wall / of CPU: the venvs 108/98, arm-env 280/314, test-arm 273/276, test-arm-plugin 45/44,
# fuzz-smoke 61/63. TEST_ARM, not test-arm: its prerequisites are up to date by then.
test:
	$(call beside,$(MAKE) $(VENV)/.deps $(TFLRT_VENV)/.deps,$(MAKE) test-cc)
	$(MAKE) test-cc-clang test-py test-cc-arm
	$(MAKE) -j2 arm-env
	$(call beside,$(TEST_ARM),$(MAKE) aar)
	$(call beside,$(MAKE) test-arm-plugin,$(MAKE) fuzz-smoke)
	$(MAKE) test-android wheel

# Built with the generic linux_x86_64 tag, then tagged manylinux by what auditwheel finds.
wheel: $(VENV)/.deps
	rm -rf $(BUILD)/wheel-stage
	$(PY) -m pip wheel --no-deps --no-build-isolation -w $(BUILD)/wheel-stage .
	tools/manylinux_retag.sh $(PY) $(BUILD)/wheel-stage/bitlite-*.whl dist

wheel-aarch64:
	tools/arm/build_wheel.sh aarch64 dist

wheel-armv7:
	tools/arm/build_wheel.sh armv7l dist

bench-accuracy: install
	$(PY) -m bench.accuracy

# Instructions per inference under qemu (plugin built from Debian's qemu source package).
bench-arm: install arm-env
	bench/arm/build_plugin.sh
	$(PY) -m bench.arm.bench_insns

# Modelled ms per inference on Raspberry Pi 3B+/4/5 cores (qemu plugin + cache simulation +
# llvm-mca): bench/results/arm_cycles.json, arm_cycles_validation.json, arm_cycles.png.
# matplotlib only for the plot, so it is not in requirements-dev.txt.
bench-arm-cycles: install arm-env
	bench/arm/build_plugin.sh
	$(PY) -m pip install -q matplotlib
	$(PY) -m bench.arm.bench_cycles --fresh

# Whole networks (ResNet-18 224 and 32, ResNet-20, VGG-small, MobileNetV2) at W1A1/W2A2/W4A4
# beside XNNPACK fp32 and int8, 1 and 2 threads: latency, speed-ups, sizes, peak RSS
# (bench/results/whole_model_x86.json; a few minutes once the models are converted and cached).
.PHONY: bench-whole-model
bench-whole-model: install
	TF_USE_LEGACY_KERAS=1 $(PY) -m bench.whole_model

# README's model table: `bitlite bench --arm cortex-a53` on saved QAT models of those networks
# at W1A1/W2A2/W4A4 (bench/results/model_table.json; needs arm-env and the plugin for the A53
# columns, `--no-arm` in ARGS without them). Tens of minutes, most of it ARM emulation, which
# build/arm/bench-runs keeps for the next run.
.PHONY: bench-model-table
bench-model-table: install arm-env
	bench/arm/build_plugin.sh
	TF_USE_LEGACY_KERAS=1 $(PY) -m bench.model_table $(ARGS)

bench-kernels: install $(LCE_VENV)/.deps
	TF_USE_LEGACY_KERAS=1 $(PY) -m bench.kernels.bench_conv --runs 200

clean:
	rm -rf $(BUILD) dist
