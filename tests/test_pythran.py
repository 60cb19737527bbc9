"""Functions Pythran exports as capsules, compiled by Pythran during the test session:
their signatures come from the capsule names, and they go into scipy and into kernels."""

import ctypes
import hashlib
import math
import os
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
from scipy import LowLevelCallable, integrate

import nativecall

pythran = pytest.importorskip("pythran")

PYTHRAN_SOURCE = """\
#pythran export capsule damped(float64, float64)
#pythran export capsule bell(float64)
#pythran export capsule damped_nd(int32, float64*)
#pythran export capsule poly(int, float)
#pythran export capsule count_positive(int64, float64*)
import math


def damped(x, k):
    return math.exp(-k * x) * math.cos(x)


def bell(x):
    return math.exp(-x * x)


def damped_nd(n, xx):
    return math.exp(-xx[1] * xx[0]) * math.cos(xx[0])


def poly(n, x):
    return n * x * x + 1.0


def count_positive(n, xs):
    c = 0
    for i in range(n):
        if xs[i] > 0:
            c += 1
    return c
"""


@pytest.fixture(scope="session")
def pythran_module(request, tmp_path_factory):
    """The module above, compiled by Pythran once: the extension is cached under
    .pytest_cache keyed by the source, Pythran's version and the interpreter, so
    later sessions import it without compiling (without pytest's cache plugin,
    once per session in a temporary folder)."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    key = hashlib.sha256(f"{PYTHRAN_SOURCE}\0{pythran.__version__}\0{suffix}".encode()).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)
    directory = cache.mkdir(f"pythran-{key}") if cache else tmp_path_factory.mktemp(f"pythran-{key}")
    name = "nc_pythran_test"
    ext = directory / f"{name}{suffix}"
    if not ext.exists():
        src = directory / f"{name}.py"
        src.write_text(PYTHRAN_SOURCE)
        tmp = directory / f"{name}.{os.getpid()}.tmp{suffix}"
        subprocess.run(
            [sys.executable, "-c", "import sys; from pythran.run import run; sys.exit(run())", str(src), "-o", str(tmp)],
            check=True,
            cwd=directory,
        )
        os.replace(tmp, ext)  # another session sees the whole file or none
    sys.path.insert(0, str(directory))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(directory))


def py_damped(x, k):
    return math.exp(-k * x) * math.cos(x)


def test_pythran_exports_capsules_named_by_function_and_argument_types(pythran_module):
    # What the rest of this file relies on, read from the module Pythran built.
    assert pythran_module.__pythran__[0] == pythran.__version__
    assert type(pythran_module.damped).__name__ == "PyCapsule"
    assert repr(pythran_module.damped).startswith('<capsule object "damped(float64, float64)"')


def test_pythran_capsule_without_a_return_type_asks_for_returns(pythran_module):
    with pytest.raises(TypeError) as info:
        nativecall.native(pythran_module.damped)
    msg = str(info.value)
    assert "'damped(float64, float64)'" in msg and "not its return type" in msg
    assert "returns=" in msg and "signature='<return type>(double, double)'" in msg


def test_pythran_capsule_signature_is_read_from_its_name_and_returns(pythran_module):
    damped = nativecall.native(pythran_module.damped, returns="float64")
    assert damped.signature == nativecall.Signature("double (double, double)")
    assert damped.name == "damped"
    for x, k in [(0.0, 1.0), (1.0, 0.5), (3.0, 2.0), (-2.0, 0.25)]:
        assert damped(x, k) == pytest.approx(py_damped(x, k), rel=1e-15, abs=1e-300)


def test_pythran_python_scalar_names_mean_int64_and_float64(pythran_module):
    poly = nativecall.native(pythran_module.poly, returns=nativecall.float64)
    assert poly.signature == nativecall.Signature("float64(int64, float64)")
    # An int64 beyond int32 goes through whole: a C int would wrap it.
    assert poly(3_000_000_000, 2.0) == 3_000_000_000 * 4.0 + 1.0


def test_pythran_capsule_takes_a_full_signature_if_its_arguments_match(pythran_module):
    nd = nativecall.native(pythran_module.damped_nd, "double (int, double *)")
    assert str(nd.signature) == "double (int, double *)"
    xx = np.array([1.5, 0.5])
    assert nd(2, xx) == pytest.approx(py_damped(1.5, 0.5), rel=1e-15)
    with pytest.raises(TypeError, match=r"takes \(int, double \*\), which is not ABI-compatible"):
        nativecall.native(pythran_module.damped_nd, "double (int64, double *)")
    with pytest.raises(TypeError, match="returns 'double', but returns='float'"):
        nativecall.native(pythran_module.damped_nd, "double (int, double *)", returns="float")


def test_pythran_capsule_integrates_with_quad_like_the_python_function(pythran_module):
    bell = nativecall.native(pythran_module.bell, returns="float64")
    got, err = integrate.quad(bell.lowlevelcallable(), -np.inf, np.inf)
    assert got == pytest.approx(math.sqrt(math.pi), rel=1e-12)
    # quad's "double (int, double *)" form passes the extra arguments after x.
    nd = nativecall.native(pythran_module.damped_nd, returns="float64")
    llc = nd.lowlevelcallable()
    assert isinstance(llc, LowLevelCallable)
    for k in (0.5, 1.0, 3.0):
        native_value = integrate.quad(llc, 0.0, 10.0, args=(k,))[0]
        python_value = integrate.quad(py_damped, 0.0, 10.0, args=(k,))[0]
        assert native_value == pytest.approx(python_value, rel=1e-13)
        # Closed form of the integral of exp(-k x) cos(x) over [0, 10].
        exact = (k + math.exp(-10 * k) * (math.sin(10) - k * math.cos(10))) / (1 + k * k)
        assert native_value == pytest.approx(exact, rel=1e-12)


def test_kernels_call_pythran_functions_natively(pythran_module):
    damped = nativecall.native(pythran_module.damped, returns="float64")
    count_positive = nativecall.native(pythran_module.count_positive, returns="int64")

    @nativecall.jit
    def riemann(n: int, k: float) -> float:
        h = 10.0 / n
        s = 0.0
        for i in range(n):
            s += damped((i + 0.5) * h, k) * h
        return s

    @nativecall.jit("int64(float64*, int64)")
    def positives(xs, n):
        return count_positive(n, xs)

    expected = sum(py_damped((i + 0.5) * 0.01, 0.5) * 0.01 for i in range(1000))
    assert riemann(1000, 0.5) == pytest.approx(expected, rel=1e-12)
    xs = np.array([-1.0, 2.0, 0.0, 3.5, -0.5, 7.0])
    assert positives(xs, len(xs)) == 3
    assert positives(xs, 2) == 1

    # A kernel calling the Pythran function goes into scipy in its turn.
    @nativecall.jit
    def integrand(x: float) -> float:
        return 2.0 * damped(x, 0.5)

    got = integrate.quad(integrand.lowlevelcallable(), 0.0, 10.0)[0]
    exact = (0.5 + math.exp(-5.0) * (math.sin(10) - 0.5 * math.cos(10))) / 1.25
    assert got == pytest.approx(2.0 * exact, rel=1e-12)


def test_kernel_naming_a_pythran_capsule_says_to_pass_its_return_type(pythran_module):
    bare = pythran_module.damped

    with pytest.raises(nativecall.CompileError) as info:

        @nativecall.jit
        def f(x: float) -> float:
            return bare(x, 1.0)

    assert "returns=" in str(info.value) and "damped(float64, float64)" in str(info.value)


def named_capsule(address, name):
    """A capsule as another producer would make it: ``address`` under ``name``."""
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    keep = ctypes.create_string_buffer(name.encode())
    capsule = new(address, keep, None)
    return capsule, keep


def test_pythran_type_without_a_native_equivalent_is_refused(pythran_module):
    address = nativecall.native(pythran_module.bell, returns="float64").address
    capsule, keep = named_capsule(address, "f(str, float64)")
    with pytest.raises(TypeError, match=r"Pythran type 'str' has no native equivalent here \(accepted: .*float64"):
        nativecall.native(capsule, returns="float64")
    # A C signature that happens to look like a call is still read as a C signature.
    capsule, keep2 = named_capsule(address, "float64(float64)")
    assert nativecall.native(capsule)(2.0) == pytest.approx(math.exp(-4.0), rel=1e-15)
