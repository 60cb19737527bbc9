"""Kernel arithmetic where a float64 shortcut would round: int / int, int vs float
comparisons, math.floor/ceil/trunc of ints, math.hypot and NaN signs after pow.
CPython is the reference; every result must be bit-identical to its. Where CPython
releases differ (hypot's algorithm in 3.12, the NaN of atan2 and hypot in 3.10), the
reference is the interpreter running the tests."""

import linecache
import math
import random
import struct
import sys

import numpy as np
import pytest

import nativecall

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


def define(src, tag):
    """Run generated kernel source from a named in-memory file (the frontend reads it back)."""
    filename = f"<exact arithmetic {tag}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns = {"math": math}
    exec(compile(src, filename, "exec"), ns)
    return ns


def bits(x):
    return struct.pack("<d", x)


def random_int64s(rng, n):
    """Ints of every magnitude up to int64's, most of them beyond 2**53."""
    out = [INT64_MIN, INT64_MAX, INT64_MIN + 1, 2**53, 2**53 + 1, -(2**53) - 1, 0, 1, -1]
    while len(out) < n:
        v = rng.getrandbits(rng.randint(1, 63))
        out.append(-v if rng.random() < 0.5 else v)
    return out


@nativecall.jit("float64(int64, int64)")
def int_div(a, b):
    return a / b


@nativecall.jit("float64(uint64, uint64)")
def uint_div(a, b):
    return a / b


@nativecall.jit("float64(int32, int64)")
def mixed_width_div(a, b):
    return a / b


@nativecall.jit("int64(int64, int64)")
def floor_of_quotient(a, b):
    return math.floor(a / b)


def test_int_division_is_correctly_rounded_beyond_two_to_the_53():
    assert floor_of_quotient(-9007199254740994, 9007199254740993) == -1
    rng = random.Random(9)
    xs = random_int64s(rng, 3000)
    pairs = [(a, b) for a, b in zip(xs, reversed(xs)) if b != 0]
    pairs += [(INT64_MIN, -1), (INT64_MIN, INT64_MAX), (INT64_MAX, 3), (2**53 + 1, 1), (-(2**53) - 1, 1)]
    pairs += [(2**62 + 2**10 + 1, 2**11), (3 * 2**61 + 1, 3)]  # halfway cases, rounding direction from the sticky bit
    wrong = [(a, b, int_div(a, b), a / b) for a, b in pairs if bits(int_div(a, b)) != bits(a / b)]
    assert not wrong, wrong[:5]


def test_uint64_division_is_correctly_rounded():
    rng = random.Random(10)
    pairs = [(UINT64_MAX, 1), (UINT64_MAX, 3), (2**64 - 2**11 - 1, 1), (2**63 + 1, 2**63 - 1)]
    pairs += [(rng.getrandbits(64), rng.getrandbits(rng.randint(1, 64)) or 1) for _ in range(2000)]
    wrong = [(a, b, uint_div(a, b), a / b) for a, b in pairs if bits(uint_div(a, b)) != bits(a / b)]
    assert not wrong, wrong[:5]


def test_int_division_of_zero_and_narrow_ints_keeps_python_signs():
    assert bits(int_div(0, -5)) == bits(-0.0) and bits(int_div(0, 2**60)) == bits(0.0)
    assert bits(int_div(0, -(2**60))) == bits(-0.0)
    assert mixed_width_div(-(2**31), 2**62 + 1) == -(2**31) / (2**62 + 1)
    assert mixed_width_div(7, -(2**60) - 3) == 7 / (-(2**60) - 3)


def test_int_division_by_zero_still_gives_ieee_values():
    assert int_div(5, 0) == math.inf and int_div(-(2**62), 0) == -math.inf
    assert math.isnan(int_div(0, 0)) and uint_div(UINT64_MAX, 0) == math.inf


def _compare_kernels(left, right):
    src = "".join(
        f"def {name}(a, b):\n    return a {op} b\n"
        for name, op in [("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="), ("ne", "!=")]
    )
    ns = define(src, f"{left} {right}")
    sig = f"bool({left}, {right})"
    return {op: (nativecall.jit(sig)(ns[name]), ns[name]) for name, op in [
        ("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="), ("ne", "!=")]}  # fmt: skip


def _float_neighbours(values):
    out = [math.nan, -math.nan, math.inf, -math.inf, 0.0, -0.0, 0.5, -0.5]
    for v in values:
        f = float(v)
        out += [f, math.nextafter(f, math.inf), math.nextafter(f, -math.inf)]
    return out


def _mismatches(kernels, pairs):
    return [
        (a, op, b, k(a, b), py(a, b))
        for op, (k, py) in kernels.items()
        for a, b in pairs
        if k(a, b) is not py(a, b)
    ]


