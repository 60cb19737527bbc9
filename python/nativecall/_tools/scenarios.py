"""The scenarios behind ``python -m nativecall demo`` and ``bench``.

Each scenario does one job several ways, checks that they agree, and exposes each way
as a zero-argument callable to time:

- ``python``: the pure-Python way (a Python callable handed to scipy, a Python loop);
- ``nativecall``: the same job with a ``@nativecall.jit`` kernel;
- ``c`` / ``cython``: the same function compiled by gcc or Cython, the reference
  native speed (built at run time; absent without gcc or Cython);
- ``numba``: Numba's way, when Numba is installed.
"""

from __future__ import annotations

import ctypes
import math
import os
import subprocess
import sys
import sysconfig
import tempfile
import time

import numpy as np
from scipy import LowLevelCallable, integrate, ndimage, optimize, special
from scipy.special import cython_special

import nativecall
from nativecall import optimize as nco


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


# ---------------------------------------------------------------------------- the functions


def py_damped(x, a, w):
    return math.exp(-a * x * x) * math.cos(w * x)


def py_range(values, n, out, w):
    lo = values[0]
    hi = values[0]
    for i in range(1, n):
        lo = min(lo, values[i])
        hi = max(hi, values[i])
    out[0] = w * (hi - lo)
    return 1


def py_root_f(x, c):
    return x * x * x - 2.0 * x - c


def py_special(x):
    return cython_special.gamma(x) * cython_special.erf(x) + cython_special.jv(0.5, x)


def py_smooth(x):
    return x * x * (3.0 - 2.0 * x)


C_SOURCE = r"""
#include <math.h>
#include <stddef.h>
#include <stdint.h>
double damped_nd(int n, double *xx) { double x = xx[0], a = xx[1], w = xx[2]; return exp(-a * x * x) * cos(w * x); }
int range_filter(double *values, ptrdiff_t n, double *out, void *data) {
    double lo = values[0], hi = values[0];
    for (ptrdiff_t i = 1; i < n; i++) { lo = values[i] < lo ? values[i] : lo; hi = values[i] > hi ? values[i] : hi; }
    out[0] = *(double *)data * (hi - lo);
    return 1;
}
double smooth(double x) { return x * x * (3.0 - 2.0 * x); }
"""

CYTHON_SOURCE = """
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
from nativecall cimport function_pointer
from scipy.optimize.cython_optimize cimport brentq

ctypedef double (*unary_t)(double) noexcept nogil

cdef double root_f(double x, void *args) noexcept nogil:
    return x * x * x - 2.0 * x - (<double *> args)[0]

def roots(double[:] c, double a, double b, double[:] out):
    cdef Py_ssize_t i
    cdef double ci
    with nogil:
        for i in range(c.shape[0]):
            ci = c[i]
            out[i] = brentq(root_f, a, b, &ci, 2e-12, 4 * 2.220446049250313e-16, 100, NULL)

cdef double smooth(double x) noexcept nogil:
    return x * x * (3.0 - 2.0 * x)

cdef unary_t smooth_pointer = smooth

def sum_pointer(double[:] xs):
    # A cdef function called through a function pointer: the native baseline.
    cdef double s = 0.0
    cdef Py_ssize_t i
    cdef unary_t fp = smooth_pointer
    with nogil:
        for i in range(xs.shape[0]):
            s += fp(xs[i])
    return s

def sum_kernel(f, double[:] xs):
    cdef unary_t fp = <unary_t> function_pointer(f, b"double (double)")
    cdef double s = 0.0
    cdef Py_ssize_t i
    with nogil:
        for i in range(xs.shape[0]):
            s += fp(xs[i])
    return s
"""


