"""Kernels calling native code directly: kernels, NativeCallables, ctypes, cffi, Numba, capsules
and Cython functions; function pointers as values."""

import ctypes
import gc
import math

import pytest
from scipy import special
from scipy.optimize.cython_optimize import _zeros
from scipy.special import cython_special

import nativecall


def test_a_kernel_calls_another_kernel_and_keeps_it_alive():
    @nativecall.jit("float64(float64)")
    def sq(x):
        return x * x

    @nativecall.jit("float64(float64, float64)")
    def norm(a, b):
        return math.sqrt(sq(a) + sq(b))

    assert norm(3.0, 4.0) == 5.0
    # A kernel this small is inlined (tests/test_jit_inlining.py); it is kept alive all the same.
    assert "call_indirect" not in norm.inspect_ir()
    gc.collect()  # kernels earlier tests left as garbage must not be counted as freed here
    kernels = nativecall.stats()["kernels"]
    del sq
    gc.collect()
    assert nativecall.stats()["kernels"] == kernels, "the caller keeps its callee alive"
    assert norm(5.0, 12.0) == 13.0


def test_kernels_call_ctypes_cffi_capsules_and_native_callables(clib, cffi_lib):
    gauss_ctypes = clib.gauss
    gauss_nc = nativecall.native(clib.gauss)
    gauss_capsule = gauss_nc.capsule()
    ffi, lib = cffi_lib
    gauss_cffi = ffi.addressof(lib, "gauss")

    @nativecall.jit("float64(float64)")
    def all_four(x):
        return gauss_ctypes(x) + 10 * gauss_nc(x) + 100 * gauss_capsule(x) + 1000 * gauss_cffi(x)

    assert all_four(0.5) == pytest.approx(1111 * math.exp(-0.25), rel=1e-15)


def test_arguments_convert_at_compile_time_and_mismatches_are_errors(clib):
    scale = clib.scale  # double (double, void *)

    @nativecall.jit("float64(int64)")
    def int_to_double(n):
        return scale(n, None)

    assert int_to_double(7) == 7.0

    with pytest.raises(nativecall.TypingError, match=r"argument 1 of scale .* must be double, got float64\*"):

        @nativecall.jit("float64(float64*)")
        def bad(p):
            return scale(p, None)

    with pytest.raises(nativecall.TypingError, match="takes 2 arguments"):

        @nativecall.jit("float64(float64)")
        def arity(x):
            return scale(x)


def test_numba_cfuncs_are_called_natively():
    numba = pytest.importorskip("numba")

    @numba.cfunc("float64(float64, float64)")
    def numba_hypot(a, b):
        return math.sqrt(a * a + b * b)

    @nativecall.jit("float64(float64)")
    def uses_numba(x):
        return numba_hypot(x, 2 * x)

    assert uses_numba(1.0) == math.sqrt(5.0)


@pytest.mark.parametrize("x", [0.5, 1.7, 3.2, 7.9])
def test_cython_special_functions_resolve_by_argument_types(x):
    @nativecall.jit("float64(float64)")
    def specials(x):
        return cython_special.gamma(x) + cython_special.erf(x) + cython_special.jv(1.5, x) + cython_special.loggamma(x)

    want = special.gamma(x) + special.erf(x) + special.jv(1.5, x) + special.loggamma(x).real
    assert specials(x) == want
    # An int argument converts to the double specialisation; spherical_jn's optional
    # argument struct is passed as NULL and __pyx_skip_dispatch as 0.

    @nativecall.jit("float64(int64, float64)")
    def sph(n, x):
        return cython_special.spherical_jn(n, x)

    assert sph(2, x) == special.spherical_jn(2, x)


def test_function_pointer_parameters_from_python_and_inside_kernels():
    @nativecall.jit("float64(float64, voidptr)")
    def f(x, data):
        return x * x - 2.0

    @nativecall.jit("float64(float64(float64, voidptr)*, float64)")
    def apply(g, x):
        return g(x, None)

    # From Python: a kernel, and any NativeCallable with the same signature.
    assert apply(f, 3.0) == 7.0
    assert apply(nativecall.native(f.capsule()), 2.0) == 2.0
    with pytest.raises(TypeError, match="needs a function"):
        apply(nativecall.jit("float64(float64)")(lambda_free_square), 1.0)

    # The C spelling of the same parameter type.
    @nativecall.jit("double (double (*)(double, void *), double)")
    def apply_c(g, x):
        return g(x, None) + 1.0

    assert str(apply_c.signature) == "double (double (*)(double, void *), double)"
    assert apply_c(f, 3.0) == 8.0

    # Inside a kernel: a kernel passed where a function pointer is expected.
    @nativecall.jit("float64(float64)")
    def apply_f(x):
        return apply(f, x)

    assert apply_f(4.0) == 14.0


def lambda_free_square(x):
    return x * x


def test_a_kernel_calls_cython_optimize_brentq_with_another_kernel():
    @nativecall.jit("float64(float64, voidptr)")
    def f(x, args):
        return x * x - 2.0

    @nativecall.jit("float64(float64, float64)")
    def root(a, b):
        return _zeros.brentq(f, a, b, None, 1e-14, 1e-14, 100, None)

    assert root(0.0, 2.0) == pytest.approx(math.sqrt(2), abs=1e-14)

    brentq = nativecall.from_cython(_zeros, "brentq")
    assert brentq(f, 0.0, 2.0, None, 1e-14, 1e-14, 100, None) == pytest.approx(math.sqrt(2), abs=1e-14)


def test_fused_function_pointers_are_chosen_by_the_parameter_type(cython_module):
    # `call_twice` takes `double (*)(double, void *)`; `scale_kernel` is one such function.
    @nativecall.jit("float64(float64, voidptr)")
    def scale_kernel(x, data):
        return 3.0 * x

    @nativecall.jit("float64(float64)")
    def twice(x):
        return cython_module.call_twice(scale_kernel, x, None)

    import nc_cytest  # noqa: F401  (the fixture put it in sys.modules)

    assert twice(2.0) == 18.0


def test_python_functions_are_not_callable_from_kernels():
    with pytest.raises(nativecall.TypingError, match="decorate it with @nativecall.jit"):

        @nativecall.jit("float64(float64)")
        def calls_python(x):
            return lambda_free_square(x)


@pytest.mark.parametrize("n, x", [(0, 0.4), (3, -0.25), (7, 0.9)])
def test_kernels_call_cython_functions_with_two_fused_types(n, x):
    @nativecall.jit("float64(int64, float64)")
    def polys(n, x):
        return cython_special.eval_chebyt(n, x) + cython_special.eval_legendre(n, x) + cython_special.eval_jacobi(
            n, 0.5, 1.5, x
        )

    want = special.eval_chebyt(n, x) + special.eval_legendre(n, x) + special.eval_jacobi(n, 0.5, 1.5, x)
    assert polys(n, x) == want
    # A float order selects the double specialisation, which scipy computes differently.
    @nativecall.jit("float64(float64, float64)")
    def chebyt_real_order(n, x):
        return cython_special.eval_chebyt(n, x)

    assert chebyt_real_order(n + 0.5, x) == special.eval_chebyt(n + 0.5, x)
