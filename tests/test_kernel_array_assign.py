"""Slice assignment of a scalar to 1-D arrays, tuple unpacking of pointer elements and of
carray views, and global NumPy arrays frozen at compile time, in kernels: each compared
with what Python and NumPy do on the same data."""

import ctypes

import numpy as np
import pytest

import nativecall
from nativecall import carray

_BOUNDS = [None, 0, 1, 3, -1, -3, 7, 8, 100, -100]


def _slice_kernel(lo, hi):
    text = f"{'' if lo is None else lo}:{'' if hi is None else hi}"
    source = f"def f(a, x):\n    a[{text}] = x\n    return len(a)\n"
    return nativecall.jit("int64(float64[:], float64)", source=source, globals={}), text


@pytest.mark.parametrize("lo", _BOUNDS)
@pytest.mark.parametrize("hi", _BOUNDS)
def test_slice_assignment_of_a_scalar_stores_where_numpy_does(lo, hi):
    kernel, text = _slice_kernel(lo, hi)
    got, want = np.arange(8.0), np.arange(8.0)
    assert kernel(got, -1.5) == 8
    want[lo:hi] = -1.5
    np.testing.assert_array_equal(got, want, err_msg=f"a[{text}] = x")


def test_slice_bounds_computed_at_run_time_are_clamped_as_numpy_s():
    @nativecall.jit("void(float64[:], int64, int64, float64)")
    def fill(a, lo, hi, x):
        a[lo:hi] = x

    for lo in range(-10, 11, 3):
        for hi in range(-10, 11, 2):
            got, want = np.zeros(7), np.zeros(7)
            fill(got, lo, hi, 2.0)
            want[lo:hi] = 2.0
            np.testing.assert_array_equal(got, want)


def test_whole_array_assignment_fills_views_parameters_and_scratch_arrays():
    @nativecall.jit("float64(float64*, intp, int32[:])")
    def fill(p, n, counts):
        v = carray(p, n)
        v[:] = 0.25
        counts[...] = 3  # converted to the element type, as NumPy does
        b = np.empty(n)
        b[...] = 2.0
        return b.sum()

    a, counts = np.ones(5), np.zeros(4, dtype=np.int32)
    assert fill(a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), 5, counts) == 10.0
    np.testing.assert_array_equal(a, np.full(5, 0.25))
    np.testing.assert_array_equal(counts, np.full(4, 3))


def test_slice_assignment_through_a_negative_stride_writes_the_viewed_elements():
    @nativecall.jit("void(float64[:])")
    def head(a):
        a[:2] = 9.0

    got, want = np.zeros(6), np.zeros(6)
    head(got[::-2])
    want[::-2][:2] = 9.0
    np.testing.assert_array_equal(got, want)


def test_the_right_side_of_a_slice_assignment_is_evaluated_once_before_the_stores():
    @nativecall.jit("void(float64[:])")
    def shift(a):
        a[1:] = a[0] + 1.0  # a[0] is read once, before a[1] is written

    a = np.array([1.0, 5.0, 5.0, 5.0])
    shift(a)
    np.testing.assert_array_equal(a, [1.0, 2.0, 2.0, 2.0])


def test_tuple_unpacking_reads_every_right_side_before_assigning():
    @nativecall.jit("float64(float64*)")
    def swap(xx):
        x, y = xx[0], xx[1]
        x, y = y, x
        a, b = carray(xx, 2)
        c, d = carray(xx, (2,))
        return x * 1000 + y * 100 + (a - b) * 10 + d

    xx = np.array([3.0, 5.0])
    x, y = xx[0], xx[1]
    x, y = y, x
    a, b = xx
    assert swap(xx.ctypes.data_as(ctypes.POINTER(ctypes.c_double))) == x * 1000 + y * 100 + (a - b) * 10 + b


