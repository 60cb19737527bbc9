"""Arrays across the ABI: DLPack arguments to kernels, nativecall.Array, from_dlpack, zeros."""

import ctypes
import gc
import math
import resource

import numpy as np
import pytest

import nativecall
from conftest import DLDataType, DLDevice, DLTensor


@nativecall.jit("float64(float64[:])")
def total(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i]
    return s


@nativecall.jit("void(float64[:, :], float64)")
def fill(a, v):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = v * i + j


@nativecall.jit("int64(int32[:, :, :, :])")
def four_d(a):
    return a[1, 2, 3, 4] + a.ndim * 1000 + a.shape[3] * 100


@nativecall.jit("float64(float64[:], int64)", boundscheck=True)
def at(a, i):
    return a[i]


def test_array_parameters_print_as_dltensor_pointers():
    assert str(total.signature) == "double (DLTensor *)"
    assert str(nativecall.Signature("float64(float64[:], int32[:, ::1])")) == "double (DLTensor *, DLTensor *)"
    assert nativecall.Type("float64[:, :]").kind == "array" and nativecall.Type("float64[:, :]").ndim == 2
    assert nativecall.float64[:, :] == nativecall.Type("double[:, :]") and str(nativecall.int32[:]) == "DLTensor *"
    assert total.inspect_types()["a"] == "float64[:]"


def test_writes_reach_numpy_without_a_copy_and_any_strides_work():
    m = np.zeros((3, 4))
    fill(m, 10.0)
    np.testing.assert_array_equal(m, 10.0 * np.arange(3)[:, None] + np.arange(4))
    t = np.zeros((4, 3)).T  # Fortran order
    fill(t, 1.0)
    np.testing.assert_array_equal(t, np.arange(3)[:, None] + np.arange(4))
    big = np.zeros((6, 8))
    view = big[::2, ::-3]  # strided and negative
    fill(view, 2.0)
    np.testing.assert_array_equal(big[::2, ::-3], 2.0 * np.arange(3)[:, None] + np.arange(3))
    assert big.sum() == view.sum()
    x = np.arange(10.0)
    assert total(x[::-3]) == x[::-3].sum() and total(x[3:7]) == 18.0


def test_four_dimensional_arrays_and_ndim():
    a = np.arange(2 * 3 * 4 * 5, dtype=np.int32).reshape(2, 3, 4, 5)
    assert four_d(a) == a[1, 2, 3, 4] + 4000 + 500


def test_negative_indices_count_from_the_end_and_boundscheck_raises():
    x = np.arange(5.0)
    assert at(x, -1) == 4.0 and at(x, 0) == 0.0
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 5"):
        at(x, 5)
    with pytest.raises(IndexError, match="index -6 is out of bounds"):
        at(x, -6)
    with pytest.raises(IndexError):
        at(np.zeros(0), 0)
    assert at(x, 2) == 2.0  # the error does not stick


@pytest.mark.parametrize(
    "arg, exc, words",
    [
        (np.arange(3, dtype=np.int32), TypeError, "needs double elements"),
        (np.zeros((2, 2)), TypeError, "needs a 1-dimensional array, got 2"),
        (np.float64(1.0), TypeError, "needs a 1-dimensional array, got 0"),  # a 0-d buffer
        (np.array(3.0), TypeError, "needs a 1-dimensional array, got 0"),
        ([1.0, 2.0], TypeError, "DLPack"),
        ("abc", TypeError, "DLPack"),
    ],
)
def test_bad_array_arguments_are_clear_errors(arg, exc, words):
    with pytest.raises(exc, match=words):
        total(arg)


def test_read_only_arrays_only_go_where_the_kernel_does_not_write():
    ro = np.ones(4)
    ro.flags.writeable = False
    assert total(ro) == 4.0  # total only reads
    ro2 = np.ones((2, 2))
    ro2.flags.writeable = False
    with pytest.raises(ValueError, match="read-only, and the kernel writes to it"):
        fill(ro2, 1.0)
    with pytest.raises(ValueError, match="read-only"):
        fill(nativecall.from_dlpack(ro2), 1.0)
    assert (ro2 == 1.0).all()


