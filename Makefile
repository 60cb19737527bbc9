# nativecall's one task runner. `make demo` and `make test` work on a fresh clone:
# they create .venv, install what they need, build the extension and run.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_PACKAGES := maturin numpy scipy cython cffi numba pytest "dask[array]" distributed pythran transonic
# mypy checks the stubs against the built module (stubtest) and the typed example (--strict).
LINT_PACKAGES := mypy scipy-stubs
export PATH := $(HOME)/.cargo/bin:$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))
export PYO3_PYTHON := $(abspath $(PY))

.PHONY: demo test build build-release rust-test py-test golden fuzz lint stubs-check clean

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

# Rewrite tests/golden/*.clif, the Cranelift IR `cargo test --test golden_clif` compares
# generated code with, after an intended codegen change (review the diff, then commit it).
golden:
	NATIVECALL_UPDATE_GOLDEN=1 cargo test --test golden_clif

# The long fuzz run: 10**6 signatures and 10**4 kernels (times NATIVECALL_FUZZ_SCALE), a
# new seed each time (FUZZ_SEED=n repeats one); new findings are appended to
# tests/fuzz_corpus/, which `make test` replays. Then the differential test, longer.
# Every part runs; the target fails if any found something.
NATIVECALL_FUZZ_SCALE ?= 1
DIFFERENTIAL_SCALE ?= 20
FUZZ_SEED ?= $(shell date +%s)
fuzz: build
	status=0; \
	NATIVECALL_FUZZ_SCALE=$(NATIVECALL_FUZZ_SCALE) $(PY) tests/fuzz/runner.py fuzz_signatures --seed $(FUZZ_SEED) --record || status=1; \
	NATIVECALL_FUZZ_SCALE=$(NATIVECALL_FUZZ_SCALE) $(PY) tests/fuzz/runner.py fuzz_kernels --seed $(FUZZ_SEED) --record || status=1; \
	NATIVECALL_FUZZ_SCALE=$(DIFFERENTIAL_SCALE) NATIVECALL_FUZZ_SEED=$(FUZZ_SEED) $(PY) -m pytest tests/test_jit_differential.py || status=1; \
	exit $$status

lint: $(VENV)/.installed
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features python -- -D warnings
	$(PY) tests/check_stubs.py
	$(PY) -m mypy.stubtest nativecall._native
	$(PY) -m mypy --strict examples/typed_quad.py

clean:
	rm -rf target $(VENV)
