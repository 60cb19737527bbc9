"""Native root finding through scipy's own C solvers.

``brentq``, ``brenth``, ``ridder`` and ``bisect`` take scipy's argument names. ``f`` is
a kernel (or any native callable) ``f(x, *args) -> double``; the call goes to the C
functions ``scipy.optimize.cython_optimize`` exports, with ``args`` packed natively.
When ``a``, ``b`` or any of ``args`` are arrays, every problem is solved in one native
loop without the GIL, broadcasting like NumPy, and arrays come back.

    >>> import numpy as np, nativecall, nativecall.optimize
    >>> @nativecall.jit("float64(float64, float64)")
    ... def f(x, c):
    ...     return x * x - c
    >>> round(nativecall.optimize.brentq(f, 0.0, 2.0, args=(2.0,)), 12)  # √2
    1.414213562373
    >>> roots = nativecall.optimize.brentq(f, 0.0, 400.0, args=(np.arange(1.0, 1e5),))
    >>> roots.shape, bool(np.allclose(roots, np.sqrt(np.arange(1.0, 1e5))))  # 99 999 roots
    ((99999,), True)
"""

from __future__ import annotations

import math
import operator

import numpy as np

from . import _native
from ._interop import from_cython, native
from ._native import NativeCallable, Signature

__all__ = ["brentq", "brenth", "ridder", "bisect", "RootsResult"]

_EPS = float(np.finfo(float).eps)
_RTOL_MIN = 4 * _EPS
_INT_MAX = int(np.iinfo(np.intc).max)
_VALUE_ERROR = -3  # scipy's _EVALUEERR: a NaN bracket end or a NaN from f
_SOLVERS = {}
_SCALARS = (float, int)  # exact types: a bool or a NumPy scalar takes the array path
_DTYPES = {
    "double": np.float64,
    "float": np.float32,
    "bool": np.bool_,
}


def _solver(method):
    if method not in _SOLVERS:
        _SOLVERS[method] = from_cython("scipy.optimize.cython_optimize._zeros", method)
    return _SOLVERS[method]


def _field_dtype(type_text):
    if type_text in _DTYPES:
        return _DTYPES[type_text]
    t = _native.Type(type_text)
    if t.kind == "int":
        return np.dtype(f"{'i' if t.signed else 'u'}{t.bits // 8}")
    raise TypeError(f"an extra argument of type '{type_text}' cannot come from an array")


def _callback(f, nargs):
    """``f`` as ``double (double, void *)`` plus the layout of its extra arguments."""
    nc = f if isinstance(f, NativeCallable) else native(f)
    sig = nc.signature
    if sig == Signature("double (double, void *)") and nargs == 0:
        return nc, [], 0
    types = [str(t) for t in sig.argtypes]
    if str(sig.restype) != "double" or not types or types[0] != "double" or len(types) != 1 + nargs:
        raise TypeError(
            f"f must take x and then the {nargs} extra argument(s) in args and return a double; "
            f"{nc.name} is '{sig}'"
        )
    adapted, layout, size = _native._user_data_thunk(nc, 1)
    return adapted, layout, size


class RootsResult:
    """What ``full_output=True`` returns for arrays (scalars get scipy's ``RootResults``)."""

    def __init__(self, root, iterations, function_calls, flag):
        self.root = root
        self.iterations = iterations
        self.function_calls = function_calls
        self.converged = flag == 0
        self.flag = flag

    def __repr__(self):
        return (
            f"RootsResult(shape={np.shape(self.root)}, converged={int(np.sum(self.converged))}/"
            f"{np.size(self.converged)})"
        )


