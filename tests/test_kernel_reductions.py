"""NumPy's reductions of 1-D arrays (np.sum/mean/var/std/min/max/median/nanmedian and the
array methods) and scratch arrays (np.empty/np.zeros) in kernels, checked against NumPy
on the same data: NaN, empty arrays, negative strides, integer and float32 elements."""

import ctypes

import numpy as np
import pytest

import nativecall
from nativecall import carray

_REDUCTIONS = ["sum", "mean", "var", "std", "min", "max", "median", "nanmedian"]


def _reducer(name, dtype="float64", ret="float64"):
    return nativecall.jit(f"{ret}({dtype}[:])", source=f"def f(a):\n    return np.{name}(a)\n", globals={"np": np})


def _same(got, want, exact):
    if np.isnan(want):
        return np.isnan(got)
    if exact:
        return got == want
    return got == pytest.approx(want, rel=1e-12, abs=1e-300)


_RNG = np.random.default_rng(11)
_DATA = {
    "random": _RNG.normal(size=101) * 1e3,
    "even count": _RNG.random(40),
    "one element": np.array([-2.5]),
    "with nan": np.array([1.0, np.nan, -3.0, 2.0]),
    "all nan": np.array([np.nan, np.nan]),
    "infinities": np.array([np.inf, 1.0, -np.inf, 5.0]),
    "big and small": np.array([1e308, -1e308, 1e-300, 3.0, 1e308]),
}


@pytest.mark.parametrize("name", _REDUCTIONS)
@pytest.mark.parametrize("data", list(_DATA), ids=list(_DATA))
def test_each_reduction_of_a_float64_array_gives_numpy_s_value(name, data):
    kernel = _reducer(name)
    a = _DATA[data]
    with np.errstate(all="ignore"), _quiet():
        want = getattr(np, name)(a)
    exact = name in ("min", "max", "median", "nanmedian") or len(a) <= 8
    assert _same(kernel(a), want, exact), (kernel(a), want)
    # The same through a view with a negative stride (every other element, backwards).
    with _quiet():
        want = getattr(np, name)(a[::-2])
    assert _same(kernel(a[::-2]), want, exact)