class Build:
    """Native reference code compiled for this run (gcc and Cython), in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nativecall-bench-")
        self.c = self._build_c()
        self.cython, self.cython_error = self._build_cython()

    def _build_c(self):
        src, lib = os.path.join(self.dir, "ref.c"), os.path.join(self.dir, "libref.so")
        with open(src, "w") as f:
            f.write(C_SOURCE)
        try:
            subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", lib, src, "-lm"], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return ctypes.CDLL(lib)

    def _build_cython(self):
        if _optional("Cython") is None:
            return None, "Cython is not installed"
        from Cython.Build import cythonize

        name = "nativecall_bench_ref"
        pyx = os.path.join(self.dir, name + ".pyx")
        with open(pyx, "w") as f:
            f.write(CYTHON_SOURCE)
        cwd = os.getcwd()
        try:
            os.chdir(self.dir)
            cythonize([name + ".pyx"], quiet=True, include_path=[nativecall.get_include()])
            target = name + sysconfig.get_config_var("EXT_SUFFIX")
            subprocess.run(
                ["gcc", "-O2", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}",
                 f"-I{nativecall.get_include()}", "-o", target, name + ".c"],
                check=True, capture_output=True,
            )  # fmt: skip
        except Exception as e:  # a build problem makes the Cython column empty, not the run fail
            return None, str(e)
        finally:
            os.chdir(cwd)
        sys.path.insert(0, self.dir)
        try:
            return __import__(name), None
        finally:
            sys.path.remove(self.dir)


class Scenario:
    name = ""
    unit = "per call"

    def __init__(self, build):
        self.ways = {}
        self.compile = {}
        self.results = {}

    def timed_compile(self, label, make):
        t0 = time.perf_counter()
        out = make()
        self.compile[label] = time.perf_counter() - t0
        return out

    def check(self):
        """Every way's result agrees with the Python way's."""
        ref = self.results["python"]
        return all(np.allclose(v, ref, rtol=1e-12, atol=0, equal_nan=True) for v in self.results.values())

    def scale(self, way):
        """Multiplier from a timed call to the scenario's unit (a Python loop may run a sample)."""
        return 1.0


class Quad(Scenario):
    name = "quad, small integrand (args=)"
    unit = "per quad call"

    def __init__(self, build):
        super().__init__(build)
        args = (0.7, 3.0)

        def make():
            @nativecall.jit("float64(float64, float64, float64)")
            def damped(x, a, w):
                return math.exp(-a * x * x) * math.cos(w * x)

            return damped.lowlevelcallable("double (int, double *)")

        llc = self.timed_compile("nativecall", make)
        self.ways["python"] = lambda: integrate.quad(py_damped, 0.0, 5.0, args=args)[0]
        self.ways["nativecall"] = lambda: integrate.quad(llc, 0.0, 5.0, args=args)[0]
        if build.c is not None:
            c_llc = LowLevelCallable(_c_capsule(build.c.damped_nd, "double (int, double *)"))
            self.ways["c"] = lambda: integrate.quad(c_llc, 0.0, 5.0, args=args)[0]
        numba = _optional("numba")
        if numba is not None:

            def make_numba():
                @numba.cfunc("float64(intc, CPointer(float64))")
                def nb(n, xx):
                    return math.exp(-xx[1] * xx[0] * xx[0]) * math.cos(xx[2] * xx[0])

                return LowLevelCallable(nb.ctypes)

            nb_llc = self.timed_compile("numba", make_numba)
            self.ways["numba"] = lambda: integrate.quad(nb_llc, 0.0, 5.0, args=args)[0]
        self.results = {k: f() for k, f in self.ways.items()}


