"""nativecall.optimize: scipy's C root finders with kernel callbacks, scalars and arrays."""

import math

import numpy as np
import pytest
from scipy import optimize

import nativecall
from nativecall import optimize as nco


@nativecall.jit("float64(float64, float64, float64)")
def cubic(x, c, k):
    return x * x * x - k * x - c


def py_cubic(x, c, k):
    return x * x * x - k * x - c


@pytest.mark.parametrize("method", ["brentq", "brenth", "ridder", "bisect"])
def test_scalar_results_equal_scipy(method):
    ours = getattr(nco, method)
    theirs = getattr(optimize, method)
    for c, k in [(5.0, 2.0), (1.0, 0.0), (-3.0, 1.5)]:
        got = ours(cubic, -10.0, 10.0, args=(c, k))
        want = theirs(py_cubic, -10.0, 10.0, args=(c, k))
        assert got == want, (method, c, k)


def test_sqrt2_and_scipy_argument_names():
    @nativecall.jit("float64(float64)")
    def f(x):
        return x * x - 2.0

    assert nco.brentq(f=f, a=0.0, b=2.0, xtol=1e-14, rtol=1e-15, maxiter=50) == pytest.approx(math.sqrt(2), abs=1e-14)


def test_full_output_scalar_is_scipys_rootresults():
    root, r = nco.brentq(cubic, -10.0, 10.0, args=(5.0, 2.0), full_output=True)
    want_root, want = optimize.brentq(py_cubic, -10.0, 10.0, args=(5.0, 2.0), full_output=True)
    assert isinstance(r, optimize.RootResults)
    assert (root, r.iterations, r.function_calls, r.converged, r.flag) == (
        want_root, want.iterations, want.function_calls, want.converged, want.flag
    )


def test_arrays_broadcast_and_solve_in_one_call():
    c = np.linspace(1.0, 50.0, 1000).reshape(100, 10)
    k = np.array([0.0, 1.0, 2.0, 0.5, 0.25, 3.0, 1.5, 2.5, 0.75, 1.25])  # broadcasts along the last axis
    roots = nco.brentq(cubic, -20.0, 20.0, args=(c, k))
    assert roots.shape == (100, 10)
    for idx in [(0, 0), (5, 3), (99, 9), (42, 7)]:
        assert roots[idx] == optimize.brentq(py_cubic, -20.0, 20.0, args=(c[idx], k[idx[1]]))
    a = np.full(10, -20.0)
    roots_a = nco.brentq(cubic, a, 20.0, args=(5.0, k))
    assert roots_a.shape == (10,)


def test_full_output_arrays_and_convergence_flags():
    c = np.array([2.0, 3.0, 5.0])
    roots, info = nco.bisect(cubic, 0.0, 10.0, args=(c, 0.0), maxiter=5, disp=False, full_output=True)
    assert roots.shape == (3,) and not info.converged.any()
    assert (info.flag == -2).all() and (info.iterations == 5).all()
    with pytest.raises(RuntimeError, match="Failed to converge after 5 iterations"):
        nco.bisect(cubic, 0.0, 10.0, args=(c, 0.0), maxiter=5)
    roots, info = nco.brentq(cubic, 0.0, 10.0, args=(c, 0.0), full_output=True)
    assert info.converged.all() and (info.function_calls > 0).all()
    np.testing.assert_allclose(roots, np.cbrt(c), rtol=1e-12)


def test_sign_errors():
    with pytest.raises(ValueError, match="different signs"):
        nco.brentq(cubic, 5.0, 10.0, args=(1.0, 0.0))
    c = np.array([1.0, -1e9])
    with pytest.raises(ValueError, match="different signs .*1 of 2 problems"):
        nco.brentq(cubic, 0.0, 10.0, args=(c, 0.0))
    roots, info = nco.brentq(cubic, 0.0, 10.0, args=(c, 0.0), disp=False, full_output=True)
    assert roots[0] == pytest.approx(1.0) and math.isnan(roots[1]) and info.flag.tolist() == [0, -1]


def test_int_extra_arguments_and_native_callables(clib):
    @nativecall.jit("float64(float64, int32)")
    def power_minus_two(x, n):
        return x**n - 2.0

    roots = nco.brentq(power_minus_two, 0.0, 3.0, args=(np.array([1, 2, 3, 4], dtype=np.int64),))
    np.testing.assert_allclose(roots, 2.0 ** (1.0 / np.arange(1, 5)), rtol=1e-12)
    with pytest.raises(TypeError, match="must be integers"):
        nco.brentq(power_minus_two, 0.0, 3.0, args=(np.array([1.5]),))
    # A gcc-compiled "double (double, void *)" works as f with no args.
    scale = nativecall.native(clib.scale)
    assert nco.brentq(scale, -1.0, 2.0) == 0.0


def test_bad_callbacks_and_tolerances_are_clear_errors():
    @nativecall.jit("float64(float64, float64)")
    def two(x, c):
        return x - c

    with pytest.raises(TypeError, match="extra argument"):
        nco.brentq(two, 0.0, 1.0)
    with pytest.raises(TypeError, match="accepts"):
        nco.brentq(lambda x: x, 0.0, 1.0)
    with pytest.raises(ValueError, match="xtol too small"):
        nco.brentq(two, 0.0, 1.0, args=(0.5,), xtol=0.0)
    with pytest.raises(ValueError, match="rtol too small"):
        nco.brentq(two, 0.0, 1.0, args=(0.5,), rtol=1e-20)


