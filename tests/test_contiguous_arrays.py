"""C-contiguous array types, Numba's `float64[::1]` / `float64[:, ::1]` (issue 9 item 14):
checked when called from Python, indexed with strides computed from the shape; any
other slice step in an array type is refused."""

import ctypes
import pickle

import numpy as np
import pytest

import nativecall
from nativecall import SignatureError, TypingError
from conftest import DLDataType, DLDevice, DLTensor


@nativecall.jit("float64(float64[:, ::1])")
def weighted(a):
    t = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            t += a[i, j] * (i + 1) * (j + 2)
    return t


@nativecall.jit("void(float64[::1], float64)")
def fill(a, v):
    for i in range(len(a)):
        a[i] = v + i


def reference(m):
    return sum(m[i, j] * (i + 1) * (j + 2) for i in range(m.shape[0]) for j in range(m.shape[1]))


def test_contiguous_array_types_parse_print_and_compare():
    t = nativecall.Signature("float64(float64[:, ::1])").argtypes[0]
    assert t.kind == "array" and t.ndim == 2 and t.contiguous is True
    assert nativecall.Signature("void(int32[:])").argtypes[0].contiguous is False
    assert nativecall.float64[::1].contiguous and nativecall.float64[:, :, ::1].ndim == 3
    assert not nativecall.float64[:, :].contiguous
    assert weighted.inspect_types()["a"] == "float64[:, ::1]"
    assert str(weighted.signature) == "double (DLTensor *)"  # at the C ABI: a DLTensor *


@pytest.mark.parametrize("text", ["float64[::2]", "float64[::1, :]", "float64[::1, ::1]", "float64[::-1]",
                                  "float64[:, ::0]", "float64[:, ::]", "float64[1:]"])  # fmt: skip
def test_other_steps_and_positions_are_signature_errors(text):
    with pytest.raises(SignatureError):
        nativecall.Signature(f"void({text})")


@pytest.mark.parametrize("key", [slice(None, None, 2), slice(None, None, -1), (slice(None, None, 1), slice(None)),
                                 slice(1, None), (slice(None), 0)])  # fmt: skip
def test_other_steps_in_python_type_expressions_are_type_errors(key):
    with pytest.raises(TypeError, match="float64\\[:, ::1\\] for C-contiguous"):
        nativecall.float64[key]


def test_a_kernel_with_a_step_other_than_one_is_a_compile_time_error():
    def f(a):
        return a[0]

    with pytest.raises(SignatureError):
        nativecall.jit("float64(float64[::2])")(f)
    with pytest.raises(TypingError, match="parameter 'a'"):
        nativecall.jit(source="def g(a: 'float64[::2]') -> float:\n    return a[0]\n")


def test_contiguous_kernels_compute_on_contiguous_arrays_of_every_producer():
    m = np.arange(12.0).reshape(3, 4)
    want = reference(m)
    assert weighted(m) == want
    assert weighted(nativecall.from_dlpack(m)) == want  # a nativecall.Array
    assert weighted(m.__dlpack__()) == want  # a DLPack capsule
    assert weighted(m[1:]) == reference(m[1:])  # a contiguous view with an offset
    assert weighted(np.ones((4, 1))[::2].copy()) == reference(np.ones((2, 1)))
    a = np.zeros(5)
    fill(a, 2.0)
    assert a.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]


def test_arrays_with_dimensions_of_length_one_are_contiguous_whatever_their_stride():
    m = np.arange(12.0).reshape(3, 4)
    column = m[:, 1:2].T  # shape (1, 3), stride 4 elements on the length-1 axis, 4 on the other
    row = m[1:2, :]  # shape (1, 4): the leading stride does not matter
    assert row.flags.c_contiguous
    assert weighted(row) == reference(row)
    with pytest.raises(ValueError, match="C-contiguous"):
        weighted(column)


