"""Code quality of compiled loops: nativecall kernels against the same code in C
(``gcc -O2``, built here into a temporary directory and loaded with ctypes) and Numba
(``njit``/``cfunc``, when installed), side by side in one process.

    python benches/loops.py [--rounds N] [--scale X] [--only SUBSTRING] [--json FILE]

Each row is timed in interleaved rounds (every way once per round, so load on the
machine hits all alike) and reports medians and the ratios nativecall / gcc and
nativecall / Numba, plus the time to compile each kernel (the decorator call, source
to callable code). Every way must compute the same result; a row whose results differ
says so.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import nativecall

# ---------------------------------------------------------------------------- kernels
# Plain Python functions: nativecall.jit and numba.njit compile these very functions;
# the C below is the same code, line for line.


def harmonic(n):
    s = 0.0
    for i in range(n):
        s += 1.0 / (i + 1)
    return s


def horner(n):
    s = 0.0
    for i in range(n):
        x = i * 1e-6
        s += (((3.0 * x - 2.0) * x + 0.5) * x - 1.0) * x + 4.0
    return s


def collatz(n):
    steps = 0
    for k in range(1, n):
        m = k
        while m != 1:
            if m % 2 == 0:
                m = m // 2
            else:
                m = 3 * m + 1
            steps += 1
    return steps


def mandel(n):
    total = 0
    for i in range(n):
        for j in range(n):
            cr = -2.0 + 2.5 * i / n
            ci = -1.25 + 2.5 * j / n
            zr = 0.0
            zi = 0.0
            k = 0
            while k < 50 and zr * zr + zi * zi <= 4.0:
                t = zr * zr - zi * zi + cr
                zi = 2.0 * zr * zi + ci
                zr = t
                k += 1
            total += k
    return total


def powers(n):
    s = 0.0
    for i in range(n):
        x = 1.0 + i * 1e-7
        s += x**2 + 0.5 * x**3 - x**-1 + x**0.5
    return s


def stencil(a, b, sweeps):
    n = a.shape[0]
    m = a.shape[1]
    for s in range(sweeps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                b[i, j] = 0.2 * (a[i, j] + a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                a[i, j] = 0.2 * (b[i, j] + b[i - 1, j] + b[i + 1, j] + b[i, j - 1] + b[i, j + 1])
    return a[n // 2, m // 2]


def convolve(x, w, out):
    k = w.shape[0]
    for i in range(x.shape[0] - k + 1):
        s = 0.0
        for j in range(k):
            s += x[i + j] * w[j]
        out[i] = s
    return out[0]


def smoothstep(x, edge):
    t = x / edge
    if t < 0.0:
        t = 0.0
    elif t > 1.0:
        t = 1.0
    return t * t * (3.0 - 2.0 * t)


def calls_small(n):
    s = 0.0
    for i in range(n):
        s += smoothstep(i * 1e-7, 1.5)
    return s


def window_filter(values, n, out, w):
    s = 0.0
    lo = values[0]
    for i in range(n):
        s += values[i]
        lo = min(lo, values[i])
    out[0] = w * (s / n - lo)
    return 1


def mean_into_result(values, n, result, w):
    """scipy's ndimage tutorial callback: the loop accumulates in ``result[0]``."""
    result[0] = 0.0
    for i in range(n):
        result[0] += values[i]
    result[0] = w * result[0] / n
    return 1