def test_zero_size_arrays():
    assert total(np.zeros(0)) == 0.0
    fill(np.zeros((0, 3)), 1.0)
    assert total(nativecall.zeros(0)) == 0.0


def test_dlpack_capsules_are_consumed_once():
    x = np.arange(4.0)
    cap = x.__dlpack__(max_version=(1, 0))
    assert total(cap) == 6.0
    with pytest.raises(TypeError, match="DLPack"):
        total(cap)
    legacy = x.__dlpack__()
    assert total(legacy) == 6.0


class DLManagedTensor(ctypes.Structure):
    pass


DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER)]


def legacy_capsule(device_type, values, deleted):
    """A hand-made legacy DLPack capsule over `values` (a float64 NumPy array) that says
    its memory is on `device_type`, counting deleter calls in `deleted`."""
    shape = (ctypes.c_int64 * 1)(len(values))
    managed = DLManagedTensor()
    managed.dl_tensor = DLTensor(values.ctypes.data, DLDevice(device_type, 0), 1, DLDataType(2, 64, 1), shape, None, 0)
    managed.deleter = DELETER(lambda _: deleted.append(1))
    make = ctypes.pythonapi.PyCapsule_New
    make.restype, make.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    capsule = make(ctypes.addressof(managed), b"dltensor", None)
    return capsule, (managed, shape, values)  # the caller keeps the second part alive


def test_a_hand_made_capsule_runs_its_deleter_exactly_once():
    deleted = []
    values = np.arange(4.0)
    capsule, keep = legacy_capsule(1, values, deleted)
    assert total(capsule) == 6.0
    assert deleted == [1]
    with pytest.raises(TypeError):
        total(capsule)  # consumed
    assert deleted == [1]


def test_non_cpu_tensors_are_refused_before_the_call():
    deleted = []
    capsule, keep = legacy_capsule(2, np.arange(4.0), deleted)  # kDLCUDA
    with pytest.raises(ValueError, match="must be in CPU memory, got a tensor on device type 2"):
        total(capsule)
    assert deleted == [1]  # refused, and still released exactly once


def test_nativecall_array_round_trips_through_numpy_without_copying():
    x = np.arange(12.0).reshape(3, 4)
    a = nativecall.from_dlpack(x)
    assert a.shape == (3, 4) and a.strides == (4, 1) and a.ndim == 2 and a.size == 12
    assert a.dtype == nativecall.float64 and a.device == (1, 0) and not a.readonly
    y = np.from_dlpack(a)
    assert np.shares_memory(x, y)
    y[1, 1] = -1.0
    assert x[1, 1] == -1.0
    assert a.__dlpack_device__() == (1, 0)
    legacy = a.__dlpack__()
    versioned = a.__dlpack__(max_version=(1, 0))
    assert "dltensor" in repr(legacy) and "versioned" in repr(versioned)
    copied = np.from_dlpack(a, copy=True)
    assert not np.shares_memory(copied, x) and (copied == x).all()
    on_cpu = nativecall.from_dlpack(a.__dlpack__(max_version=(1, 0), dl_device=(1, 0)))
    assert on_cpu.shape == (3, 4) and np.shares_memory(np.from_dlpack(on_cpu), x)
    neg = nativecall.from_dlpack(x[:, ::-1])
    assert neg.strides == (4, -1) and (np.from_dlpack(neg) == x[:, ::-1]).all()
    ro = x.copy()
    ro.flags.writeable = False
    assert not np.from_dlpack(nativecall.from_dlpack(ro)).flags.writeable


def test_zeros_and_empty_are_rust_owned_and_usable_everywhere():
    z = nativecall.zeros((2, 3), "int32")
    assert z.dtype == nativecall.int32 and z.shape == (2, 3) and z.nbytes == 24
    np.testing.assert_array_equal(np.from_dlpack(z), np.zeros((2, 3), np.int32))
    e = nativecall.empty(5)
    fill_1d = nativecall.jit("void(float64[:])")(_fill_iota)
    fill_1d(e)
    np.testing.assert_array_equal(np.from_dlpack(e), np.arange(5.0))
    with pytest.raises(TypeError, match="element type"):
        nativecall.zeros(3, "complex256")
    with pytest.raises(ValueError, match="negative"):
        nativecall.zeros((-1,))


