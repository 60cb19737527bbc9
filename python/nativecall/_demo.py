"""The tour behind ``make demo``: each scenario checks its answer against the pure-Python
way and prints both timings side by side (medians, in one process)."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import statistics
import sys
import time


def _median_time(fn, repeat=7, min_time=0.05):
    """Median seconds per call of ``fn()``, each sample looping long enough to be timed."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= min_time / 5 or number >= 1 << 20:
            break
        number *= 2
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def _fmt(seconds):
    if seconds < 1e-6:
        return f"{seconds * 1e9:7.1f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:7.2f} µs"
    return f"{seconds * 1e3:7.2f} ms"


class Table:
    def __init__(self):
        self.rows = []

    def add(self, scenario, python_way, python_t, native_way, native_t, ok):
        self.rows.append((scenario, python_way, python_t, native_way, native_t, ok))

    def print(self, out=sys.stdout):
        headers = ("scenario", "Python way", "time", "nativecall way", "time", "speed-up", "same answer")
        body = [
            (s, pw, _fmt(pt), nw, _fmt(nt), f"{pt / nt:6.1f}×", "yes" if ok else "NO")
            for s, pw, pt, nw, nt, ok in self.rows
        ]
        widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]
        line = "  ".join("-" * w for w in widths)
        out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths)) + "\n" + line + "\n")
        for r in body:
            out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "\n")


def run() -> int:
    import numpy as np
    from scipy import integrate, optimize, special

    import nativecall

    t0 = time.perf_counter()
    table = Table()
    print("nativecall tour: native functions from every corner of scientific Python, called natively.\n")

    # 1. A Cython function from scipy, found by name and fused signature, straight into quad.
    gamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "double (double)")
    llc = gamma.lowlevelcallable()
    want = integrate.quad(special.gamma, 0.5, 4.0)[0]
    got = integrate.quad(llc, 0.5, 4.0)[0]
    table.add(
        "quad of cython_special.gamma",
        "quad(special.gamma)",
        _median_time(lambda: integrate.quad(special.gamma, 0.5, 4.0)),
        "quad(from_cython(...).lowlevelcallable())",
        _median_time(lambda: integrate.quad(llc, 0.5, 4.0)),
        math.isclose(want, got, rel_tol=1e-13),
    )

    # 2. A C library function through ctypes, handed to scipy with no C written.
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.erfc.restype = ctypes.c_double
    libm.erfc.argtypes = [ctypes.c_double]
    erfc = nativecall.native(libm.erfc).lowlevelcallable()
    want = integrate.quad(math.erfc, -1.0, 2.0)[0]
    got = integrate.quad(erfc, -1.0, 2.0)[0]
    table.add(
        "quad of libm erfc (via ctypes)",
        "quad(math.erfc)",
        _median_time(lambda: integrate.quad(math.erfc, -1.0, 2.0)),
        "quad(native(libm.erfc).lowlevelcallable())",
        _median_time(lambda: integrate.quad(erfc, -1.0, 2.0)),
        math.isclose(want, got, rel_tol=1e-13),
    )

    # 3. A kernel written in Python, compiled by Cranelift, with quad's args passed natively.
    import nativecall._jit  # noqa: F401  (load the frontend first: we time the compile, not the import)

    t_compile = time.perf_counter()

    @nativecall.jit("float64(float64, float64, float64)")
    def damped(x, a, w):
        return math.exp(-a * x) * math.cos(w * x)

    quad_llc = damped.lowlevelcallable("double (int, double *)")
    kernel_compile = time.perf_counter() - t_compile
    want = integrate.quad(damped.py_func, 0.0, 10.0, args=(0.5, 3.0))[0]
    got = integrate.quad(quad_llc, 0.0, 10.0, args=(0.5, 3.0))[0]
    table.add(
        "quad of a @nativecall.jit kernel",
        "quad(python f, args=...)",
        _median_time(lambda: integrate.quad(damped.py_func, 0.0, 10.0, args=(0.5, 3.0))),
        "quad(kernel.lowlevelcallable('double (int, double *)'))",
        _median_time(lambda: integrate.quad(quad_llc, 0.0, 10.0, args=(0.5, 3.0))),
        math.isclose(want, got, rel_tol=1e-13),
    )

    # 4. Calling a Cython function from Python: nativecall's libffi path vs the ufunc.
    jv = nativecall.from_cython("scipy.special.cython_special", "jv", "double (double, double)")
    table.add(
        "one call of jv(2.5, 7.0)",
        "special.jv(2.5, 7.0)",
        _median_time(lambda: special.jv(2.5, 7.0)),
        "from_cython(..., 'jv', ...)(2.5, 7.0)",
        _median_time(lambda: jv(2.5, 7.0)),
        jv(2.5, 7.0) == special.jv(2.5, 7.0),
    )

    # 5. scipy's C root finder (cython_optimize) called from Python with a native callback.
    numba = _optional("numba")
    if numba is not None:
        t_numba = time.perf_counter()

        @numba.cfunc("float64(float64, voidptr)")
        def f(x, data):
            return x * x * x - 2.0 * x - 5.0

        numba_compile = time.perf_counter() - t_numba
        brentq = nativecall.from_cython("scipy.optimize.cython_optimize._zeros", "brentq")
        callback = nativecall.native(f)
        want = optimize.brentq(lambda x: x * x * x - 2.0 * x - 5.0, 2.0, 3.0, xtol=1e-12)
        got = brentq(callback, 2.0, 3.0, None, 1e-12, 4 * np.finfo(float).eps, 100, None)
        table.add(
            "brentq root (callback from Numba)",
            "optimize.brentq(python f)",
            _median_time(lambda: optimize.brentq(lambda x: x * x * x - 2.0 * x - 5.0, 2.0, 3.0, xtol=1e-12)),
            "cython_optimize brentq(native(cfunc))",
            _median_time(lambda: brentq(callback, 2.0, 3.0, None, 1e-12, 4 * np.finfo(float).eps, 100, None)),
            math.isclose(want, got, rel_tol=1e-12),
        )
    else:
        numba_compile = None

    table.print()
    print()
    print("How nativecall found them:")
    print(f"  {gamma!r}")
    print(f"    c_signature: {gamma.c_signature}  (Cython's __pyx_skip_dispatch filled by a generated thunk)")
    print(f"  {nativecall.native(libm.erfc)!r}")
    print(f"  {damped!r}: compiled and adapted to quad in {kernel_compile * 1e3:.2f} ms")
    if numba_compile is not None:
        print(f"  Numba cfunc compiled in {numba_compile * 1e3:.0f} ms; nativecall read its address and signature.")
    print(f"\nTour finished in {time.perf_counter() - t0:.1f} s.")
    return 0


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None
