"""Cython's exported C functions (`__pyx_capi__`): scipy's and a module compiled in this session."""

import ctypes
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, optimize, special
from scipy.special import cython_special

import nativecall
from nativecall._interop import plain_name

CS = "scipy.special.cython_special"


def test_from_cython_gamma_returns_24():
    assert nativecall.from_cython(CS, "gamma", "double (double)")(5.0) == 24.0


@pytest.mark.parametrize(
    "name, signature, ufunc, args",
    [
        ("gamma", "double (double)", special.gamma, [(0.5,), (3.3,), (-1.5,), (12.0,)]),
        ("erf", "double (double)", special.erf, [(-2.0,), (0.1,), (0.7,), (3.0,)]),
        ("jv", "double (double, double)", special.jv, [(0.0, 1.0), (2.5, 7.0), (-1.5, 3.0), (10.0, 0.5)]),
        ("loggamma", "double (double)", special.loggamma, [(0.5,), (10.0,), (123.4,)]),
        ("expit", "double (double)", special.expit, [(-30.0,), (0.0,), (2.0,)]),
        ("expit", "float (float)", special.expit, [(np.float32(0.5),)]),
        ("gamma", "double _Complex (double _Complex)", special.gamma, [(1 + 1j,), (0.5 - 2j,)]),
        ("loggamma", "complex128(complex128)", special.loggamma, [(2 + 3j,)]),
    ],
)
def test_cython_special_values_equal_the_scipy_ufuncs(name, signature, ufunc, args):
    fn = nativecall.from_cython(CS, name, signature)
    assert fn.signature == nativecall.Signature(signature)
    for a in args:
        assert fn(*a) == ufunc(*a)


def test_fused_specialisation_is_chosen_by_signature_not_index():
    real = nativecall.from_cython(CS, "gamma", "double (double)")
    cplx = nativecall.from_cython(cython_special, "gamma", "complex128(complex128)")
    assert real.address != cplx.address
    # The chosen capsule's own name says what it is.
    functions = nativecall.cython_functions(CS)
    (key,) = [k for k, v in functions.items() if v.address == real.address]
    assert key.startswith("__pyx_fuse_") and key.endswith("gamma")
    assert str(functions[key].c_signature) == "double (double, int)"


def test_skip_dispatch_is_hidden_from_the_signature_and_filled_with_zero():
    gamma = nativecall.from_cython(CS, "gamma", "double (double)")
    assert str(gamma.signature) == "double (double)"
    assert str(gamma.c_signature) == "double (double, int)"
    assert gamma.signature.argnames == (None,)
    assert gamma.c_signature.argnames == (None, "__pyx_skip_dispatch")
    # The exported capsule is a thunk with exactly the visible signature; scipy can call it.
    llc = gamma.lowlevelcallable()
    assert llc.signature == "double (double)"
    got = integrate.quad(llc, 1.0, 3.0)[0]
    assert got == pytest.approx(integrate.quad(special.gamma, 1.0, 3.0)[0], rel=1e-14)
    # ... and so can ctypes, through the same thunk.
    assert gamma.ctypes(4.0) == 6.0


def test_optional_argument_structs_are_hidden_and_passed_null():
    jn = nativecall.from_cython(CS, "spherical_jn", "double (Py_ssize_t, double)")
    assert "__pyx_optional_args" in jn.c_signature.argnames
    for n, x in [(0, 1.0), (2, 3.5), (5, 10.0)]:
        assert jn(n, x) == special.spherical_jn(n, x)


def test_no_match_lists_the_available_specialisations():
    with pytest.raises(TypeError) as info:
        nativecall.from_cython(CS, "gamma", "float (float)")
    message = str(info.value)
    assert "'double (double)'" in message and "'double _Complex (double _Complex)'" in message
    with pytest.raises(TypeError, match="2 specialisations; pass signature="):
        nativecall.from_cython(CS, "gamma")
    with pytest.raises(AttributeError, match="no native function 'gamma_typo'.*similar: .*gamma"):
        nativecall.from_cython(CS, "gamma_typo")
    with pytest.raises(TypeError, match="no __pyx_capi__"):
        nativecall.cython_functions("math")
    with pytest.raises(ModuleNotFoundError):
        nativecall.from_cython("no.such.module", "f")


def test_cython_functions_maps_every_capi_entry():
    functions = nativecall.cython_functions(cython_special)
    assert set(functions) == set(cython_special.__pyx_capi__)
    assert all(isinstance(v, nativecall.NativeCallable) for v in functions.values())
    assert str(functions["gammaln"].signature) == "double (double)"


def test_brentq_from_cython_optimize_finds_sqrt2_with_a_gcc_callback(clib_path):
    lib = ctypes.CDLL(str(clib_path))
    brentq = nativecall.from_cython("scipy.optimize.cython_optimize._zeros", "brentq")
    assert str(brentq.signature) == (
        "double (double (*)(double, void *), double, double, void *, double, double, int, struct zeros_full_output *)"
    )
    # f(x) = x*x - 2 as a C callback: x*x + c with c = -2 passed through void *args.
    cb_src = clib_path.parent / "sq.c"
    cb_src.write_text("double sq_minus(double x, void *args) { return x * x - *(double *)args; }\n")
    so = clib_path.parent / "libsq.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(so), str(cb_src)], check=True)
    sq = ctypes.CDLL(str(so)).sq_minus
    sq.restype, sq.argtypes = ctypes.c_double, [ctypes.c_double, ctypes.c_void_p]
    c = ctypes.c_double(2.0)
    root = brentq(sq, 0.0, 2.0, ctypes.addressof(c), 1e-14, 1e-14, 100, None)
    assert root == pytest.approx(math.sqrt(2), abs=1e-13)
    # The callback may also be a NativeCallable or a raw address.
    root = brentq(nativecall.native(sq), 0.0, 2.0, ctypes.addressof(c), 1e-14, 1e-14, 100, None)
    assert root == pytest.approx(math.sqrt(2), abs=1e-13)
    want = optimize.brentq(lambda x: x * x - 2.0, 0.0, 2.0, xtol=1e-14, rtol=1e-14)
    assert root == pytest.approx(want, abs=1e-13)