C_SOURCE = r"""
#include <stdint.h>
#include <stddef.h>

double harmonic(int64_t n) { double s = 0.0; for (int64_t i = 0; i < n; i++) s += 1.0 / (i + 1); return s; }

double horner(int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) { double x = i * 1e-6; s += (((3.0 * x - 2.0) * x + 0.5) * x - 1.0) * x + 4.0; }
    return s;
}

int64_t collatz(int64_t n) {
    int64_t steps = 0;
    for (int64_t k = 1; k < n; k++) {
        int64_t m = k;
        while (m != 1) { if (m % 2 == 0) m = m / 2; else m = 3 * m + 1; steps++; }
    }
    return steps;
}

int64_t mandel(int64_t n) {
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) for (int64_t j = 0; j < n; j++) {
        double cr = -2.0 + 2.5 * i / n, ci = -1.25 + 2.5 * j / n, zr = 0.0, zi = 0.0; int64_t k = 0;
        while (k < 50 && zr * zr + zi * zi <= 4.0) { double t = zr * zr - zi * zi + cr; zi = 2.0 * zr * zi + ci; zr = t; k++; }
        total += k;
    }
    return total;
}

#include <math.h>
double powers(int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) { double x = 1.0 + i * 1e-7; s += x * x + 0.5 * (x * x * x) - 1.0 / x + sqrt(x); }
    return s;
}

/* Strides in elements, as a DLTensor's. */
double stencil(double *a, int64_t as0, int64_t as1, double *b, int64_t bs0, int64_t bs1,
               int64_t n, int64_t m, int64_t sweeps) {
    for (int64_t s = 0; s < sweeps; s++) {
        for (int64_t i = 1; i < n - 1; i++) for (int64_t j = 1; j < m - 1; j++)
            b[i*bs0 + j*bs1] = 0.2 * (a[i*as0 + j*as1] + a[(i-1)*as0 + j*as1] + a[(i+1)*as0 + j*as1]
                                      + a[i*as0 + (j-1)*as1] + a[i*as0 + (j+1)*as1]);
        for (int64_t i = 1; i < n - 1; i++) for (int64_t j = 1; j < m - 1; j++)
            a[i*as0 + j*as1] = 0.2 * (b[i*bs0 + j*bs1] + b[(i-1)*bs0 + j*bs1] + b[(i+1)*bs0 + j*bs1]
                                      + b[i*bs0 + (j-1)*bs1] + b[i*bs0 + (j+1)*bs1]);
    }
    return a[(n/2)*as0 + (m/2)*as1];
}

double stencil_c(double *a, double *b, int64_t n, int64_t m, int64_t sweeps) {
    for (int64_t s = 0; s < sweeps; s++) {
        for (int64_t i = 1; i < n - 1; i++) for (int64_t j = 1; j < m - 1; j++)
            b[i*m + j] = 0.2 * (a[i*m + j] + a[(i-1)*m + j] + a[(i+1)*m + j] + a[i*m + j-1] + a[i*m + j+1]);
        for (int64_t i = 1; i < n - 1; i++) for (int64_t j = 1; j < m - 1; j++)
            a[i*m + j] = 0.2 * (b[i*m + j] + b[(i-1)*m + j] + b[(i+1)*m + j] + b[i*m + j-1] + b[i*m + j+1]);
    }
    return a[(n/2)*m + m/2];
}

double convolve(double *x, int64_t xs, int64_t nx, double *w, int64_t ws, int64_t k, double *out, int64_t os) {
    for (int64_t i = 0; i < nx - k + 1; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < k; j++) s += x[(i + j)*xs] * w[j*ws];
        out[i*os] = s;
    }
    return out[0];
}

static double smoothstep(double x, double edge) {
    double t = x / edge;
    if (t < 0.0) t = 0.0; else if (t > 1.0) t = 1.0;
    return t * t * (3.0 - 2.0 * t);
}

double calls_small(int64_t n) { double s = 0.0; for (int64_t i = 0; i < n; i++) s += smoothstep(i * 1e-7, 1.5); return s; }

int window_filter(double *values, ptrdiff_t n, double *out, void *data) {
    double w = *(double *)data, s = 0.0, lo = values[0];
    for (ptrdiff_t i = 0; i < n; i++) { s += values[i]; lo = values[i] < lo ? values[i] : lo; }
    out[0] = w * (s / n - lo);
    return 1;
}

int mean_into_result(double *values, ptrdiff_t n, double *result, void *data) {
    double w = *(double *)data;
    result[0] = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) result[0] += values[i];
    result[0] = w * result[0] / n;
    return 1;
}
"""

FILTER_SIGNATURE = "int (double *, npy_intp, double *, void *)"

# ---------------------------------------------------------------------------- harness


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def _fmt(seconds):
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _table(rows, headers):
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(out)


def _timed(make):
    t0 = time.perf_counter()
    out = make()
    return out, time.perf_counter() - t0


def _build_c(directory):
    src, lib = os.path.join(directory, "loops.c"), os.path.join(directory, "libloops.so")
    with open(src, "w") as f:
        f.write(C_SOURCE)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", lib, src, "-lm"], check=True, capture_output=True)
    return ctypes.CDLL(lib)


