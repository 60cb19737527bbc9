"""What one call costs, both ways: the ``calls`` section of ``python -m nativecall bench``
(``benches/call_overhead.py`` runs it alone).

Every candidate runs the same loop (``for _ in range(n): f(x)``) in interleaved rounds (a
new order each round); a figure is the median over the rounds in ns per call, with the
empty loop's cost subtracted, and the ratios are to a Python ``def``, a Cython ``def``
doing the same arithmetic, or Numba, as each row of the table states its goal. Absolute
times move with the machine's load; the ratios move much less.

Rows:
- ``float64(float64)`` and ``float64(float64, float64)``: a kernel called from Python;
- ``native(libm.erfc)``: a C function imported from ctypes, called from Python (against a
  Cython ``def`` calling the same libm function);
- ``float64(float64[:])``: a kernel taking a 10-element array, from Python;
- ``from_dlpack``: importing a NumPy array;
- ``njit loop``: a ``numba.njit`` loop calling a kernel against the same loop calling a
  gcc-compiled C function pointer (ns per call inside the loop).
"""

from __future__ import annotations

import ctypes
import ctypes.util
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
from libc.math cimport erfc as c_erfc

def erfc(double x):
    return c_erfc(x)

def one(double x):
    return x * 0.5 + 1.0

def two(double x, double y):
    return x * y + 1.0
