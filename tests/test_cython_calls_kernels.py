"""Cython calls kernels: through nativecall.pxd/nativecall.h, and through LowLevelCallable-style
capsules; both Cython modules are compiled in this test session."""

import math

import numpy as np
import pytest

import nativecall
from conftest import build_cython_module, import_from

pytest.importorskip("Cython")

THROUGH_PXD = """
# cython: language_level=3, boundscheck=False, wraparound=False
from nativecall cimport function_pointer

ctypedef double (*unary_t)(double) noexcept nogil
ctypedef double (*binary_t)(double, double) noexcept nogil

def midpoint_integral(f, double a, double b, Py_ssize_t n):
    cdef unary_t fp = <unary_t> function_pointer(f, b"double (double)")
    cdef double h = (b - a) / n, s = 0.0
    cdef Py_ssize_t i
    with nogil:
        for i in range(n):
            s += fp(a + (i + 0.5) * h)
    return s * h

def apply_pairs(g, double[:] x, double[:] y, double[:] out):
    cdef binary_t fp = <binary_t> function_pointer(g, b"float64(float64, float64)")
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = fp(x[i], y[i])
"""

THROUGH_CAPSULE = """
# cython: language_level=3
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid

ctypedef double (*unary_t)(double) noexcept nogil

cdef unary_t unwrap(object f) except NULL:
    # A scipy.LowLevelCallable carries its capsule in .function; a bare capsule is used as is.
    capsule = getattr(f, "function", f)
    if not PyCapsule_IsValid(capsule, b"double (double)"):
        raise TypeError("expected a capsule named 'double (double)'")
    return <unary_t> PyCapsule_GetPointer(capsule, b"double (double)")

def sum_at(f, double[:] xs):
    cdef unary_t fp = unwrap(f)
    cdef double s = 0.0
    cdef Py_ssize_t i
    with nogil:
        for i in range(xs.shape[0]):
            s += fp(xs[i])
    return s
"""


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    d = tmp_path_factory.mktemp("cy_kernels")
    build_cython_module(d, "nc_through_pxd", THROUGH_PXD, include_dirs=[nativecall.get_include()])
    build_cython_module(d, "nc_through_capsule", THROUGH_CAPSULE)
    return import_from(d, "nc_through_pxd"), import_from(d, "nc_through_capsule")


@nativecall.jit("float64(float64)")
def bell(x):
    return math.exp(-x * x)


@nativecall.jit("float64(float64, float64)")
def hyp(a, b):
    return math.sqrt(a * a + b * b)


def test_cython_calls_a_kernel_in_a_nogil_loop(modules):
    pxd, _ = modules
    got = pxd.midpoint_integral(bell, -4.0, 4.0, 200_000)
    assert got == pytest.approx(math.sqrt(math.pi) * math.erf(4.0), rel=1e-9)
    x, y = np.arange(5.0), np.arange(5.0) * 2
    out = np.empty(5)
    pxd.apply_pairs(hyp, x, y, out)
    np.testing.assert_array_equal(out, np.sqrt(x * x + y * y))


def test_function_pointer_accepts_every_native_callable(modules, clib):
    pxd, _ = modules
    gauss = clib.gauss  # gcc's exp(-x*x) through ctypes
    want = pxd.midpoint_integral(bell, -2.0, 2.0, 1000)
    for f in [bell.capsule(), bell.lowlevelcallable(), nativecall.native(gauss), gauss]:
        assert pxd.midpoint_integral(f, -2.0, 2.0, 1000) == pytest.approx(want, rel=1e-15)
    gamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "double (double)")
    from scipy import integrate, special

    assert pxd.midpoint_integral(gamma, 1.0, 2.0, 1000) == pytest.approx(integrate.quad(special.gamma, 1, 2)[0], rel=1e-6)


def test_a_signature_mismatch_names_both_signatures(modules):
    pxd, _ = modules
    with pytest.raises(TypeError) as info:
        pxd.midpoint_integral(hyp, 0.0, 1.0, 10)
    assert "'double (double)'" in str(info.value) and "'double (double, double)'" in str(info.value)
    with pytest.raises(TypeError, match="accepts"):
        pxd.midpoint_integral(math.exp, 0.0, 1.0, 10)


def test_cython_receives_kernels_as_lowlevelcallable_capsules(modules):
    _, cap = modules
    xs = np.linspace(-1.0, 1.0, 101)
    want = float(np.sum(np.exp(-xs * xs)))
    assert cap.sum_at(bell.capsule(), xs) == pytest.approx(want, rel=1e-14)
    assert cap.sum_at(bell.lowlevelcallable(), xs) == pytest.approx(want, rel=1e-14)
    with pytest.raises(TypeError, match="named 'double \\(double\\)'"):
        cap.sum_at(hyp.capsule(), xs)
