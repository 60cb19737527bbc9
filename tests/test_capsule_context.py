"""A capsule's context is the consumer's user data, and user data lives as long as it is used.

scipy reads a PyCapsule's context as the callback's ``user_data`` when none is given, so
capsules nativecall exports carry NULL there, or the user data the callable came with;
context imported with a capsule or a LowLevelCallable is passed on when re-exporting; and
packed user data owns (and pins) every object its fields point into.
"""

import ctypes
import gc
import sys

import numpy as np
import pytest
from scipy import LowLevelCallable, integrate, ndimage
from scipy._lib import _test_ccallback
from scipy.ndimage import _ctest, _cytest

import nativecall

FILTER1D = "int (double *, npy_intp, double *, npy_intp, void *)"

_get_context = ctypes.pythonapi.PyCapsule_GetContext
_get_context.restype = ctypes.c_void_p
_get_context.argtypes = [ctypes.py_object]


_get_name = ctypes.pythonapi.PyCapsule_GetName
_get_name.restype = ctypes.c_char_p
_get_name.argtypes = [ctypes.py_object]
_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype = ctypes.c_void_p
_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def context_of(capsule):
    return _get_context(capsule) or 0


def pointer_of(capsule):
    return _get_pointer(capsule, _get_name(capsule))


def moving_average(im, size):
    """scipy's own Python reference for its filter1d callbacks (test_c_api.py)."""

    def filter1d(input_line, output_line):
        for i in range(output_line.size):
            output_line[i] = input_line[i : i + size].sum() / size

    return ndimage.generic_filter1d(im, filter1d, size)


IMAGE = np.tile(np.hstack((np.zeros(10), np.ones(10))), (10, 1))


# ---------------------------------------------------------------- 1. NULL context when no user data


def test_exported_capsules_leave_a_null_context_so_scipy_passes_null_user_data():
    f = _test_ccallback.test_get_plus1_capsule()  # a + 1 when user_data is NULL
    assert _test_ccallback.test_call_simple(LowLevelCallable(f), 1.0) == 2.0
    nc = nativecall.native(f)
    cap = nc.capsule()
    assert context_of(cap) == 0
    assert _test_ccallback.test_call_simple(LowLevelCallable(cap), 1.0) == 2.0
    assert _test_ccallback.test_call_simple(nc.lowlevelcallable(), 1.0) == 2.0
    assert _test_ccallback.test_call_nodata(nc.lowlevelcallable(), 4.0) == 5.0


def test_kernel_capsules_have_a_null_context_and_still_keep_the_kernel_alive():
    @nativecall.jit("float64(float64, voidptr)")
    def is_null(x, user_data):
        if user_data:
            return 1.0
        return 0.0

    cap = is_null.capsule()
    assert context_of(cap) == 0
    llc = is_null.lowlevelcallable()
    del is_null
    gc.collect()
    assert integrate.quad(llc, 0, 2)[0] == 0.0
    data = ctypes.c_double(1.0)
    with_data = LowLevelCallable(cap, ctypes.cast(ctypes.pointer(data), ctypes.c_void_p))
    assert integrate.quad(with_data, 0, 2)[0] == pytest.approx(2.0)


# ---------------------------------------------------------------- 2. imported context is passed on


def test_a_lowlevelcallable_whose_capsule_holds_the_data_re_exports_it():
    orig = LowLevelCallable(_cytest.filter1d(3, with_signature=True))
    nc = nativecall.native(orig)
    assert nc.user_data is not None
    want = moving_average(IMAGE, 3)
    assert np.array_equal(ndimage.generic_filter1d(IMAGE, orig, 3), want)
    assert np.array_equal(ndimage.generic_filter1d(IMAGE, nc.lowlevelcallable(), 3), want)
    assert np.array_equal(ndimage.generic_filter1d(IMAGE, LowLevelCallable(nc.capsule()), 3), want)


def test_a_capsule_with_context_imported_with_signature_keeps_its_context():
    cap = _ctest.filter1d(4)  # unnamed, the filter size in its context
    nc = nativecall.native(cap, signature=FILTER1D)
    assert pointer_of(nc.user_data) == context_of(cap)
    out = nc.capsule()
    assert context_of(out) == context_of(cap)
    want = moving_average(IMAGE, 4)
    del cap
    gc.collect()
    # The capsule that frees the context is kept alive by what was exported from it.
    assert np.array_equal(ndimage.generic_filter1d(IMAGE, LowLevelCallable(out), 4), want)
    assert np.array_equal(ndimage.generic_filter1d(IMAGE, nc.lowlevelcallable(), 4), want)


