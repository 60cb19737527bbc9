"""Array views over pointers (carray, farray), pointer casts, 'for v in array', NumPy's
scalar functions and '~' on bools in kernels: the constructs ported Numba cfunc callbacks
use, checked through the scipy consumers they were written for and against Numba itself."""

import ctypes
import math

import numpy as np
import pytest
from scipy import LowLevelCallable, integrate, ndimage

import nativecall
from nativecall import carray, cast, farray

numba = pytest.importorskip("numba")


def _as_double_ptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


# ------------------------------------------------------------------ scipy tutorial callbacks


# scipy's ndimage tutorial: the mean filter as a Numba cfunc, and the same body as a kernel.
@numba.cfunc(numba.types.intc(numba.types.CPointer(numba.types.double), numba.types.intp,
                              numba.types.CPointer(numba.types.double), numba.types.voidptr))  # fmt: skip
def numba_filter_mean(values_ptr, len_values, result, data):
    values = numba.carray(values_ptr, (len_values,), dtype=numba.types.double)
    result[0] = 0
    for v in values:
        result[0] += v
    result[0] /= len_values
    return 1


@nativecall.jit("intc(float64*, intp, float64*, voidptr)")
def filter_mean(values_ptr, len_values, result, data):
    values = carray(values_ptr, (len_values,), dtype=np.float64)
    result[0] = 0
    for v in values:
        result[0] += v
    result[0] /= len_values
    return 1


def test_the_ndimage_tutorial_mean_filter_with_carray_matches_numba_and_np_mean():
    image = np.random.default_rng(1).random((37, 29)) * 100 - 30
    got = ndimage.generic_filter(image, filter_mean.lowlevelcallable(), size=3)
    by_numba = ndimage.generic_filter(image, LowLevelCallable(numba_filter_mean.ctypes), size=3)
    by_numpy = ndimage.generic_filter(image, np.mean, size=3)
    np.testing.assert_array_equal(got, by_numba)
    np.testing.assert_allclose(got, by_numpy, rtol=1e-13, atol=1e-12)


def test_a_kernel_whose_globals_name_numba_carray_compiles_it_as_nativecall_s():
    ncarray = numba.carray

    @nativecall.jit("intc(float64*, intp, float64*, voidptr)")
    def filter_max(values_ptr, n, result, data):
        values = ncarray(values_ptr, n)
        best = values[0]
        for i in range(1, len(values)):
            best = max(best, values[i])
        result[0] = best
        return 1

    image = np.random.default_rng(2).random((20, 25))
    got = ndimage.generic_filter(image, filter_max.lowlevelcallable(), size=(3, 2))
    np.testing.assert_array_equal(got, ndimage.maximum_filter(image, size=(3, 2)))


@numba.cfunc("float64(intc, CPointer(float64))")
def numba_integrand(n, xx):
    x = numba.carray(xx, n)
    return np.exp(-x[1] * x[0]) * np.cos(x[2] * x[0])


@nativecall.jit("float64(intc, float64*)")
def integrand(n, xx):
    x = carray(xx, n)
    return np.exp(-x[1] * x[0]) * np.cos(x[2] * x[0])


def test_a_quad_int_double_pointer_integrand_reads_its_arguments_through_carray():
    llc = integrand.lowlevelcallable()
    assert llc.signature == "double (int, double *)"
    got = integrate.quad(llc, 0, 10, args=(0.5, 3.0))[0]
    by_numba = integrate.quad(LowLevelCallable(numba_integrand.ctypes), 0, 10, args=(0.5, 3.0))[0]
    by_python = integrate.quad(lambda x, a, w: math.exp(-a * x) * math.cos(w * x), 0, 10, args=(0.5, 3.0))[0]
    assert got == by_numba
    assert got == pytest.approx(by_python, rel=1e-14)


@nativecall.jit("float64(float64, voidptr)")
def damped_with_user_data(x, user_data):
    p = carray(user_data, 2, dtype=np.float64)
    return math.exp(-p[0] * x) * math.cos(p[1] * x)


@nativecall.jit("float64(float64, voidptr)")
def damped_with_cast(x, user_data):
    p = cast(user_data, "double *")
    return math.exp(-p[0] * x) * math.cos(p[1] * x)