def _cfn(lib, name, restype, argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, argtypes
    return f


def _ptr(a):
    return ctypes.c_void_p(a.ctypes.data)


def _elem_strides(a):
    return [s // a.itemsize for s in a.strides]


def _jit(signature, fn, **options):
    """The kernel and its compile time: the fastest of three compiles (the first one in
    a process also loads the frontend, and the machine may be busy)."""
    best = math.inf
    for _ in range(3):
        kernel, t = _timed(lambda: nativecall.jit(signature, **options)(fn))
        best = min(best, t)
    return kernel, best


def _numba_jit(numba, signature, fn):
    if numba is None:
        return None, None
    return _timed(lambda: numba.njit(signature)(fn))


I64, F64 = ctypes.c_int64, ctypes.c_double


class Row:
    """One benchmark row: `ways` maps "nativecall", "gcc" and "numba" to a no-argument
    callable returning the result; `compile` holds compile times."""

    def __init__(self, label, ways, compile_times, reset=None, rel_tol=1e-9):
        self.label, self.ways, self.compile, self.reset, self.rel_tol = label, ways, compile_times, reset, rel_tol


def scalar_row(label, fn, signature, lib, cret, n, numba):
    kernel, kt = _jit(signature, fn)
    ways = {"nativecall": lambda: kernel.ctypes(n)}  # both through ctypes: the same call overhead
    cfn = _cfn(lib, fn.__name__, cret, [I64])
    ways["gcc"] = lambda: cfn(n)
    nb, nt = _numba_jit(numba, signature, fn)
    if nb is not None:
        ways["numba"] = lambda: nb(n)
    return Row(label, ways, {"nativecall": kt, "numba": nt})


def calls_row(lib, n, numba):
    small, t_small = _jit("float64(float64, float64)", smoothstep)
    # The caller reads `smoothstep` from this module's globals when it is compiled.
    g = globals()
    plain = g["smoothstep"]
    g["smoothstep"] = small
    try:
        kernel, kt = _jit("float64(int64)", calls_small)
    finally:
        g["smoothstep"] = plain
    ways = {"nativecall": lambda: kernel.ctypes(n)}
    cfn = _cfn(lib, "calls_small", F64, [I64])
    ways["gcc"] = lambda: cfn(n)
    nt = None
    if numba is not None:
        small_nb = numba.njit("float64(float64, float64)")(smoothstep)
        g["smoothstep"] = small_nb
        try:
            nb, nt = _numba_jit(numba, "float64(int64)", calls_small)
        finally:
            g["smoothstep"] = plain
        ways["numba"] = lambda: nb(n)
    return Row("kernel calling a small kernel", ways, {"nativecall": t_small + kt, "numba": nt})


def stencil_row(lib, size, sweeps, contiguous, numba):
    spelling = "float64[:, ::1]" if contiguous else "float64[:, :]"
    signature = f"float64({spelling}, {spelling}, int64)"
    kernel, kt = _jit(signature, stencil)
    rng = np.random.default_rng(1)
    start = rng.random((size, size))
    if contiguous:
        a, b = start.copy(), start.copy()
    else:
        # Genuinely strided: every other column of a wider array.
        a = np.zeros((size, 2 * size))[:, ::2]
        b = np.zeros((size, 2 * size))[:, ::2]
        a[...] = start
        b[...] = start

    def reset():
        a[...] = start
        b[...] = start

    ways = {"nativecall": lambda: kernel(a, b, sweeps)}
    if contiguous:
        cfn = _cfn(lib, "stencil_c", F64, [ctypes.c_void_p, ctypes.c_void_p, I64, I64, I64])
        ways["gcc"] = lambda: cfn(_ptr(a), _ptr(b), size, size, sweeps)
    else:
        cfn = _cfn(lib, "stencil", F64, [ctypes.c_void_p, I64, I64, ctypes.c_void_p, I64, I64, I64, I64, I64])
        (as0, as1), (bs0, bs1) = _elem_strides(a), _elem_strides(b)
        ways["gcc"] = lambda: cfn(_ptr(a), as0, as1, _ptr(b), bs0, bs1, size, size, sweeps)
    nb, nt = _numba_jit(numba, signature, stencil)
    if nb is not None:
        ways["numba"] = lambda: nb(a, b, sweeps)
    label = f"5-point stencil {spelling} {size}x{size}, {sweeps} sweeps"
    return Row(label, ways, {"nativecall": kt, "numba": nt}, reset=reset)


def convolve_row(lib, n, k, numba):
    signature = "float64(float64[:], float64[:], float64[:])"
    kernel, kt = _jit(signature, convolve)
    rng = np.random.default_rng(2)
    x, w = rng.random(n), rng.random(k)
    out = np.zeros(n - k + 1)
    ways = {"nativecall": lambda: kernel(x, w, out)}
    cfn = _cfn(lib, "convolve", F64, [ctypes.c_void_p, I64, I64, ctypes.c_void_p, I64, I64, ctypes.c_void_p, I64])
    ways["gcc"] = lambda: cfn(_ptr(x), 1, n, _ptr(w), 1, k, _ptr(out), 1)
    nb, nt = _numba_jit(numba, signature, convolve)
    if nb is not None:
        ways["numba"] = lambda: nb(x, w, out)
    return Row(f"1-D convolution {n} x {k} taps", ways, {"nativecall": kt, "numba": nt})


def filter_row(lib, size, numba):
    from scipy import LowLevelCallable, ndimage

    image = np.random.default_rng(3).random((size, size))
    weight = 2.0
    kernel, kt = _jit("int32(float64*, intp, float64*, float64)", window_filter)
    llc = kernel.lowlevelcallable(FILTER_SIGNATURE, user_data=(weight,))
    ways = {"nativecall": lambda: ndimage.generic_filter(image, llc, size=5)}
    keep = ctypes.c_double(weight)
    c_ptr = ctypes.cast(lib.window_filter, ctypes.c_void_p).value
    cfunc_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(F64), ctypes.c_ssize_t, ctypes.POINTER(F64), ctypes.c_void_p)
    c_llc = LowLevelCallable(cfunc_type(c_ptr), ctypes.cast(ctypes.pointer(keep), ctypes.c_void_p), signature=FILTER_SIGNATURE)
    ways["gcc"] = lambda: ndimage.generic_filter(image, c_llc, size=5)
    nt = None
    if numba is not None:

        def make():
            @numba.cfunc("intc(CPointer(float64), intp, CPointer(float64), voidptr)")
            def nb(values, n, out, data):
                w = numba.carray(data, 1, numba.float64)[0]
                s = 0.0
                lo = values[0]
                for i in range(n):
                    s += values[i]
                    lo = min(lo, values[i])
                out[0] = w * (s / n - lo)
                return 1

            return nb

        nb, nt = _timed(make)
        nb_llc = LowLevelCallable(nb.ctypes, ctypes.cast(ctypes.pointer(keep), ctypes.c_void_p), signature=FILTER_SIGNATURE)
        ways["numba"] = lambda: ndimage.generic_filter(image, nb_llc, size=5)
    row = Row(f"generic_filter 5x5 callback, {size}x{size}", ways, {"nativecall": kt, "numba": nt})
    row.keep = (keep, llc, c_llc)
    return row


def result_filter_row(lib, size, numba):
    """The tutorial's callback, accumulating in ``result[0]`` inside its loop."""
    from scipy import LowLevelCallable, ndimage

    image = np.random.default_rng(4).random((size, size))
    weight = 2.0
    kernel, kt = _jit("int32(float64*, intp, float64*, float64)", mean_into_result)
    llc = kernel.lowlevelcallable(FILTER_SIGNATURE, user_data=(weight,))
    ways = {"nativecall": lambda: ndimage.generic_filter(image, llc, size=5)}
    keep = ctypes.c_double(weight)
    c_ptr = ctypes.cast(lib.mean_into_result, ctypes.c_void_p).value
    cfunc_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(F64), ctypes.c_ssize_t, ctypes.POINTER(F64), ctypes.c_void_p)
    c_llc = LowLevelCallable(cfunc_type(c_ptr), ctypes.cast(ctypes.pointer(keep), ctypes.c_void_p), signature=FILTER_SIGNATURE)
    ways["gcc"] = lambda: ndimage.generic_filter(image, c_llc, size=5)
    nt = None
    if numba is not None:

        def make():
            @numba.cfunc("intc(CPointer(float64), intp, CPointer(float64), voidptr)")
            def nb(values, n, result, data):
                w = numba.carray(data, 1, numba.float64)[0]
                result[0] = 0.0
                for i in range(n):
                    result[0] += values[i]
                result[0] = w * result[0] / n
                return 1

            return nb

        nb, nt = _timed(make)
        nb_llc = LowLevelCallable(nb.ctypes, ctypes.cast(ctypes.pointer(keep), ctypes.c_void_p), signature=FILTER_SIGNATURE)
        ways["numba"] = lambda: ndimage.generic_filter(image, nb_llc, size=5)
    row = Row(f"generic_filter 5x5 callback, result[0] += v, {size}x{size}", ways, {"nativecall": kt, "numba": nt})
    row.keep = (keep, llc, c_llc)
    return row


