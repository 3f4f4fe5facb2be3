# bitlite developer entry points. The two that matter:
#   make demo   train a W2A2 CNN on bundled digits, convert, run with the delegate, print results
#   make test   the whole test suite (C++ unit tests, Python tests, tflite-runtime env)
PYTHON ?= python3
VENV := .venv
TFLRT_VENV := .venv-tflite-runtime
PY := $(VENV)/bin/python
BUILD := build

.PHONY: demo test test-cc test-py install wheel clean

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

# bitlite itself (C++ delegate built by scikit-build-core), rebuilt incrementally every time.
install: $(VENV)/.deps
	$(PY) -m pip install -q --no-deps --no-build-isolation --force-reinstall .

demo: install
	TF_USE_LEGACY_KERAS=1 $(PY) bench/digits_demo.py

test-cc:
	cmake -S cc -B $(BUILD)/cc-tests -G Ninja -DBITLITE_BUILD_TESTS=ON >/dev/null
	cmake --build $(BUILD)/cc-tests
	ctest --test-dir $(BUILD)/cc-tests --output-on-failure

test-py: install $(TFLRT_VENV)/.deps
	BITLITE_TFLITE_RUNTIME_PYTHON=$(abspath $(TFLRT_VENV))/bin/python \
	TF_USE_LEGACY_KERAS=1 $(PY) -m pytest -q tests

test: test-cc test-py

wheel: $(VENV)/.deps
	$(PY) -m pip wheel --no-deps --no-build-isolation -w dist .

clean:
	rm -rf $(BUILD) dist