@pytest.mark.parametrize("kernel", [damped_with_user_data, damped_with_cast])
def test_user_data_is_read_as_doubles_through_a_ctypes_pointer(kernel):
    params = np.array([0.5, 3.0])
    user_data = ctypes.cast(_as_double_ptr(params), ctypes.c_void_p)
    llc = LowLevelCallable(kernel.lowlevelcallable().function, user_data)
    got = integrate.quad(llc, 0, 10)[0]
    want = integrate.quad(lambda x: math.exp(-0.5 * x) * math.cos(3.0 * x), 0, 10)[0]
    assert got == pytest.approx(want, rel=1e-14)
    params[1] = 1.0  # the kernel reads the memory at each call
    want = integrate.quad(lambda x: math.exp(-0.5 * x) * math.cos(x), 0, 10)[0]
    assert integrate.quad(llc, 0, 10)[0] == pytest.approx(want, rel=1e-14)


# ------------------------------------------------------------------ views in the language


@pytest.mark.parametrize("dtype", [np.float64, nativecall.float64, "float64", "double"])
def test_the_dtype_of_a_view_over_void_star_is_given_as_numpy_nativecall_or_text(dtype):
    @nativecall.jit("float64(voidptr, intp)")
    def total(p, n):
        a = carray(p, n, dtype=dtype)
        s = 0.0
        for v in a:
            s += v
        return s

    x = np.array([1.5, -2.0, 4.25])
    assert total(x.ctypes.data, 3) == 3.75


def test_a_2d_carray_is_row_major_and_a_farray_column_major():
    @nativecall.jit("float64(float64*, intp, intp, intp, intp)")
    def c_at(p, m, n, i, j):
        a = carray(p, (m, n))
        return a[i, j] + 1000.0 * a.shape[0] + 100.0 * a.shape[1] + 10.0 * a.ndim

    @nativecall.jit("float64(float64*, intp, intp, intp, intp)")
    def f_at(p, m, n, i, j):
        return farray(p, (m, n))[i, j]

    c = np.arange(12.0).reshape(3, 4)
    f = np.asfortranarray(c)
    for i in range(3):
        for j in range(4):
            assert c_at(_as_double_ptr(c), 3, 4, i, j) == c[i, j] + 3420.0
            assert f_at(_as_double_ptr(f), 3, 4, i, j) == c[i, j]
            assert c_at(_as_double_ptr(c), 3, 4, i - 3, j - 4) == c[i, j] + 3420.0  # negative indices, as NumPy


def test_a_view_is_written_through_and_len_gives_its_first_extent():
    @nativecall.jit("intp(int32*, intp)")
    def double_all(p, n):
        a = carray(p, n)
        for i in range(len(a)):
            a[i] *= 2
        a[0] += 1
        return len(carray(p, n))

    x = np.array([1, -2, 30], dtype=np.int32)
    assert double_all(x.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), 3) == 3
    assert x.tolist() == [3, -4, 60]


def test_for_v_in_an_array_parameter_visits_every_element_in_order_and_runs_else():
    @nativecall.jit("float64(float64[:])")
    def horner_like(a):
        acc = 0.0
        for v in a:
            acc = acc * 10.0 + v
        else:
            acc += 0.5
        return acc

    @nativecall.jit("int64(int64[:], int64)")
    def find(a, x):
        k = 0
        for v in a:
            if v == x:
                break
            k += 1
        else:
            k = -1
        return k

    assert horner_like(np.array([1.0, 2.0, 3.0])) == 123.5
    assert horner_like(np.array([4.0, 5.0, 6.0, 7.0])[::-1]) == 7654.5
    assert find(np.array([5, 7, 9]), 9) == 2
    assert find(np.array([5, 7, 9]), 8) == -1


