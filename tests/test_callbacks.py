"""nativecall.callback: Python functions called from C through a generated function pointer."""

import ctypes
import gc
import math
import sys
import threading
import weakref

import numpy as np
import pytest
from scipy import LowLevelCallable, integrate, ndimage

import nativecall


class Unraisable:
    """Collects what ``sys.unraisablehook`` receives while active."""

    def __init__(self):
        self.seen = []

    def __enter__(self):
        self._old = sys.unraisablehook
        sys.unraisablehook = self.seen.append
        return self

    def __exit__(self, *exc):
        sys.unraisablehook = self._old

    def types(self):
        return [type(u.exc_value) for u in self.seen]


def test_c_code_calls_a_python_function_through_the_callback_address(clib):
    seen = []

    def triple(x, user_data):
        seen.append((x, user_data))
        return 3.0 * x

    cb = nativecall.callback(triple, "double (double, void *)")
    apply = nativecall.native(clib.apply)
    assert apply(cb, 2.5, None) == 7.5
    assert seen == [(2.5, 0)]  # a NULL pointer arrives as the int 0
    assert cb.name == "test_c_code_calls_a_python_function_through_the_callback_address.<locals>.triple"
    assert str(cb.signature) == "double (double, void *)"


def test_every_export_of_a_callback_calls_the_python_function():
    import cffi

    def poly(x):
        return x * x + 1.0

    cb = nativecall.callback(poly, "double (double)")
    assert cb(3.0) == 10.0  # from Python, through libffi and the entry
    assert nativecall.native(cb.capsule())(4.0) == 17.0
    assert cb.ctypes(0.5) == 1.25
    ffi = cffi.FFI()
    assert cb.cffi(ffi)(2.0) == 5.0
    llc = cb.lowlevelcallable()
    assert isinstance(llc, LowLevelCallable)
    assert nativecall.native(llc)(1.0) == 2.0


def test_quad_with_a_callback_matches_quad_with_the_python_function():
    def f(x):
        return math.exp(-x * x)

    cb = nativecall.callback(f, "double (double)")
    ours = integrate.quad(cb.lowlevelcallable(), 0.0, 2.0)
    plain = integrate.quad(f, 0.0, 2.0)
    assert ours == plain
    assert ours[0] == pytest.approx(math.sqrt(math.pi) / 2 * math.erf(2.0), rel=1e-12)


def test_a_kernel_calls_a_callback_it_names_as_a_global():
    calls = []

    def shift(x):
        calls.append(x)
        return x + 0.5

    global _shift_cb
    _shift_cb = nativecall.callback(shift, "double (double)")

    @nativecall.jit("float64(float64)")
    def twice_shifted(x):
        return _shift_cb(x) * 2.0

    assert twice_shifted(1.0) == 3.0
    assert calls == [1.0]


def test_an_exception_in_a_callback_is_unraisable_and_returns_nan():
    def bad(x):
        raise ZeroDivisionError(f"no {x}")

    cb = nativecall.callback(bad, "double (double)")
    with Unraisable() as u:
        assert math.isnan(cb(1.0))
    assert u.types() == [ZeroDivisionError]
    assert str(u.seen[0].exc_value) == "no 1.0"
    assert u.seen[0].object is bad


def test_an_exception_in_a_callback_under_quad_is_reported_and_gives_nan():
    def bad(x):
        if x > 0.5:
            raise ValueError("past the middle")
        return x

    cb = nativecall.callback(bad, "double (double)")
    with Unraisable() as u, pytest.warns(integrate.IntegrationWarning):
        value, _ = integrate.quad(cb.lowlevelcallable(), 0.0, 1.0)
    assert math.isnan(value)
    assert u.types() and set(u.types()) == {ValueError}


def test_an_exception_in_a_callback_under_a_kernel_is_reported_and_gives_nan():
    def bad(x):
        raise KeyError("inside")

    global _bad_cb
    _bad_cb = nativecall.callback(bad, "double (double)")

    @nativecall.jit("float64(float64)")
    def plus_one(x):
        return _bad_cb(x) + 1.0

    with Unraisable() as u:
        assert math.isnan(plus_one(2.0))
    assert u.types() == [KeyError]


def _mean_filter(values, n, out, user_data):
    window = np.ctypeslib.as_array(ctypes.cast(values, ctypes.POINTER(ctypes.c_double)), shape=(n,))
    ctypes.c_double.from_address(out).value = window.mean()
    return 1


def test_generic_filter_with_a_callback_matches_the_python_function():
    image = np.arange(30.0).reshape(5, 6) ** 1.5
    cb = nativecall.callback(_mean_filter, "int (double *, intptr_t, double *, void *)")
    ours = ndimage.generic_filter(image, cb.lowlevelcallable(), size=3)
    plain = ndimage.generic_filter(image, np.mean, size=3)
    np.testing.assert_allclose(ours, plain, rtol=1e-15)


def test_generic_filter_raises_the_exception_of_its_callback():
    def bad(values, n, out, user_data):
        raise ArithmeticError(f"window of {n}")

    cb = nativecall.callback(bad, "int (double *, intptr_t, double *, void *)")
    with Unraisable() as u, pytest.raises(ArithmeticError, match="window of 9"):
        ndimage.generic_filter(np.ones((4, 4)), cb.lowlevelcallable(), size=3)
    assert u.seen == []  # raised by scipy, not reported as unraisable


