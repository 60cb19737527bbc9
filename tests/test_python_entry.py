"""The generated Python entry: callables whose parameters and result are ints, floats,
bools, ``complex128`` and pointers take calls from Python through straight-line code made for their signature. It
must give exactly what the general entry gives (``type(f).__call__`` builds an argument
tuple, which always takes the general entry): the same values, the same refusals with the
same messages, the kernel errors, and no reference leaks."""

import ctypes
import ctypes.util
import math
import sys

import numpy as np
import pytest

import nativecall
from conftest import general_call, outcome


@nativecall.jit("float64(float64)")
def half(x):
    return x * 0.5 + 1.0


def test_the_first_call_from_python_installs_the_generated_entry():
    @nativecall.jit("float64(float64, float64)")
    def fresh(x, y):
        return x * y

    assert fresh._python_entry is None
    assert fresh(2.0, 3.0) == 6.0
    assert fresh._python_entry == "generated"
    assert fresh(2.5, 4.0) == 10.0


@pytest.mark.parametrize(
    "arg",
    [1.5, -0.0, math.inf, math.nan, 3, True, np.float64(2.5), np.float32(0.25), np.int64(7), 2**53 + 1],
)
def test_a_float_parameter_takes_every_argument_the_general_entry_takes(arg):
    half(0.0)
    assert half._python_entry == "generated"
    got, want = outcome(lambda: half(arg)), outcome(lambda: general_call(half, arg))
    assert got == want and got[0] == "value"
    assert got[1] == repr(float(arg) * 0.5 + 1.0)


@pytest.mark.parametrize("arg", ["1.0", None, 1 + 2j, 10**400, [1.0]])
def test_a_float_parameter_refuses_what_the_general_entry_refuses_with_its_message(arg):
    half(0.0)
    got = outcome(lambda: half(arg))
    assert got[0] != "value"
    assert got == outcome(lambda: general_call(half, arg))


INT_TYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]


def _edges(t):
    info = np.iinfo(t)
    lo, hi = int(info.min), int(info.max)
    return [lo - 1, lo, lo + 1, -1, 0, 1, hi - 1, hi, hi + 1, 2**64, -(2**64), 1.0, True, np.int16(3), "3"]


@pytest.mark.parametrize("t", INT_TYPES)
def test_every_int_width_keeps_the_range_checks_and_messages_of_the_general_entry(t):
    identity = nativecall.jit(f"{t}({t})", source="def identity(x):\n    return x\n")
    identity(1)
    assert identity._python_entry == "generated"
    info = np.iinfo(t)
    for arg in _edges(t):
        got, want = outcome(lambda: identity(arg)), outcome(lambda: general_call(identity, arg))
        assert got == want, (t, arg)
        if isinstance(arg, int) and not isinstance(arg, bool) and info.min <= arg <= info.max:
            assert got == ("value", repr(arg))
            assert type(identity(arg)) is int


def test_bool_and_float32_parameters_and_results_match_the_general_entry():
    src = "def mix(flag, x, y):\n    return x * 2.0 if flag else y\n"
    mix = nativecall.jit("float32(bool, float32, float64)", source=src)
    neg = nativecall.jit("bool(float64)", source="def neg(x):\n    return x < 0.0\n")
    mix(True, 1.0, 2.0)
    neg(1.0)
    assert mix._python_entry == neg._python_entry == "generated"
    for args in [(True, 1.5, 0.0), (False, 1.5, 0.1), (1, 2.0, 0.0), (None, 1.0, 1.0), (True, 1e300, 0.0),
                 (True, math.inf, 0.0), (False, 0.0, 1e300), (True, 3.4e38, 0.0), (True, math.nan, 0.0)]:
        assert outcome(lambda: mix(*args)) == outcome(lambda: general_call(mix, *args)), args
    assert mix(False, 0.0, 0.1) == float(np.float32(0.1))
    assert neg(-1.0) is True and neg(2.0) is False and neg(-0.0) is False


def test_keywords_and_wrong_arity_are_refused_with_the_general_entrys_messages():
    half(1.0)
    assert half._python_entry == "generated"
    with pytest.raises(TypeError, match=r"^half\(\) takes no keyword arguments, got 'x'; pass the 1 argument"):
        half(x=1.0)
    with pytest.raises(TypeError, match=r"^half\(\) takes 1 argument \(double \(double\)\), got 2$"):
        half(1.0, 2.0)
    with pytest.raises(TypeError, match=r"^half\(\) takes 1 argument \(double \(double\)\), got 0$"):
        half()
    assert half(*[4.0]) == 3.0


def test_results_of_every_kind_leak_no_references():
    nothing = nativecall.jit("void(float64)", source="def nothing(x):\n    pass\n")
    positive = nativecall.jit("bool(int64)", source="def positive(n):\n    return n > 0\n")
    big = nativecall.jit("int64(int64)", source="def big(n):\n    return n * 1000000007\n")
    x = 12345.678
    for f, arg in [(nothing, 1.0), (positive, 3), (positive, -3), (big, 10**9), (half, x)]:
        f(arg)
        assert f._python_entry == "generated"
        before = [sys.getrefcount(o) for o in (None, True, False, x)]
        for _ in range(2000):
            f(arg)
        after = [sys.getrefcount(o) for o in (None, True, False, x)]
        # 3.12 and later: immortal singletons report a constant count.
        assert after == before, f
    assert big(10**9) == 10**9 * 1000000007 and nothing(0.0) is None