# ---------------------------------------------------------------------------- our own Cython module


def test_a_cython_module_compiled_now(cython_module):
    functions = nativecall.cython_functions(cython_module)
    assert {"axpy", "lcount", "call_twice", "power"} <= set(functions)
    axpy = nativecall.from_cython(cython_module, "axpy")
    assert str(axpy.signature) == "double (double, double, double)"
    assert axpy(2.0, 3.0, 1.0) == 7.0
    assert nativecall.from_cython(cython_module, "twice", "float (float)")(1.25) == 2.5
    assert nativecall.from_cython(cython_module, "twice", "double (double)")(1.25) == 2.5
    # A default argument travels in an optional-args struct; NULL means "use the default".
    power = nativecall.from_cython(cython_module, "power")
    assert str(power.signature) == "double (double)" and power(3.0) == 9.0
    lcount = nativecall.from_cython(cython_module.__name__, "lcount")
    assert str(lcount.signature) == "long (long)" and lcount(41) == 42
    # A cdef function taking a function pointer, given a Cython function through a thunk-free capsule.
    call_twice = nativecall.from_cython(cython_module, "call_twice")
    assert str(call_twice.signature) == "double (double (*)(double, void *), double, void *)"


def test_cython_function_pointer_parameters_accept_native_callables(cython_module, clib):
    call_twice = nativecall.from_cython(cython_module, "call_twice")
    k = ctypes.c_double(3.0)
    assert call_twice(clib.scale, 2.0, ctypes.addressof(k)) == 18.0
    assert call_twice(nativecall.native(clib.scale).capsule(), 1.0, None) == 1.0


# ---------------------------------------------------------------------------- inspect


def run_inspect(*args):
    out = subprocess.run(
        [sys.executable, "-m", "nativecall", "inspect", *args], capture_output=True, text=True, check=False
    )
    return out.returncode, out.stdout, out.stderr


def test_inspect_prints_functions_grouped_by_plain_name():
    code, out, _ = run_inspect(CS)
    assert code == 0
    lines = out.splitlines()
    # As many as this scipy exports (396 in scipy 1.17, 385 in 1.15, the newest for Python 3.10).
    exported = len(cython_special.__pyx_capi__)
    assert lines[0].startswith("scipy.special.cython_special: ") and f"({exported} exported C functions)" in lines[0]
    i = lines.index("  gamma")
    group = lines[i + 1 : i + 3]
    assert any(l.strip().startswith("double (double)") and "[__pyx_fuse_1gamma]" in l for l in group)
    assert any(l.strip().startswith("double _Complex (double _Complex)") for l in group)
    assert any(l.split() == ["gammaln", "double", "(double)"] for l in lines)


def test_inspect_json_is_machine_readable():
    code, out, _ = run_inspect("scipy.optimize.cython_optimize._zeros", "--json")
    assert code == 0
    doc = json.loads(out)
    assert sorted(doc["functions"]) == ["bisect", "brenth", "brentq", "ridder"]
    (entry,) = doc["functions"]["brentq"]
    assert entry["capsule"] == "brentq"
    assert entry["signature"].startswith("double (double (*)(double, void *), double, double")


def test_inspect_of_a_module_without_exports_fails_clearly():
    code, _, err = run_inspect("json")
    assert code == 2 and "no __pyx_capi__" in err


def test_functions_with_two_fused_types_are_found_by_their_plain_name():
    # Cython names these __pyx_fuse_<i>_<j><name>, one index per fused type.
    keys = [k for k in cython_special.__pyx_capi__ if k.endswith("eval_chebyt")]
    assert len(keys) == 6 and all(k.startswith("__pyx_fuse_") and k.count("_") >= 6 for k in keys)
    assert plain_name("__pyx_fuse_0_1eval_chebyt") == "eval_chebyt"
    assert plain_name("__pyx_fuse_1gamma") == "gamma"
    assert plain_name("__pyx_fuse_0_private") == "_private"
    multi = [k for k in cython_special.__pyx_capi__ if re.match(r"__pyx_fuse_\d+_\d", k)]
    assert len(multi) == 78
    assert len({plain_name(k) for k in multi}) == 13
    assert not [k for k in cython_special.__pyx_capi__ if plain_name(k).startswith("_")]
    for name, sig, args, want in [
        ("eval_chebyt", "double (long, double)", (3, 0.3), special.eval_chebyt(3, 0.3)),
        ("eval_chebyt", "double (double, double)", (2.5, 0.3), special.eval_chebyt(2.5, 0.3)),
        ("eval_legendre", "double (long, double)", (4, -0.7), special.eval_legendre(4, -0.7)),
        ("eval_jacobi", "double (long, double, double, double)", (3, 0.5, 1.5, 0.2),
         special.eval_jacobi(3, 0.5, 1.5, 0.2)),
    ]:
        fn = nativecall.from_cython(CS, name, sig)
        assert fn.name == f"{CS}.{name}"
        assert fn(*args) == want
    with pytest.raises(TypeError, match="eval_chebyt has 6 specialisations"):
        nativecall.from_cython(CS, "eval_chebyt")
