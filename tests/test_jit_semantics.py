"""Each rule of docs/semantics.md, checked against the compiled kernels."""

import math

import pytest

import nativecall

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def wrap64(v):
    return (v + 2**63) % 2**64 - 2**63


@pytest.fixture(scope="module")
def k():
    class K:
        pass

    ns = K()

    @nativecall.jit("int64(int64, int64)")
    def add(a, b):
        return a + b

    @nativecall.jit("int64(int64, int64)")
    def mul(a, b):
        return a * b

    @nativecall.jit("int64(int64, int64)")
    def floordiv(a, b):
        return a // b

    @nativecall.jit("int64(int64, int64)")
    def mod(a, b):
        return a % b

    @nativecall.jit("float64(int64, int64)")
    def truediv(a, b):
        return a / b

    @nativecall.jit("int64(int64, int64)")
    def ipow(a, b):
        return a**b

    @nativecall.jit("int64(int64, int64)")
    def shl(a, b):
        return a << b

    @nativecall.jit("int64(int64, int64)")
    def shr(a, b):
        return a >> b

    @nativecall.jit("float64(float64, float64)")
    def fdiv(a, b):
        return a / b

    @nativecall.jit("float64(float64, float64)")
    def ffloordiv(a, b):
        return a // b

    @nativecall.jit("float64(float64, float64)")
    def fmod(a, b):
        return a % b

    @nativecall.jit("float64(float64, float64)")
    def fpow(a, b):
        return a**b

    @nativecall.jit("int64(int64)")
    def iabs(a):
        return abs(a)

    @nativecall.jit("int8(int8, int8)")
    def add8(a, b):
        return a + b

    @nativecall.jit("int32(int32, int32)")
    def floordiv32(a, b):
        return a // b

    @nativecall.jit("uint8(uint8, uint8)")
    def sub_u8(a, b):
        return a - b

    for name, value in list(locals().items()):
        if isinstance(value, nativecall.Kernel):
            setattr(ns, name, value)
    return ns


def test_integer_overflow_wraps(k):
    assert k.add(INT64_MAX, 1) == INT64_MIN
    assert k.mul(2**40, 2**40) == wrap64(2**80)
    assert k.add8(100, 100) == -56
    assert k.sub_u8(3, 5) == 254
    assert k.iabs(INT64_MIN) == INT64_MIN


@pytest.mark.parametrize("a", [7, -7, 0, 1, -1, 123456789, -987654321, INT64_MAX, INT64_MIN + 1])
@pytest.mark.parametrize("b", [2, -2, 3, -3, 1, -1, 10, -10, 2**40])
def test_floor_division_and_modulo_follow_python(k, a, b):
    assert k.floordiv(a, b) == a // b
    assert k.mod(a, b) == a % b


def test_integer_division_by_zero_never_traps(k):
    assert k.floordiv(7, 0) == 0 and k.floordiv(-7, 0) == 0
    assert k.mod(7, 0) == 0
    assert k.floordiv(INT64_MIN, -1) == INT64_MIN
    assert k.mod(INT64_MIN, -1) == 0
    assert k.floordiv32(-(2**31), -1) == -(2**31)
    assert k.floordiv32(5, 0) == 0
    assert k.truediv(7, 2) == 3.5
    assert math.isinf(k.truediv(1, 0)) and math.isnan(k.truediv(0, 0))


def test_float_division_by_zero_gives_ieee_values(k):
    assert k.fdiv(1.0, 0.0) == math.inf
    assert k.fdiv(-1.0, 0.0) == -math.inf
    assert math.isnan(k.fdiv(0.0, 0.0))
    assert k.ffloordiv(1.0, 0.0) == math.inf
    assert math.isnan(k.fmod(1.0, 0.0))


