"""scipy's own LowLevelCallable tests, run again with every callable passed through nativecall.

The test modules come from the installed scipy (`scipy/_lib/tests/test_ccallback.py`,
`scipy/ndimage/tests/test_c_api.py`, `scipy/integrate/tests/test_quadpack.py`). Their
`LowLevelCallable` is replaced by one that imports what scipy was given with
`nativecall.native` and hands scipy one of nativecall's exports instead (a
LowLevelCallable, a capsule, a ctypes or a cffi function pointer, user data passed on),
and their raw capsules and ctypes function pointers are passed through nativecall the
same way. Kernels that do what scipy's C and Cython callbacks do join their lists of
functions. scipy's own assertions then judge: same answers, same errors.
"""

import ctypes
import importlib
import math
import subprocess
import sysconfig
import types
import warnings

import numpy as np
import pytest
from scipy import integrate
from scipy._lib._ccallback import LowLevelCallable

import nativecall

with warnings.catch_warnings():
    # Marks scipy's own conftest registers (xslow, fail_slow, skip_xp_backends).
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    ccallback_tests = importlib.import_module("scipy._lib.tests.test_ccallback")
    c_api_tests = importlib.import_module("scipy.ndimage.tests.test_c_api")
    quadpack_tests = importlib.import_module("scipy.integrate.tests.test_quadpack")

cffi = pytest.importorskip("cffi")
FFI = cffi.FFI()

EXPORTS = ["lowlevelcallable", "capsule", "ctypes", "cffi"]

FILTER1D = "int (double *, npy_intp, double *, npy_intp, void *)"
FILTER2D = "int (double *, npy_intp, double *, void *)"
TRANSFORM = "int (npy_intp *, double *, int, int, void *)"


def export(nc, how):
    """What a user of nativecall hands scipy: one of `nc`'s exports, with its user data."""
    if how == "lowlevelcallable":
        return nc.lowlevelcallable()
    if how == "capsule":
        return LowLevelCallable(nc.capsule())
    function = nc.ctypes if how == "ctypes" else nc.cffi(FFI)
    return LowLevelCallable(function, nc.user_data, str(nc.signature))


class Passes:
    """Counts callables passed through nativecall, so a run that passed none fails."""

    def __init__(self, how):
        self.how = how
        self.count = 0

    def through(self, obj, signature=None):
        self.count += 1
        return export(nativecall.native(obj, signature), self.how)

    def lowlevelcallable_class(self):
        passes = self

        class ThroughNativecall(LowLevelCallable):
            """scipy's LowLevelCallable(function, user_data, signature), by way of nativecall."""

            __slots__ = ()

            def __new__(cls, function, user_data=None, signature=None):
                # scipy checks what it was given first, and raises its own errors.
                own = LowLevelCallable(function, user_data, signature)
                return passes.through(function if user_data is None else own, signature)

        return ThroughNativecall


@pytest.fixture(scope="module")
def raise_value_error(tmp_path_factory):
    """`void raise_value_error(void)`: sets a Python ValueError, as scipy's C callbacks do
    on their error value (the GIL is taken, since callers release it)."""
    d = tmp_path_factory.mktemp("pyerr")
    src = d / "pyerr.c"
    src.write_text(
        "#include <Python.h>\n"
        "void raise_value_error(void) {\n"
        "    PyGILState_STATE s = PyGILState_Ensure();\n"
        '    PyErr_SetString(PyExc_ValueError, "ERROR_VALUE encountered in a kernel");\n'
        "    PyGILState_Release(s);\n"
        "}\n"
    )
    out = d / "libpyerr.so"
    include = sysconfig.get_paths()["include"]
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", f"-I{include}", "-o", str(out), str(src)], check=True)
    fn = ctypes.CDLL(str(out)).raise_value_error
    fn.argtypes = []
    fn.restype = None
    return nativecall.native(fn)


@pytest.fixture(scope="module")
def plus1_kernels(raise_value_error):
    """Kernels doing what scipy's plus1 callbacks do: `a + 1`, or `a + *(double *)user_data`,
    and on a == 2.0 an error flag and a Python ValueError."""

    @nativecall.jit("float64(float64*)")
    def first(p):
        return p[0]

    @nativecall.jit("float64(float64, int32*, voidptr)")
    def plus1(a, error_flag, user_data):
        if a == 2.0:
            error_flag[0] = 1
            raise_value_error()
            return 0.0
        if user_data:
            return a + first(user_data)
        return a + 1.0

    @nativecall.jit("float64(float64, float64, int32*, voidptr)")
    def plus1b(a, b, error_flag, user_data):
        return plus1(a, error_flag, user_data) + b

    @nativecall.jit("float64(float64, float64, float64, int32*, voidptr)")
    def plus1bc(a, b, c, error_flag, user_data):
        return plus1(a, error_flag, user_data) + b + c

    return plus1, plus1b, plus1bc


