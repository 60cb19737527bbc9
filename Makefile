# nativecall's one task runner. `make demo` and `make test` work on a fresh clone:
# they create .venv, install what they need, build the extension and run.
#
# Any supported CPython: `make test PYTHON=python3.12` uses its own venv (.venv-3.12).
# A `pythonX.Y` that does not run from PATH is looked up in pyenv's versions directory.

ifdef PYTHON
PYTHON_EXE := $(shell if $(PYTHON) -c '' 2>/dev/null; then echo $(PYTHON); \
	else ls -d $(HOME)/.pyenv/versions/*/bin/$(PYTHON) 2>/dev/null | sort -V | tail -n 1; fi)
PYVER := $(shell $(PYTHON_EXE) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYVER),)
$(error PYTHON=$(PYTHON) is not a runnable Python, on PATH or in $(HOME)/.pyenv/versions)
endif
VENV ?= .venv-$(PYVER)
else
PYTHON_EXE := python3
PYVER := $(shell $(PYTHON_EXE) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV ?= .venv
endif
PY := $(VENV)/bin/python
# setuptools: Cython's cythonize imports distutils, which Python 3.12 no longer ships.
PIP_PACKAGES := maturin numpy scipy cython setuptools cffi numba pytest "dask[array]" distributed pythran transonic
# mypy checks the stubs against the built module (stubtest) and the typed example (--strict).
LINT_PACKAGES := mypy scipy-stubs
# `make docs` only (Sphinx 9 needs Python 3.11 or later): not part of the test install.
DOCS_PACKAGES := sphinx==9.0.4 myst-parser==5.2.0
# 3.11 and later run the stable-ABI (abi3) build, the one their wheel ships; 3.10 its own.
MATURIN_FEATURES := $(if $(filter 3.10,$(PYVER)),,--features abi3)
export PATH := $(HOME)/.cargo/bin:$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))
export PYO3_PYTHON := $(abspath $(PY))

.PHONY: demo test test-all build build-release rust-test py-test golden fuzz lint stubs-check wheel wheel-test docs clean

$(VENV)/.installed: Makefile
	test -x $(PY) || $(PYTHON_EXE) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_PACKAGES) $(LINT_PACKAGES)
	touch $@

# The editable install puts the extension into python/nativecall/, shared by every venv; a
# version-specific `_native.cpython-3XY-*.so` left there would shadow `_native.abi3.so`.
STALE_EXTENSION := python/nativecall/_native.cpython-$(subst .,,$(PYVER))-*.so

# Debug build for tests: Cranelift's verifier checks every generated function.
build: $(VENV)/.installed
	rm -f $(STALE_EXTENSION)
	$(VENV)/bin/maturin develop --quiet $(MATURIN_FEATURES)

build-release: $(VENV)/.installed
	rm -f $(STALE_EXTENSION)
	$(VENV)/bin/maturin develop --quiet --release $(MATURIN_FEATURES)

demo: build-release
	$(PY) -m nativecall demo

rust-test:
	cargo test

py-test: build
	$(PY) -m pytest -q tests

test: rust-test py-test

# Everything a release is checked with (.ci/run does the first two steps only): the whole
# suite on 3.11, pytest on every other supported CPython, then the wheels in fresh venvs.
test-all: test
	for version in 3.10 3.12 3.13; do $(MAKE) py-test PYTHON=python$$version || exit 1; done
	$(MAKE) wheel-test

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
	cargo clippy --all-targets --features abi3 -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
	$(PY) tests/check_stubs.py
	$(PY) -m mypy.stubtest nativecall._native
	$(PY) -m mypy --strict examples/typed_quad.py

# The documentation (docs/*.md, the API reference from the built module's docstrings)
# as HTML in docs/_build/html; any warning, such as a reference that does not resolve,
# fails the build (-E: every page is read again, so no warning hides in a cache).
# tests/test_docs.py runs every example the pages show.
$(VENV)/.docs-installed: Makefile | $(VENV)/.installed
	$(PY) -m pip install --quiet $(DOCS_PACKAGES)
	touch $@

docs: build $(VENV)/.docs-installed
	$(PY) -m sphinx -E -W --keep-going -n -q -b html docs docs/_build/html

# Release wheels that need no Rust where they are installed, and the sdist, in dist/:
# one stable-ABI wheel for CPython 3.11 and later (built with this venv's Python, 3.11+),
# one for 3.10 when a python3.10 is found (the buffer protocol is not in 3.10's
# limited API), and the sdist (which builds for whichever Python installs it).
PYTHON310 := $(shell if python3.10 -c '' 2>/dev/null; then command -v python3.10; \
	else ls -d $(HOME)/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null | sort -V | tail -n 1; fi)

wheel: $(VENV)/.installed
	rm -rf dist
	$(VENV)/bin/maturin build --release --features abi3 --interpreter $(abspath $(PY)) --out dist
	$(if $(PYTHON310),env -u PYO3_PYTHON -u VIRTUAL_ENV $(VENV)/bin/maturin build --release --interpreter $(PYTHON310) --out dist,@echo "no python3.10 found: no cp310 wheel")
	$(VENV)/bin/maturin sdist --out dist

# Installs each built wheel into a fresh venv (numpy and scipy only, no Rust on PATH),
# runs a kernel through scipy.integrate.quad and checks the installed size; then
# `pip install .` from a fresh clone of this commit.
wheel-test: wheel
	$(PY) -m pytest -q -m wheel tests/test_wheel.py

clean:
	rm -rf target dist .venv .venv-3.*
