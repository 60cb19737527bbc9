"""``python -m nativecall bench``: side-by-side measurements in one process, with ratios.

    python -m nativecall bench [--json FILE] [--quick]

Sections:
- compile: a 10-line kernel to a ready scipy LowLevelCallable, against Numba's cfunc;
- import: ``import nativecall`` over the bare interpreter, against ``import numba``;
- codegen: scalar loops compiled by nativecall and by ``gcc -O2``, timed alternately;
- scenarios: the demo's scenarios (quad, generic_filter, 100 000 roots, Cython and Numba
  loops), every way interleaved, with the ratios the targets are stated in;
- arrays: the per-call cost of an array argument;
- ufunc: a ``@nativecall.vectorize`` ufunc against ``numba.vectorize`` and NumPy;
- callbacks: one scalar root, a repeated ``lowlevelcallable()`` export, and C calling
  Python through ``nativecall.callback`` against ctypes and cffi callbacks;
- numba-ports: Numba cfunc callbacks ported by changing the import (a ``carray``
  generic_filter, a complex integrand, an ``x ** 2`` integrand), each against the Numba
  original through the same scipy consumer, with both compile times;
- calls: what one call costs from Python (kernels, ``native()`` C functions, array
  arguments, ``from_dlpack``) and from a ``numba.njit`` loop, in ns per call with ratios
  (see ``nativecall._tools.call_bench``).
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import nativecall


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


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


# ---------------------------------------------------------------------------- compile latency


def ten_line_kernel(x, a, b):
    """The compile-latency subject: branches, a loop and math calls."""
    s = 0.0
    t = x * a
    if t > b:
        s = math.exp(-t) + b
    else:
        s = math.sqrt(t * t + 1.0)
    for i in range(3):
        s = s * 0.5 + t
    return s


def bench_compile(repeats):
    sig = "float64(float64, float64, float64)"
    nativecall.jit(sig)(ten_line_kernel)  # load the frontend once, as any session does
    times = []
    for _ in range(repeats):
        gc.disable()
        t0 = time.perf_counter()
        k = nativecall.jit(sig)(ten_line_kernel)
        k.lowlevelcallable("double (int, double *)")
        times.append(time.perf_counter() - t0)
        gc.enable()
    result = {"nativecall_median_s": statistics.median(times), "nativecall_min_s": min(times)}
    numba = None
    if _optional("numba") is not None:
        import numba

        t0 = time.perf_counter()
        numba.cfunc(sig)(_fresh(ten_line_kernel))
        first = time.perf_counter() - t0
        later = []
        for _ in range(max(3, repeats // 50)):
            t0 = time.perf_counter()
            numba.cfunc(sig)(_fresh(ten_line_kernel))
            later.append(time.perf_counter() - t0)
        numba = {"first_s": first, "later_median_s": statistics.median(later)}
        result["numba"] = numba
        result["ratio_numba_later_to_nativecall"] = numba["later_median_s"] / result["nativecall_median_s"]
    rows = [["nativecall.jit → LowLevelCallable", _fmt(result["nativecall_median_s"]), "1.0×"]]
    if numba:
        rows.append(["numba.cfunc (first in process)", _fmt(numba["first_s"]), f"{numba['first_s'] / result['nativecall_median_s']:.0f}×"])
        rows.append(["numba.cfunc (later)", _fmt(numba["later_median_s"]), f"{result['ratio_numba_later_to_nativecall']:.0f}×"])
    text = _table(rows, ["compile a 10-line kernel", "median", "vs nativecall"])
    return result, text


def _fresh(func):
    """A new function object with the same code (so Numba cannot reuse a compiled one)."""
    import types

    return types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)


# ---------------------------------------------------------------------------- import time


def _wall(code, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_import(runs):
    bare = _wall("pass", runs)
    nc = _wall("import nativecall", runs) - bare
    result = {"bare_s": bare, "nativecall_s": nc}
    rows = [["import nativecall", _fmt(nc), "1.0×"]]
    if _optional("numba") is not None:
        nb = _wall("import numba", max(3, runs // 3)) - bare
        result["numba_s"] = nb
        rows.append(["import numba", _fmt(nb), f"{nb / nc:.0f}×"])
    text = _table(rows, ["import (over a bare interpreter)", "median", "vs nativecall"])
    return result, text


# ---------------------------------------------------------------------------- generated code

C_LOOPS = r"""
#include <stdint.h>
double harmonic(int64_t n) { double s = 0.0; for (int64_t i = 0; i < n; i++) s += 1.0 / (double)(i + 1); return s; }
double horner(int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) { double x = (double)i * 1e-6; s += (((3.0 * x - 2.0) * x + 0.5) * x - 1.0) * x + 4.0; }
    return s;
}
int64_t collatz(int64_t n) {
    int64_t steps = 0;
    for (int64_t k = 1; k < n; k++) { int64_t m = k; while (m != 1) { if (m % 2 == 0) m = m / 2; else m = 3 * m + 1; steps++; } }
    return steps;
}
int64_t mandel(int64_t n) {
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) for (int64_t j = 0; j < n; j++) {
        double cr = -2.0 + 2.5 * (double)i / (double)n, ci = -1.25 + 2.5 * (double)j / (double)n;
        double zr = 0.0, zi = 0.0; int64_t k = 0;
        while (k < 50 && zr * zr + zi * zi <= 4.0) { double t = zr * zr - zi * zi + cr; zi = 2.0 * zr * zi + ci; zr = t; k++; }
        total += k;
    }
    return total;
}
"""


def k_harmonic(n):
    s = 0.0
    for i in range(n):
        s += 1.0 / (i + 1)
    return s


def k_horner(n):
    s = 0.0
    for i in range(n):
        x = i * 1e-6
        s += (((3.0 * x - 2.0) * x + 0.5) * x - 1.0) * x + 4.0
    return s


def k_collatz(n):
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


def k_mandel(n):
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


LOOPS = [
    ("harmonic sum (float division chain)", k_harmonic, "float64(int64)", "double", 20_000_000),
    ("Horner polynomial (float mul/add)", k_horner, "float64(int64)", "double", 20_000_000),
    ("Collatz steps (int branches, // and %)", k_collatz, "int64(int64)", "int64_t", 300_000),
    ("Mandelbrot escape counts (nested loops)", k_mandel, "int64(int64)", "int64_t", 400),
]


def bench_codegen(repeats, scale=1.0):
    import ctypes

    with tempfile.TemporaryDirectory() as d:
        src, lib = os.path.join(d, "loops.c"), os.path.join(d, "libloops.so")
        with open(src, "w") as f:
            f.write(C_LOOPS)
        try:
            subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", lib, src], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            return {"error": f"gcc unavailable: {e}"}, "codegen: gcc is not available, so there is nothing to compare with"
        c = ctypes.CDLL(lib)
        results, rows = [], []
        for label, fn, sig, cret, n in LOOPS:
            n = max(1, int(n * scale))
            kernel = nativecall.jit(sig)(fn)
            cfn = getattr(c, fn.__name__[2:])
            cfn.restype = ctypes.c_double if cret == "double" else ctypes.c_int64
            cfn.argtypes = [ctypes.c_int64]
            kfn = kernel.ctypes  # both called through ctypes: the same call overhead
            want, got = cfn(n), kfn(n)
            same = math.isclose(want, got, rel_tol=1e-12)
            kt, ct = [], []
            for _ in range(repeats):  # alternate, so load on the machine hits both alike
                t0 = time.perf_counter()
                kfn(n)
                kt.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                cfn(n)
                ct.append(time.perf_counter() - t0)
            k_med, c_med = statistics.median(kt), statistics.median(ct)
            results.append({"loop": label, "n": n, "nativecall_s": k_med, "gcc_O2_s": c_med, "ratio": k_med / c_med, "same_result": same})
            rows.append([label, _fmt(k_med), _fmt(c_med), f"{k_med / c_med:.2f}×", "yes" if same else "NO"])
        text = _table(rows, ["scalar loop", "nativecall", "gcc -O2", "ratio", "same result"])
        return {"loops": results}, text


# ---------------------------------------------------------------------------- scenarios

# (scenario class name, what nativecall is compared with, the target ratio, and a
# second target against the Python way where the issue sets one)
TARGETS = {
    "Quad": ("c", 1.05, None),
    "Filter": ("c", 1.10, None),
    "Roots": ("cython", 1.10, 50.0),
    "CythonLoop": ("cython", 1.10, None),
    "NumbaLoop": ("c", 1.10, None),
}


def bench_scenarios(repeats, min_time):
    from . import scenarios

    build = scenarios.Build()
    rows, results = [], []
    for cls in scenarios.SCENARIOS:
        sc = cls(build)
        ok = sc.check()
        t = scenarios.measure(sc, repeats, min_time)
        ref_way, limit, python_min = TARGETS.get(cls.__name__, (None, None, None))
        ref = t.get(ref_way) if ref_way else None
        ratio = t["nativecall"] / ref if ref and "nativecall" in t else None
        speedup = t["python"] / t["nativecall"] if "nativecall" in t else None
        verdicts = []
        if ratio is not None and limit is not None:
            verdicts.append(f"{'met' if ratio <= limit else 'MISSED'} (≤ {limit:.2f}× {ref_way})")
        if python_min is not None and speedup is not None:
            verdicts.append(f"{'met' if speedup >= python_min else 'MISSED'} (≥ {python_min:.0f}× Python)")
        results.append({
            "scenario": sc.name, "unit": sc.unit, "seconds": t, "compile_seconds": sc.compile,
            "same_answer": ok, "ratio_to_native": ratio, "native_reference": ref_way, "speedup_vs_python": speedup,
            "targets": verdicts,
        })  # fmt: skip
        rows.append([
            sc.name, _fmt(t.get("python")), _fmt(t.get("nativecall")), _fmt(t.get("c", t.get("cython"))),
            _fmt(t.get("numba")), f"{ratio:.3f}×" if ratio else "—", f"{speedup:.0f}×" if speedup else "—",
            "; ".join(verdicts) or "—", "yes" if ok else "NO",
        ])  # fmt: skip
    text = _table(
        rows,
        ["scenario", "Python", "nativecall", "C/Cython", "Numba", "÷ C/Cython", "× Python", "target", "same"],
    )
    return {"scenarios": results}, text


# ---------------------------------------------------------------------------- arrays and ufuncs


def first_element(v):
    return v[0]


def identity(x):
    return x


def damped_scalar(x):
    return math.exp(-x * x) * math.cos(x)


def bench_arrays(repeats):
    import timeit

    import numpy as np

    kernel = nativecall.jit("float64(float64[:])")(first_element)
    scalar = nativecall.jit("float64(float64)")(identity)
    v = np.arange(10.0)
    view = nativecall.from_dlpack(v)
    n = 20_000
    rows, result = [], {}
    for label, fn, arg in [
        ("one float64 argument (reference)", scalar, 1.0),
        ("one NumPy array argument", kernel, v),
        ("one nativecall.Array argument", kernel, view),
        ("one DLPack capsule argument (made per call)", kernel, None),
    ]:
        if arg is None:
            t = min(timeit.repeat(lambda: fn(v.__dlpack__(max_version=(1, 0))), number=n, repeat=repeats)) / n
        else:
            t = min(timeit.repeat(lambda: fn(arg), number=n, repeat=repeats)) / n
        result[label] = t
        if "reference" in label or "capsule" in label:
            target = "—"  # the target is stated for array arguments; a capsule includes its making
        else:
            target = "met (≤ 1 µs)" if t <= 1e-6 else "MISSED (≤ 1 µs)"
        rows.append([label, _fmt(t), target])
    text = _table(rows, ["kernel call from Python", "per call", "target"])
    # Importing a NumPy array: the direct path against NumPy's own DLPack import (both make
    # a zero-copy view), and the capsule route nativecall took before the direct path.
    ways = {
        "np.from_dlpack(numpy array)": lambda: np.from_dlpack(v),
        "nativecall.from_dlpack(numpy array)": lambda: nativecall.from_dlpack(v),
        "nativecall.from_dlpack(its DLPack capsule)": lambda: nativecall.from_dlpack(v.__dlpack__(max_version=(1, 0))),
    }  # fmt: skip
    times = _interleaved(ways, repeats * 3, 2_000)
    anchor = times["np.from_dlpack(numpy array)"]
    rows = []
    for label, t in times.items():
        result[label] = t
        ratio = t / anchor
        target = "met (≤ 1×)" if ratio <= 1.0 else "MISSED (≤ 1×)"
        rows.append([label, _fmt(t), f"{ratio:.2f}×", target if label.endswith("(numpy array)") and "nativecall" in label else "—"])
    text += "\n\n" + _table(rows, ["importing a 10-element array", "per call", "÷ np.from_dlpack", "target"])
    return result, text


def bench_ufunc(repeats):
    import numpy as np

    x = np.linspace(-3.0, 3.0, 10_000_000)
    uf = nativecall.vectorize(["float64(float64)"])(damped_scalar)
    ways = {"nativecall.vectorize": lambda: uf(x), "NumPy expression": lambda: np.exp(-x * x) * np.cos(x)}
    if _optional("numba") is not None:
        import numba

        nb = numba.vectorize(["float64(float64)"])(damped_scalar)
        ways["numba.vectorize"] = lambda: nb(x)
    results = {k: [] for k in ways}
    for f in ways.values():
        f()
    for _ in range(repeats):
        for k, f in ways.items():
            t0 = time.perf_counter()
            f()
            results[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in results.items()}
    ok = np.allclose(uf(x), np.exp(-x * x) * np.cos(x), rtol=1e-15, atol=0)
    ours = med["nativecall.vectorize"]
    rows = []
    for k, t in med.items():
        ratio = ours / t
        target = "—" if k == "nativecall.vectorize" else ("met" if ratio <= 1.1 else "MISSED") + " (≤ 1.1×)"
        rows.append([k, _fmt(t), f"{ratio:.2f}×" if k != "nativecall.vectorize" else "1.00×", target])
    text = _table(rows, ["exp(-x*x)*cos(x), 10^7 float64", "median", "nativecall ÷ this", "target"])
    return {"seconds": med, "same_result": bool(ok)}, text + f"\nsame result as NumPy: {'yes' if ok else 'NO'}"


# ---------------------------------------------------------------------------- callbacks and caches


def shifted_square(x, c):
    return x * x - c


def gaussian(x):
    return math.exp(-x * x)


_CALLBACK_LOOP = """
def loop(n):
    s = 0.0
    for i in range(n):
        s += f(float(i))
    return s
