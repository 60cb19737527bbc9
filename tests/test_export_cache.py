"""Adapted exports are generated once per (signature, user-data layout) and live with their kernel."""

import ctypes
import gc

import numpy as np
import pytest
from scipy import integrate

import nativecall
import nativecall.optimize as nco


def capsule_pointer(llc):
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype = ctypes.c_char_p
    name.argtypes = [ctypes.py_object]
    return get(llc.function, name(llc.function))


def test_lowlevelcallables_with_different_user_data_share_one_compiled_entry():
    @nativecall.jit("float64(float64, float64, int32)")
    def scaled_power(x, a, n):
        return a * x**n

    gc.collect()
    before = nativecall.stats()["code_modules"]
    exports = [scaled_power.lowlevelcallable("double (double, void *)", user_data=(a, n)) for a, n in
               [(1.0, 1), (2.0, 2), (3.0, 3), (0.5, 4)]]  # fmt: skip
    assert nativecall.stats()["code_modules"] == before + 1, "one entry for all four"
    assert len({capsule_pointer(e) for e in exports}) == 1
    assert len({e.user_data for e in exports}) == 4  # the packed values differ
    got = [integrate.quad(e, 0.0, 1.0)[0] for e in exports]
    assert got == pytest.approx([1 / 2, 2 / 3, 3 / 4, 0.5 / 5], rel=1e-12)


def test_a_new_signature_or_layout_gets_its_own_entry():
    @nativecall.jit("float64(float64, float64)")
    def line(x, a):
        return a * x

    ud = line.lowlevelcallable("double (double, void *)", user_data=(2.0,))
    nd = line.lowlevelcallable("double (int, double *)")
    assert capsule_pointer(ud) != capsule_pointer(nd)
    assert integrate.quad(ud, 0.0, 1.0)[0] == pytest.approx(1.0)
    assert integrate.quad(nd, 0.0, 1.0, args=(4.0,))[0] == pytest.approx(2.0)
    again = line.lowlevelcallable("double (int, double *)")
    assert capsule_pointer(again) == capsule_pointer(nd)


def test_the_entry_cache_goes_with_the_kernel():
    gc.collect()
    before = nativecall.stats()

    @nativecall.jit("float64(float64, float64)")
    def shifted(x, c):
        return x - c

    llc = shifted.lowlevelcallable("double (double, void *)", user_data=(0.25,))
    assert nco.brentq(shifted, 0.0, 1.0, args=(0.5,)) == pytest.approx(0.5)
    # The kernel and its cached entry (shared by brentq and the export).
    assert nativecall.stats()["code_modules"] == before["code_modules"] + 2
    del shifted
    gc.collect()
    assert nativecall.stats()["kernels"] == before["kernels"] + 1, "the export holds the kernel"
    assert integrate.quad(llc, 0.0, 1.0)[0] == pytest.approx(0.25)
    del llc
    gc.collect()
    assert nativecall.stats() == before


def test_a_scalar_brentq_compiles_nothing_after_its_first_call():
    @nativecall.jit("float64(float64, float64)")
    def f(x, c):
        return x * x - c

    gc.collect()
    base = nativecall.stats()["code_modules"]
    first = nco.brentq(f, 0.0, 2.0, args=(2.0,))
    after_first = nativecall.stats()["code_modules"]
    assert after_first == base + 1, "the adapter is kept with the kernel"
    roots = [nco.brentq(f, 0.0, 4.0, args=(float(c),)) for c in range(1, 10)]
    assert nativecall.stats()["code_modules"] == after_first
    assert first == pytest.approx(2**0.5, rel=1e-12)
    assert roots == pytest.approx(np.sqrt(np.arange(1.0, 10.0)), rel=1e-12)
    # The same adapter serves the array path.
    assert nco.brentq(f, 0.0, 4.0, args=(np.array([4.0, 9.0]),)).tolist() == pytest.approx([2.0, 3.0])
    assert nativecall.stats()["code_modules"] == after_first


def test_a_scalar_brentq_keeps_scipys_results_and_errors():
    @nativecall.jit("float64(float64, int32)")
    def power_minus_two(x, n):
        return x**n - 2.0

    root, info = nco.brentq(power_minus_two, 0.0, 3.0, args=(3,), full_output=True)
    assert root == pytest.approx(2 ** (1 / 3), rel=1e-12)
    assert info.converged and info.flag == "converged" and info.function_calls > 2
    with pytest.raises(TypeError, match=r"argument 2 of power_minus_two \(int\) must be an int, got float 1.5"):
        nco.brentq(power_minus_two, 0.0, 3.0, args=(1.5,))
    with pytest.raises(OverflowError, match="cannot hold 4294967296"):
        nco.brentq(power_minus_two, 0.0, 3.0, args=(2**32,))
    with pytest.raises(TypeError, match=r"f must take x and then the 2 extra argument\(s\)"):
        nco.brentq(power_minus_two, 0.0, 3.0, args=(1, 2))
    with pytest.raises(ValueError, match="different signs"):
        nco.brentq(power_minus_two, 2.5, 3.0, args=(1,))
    with pytest.raises(RuntimeError, match="Failed to converge after 2 iterations"):
        nco.brentq(power_minus_two, 0.0, 3.0, args=(3,), maxiter=2)