"""

C_SOURCE = "double half(double x) { return x * 0.5 + 1.0; }\n"

#: What each row compares against, and its goal (a ratio to that anchor).
GOALS = {
    "float64(float64)": ("cython def", 1.0),
    "float64(float64, float64)": ("cython def", 1.0),
    "native(libm.erfc)": ("cython def calling erfc", 1.0),
    "float64(float64[:])": ("numba njit", 0.5),
    "from_dlpack(numpy array)": ("np.from_dlpack", 1.0),
    "njit loop calling f": ("C function pointer", 1.1),
}

#: The candidate each goal is about, per row.
SUBJECTS = {
    "float64(float64)": "nativecall kernel",
    "float64(float64, float64)": "nativecall kernel",
    "native(libm.erfc)": "native(ctypes erfc)",
    "float64(float64[:])": "nativecall kernel, NumPy array",
    "from_dlpack(numpy array)": "nativecall.from_dlpack",
    "njit loop calling f": "kernel (as an argument)",
}


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
            check=True, capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    sys.path.insert(0, d)
    try:
        return __import__(name)
    finally:
        sys.path.remove(d)


def _c_half():
    """``half`` compiled by ``gcc -O2`` and loaded with ctypes (None without gcc)."""
    d = tempfile.mkdtemp(prefix="nc_bench_c_")
    src, lib = os.path.join(d, "half.c"), os.path.join(d, "libhalf.so")
    with open(src, "w") as f:
        f.write(C_SOURCE)
    try:
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", lib, src], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    fn = ctypes.CDLL(lib).half
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double]
    return fn


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def py_one(x):
    return x * 0.5 + 1.0


def py_two(x, y):
    return x * y + 1.0


def first_element(v):
    return v[0]


def _nogil(fn):
    try:
        return nativecall.native(fn, nogil=True)
    except TypeError:  # a nativecall without nogil=: the default released the GIL
        return nativecall.native(fn)


def candidates():
    """``{row: [(label, function, args)]}``: what the rows called from Python compare."""
    kernel_one = nativecall.jit("float64(float64)")(py_one)
    kernel_two = nativecall.jit("float64(float64, float64)")(py_two)
    cy = _cython_module()
    numba = _optional("numba")
    one = [("python def", py_one), ("math.sqrt", math.sqrt)]
    two = [("python def", py_two)]
    if cy is not None:
        one.append(("cython def", cy.one))
        two.append(("cython def", cy.two))
    if numba is not None:
        one.append(("numba njit", numba.njit("float64(float64)")(py_one)))
        two.append(("numba njit", numba.njit("float64(float64, float64)")(py_two)))
    one.append(("nativecall kernel", kernel_one))
    two.append(("nativecall kernel", kernel_two))

    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    erfc = libm.erfc
    erfc.restype, erfc.argtypes = ctypes.c_double, [ctypes.c_double]
    c = [("python def", py_one), ("math.erfc", math.erfc)]
    if cy is not None:
        c.append(("cython def", cy.one))
        c.append(("cython def calling erfc", cy.erfc))
    c.append(("ctypes", erfc))
    cffi = _optional("cffi")
    if cffi is not None:
        ffi = cffi.FFI()
        ffi.cdef("double erfc(double);")
        c.append(("cffi", ffi.dlopen(ctypes.util.find_library("m")).erfc))
    c.append(("native(ctypes erfc)", nativecall.native(erfc)))
    c.append(("native(ctypes erfc, nogil=True)", _nogil(erfc)))
    rows = {
        "float64(float64)": [(label, f, (0.3,)) for label, f in one],
        "float64(float64, float64)": [(label, f, (0.3, 0.7)) for label, f in two],
        "native(libm.erfc)": [(label, f, (0.3,)) for label, f in c],
    }
    np = _optional("numpy")
    if np is not None:
        v = np.arange(10.0)
        kernel_array = nativecall.jit("float64(float64[:])")(first_element)
        arr = [("python def", first_element, (v,))]
        if numba is not None:
            arr.append(("numba njit", numba.njit("float64(float64[:])")(first_element), (v,)))
        arr.append(("nativecall kernel, NumPy array", kernel_array, (v,)))
        arr.append(("nativecall kernel, nativecall.Array", kernel_array, (nativecall.from_dlpack(v),)))
        rows["float64(float64[:])"] = arr
        rows["from_dlpack(numpy array)"] = [
            ("np.from_dlpack", np.from_dlpack, (v,)),
            ("nativecall.from_dlpack", nativecall.from_dlpack, (v,)),
        ]
    return rows


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


def _bare(n):
    start = time.perf_counter_ns()
    for _ in range(n):
        pass
    return time.perf_counter_ns() - start


def _interleave(cands, rounds, run):
    """``{label: median}`` of ``run(f, args)`` over rounds, the candidates in a new order
    each round."""
    samples = {label: [] for label, _, _ in cands}
    for _ in range(rounds):
        order = list(cands)
        random.shuffle(order)
        for label, f, args in order:
            samples[label].append(run(f, args))
    return {label: statistics.median(s) for label, s in samples.items()}


def _njit_loop_row(rounds, n):
    """ns per call of a ``numba.njit`` loop calling each function (None without Numba)."""
    numba = _optional("numba")
    np = _optional("numpy")
    if numba is None or np is None:
        return None
    c_half = _c_half()
    kernel = nativecall.jit("float64(float64)")(py_one)

    @numba.njit
    def total(f, xs):
        s = 0.0
        for x in xs:
            s += f(x)
        return s

    @numba.njit
    def total_global(xs):
        s = 0.0
        for x in xs:
            s += kernel(x)  # the kernel as a constant: its address compiled in
        return s

    xs = np.linspace(0.0, 1.0, n)
    cands = []
    if c_half is not None:
        cands.append(("C function pointer", total, (c_half, xs)))
    cands.append(("kernel (as an argument)", total, (kernel, xs)))
    cands.append(("kernel.numba (as an argument)", total, (kernel.numba, xs)))
    cands.append(("kernel (as a global)", total_global, (xs,)))
    if c_half is not None:
        cands.append(("native(C function pointer)", total, (nativecall.native(c_half), xs)))
    for _, f, args in cands:
        f(*args)  # compile for each argument type

    def run(f, args):
        t0 = time.perf_counter_ns()
        f(*args)
        return (time.perf_counter_ns() - t0) / n

    return _interleave(cands, rounds, run)


def measure(rounds=15, calls=200_000):
    """``{row: {label: median ns per call}}`` with the bare loop's cost subtracted."""
    out = {}
    for row, cands in candidates().items():
        for _, f, args in cands:  # warm up (and compile, for anything lazy)
            f(*args)
            _loop(f, args, 1000)
        loop = statistics.median(_bare(calls) for _ in range(3)) / calls
        out[row] = _interleave(cands, rounds, lambda f, args: _loop(f, args, calls) / calls - loop)
    loops = _njit_loop_row(rounds, max(calls * 5, 100_000))
    if loops is not None:
        out["njit loop calling f"] = loops
    return out


def report(results):
    """The figures as text: ns per call, ratios, and each row's goal."""
    lines = []
    for row, times in results.items():
        anchor_label, goal = GOALS.get(row, (None, None))
        base = times.get("python def")
        anchor = times.get(anchor_label)
        lines.append(row)
        lines.append(f"  {'':36} {'ns/call':>8} {'× def':>7} {'× ' + str(anchor_label):>20}")
        for label, t in times.items():
            vs_def = f"{t / base:7.2f}" if base else f"{'—':>7}"
            vs_anchor = f"{t / anchor:20.2f}" if anchor else f"{'—':>20}"
            lines.append(f"  {label:36} {t:8.1f} {vs_def} {vs_anchor}")
        subject = SUBJECTS.get(row)
        if anchor and subject in times:
            ratio = times[subject] / anchor
            verdict = "met" if ratio <= goal else "MISSED"
            lines.append(f"  goal: {subject} ≤ {goal}× {anchor_label}: {ratio:.2f}× ({verdict})")
    return "\n".join(lines)


def bench_calls(quick=False):
    """The ``calls`` section: ``(figures, text)``."""
    results = measure(rounds=3 if quick else 15, calls=20_000 if quick else 200_000)
    return results, report(results)
