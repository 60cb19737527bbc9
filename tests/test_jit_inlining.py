"""Small kernels called by kernels are generated inside their callers (no call, no stack
check): every return joins after the inlined body, errors inside it are reported as a call
would report them, arrays are shared with the caller, recursion and large kernels stay calls."""

import math

import numpy as np
import pytest

import nativecall


def calls_in(kernel):
    """How many calls the kernel's Cranelift IR makes (helpers, natives, itself)."""
    text = kernel.inspect_ir()
    return text.count("call_indirect") + text.count(" call fn")


@nativecall.jit("float64(float64, float64)")
def smoothstep(x, edge):
    t = x / edge
    if t < 0.0:
        return 0.0
    elif t > 1.0:
        return 1.0
    return t * t * (3.0 - 2.0 * t)


@nativecall.jit("float64(float64)")
def smooth_once(x):
    return smoothstep(x, 1.5)


SMOOTHSTEP_INPUTS = [-2.0, -0.0, 0.0, 0.3, 0.75, 1.5, 1.5000001, 7.0, math.inf, -math.inf, math.nan]


def test_a_small_kernel_with_several_returns_runs_inside_its_caller():
    @nativecall.jit("float64(int64)")
    def total(n):
        s = 0.0
        for i in range(n):
            s += smoothstep(i * 0.01 - 0.5, 1.5)
        return s

    assert calls_in(total) == 0
    assert total(300) == sum(smoothstep.py_func(i * 0.01 - 0.5, 1.5) for i in range(300))
    for x in SMOOTHSTEP_INPUTS:
        called, inlined = smoothstep(x, 1.5), smooth_once(x)
        assert called == inlined or (math.isnan(called) and math.isnan(inlined)), x


