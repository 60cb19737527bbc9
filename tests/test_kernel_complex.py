"""Complex numbers in kernels: every result is compared bit for bit with CPython's
(`complex` arithmetic, `cmath`) on random and edge values (docs/semantics.md, "Complex numbers")."""

import cmath
import math
import random

import numpy as np
import pytest
from scipy.special import cython_special

import nativecall
from nativecall import types

INF, NAN = math.inf, math.nan


def same(a, b):
    """Equal parts, NaN equal to NaN, zeros by sign."""

    def part(x, y):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return x == y and math.copysign(1, x) == math.copysign(1, y)

    a, b = complex(a), complex(b)
    return part(a.real, b.real) and part(a.imag, b.imag)


def randoms(n, seed, scale=30.0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.1:
            out.append(complex(rng.choice([0.0, -0.0, 1.0, -1.0]), rng.choice([0.0, -0.0, 2.0, -3.0])))
        elif kind < 0.2:
            out.append(complex(rng.uniform(-1e-310, 1e-310), rng.uniform(-1e-310, 1e-310)))
        elif kind < 0.3:
            out.append(complex(rng.uniform(-1e307, 1e307), rng.uniform(-1e307, 1e307)))
        else:
            out.append(complex(rng.uniform(-scale, scale), rng.uniform(-scale, scale)))
    return out


def kernel(sig, body, **env):
    return nativecall.jit(sig, source=body, globals={"cmath": cmath, "np": np, **env})


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_complex_arithmetic_is_cpythons_bit_for_bit(op):
    k = kernel("complex128(complex128, complex128)", f"def k(a, b):\n    return a {op} b\n")
    values = randoms(300, 1)
    pairs = list(zip(values, values[1:] + values[:1]))
    for a, b in pairs:
        try:
            want = eval(f"a {op} b")
        except ZeroDivisionError:
            continue
        assert same(k(a, b), want), (a, op, b)


def test_complex_division_by_zero_divides_each_part_as_numpy_does():
    k = kernel("complex128(complex128, complex128)", "def k(a, b):\n    return a / b\n")
    with np.errstate(all="ignore"):
        for a in [1 + 1j, 1 + 0j, 0j, -1 + 0j, -1j]:
            for zero in [0j, complex(-0.0, 0.0), complex(0.0, -0.0)]:
                assert same(k(a, zero), np.complex128(a) / np.complex128(zero)), (a, zero)


def test_complex_division_with_infinite_and_nan_parts_follows_smiths_method():
    k = kernel("complex128(complex128, complex128)", "def k(a, b):\n    return a / b\n")
    specials = [complex(x, y) for x in (INF, -INF, NAN, 1.0, 0.0) for y in (INF, NAN, -2.0, 0.0)]
    for a in specials:
        for b in specials:
            if b == 0:
                continue
            assert same(k(a, b), a / b), (a, b)


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, -1, -2, 5, 17, 100, 101, 0.5, -1.5, 2.5j, 1 + 1j])
def test_complex_powers_are_cpythons_for_whole_and_other_exponents(exponent):
    k = kernel("complex128(complex128, complex128)", "def k(a, b):\n    return a ** b\n")
    lit = kernel("complex128(complex128)", f"def k(a):\n    return a ** {exponent!r}\n")
    for z in randoms(200, 2, scale=3.0):
        try:
            want = z**exponent
        except (ZeroDivisionError, OverflowError):
            continue
        assert same(k(z, exponent), want), (z, exponent)
        assert same(lit(z), want), (z, exponent)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh"])
def test_cmath_functions_are_cpythons_bit_for_bit_on_finite_values(name):
    k = kernel("complex128(complex128)", f"def k(z):\n    return cmath.{name}(z)\n")
    fn = getattr(cmath, name)
    checked = 0
    for z in randoms(600, 3):
        try:
            want = fn(z)
        except (ValueError, OverflowError):
            continue
        assert same(k(z), want), (name, z)
        checked += 1
    assert checked > 400