def _same(x, y, rel_tol):
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.allclose(x, y, rtol=rel_tol, atol=0)
    return math.isclose(x, y, rel_tol=rel_tol)


def measure(row, rounds):
    """Median seconds of each way over `rounds` interleaved rounds, and whether all
    ways gave the same result (checked on a fresh start for stateful rows)."""
    results = {}
    for k, f in row.ways.items():
        if row.reset:
            row.reset()
        results[k] = f()
    same = all(_same(results["gcc"], v, row.rel_tol) for v in results.values())
    times = {k: [] for k in row.ways}
    for _ in range(rounds):
        for k, f in row.ways.items():
            if row.reset:
                row.reset()
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}, same


def rows(lib, scale, numba):
    s = lambda n: max(2, int(n * scale))  # noqa: E731
    yield lambda: scalar_row("harmonic sum", harmonic, "float64(int64)", lib, F64, s(20_000_000), numba)
    yield lambda: scalar_row("Horner polynomial", horner, "float64(int64)", lib, F64, s(20_000_000), numba)
    yield lambda: scalar_row("Collatz steps", collatz, "int64(int64)", lib, I64, s(300_000), numba)
    yield lambda: scalar_row("Mandelbrot escape counts", mandel, "int64(int64)", lib, I64, s(400), numba)
    yield lambda: scalar_row("x**2, x**3, x**-1, x**0.5", powers, "float64(int64)", lib, F64, s(10_000_000), numba)
    yield lambda: stencil_row(lib, max(8, int(1000 * math.sqrt(scale))), 5, False, numba)
    yield lambda: stencil_row(lib, max(8, int(1000 * math.sqrt(scale))), 5, True, numba)
    yield lambda: convolve_row(lib, s(1_000_000), 16, numba)
    yield lambda: filter_row(lib, max(16, int(400 * math.sqrt(scale))), numba)
    yield lambda: result_filter_row(lib, max(16, int(400 * math.sqrt(scale))), numba)
    yield lambda: calls_row(lib, s(20_000_000), numba)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds per row (default 7)")
    p.add_argument("--scale", type=float, default=1.0, help="scale every problem size (default 1)")
    p.add_argument("--only", default="", help="run only rows whose label contains this")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    numba = _optional("numba")
    with tempfile.TemporaryDirectory(prefix="nativecall-loops-") as d:
        try:
            lib = _build_c(d)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"gcc is not available ({e}); there is nothing to compare with", file=sys.stderr)
            return 1
        table, out = [], []
        for make in rows(lib, args.scale, numba):
            row = make()
            if args.only and args.only not in row.label:
                continue
            med, same = measure(row, args.rounds)
            k, c, n = med["nativecall"], med["gcc"], med.get("numba")
            table.append([
                row.label,
                _fmt(k),
                _fmt(c),
                f"{k / c:.2f}×",
                _fmt(n),
                f"{k / n:.2f}×" if n else "—",
                f"{row.compile['nativecall'] * 1e3:.2f} ms",
                f"{row.compile['numba'] * 1e3:.0f} ms" if row.compile.get("numba") else "—",
                "yes" if same else "NO",
            ])  # fmt: skip
            out.append({"row": row.label, "seconds": med, "vs_gcc": k / c, "vs_numba": k / n if n else None,
                        "compile_s": row.compile, "same_result": same})  # fmt: skip
            print(table[-1][0], "...", table[-1][3], file=sys.stderr, flush=True)
        headers = ["loop", "nativecall", "gcc -O2", "/gcc", "numba", "/numba", "compile", "numba compile", "same"]
        print(_table(table, headers))
        print(f"(medians of {args.rounds} interleaved rounds; nativecall {nativecall.__version__})")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
