"""`x ** n` with a constant exponent compiles to multiplications (and `x ** 0.5` to a
square root), correctly rounded, with CPython's answers on zeros, infinities and NaNs."""

import ctypes
import math
import random
import struct
from fractions import Fraction

import pytest

import nativecall

_libm = ctypes.CDLL("libm.so.6")
_libm.pow.restype = ctypes.c_double
_libm.pow.argtypes = [ctypes.c_double, ctypes.c_double]


def bits(x):
    return struct.pack("<d", x)


@nativecall.jit("float64(float64)")
def square(x):
    return x**2


@nativecall.jit("float64(float64)")
def cube(x):
    return x**3


@nativecall.jit("float64(float64)")
def fourth(x):
    return x**4


@nativecall.jit("float64(float64)")
def inverse_cube(x):
    return x**-3


@nativecall.jit("float64(float64)")
def reciprocal(x):
    return x**-1


@nativecall.jit("float64(float64)")
def inverse_square(x):
    return x**-2


@nativecall.jit("float64(float64)")
def zeroth(x):
    return x**0


@nativecall.jit("float64(float64)")
def first(x):
    return x**1.0


@nativecall.jit("float64(float64)")
def root(x):
    return x**0.5


POWERS = [(square, 2), (cube, 3), (fourth, 4), (inverse_cube, -3), (reciprocal, -1), (inverse_square, -2), (zeroth, 0),
          (first, 1)]  # fmt: skip


def correctly_rounded(x, n):
    return float(Fraction(x) ** n)


def random_floats(count, seed, lo=-60, hi=60):
    rng = random.Random(seed)
    return [rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.0) * 2.0 ** rng.randint(lo, hi) for _ in range(count)]


def expected_special(x, n):
    """CPython's `x ** n`, or C's pow where CPython raises (as docs/semantics.md says)."""
    try:
        return float(x) ** n
    except (ZeroDivisionError, OverflowError):
        return _libm.pow(x, float(n))


@pytest.mark.parametrize("kernel, n", POWERS, ids=[f"x**{n}" for _, n in POWERS])
def test_a_float_to_a_small_constant_integer_power_is_the_correctly_rounded_power(kernel, n):
    wrong = [(x, kernel(x), correctly_rounded(x, n)) for x in random_floats(20000, n)
             if bits(kernel(x)) != bits(correctly_rounded(x, n))]  # fmt: skip
    assert wrong == []


@pytest.mark.parametrize("kernel, n", POWERS, ids=[f"x**{n}" for _, n in POWERS])
def test_a_constant_power_of_a_zero_infinity_nan_or_extreme_float_is_cpythons(kernel, n):
    specials = [0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), float("nan"), -float("nan"), 5e-324, -5e-324,
                1e-300, -1e-300, 1e300, -1e300, 1.7976931348623157e308, 2.0**-1000, 3.0 * 2.0**400]  # fmt: skip
    for x in specials:
        want, got = expected_special(x, n), kernel(x)
        assert bits(got) == bits(want), (x, n, got, want)


def test_a_float_to_the_power_one_half_is_its_square_root_with_cpythons_zeros_and_infinities():
    for x in random_floats(20000, 6, -300, 300):
        assert bits(root(abs(x))) == bits(math.sqrt(abs(x)))  # sqrt is correctly rounded
    assert bits(root(-0.0)) == bits(0.0)  # CPython: (-0.0) ** 0.5 == 0.0, sqrt gives -0.0
    assert root(float("-inf")) == float("inf")  # CPython: inf, sqrt gives nan
    assert root(float("inf")) == float("inf")
    nan = float("nan")
    assert bits(root(nan)) == bits(nan) and bits(root(-nan)) == bits(-nan)  # a NaN base is returned as it is
    assert root(-4.0) != root(-4.0)  # CPython gives a complex number; kernels give C's nan


@nativecall.jit("int64(int64)")
def int_cube(x):
    return x**3


@nativecall.jit("int64(int64)")
def int_tenth(x):
    return x**10


@nativecall.jit("int64(int64)")
def int_zeroth(x):
    return x**0


@nativecall.jit("uint8(uint8)")
def byte_square(x):
    return x**2


def wrap(v, bits_=64, signed=True):
    v %= 2**bits_
    return v - 2**bits_ if signed and v >= 2 ** (bits_ - 1) else v


def test_an_int_to_a_small_constant_power_wraps_like_repeated_multiplication():
    rng = random.Random(7)
    values = [0, 1, -1, 2, -3, 7, 2**21, -(2**21) - 1, 2**63 - 1, -(2**63)] + [rng.randint(-(2**63), 2**63 - 1)
                                                                               for _ in range(200)]  # fmt: skip
    for x in values:
        assert int_cube(x) == wrap(x**3)
        assert int_tenth(x) == wrap(x**10)
        assert int_zeroth(x) == 1
    for x in range(256):
        assert byte_square(x) == wrap(x**2, 8, False)


def test_constant_powers_call_no_pow_function():
    for kernel in [square, cube, fourth, inverse_cube, reciprocal, inverse_square, root, int_cube, int_tenth, byte_square]:
        ir = kernel.inspect_ir()
        assert "ipow" not in ir
        # The float powers keep C's pow only for bases far outside the normal range.
        assert ir.count("call_indirect") <= 1, ir