def test_arguments_and_results_of_an_inlined_kernel_convert_as_at_a_call():
    @nativecall.jit("int64(int64)")
    def halve(k):
        return k // 2

    @nativecall.jit("bool(float64)")
    def positive(x):
        return x > 0.0

    @nativecall.jit("float64(int64)")
    def mixed(n):
        # an int64 argument to a float64 parameter, an int64 result in float arithmetic,
        # a bool result as a condition and as a number
        s = 0.0
        for i in range(-n, n):
            s += smoothstep(i, n) + halve(i) * 0.5
            if positive(i):
                s += positive(i) + 1
        return s

    assert calls_in(mixed) == 0
    expected = 0.0
    for i in range(-7, 7):
        expected += smoothstep.py_func(i, 7) + (i // 2) * 0.5
        if i > 0:
            expected += 2
    assert mixed(7) == expected


def test_a_void_kernel_is_inlined_with_its_bare_and_implicit_returns():
    @nativecall.jit("void(float64[:], int64, float64)")
    def put(a, i, v):
        if v < 0.0:
            return
        a[i] = a[i] + v

    @nativecall.jit("void(float64[:])")
    def fill(a):
        for i in range(a.shape[0]):
            put(a, i, i - 2.0)
            put(a, i, 0.5)

    assert calls_in(fill) == 0
    a = np.zeros(6)
    fill(a)
    assert a.tolist() == [0.5, 0.5, 0.5, 1.5, 2.5, 3.5]


def test_an_index_error_inside_an_inlined_kernel_is_raised_as_when_it_was_called():
    @nativecall.jit("float64(float64[:], int64)", boundscheck=True)
    def at(a, i):
        return a[i]

    @nativecall.jit("float64(float64[:], int64)")
    def total(a, n):
        s = 0.0
        for i in range(n):
            s += at(a, i)
        return s

    @nativecall.jit("float64(float64[:], int64)", boundscheck=True)
    def total_checked(a, n):
        s = 0.0
        for i in range(n):
            s += at(a, i)
        return s

    a = np.arange(5.0)
    assert calls_in(total) == calls_in(total_checked) == 2  # the index-error helpers
    with pytest.raises(IndexError) as called:
        at(a, 5)
    for caller in (total, total_checked):
        assert caller(a, 5) == 10.0
        assert caller(a[::-1], 5) == 10.0
    # A bounds-checked caller raises the callee's error under its own name ...
    with pytest.raises(IndexError) as inlined:
        total_checked(a, 6)
    assert str(inlined.value) == str(called.value).replace("at", "total_checked", 1)
    # ... and one without checks gets the callee's error value, as from a call.
    assert math.isnan(total(a, 6))


def test_a_caller_goes_on_with_the_error_value_of_an_inlined_kernel_that_failed():
    @nativecall.jit("float64(float64[:], int64)", boundscheck=True)
    def at(a, i):
        return a[i]

    @nativecall.jit("void(float64[:], float64[:])", boundscheck=True)
    def copy(a, out):
        for i in range(out.shape[0]):
            out[i] = at(a, i) + 1.0

    assert calls_in(copy) == 4  # the index-error helpers (the callee's, the caller's)
    out = np.zeros(7)
    with pytest.raises(IndexError):
        copy(np.arange(5.0), out)
    # As after a call that returned its error value: the loop went on, with NaN.
    assert out[:5].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert np.isnan(out[5:]).all()


def test_division_by_zero_inside_an_inlined_kernel_gives_what_the_call_gave():
    @nativecall.jit("float64(int64, int64, float64)")
    def quotients(a, b, x):
        return (a // b) + (a % b) + a / b + x / b + x % b

    @nativecall.jit("float64(int64, int64, float64)")
    def caller(a, b, x):
        return quotients(a, b, x)

    assert calls_in(caller) == calls_in(quotients)
    for a, b, x in [(7, 0, 2.5), (-7, 0, -1.0), (0, 0, 0.0), (7, 2, 1.5), (-(2**63), -1, 3.0)]:
        called, inlined = quotients(a, b, x), caller(a, b, x)
        assert called == inlined or (math.isnan(called) and math.isnan(inlined)), (a, b, x)


def test_a_recursive_kernel_is_called_not_inlined_and_still_checks_the_stack():
    @nativecall.jit("int64(int64)")
    def depth(n):
        if n == 0:
            return 0
        return depth(n - 1) + 1

    @nativecall.jit("int64(int64)")
    def plus_one(n):
        return depth(n) + 1

    assert "call_indirect" in plus_one.inspect_ir()
    assert plus_one(1000) == 1001
    with pytest.raises(RecursionError):
        plus_one(10**7)
    assert plus_one(10) == 11


def test_a_kernel_calling_a_kernel_that_is_not_inlined_is_not_inlined_either():
    @nativecall.jit("int64(int64)")
    def depth(n):
        if n <= 0:
            return 0
        return depth(n - 1) + 1

    @nativecall.jit("int64(int64)")
    def small_but_calls(n):
        return depth(n) * 2

    @nativecall.jit("int64(int64)")
    def outer(n):
        return small_but_calls(n) + 1

    text = outer.inspect_ir()
    assert "call_indirect" in text
    assert outer(20) == 41


def test_small_kernels_calling_small_kernels_are_inlined_all_the_way_down():
    @nativecall.jit("float64(float64)")
    def sq(x):
        return x * x

    @nativecall.jit("float64(float64, float64)")
    def norm2(a, b):
        return sq(a) + sq(b)

    @nativecall.jit("float64(float64[:])")
    def energy(v):
        s = 0.0
        for i in range(v.shape[0] - 1):
            s += norm2(v[i], v[i + 1])
        return s

    assert calls_in(norm2) == 0
    assert calls_in(energy) == 0
    v = np.linspace(-1.0, 2.0, 11)
    assert energy(v) == pytest.approx(sum(v[i] ** 2 + v[i + 1] ** 2 for i in range(10)), rel=1e-15)


def test_a_kernel_too_large_to_inline_is_called():
    terms = " + ".join(f"x * {k}.0" for k in range(80))
    big = nativecall.jit("float64(float64)", source=f"def big(x):\n    return {terms}\n")

    @nativecall.jit("float64(float64)")
    def caller(x):
        return big(x) + 1.0

    assert "call_indirect" in caller.inspect_ir()
    assert caller(2.0) == big(2.0) + 1.0


@pytest.mark.parametrize("layout", ["contiguous", "strided", "reversed", "empty"])
def test_inlined_kernels_read_and_write_the_callers_two_dimensional_arrays(layout):
    @nativecall.jit("float64(float64[:, :], int64, int64)")
    def laplace(a, i, j):
        return a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1] - 4.0 * a[i, j]

    @nativecall.jit("void(float64[:, :], int64, int64, float64)")
    def put(b, i, j, v):
        b[i, j] = v

    @nativecall.jit("float64(float64[:, :], float64[:, :])")
    def sweep(a, b):
        s = 0.0
        for i in range(1, a.shape[0] - 1):
            for j in range(1, a.shape[1] - 1):
                v = laplace(a, i, j)
                put(b, i, j, v)
                s += v
        return s

    assert calls_in(sweep) == 0
    rng = np.random.default_rng(12)
    shape = (0, 5) if layout == "empty" else (6, 7)
    base = rng.random((shape[0], 2 * shape[1]))
    a = {"contiguous": base[:, : shape[1]].copy(), "strided": base[:, ::2], "reversed": base[::-1, ::-2],
         "empty": base[:, ::2]}[layout]  # fmt: skip
    b = np.zeros_like(a)
    want = np.zeros_like(a)
    want[1:-1, 1:-1] = a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4.0 * a[1:-1, 1:-1]
    assert sweep(a, b) == pytest.approx(want.sum(), rel=1e-12, abs=1e-12)
    np.testing.assert_array_equal(b, want)


def test_a_contiguous_array_is_passed_to_an_inlined_kernel_taking_any_layout():
    @nativecall.jit("float64(float64[:], int64)")
    def at(a, i):
        return a[i]

    @nativecall.jit("float64(float64[::1])")
    def last_plus_first(a):
        return at(a, -1) + at(a, 0)

    assert calls_in(last_plus_first) == 0
    assert last_plus_first(np.array([2.0, 3.0, 5.0])) == 7.0


def test_a_callee_that_makes_a_scratch_array_stays_a_call_and_frees_it():
    # Scratch arrays are freed at their own kernel's returns, so such a callee is not inlined.
    @nativecall.jit("float64(int64)")
    def spread(n):
        buf = np.empty(n)
        for i in range(n):
            buf[i] = i * 0.5
        return buf.max() - buf.min()

    @nativecall.jit("float64(int64)")
    def twice(n):
        return spread(n) + spread(n + 1)

    assert calls_in(twice) >= 2
    assert twice(4) == 1.5 + 2.0
    # The callee's error (an empty maximum) reaches Python through the caller.
    with pytest.raises(ValueError, match="zero-size array"):
        twice(0)
    assert twice(1) == 0.0 + 0.5


def test_an_inlined_callee_computes_with_complex_values_inside():
    import cmath

    @nativecall.jit("float64(float64)")
    def ring(t):
        z = cmath.exp(1j * t)
        return (z * z.conjugate()).real + z.imag

    @nativecall.jit("float64(float64)")
    def ring_sum(t):
        return ring(t) + ring(-t)

    assert calls_in(ring_sum) <= calls_in(ring) * 2
    for t in (0.0, 0.3, -2.5, 10.0):
        assert ring_sum(t) == ring(t) + ring(-t)
        want = (cmath.exp(1j * t) * cmath.exp(1j * t).conjugate()).real + cmath.exp(1j * t).imag
        assert ring(t) == want


def test_a_kernel_without_checks_or_calls_still_reports_an_empty_minimum_from_python():
    # Whether a call looks for recorded errors comes from the code generated, not from
    # boundscheck or calls: an empty reduction records one in a kernel with neither.
    @nativecall.jit("float64(float64[:])")
    def lowest(a):
        return a.min()

    assert lowest(np.array([3.0, -1.0, 2.0])) == -1.0
    with pytest.raises(ValueError, match="zero-size array"):
        lowest(np.empty(0))
    assert lowest(np.array([5.0])) == 5.0


@nativecall.jit("float64(float64[:], int64)", boundscheck=True)
def checked_get(a, i):
    return a[i]


def test_a_checked_callee_inlined_into_an_unchecked_caller_takes_views_without_descriptors():
    # A scratch array, a carray view and a row have no DLTensor to check the ndim of (it
    # is theirs by construction): the inlined callee checks only the caller's parameters.
    from nativecall import carray

    @nativecall.jit("float64(int64)")
    def via_scratch(n):
        b = np.zeros(n)
        b[0] = 2.5
        return checked_get(b, 0)

    @nativecall.jit("float64(float64*, int64)")
    def via_carray(p, n):
        return checked_get(carray(p, n), 1)

    @nativecall.jit("float64(float64[:, :])")
    def via_row(m):
        return checked_get(m[1], 0)

    @nativecall.jit("float64(float64[:])")
    def via_parameter(a):
        return checked_get(a, 2)

    a = np.array([1.0, 7.0, 9.0])
    assert via_scratch(3) == 2.5
    assert via_carray(a.ctypes.data, 2) == 7.0
    assert via_row(np.arange(6.0).reshape(3, 2)) == 2.0
    assert via_parameter(a) == 9.0
    assert all(calls_in(k) <= 2 for k in (via_carray, via_row, via_parameter))
