"""What one call from Python costs: nativecall kernels and native functions side by side
with a Python ``def``, ``math.sqrt``, a Cython ``def``, ctypes, cffi and Numba, in one
process.

    python benches/call_overhead.py [--rounds N] [--calls N] [--json FILE]

Every candidate is timed over the same loop (``for _ in range(n): f(x)``) in interleaved
rounds (a new order each round); the figure is the median over the rounds, in ns per
call, with the empty loop's cost subtracted, and the ratios are to a Python ``def`` and
to a Cython ``def`` doing the same arithmetic. Absolute times move with the machine's
load; the ratios move much less.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import math
import os
import random
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

import nativecall

CYTHON_SOURCE = """
def one(double x):
    return x * 0.5 + 1.0

def two(double x, double y):
    return x * y + 1.0
"""


def _cython_module():
    """The Cython ``def`` functions, compiled now (None without Cython or a C compiler)."""
    try:
        from Cython.Build import cythonize
    except ImportError:
        return None
    d = tempfile.mkdtemp(prefix="nc_bench_cy_")
    name = "nc_bench_cy"
    with open(os.path.join(d, name + ".pyx"), "w") as f:
        f.write(CYTHON_SOURCE)
    cwd = os.getcwd()
    os.chdir(d)
    try:
        cythonize([name + ".pyx"], quiet=True, language_level=3)
    finally:
        os.chdir(cwd)
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    try:
        subprocess.run(
            ["gcc", "-O2", "-shared", "-fPIC", f"-I{include}", "-o", os.path.join(d, name + suffix),
             os.path.join(d, name + ".c")],
            check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    sys.path.insert(0, d)
    try:
        return __import__(name)
    finally:
        sys.path.remove(d)


def _numba():
    try:
        import numba
    except ImportError:
        return None
    one = numba.njit("float64(float64)")(lambda x: x * 0.5 + 1.0)
    two = numba.njit("float64(float64, float64)")(lambda x, y: x * y + 1.0)
    return one, two


def candidates():
    """``{row: [(label, function, args)]}``: what each table row compares."""

    def py_one(x):
        return x * 0.5 + 1.0

    def py_two(x, y):
        return x * y + 1.0

    @nativecall.jit("float64(float64)")
    def kernel_one(x):
        return x * 0.5 + 1.0

    @nativecall.jit("float64(float64, float64)")
    def kernel_two(x, y):
        return x * y + 1.0

    cy = _cython_module()
    nb = _numba()
    one = [("python def", py_one), ("math.sqrt", math.sqrt)]
    two = [("python def", py_two)]
    if cy is not None:
        one.append(("cython def", cy.one))
        two.append(("cython def", cy.two))
    if nb is not None:
        one.append(("numba njit", nb[0]))
        two.append(("numba njit", nb[1]))
    one.append(("nativecall kernel", kernel_one))
    two.append(("nativecall kernel", kernel_two))

    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    erfc = libm.erfc
    erfc.restype, erfc.argtypes = ctypes.c_double, [ctypes.c_double]
    c = [("python def", py_one), ("math.erfc", math.erfc)]
    if cy is not None:
        c.append(("cython def", cy.one))
    c.append(("ctypes", erfc))
    try:
        import cffi

        ffi = cffi.FFI()
        ffi.cdef("double erfc(double);")
        c.append(("cffi", ffi.dlopen(ctypes.util.find_library("m")).erfc))
    except ImportError:
        pass
    c.append(("native(ctypes erfc)", nativecall.native(erfc)))
    c.append(("native(ctypes erfc, nogil=True)", _nogil(erfc)))
    return {
        "float64(float64)": [(label, f, (0.3,)) for label, f in one],
        "float64(float64, float64)": [(label, f, (0.3, 0.7)) for label, f in two],
        "native(libm.erfc)": [(label, f, (0.3,)) for label, f in c],
    }


def _nogil(fn):
    try:
        return nativecall.native(fn, nogil=True)
    except TypeError:  # a nativecall without nogil=: the default released the GIL
        return nativecall.native(fn)


def _loop(f, args, n):
    # One loop body per arity, so the loop itself costs the same for every candidate.
    if len(args) == 1:
        (x,) = args
        start = time.perf_counter_ns()
        for _ in range(n):
            f(x)
        return time.perf_counter_ns() - start
    x, y = args
    start = time.perf_counter_ns()
    for _ in range(n):
        f(x, y)
    return time.perf_counter_ns() - start


def _bare(args, n):
    start = time.perf_counter_ns()
    for _ in range(n):
        pass
    return time.perf_counter_ns() - start


def measure(rounds=15, calls=200_000):
    """``{row: {label: median ns per call}}`` with the bare loop's cost subtracted."""
    out = {}
    for row, cands in candidates().items():
        for _, f, args in cands:  # warm up (and compile, for anything lazy)
            f(*args)
            _loop(f, args, 1000)
        samples = {label: [] for label, _, _ in cands}
        for _ in range(rounds):
            order = list(cands)
            random.shuffle(order)
            loop = _bare(cands[0][2], calls) / calls
            for label, f, args in order:
                samples[label].append(_loop(f, args, calls) / calls - loop)
        out[row] = {label: statistics.median(s) for label, s in samples.items()}
    return out


def report(results):
    lines = []
    for row, times in results.items():
        base = times["python def"]
        cy = times.get("cython def")
        lines.append(f"{row}")
        lines.append(f"  {'':34} {'ns/call':>8} {'× def':>7} {'× cython def':>13}")
        for label, t in times.items():
            vs_cy = f"{t / cy:13.2f}" if cy else f"{'—':>13}"
            lines.append(f"  {label:34} {t:8.1f} {t / base:7.2f} {vs_cy}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--json", help="also write the figures to this file")
    a = parser.parse_args(argv)
    results = measure(a.rounds, a.calls)
    print(report(results))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