def test_int64_compares_with_float64_exactly():
    ints = [INT64_MAX, INT64_MAX - 1, INT64_MIN, INT64_MIN + 1, 2**53, 2**53 + 1, -(2**53) - 1, 2**62 + 1, 0, 1, -1, 7]
    floats = _float_neighbours(ints) + [2.0**63, -(2.0**63), 2.0**64, 1e300, -1e300, 7.5, -7.5]
    assert _compare_kernels("int64", "float64")[">="][0](INT64_MAX, float(INT64_MAX)) is False
    assert not _mismatches(_compare_kernels("int64", "float64"), [(i, x) for i in ints for x in floats])
    assert not _mismatches(_compare_kernels("float64", "int64"), [(x, i) for i in ints for x in floats])


def test_uint64_and_float32_compare_with_the_other_type_exactly():
    ints = [UINT64_MAX, UINT64_MAX - 1, 2**63, 2**63 - 1, 2**53 + 1, 2**64 - 2**11, 0, 1]
    floats = _float_neighbours(ints) + [2.0**64, -1.0, -(2.0**63)]
    assert not _mismatches(_compare_kernels("uint64", "float64"), [(i, x) for i in ints for x in floats])
    assert not _mismatches(_compare_kernels("float64", "uint64"), [(x, i) for i in ints for x in floats])
    f32s = [float(np.float32(x)) for x in [2.0**24, 2.0**40 + 2.0**17, 3.5, -(2.0**63), 2.0**63, 1e30]] + [math.nan]
    ints = [2**24 + 1, 2**40 + 2**17 + 1, 2**40 + 2**17, 3, 4, INT64_MIN, INT64_MAX, 0]
    assert not _mismatches(_compare_kernels("int64", "float32"), [(i, x) for i in ints for x in f32s])


def test_signed_and_uint64_ints_compare_by_value():
    signed = [INT64_MIN, -1, 0, 1, INT64_MAX]
    unsigned = [0, 1, 2**63 - 1, 2**63, UINT64_MAX]
    for left, right, pairs in [
        ("int64", "uint64", [(s, u) for s in signed for u in unsigned]),
        ("uint64", "int64", [(u, s) for s in signed for u in unsigned]),
        ("int32", "uint64", [(s, u) for s in [-(2**31), -1, 0, 7] for u in unsigned]),
    ]:
        assert not _mismatches(_compare_kernels(left, right), pairs), (left, right)


@nativecall.jit("bool(int64, float64)")
def chained(i, x):
    return x < i <= x + 2.0


@nativecall.jit("int64(int64, float64)")
def branching(i, x):
    if i > x:
        return 1
    elif i < x:
        return -1
    return 0


def test_chained_and_branching_comparisons_of_ints_and_floats_are_exact():
    assert chained(2**53 + 1, float(2**53)) is True
    assert [branching(i, 2.0**63) for i in (INT64_MAX, INT64_MIN)] == [-1, -1]
    assert [branching(2**53 + 1, x) for x in (2.0**53, 2.0**53 + 2, 2.0**53 + 1)] == [1, -1, 1]


@nativecall.jit("int64(int64)")
def floor_i(a):
    return math.floor(a)


@nativecall.jit("int64(int64)")
def ceil_i(a):
    return math.ceil(a)


@nativecall.jit("int64(int64)")
def trunc_i(a):
    return math.trunc(a)


@nativecall.jit("uint64(uint64)")
def floor_u(a):
    return math.floor(a)


@pytest.mark.parametrize("fn", [floor_i, ceil_i, trunc_i])
@pytest.mark.parametrize("a", [2**53 + 1, -(2**53) - 1, INT64_MAX, INT64_MIN, 2**62 + 3, -7, 0])
def test_floor_ceil_and_trunc_of_an_int_are_the_int(fn, a):
    assert fn(a) == a


def test_floor_of_a_uint64_keeps_values_past_int64():
    assert floor_u(UINT64_MAX) == UINT64_MAX
    assert floor_u.inspect_types()["return"] == "uint64"


@nativecall.jit("void(float64[:], float64[:], float64[:])")
def hypot_all(x, y, out):
    for i in range(len(x)):
        out[i] = math.hypot(x[i], y[i])


def _random_doubles(rng, n):
    """Doubles of every exponent (subnormals included), both signs, and the IEEE specials."""
    out = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]
    while len(out) < n:
        r = rng.random()
        if r < 0.6:
            out.append(rng.uniform(-10, 10) * 2.0 ** rng.randint(-60, 60))
        elif r < 0.9:
            out.append(struct.unpack("<d", struct.pack("<Q", rng.getrandbits(63)))[0] * rng.choice([1, -1]))
        else:
            out.append(float(rng.randint(-(10**6), 10**6)))
    return [v for v in out if not math.isnan(v)] + [math.nan]