@pytest.mark.parametrize("a", [7.5, -7.5, 0.0, -0.0, 1e300, -3.25, 5e-324, math.inf])
@pytest.mark.parametrize("b", [2.0, -2.0, 0.3, -0.3, 1e-300, 7.0, math.inf, -math.inf])
def test_float_floor_division_and_modulo_are_bit_identical_to_cpython(k, a, b):
    for mine, theirs in [(k.ffloordiv(a, b), a // b), (k.fmod(a, b), a % b)]:
        if math.isnan(theirs):
            assert math.isnan(mine)
        else:
            assert mine == theirs and math.copysign(1, mine) == math.copysign(1, theirs)


def test_integer_powers(k):
    for a, b in [(3, 4), (-3, 3), (2, 62), (2, 63), (2, 64), (0, 0), (7, 0), (-1, 5)]:
        assert k.ipow(a, b) == wrap64(a**b)
    assert k.ipow(2, -1) == 0 and k.ipow(1, -5) == 1 and k.ipow(-1, -3) == -1 and k.ipow(-1, -2) == 1
    assert k.ipow(0, -1) == 0
    assert k.fpow(2.0, 0.5) == 2.0**0.5
    assert k.fpow(2.0, -1.0) == 0.5
    assert k.fpow(0.0, -1.0) == math.inf  # Python raises ZeroDivisionError
    assert math.isnan(k.fpow(-8.0, 1 / 3))  # Python gives a complex number


def test_shifts_outside_the_width_are_defined(k):
    assert k.shl(1, 3) == 8 and k.shr(-16, 2) == -4
    assert k.shl(1, 64) == 0 and k.shl(1, 100) == 0 and k.shl(1, -1) == 0
    assert k.shr(-5, 64) == -1 and k.shr(5, 64) == 0


def test_math_domain_errors_give_ieee_values():
    @nativecall.jit("float64(float64)")
    def sq(x):
        return math.sqrt(x)

    @nativecall.jit("float64(float64)")
    def lg(x):
        return math.log(x)

    @nativecall.jit("int64(float64)")
    def fl(x):
        return math.floor(x)

    @nativecall.jit("int64(float64)")
    def to_int(x):
        return int(x)

    assert math.isnan(sq(-1.0)) and sq(2.0) == math.sqrt(2.0)
    assert math.isnan(lg(-1.0)) and lg(0.0) == -math.inf and lg(10.0) == math.log(10.0)
    assert fl(-2.5) == -3 and fl(2.5) == 2
    assert fl(math.nan) == 0 and fl(math.inf) == INT64_MAX and fl(-math.inf) == INT64_MIN
    assert to_int(-2.9) == -2 and to_int(math.nan) == 0 and to_int(1e300) == INT64_MAX


def test_min_max_and_nan_follow_python():
    @nativecall.jit("float64(float64, float64)")
    def mn(a, b):
        return min(a, b)

    @nativecall.jit("float64(float64, float64)")
    def mx(a, b):
        return max(a, b)

    nan = math.nan
    for a, b in [(1.0, 2.0), (2.0, 1.0), (nan, 1.0), (1.0, nan), (-0.0, 0.0), (0.0, -0.0)]:
        for mine, theirs in [(mn(a, b), min(a, b)), (mx(a, b), max(a, b))]:
            assert (math.isnan(mine) and math.isnan(theirs)) or (
                mine == theirs and math.copysign(1, mine) == math.copysign(1, theirs)
            ), (a, b)


def test_and_or_return_an_operand():
    @nativecall.jit("float64(float64, float64)")
    def either(a, b):
        return a or b

    @nativecall.jit("float64(int64, float64)")
    def both(a, b):
        return a and b

    assert either(0.0, 3.5) == 3.5 and either(2.0, 3.5) == 2.0 and math.isnan(either(math.nan, 1.0))
    assert both(0, 3.5) == 0.0 and both(2, 3.5) == 3.5


def test_range_loops_follow_python_including_the_edges():
    @nativecall.jit("int64(int64, int64, int64)")
    def count(a, b, s):
        n = 0
        for i in range(a, b, s):
            n += 1
        return n

    @nativecall.jit("int64(int64, int64, int64)")
    def last(a, b, s):
        i = -1
        for i in range(a, b, s):
            pass
        return i

    for a, b, s in [(0, 10, 3), (10, 0, -3), (5, 5, 1), (0, -5, 1), (-3, 4, 2), (INT64_MAX - 5, INT64_MAX, 2),
                    (INT64_MIN, INT64_MIN + 10, 3), (INT64_MAX, INT64_MIN, -(2**62))]:  # fmt: skip
        assert count(a, b, s) == len(range(a, b, s)), (a, b, s)
        r = range(a, b, s)
        assert last(a, b, s) == (r[-1] if len(r) else -1)
    assert count(0, 10, 0) == 0  # Python raises ValueError for a zero step


def test_loop_else_runs_only_without_break():
    @nativecall.jit("int64(int64)")
    def find(n):
        for i in range(10):
            if i == n:
                break
        else:
            return -1
        return i

    assert find(3) == 3 and find(42) == -1


def test_pointer_indexing_is_c_indexing():
    import numpy as np

    @nativecall.jit("float64(float64*, int64)")
    def at(p, i):
        return p[i]

    a = np.arange(10.0)
    assert at(a[5:], -2) == 3.0  # before the pointer, not from the end


def test_globals_are_frozen_at_compile_time():
    ns = {"SCALE": 2.0}
    # A function with its own globals and a source the frontend can read.
    import linecache
    import types

    src = "def f(x):\n    return SCALE * x\n"
    linecache.cache["<frozen-test>"] = (len(src), None, src.splitlines(True), "<frozen-test>")
    code = compile(src, "<frozen-test>", "exec")
    exec(code, ns)
    kernel = nativecall.jit("float64(float64)")(ns["f"])
    ns["SCALE"] = 100.0
    assert kernel(3.0) == 6.0
    assert isinstance(ns["f"], types.FunctionType)


def test_unassigned_locals_read_zero():
    @nativecall.jit("float64(bool)")
    def maybe(flag):
        if flag:
            y = 5.0
        return y  # noqa: F821 - documented: reads 0 when flag is false

    assert maybe(True) == 5.0 and maybe(False) == 0.0
