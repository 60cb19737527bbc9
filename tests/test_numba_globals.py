"""NativeCallables as globals and closure variables of ``@numba.njit`` code, typed by
nativecall's ``numba_extensions`` entry point: kernels, C functions from ctypes and
Cython functions, each called natively and compared with the same computation in
Python."""

import ctypes
import ctypes.util
import gc
import math
import subprocess
import sys

import numpy as np
import pytest

import nativecall

numba = pytest.importorskip("numba")


@nativecall.jit("float64(float64, float64)")
def hyp(a, b):
    return math.sqrt(a * a + b * b)


def _libm(name):
    fn = getattr(ctypes.CDLL(ctypes.util.find_library("m")), name)
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double]
    return fn


COS = nativecall.native(_libm("cos"))


def test_a_bare_kernel_and_a_ctypes_function_are_njit_globals():
    @numba.njit
    def total(xs):
        s = 0.0
        for x in xs:
            s += hyp(x, 2.0 * x) + COS(x)
        return s

    xs = np.linspace(-1.0, 3.0, 101)
    want = sum(math.sqrt(x * x + 4.0 * x * x) + math.cos(x) for x in xs)
    assert total(xs) == pytest.approx(want, rel=1e-14)


def test_a_kernel_in_a_closure_is_a_constant_too():
    def make(f):
        @numba.njit
        def apply_twice(x):
            return f(f(x, 1.0), 1.0)

        return apply_twice

    assert make(hyp)(np.sqrt(2.0)) == pytest.approx(2.0, rel=1e-15)


def test_a_cython_function_with_hidden_parameters_is_an_njit_global(cython_module):
    axpy = nativecall.from_cython(cython_module, "axpy")  # cpdef: a hidden skip-dispatch flag

    @numba.njit
    def run(n):
        s = 0.0
        for i in range(n):
            s = axpy(0.5, s, float(i))
        return s

    s = 0.0
    for i in range(10):
        s = 0.5 * s + i
    assert run(10) == s


def test_the_same_kernel_still_works_as_an_argument_and_through_numba():
    @numba.njit
    def apply(f, x, y):
        return f(x, y)

    @numba.njit
    def global_call(x, y):
        return hyp(x, y)

    assert apply(hyp, 3.0, 4.0) == 5.0 and global_call(5.0, 12.0) == 13.0
    assert apply(hyp.numba, 8.0, 15.0) == 17.0


def test_a_call_numba_cannot_type_is_numbas_typing_error():
    @numba.njit
    def wrong(x):
        return hyp(x)

    with pytest.raises(numba.core.errors.TypingError):
        wrong(1.0)


def test_a_global_kernel_stays_alive_after_its_name_is_gone():
    namespace = {}
    exec(
        "import nativecall\n"
        "k = nativecall.jit('float64(float64)', source='def k(x):\\n    return x * 3.0\\n')\n",
        namespace,
    )
    code = "def triple(x):\n    return k(x)\n"
    exec(code, namespace)
    triple = numba.njit(namespace["triple"])
    assert triple(2.0) == 6.0
    del namespace["k"]
    gc.collect()
    assert nativecall.stats()["kernels"] >= 1
    assert triple(5.0) == 15.0


def test_importing_nativecall_does_not_import_numba():
    out = subprocess.run(
        [sys.executable, "-c", "import sys, nativecall; k = nativecall.jit('float64(float64)', "
         "source='def k(x):\\n    return x\\n'); print('numba' in sys.modules)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "False"