def test_hypot_is_bit_identical_to_cpython():
    rng = random.Random(11)
    x = _random_doubles(rng, 60000)
    y = _random_doubles(rng, 60000)
    rng.shuffle(y)
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    # Same-scale pairs are where rounding of the sum of squares differs most.
    x += [rng.uniform(0, 1) for _ in range(20000)]
    y += [rng.uniform(0, 1) for _ in range(20000)]
    # A subnormal largest operand: where CPython 3.12 changed the algorithm.
    x += [rng.getrandbits(52) * 5e-324 for _ in range(20000)]
    y += [rng.getrandbits(rng.randint(1, 52)) * 5e-324 * rng.choice([1, -1]) for _ in range(20000)]
    out = np.empty(len(x))
    hypot_all(np.array(x), np.array(y), out)
    wrong = [(a, b, r, math.hypot(a, b)) for a, b, r in zip(x, y, out.tolist()) if bits(r) != bits(math.hypot(a, b))]
    assert not wrong, (len(wrong), wrong[:5])


@nativecall.jit("float64(float64, float64)")
def hypot2(x, y):
    return math.hypot(x, y)


def test_hypot_of_subnormals_is_this_interpreter_s_release():
    # 3.12 squares with fma and scales subnormals up first; 3.10 and 3.11 divide by the larger.
    x, y = 3.1098219472394e-309, 5.32878654075366e-309
    expected = 6.169842667398356e-309 if sys.version_info < (3, 12) else 6.16984266739835e-309
    assert math.hypot(x, y) == expected
    assert bits(hypot2(x, y)) == bits(expected)


NEG_NAN, POS_NAN = math.copysign(math.nan, -1.0), math.copysign(math.nan, 1.0)


@nativecall.jit("float64(float64, float64)")
def atan2(y, x):
    return math.atan2(y, x)


@pytest.mark.parametrize("fn", [atan2, hypot2], ids=["atan2", "hypot"])
@pytest.mark.parametrize("a, b", [(NEG_NAN, 1.0), (1.0, POS_NAN), (NEG_NAN, NEG_NAN), (-0.0, POS_NAN)])
def test_atan2_and_hypot_of_a_nan_give_this_interpreter_s_nan(fn, a, b):
    # CPython 3.10's NaN here is inf * 0., the hardware's (negative on x86); later ones give +nan.
    reference = math.atan2 if fn is atan2 else math.hypot
    assert math.isnan(fn(a, b)) and bits(fn(a, b)) == bits(reference(a, b))


@nativecall.jit("float64(float64, float64)")
def power(x, y):
    return x**y


@nativecall.jit("float64(float64, float64)")
def math_pow(x, y):
    return math.pow(x, y)


@pytest.mark.parametrize("fn", [power, math_pow], ids=["operator", "math.pow"])
def test_pow_of_a_nan_keeps_python_s_nan_and_its_sign(fn):
    reference = (lambda x, y: x**y) if fn is power else math.pow
    cases = [(a, b) for a in [NEG_NAN, POS_NAN, 2.0, 1.0, -1.0, 0.5] for b in [NEG_NAN, POS_NAN, 1.0, 0.0, 3.0, -2.0]]
    assert bits(fn(NEG_NAN, 1.0)) == bits(NEG_NAN)
    wrong = [(a, b, fn(a, b), reference(a, b)) for a, b in cases if bits(fn(a, b)) != bits(reference(a, b))]
    assert not wrong, wrong


ONE_ARG = ["exp", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
           "cosh", "tanh", "erf", "erfc", "sqrt", "fabs", "gamma", "lgamma"]  # fmt: skip
TWO_ARGS = ["pow", "atan2", "fmod", "copysign", "hypot", "log"]


def test_other_math_functions_are_bit_identical_to_cpython_where_it_returns_a_value():
    rng = random.Random(12)
    xs = _random_doubles(rng, 3000) + [rng.uniform(-1, 1) for _ in range(500)] + [NEG_NAN]
    xs += [rng.uniform(-200, 200) for _ in range(500)]  # gamma's range, past 140 where it splits pow
    ys = xs[:]
    rng.shuffle(ys)
    src = "".join(f"def f_{f}(x, y):\n    return math.{f}(x)\n" for f in ONE_ARG)
    src += "".join(f"def g_{f}(x, y):\n    return math.{f}(x, y)\n" for f in TWO_ARGS)
    ns = define(src, "math")
    wrong = []
    for name in [f"f_{f}" for f in ONE_ARG] + [f"g_{f}" for f in TWO_ARGS]:
        kernel = nativecall.jit("float64(float64, float64)")(ns[name])
        for x, y in zip(xs, ys):
            try:
                want = ns[name](x, y)
            except (ValueError, OverflowError, ZeroDivisionError):
                continue  # documented: kernels give the IEEE value where CPython raises
            if bits(kernel(x, y)) != bits(want):
                wrong.append((name, x, y, kernel(x, y), want))
    assert not wrong, (len(wrong), wrong[:8])