def test_unpacking_a_view_whose_length_is_not_a_literal_is_a_compile_error():
    with pytest.raises(nativecall.UnsupportedError, match="tuple assignment needs a tuple of the same length") as info:
        nativecall.jit(
            "float64(float64*, intp)",
            source="def f(xx, n):\n    a, b = carray(xx, n)\n    return a\n",
            globals={"carray": carray},
        )
    assert info.value.lineno == 2


def test_slice_assignment_with_a_step_is_a_compile_error_at_the_line():
    with pytest.raises(nativecall.UnsupportedError, match=r"slice assignment with a step") as info:
        nativecall.jit("void(float64[:])", source="def f(a):\n    s = 0\n    a[::2] = 1.0\n", globals={})
    assert info.value.lineno == 3


# ------------------------------------------------------------------ global arrays


def test_a_global_array_is_frozen_when_the_kernel_compiles_as_numba_does():
    weights = np.array([0.5, 0.25, 0.125, 2.0])

    @nativecall.jit("float64(float64[:])")
    def dot(a):
        s = 0.0
        for i in range(len(weights)):
            s += a[i] * weights[i]
        return s + weights.sum() + np.median(weights) + weights[-1]

    a = np.array([1.0, 2.0, 3.0, 4.0])
    want = a @ weights + weights.sum() + np.median(weights) + weights[-1]
    assert dot(a) == want
    weights[:] = 100.0  # later changes to the global are not seen
    del weights
    assert dot(a) == want


def test_global_integer_and_two_dimensional_arrays_are_read_as_constants():
    table = np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::-1]  # not contiguous: copied in C order

    @nativecall.jit("int64(int64, int64)")
    def look(i, j):
        return table[i, j] * 100 + table.shape[1] + table.ndim

    assert look(1, 0) == int(table[1, 0]) * 100 + 4 + 2
    assert look(2, -1) == int(table[2, -1]) * 100 + 4 + 2


def test_storing_into_a_global_array_is_a_compile_error():
    g = np.zeros(3)
    with pytest.raises(nativecall.TypingError, match="cannot store through a view of a const pointer"):
        nativecall.jit("void(float64)", source="def f(x):\n    g[0] = x\n", globals={"g": g})


def test_a_global_array_of_objects_is_refused_naming_it():
    g = np.array(["a", "b"])
    with pytest.raises(nativecall.TypingError, match="'g' is an array of <U1; kernels read global arrays of numbers"):
        nativecall.jit("float64()", source="def f():\n    return len(g)\n", globals={"g": g})


# ------------------------------------------------------------------ views passed to kernels


@nativecall.jit("float64(float64[:])")
def _total(a):
    s = 0.0
    for v in a:
        s += v
    return s


@nativecall.jit("void(float64[:], float64)")
def _fill(a, x):
    a[:] = x


@nativecall.jit("int64(int32[:, :])")
def _corner(m):
    return m[-1, -1] * 1000 + m.shape[0] * 10 + m.shape[1]


def test_views_scratch_and_global_arrays_pass_to_kernels_taking_arrays():
    weights = np.array([1.0, 2.0, 3.0])

    @nativecall.jit("float64(float64*, intp, int32*)")
    def use(p, n, q):
        v = carray(p, n)
        b = np.zeros(n)
        _fill(b, 2.5)  # the callee writes the scratch array
        _fill(v, 0.5)  # and the caller's memory through the view
        return _total(v) + _total(b) * 100 + _total(weights) * 10000 + _corner(carray(q, (2, 3))) * 1e6

    a, q = np.arange(4.0), np.arange(6, dtype=np.int32).reshape(2, 3)
    got = use(a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), 4, q.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)))
    assert got == 4 * 0.5 + 4 * 2.5 * 100 + 6.0 * 10000 + (5 * 1000 + 23) * 1e6
    np.testing.assert_array_equal(a, np.full(4, 0.5))


