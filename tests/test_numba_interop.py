"""Numba in both directions: nativecall callables inside @numba.njit, Numba cfuncs inside kernels."""

import ctypes
import math

import numpy as np
import pytest

import nativecall

numba = pytest.importorskip("numba")


@nativecall.jit("float64(float64, float64)")
def hyp(a, b):
    return math.sqrt(a * a + b * b)


HYP = hyp.numba


def test_a_kernel_as_a_numba_global():
    @numba.njit
    def total(xs):
        s = 0.0
        for x in xs:
            s += HYP(x, 2.0 * x)
        return s

    xs = np.linspace(0.0, 3.0, 7)
    assert total(xs) == pytest.approx(sum(math.sqrt(5.0) * x for x in xs), rel=1e-15)


def test_native_callables_as_numba_arguments(clib):
    @numba.njit
    def apply(f, x, y):
        return f(x, y)

    assert apply(hyp, 3.0, 4.0) == 5.0  # a Kernel passed as it is
    assert apply(hyp.numba, 5.0, 12.0) == 13.0
    add3 = nativecall.native(clib.add3)

    @numba.njit
    def apply3(f, x):
        return f(x, x, x)

    assert apply3(add3, 1.0) == 111.0  # a gcc function through ctypes, via NativeCallable


def test_numba_reads_the_signature():
    assert str(hyp.numba.signature()) == "(float64, float64) -> float64"
    assert hyp._numba_type_ == numba.types.FunctionType(hyp.numba.signature())


def test_a_cython_function_inside_numba_through_nativecall():
    gamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "double (double)").numba

    @numba.njit
    def gammas(n):
        out = np.empty(n)
        for i in range(n):
            out[i] = gamma(i + 1.0)
        return out

    np.testing.assert_array_equal(gammas(6), [1.0, 1.0, 2.0, 6.0, 24.0, 120.0])


def test_kernels_call_numba_cfuncs():
    @numba.cfunc("float64(float64)")
    def triple(x):
        return 3.0 * x

    @nativecall.jit("float64(float64)")
    def uses(x):
        return triple(x) + 1.0

    assert uses(2.0) == 7.0
    assert "call_indirect" in uses.inspect_ir()


def test_types_numba_cannot_name_are_refused_clearly():
    address = ctypes.cast(ctypes.pythonapi.Py_IncRef, ctypes.c_void_p).value
    assert nativecall.NativeCallable.from_address(address, "void (struct foo *)").signature.numba == "none(voidptr)"
    long_double = nativecall.NativeCallable.from_address(address, "long double (long double)", name="ld")
    with pytest.raises(TypeError, match="ld .* uses a type Numba has no name for"):
        long_double.numba