class Filter(Scenario):
    name = "ndimage.generic_filter 3x3, 512x512"
    unit = "per filter"

    def __init__(self, build):
        super().__init__(build)
        image = np.random.default_rng(0).random((512, 512))
        w = 2.0

        def make():
            @nativecall.jit("int32(float64*, intp, float64*, float64)")
            def range_filter(values, n, out, w):
                lo = values[0]
                hi = values[0]
                for i in range(1, n):
                    lo = min(lo, values[i])
                    hi = max(hi, values[i])
                out[0] = w * (hi - lo)
                return 1

            return range_filter.lowlevelcallable("int (double *, npy_intp, double *, void *)", user_data=(w,))

        llc = self.timed_compile("nativecall", make)
        self.ways["python"] = lambda: ndimage.generic_filter(image, lambda v: w * (v.max() - v.min()), size=3)
        self.ways["nativecall"] = lambda: ndimage.generic_filter(image, llc, size=3)
        if build.c is not None:
            self._w = ctypes.c_double(w)
            c_llc = LowLevelCallable(
                _c_capsule(build.c.range_filter, "int (double *, npy_intp, double *, void *)"),
                ctypes.cast(ctypes.pointer(self._w), ctypes.c_void_p),
            )
            self.ways["c"] = lambda: ndimage.generic_filter(image, c_llc, size=3)
        numba = _optional("numba")
        if numba is not None:

            def make_numba():
                @numba.cfunc("intc(CPointer(float64), intp, CPointer(float64), voidptr)")
                def nb(values, n, out, data):
                    weight = numba.carray(data, 1, numba.float64)[0]
                    lo = values[0]
                    hi = values[0]
                    for i in range(1, n):
                        lo = min(lo, values[i])
                        hi = max(hi, values[i])
                    out[0] = weight * (hi - lo)
                    return 1

                self._nb_w = ctypes.c_double(w)
                return LowLevelCallable(nb.ctypes, ctypes.cast(ctypes.pointer(self._nb_w), ctypes.c_void_p),
                                        signature="int (double *, npy_intp, double *, void *)")  # fmt: skip

            nb_llc = self.timed_compile("numba", make_numba)
            self.ways["numba"] = lambda: ndimage.generic_filter(image, nb_llc, size=3)
        self.results = {k: f() for k, f in self.ways.items()}


class Roots(Scenario):
    name = "100 000 brentq roots"
    unit = "for 100 000 roots"
    SAMPLE = 50  # the Python loop runs every 50th problem; its time is scaled up

    def __init__(self, build):
        super().__init__(build)
        c = np.linspace(1.0, 50.0, 100_000)
        self.c = c

        def make():
            @nativecall.jit("float64(float64, float64)")
            def root_f(x, c):
                return x * x * x - 2.0 * x - c

            return root_f

        f = self.timed_compile("nativecall", make)
        sample = c[:: self.SAMPLE]
        self.ways["python"] = lambda: np.array([optimize.brentq(py_root_f, 0.0, 5.0, args=(ci,)) for ci in sample])
        self.ways["nativecall"] = lambda: nco.brentq(f, 0.0, 5.0, args=(c,))
        if build.cython is not None:
            out = np.empty_like(c)

            def cy():
                build.cython.roots(c, 0.0, 5.0, out)
                return out

            self.ways["cython"] = cy
        self.results = {k: f() for k, f in self.ways.items()}

    def check(self):
        ref = self.results["python"]
        return all(np.array_equal(v[:: self.SAMPLE], ref) for k, v in self.results.items() if k != "python")

    def scale(self, way):
        return self.SAMPLE if way == "python" else 1.0


class Special(Scenario):
    name = "quad of gamma·erf + jv (Cython calls)"
    unit = "per quad call"

    def __init__(self, build):
        super().__init__(build)

        def make():
            @nativecall.jit("float64(float64)")
            def mix(x):
                return cython_special.gamma(x) * cython_special.erf(x) + cython_special.jv(0.5, x)

            return mix.lowlevelcallable()

        llc = self.timed_compile("nativecall", make)

        def ufuncs(x):
            return special.gamma(x) * special.erf(x) + special.jv(0.5, x)

        self.ways["python"] = lambda: integrate.quad(ufuncs, 0.5, 4.0)[0]
        self.ways["nativecall"] = lambda: integrate.quad(llc, 0.5, 4.0)[0]
        self.results = {k: f() for k, f in self.ways.items()}