def test_numba_s_carray_and_nativecall_s_outside_a_kernel_view_a_ctypes_pointer_alike():
    x = np.arange(6.0)
    got = carray(_as_double_ptr(x), (2, 3))
    np.testing.assert_array_equal(got, numba.carray(_as_double_ptr(x), (2, 3)))
    np.testing.assert_array_equal(farray(_as_double_ptr(x), (2, 3)), numba.farray(_as_double_ptr(x), (2, 3)))
    got[0, 0] = 42.0
    assert x[0] == 42.0
    with pytest.raises(TypeError, match="ctypes pointer"):
        carray(x, 3)
    as_ints = cast(ctypes.cast(_as_double_ptr(x), ctypes.c_void_p), "int64 *")
    assert as_ints[1] == np.float64(1.0).view(np.int64)
    with pytest.raises(TypeError, match="ctypes pointer"):
        cast(None, "double *")


# ------------------------------------------------------------------ errors


def _error(source, sig, exc=nativecall.CompileError, **names):
    with pytest.raises(exc) as info:
        nativecall.jit(sig, source=source, globals={"carray": carray, "farray": farray, "cast": cast, "np": np, **names})
    return info.value


@pytest.mark.parametrize(
    "body, message",
    [
        ("a = carray(p, n)\n    return abs(a)", "abs() needs a number, got float64[::1]"),
        ("return g(carray(p, n)) + abs(carray(p, n))", "abs() needs a number, got float64[::1]"),
        ("a = carray(p, n)\n    b = a if n else a\n    return 0.0", "cannot be used here"),
        ("a = carray(p, n, dtype=np.int32)\n    return 0.0", "the element types differ"),
        ("a = carray(n, n)\n    return 0.0", "takes a pointer"),
        ("a = carray(p, 2.5)\n    return 0.0", "extents must be integers"),
        ("a = carray(p, n, order='C')\n    return 0.0", "got 'order=' here"),
        ("return cast(n, 'double *')[0]", "converts a pointer"),
        ("return np.cumsum(n)", "'np.cumsum' is not available in kernels"),
        ("return np.exp(n, out=n)", "positional arguments only"),
    ],
)
def test_unsupported_view_and_numpy_forms_name_the_construct_and_point_at_the_line(body, message):
    @nativecall.jit("float64(float64[:])")
    def g(a):
        return a[0]

    source = f"def f(p, n):\n    {body}\n"
    err = _error(source, "float64(float64*, intp)", g=g)
    assert message in str(err)
    assert err.lineno >= 2


def test_a_view_of_void_star_without_dtype_says_to_give_one():
    err = _error("def f(p):\n    return carray(p, 3)[0]\n", "float64(voidptr)")
    assert "needs the element type" in str(err) and err.lineno == 2


def test_iterating_a_2d_array_gives_rows_so_adding_one_to_a_number_is_a_compile_error():
    err = _error("def f(a):\n    s = 0.0\n    for v in a:\n        s += v\n    return s\n", "float64(float64[:, :])")
    assert "'+' is not defined for float64 and float64[:]" in str(err) and err.lineno == 4


# ------------------------------------------------------------------ NumPy functions and ~


_SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-300, 7e22, -7e22, 1e308, -1e308, 710.0, -745.5,
             math.inf, -math.inf, math.nan, 2.0**53 + 1, -1e-320]  # fmt: skip
_UNARY = ["exp", "sin", "cos", "tan", "sqrt", "log", "log10", "log1p", "expm1", "tanh", "sinh", "cosh",
          "arctan", "arcsin", "arccos", "abs", "absolute", "fabs", "floor", "ceil", "trunc", "sign"]  # fmt: skip
_BINARY = ["arctan2", "hypot", "minimum", "maximum", "power"]


def _same(got, want):
    return (math.isnan(got) and math.isnan(want)) or (got == want and math.copysign(1, got) == math.copysign(1, want))


@pytest.mark.parametrize("name", _UNARY)
def test_numpy_unary_functions_give_numpy_s_float64_results(name):
    kernel = nativecall.jit("float64(float64)", source=f"def f(x):\n    return np.{name}(x)\n", globals={"np": np})
    with np.errstate(all="ignore"):
        for x in _SPECIALS:
            want = float(getattr(np, name)(np.float64(x)))
            got = kernel(x)
            assert _same(got, want) or (math.isfinite(want) and got == pytest.approx(want, rel=4e-16)), (name, x, got, want)


