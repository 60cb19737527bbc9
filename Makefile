# nativecall's one task runner. `make demo` and `make test` work on a fresh clone:
# they create .venv, install what they need, build the extension and run.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_PACKAGES := maturin numpy scipy cython cffi numba pytest "dask[array]" distributed
# mypy checks the stubs against the built module (stubtest) and the typed example (--strict).
LINT_PACKAGES := mypy scipy-stubs
export PATH := $(HOME)/.cargo/bin:$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))
export PYO3_PYTHON := $(abspath $(PY))

.PHONY: demo test build build-release rust-test py-test lint stubs-check clean

$(VENV)/.installed: Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_PACKAGES) $(LINT_PACKAGES)
	touch $@

# Debug build for tests: Cranelift's verifier checks every generated function.
build: $(VENV)/.installed
	$(VENV)/bin/maturin develop --quiet

build-release: $(VENV)/.installed
	$(VENV)/bin/maturin develop --quiet --release

demo: build-release
	$(PY) -m nativecall demo

rust-test:
	cargo test

py-test: build
	$(PY) -m pytest -q tests

test: rust-test py-test

lint: $(VENV)/.installed
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features python -- -D warnings
	$(PY) tests/check_stubs.py
	$(PY) -m mypy.stubtest nativecall._native
	$(PY) -m mypy --strict examples/typed_quad.py

clean:
	rm -rf target $(VENV)
