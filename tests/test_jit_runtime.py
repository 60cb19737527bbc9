"""Kernel code memory, threads, and adapters to consumers' signatures."""

import ctypes
import gc
import math
import threading

import numpy as np
import pytest
from scipy import integrate

import nativecall


def make_kernel(k):
    @nativecall.jit("float64(float64)")
    def f(x):
        return x * k + 1.0

    return f


def test_code_is_freed_when_the_kernel_and_every_export_are_gone():
    gc.collect()
    before = nativecall.stats()
    f = make_kernel(2.0)
    capsule = f.capsule()
    llc = f.lowlevelcallable()
    fp = f.ctypes
    during = nativecall.stats()
    assert during["kernels"] == before["kernels"] + 1
    assert during["code_modules"] == before["code_modules"] + 1
    assert during["code_bytes"] > before["code_bytes"]
    del f
    gc.collect()
    assert nativecall.stats()["kernels"] == during["kernels"], "exports keep the kernel alive"
    assert nativecall.native(capsule)(3.0) == 7.0 and fp(1.0) == 3.0
    del capsule, llc, fp
    gc.collect()
    assert nativecall.stats() == before


def test_many_kernels_come_and_go_without_growing():
    gc.collect()
    before = nativecall.stats()
    for k in range(300):
        f = make_kernel(float(k))
        assert f(1.0) == k + 1.0
        integrate.quad(f.lowlevelcallable(), 0.0, 1.0)
    del f
    gc.collect()
    assert nativecall.stats() == before


def test_compiling_and_calling_from_many_threads():
    errors, results = [], {}

    def worker(t):
        try:
            out = []
            for i in range(40):
                f = make_kernel(float(t * 100 + i))
                out.append(f(2.0))
            results[t] = out
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for t in range(4):
        assert results[t] == [2.0 * (t * 100 + i) + 1.0 for i in range(40)]


def test_calling_one_kernel_from_many_threads():
    @nativecall.jit("float64(int64)")
    def harmonic(n):
        s = 0.0
        for i in range(1, n + 1):
            s += 1.0 / i
        return s

    want = harmonic.py_func(200_000)
    out = []
    threads = [threading.Thread(target=lambda: out.append(harmonic(200_000))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [pytest.approx(want, rel=1e-12)] * 4


# ---------------------------------------------------------------------------- adapters


@nativecall.jit("float64(float64, float64, float64)")
def gauss_ab(x, a, b):
    return a * math.exp(-b * x * x)


def test_user_data_struct_adapter_packs_extra_arguments_once():
    llc = gauss_ab.lowlevelcallable("double (double, void *)", user_data=(2.0, 0.5))
    assert llc.signature == "double (double, void *)"
    got = integrate.quad(llc, -5, 5)[0]
    want = integrate.quad(lambda x: 2.0 * math.exp(-0.5 * x * x), -5, 5)[0]
    assert got == pytest.approx(want, rel=1e-14)
    packed_capsule = llc.user_data
    assert type(packed_capsule).__name__ == "PyCapsule"


def test_quad_nd_adapter_takes_args_from_quad():
    llc = gauss_ab.lowlevelcallable("double (int, double *)")
    for a, b in [(1.0, 1.0), (3.0, 0.25)]:
        got = integrate.quad(llc, -4, 4, args=(a, b))[0]
        want = integrate.quad(gauss_ab.py_func, -4, 4, args=(a, b))[0]
        assert got == pytest.approx(want, rel=1e-14)


def test_quad_nd_adapter_guards_a_short_argument_array():
    # Calling the nd thunk with fewer doubles than parameters returns NaN instead of reading past them.
    nd = nativecall.native(gauss_ab.capsule("double (int, double *)"))
    xx = np.array([0.5, 2.0, 1.0])
    assert nd(3, xx) == pytest.approx(2.0 * math.exp(-0.25))
    assert math.isnan(nd(1, xx))


def test_user_data_with_int_and_pointer_fields():
    @nativecall.jit("float64(float64, int32, float64*, voidptr)")
    def weighted(x, k, w, unused):
        return x * k + w[0]

    weights = np.array([10.0])
    # Extra parameters k and w come from user_data; the kernel's own trailing void * stays.
    @nativecall.jit("float64(float64, int32, float64*)")
    def weighted2(x, k, w):
        return x * k + w[0]

    llc = weighted2.lowlevelcallable("double (double, void *)", user_data=(3, weights))
    got = integrate.quad(llc, 0.0, 1.0)[0]
    assert got == pytest.approx(1.5 + 10.0, rel=1e-14)
    assert weighted(1.0, 2, weights, None) == 12.0


def test_adapter_errors_name_both_signatures():
    with pytest.raises(TypeError, match=r"user_data=\(\.\.\.\)"):
        gauss_ab.lowlevelcallable("double (double, void *)")
    with pytest.raises(TypeError, match="must hold 2 values"):
        gauss_ab.lowlevelcallable("double (double, void *)", user_data=(1.0,))
    with pytest.raises(TypeError, match=r"cannot export gauss_ab \(double \(double, double, double\)\) as 'int \(double\)'"):
        gauss_ab.lowlevelcallable("int (double)")
    with pytest.raises(TypeError, match="must be a float"):
        gauss_ab.lowlevelcallable("double (double, void *)", user_data=(1.0, "x"))


def test_adapted_callables_keep_the_kernel_alive():
    f = make_kernel(5.0)
    llc = f.lowlevelcallable()
    del f
    gc.collect()
    assert integrate.quad(llc, 0.0, 1.0)[0] == pytest.approx(3.5)


def test_adapter_errors_name_the_consumers_own_parameter_position():
    @nativecall.jit("float64(float64, float64, float64, float64, int32)")
    def five(x, a, b, c, k):
        return x + a + b + c + k

    # The 2nd, 3rd, 4th and 5th parameters come from user_data: a bad 4th value is argument 5.
    with pytest.raises(TypeError, match=r"argument 5 of five \(int\) must be an int, got str"):
        five.lowlevelcallable("double (double, void *)", user_data=(1.0, 2.0, 3.0, "k"))
    with pytest.raises(TypeError, match=r"argument 2 of five \(double\) must be a float, got str"):
        five.lowlevelcallable("double (double, void *)", user_data=("a", 2.0, 3.0, 4))
    # Two leading parameters: the first user_data value is argument 3.
    with pytest.raises(OverflowError, match=r"argument 5 of five \(int\) cannot hold 2147483648"):
        five.lowlevelcallable("double (double, double, void *)", user_data=(2.0, 3.0, 2**31))
    llc = five.lowlevelcallable("double (double, void *)", user_data=(1.0, 2.0, 3.0, 4))
    assert integrate.quad(llc, 0.0, 1.0)[0] == pytest.approx(0.5 + 10.0, rel=1e-14)
