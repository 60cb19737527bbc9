"""Every way in and out of NativeCallable, against real scipy, ctypes, cffi and Numba objects
and C functions compiled with gcc in this session."""

import ctypes
import gc
import math
import weakref

import numpy as np
import pytest
import scipy
from scipy import integrate

import nativecall
from nativecall import NativeCallable, Signature


def capsule_name(capsule):
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    return get_name(capsule).decode()


def c_address(fp):
    return ctypes.cast(fp, ctypes.c_void_p).value


# ---------------------------------------------------------------------------- in


def test_ctypes_function_gives_its_address_and_signature(clib):
    nc = nativecall.native(clib.scale)
    assert nc.address == c_address(clib.scale)
    assert str(nc.signature) == "double (double, void *)"
    assert nc.name == "scale"
    assert nc(4.0, None) == 4.0
    assert nc.owner is clib.scale


def test_ctypes_function_pointer_types_become_function_pointer_parameters(clib):
    nc = nativecall.native(clib.apply)
    assert str(nc.signature) == "double (double (*)(double, void *), double, void *)"
    nc = nativecall.native(clib.poly_nd)
    assert str(nc.signature) == "double (int, double *)"


def test_ctypes_function_without_argtypes_is_refused(clib_path):
    lib = ctypes.CDLL(str(clib_path))
    with pytest.raises(TypeError, match="argtypes"):
        nativecall.native(lib.gauss)


def test_cffi_function_pointer(cffi_lib):
    ffi, lib = cffi_lib
    ptr = ffi.addressof(lib, "scale")
    nc = nativecall.native(ptr)
    assert str(nc.signature) == "double (double, void *)"
    assert nc.address == int(ffi.cast("uintptr_t", ptr))
    assert nc(2.5, None) == 2.5


def test_scipy_lowlevelcallable_keeps_its_user_data(clib):
    k = ctypes.c_double(3.0)
    llc = scipy.LowLevelCallable(clib.scale, ctypes.cast(ctypes.pointer(k), ctypes.c_void_p))
    nc = nativecall.native(llc)
    assert str(nc.signature) == "double (double, void *)"
    assert nc.address == c_address(clib.scale)
    assert nc.user_data is llc.user_data
    assert nc(2.0, ctypes.addressof(k)) == 6.0
    # Exported again, the same user data goes to scipy.
    out = nc.lowlevelcallable()
    assert out.user_data is llc.user_data
    assert integrate.quad(out, 0, 1)[0] == pytest.approx(1.5)


def test_capsule_named_by_signature_and_capsule_needing_signature(clib):
    named = nativecall.native(clib.gauss).capsule()
    assert capsule_name(named) == "double (double)"
    nc = nativecall.native(named)
    assert str(nc.signature) == "double (double)" and nc(0.0) == 1.0

    # A capsule whose name is not a signature needs signature=.
    make = ctypes.pythonapi.PyCapsule_New
    make.restype = ctypes.py_object
    make.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    anonymous = make(c_address(clib.gauss), b"mylib.gauss", None)
    with pytest.raises(TypeError, match="not a C signature.*signature="):
        nativecall.native(anonymous)
    nc = nativecall.native(anonymous, signature="float64(float64)")
    assert nc(1.0) == pytest.approx(math.exp(-1.0))
    unnamed = make(c_address(clib.gauss), None, None)
    with pytest.raises(TypeError, match="no name"):
        nativecall.native(unnamed)
    with pytest.raises(TypeError, match="not ABI-compatible"):
        nativecall.native(named, signature="float (float)")


def test_null_functions_are_refused(clib):
    null_fp = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)()
    with pytest.raises(ValueError, match="NULL"):
        nativecall.native(null_fp)
    with pytest.raises(ValueError, match="NULL"):
        NativeCallable.from_address(0, "double (double)")
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    with pytest.raises(ValueError, match="NULL"):
        nativecall.native(ffi.cast("double(*)(double)", 0))


def test_from_address_is_documented_unsafe_and_keeps_its_owner(clib):
    assert "unsafe" in NativeCallable.from_address.__doc__.lower()
    nc = NativeCallable.from_address(c_address(clib.add3), "double (double, double, double)", owner=clib.add3, name="add3")
    assert nc.owner is clib.add3
    assert nc(1.0, 2.0, 3.0) == 321.0


def test_numba_cfunc_and_wrapper_address_protocol():
    numba = pytest.importorskip("numba")

    @numba.cfunc("float64(float64, voidptr)")
    def halve(x, p):
        return x / 2

    nc = nativecall.native(halve)
    assert str(nc.signature) == "double (double, void *)"
    assert nc.address == halve.address
    assert nc(3.0, None) == 1.5

    class Wrapped:
        def __wrapper_address__(self):
            return halve.address

        def signature(self):
            return numba.core.typing.signature(numba.float64, numba.float64, numba.types.voidptr)

    w = Wrapped()
    nc = nativecall.native(w)
    assert nc.owner is w and nc(8.0, None) == 4.0