def identical(a, b):
    """The same double, the sign of a zero included; any NaN is a NaN (its sign is left
    open, as Python leaves it)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# Every class of a part CPython's special-value tables tell apart (-inf, negative, -0, +0,
# positive, +inf, NaN), with finite values near the overflow thresholds the formulas use.
SPECIAL_PARTS = (INF, -INF, NAN, -NAN, 0.0, -0.0, 2.0, -2.0, 0.5, -3.5, 1e-300, -1e300, 710.0, -710.0, 1e308)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "rect"])
def test_cmath_functions_of_infinities_and_nans_are_cpythons_signs_of_zeros_included(name):
    if name == "rect":
        k = kernel("complex128(float64, float64)", "def k(r, phi):\n    return cmath.rect(r, phi)\n")
        fn, call = cmath.rect, lambda f, z: f(z.real, z.imag)
    else:
        k = kernel("complex128(complex128)", f"def k(z):\n    return cmath.{name}(z)\n")
        fn, call = getattr(cmath, name), lambda f, z: f(z)
    checked = 0
    for z in (complex(x, y) for x in SPECIAL_PARTS for y in SPECIAL_PARTS):
        if math.isfinite(z.real) and math.isfinite(z.imag):
            continue
        try:
            want = call(fn, z)
        except (ValueError, OverflowError):
            continue
        got = call(k, z)
        assert identical(got.real, want.real) and identical(got.imag, want.imag), (name, z, got, want)
        checked += 1
    assert checked > 60


def test_the_differential_tests_exp_of_minus_infinity_plus_nan_j_is_cpythons_zero():
    # Found by the differential test at scale 25 (seed 777003): cmath.exp(-inf + nan j) is
    # CPython's 0 + 0j, whose phase is 0.0; the C library's cexp gave a zero of the other sign.
    src = (
        "def k(x, b):\n"
        "    return cmath.phase(cmath.exp(complex(0.1, x).conjugate() - complex(x, x) / complex(b, 2**53)))\n"
    )
    k = kernel("float64(float64, float64)", src)
    x, b = INF, 485425581229855606.0
    want = cmath.phase(cmath.exp(complex(0.1, x).conjugate() - complex(x, x) / complex(b, 2**53)))
    assert identical(k(x, b), want) and math.copysign(1.0, want) == 1.0


def test_complex_values_mix_with_ints_and_floats_as_python_promotes():
    k = kernel(
        "complex128(complex128, float64, int64)",
        "def k(z, x, n):\n    return (z + x) * n - x / z + 2 * z + 1j * x + complex(x, n) - n\n",
    )
    for z, x, n in [(1 + 2j, 0.5, 3), (-0.0 - 1.0j, -0.0, 0), (INF + 1j, 2.0, -1), (3 - 4j, 1e300, 7)]:
        assert same(k(z, x, n), (z + x) * n - x / z + 2 * z + 1j * x + complex(x, n) - n), (z, x, n)


def test_parts_conjugate_abs_and_negation_are_pythons():
    k = kernel(
        "float64(complex128)",
        "def k(z):\n    w = -z.conjugate()\n    return abs(z) * 10.0 + w.real + w.imag * 3.0 + abs(w.imag)\n",
    )
    for z in randoms(200, 4, scale=5.0):
        w = -z.conjugate()
        assert same(k(z), abs(z) * 10.0 + w.real + w.imag * 3.0 + abs(w.imag)), z
    a = kernel("float64(complex128)", "def k(z):\n    return abs(z)\n")
    assert a(complex(INF, NAN)) == INF and a(complex(NAN, -INF)) == INF and math.isnan(a(complex(NAN, 1.0)))
    assert a(3e-320 + 4e-320j) == abs(3e-320 + 4e-320j)


def test_complex_equality_compares_parts_and_ints_exactly():
    eq = kernel("bool(complex128, complex128)", "def k(a, b):\n    return a == b\n")
    ne = kernel("bool(complex128, int64)", "def k(a, n):\n    return a != n\n")
    assert eq(1 + 2j, 1 + 2j) and not eq(1 + 2j, 1 - 2j) and not eq(complex(NAN, 0), complex(NAN, 0))
    assert eq(0j, complex(-0.0, -0.0))
    assert not ne(complex(2**53, 0), 2**53) and ne(complex(2**53, 0), 2**53 + 1) and ne(3 + 1j, 3)
    truth = kernel("int64(complex128)", "def k(z):\n    if z:\n        return 1\n    return 0 if not z else 2\n")
    assert [truth(z) for z in (0j, 1j, complex(NAN, 0), complex(-0.0, 0.0))] == [0, 1, 1, 0]


def test_cmath_phase_rect_and_the_tests_are_cpythons():
    k = kernel(
        "float64(complex128, float64, float64)",
        "def k(z, r, phi):\n"
        "    w = cmath.rect(r, phi)\n"
        "    return cmath.phase(z) + w.real * 3.0 + w.imag * 5.0\n",
    )
    rng = random.Random(5)
    for z in randoms(200, 6):
        r, phi = rng.uniform(-10, 10), rng.uniform(-7, 7)
        w = cmath.rect(r, phi)
        assert same(k(z, r, phi), cmath.phase(z) + w.real * 3.0 + w.imag * 5.0), (z, r, phi)
    tests = kernel(
        "int64(complex128)",
        "def k(z):\n    return cmath.isnan(z) * 1 + cmath.isinf(z) * 2 + cmath.isfinite(z) * 4\n",
    )
    for z in [0j, complex(NAN, 1), complex(1, -INF), complex(INF, NAN), 1e308 + 1e308j]:
        assert tests(z) == cmath.isnan(z) * 1 + cmath.isinf(z) * 2 + cmath.isfinite(z) * 4, z


def test_numpy_functions_take_complex_numbers_and_stay_real_on_reals():
    k = kernel(
        "complex128(complex128, float64)",
        "def k(z, x):\n"
        "    return np.exp(z) + np.sqrt(x) + np.abs(z) + np.real(z) * 2 + np.imag(z) * 3 + np.conj(z) * 1j "
        "+ np.angle(z) + np.log(x)\n",
    )
    for z, x in [(1 + 2j, 4.0), (-3 - 0.5j, 0.25)]:
        want = cmath.exp(z) + math.sqrt(x) + abs(z) + z.real * 2 + z.imag * 3 + z.conjugate() * 1j
        want = want + cmath.phase(z) + math.log(x)
        assert same(k(z, x), want)
    real = kernel("float64(float64)", "def k(x):\n    return np.sqrt(x) + np.angle(x)\n")
    assert same(real(-4.0), math.nan) and real(4.0) == 2.0


def test_complex_arrays_are_indexed_stored_and_updated_in_place():
    k = kernel(
        "complex128(complex128[:], complex64[:])",
        "def k(a, b):\n"
        "    s = 0j\n"
        "    for i in range(len(a)):\n"
        "        s += a[i] * 1j\n"
        "        b[i] = a[i] + 1\n"
        "        a[i] *= 2\n"
        "    return s\n",
    )
    a = np.array([1 + 2j, -3.5 + 0.25j, 1e-3j])
    b = np.zeros(3, np.complex64)
    orig = a.copy()
    s = sum((x * 1j for x in orig), 0j)
    assert same(k(a, b), s)
    assert a.tolist() == (orig * 2).tolist()
    assert b.tolist() == (orig + 1).astype(np.complex64).tolist()


def test_complex64_parameters_and_results_cross_the_c_abi():
    k = nativecall.jit("complex64(complex64, float32)", source="def k(z, x):\n    return z * x + 1j\n")
    got = k(np.complex64(1.5 - 2j), np.float32(2.0))
    assert got == np.complex64(3 - 3j)
    assert str(k.signature) == "float _Complex (float _Complex, float)"


def test_a_complex_local_merges_branches_and_loops():
    k = kernel(
        "complex128(int64)",
        "def k(n):\n"
        "    z = 1 + 0j\n"
        "    for i in range(n):\n"
        "        z = z * (0.5 + 0.5j) if i % 2 else z + 1\n"
        "    return z\n",
    )
    z = 1 + 0j
    for i in range(7):
        z = z * (0.5 + 0.5j) if i % 2 else z + 1
    assert same(k(7), z)


def test_cython_special_complex_functions_are_called_with_complex_arguments():
    k = kernel(
        "complex128(complex128, float64)",
        "def k(z, x):\n    return cython_special.wofz(z) + cython_special.erf(z) + cython_special.erf(x)\n",
        cython_special=cython_special,
    )
    for z, x in [(1 + 2j, 0.5), (-0.3 + 0.1j, -2.0)]:
        want = cython_special.wofz(z) + cython_special.erf(z) + cython_special.erf(x)
        assert same(k(z, x), want)
    sph = kernel(
        "complex128(int64, complex128)",
        "def k(n, z):\n    return cython_special.spherical_jn(n, z)\n",
        cython_special=cython_special,
    )
    assert same(sph(2, 1.5 + 0.5j), cython_special.spherical_jn(2, 1.5 + 0.5j))


def test_complex_signatures_spelled_with_nativecall_types():
    @nativecall.jit(types.complex128(types.complex128, types.float64))
    def scale(z, x):
        return z * x

    assert scale(1 + 1j, 2.0) == 2 + 2j


def test_complex_kernels_without_a_signature_dispatch_on_complex_arguments():
    @nativecall.jit
    def twice(z):
        return z + z

    assert twice(1.5 - 2j) == 3 - 4j
    assert twice(2.0) == 4.0


def test_complex_numbers_have_no_order_floor_division_or_conversion_to_float():
    for body, words in [
        ("def k(a, b):\n    return a < b\n", "cannot compare complex128 with complex128"),
        ("def k(a, b):\n    return a // b\n", "'//' is not defined for complex128"),
        ("def k(a, b):\n    return float(a)\n", "float() needs a number, got complex128"),
        ("def k(a, b):\n    return math.exp(a)\n", "cmath.exp() takes complex ones"),
    ]:
        with pytest.raises(nativecall.TypingError, match=words.replace("(", r"\(").replace(")", r"\)")):
            nativecall.jit("float64(complex128, complex128)", source=body, globals={"math": math})


def test_and_or_with_a_complex_operand_is_refused_at_the_operand():
    with pytest.raises(nativecall.UnsupportedError, match="'and'/'or' with a complex operand"):
        nativecall.jit("bool(complex128, float64)", source="def k(z, x):\n    return bool(x and z)\n")


def test_complex_divided_by_a_real_number_is_cpythons_division_by_complex_of_it():
    k = kernel("complex128(complex128, float64)", "def k(z, x):\n    return z / x\n")
    n = kernel("complex128(complex128, int64)", "def k(z, n):\n    return z / n\n")
    reals = [1.5, -2.0, 1e-310, -1e308, INF, -INF, NAN, 3.0, -0.5]
    zs = [complex(a, b) for a in (0.0, -0.0, 1.0, -2.5, INF, NAN, 1e308) for b in (0.0, -0.0, 3.0, -INF, NAN)]
    for z in zs + randoms(200, 9):
        for x in reals:
            assert same(k(z, x), z / complex(x, 0.0)), (z, x)
        for m in (1, -3, 2**53 + 1):
            assert same(n(z, m), z / m), (z, m)
    with np.errstate(all="ignore"):
        for z in zs:
            for zero in (0.0, -0.0):
                assert same(k(z, zero), np.complex128(z) / np.complex128(complex(zero, 0.0))), (z, zero)
