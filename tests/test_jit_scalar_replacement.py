"""A loop accumulating into one pointer element (`result[0] += v`, scipy's generic_filter
tutorial) keeps it in a register and stores it once after the loop, only when nothing else
the loop reads can be that element: aliased, empty and strided cases give what a load and a
store per iteration give."""

import ctypes

import numpy as np
import pytest
from scipy import LowLevelCallable, ndimage

import nativecall

DOUBLE_P = ctypes.POINTER(ctypes.c_double)


def at(a, k):
    """A `double *` to element `k` of the float64 array `a`."""
    return ctypes.cast(a.ctypes.data + 8 * k, DOUBLE_P)


@nativecall.jit("int64(float64*, int64, float64*)")
def running(values, n, result):
    result[0] = 0.5
    for i in range(n):
        result[0] += values[i] * result[0]
    return 1


def running_in_python(buf, v, n, r):
    """`running` on one list of floats, `values` at index v and `result` at index r."""
    buf[r] = 0.5
    for i in range(n):
        buf[r] += buf[v + i] * buf[r]


def test_the_accumulated_element_lives_in_a_register_in_the_loop():
    text = running.inspect_ir()
    # Two versions of the loop: the original (values[i] and result[0] twice loaded, result[0]
    # stored, per iteration), and one reading only values[i], with result[0] loaded before it
    # and stored after it.
    assert text.count("fmul") == 2
    assert text.count("load.f64") == 3 + 2


@pytest.mark.parametrize("r", [-3, -1, 0, 2, 5, 7, 8, 11])
def test_a_result_inside_or_beside_what_the_loop_reads_gives_what_a_store_per_iteration_gives(r):
    base = np.linspace(0.25, 2.0, 24)
    v = 10  # values start at element 10 and the loop reads 8 of them
    buf = base.copy()
    assert running(at(buf, v), 8, at(buf, v + r)) == 1
    expected = list(base)
    running_in_python(expected, v, 8, v + r)
    assert buf.tolist() == expected


def test_a_loop_that_does_not_run_leaves_the_element_as_the_loop_found_it():
    @nativecall.jit("void(float64*, int64, float64*)")
    def add_all(values, n, result):
        for i in range(n):
            result[0] += values[i]

    out = np.array([3.0])
    add_all(at(np.ones(4), 0), 0, at(out, 0))
    assert out[0] == 3.0
    add_all(at(np.ones(4), 0), 4, at(out, 0))
    assert out[0] == 7.0


@pytest.mark.parametrize("step", [1, -1, 3])
def test_strided_arrays_are_checked_against_the_element_too(step):
    @nativecall.jit("void(float64[:], float64*)")
    def total(a, result):
        for i in range(a.shape[0]):
            result[0] += a[i]

    buf = np.arange(1.0, 31.0)
    view = buf[::step] if step > 0 else buf[::-1]
    for k in (0, 4, 29):  # inside the view (k=4 is skipped by step 3), and its ends
        data = buf.copy()
        v = data[::step] if step > 0 else data[::-1]
        total(v, at(data, k))
        expected = list(buf)
        for i in range(len(view)):
            j = i * step if step > 0 else len(buf) - 1 - i
            expected[k] += expected[j]
        assert data.tolist() == expected, k


# scipy's ndimage tutorial, with the callback's loop accumulating in result[0].
from test_kernel_views import filter_mean  # noqa: E402


def test_the_tutorial_mean_filter_accumulating_in_its_result_matches_numpy():
    image = np.random.default_rng(5).random((41, 37)) * 100 - 30
    got = ndimage.generic_filter(image, LowLevelCallable(filter_mean.lowlevelcallable()), size=5)
    by_numpy = ndimage.generic_filter(image, np.mean, size=5)
    np.testing.assert_allclose(got, by_numpy, rtol=1e-13, atol=1e-12)
    assert "store.f64" in filter_mean.inspect_ir()


@nativecall.jit("void(float64[:], float64*, int64)")
def add_totals(values, result, n):
    for i in range(n):
        result[0] += values.sum()


@nativecall.jit("void(float64[:], float64*, int64)")
def add_medians(values, result, n):
    for i in range(n):
        result[0] += np.median(values)


def test_a_reduction_in_the_loop_reads_the_accumulated_element_when_it_lies_in_the_array():
    # The reduction reads the whole array, result[0] among it: each pass sees the last
    # pass's total, as a load and a store per iteration give.
    for kernel, reduce in ((add_totals, sum), (add_medians, lambda v: float(np.median(v)))):
        a = np.array([1.0, 2.0, 3.0])
        kernel(a, at(a, 0), 3)
        want = [1.0, 2.0, 3.0]
        for _ in range(3):
            want[0] += reduce(want)
        assert a.tolist() == want, kernel.__name__
        # Apart from the array, the total is added n times.
        b, r = np.array([1.0, 2.0, 3.0]), np.zeros(1)
        kernel(b, at(r, 0), 4)
        assert r[0] == 4 * reduce([1.0, 2.0, 3.0])