def test_explicit_user_data_of_a_lowlevelcallable_becomes_the_context_of_its_capsule():
    f = _test_ccallback.test_get_plus1_capsule()
    data = _test_ccallback.test_get_data_capsule()  # a double 2.0
    nc = nativecall.native(LowLevelCallable(f, data))
    assert nc.user_data is data
    cap = nc.capsule()
    assert context_of(cap) == pointer_of(data)
    assert _test_ccallback.test_call_simple(LowLevelCallable(cap), 1.0) == 3.0
    assert _test_ccallback.test_call_simple(nc.lowlevelcallable(), 1.0) == 3.0
    # The user data goes through any number of re-imports.
    again = nativecall.native(nativecall.native(cap).lowlevelcallable())
    assert _test_ccallback.test_call_simple(again.lowlevelcallable(), 5.0) == 7.0


def test_an_explicit_null_user_data_falls_back_to_the_context_as_scipy_does():
    cap = _cytest.filter1d(3, with_signature=True)
    orig = LowLevelCallable(cap, ctypes.c_void_p(None))
    want = moving_average(IMAGE, 3)
    assert np.array_equal(ndimage.generic_filter1d(IMAGE, orig, 3), want)
    got = ndimage.generic_filter1d(IMAGE, nativecall.native(orig).lowlevelcallable(), 3)
    assert np.array_equal(got, want)


def test_user_data_of_an_unsupported_kind_is_a_type_error_naming_what_scipy_accepts():
    f = _test_ccallback.test_get_plus1_capsule()
    with pytest.raises(TypeError, match=r"PyCapsule, a ctypes.c_void_p or a cffi pointer; got builtins.float"):
        nativecall.NativeCallable._from_capsule(f, user_data=2.0)


# ---------------------------------------------------------------- 4. packed user data owns what it points into


@nativecall.jit("float64(float64, float64[:])")
def affine(x, a):
    return x * a[0] + a[1]


def test_a_numpy_array_in_packed_user_data_outlives_the_packing_call():
    llc = affine.lowlevelcallable("double (double, void *)", user_data=(np.array([2.0, 3.0]),))
    gc.collect()
    np.ones(1000)  # reuse freed memory, if any was freed
    assert integrate.quad(llc, 0, 1)[0] == pytest.approx(4.0, rel=1e-14)


def test_a_nativecall_array_in_packed_user_data_outlives_the_packing_call():
    arr = nativecall.from_dlpack(np.array([4.0, -1.0]))
    llc = affine.lowlevelcallable("double (double, void *)", user_data=(arr,))
    del arr
    gc.collect()
    assert integrate.quad(llc, 0, 1)[0] == pytest.approx(1.0, rel=1e-14)


def test_a_bytearray_in_packed_user_data_stays_exported_so_it_cannot_move():
    @nativecall.jit("float64(float64, uint8*)")
    def first_byte(x, b):
        return x * b[0]

    buf = bytearray(b"\x06")
    llc = first_byte.lowlevelcallable("double (double, void *)", user_data=(buf,))
    with pytest.raises(BufferError):
        buf.extend(b"\x00" * 4096)
    assert integrate.quad(llc, 0, 1)[0] == pytest.approx(3.0, rel=1e-14)
    del llc
    gc.collect()
    buf.extend(b"\x00" * 4096)  # released with the packed data
    assert len(buf) == 4097


# ---------------------------------------------------------------- 5. empty extras


def test_empty_extras_on_a_kernel_without_extra_parameters_mean_no_user_data():
    @nativecall.jit("float64(float64)")
    def square(x):
        return x * x

    llc = square.lowlevelcallable("double (double, void *)", user_data=())
    assert llc.user_data is None
    assert integrate.quad(llc, 0, 3)[0] == pytest.approx(9.0, rel=1e-14)


def test_extras_given_to_a_kernel_without_extra_parameters_are_a_type_error():
    @nativecall.jit("float64(float64)")
    def square(x):
        return x * x

    with pytest.raises(TypeError, match=r"takes no extra arguments from user_data, got 1 \(\(2\.0,\)\)"):
        square.lowlevelcallable("double (double, void *)", user_data=(2.0,))


# ---------------------------------------------------------------- ownership


def test_exports_carrying_user_data_release_it_with_the_last_of_them():
    f = _test_ccallback.test_get_plus1_capsule()
    data = _test_ccallback.test_get_data_capsule()
    arr = np.array([2.0, 3.0])
    gc.collect()
    before = sys.getrefcount(data), sys.getrefcount(arr)
    for _ in range(100):
        cap = nativecall.native(LowLevelCallable(f, data)).capsule()
        llc = nativecall.native(cap).lowlevelcallable()
        assert _test_ccallback.test_call_simple(llc, 1.0) == 3.0
        packed = nativecall.native(affine.lowlevelcallable("double (double, void *)", user_data=(arr,))).capsule()
        assert integrate.quad(LowLevelCallable(packed), 0, 1)[0] == pytest.approx(4.0, rel=1e-14)
    during = sys.getrefcount(data), sys.getrefcount(arr)
    assert during[0] > before[0] and during[1] > before[1]
    del cap, llc, packed
    gc.collect()
    assert (sys.getrefcount(data), sys.getrefcount(arr)) == before