def test_a_view_passes_to_a_kernel_without_a_signature():
    @nativecall.jit
    def mean_of(a):
        return a.sum() / len(a)

    @nativecall.jit("float64(float64*, intp)")
    def use(p, n):
        return mean_of(carray(p, n))

    a = np.array([1.0, 2.0, 6.0])
    assert use(a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), 3) == 3.0


def test_a_read_only_view_is_not_passed_to_a_kernel_that_writes_its_array():
    g = np.zeros(3)
    with pytest.raises(nativecall.TypingError, match="a view of a const pointer cannot be passed to a function that may write") as info:
        nativecall.jit("float64()", source="def f():\n    s = 0.0\n    _fill(g, 1.0)\n    return s\n", globals={"g": g, "_fill": _fill})
    assert info.value.lineno == 3


def test_a_view_is_not_passed_where_a_function_takes_a_pointer():
    @nativecall.jit("float64(float64*)")
    def first(p):
        return p[0]

    with pytest.raises(nativecall.TypingError, match=r"argument 1 of first \(double \(double \*\)\) must be double \*, got float64\[::1\]"):
        nativecall.jit(
            "float64(float64*, intp)",
            source="def f(p, n):\n    v = carray(p, n)\n    return first(v)\n",
            globals={"carray": carray, "first": first},
        )


# ------------------------------------------------------------------ rows of 2-D arrays


def test_rows_of_2d_arrays_are_1d_views_iterated_indexed_reduced_and_passed_on():
    @nativecall.jit("float64(float64[:, :])")
    def by_rows(m):
        s = 0.0
        for row in m:  # each row a 1-D view
            s += np.median(row) * len(row)
        return s + m[1][1] * 1000 + _total(m[-1]) * 100000 + m[0].max()

    for m in (np.arange(12.0).reshape(3, 4) ** 1.5, (np.arange(12.0).reshape(3, 4) ** 1.5)[::-1, ::-2]):
        want = sum(np.median(r) * len(r) for r in m) + m[1][1] * 1000 + m[-1].sum() * 100000 + m[0].max()
        assert by_rows(m) == pytest.approx(want, rel=1e-14)


def test_rows_of_fortran_views_and_global_arrays_keep_their_strides():
    table = np.arange(12.0).reshape(3, 4)

    @nativecall.jit("float64(float64*)")
    def rows(p):
        v = nativecall.farray(p, (3, 4))
        return v[1].sum() * 1000 + table[2].sum() + table[-1][0] / 100

    data = np.arange(12.0)
    want = data.reshape(3, 4, order="F")[1].sum() * 1000 + table[2].sum() + table[-1][0] / 100
    assert rows(data.ctypes.data_as(ctypes.POINTER(ctypes.c_double))) == want


def test_a_row_takes_slice_assignment_but_not_a_scalar_as_if_it_were_an_element():
    @nativecall.jit("void(float64[:, :], int64)")
    def clear(m, i):
        m[i][:] = -1.0

    m = np.zeros((3, 2))
    clear(m, -2)
    np.testing.assert_array_equal(m, [[0, 0], [-1, -1], [0, 0]])
    # The message says what a store needs and how to fill a row, not that a float cannot
    # go into a "float64[:] element".
    with pytest.raises(nativecall.TypingError, match=r"1 given for 2 dimensions; .*m\[i\]\[:\] = x"):
        nativecall.jit("void(float64[:, :])", source="def f(m):\n    m[1] = 2.0\n", globals={})
    with pytest.raises(nativecall.TypingError, match=r"2 given for 3 dimensions"):
        nativecall.jit("void(float64[:, :, :])", source="def f(m):\n    m[1, 0] = 2.0\n", globals={})


def test_a_row_of_a_global_array_is_read_only():
    g = np.zeros((2, 2))
    with pytest.raises(nativecall.TypingError, match="cannot store through a view of a const pointer"):
        nativecall.jit("void()", source="def f():\n    g[0][1] = 1.0\n", globals={"g": g})