def test_the_export_keeps_the_python_function_alive_after_the_callable_is_gone():
    gc.collect()
    before = nativecall.stats()

    def make():
        factor = 4.0

        def scaled(x):
            return factor * x

        return scaled

    func = make()
    alive = weakref.ref(func)
    cb = nativecall.callback(func, "double (double)")
    llc = cb.lowlevelcallable()
    pointer = cb.ctypes
    del cb, func
    gc.collect()
    assert alive() is not None
    assert integrate.quad(llc, 0.0, 1.0)[0] == pytest.approx(2.0)
    assert pointer(2.0) == 8.0
    del llc
    gc.collect()
    assert alive() is not None  # the ctypes pointer still holds it
    del pointer
    gc.collect()
    assert alive() is None
    assert nativecall.stats() == before


def test_callbacks_are_called_from_threads_that_do_not_hold_the_gil():
    # ctypes releases the GIL around the foreign call, so every callback below starts in
    # a thread without it and must take it itself.
    def f(x):
        return x * 2.0 + threading.get_ident() % 2

    cb = nativecall.callback(f, "double (double)")
    fp = cb.ctypes
    results = {}

    def work(k):
        ident = threading.get_ident()
        results[k] = [fp(float(i)) - (i * 2.0 + ident % 2) for i in range(2000)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2, 3]
    assert all(all(d == 0.0 for d in r) for r in results.values())


def test_wrong_result_types_are_reported_and_give_the_error_value():
    as_float = nativecall.callback(lambda x: "text", "double (double)")
    as_int = nativecall.callback(lambda x: x / 2, "int (int)")
    narrow = nativecall.callback(lambda x: x * 2**40, "int32_t (int32_t)")
    chosen = nativecall.callback(lambda x: 1.5, "int (int)", error_value=-7)
    with Unraisable() as u:
        assert math.isnan(as_float(1.0))
        assert as_int(3) == -1
        assert narrow(3) == -1
        assert chosen(3) == -7
    assert u.types() == [TypeError, TypeError, OverflowError, TypeError]
    assert "must return a real number, got str" in str(u.seen[0].exc_value)
    assert "must return an int (a float is not truncated), got float" in str(u.seen[1].exc_value)
    assert "outside -2147483648..=2147483647" in str(u.seen[2].exc_value)
    # Ints for a double result and NumPy integers for an int result are accepted.
    assert nativecall.callback(lambda x: 3, "double (double)")(0.0) == 3.0
    assert nativecall.callback(lambda x: np.int16(x + 1), "int64_t (int64_t)")(41) == 42


def test_pointers_cross_as_ints():
    buf = (ctypes.c_double * 2)(1.5, 2.5)
    seen = []

    def second(p):
        seen.append(p)
        return None if p == 0 else p + 8

    cb = nativecall.callback(second, "double * (double *)")
    assert cb(buf) == ctypes.addressof(buf) + 8
    assert seen == [ctypes.addressof(buf)]
    assert cb(None) == 0  # NULL in, None back: NULL out
    assert ctypes.c_double.from_address(cb(buf)).value == 2.5


def test_small_ints_bools_and_floats_keep_their_values():
    cb = nativecall.callback(lambda a, b, c, d, e: (a, b, c, d, e) == (-3, 250, True, 0.5, 2**63) and -100,
                             "int8_t (int8_t, uint8_t, bool, float, uint64_t)")  # fmt: skip
    assert cb(-3, 250, True, 0.5, 2**63) == -100


def test_signatures_a_callback_cannot_carry_are_refused_clearly():
    with pytest.raises(TypeError, match=r"parameter 1 is 'double _Complex'.*bool, integers, floats and pointers"):
        nativecall.callback(lambda z: 0.0, "double (double complex)")
    with pytest.raises(TypeError, match="needs a callable, got int"):
        nativecall.callback(3, "double (double)")
    with pytest.raises(ValueError, match="errors must be 'auto', 'unraisable' or 'pending', got 'loud'"):
        nativecall.callback(abs, "double (double)", errors="loud")


def test_callbacks_run_in_the_stable_abi_build_that_3_11_and_later_ship():
    # From 3.11 `make build` installs the abi3 extension, whose limited API has no
    # vectorcall: the arguments then reach the function as a tuple, in order.
    if sys.version_info >= (3, 11):
        assert nativecall._native.__file__.endswith(".abi3.so"), nativecall._native.__file__
    seen = []

    def weighted(x, a, b, c, d, e, f, g, h, i):
        seen.append((a, b, c, d, e, f, g, h, i))
        return x * (a + b + c + d + e + f + g + h + i)

    sig = "double (double, int, int64_t, uint8_t, uint32_t, float, double, bool, int16_t, void *)"
    cb = nativecall.callback(weighted, sig)
    args = (1, -2, 255, 2**32 - 1, 0.5, 0.25, True, -3, 0)
    assert cb(2.0, *args) == pytest.approx(2.0 * sum(args))
    assert seen == [args]
    # A wrong result names the type it got (its __name__ under the stable ABI).
    with Unraisable() as u:
        assert math.isnan(nativecall.callback(lambda x: np.complex128(1j), "double (double)")(1.0))
    assert "must return a real number, got " in str(u.seen[0].exc_value)
    assert "complex128" in str(u.seen[0].exc_value)