"""


def _loop_kernel(f):
    """A kernel that calls the native callable ``f`` n times (its source made here, since
    the frontend reads a kernel's globals from its module)."""
    path = os.path.join(tempfile.mkdtemp(prefix="nativecall-bench-"), "callback_loop.py")
    with open(path, "w") as fh:
        fh.write(_CALLBACK_LOOP)
    namespace = {"f": f, "__name__": "callback_loop"}
    exec(compile(_CALLBACK_LOOP, path, "exec"), namespace)
    import linecache

    linecache.checkcache(path)
    return nativecall.jit("float64(int64)")(namespace["loop"])


def _interleaved(ways, repeats, number):
    """Median seconds per call of each way, the ways run in turn in every round."""
    times = {k: [] for k in ways}
    for f in ways.values():
        f()
    for _ in range(repeats):
        for k, f in ways.items():
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            times[k].append((time.perf_counter() - t0) / number)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_callbacks(repeats):
    import ctypes

    import scipy.optimize
    from scipy import integrate

    import nativecall.optimize as nco

    rows, result = [], {}

    # One scalar root: the adapter is cached with the kernel, so this is the solve alone.
    kernel = nativecall.jit("float64(float64, float64)")(shifted_square)
    t = _interleaved({
        "nativecall.optimize.brentq(kernel)": lambda: nco.brentq(kernel, 0.0, 2.0, args=(2.0,)),
        "scipy.optimize.brentq(Python function)": lambda: scipy.optimize.brentq(shifted_square, 0.0, 2.0, args=(2.0,)),
    }, repeats, 200)  # fmt: skip
    ours = t["nativecall.optimize.brentq(kernel)"]
    result["scalar_root"] = t
    rows.append(["one scalar root: nativecall.optimize.brentq", _fmt(ours), "1.00×",
                 ("met" if ours <= 3e-6 else "MISSED") + " (≤ 3 µs)"])  # fmt: skip
    rows.append(["  scipy.optimize.brentq, Python f", _fmt(t["scipy.optimize.brentq(Python function)"]),
                 f"{ours / t['scipy.optimize.brentq(Python function)']:.2f}×", "—"])  # fmt: skip

    # A LowLevelCallable per user-data value: packing only, the entry is shared.
    values = iter(range(10**9))
    t = _interleaved({"export": lambda: kernel.lowlevelcallable("double (double, void *)", user_data=(float(next(values)),))},
                     repeats, 200)["export"]  # fmt: skip
    result["lowlevelcallable_export"] = t
    rows.append(["kernel.lowlevelcallable(..., user_data=(c,)), again", _fmt(t), "—",
                 ("met" if t <= 20e-6 else "MISSED") + " (no compile: ≪ 150 µs)"])  # fmt: skip

    # quad through a callback against quad calling the Python function itself.
    cb = nativecall.callback(gaussian, "double (double)")
    llc = cb.lowlevelcallable()
    t = _interleaved({
        "callback": lambda: integrate.quad(llc, 0.0, 3.0),
        "python": lambda: integrate.quad(gaussian, 0.0, 3.0),
    }, repeats, 20)  # fmt: skip
    ratio = t["callback"] / t["python"]
    result["quad_callback"] = t
    rows.append(["quad(nativecall.callback(f))", _fmt(t["callback"]), f"{ratio:.2f}×",
                 ("met" if ratio <= 1.3 else "MISSED") + " (≤ 1.3× quad(f))"])  # fmt: skip
    rows.append(["  quad(f), f a Python function", _fmt(t["python"]), "1.00×", "—"])

    # C calling Python: a kernel loop calling each kind of function pointer, per call.
    n = 20_000
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
    ct = proto(gaussian)
    loops = {"nativecall.callback": _loop_kernel(cb), "ctypes CFUNCTYPE": _loop_kernel(nativecall.native(ct))}
    cffi = _optional("cffi")
    if cffi is not None:
        ffi = cffi.FFI()
        fc = ffi.callback("double(double)", gaussian)
        loops["cffi ffi.callback"] = _loop_kernel(nativecall.native(fc))

    def python_loop(n):
        s = 0.0
        for i in range(n):
            s += gaussian(float(i))
        return s

    # The same loop called two ways: through ctypes.PYFUNCTYPE, which keeps the GIL (each
    # callback's PyGILState_Ensure is then a counter), and as a kernel call, which
    # releases it (each callback takes the GIL and gives it back).
    held_proto = ctypes.PYFUNCTYPE(ctypes.c_double, ctypes.c_int64)
    ways = {}
    for k, loop in loops.items():
        held = held_proto(loop.address)
        ways[f"{k}, caller holds the GIL"] = lambda held=held: held(n)
        ways[f"{k}, caller released the GIL"] = lambda loop=loop: loop(n)
    ways["Python loop calling f"] = lambda: python_loop(n)
    t = {k: v / n for k, v in _interleaved(ways, repeats, 1).items()}
    result["c_to_python_per_call"] = t
    base = t["Python loop calling f"]
    for k, v in t.items():
        target = "—"
        if k == "nativecall.callback, caller holds the GIL":
            target = ("met" if v / base <= 1.3 else "MISSED") + " (≤ 1.3× a Python-level call)"
        rows.append([f"C → Python per call: {k}", f"{v * 1e9:.0f} ns", f"{v / base:.2f}×", target])
    return result, _table(rows, ["callbacks and caches", "per call", "ratio", "target"])


# ---------------------------------------------------------------------------- numba ports

_NUMBA_PORTS = """
def filter_mean(values_ptr, len_values, result, data):
    values = carray(values_ptr, (len_values,), dtype=float64)
    s = 0.0
    for v in values:
        s += v
    result[0] = s / len_values
    return 1


def complex_integrand(n, xx):
    t, k = xx[0], xx[1]
    z = cmath.exp(1j * k * t) / (1.0 + t * t)
    return z.real


def square_integrand(n, xx):
    x = xx[0]
    return x ** 2 * math.exp(-x)
"""


def _numba_port_functions(carray):
    """The ported callbacks' plain functions, with ``carray`` as their global (Numba's,
    which nativecall compiles as its own, or nativecall's), from a file of their own."""
    import cmath

    import numpy as np

    path = os.path.join(tempfile.mkdtemp(prefix="nativecall-bench-"), "numba_ports.py")
    with open(path, "w") as fh:
        fh.write(_NUMBA_PORTS)
    namespace = {"carray": carray, "float64": np.float64, "cmath": cmath, "math": math, "__name__": "numba_ports"}
    exec(compile(_NUMBA_PORTS, path, "exec"), namespace)
    import linecache

    linecache.checkcache(path)
    return namespace


def bench_numba_ports(repeats):
    import numpy as np
    import scipy.integrate
    import scipy.ndimage
    from scipy import LowLevelCallable

    from nativecall import cfunc, types

    numba = _optional("numba")
    ns = _numba_port_functions(numba.carray if numba is not None else nativecall.carray)
    filter_sig = types.intc(types.CPointer(types.float64), types.intp, types.CPointer(types.float64), types.voidptr)
    quad_sig = types.float64(types.intc, types.CPointer(types.float64))
    image = np.random.default_rng(0).standard_normal((200, 200))
    cases = [
        ("generic_filter mean (carray), 200x200, size 3", "filter_mean", filter_sig,
         lambda f: scipy.ndimage.generic_filter(image, LowLevelCallable(f.ctypes), size=3), 5),
        ("quad of (cmath.exp(1j*k*t) / (1 + t*t)).real", "complex_integrand", quad_sig,
         lambda f: scipy.integrate.quad(LowLevelCallable(f.ctypes), 0.0, 20.0, args=(3.0,), limit=200), 20),
        ("quad of x ** 2 * exp(-x)", "square_integrand", quad_sig,
         lambda f: scipy.integrate.quad(LowLevelCallable(f.ctypes), 0.0, 10.0), 200),
    ]  # fmt: skip
    rows, result = [], {}
    cfunc(quad_sig)(ns["square_integrand"])  # load the frontend once, as any session does
    for label, name, sig, consume, number in cases:
        func = ns[name]
        t0 = time.perf_counter()
        ours = cfunc(sig)(func)
        ours_compile = time.perf_counter() - t0
        ways = {"nativecall": lambda ours=ours: consume(ours)}
        theirs_compile = None
        if numba is not None:
            nsig = numba.types.float64(numba.types.intc, numba.types.CPointer(numba.types.float64))
            if name == "filter_mean":
                nsig = numba.types.intc(numba.types.CPointer(numba.types.float64), numba.types.intp,
                                        numba.types.CPointer(numba.types.float64), numba.types.voidptr)  # fmt: skip
            t0 = time.perf_counter()
            theirs = numba.cfunc(nsig)(func)
            theirs_compile = time.perf_counter() - t0
            ways["numba"] = lambda theirs=theirs: consume(theirs)
            a, b = consume(ours), consume(theirs)
            same = np.allclose(a[0] if isinstance(a, tuple) else a, b[0] if isinstance(b, tuple) else b, rtol=1e-12)
            if not same:
                raise AssertionError(f"{label}: nativecall and Numba disagree")
        t = _interleaved(ways, repeats, number)
        result[name] = {"run": t, "compile": {"nativecall": ours_compile, "numba": theirs_compile}}
        if numba is None:
            rows.append([label, _fmt(t["nativecall"]), "—", _fmt(ours_compile), "—", "— (Numba not installed)"])
            continue
        ratio = t["nativecall"] / t["numba"]
        rows.append([label, _fmt(t["nativecall"]), f"{ratio:.2f}×", _fmt(ours_compile), _fmt(theirs_compile),
                     ("met" if ratio <= 1.1 else "MISSED") + " (≤ 1.1× Numba)"])  # fmt: skip
        rows.append(["  the Numba cfunc original", _fmt(t["numba"]), "1.00×", "", "", ""])
    headers = ["Numba callbacks ported by the import", "per run", "ratio", "compile", "Numba compile", "target"]
    return result, _table(rows, headers)


# ---------------------------------------------------------------------------- main


def run(argv=None):
    import argparse

    p = argparse.ArgumentParser(prog="python -m nativecall bench")
    p.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller loops (a smoke run)")
    sections_all = ["compile", "import", "codegen", "scenarios", "arrays", "ufunc", "callbacks", "numba-ports", "calls"]
    p.add_argument("--only", choices=sections_all, action="append", help="run only these sections")
    args = p.parse_args(argv)
    sections = args.only or sections_all
    quick = args.quick
    report = {"python": sys.version.split()[0], "nativecall": nativecall.__version__}
    print(f"nativecall bench (Python {report['python']}); medians, measured side by side in one process\n")
    if "compile" in sections:
        result, text = bench_compile(30 if quick else 300)
        report["compile"] = result
        print(text + "\n")
    if "import" in sections:
        result, text = bench_import(3 if quick else 15)
        report["import"] = result
        print(text + "\n")
    if "codegen" in sections:
        result, text = bench_codegen(1 if quick else 7, scale=0.05 if quick else 1.0)
        report["codegen"] = result
        print(text + "\n")
    if "scenarios" in sections:
        result, text = bench_scenarios(2 if quick else 9, 0.01 if quick else 0.05)
        report["scenarios"] = result
        print(text + "\n")
    if "arrays" in sections:
        result, text = bench_arrays(2 if quick else 7)
        report["arrays"] = result
        print(text + "\n")
    if "ufunc" in sections:
        result, text = bench_ufunc(1 if quick else 7)
        report["ufunc"] = result
        print(text + "\n")
    if "callbacks" in sections:
        result, text = bench_callbacks(2 if quick else 9)
        report["callbacks"] = result
        print(text + "\n")
    if "numba-ports" in sections:
        result, text = bench_numba_ports(2 if quick else 9)
        report["numba_ports"] = result
        print(text + "\n")
    if "calls" in sections:
        from nativecall._tools.call_bench import bench_calls

        result, text = bench_calls(quick)
        report["calls"] = result
        print(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 0