TABLE = np.array([1.0, 2.0, 4.0])


@nativecall.jit("float64(int64)", boundscheck=True)
def lookup(i):
    return TABLE[i]


@nativecall.jit("float64(float64)")
def depth(n):
    if n <= 0.0:
        return 0.0
    return 1.0 + depth(n - 1.0)


def test_kernel_errors_are_raised_through_the_generated_entry_and_do_not_linger():
    assert lookup(2) == 4.0
    assert lookup._python_entry == "generated"
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        lookup(3)
    assert lookup(-1) == 4.0 and lookup(0) == 1.0
    assert depth(50.0) == 50.0 and depth._python_entry == "generated"
    with pytest.raises(RecursionError, match="depth: maximum recursion depth exceeded"):
        depth(1e8)
    assert depth(3.0) == 3.0


def test_complex128_parameters_and_results_match_the_general_entry():
    src = "def scaled(z, s):\n    return z.conjugate() * s\n"
    scaled = nativecall.jit("complex128(complex128, float64)", source=src)
    assert scaled(1 + 2j, 2.0) == 2 - 4j and scaled._python_entry == "generated"
    for args in [(3 - 1j, 0.5), (complex(math.inf, -0.0), 1.0), (2, 1.0), (2.5, 1.0), (np.complex128(1 + 1j), 3.0),
                 ("1j", 1.0), (None, 1.0), (1j, 1j)]:
        got, want = outcome(lambda: scaled(*args)), outcome(lambda: general_call(scaled, *args))
        assert got == want, args


def test_pointer_parameters_take_int_addresses_and_none_and_everything_else_as_before():
    same = nativecall.jit("float64 *(float64 *)", source="def same(p):\n    return p\n")
    assert same(12345) == 12345 and same._python_entry == "generated"
    assert same(None) == 0 and same(0) == 0
    buf = np.arange(3.0)
    for arg in [2**63, 2**64 - 1, 2**64, -1, 1.5, True, buf, buf[::2], buf.astype(np.float32), ctypes.c_void_p(5),
                (ctypes.c_double * 2)()]:
        got, want = outcome(lambda: same(arg)), outcome(lambda: general_call(same, arg))
        assert got == want, arg
    assert same(buf) == buf.ctypes.data


def test_signatures_the_entry_does_not_serve_stay_on_the_general_entry():
    conj = nativecall.jit("complex64(complex64)", source="def conj(z):\n    return z.conjugate()\n")
    assert conj(1 + 2j) == 1 - 2j and conj._python_entry == "general"
    released = nativecall.jit("float64(float64)", nogil=True, source="def released(x):\n    return x + 1.0\n")
    assert released(1.0) == 2.0 and released._python_entry == "general" and released.nogil


def test_releasing_the_gil_after_a_call_sends_calls_back_to_the_general_entry():
    later = nativecall.jit("float64(float64)", source="def later(x):\n    return x * 3.0\n")
    assert later(1.0) == 3.0 and later._python_entry == "generated"
    later._release_gil()
    assert later._python_entry == "general" and later.nogil
    assert later(2.0) == 6.0 and later._python_entry == "general"


def test_foreign_functions_and_cython_functions_with_hidden_parameters_take_the_entry(cython_module):
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    fn = libm.erfc
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double]
    erfc = nativecall.native(fn)
    assert erfc(0.5) == math.erfc(0.5) and erfc._python_entry == "generated"
    assert erfc(3) == math.erfc(3)
    # cpdef: a hidden skip-dispatch flag; a default argument: a hidden NULL struct pointer.
    axpy = nativecall.from_cython(cython_module, "axpy")
    power = nativecall.from_cython(cython_module, "power")
    lcount = nativecall.from_cython(cython_module, "lcount")
    assert axpy(2.0, 3.0, 1.0) == 7.0 and axpy._python_entry == "generated"
    assert power(3.0) == 9.0 and power._python_entry == "generated"
    assert lcount(41) == 42 and lcount._python_entry == "generated"
    assert axpy(-1.5, 2.0, 0.25) == general_call(axpy, -1.5, 2.0, 0.25) == -2.75
    assert outcome(lambda: lcount(2**70)) == outcome(lambda: general_call(lcount, 2**70))


def test_foreign_code_skips_the_kernel_error_state_and_a_kernels_own_address_keeps_it():
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    fn = libm.erfc
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double]
    erfc = nativecall.native(fn)
    assert not erfc._records_errors and erfc(0.25) == math.erfc(0.25)
    checked = nativecall.jit("float64(int64)", boundscheck=True, source="def at(i):\n    return TABLE[i]\n",
                             globals={"TABLE": TABLE})  # fmt: skip
    assert checked._records_errors
    for again in (nativecall.native(checked.ctypes), nativecall.native(checked.capsule()),
                  nativecall.NativeCallable.from_address(checked.address, "double (int64_t)", owner=checked)):
        assert again._records_errors, again
        assert again(1) == 2.0
        with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 3"):
            again(5)
        assert again(-3) == 1.0
