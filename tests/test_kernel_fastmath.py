"""`fastmath=True`: floating-point contraction (a * b + c as one fused multiply-add) only
where the flag is given; without it kernels compute as CPython (docs/semantics.md, "fastmath")."""

import pickle
import random
from fractions import Fraction

import numpy as np
import pytest
import scipy.integrate
from scipy import LowLevelCallable

import nativecall
from nativecall import cfunc, types


def host_has_fma():
    try:
        with open("/proc/cpuinfo") as f:
            return " fma " in f.read().replace("\n", " ")
    except OSError:
        return False


FMA = host_has_fma()
needs_fma = pytest.mark.skipif(not FMA, reason="the CPU has no fused multiply-add")


def fused(a, b, c):
    """a * b + c rounded once."""
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def kernels(body):
    sig = "float64(float64, float64, float64)"
    src = f"def k(a, b, c):\n    return {body}\n"
    return nativecall.jit(sig, source=src, fastmath=True), nativecall.jit(sig, source=src)


@needs_fma
def test_fastmath_rounds_a_product_and_a_sum_once():
    fast, exact = kernels("a * b + c")
    a, b, c = 1 + 2**-30, 1 - 2**-30, -1.0
    assert a * b + c == 0.0 and exact(a, b, c) == 0.0
    assert fast(a, b, c) == fused(a, b, c) == -(2.0**-60)


@pytest.mark.parametrize(
    "body, reference",
    [
        ("a * b + c", lambda a, b, c: fused(a, b, c)),
        ("c + a * b", lambda a, b, c: fused(a, b, c)),
        ("a * b - c", lambda a, b, c: fused(a, b, -c)),
        ("c - a * b", lambda a, b, c: fused(-a, b, c)),
    ],
)
def test_fastmath_changes_results_only_by_contracting_and_flagless_kernels_are_cpythons(body, reference):
    fast, exact = kernels(body)
    rng = random.Random(7)
    changed = 0
    for _ in range(2000):
        a, b = rng.uniform(-4, 4), rng.uniform(-4, 4)
        c = -a * b * rng.choice([1.0, 1 + 2**-40, rng.uniform(0, 2)])
        python = eval(body)
        assert exact(a, b, c) == python
        got = fast(a, b, c)
        want = reference(a, b, c) if FMA else python
        assert got == want, (a, b, c)
        changed += got != python
    if FMA:
        assert changed > 100


@needs_fma
def test_fastmath_contracts_each_step_of_a_dot_product_loop():
    src = "def dot(x, y):\n    s = 0.0\n    for i in range(len(x)):\n        s += x[i] * y[i]\n    return s\n"
    sig = "float64(float64[:], float64[:])"
    fast = nativecall.jit(sig, source=src, fastmath=True)
    exact = nativecall.jit(sig, source=src)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(1000), rng.standard_normal(1000)
    s_fused = s_python = 0.0
    for a, b in zip(x.tolist(), y.tolist()):
        s_fused = fused(a, b, s_fused)
        s_python += a * b
    assert exact(x, y) == s_python
    assert fast(x, y) == s_fused


@needs_fma
def test_cfunc_and_kernels_without_a_signature_take_fastmath_and_pickles_keep_it():
    def integrand(n, xx):
        return xx[0] * xx[1] + 1.0

    q = cfunc(types.float64(types.intc, types.CPointer(types.float64)), fastmath=True)(integrand)
    value = scipy.integrate.quad(LowLevelCallable(q.ctypes), 0.0, 1.0, args=(3.0,))[0]
    assert value == pytest.approx(2.5, rel=1e-14)

    @nativecall.jit(fastmath=True)
    def mac(a, b, c):
        return a * b + c

    a, b, c = 1 + 2**-30, 1 - 2**-30, -1.0
    assert mac(a, b, c) == fused(a, b, c)
    assert pickle.loads(pickle.dumps(mac))(a, b, c) == fused(a, b, c)
    k = nativecall.jit("float64(float64, float64, float64)", fastmath=True)(mac.py_func)
    assert pickle.loads(pickle.dumps(k))(a, b, c) == fused(a, b, c)
    plain = nativecall.jit("float64(float64, float64, float64)")(mac.py_func)
    assert pickle.loads(pickle.dumps(plain))(a, b, c) == 0.0
