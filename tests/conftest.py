"""Shared fixtures: C code compiled with gcc, and a Cython module built, during the test session."""

import ctypes
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

# DLPack's structs as C lays them out, for tests that hand-build a DLTensor.
class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32), ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]  # fmt: skip


C_SOURCE = r"""
#include <complex.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

double scale(double x, void *user_data) { return (user_data ? *(double *)user_data : 1.0) * x; }
double gauss(double x) { return exp(-x * x); }
double add3(double a, double b, double c) { return a + 10.0 * b + 100.0 * c; }
/* scipy.integrate.quad's "double (int, double *)": xx[0] is x, xx[1:] are args. */
double poly_nd(int n, double *xx) { double a = n > 1 ? xx[1] : 0.0; return a * xx[0] * xx[0] + (n > 2 ? xx[2] : 0.0); }
int64_t imul(int32_t a, int64_t b) { return (int64_t)a * b; }
uint8_t u8_next(uint8_t x) { return (uint8_t)(x + 1); }
int8_t i8_neg(int8_t x) { return (int8_t)-x; }
uint64_t u64_max(void) { return UINT64_MAX; }
int16_t i16_min(void) { return INT16_MIN; }
bool negate(bool b) { return !b; }
float f32_half(float x) { return x / 2.0f; }
void fill(double *out, ptrdiff_t n, double v) { for (ptrdiff_t i = 0; i < n; i++) out[i] = v + (double)i; }
double total(const double *x, int64_t n) { double s = 0; for (int64_t i = 0; i < n; i++) s += x[i]; return s; }
int32_t itotal(const int32_t *x, int64_t n) { int32_t s = 0; for (int64_t i = 0; i < n; i++) s += x[i]; return s; }
double complex cmul(double complex a, double complex b) { return a * b; }
float complex cconj(float complex z) { return conjf(z); }
double apply(double (*f)(double, void *), double x, void *user_data) { return f(x, user_data); }
int is_null(void *p) { return p == NULL; }
uintptr_t address_of(void *p) { return (uintptr_t)p; }
double slow_sum(int64_t n) { double s = 0; for (int64_t i = 0; i < n; i++) s += 1.0 / (double)(i + 1); return s; }
"""


@pytest.fixture(scope="session")
def clib_path(tmp_path_factory):
    """A shared library compiled with gcc for this session."""
    d = tmp_path_factory.mktemp("clib")
    src = d / "nc_test.c"
    src.write_text(C_SOURCE)
    out = d / "libnc_test.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(out), str(src), "-lm"], check=True)
    return out


@pytest.fixture(scope="session")
def clib(clib_path):
    """The gcc-compiled library through ctypes, with argtypes and restypes set."""
    lib = ctypes.CDLL(str(clib_path))
    c = ctypes
    cb = c.CFUNCTYPE(c.c_double, c.c_double, c.c_void_p)
    protos = {
        "scale": (c.c_double, [c.c_double, c.c_void_p]),
        "gauss": (c.c_double, [c.c_double]),
        "add3": (c.c_double, [c.c_double, c.c_double, c.c_double]),
        "poly_nd": (c.c_double, [c.c_int, c.POINTER(c.c_double)]),
        "imul": (c.c_int64, [c.c_int32, c.c_int64]),
        "u8_next": (c.c_uint8, [c.c_uint8]),
        "i8_neg": (c.c_int8, [c.c_int8]),
        "u64_max": (c.c_uint64, []),
        "i16_min": (c.c_int16, []),
        "negate": (c.c_bool, [c.c_bool]),
        "f32_half": (c.c_float, [c.c_float]),
        "fill": (None, [c.POINTER(c.c_double), c.c_ssize_t, c.c_double]),
        "total": (c.c_double, [c.POINTER(c.c_double), c.c_int64]),
        "itotal": (c.c_int32, [c.POINTER(c.c_int32), c.c_int64]),
        "apply": (c.c_double, [cb, c.c_double, c.c_void_p]),
        "is_null": (c.c_int, [c.c_void_p]),
        "address_of": (c.c_size_t, [c.c_void_p]),
        "slow_sum": (c.c_double, [c.c_int64]),
    }
    for name, (restype, argtypes) in protos.items():
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = argtypes
    return lib


@pytest.fixture(scope="session")
def cffi_lib(clib_path):
    """The same library through cffi (ABI mode)."""
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef(
        """
        double scale(double x, void *user_data);
        double gauss(double x);
        double add3(double, double, double);
        double total(const double *x, int64_t n);
        double apply(double (*f)(double, void *), double x, void *user_data);
        """
    )
    return ffi, ffi.dlopen(str(clib_path))


CYTHON_SOURCE = textwrap.dedent(
    """
    # cython: language_level=3
    # `real` (a fused type) and every signature are declared in the .pxd.

    cpdef double axpy(double a, double x, double y) noexcept nogil:
        return a * x + y

    cpdef real twice(real x) noexcept nogil:
        return 2 * x

    cpdef double power(double x, int n=2) noexcept nogil:
        cdef double r = 1
        cdef int i
        for i in range(n):
            r *= x
        return r

    cdef long lcount(long n) noexcept nogil:
        return n + 1

    cdef double call_twice(double (*f)(double, void *) noexcept nogil, double x, void *data) noexcept nogil:
        return f(f(x, data), data)
    """
)

CYTHON_PXD = textwrap.dedent(
    """
    cpdef double axpy(double a, double x, double y) noexcept nogil
    ctypedef fused real:
        float
        double
    cpdef real twice(real x) noexcept nogil
    cpdef double power(double x, int n=*) noexcept nogil
    cdef long lcount(long n) noexcept nogil
    cdef double call_twice(double (*f)(double, void *) noexcept nogil, double x, void *data) noexcept nogil
    """
)


def build_cython_module(directory: Path, name: str, pyx: str, pxd: str = "", include_dirs=()) -> None:
    """Cythonize and compile `pyx` into `directory` as module `name` (importable once
    `directory` is on sys.path). `include_dirs` go to both Cython and the C compiler."""
    from Cython.Build import cythonize

    (directory / f"{name}.pyx").write_text(pyx)
    if pxd:
        (directory / f"{name}.pxd").write_text(pxd)
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        cythonize([f"{name}.pyx"], quiet=True, language_level=3, include_path=list(include_dirs))
    finally:
        os.chdir(cwd)
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    extra = [f"-I{d}" for d in include_dirs]
    subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", f"-I{include}", *extra, "-o", str(directory / f"{name}{suffix}"),
         str(directory / f"{name}.c")],
        check=True,
    )  # fmt: skip


def import_from(directory: Path, name: str):
    sys.path.insert(0, str(directory))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(directory))


@pytest.fixture(scope="session")
def cython_module(tmp_path_factory):
    """A Cython module with cpdef, fused, default-argument and cdef functions, compiled now."""
    pytest.importorskip("Cython")
    d = tmp_path_factory.mktemp("cymod")
    build_cython_module(d, "nc_cytest", CYTHON_SOURCE, CYTHON_PXD)
    sys.path.insert(0, str(d))
    try:
        import nc_cytest
    finally:
        sys.path.remove(str(d))
    return nc_cytest


def general_call(f, *args):
    """``f(*args)`` through a callable's general entry: ``type(f).__call__`` builds an
    argument tuple, which never takes the generated entry."""
    return type(f).__call__(f, *args)


def outcome(call):
    """What ``call()`` gives: ``("value", repr)`` (NaNs compare by their repr) or the
    exception's type name and message, for comparing two ways of making a call."""
    try:
        return ("value", repr(call()))
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return (type(e).__name__, str(e))