@pytest.mark.parametrize("name", _BINARY)
def test_numpy_binary_functions_give_numpy_s_float64_results(name):
    kernel = nativecall.jit("float64(float64, float64)", source=f"def f(x, y):\n    return np.{name}(x, y)\n", globals={"np": np})
    with np.errstate(all="ignore"):
        for x in _SPECIALS:
            for y in _SPECIALS[:12] + [math.nan, math.inf]:
                if name == "power" and y == 0.5:
                    continue  # NumPy's sqrt for a computed exponent of 0.5 (docs/semantics.md)
                want = float(getattr(np, name)(np.float64(x), np.float64(y)))
                got = kernel(x, y)
                assert _same(got, want) or (math.isfinite(want) and got == pytest.approx(want, rel=4e-16)), (name, x, y, got, want)


def test_np_power_with_a_literal_half_is_numpy_s_square_root():
    kernel = nativecall.jit("float64(float64)", source="def f(x):\n    return np.power(x, 0.5)\n", globals={"np": np})
    with np.errstate(all="ignore"):
        for x in _SPECIALS:
            assert _same(kernel(x), float(np.power(np.float64(x), 0.5))), x


def test_numpy_predicates_and_constants_and_imported_ufuncs_work_in_kernels():
    from numpy import exp as npexp

    @nativecall.jit("float64(float64)")
    def classify(x):
        r = 0.0
        if np.isnan(x):
            r += 1.0
        if np.isinf(x):
            r += 10.0
        if np.isfinite(x):
            r += 100.0
        return r + np.pi + np.e + npexp(0.0)

    base = np.pi + np.e + 1.0
    assert [classify(v) for v in (math.nan, -math.inf, 2.0)] == [1.0 + base, 10.0 + base, 100.0 + base]

    @nativecall.jit("float64(float64)")
    def guarded(x):
        return np.nan if x < 0 else (np.inf if x > 1e300 else np.sqrt(x))

    assert math.isnan(guarded(-1.0)) and guarded(1e301) == math.inf and guarded(4.0) == 2.0


def test_numpy_domain_errors_give_ieee_values_not_exceptions():
    @nativecall.jit("float64(float64)")
    def s(x):
        return np.sqrt(x)

    @nativecall.jit("float64(float64)")
    def lg(x):
        return np.log(x)

    @nativecall.jit("float64(float64)")
    def ex(x):
        return np.exp(x)

    assert math.isnan(s(-1.0)) and lg(0.0) == -math.inf and math.isnan(lg(-1.0)) and ex(1000.0) == math.inf


def test_invert_of_a_bool_is_logical_not_as_numpy_s():
    @nativecall.jit("float64(float64, float64)")
    def keep_not_nan(v, fallback):
        if ~math.isnan(v):
            return v
        return fallback

    @nativecall.jit("int64(float64)")
    def as_int(v):
        return ~np.isnan(v)

    @nativecall.jit("bool(bool)")
    def invert(b):
        return ~b

    assert keep_not_nan(2.0, -1.0) == 2.0
    assert keep_not_nan(math.nan, -1.0) == -1.0  # ~False was -2, truthy, before
    assert as_int(1.0) == int(~np.isnan(1.0)) == 1
    assert as_int(math.nan) == 0
    assert invert(True) is False and invert(False) is True


def test_numpy_functions_on_ints_compute_as_numpy_does():
    @nativecall.jit("int64(int64, int64)")
    def mm(a, b):
        return np.minimum(a, b) * 100 + np.maximum(a, b) + np.sign(a) * 1000 + np.abs(b) * 10000

    for a, b in [(3, -7), (-5, 2), (0, 0)]:
        want = int(np.minimum(a, b) * 100 + np.maximum(a, b) + np.sign(a) * 1000 + np.abs(b) * 10000)
        assert mm(a, b) == want


def test_a_view_of_a_const_pointer_is_read_but_not_written():
    @nativecall.jit("float64(const double *, intp)")
    def total(p, n):
        s = 0.0
        for v in carray(p, n):
            s += v
        return s

    x = np.array([0.5, 1.5, 2.0])
    assert total(_as_double_ptr(x), 3) == 4.0
    err = _error("def f(p, n):\n    a = carray(p, n)\n    a[0] = 1.0\n    return 0.0\n", "float64(const double *, intp)")
    assert "cannot store through a view of a const pointer" in str(err) and err.lineno == 3
