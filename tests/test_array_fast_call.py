"""Array arguments on the generated Python entry: an exact NumPy array (and a
``nativecall.Array``) is described in place, on the entry's stack, with no capsule and
no allocation. Each case is compared with NumPy, and every refusal with what the general
entry (``type(f).__call__``, which builds an argument tuple) says."""

import sys

import numpy as np
import pytest

import nativecall
from conftest import general_call, outcome


def weighted_sum(dtype):
    src = (
        "def weighted(a):\n"
        "    s = 0.0\n"
        "    for i in range(a.shape[0]):\n"
        "        for j in range(a.shape[1]):\n"
        "            s += a[i, j] * (i + 1) * (j + 2)\n"
        "    return s\n"
    )
    return nativecall.jit(f"float64({dtype}[:, :])", source=src)


def reference(x):
    i, j = np.indices(x.shape)
    return float(np.sum(x.astype(np.float64) * (i + 1) * (j + 2)))


def layouts(dtype):
    base = (np.arange(42) % 11 - 3).astype(dtype).reshape(6, 7)
    return {
        "C": base,
        "F": np.asfortranarray(base),
        "transposed": base.T.copy().T,
        "strided": base[::2, 1::3],
        "reversed": base[::-1, ::-2],
        "empty": base[:0],
        "one row": base[3:4],
        "q-typed" if dtype == np.int64 else "same": base.astype("q" if dtype == np.int64 else dtype),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32, np.uint8, np.int16])
def test_numpy_arrays_of_every_layout_are_read_in_place_as_numpy_reads_them(dtype):
    name = np.dtype(dtype).name
    k = weighted_sum(name)
    for label, x in layouts(dtype).items():
        assert k(x) == pytest.approx(reference(x), rel=1e-12), label
        assert k._python_entry == "generated"
        assert outcome(lambda: k(x)) == outcome(lambda: general_call(k, x)), label
    own = nativecall.from_dlpack(layouts(dtype)["strided"])
    assert k(own) == pytest.approx(reference(layouts(dtype)["strided"]), rel=1e-12)


def test_writes_through_an_array_parameter_land_in_the_callers_array():
    @nativecall.jit("void(float64[:], float64)")
    def ramp(a, step):
        for i in range(len(a)):
            a[i] = i * step

    whole = np.zeros(10)
    ramp(whole[::-3], 0.5)
    want = np.zeros(10)
    want[::-3] = np.arange(4) * 0.5
    np.testing.assert_array_equal(whole, want)
    assert ramp._python_entry == "generated"
    own = np.zeros(4)
    ramp(nativecall.from_dlpack(own), 2.0)
    np.testing.assert_array_equal(own, [0.0, 2.0, 4.0, 6.0])


class Subclass(np.ndarray):
    pass


def test_every_refusal_is_the_general_entrys_word_for_word():
    @nativecall.jit("void(float64[::1], float64)")
    def fill(a, x):
        for i in range(len(a)):
            a[i] = x

    fill(np.zeros(2), 0.0)
    assert fill._python_entry == "generated"
    read_only = np.zeros(3)
    read_only.flags.writeable = False
    record = np.zeros(4, dtype=[("x", "f8"), ("flag", "i1")])["x"]  # 9-byte strides
    cases = [np.zeros(6)[::2], np.zeros(3, dtype=np.float32), np.zeros((2, 2)), [1.0, 2.0], read_only,
             np.arange(3.0).astype(">f8"), record, np.zeros(3, dtype=np.complex128), np.zeros(3).view(Subclass),
             nativecall.from_dlpack(np.zeros(6)[::2]), nativecall.from_dlpack(np.zeros(2, dtype=np.int64)), None]
    for bad in cases:
        got, want = outcome(lambda: fill(bad, 1.0)), outcome(lambda: general_call(fill, bad, 1.0))
        assert got == want, bad
        assert got[0] != "value" or isinstance(bad, Subclass) or bad is record, bad


def test_a_read_only_array_is_taken_where_the_kernel_only_reads():
    @nativecall.jit("float64(float64[:])")
    def first(a):
        return a[0]

    frozen = np.arange(1.0, 4.0)
    frozen.flags.writeable = False
    assert first(frozen) == 1.0 and first._python_entry == "generated"


def test_a_bounds_checked_kernel_raises_index_errors_through_the_entry():
    @nativecall.jit("float64(float64[:], int64)", boundscheck=True)
    def at(a, i):
        return a[i]

    v = np.arange(5.0)
    assert at(v, 4) == 4.0 and at._python_entry == "generated"
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 5"):
        at(v, 5)
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 5"):
        at(nativecall.from_dlpack(v), 5)
    assert at(v, -1) == 4.0


def test_many_dimensions_and_several_arrays_in_one_call():
    src = "def dot5(a, b):\n    return a[1, 0, 2, 1, 0] * b[0, 1, 1, 0, 2]\n"
    dot5 = nativecall.jit("float64(float64[:, :, :, :, :], float32[:, :, :, :, :])", source=src)
    a = np.arange(2 * 2 * 3 * 2 * 3, dtype=np.float64).reshape(2, 2, 3, 2, 3)
    b = a.astype(np.float32)[:, :, :, :, ::-1]
    assert dot5(a, b) == a[1, 0, 2, 1, 0] * float(b[0, 1, 1, 0, 2])
    assert dot5._python_entry == "generated"


def test_array_arguments_leak_no_references_and_no_memory():
    @nativecall.jit("float64(float64[:], float64[:, :])")
    def corner(a, m):
        return a[0] + m[1, 1]

    a, m = np.arange(3.0), np.arange(9.0).reshape(3, 3)
    own = nativecall.from_dlpack(a)
    corner(a, m)
    before = [sys.getrefcount(x) for x in (a, m, own)]
    for _ in range(5000):
        corner(a, m)
        corner(own, m[::-2, ::-1])
    assert [sys.getrefcount(x) for x in (a, m, own)] == before
    assert corner(a, m) == 4.0 and corner(own, m[::-2, ::-1]) == 1.0


def test_nogil_kernels_take_arrays_on_the_general_entry():
    @nativecall.jit("float64(float64[:])", nogil=True)
    def total(a):
        s = 0.0
        for x in a:
            s += x
        return s

    assert total(np.arange(5.0)) == 10.0 and total._python_entry == "general"