def _fill_iota(a):
    for i in range(len(a)):
        a[i] = i


def test_creating_and_dropping_many_arrays_and_exports_leaks_nothing():
    x = np.arange(16.0)

    def churn(n):
        for _ in range(n):
            a = nativecall.from_dlpack(x)
            np.from_dlpack(a)
            total(a)
            total(x.__dlpack__(max_version=(1, 0)))
            nativecall.zeros(8)
            a.__dlpack__()  # an unconsumed capsule: its destructor frees it

    churn(5_000)
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    churn(100_000)
    gc.collect()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown < 8, f"peak RSS grew by {grown:.1f} MiB over 100 000 arrays and exports"
    assert x[3] == 3.0


@nativecall.jit("void(float64[:], float64)")
def fill_with(a, v):
    for i in range(len(a)):
        a[i] = v


def test_read_only_arrays_stay_read_only_through_calls_between_kernels():
    @nativecall.jit("void(float64[:], float64[:], bool)")
    def fills_one_through_a_call(a, b, first):
        fill_with(a if first else b, 7.0)

    @nativecall.jit("void(float64[:])")
    def fills_through_a_call(a):
        fill_with(a, 7.0)

    # Its address with a plain signature: nativecall cannot know what it writes.
    unknown = nativecall.NativeCallable.from_address(fill_with.address, "void (DLTensor *, double)", owner=fill_with)

    @nativecall.jit("void(float64[:])")
    def fills_through_an_unknown_function(a):
        unknown(a, 9.0)

    @nativecall.jit("float64(float64[:], int64)")
    def fills_through_recursion(a, n):
        if n == 0:
            fill_with(a, 10.0)
            return 0.0
        return fills_through_recursion(a, n - 1)

    @nativecall.jit("float64(float64[:])")
    def only_reads_through_a_call(a):
        return total(a)

    ro = np.ones(3)
    ro.flags.writeable = False
    assert only_reads_through_a_call(ro) == 3.0
    for writer, args in [
        (fills_through_a_call, ()),
        (fills_one_through_a_call, (np.ones(3), True)),
        (fills_through_an_unknown_function, ()),
        (fills_through_recursion, (2,)),
    ]:
        with pytest.raises(ValueError, match="read-only, and the kernel writes to it"):
            writer(ro, *args)
        with pytest.raises(ValueError, match="read-only"):
            writer(nativecall.from_dlpack(ro), *args)
        w = np.ones(3)
        writer(w, *args)
        assert (w > 1.0).all()
    assert (ro == 1.0).all()


@pytest.mark.parametrize(
    "dtype, want",
    [
        (np.float64, np.float64),
        (np.dtype("float32"), np.float32),
        (np.dtype("<i2"), np.int16),
        (np.uint8, np.uint8),
        (np.complex128, np.complex128),
        (np.bool_, np.bool_),
        (float, np.float64),
        (nativecall.int32, np.int32),
        (nativecall.Type("uint64_t"), np.uint64),
        ("int8", np.int8),
        (None, np.float64),
    ],
)
def test_zeros_and_empty_take_numpy_dtypes_and_nativecall_types(dtype, want):
    for make in (nativecall.zeros, nativecall.empty):
        a = np.from_dlpack(make((2, 3), dtype))
        assert a.dtype == want and a.shape == (2, 3) and not a.any()


@pytest.mark.parametrize(
    "dtype, words",
    [
        (np.dtype(">f8"), "native byte order, got NumPy dtype '>f8'"),
        (np.float16, "not an array element type"),
        (np.dtype("M8[ns]"), "not an array element type"),
        (object, "not an array element type"),
        (3.5, "not an array element type.*got 3.5"),
        (nativecall.Type("double *"), "not an array element type"),
    ],
)
def test_zeros_refuses_what_is_not_a_native_element_type(dtype, words):
    with pytest.raises(TypeError, match=words):
        nativecall.zeros(2, dtype)