# ------------------------------------------------------------------ scipy/_lib/tests/test_ccallback.py

# test_signature_override gives LowLevelCallable the signature "bad signature", which
# nativecall refuses to import (tested below); the other tests all run.
CCALLBACK_TESTS = ["test_callbacks", "test_bad_callbacks", "test_threadsafety"]


@pytest.mark.parametrize("how", EXPORTS)
@pytest.mark.parametrize("name", CCALLBACK_TESTS)
def test_scipy_ccallback_tests_pass_with_every_callable_through_nativecall(monkeypatch, plus1_kernels, name, how):
    passes = Passes(how)
    monkeypatch.setattr(ccallback_tests, "LowLevelCallable", passes.lowlevelcallable_class())
    plus1, plus1b, plus1bc = plus1_kernels
    monkeypatch.setitem(ccallback_tests.FUNCS, "kernel", plus1.lowlevelcallable)
    monkeypatch.setitem(ccallback_tests.FUNCS, "kernel_b", plus1b.lowlevelcallable)
    monkeypatch.setitem(ccallback_tests.BAD_FUNCS, "kernel_bc", plus1bc.lowlevelcallable)
    getattr(ccallback_tests, name)()
    # Each caller x low-level function x user data passes the function with and without
    # user data (test_bad_callbacks two more times), and LowLevelCallable.from_cython once.
    def passed(funcs, per_function):
        low_level = [key for key in funcs if key != "python"]
        from_cython = [key for key in funcs if key.startswith("cython")]
        callers, users = len(ccallback_tests.CALLERS), len(ccallback_tests.USER_DATAS)
        return callers * users * (per_function * len(low_level) + len(from_cython))

    expected = {
        "test_callbacks": passed(ccallback_tests.FUNCS, 2),
        "test_bad_callbacks": passed(ccallback_tests.BAD_FUNCS, 4),
        "test_threadsafety": 0,  # Python callbacks only
    }[name]
    assert passes.count == expected


def test_a_signature_nativecall_cannot_read_is_refused_on_import_and_a_valid_override_is_kept():
    func = ccallback_tests._test_ccallback.test_get_plus1_capsule()
    with pytest.raises(nativecall.SignatureError, match="bad signature"):
        nativecall.native(LowLevelCallable(func, signature="bad signature"))
    caller = ccallback_tests._test_ccallback.test_call_simple
    for how in EXPORTS:
        llc = export(nativecall.native(LowLevelCallable(func, signature="double (double, int *, void *)")), how)
        assert llc.signature == "double (double, int *, void *)"
        assert caller(llc, 3) == 4


# ------------------------------------------------------------------ scipy/ndimage/tests/test_c_api.py


@pytest.fixture(scope="module")
def ndimage_kernels():
    """Kernels doing what scipy's `_ctest`/`_cytest` callbacks do: one reading the same
    callback data through `void *`, and one taking its data as packed extra arguments."""

    @nativecall.jit("intp(intp*)")
    def first_intp(p):
        return p[0]

    @nativecall.jit("float64(float64*)")
    def first_double(p):
        return p[0]

    @nativecall.jit("float64(float64*, intp, float64*)")
    def dot(buffer, n, weights):
        s = 0.0
        for i in range(n):
            s += weights[i] * buffer[i]
        return s

    @nativecall.jit("int32(float64*, intp, float64*, intp, intp)")
    def filter1d_sized(input_line, input_length, output_line, output_length, filter_size):
        for i in range(output_length):
            output_line[i] = 0.0
            for j in range(filter_size):
                output_line[i] += input_line[i + j]
            output_line[i] /= filter_size
        return 1

    @nativecall.jit("int32(float64*, intp, float64*, intp, voidptr)")
    def filter1d(input_line, input_length, output_line, output_length, callback_data):
        return filter1d_sized(input_line, input_length, output_line, output_length, first_intp(callback_data))

    @nativecall.jit("int32(float64*, intp, float64*, voidptr)")
    def filter2d(buffer, filter_size, res, callback_data):
        res[0] = dot(buffer, filter_size, callback_data)
        return 1

    @nativecall.jit("int32(float64*, intp, float64*, float64[:])")
    def filter2d_weights(buffer, filter_size, res, weights):
        s = 0.0
        for i in range(filter_size):
            s += weights[i] * buffer[i]
        res[0] = s
        return 1

    @nativecall.jit("int32(intp*, float64*, int32, int32, float64)")
    def transform_shift(output_coordinates, input_coordinates, output_rank, input_rank, shift):
        for i in range(input_rank):
            input_coordinates[i] = output_coordinates[i] - shift
        return 1

    @nativecall.jit("int32(intp*, float64*, int32, int32, voidptr)")
    def transform(output_coordinates, input_coordinates, output_rank, input_rank, callback_data):
        return transform_shift(output_coordinates, input_coordinates, output_rank, input_rank, first_double(callback_data))

    cytest = c_api_tests._cytest
    return {
        "FILTER1D_FUNCTIONS": [
            lambda size: filter1d.lowlevelcallable(FILTER1D, user_data=cytest.filter1d_capsule(size)),
            lambda size: filter1d_sized.lowlevelcallable(FILTER1D, user_data=(size,)),
        ],
        "FILTER2D_FUNCTIONS": [
            lambda weights: filter2d.lowlevelcallable(FILTER2D, user_data=cytest.filter2d_capsule(weights)),
            lambda weights: filter2d_weights.lowlevelcallable(FILTER2D, user_data=(np.array(weights),)),
        ],
        "TRANSFORM_FUNCTIONS": [
            lambda shift: transform.lowlevelcallable(TRANSFORM, user_data=cytest.transform_capsule(shift)),
            lambda shift: transform_shift.lowlevelcallable(TRANSFORM, user_data=(shift,)),
        ],
    }