def _solve(method, f, a, b, args, xtol, rtol, maxiter, full_output, disp):
    if not isinstance(args, tuple):
        args = (args,)
    if not xtol > 0:
        raise ValueError(f"xtol too small ({xtol:g} <= 0)" if xtol <= 0 else f"xtol must be a number, got {xtol}")
    if not rtol >= _RTOL_MIN:
        raise ValueError(
            f"rtol too small ({rtol:g} < {4 * _EPS:g})" if rtol < 4 * _EPS else f"rtol must be a number, got {rtol}"
        )
    maxiter = operator.index(maxiter)  # as scipy: 100.0 is a TypeError, not silently truncated
    if not 0 <= maxiter <= _INT_MAX:
        raise ValueError(f"maxiter must be >= 0 and <= {_INT_MAX} (a C int), got {maxiter}")
    if type(a) in _SCALARS and type(b) in _SCALARS:
        for x in args:
            if type(x) not in _SCALARS:
                break
        else:
            # One root: no arrays, and f's adapter comes from the cache it shares with its exports.
            nc = f if isinstance(f, NativeCallable) else native(f)
            solver = _SOLVERS.get(method) or _solver(method)
            root, iterations, calls, flag, nan_at = _native._solve_root(
                solver, nc, float(a), float(b), args, float(xtol), float(rtol), maxiter
            )
            if flag:
                _raise_for(flag, a, b, nan_at, iterations, root, disp, "")
            if not full_output:
                return root
            from scipy.optimize import RootResults

            return root, RootResults(root=root, iterations=iterations, function_calls=calls, flag=flag, method=method)
    callback, layout, size = _callback(f, len(args))
    values = [np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), *[np.asarray(x) for x in args]]
    scalar = all(v.ndim == 0 for v in values)
    arrays = np.broadcast_arrays(*values)
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(arrays[0]).ravel(), np.ascontiguousarray(arrays[1]).ravel()]
    fields = []
    for arr, (type_text, offset) in zip(arrays[2:], layout):
        dtype = _field_dtype(type_text)
        if np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(dtype, np.floating):
            raise TypeError(f"an argument for a '{type_text}' parameter must be integers, got {arr.dtype}")
        fields.append((np.ascontiguousarray(arr, dtype=dtype).ravel(), offset, type_text))
    n = flat[0].size
    roots = np.empty(n)
    iterations = np.empty(n, dtype=np.intc)
    calls = np.empty(n, dtype=np.intc)
    flags = np.empty(n, dtype=np.intc)
    nan_at = np.empty(n)
    _native._solve_roots(
        _solver(method), callback, flat[0], flat[1], fields, size, float(xtol), float(rtol), maxiter,
        roots, iterations, calls, flags, nan_at,
    )  # fmt: skip
    bad = np.flatnonzero(flags)
    if bad.size and (disp or scalar):
        i = int(bad[0])
        where = "" if scalar else f" ({bad.size} of {n} problems; first at flat index {i})"
        _raise_for(int(flags[i]), flat[0][i], flat[1][i], nan_at[i], iterations[i], roots[i], disp, where)
    if scalar:
        root = float(roots[0])
        if not full_output:
            return root
        from scipy.optimize import RootResults

        return root, RootResults(root=root, iterations=int(iterations[0]), function_calls=int(calls[0]),
                                 flag=int(flags[0]), method=method)  # fmt: skip
    roots = roots.reshape(shape)
    if not full_output:
        return roots
    return roots, RootsResult(roots, iterations.reshape(shape), calls.reshape(shape), flags.reshape(shape))


def _raise_for(flag, a, b, nan_at, iterations, root, disp, where):
    """Raise scipy's error for a failed solve (flag != 0); non-convergence only if ``disp``."""
    if flag == -1:
        raise ValueError(f"f(a) and f(b) must have different signs{where}")
    if flag == _VALUE_ERROR:
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            raise ValueError(f"the bracket [a, b] = [{a}, {b}] contains NaN{where}")
        raise ValueError(f"f returned NaN at x={float(nan_at)!r}; the solver cannot continue{where}")
    if disp:
        raise RuntimeError(f"Failed to converge after {iterations} iterations, value is {root}{where}")


def brentq(f, a, b, args=(), xtol=2e-12, rtol=4 * _EPS, maxiter=100, full_output=False, disp=True):
    """Brent's method (scipy's C ``brentq``) on ``[a, b]``; see the module docstring."""
    return _solve("brentq", f, a, b, args, xtol, rtol, maxiter, full_output, disp)


def brenth(f, a, b, args=(), xtol=2e-12, rtol=4 * _EPS, maxiter=100, full_output=False, disp=True):
    """Brent's method with hyperbolic extrapolation (scipy's C ``brenth``)."""
    return _solve("brenth", f, a, b, args, xtol, rtol, maxiter, full_output, disp)


def ridder(f, a, b, args=(), xtol=2e-12, rtol=4 * _EPS, maxiter=100, full_output=False, disp=True):
    """Ridder's method (scipy's C ``ridder``)."""
    return _solve("ridder", f, a, b, args, xtol, rtol, maxiter, full_output, disp)


def bisect(f, a, b, args=(), xtol=2e-12, rtol=4 * _EPS, maxiter=100, full_output=False, disp=True):
    """Bisection (scipy's C ``bisect``)."""
    return _solve("bisect", f, a, b, args, xtol, rtol, maxiter, full_output, disp)