@pytest.mark.parametrize(
    "make",
    [lambda m: m[:, ::2], lambda m: m[::-1], lambda m: m[:, ::-1], lambda m: m.T, lambda m: np.asfortranarray(m),
     lambda m: m[::2]],
    ids=["every-other-column", "reversed-rows", "reversed-columns", "transposed", "fortran", "every-other-row"],
)  # fmt: skip
def test_non_contiguous_arrays_are_refused_before_the_call_from_every_producer(make):
    bad = make(np.arange(24.0).reshape(4, 6))
    assert not bad.flags.c_contiguous
    for arg in (bad, nativecall.from_dlpack(bad), bad.__dlpack__()):
        with pytest.raises(ValueError, match=r"argument 1 of weighted \(float64\[:, ::1\]\) must be C-contiguous"):
            weighted(arg)
    a = np.arange(6.0)
    with pytest.raises(ValueError, match="stride -1"):
        fill(a[::-1], 1.0)
    with pytest.raises(ValueError, match="stride 2"):
        fill(a[::2], 1.0)
    assert a.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # nothing written


def test_zero_size_arrays_are_contiguous_with_any_strides():
    assert weighted(np.zeros((0, 4))) == 0.0
    assert weighted(np.zeros((3, 0))) == 0.0
    assert weighted(np.zeros((6, 0))[::2]) == 0.0
    assert weighted(np.zeros((0, 6))[:, ::-2]) == 0.0
    fill(np.zeros(0)[::-1], 1.0)


def test_strided_parameters_still_take_any_strides():
    @nativecall.jit("float64(float64[:, :])")
    def any_strides(a):
        return a[0, 1] * 10.0 + a[1, 0]

    m = np.arange(24.0).reshape(4, 6)
    for v in (m[:, ::2], m[::-1], m.T):
        assert any_strides(v) == v[0, 1] * 10.0 + v[1, 0]


def test_contiguous_arrays_pass_to_strided_parameters_but_not_the_other_way():
    @nativecall.jit("float64(float64[:, :])")
    def corner(a):
        return a[0, 0]

    @nativecall.jit("float64(float64[:, ::1])")
    def calls_strided(a):
        return corner(a) + weighted(a)

    m = np.arange(6.0).reshape(2, 3) + 1.0
    assert calls_strided(m) == 1.0 + reference(m)

    def calls_contiguous(a):
        return weighted(a)

    with pytest.raises(TypingError, match="float64\\[:, ::1\\]"):
        nativecall.jit("float64(float64[:, :])")(calls_contiguous)


def test_a_conditional_of_arrays_is_contiguous_only_when_both_are():
    @nativecall.jit("float64(float64[:, ::1], float64[:, ::1], bool)")
    def both(a, b, c):
        return weighted(a if c else b) + (a if c else b)[1, 0]

    m, n = np.arange(6.0).reshape(2, 3), np.arange(8.0).reshape(2, 4) + 7.0
    assert both(m, n, True) == reference(m) + m[1, 0]
    assert both(m, n, False) == reference(n) + n[1, 0]
    assert "+32" not in both.inspect_ir()  # neither array's strides are read

    @nativecall.jit("float64(float64[:, ::1], float64[:, :], bool)")
    def mixed(a, b, c):
        return (a if c else b)[1, 2] + 100.0 * len(a if c else b)

    strided = np.arange(40.0).reshape(5, 8)[::2, ::-3]
    assert mixed(m, strided, True) == m[1, 2] + 200.0
    assert mixed(m, strided, False) == strided[1, 2] + 300.0

    def passes_mixed(a, b, c):
        return weighted(a if c else b)

    with pytest.raises(TypingError, match="float64\\[:, ::1\\]"):
        nativecall.jit("float64(float64[:, ::1], float64[:, :], bool)")(passes_mixed)


def test_contiguous_kernels_index_without_reading_strides():
    m = np.arange(12.0).reshape(3, 4)
    shape = (ctypes.c_int64 * 2)(3, 4)
    nonsense = (ctypes.c_int64 * 2)(1_000_000_007, -999_999_937)  # would read far outside m
    t = DLTensor(m.ctypes.data, DLDevice(1, 0), 2, DLDataType(2, 64, 1), shape, nonsense, 0)
    call = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p)(weighted.address)
    assert call(ctypes.addressof(t)) == reference(m)
    assert "+32" not in weighted.inspect_ir()  # DLTensor.strides is at offset 32


def test_contiguous_kernels_pickle_with_their_contiguity():
    again = pickle.loads(pickle.dumps(weighted))
    assert again.inspect_types()["a"] == "float64[:, ::1]"
    with pytest.raises(ValueError, match="C-contiguous"):
        again(np.ones((3, 4)).T)
    assert again(np.ones((2, 2))) == weighted(np.ones((2, 2)))