C_API_TESTS = {
    "test_generic_filter1d": ("FILTER1D_FUNCTIONS", FILTER1D),
    "test_generic_filter": ("FILTER2D_FUNCTIONS", FILTER2D),
    "test_geometric_transform": ("TRANSFORM_FUNCTIONS", TRANSFORM),
}


@pytest.mark.parametrize("how", EXPORTS)
@pytest.mark.parametrize("name", sorted(C_API_TESTS))
def test_scipy_ndimage_c_api_tests_pass_with_every_callable_through_nativecall(monkeypatch, ndimage_kernels, name, how):
    passes = Passes(how)
    monkeypatch.setattr(c_api_tests, "LowLevelCallable", passes.lowlevelcallable_class())
    listname, signature = C_API_TESTS[name]

    def raw_capsule(factory):
        # scipy's unnamed capsules (data in their context) need their signature said.
        return lambda arg: passes.through(factory(arg), signature)

    def again(factory):
        return lambda arg: passes.through(factory(arg))

    # scipy's entries that call LowLevelCallable go through the class replaced above.
    scipy_own = getattr(c_api_tests, listname)
    functions = [f if "LowLevelCallable" in f.__code__.co_names else raw_capsule(f) for f in scipy_own]
    functions += [again(f) for f in ndimage_kernels[listname]]
    monkeypatch.setattr(c_api_tests, listname, functions)
    getattr(c_api_tests, name)()
    assert passes.count == len(functions)


# ------------------------------------------------------------------ scipy/integrate/tests/test_quadpack.py

QUADPACK_CLASSES = ["TestCtypesQuad", "TestMultivariateCtypesQuad"]


def quadpack_cases():
    for cls in QUADPACK_CLASSES:
        for name in sorted(n for n in dir(getattr(quadpack_tests, cls)) if n.startswith("test_")):
            yield f"{cls}.{name}"


@pytest.mark.parametrize("how", EXPORTS)
@pytest.mark.parametrize("case", list(quadpack_cases()))
def test_scipy_quadpack_ctypes_tests_pass_with_every_callable_through_nativecall(monkeypatch, case, how):
    """quad takes plain ctypes function pointers too (scipy's legacy signatures): those
    become nativecall's ctypes function pointers; LowLevelCallables become `how`."""
    passes = Passes(how)
    monkeypatch.setattr(quadpack_tests, "LowLevelCallable", passes.lowlevelcallable_class())

    def as_nativecall_ctypes(fp):
        passes.count += 1
        return nativecall.native(fp).ctypes

    original_routine = quadpack_tests.get_clib_test_routine
    monkeypatch.setattr(
        quadpack_tests, "get_clib_test_routine", lambda *a: as_nativecall_ctypes(original_routine(*a))
    )
    monkeypatch.setattr(quadpack_tests, "sine_ctypes", as_nativecall_ctypes(quadpack_tests.sine_ctypes))
    cls_name, method = case.split(".")
    instance = getattr(quadpack_tests, cls_name)()
    instance.setup_method()
    if hasattr(instance, "lib"):
        instance.lib = types.SimpleNamespace(
            **{n: as_nativecall_ctypes(getattr(instance.lib, n)) for n in ("sin", "cos", "tan")}
        )
    getattr(instance, method)()
    assert passes.count > 0


# Kernel replacements of test_quadpack's Python integrands (TestQuad): each through every
# export and every way nativecall hands quad its extra arguments, against scipy's values.