class CythonLoop(Scenario):
    name = "Cython loop calling f(x), 10⁶ calls"
    unit = "per loop"

    def __init__(self, build):
        super().__init__(build)
        xs = np.linspace(0.0, 1.0, 1_000_000)

        def make():
            @nativecall.jit("float64(float64)")
            def smooth(x):
                return x * x * (3.0 - 2.0 * x)

            return smooth

        kernel = self.timed_compile("nativecall", make)
        sample = xs[::100]
        self.ways["python"] = lambda: sum(py_smooth(x) for x in sample.tolist())
        if build.cython is not None:
            self.ways["nativecall"] = lambda: build.cython.sum_kernel(kernel, xs)
            self.ways["cython"] = lambda: build.cython.sum_pointer(xs)
        self.results = {k: f() for k, f in self.ways.items()}

    def check(self):
        ref = self.results["python"] * 100
        return all(math.isclose(v, ref, rel_tol=1e-3) for k, v in self.results.items() if k != "python")

    def scale(self, way):
        return 100.0 if way == "python" else 1.0


class NumbaLoop(Scenario):
    name = "njit loop calling a kernel, 10⁶ calls"
    unit = "per loop"

    def __init__(self, build):
        super().__init__(build)
        numba = _optional("numba")
        xs = np.linspace(0.0, 1.0, 1_000_000)
        sample = xs[::100]
        self.ways["python"] = lambda: sum(py_smooth(x) for x in sample.tolist())
        if numba is not None:

            def make():
                @nativecall.jit("float64(float64)")
                def smooth(x):
                    return x * x * (3.0 - 2.0 * x)

                return smooth.numba

            g = self.timed_compile("nativecall", make)

            @numba.njit
            def total(f, xs):
                s = 0.0
                for x in xs:
                    s += f(x)
                return s

            self.ways["nativecall"] = lambda: total(g, xs)
            if build.c is not None:
                # The same loop calling gcc's code through a C function pointer: what any
                # call Numba cannot inline costs.
                c_smooth = build.c.smooth
                c_smooth.restype, c_smooth.argtypes = ctypes.c_double, [ctypes.c_double]
                self.ways["c"] = lambda: total(c_smooth, xs)
                total(c_smooth, xs[:10])

            def make_numba():
                smooth_nb = numba.njit(py_smooth)

                @numba.njit
                def total_nb(xs):
                    s = 0.0
                    for x in xs:
                        s += smooth_nb(x)
                    return s

                total_nb(xs[:10])
                return total_nb

            total_nb = self.timed_compile("numba", make_numba)
            self.ways["numba"] = lambda: total_nb(xs)
            total(g, xs[:10])  # compile the njit caller before timing
        self.results = {k: f() for k, f in self.ways.items()}

    check = CythonLoop.check
    scale = CythonLoop.scale


SCENARIOS = [Quad, Filter, Roots, Special, CythonLoop, NumbaLoop]

WAYS = ["python", "nativecall", "c", "cython", "numba"]


def calibrate(fn, min_time):
    """How many calls of ``fn`` take at least ``min_time`` seconds."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= min_time or number >= 1 << 20:
            return number
        number *= 2


def measure(scenario, repeats, min_time):
    """Median seconds per scenario unit for every way, the ways interleaved round by round
    so that load on the machine affects them alike."""
    import statistics

    numbers = {k: calibrate(f, min_time) for k, f in scenario.ways.items()}
    samples = {k: [] for k in scenario.ways}
    for _ in range(repeats):
        for k, f in scenario.ways.items():
            n = numbers[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[k].append((time.perf_counter() - t0) / n * scenario.scale(k))
    return {k: statistics.median(v) for k, v in samples.items()}


def _c_capsule(cfunc, signature):
    """A capsule named `signature` for a ctypes function (as a C library would export)."""
    return nativecall.NativeCallable.from_address(
        ctypes.cast(cfunc, ctypes.c_void_p).value, signature, owner=cfunc, name=cfunc.__name__
    ).capsule()