@nativecall.jit("float64(float64, float64)")
def nan_above(x, edge):
    # f(0) = -1 and f(2) = nan; the sign change the solvers would chase is not a root.
    return math.nan if x > edge else x - 3.0


@pytest.mark.parametrize("method", ["brentq", "brenth", "ridder", "bisect"])
def test_nan_brackets_and_nan_function_values_say_so(method):
    solve = getattr(nco, method)
    with pytest.raises(ValueError, match=r"the bracket \[a, b\] = \[nan, 2.0\] contains NaN"):
        solve(cubic, math.nan, 2.0, args=(2.0, 0.0))
    with pytest.raises(ValueError, match=r"the bracket \[a, b\] = \[0.0, nan\] contains NaN"):
        solve(cubic, 0.0, math.nan, args=(2.0, 0.0))
    with pytest.raises(ValueError, match=r"f returned NaN at x=0.0; the solver cannot continue"):
        solve(cubic, 0.0, 2.0, args=(math.nan, 0.0))
    # scipy refuses the same problem for the same reason.
    with pytest.raises(ValueError, match="NaN"):
        getattr(optimize, method)(nan_above.py_func, 0.0, 2.0, args=(1.0,))
    with pytest.raises(ValueError, match=r"f returned NaN at x=.*; the solver cannot continue"):
        solve(nan_above, 0.0, 2.0, args=(1.0,))
    edges = np.array([5.0, 1.0])
    roots, info = solve(nan_above, 0.0, 4.0, args=(edges,), disp=False, full_output=True)
    assert roots[0] == pytest.approx(3.0, abs=1e-9) and math.isnan(roots[1])
    assert info.flag.tolist() == [0, -3] and info.converged.tolist() == [True, False]
    with pytest.raises(ValueError, match=r"f returned NaN .*1 of 2 problems; first at flat index 1"):
        solve(nan_above, 0.0, 4.0, args=(edges,))


def test_tolerance_and_maxiter_errors_match_scipy_and_name_the_parameter():
    for kw in ({"rtol": math.nan}, {"xtol": math.nan}, {"maxiter": -1}):
        with pytest.raises(ValueError):
            optimize.brentq(py_cubic, 0.0, 2.0, args=(2.0, 0.0), **kw)
    with pytest.raises(ValueError, match="rtol must be a number, got nan"):
        nco.brentq(cubic, 0.0, 2.0, args=(2.0, 0.0), rtol=math.nan)
    with pytest.raises(ValueError, match="xtol must be a number, got nan"):
        nco.brentq(cubic, 0.0, 2.0, args=(2.0, 0.0), xtol=math.nan)
    for maxiter in (-1, 2**31, 2**40):
        with pytest.raises(ValueError, match=rf"maxiter must be >= 0 and <= 2147483647 \(a C int\), got {maxiter}"):
            nco.brentq(cubic, 0.0, 2.0, args=(2.0, 0.0), maxiter=maxiter)
    with pytest.raises(TypeError):
        optimize.brentq(py_cubic, 0.0, 2.0, args=(2.0, 0.0), maxiter=50.0)
    with pytest.raises(TypeError):
        nco.brentq(cubic, 0.0, 2.0, args=(2.0, 0.0), maxiter=50.0)
    assert nco.brentq(cubic, 0.0, 2.0, args=(2.0, 0.0), maxiter=np.int64(60)) == pytest.approx(2.0 ** (1 / 3))


@pytest.mark.parametrize("method", ["brentq", "brenth", "ridder", "bisect"])
def test_a_solve_that_stops_at_the_bracket_reports_no_iterations(method):
    # scipy's solvers return a sign error, or a NaN at a bracket end, before they set the
    # iteration count; the count must read 0 there, never what was on the stack.
    edges = np.concatenate([np.linspace(-1.0, 5.0, 40), [math.nan, math.inf]])
    a = np.where(np.arange(edges.size) % 7 == 3, math.nan, 0.0)
    for _ in range(3):
        roots, info = getattr(nco, method)(nan_above, a, 4.0, args=(edges,), disp=False, full_output=True)
        early = (info.flag != 0) & (info.function_calls <= 2)
        assert early.sum() > 5
        assert set(info.iterations[early].tolist()) == {0}
        assert info.iterations.min() >= 0 and info.iterations.max() <= 100
    _, info = getattr(nco, method)(cubic, np.array([3.0, 0.0]), 4.0, args=(2.0, 0.0), disp=False, full_output=True)
    assert info.flag.tolist() == [-1, 0] and info.iterations[0] == 0 and info.iterations[1] > 0


def test_a_recursive_kernel_solves_through_its_thunk():
    @nativecall.jit("float64(float64, int64)")
    def power_minus(x, n):
        # x**n - 2, recursively.
        if n == 0:
            return -1.0
        return x * (power_minus(x, n - 1) + 2.0) - 2.0

    roots = nco.brentq(power_minus, 0.0, 3.0, args=(np.array([1, 2, 3]),))
    np.testing.assert_allclose(roots, [2.0, 2.0**0.5, 2.0 ** (1 / 3)], rtol=1e-12)