class _quiet:
    """NumPy warns about the mean of an empty or all-NaN array; kernels do not."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


@pytest.mark.parametrize("name, want", [("sum", 0.0), ("mean", np.nan), ("var", np.nan), ("std", np.nan),
                                        ("median", np.nan), ("nanmedian", np.nan)])  # fmt: skip
def test_reductions_of_an_empty_array_are_numpy_s_identity_or_nan(name, want):
    empty = np.empty(0)
    with _quiet():
        assert _same(getattr(np, name)(empty), want, True)
    assert _same(_reducer(name)(empty), want, True)


@pytest.mark.parametrize("name, op", [("min", "minimum"), ("max", "maximum")])
def test_min_and_max_of_an_empty_array_raise_numpy_s_value_error(name, op):
    with pytest.raises(ValueError, match=f"zero-size array to reduction operation {op} which has no identity"):
        getattr(np, name)(np.empty(0))
    kernel = _reducer(name)
    with pytest.raises(ValueError, match=f"zero-size array to reduction operation {op} which has no identity"):
        kernel(np.empty(0))
    # The error is this call's only: the next call with data succeeds.
    assert kernel(np.array([4.0, -1.0])) == getattr(np, name)(np.array([4.0, -1.0]))


@pytest.mark.parametrize(
    "dtype, ret",
    [("int32", "int64"), ("int8", "int64"), ("uint8", "uint64"), ("uint64", "uint64"), ("int64", "int64"), ("bool", "int64")],
)
def test_sums_of_integers_and_bools_have_numpy_s_type_and_wrap_as_it_does(dtype, ret):
    kernel = _reducer("sum", dtype, ret)
    if dtype == "bool":
        a = _RNG.random(77) < 0.4
    else:
        info = np.iinfo(dtype)
        a = _RNG.integers(info.min, info.max, size=77, dtype=dtype, endpoint=True)
    assert np.sum(a).dtype == np.dtype(ret)
    assert kernel(a) == np.sum(a)
    assert kernel(a[::-3]) == np.sum(a[::-3])


@pytest.mark.parametrize("name", ["mean", "var", "std", "median", "nanmedian", "min", "max"])
@pytest.mark.parametrize("dtype", ["int16", "uint32", "int64"])
def test_other_reductions_of_integers_compute_as_numpy_does(name, dtype):
    ret = dtype if name in ("min", "max") else "float64"
    kernel = _reducer(name, dtype, ret)
    a = _RNG.integers(-1000 if dtype[0] == "i" else 0, 1000, size=31).astype(dtype)
    got, want = kernel(a), getattr(np, name)(a)
    assert got == pytest.approx(want, rel=1e-13) and type(got) is type(float(want)) if ret == "float64" else got == want


@pytest.mark.parametrize("name", ["sum", "mean", "min", "max", "median"])
def test_reductions_of_float32_arrays_stay_float32(name):
    kernel = _reducer(name, "float32", "float32")
    a = _RNG.random(25).astype(np.float32)
    want = getattr(np, name)(a)
    assert want.dtype == np.float32
    assert kernel(a) == pytest.approx(float(want), rel=1e-6)


def test_the_array_methods_are_the_same_reductions():
    @nativecall.jit("float64(float64[:], int64)")
    def method(a, k):
        if k == 0:
            return a.sum()
        if k == 1:
            return a.mean()
        if k == 2:
            return a.var()
        if k == 3:
            return a.std()
        if k == 4:
            return a.min()
        return a.max()

    a = _RNG.normal(size=9)
    for k, name in enumerate(["sum", "mean", "var", "std", "min", "max"]):
        assert method(a, k) == pytest.approx(getattr(a, name)(), rel=1e-13)


def test_reductions_of_carray_views_read_the_caller_s_memory():
    @nativecall.jit("float64(float64*, intp)")
    def spread(p, n):
        v = carray(p, n)
        return (v.max() - np.min(v)) / np.std(v) + np.median(v) + carray(p, (n,)).sum()

    a = _RNG.normal(size=13)
    want = (a.max() - a.min()) / a.std() + np.median(a) + a.sum()
    assert spread(a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), 13) == pytest.approx(want, rel=1e-13)


def test_the_median_never_writes_the_array_it_reads():
    a = _RNG.normal(size=21)
    before = a.copy()
    assert _reducer("median")(a) == np.median(before)
    assert _reducer("nanmedian")(a) == np.nanmedian(before)
    np.testing.assert_array_equal(a, before)


def test_a_sum_is_a_loop_in_the_generated_code_not_a_call():
    kernel = _reducer("sum")
    text = kernel.inspect_ir()
    assert "call_indirect" not in text and "brif" in text
    assert "median" in _reducer("median").inspect_ir()


# ------------------------------------------------------------------ scratch arrays


def test_np_zeros_gives_a_zeroed_scratch_array_of_a_run_time_length():
    @nativecall.jit("float64(int64)")
    def triangle(n):
        b = np.zeros(n)
        for i in range(n):
            b[i] += i
        s = 0.0
        for v in b:
            s += v
        return s + len(b) * 1000 + b.sum()

    assert triangle(10) == 2 * 45 + 10000
    assert triangle(0) == 0.0


def test_np_empty_takes_numpy_dtypes_and_a_one_element_tuple_shape():
    @nativecall.jit("int64(int64)")
    def wraps(n):
        b = np.empty((n,), dtype=np.int8)
        for i in range(n):
            b[i] = i * 50
        return b.sum() + b.max()

    got = wraps(6)
    want = np.arange(6, dtype=np.int64) * 50
    want = want.astype(np.int8)
    assert got == int(want.sum()) + int(want.max())


def test_a_scratch_median_filter_matches_numpy_sliding_medians():
    @nativecall.jit("float64(float64[:], int64, float64[:])")
    def running_median(a, w, out):
        buf = np.empty(w)
        for i in range(len(a) - w + 1):
            for j in range(w):
                buf[j] = a[i + j]
            out[i] = np.median(buf)
        return out.sum()

    a = _RNG.normal(size=60)
    out = np.zeros(56)
    running_median(a, 5, out)
    want = np.median(np.lib.stride_tricks.sliding_window_view(a, 5), axis=1)
    np.testing.assert_array_equal(out, want)


def test_a_negative_length_raises_numpy_s_value_error():
    @nativecall.jit("float64(int64)")
    def make(n):
        b = np.zeros(n)
        return b.sum()

    with pytest.raises(ValueError, match="negative dimensions are not allowed"):
        make(-3)
    assert make(3) == 0.0


def test_a_scratch_array_larger_than_memory_raises_memory_error():
    @nativecall.jit("float64(int64)")
    def make(n):
        b = np.empty(n)
        return len(b)

    with pytest.raises(MemoryError, match="unable to allocate"):
        make(1 << 60)


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_scratch_arrays_are_freed_at_every_return_and_on_each_loop_pass():
    @nativecall.jit("float64(int64, int64)")
    def churn(n, how):
        total = 0.0
        for k in range(3):
            b = np.zeros(n)  # a new array each pass: the one before is freed
            total += len(b)
        if how == 0:
            return total  # a return
        c = np.empty(0)
        if how == 1:
            return c.min()  # an error return (empty min)
        return total + len(c)

    @nativecall.jit("void(int64, float64[:])")
    def fill(n, out):
        b = np.zeros(n)
        out[0] = len(b)  # and falls off the end

    n = 1 << 18  # 2 MiB per array, 6 MiB per call
    out = np.zeros(1)
    for how in (0, 2):
        churn(n, how)
    before = _rss()
    for _ in range(300):
        assert churn(n, 0) == 3.0 * n
        with pytest.raises(ValueError):
            churn(n, 1)
        fill(n, out)
    assert out[0] == n
    # Leaking would hold 300 * 14 MiB = 4 GB; freed, resident memory stays put.
    assert _rss() - before < 64 << 20


# ------------------------------------------------------------------ what stays an error


def _error(source, sig, exc=nativecall.CompileError):
    with pytest.raises(exc) as info:
        nativecall.jit(sig, source=source, globals={"np": np, "carray": carray})
    return info.value


@pytest.mark.parametrize(
    "body, message",
    [
        ("return np.sum(m, axis=0)", "np.sum() with 'axis=' is not supported"),
        ("return np.sum(m)", "np.sum() of a 2-D array: kernels reduce whole 1-D arrays"),
        ("return m.mean()", "np.mean() of a 2-D array"),
        ("return a.argmax()", "'.argmax()' is not supported in kernels"),
        ("return np.std(a, ddof=1)", "np.std() with 'ddof=' is not supported"),
        ("return np.median(a, a)", "np.median() takes one array in kernels, got 2 arguments"),
        ("return np.sum(a[0])", "np.sum() takes an array in kernels, got float64"),
        ("b = np.empty((3, 4))\n    return b[0]", "np.empty() of 2 dimensions: kernels make 1-D scratch arrays"),
        ("b = np.zeros(3, order='F')\n    return b[0]", "np.zeros() takes shape and dtype in kernels"),
        ("b = np.zeros(2.5)\n    return b[0]", "np.zeros() takes the length, an integer, got float64"),
        ("return np.sum(np.zeros(3))", "a scratch array (np.empty/np.zeros) cannot be used before it is assigned"),
        ("b = np.zeros(3)\n    return b", "a float64[::1] cannot be converted"),
    ],
)
def test_unsupported_reduction_and_scratch_forms_name_the_construct_and_point_at_the_line(body, message):
    err = _error(f"def f(a, m):\n    {body}\n", "float64(float64[:], float64[:, :])")
    assert message in str(err)
    assert err.lineno >= 2


def test_a_nan_a_reduction_returns_is_the_arrays_first_nan_sign_included():
    # NumPy's sign of such a NaN varies with its loops; a kernel's is the array's first
    # NaN's, so a program that reads it (copysign) gives one answer.
    import math

    neg_nan = math.copysign(math.nan, -1.0)
    for name in ("min", "max", "sum", "mean", "var", "std", "median"):
        k = nativecall.jit("float64(float64[:])", source=f"def f(a):\n    return math.copysign(1.0, np.{name}(a))\n",
                           globals={"np": np, "math": math})  # fmt: skip
        assert k(np.array([1.0, neg_nan, 2.0, math.nan])) == -1.0, name
        assert k(np.array([1.0, math.nan, 2.0, neg_nan])) == 1.0, name
    k = nativecall.jit("float64(float64[:])", source="def f(a):\n    return math.copysign(1.0, np.nanmedian(a))\n",
                       globals={"np": np, "math": math})  # fmt: skip
    assert k(np.array([neg_nan, math.nan])) == -1.0
    assert k(np.array([neg_nan, 3.0])) == 1.0