def _quad_kernels():
    @nativecall.jit("float64(float64, float64, float64)")
    def bessel(x, n, z):
        return math.cos(n * x - z * math.sin(x)) / math.pi

    @nativecall.jit("float64(float64)")
    def euler(x):
        return -math.exp(-x) * math.log(x)

    @nativecall.jit("float64(float64)")
    def singular(x):
        if 0 < x < 2.5:
            return math.sin(x)
        elif 2.5 <= x <= 5.0:
            return math.exp(-x)
        return 0.0

    @nativecall.jit("float64(float64, float64)")
    def sine_weighted(x, a):
        return math.exp(a * (x - 1))

    @nativecall.jit("float64(float64, float64)")
    def decaying(x, a):
        return math.exp(-x * a)

    @nativecall.jit("float64(float64, float64)")
    def algebraic(x, a):
        return 1 / (1 + x + 2 ** (-a))

    @nativecall.jit("float64(float64, float64)")
    def cauchy(x, a):
        return 2.0 ** (-a) / ((x - 1) ** 2 + 4.0 ** (-a))

    pi, sin, cos, exp, log, sqrt, arctan = math.pi, math.sin, math.cos, math.exp, math.log, math.sqrt, math.atan
    ome = 2.0**3.4
    a = 0.4
    cauchy_value = (
        2.0 ** (-0.4) * log(1.5)
        - 2.0 ** (-1.4) * log((4.0 ** (-a) + 16) / (4.0 ** (-a) + 1))
        - arctan(2.0 ** (a + 2))
        - arctan(2.0**a)
    ) / (4.0 ** (-a) + 1)
    # (kernel, limits, extra arguments, quad options, scipy's tabled value, error tolerance)
    return {
        "typical": (bessel, (0, pi), (2.0, 1.8), {}, 0.30614353532540296487, 1.5e-8),
        "indefinite": (euler, (0, np.inf), (), {}, 0.577215664901532860606512, 1.5e-8),
        "singular": (singular, (0, 10), (), {"points": [2.5, 5.0]}, 1 - cos(2.5) + exp(-2.5) - exp(-5.0), 1.5e-8),
        "sine_weighted_finite": (
            sine_weighted, (0, 1), (20.0,), {"weight": "sin", "wvar": ome},
            (20 * sin(ome) - ome * cos(ome) + ome * exp(-20)) / (20**2 + ome**2), 1.5e-8,
        ),
        "sine_weighted_infinite": (decaying, (0, np.inf), (4.0,), {"weight": "sin", "wvar": 3.0}, 3.0 / (16.0 + 9.0), 1.5e-8),
        # scipy's test integrates exp(a x) cos(w x) over (-inf, 0]; quad wraps a negated
        # limit in a Python function, which a LowLevelCallable cannot be, so x -> -x.
        "cosine_weighted_infinite": (
            decaying, (0, np.inf), (2.5,), {"weight": "cos", "wvar": 2.3}, 2.5 / (2.5**2 + 2.3**2), 1.5e-8,
        ),
        "algebraic_log_weight": (
            algebraic, (-1, 1), (1.5,), {"weight": "alg", "wvar": (-0.5, -0.5)},
            pi / sqrt((1 + 2 ** (-1.5)) ** 2 - 1), 1.5e-8,
        ),
        "cauchypv_weight": (cauchy, (0, 5), (0.4,), {"weight": "cauchy", "wvar": 2.0}, cauchy_value, 1.9e-8),
    }  # fmt: skip


QUAD_KERNELS = _quad_kernels()


def quad_forms(kernel, args):
    """Every way nativecall hands quad `kernel` with its extra arguments `args`:
    `(callable, args for quad)`."""
    forms = {"nd": (kernel.lowlevelcallable("double (int, double *)"), args)}
    if args:
        forms["nd_user_data"] = (kernel.lowlevelcallable("double (int, double *, void *)"), args)
        forms["packed"] = (kernel.lowlevelcallable("double (double, void *)", user_data=args), ())
    else:
        forms["own"] = (kernel.lowlevelcallable(), ())
        forms["void_ptr"] = (kernel.lowlevelcallable("double (double, void *)", user_data=()), ())
    return forms


@pytest.mark.parametrize("how", EXPORTS)
@pytest.mark.parametrize("case", sorted(QUAD_KERNELS))
def test_kernel_replacements_of_scipy_quad_integrands_give_scipys_values(case, how):
    kernel, limits, args, options, value, tolerance = QUAD_KERNELS[case]
    for form, (llc, quad_args) in quad_forms(kernel, args).items():
        again = export(nativecall.native(llc), how)
        got = integrate.quad(again, *limits, args=quad_args, **options)
        quadpack_tests.assert_quad(got, value, error_tolerance=tolerance)
        # The same as quad gives the Python integrand.
        want = integrate.quad(kernel.py_func, *limits, args=args, **options)[0]
        assert got[0] == pytest.approx(want, rel=1e-12, abs=1e-15), form