def test_anything_else_is_a_type_error_naming_the_accepted_kinds():
    for bad in [42, "double (double)", math.cos, lambda x: x, np.float64(1.0)]:
        with pytest.raises(TypeError, match="PyCapsule.*LowLevelCallable.*ctypes.*cffi.*Numba"):
            nativecall.native(bad)


# ---------------------------------------------------------------------------- out


def test_capsule_export_names_the_signature_and_keeps_the_owner_alive():
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
    py_callback = proto(lambda x: x + 0.5)
    ref = weakref.ref(py_callback)
    nc = nativecall.native(py_callback)
    capsule = nc.capsule()
    del py_callback, nc
    gc.collect()
    assert ref() is not None, "the capsule must keep the code's owner alive"
    assert nativecall.native(capsule)(1.0) == 1.5
    del capsule
    gc.collect()
    assert ref() is None, "the owner must be released with the last export"


def test_capsule_and_lowlevelcallable_accept_an_abi_equal_spelling_only(clib):
    nc = nativecall.native(clib.scale)
    assert capsule_name(nc.capsule("float64(float64, voidptr)")) == "double (double, void *)"
    llc = nc.lowlevelcallable("double (double x, void *user_data)")
    assert isinstance(llc, scipy.LowLevelCallable)
    assert llc.signature == "double (double, void *)"
    with pytest.raises(TypeError) as info:
        nc.lowlevelcallable("double (double)")
    assert "double (double)" in str(info.value) and "double (double, void *)" in str(info.value)


def test_ctypes_export_has_argtypes_and_restype(clib):
    fp = nativecall.native(clib.imul).ctypes
    assert fp.restype is ctypes.c_int64
    assert fp.argtypes == (ctypes.c_int32, ctypes.c_int64)
    assert fp(-3, 1 << 40) == -3 << 40
    assert c_address(fp) == c_address(clib.imul)


def test_cffi_export_has_the_c_type(clib, cffi_lib):
    ffi, _ = cffi_lib
    nc = nativecall.native(clib.imul)
    p = nc.cffi(ffi)
    assert nativecall.Type(ffi.typeof(p).cname).signature == nc.signature
    assert ffi.typeof(p).cname.startswith("long(*)(int, long)" if ctypes.sizeof(ctypes.c_long) == 8 else "")
    assert p(7, 6) == 42
    fill = nativecall.native(clib.fill, signature="void (double *, npy_intp, double)")
    p = fill.cffi(ffi)
    assert ffi.typeof(p).cname == "void(*)(double *, intptr_t, double)"
    out = ffi.new("double[3]")
    p(out, 3, 1.5)
    assert list(out) == [1.5, 2.5, 3.5]


def test_round_trips_through_every_pair_keep_address_and_signature(clib, cffi_lib):
    ffi, _ = cffi_lib
    start = nativecall.native(clib.scale)
    exporters = {
        "capsule": lambda nc: nc.capsule(),
        "ctypes": lambda nc: nc.ctypes,
        "cffi": lambda nc: nc.cffi(ffi),
        "lowlevelcallable": lambda nc: nc.lowlevelcallable(),
    }
    for first, out1 in exporters.items():
        for second, out2 in exporters.items():
            mid = nativecall.native(out1(start))
            end = nativecall.native(out2(mid))
            assert end.address == start.address, (first, second)
            assert str(end.signature) == str(start.signature), (first, second)
            assert end(5.0, None) == 5.0


def test_native_of_a_native_callable_is_itself_or_a_respelling(clib):
    nc = nativecall.native(clib.scale)
    assert nativecall.native(nc) is nc
    respelled = nativecall.native(nc, signature="float64(float64, voidptr)")
    assert respelled.address == nc.address and respelled.signature == nc.signature


# ---------------------------------------------------------------------------- scipy


def test_gcc_function_through_lowlevelcallable_into_quad_matches_python(clib):
    llc = nativecall.native(clib.gauss).lowlevelcallable()
    native_result = integrate.quad(llc, -2.0, 3.0)
    python_result = integrate.quad(lambda x: math.exp(-x * x), -2.0, 3.0)
    assert native_result[0] == pytest.approx(python_result[0], rel=1e-14)
    assert native_result[0] == pytest.approx(math.sqrt(math.pi) / 2 * (math.erf(3) + math.erf(2)), rel=1e-12)


def test_quad_args_through_the_nd_signature(clib):
    llc = nativecall.native(clib.poly_nd).lowlevelcallable()
    got = integrate.quad(llc, 0.0, 2.0, args=(3.0, 1.0))[0]
    assert got == pytest.approx(3.0 * 8 / 3 + 2.0)
