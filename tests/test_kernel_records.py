"""Records as user data: ``carray(user_data, 1, dtype=rec)[0].field`` with a NumPy record
dtype or a ctypes Structure, read by offset (docs/semantics.md, "Records as user data")."""

import ctypes
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.ndimage
from scipy import LowLevelCallable

import nativecall
from nativecall import carray, cfunc, types

PARAMS = np.dtype([("a", np.float64), ("n", np.int32), ("z", np.complex128), ("flag", np.bool_)], align=True)


class Packed(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("tag", ctypes.c_int8), ("scale", ctypes.c_double), ("power", ctypes.c_int32)]


class Shift(ctypes.Structure):
    _fields_ = [("dy", ctypes.c_double), ("dx", ctypes.c_double)]


quad_user = types.float64(types.intc, types.CPointer(types.float64), types.voidptr)


@cfunc(quad_user)
def aligned_integrand(n, xx, user_data):
    p = carray(user_data, 1, dtype=PARAMS)[0]
    x = xx[0]
    if p.flag:
        return p.a * x**p.n + p.z.imag
    return p.z.real


@cfunc(quad_user)
def packed_integrand(n, xx, user_data):
    s = carray(user_data, 1, dtype=Packed)
    return s[0].scale * xx[0] ** 2 + s[0].tag + s[0].power


def test_an_aligned_numpy_record_is_user_data_through_quad():
    rec = np.array([(2.5, 3, 1.0 - 0.75j, True)], dtype=PARAMS)
    assert PARAMS.fields["z"][1] == 16  # aligned: z after the padding
    llc = LowLevelCallable(aligned_integrand.ctypes, rec.ctypes.data_as(ctypes.c_void_p))
    got = scipy.integrate.quad(llc, 0.0, 2.0)[0]
    assert got == pytest.approx(2.5 * 2.0**4 / 4 + (-0.75) * 2.0, rel=1e-14)
    rec["flag"] = False
    assert scipy.integrate.quad(llc, 0.0, 2.0)[0] == pytest.approx(2.0, rel=1e-14)
    xx = (ctypes.c_double * 1)(1.5)
    rec["flag"] = True
    assert aligned_integrand.ctypes(1, xx, rec.ctypes.data) == 2.5 * 1.5**3 - 0.75


def test_a_packed_ctypes_structure_is_user_data_through_quad():
    s = Packed(tag=-3, scale=1.25, power=7)
    assert Packed.scale.offset == 1 and ctypes.sizeof(Packed) == 13
    llc = LowLevelCallable(packed_integrand.ctypes, ctypes.cast(ctypes.pointer(s), ctypes.c_void_p))
    got = scipy.integrate.quad(llc, 0.0, 3.0)[0]
    assert got == pytest.approx(1.25 * 9.0 + 4 * 3.0, rel=1e-14)


def test_a_ctypes_structure_shifts_an_image_through_geometric_transform():
    sig = types.intc(
        types.CPointer(types.intp), types.CPointer(types.float64), types.intc, types.intc, types.voidptr
    )

    @cfunc(sig)
    def shift(output_coordinates, input_coordinates, output_rank, input_rank, user_data):
        d = carray(user_data, 1, dtype=Shift)[0]
        input_coordinates[0] = output_coordinates[0] - d.dy
        input_coordinates[1] = output_coordinates[1] - d.dx
        return 1

    image = np.arange(20.0).reshape(4, 5)
    s = Shift(dy=0.5, dx=1.0)
    llc = LowLevelCallable(shift.ctypes, ctypes.cast(ctypes.pointer(s), ctypes.c_void_p))
    got = scipy.ndimage.geometric_transform(image, llc)
    want = scipy.ndimage.geometric_transform(image, lambda c: (c[0] - 0.5, c[1] - 1.0))
    assert np.array_equal(got, want)


def test_nested_record_fields_and_records_by_index_read_at_their_offsets():
    inner = np.dtype([("x", np.float32), ("k", np.int16)])
    outer = np.dtype([("w", np.uint8), ("inner", inner), ("v", np.float64)])  # packed: offsets 0, 1, 7

    @nativecall.jit("float64(voidptr, int64)")
    def read(user_data, i):
        recs = carray(user_data, 3, dtype=outer)
        r = recs[i]
        return r.inner.x * 1000.0 + r.inner.k + r.w * 0.5 + recs[0].v

    data = np.array([(1, (1.5, -2), 0.25), (7, (2.5, 300), 9.0), (255, (-0.5, 1), 1e10)], dtype=outer)
    assert outer.itemsize == 15
    for i in range(3):
        r = data[i]
        assert read(data.ctypes.data, i) == r["inner"]["x"] * 1000.0 + r["inner"]["k"] + r["w"] * 0.5 + 0.25


def test_a_missing_field_and_a_non_numeric_field_are_compile_errors_naming_them():
    with pytest.raises(nativecall.TypingError, match="no field 'b'; it has a, n, z, flag"):

        @nativecall.jit("float64(voidptr)")
        def missing(user_data):
            return carray(user_data, 1, dtype=PARAMS)[0].b

    text = np.dtype([("s", "S4"), ("x", np.float64)])
    with pytest.raises(nativecall.UnsupportedError, match="record field 's' has type"):

        @nativecall.jit("float64(voidptr)")
        def bytes_field(user_data):
            return carray(user_data, 1, dtype=text)[0].s


def test_a_numba_record_callback_ported_by_the_import_gives_numbas_result():
    numba = pytest.importorskip("numba")

    def integrand(n, xx, user_data):
        p = numba.carray(user_data, 1, dtype=PARAMS)[0]
        return p.a * math.sin(xx[0]) + p.n

    original = numba.cfunc(
        numba.types.float64(numba.types.intc, numba.types.CPointer(numba.types.float64), numba.types.voidptr)
    )(integrand)
    ported = cfunc(quad_user)(integrand)
    rec = np.array([(1.75, 4, 0j, True)], dtype=PARAMS)
    data = rec.ctypes.data_as(ctypes.c_void_p)
    got = scipy.integrate.quad(LowLevelCallable(ported.ctypes, data), 0.0, 2.0)[0]
    want = scipy.integrate.quad(LowLevelCallable(original.ctypes, data), 0.0, 2.0)[0]
    assert got == want


def test_outside_kernels_carray_of_a_record_dtype_reads_fields_by_attribute_too():
    s = Packed(tag=5, scale=0.5, power=-1)
    view = carray(ctypes.cast(ctypes.pointer(s), ctypes.c_void_p), 1, dtype=Packed)
    assert (view[0].tag, view[0].scale, view[0].power) == (5, 0.5, -1)
    assert packed_integrand.ctypes(1, (ctypes.c_double * 1)(2.0), ctypes.addressof(s)) == 0.5 * 4.0 + 5 - 1
