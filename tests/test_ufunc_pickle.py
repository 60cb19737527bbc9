"""@nativecall.vectorize ufuncs, and kernels and ufuncs travelling to other processes and Dask."""

import math
import multiprocessing
import pickle

import numpy as np
import pytest
from scipy.special import cython_special

import nativecall

OFFSET = 0.25


@nativecall.vectorize(["float64(float64)", "float32(float32)"])
def damped(x):
    return math.exp(-x * x) * math.cos(x)


@nativecall.vectorize(["int64(int64, int64)", "float64(float64, float64)"], identity=0)
def plus(a, b):
    return a + b


@nativecall.vectorize(["float64(float64, float64)"], identity=1)
def times(a, b):
    return a * b


@nativecall.jit("float64(float64)")
def shifted_gamma(x):
    return cython_special.gamma(x) + OFFSET


@nativecall.jit("float64(float64[:])")
def total(a):
    s = 0.0
    for i in range(len(a)):
        s += shifted_gamma(a[i])
    return s


def test_vectorize_returns_a_real_ufunc_with_numpy_machinery():
    assert isinstance(damped, np.ufunc) and damped.nin == 1 and damped.nout == 1
    assert damped.types == ["f->f", "d->d"]  # narrow loop first, as NumPy's own ufuncs
    x = np.linspace(-3, 3, 1001)
    # The loops call the C library's exp and cos, as CPython's math does (NumPy's own
    # SIMD versions can differ in the last bit).
    np.testing.assert_array_equal(damped(x), [math.exp(-v * v) * math.cos(v) for v in x])
    np.testing.assert_allclose(damped(x), np.exp(-x * x) * np.cos(x), rtol=1e-15, atol=1e-300)
    assert damped(x.astype(np.float32)).dtype == np.float32
    assert damped(np.zeros((4, 1)) + np.arange(3.0)).shape == (4, 3)  # broadcasting
    out = np.full(5, -1.0)
    res = damped(np.arange(5.0), out=out, where=np.arange(5) % 2 == 0)
    assert res is out and out[1] == -1.0 and out[2] == damped(2.0)
    assert damped(2.0) == math.exp(-4.0) * math.cos(2.0)  # scalars go through it too
    strided = np.arange(20.0)[::-3]
    np.testing.assert_array_equal(damped(strided), [math.exp(-v * v) * math.cos(v) for v in strided])


def test_reduce_and_accumulate_come_from_numpy():
    assert plus.reduce(np.arange(10)) == 45 and plus.reduce(np.arange(10)).dtype == np.int64
    np.testing.assert_array_equal(plus.accumulate(np.arange(5.0)), [0.0, 1.0, 3.0, 6.0, 10.0])
    assert times.reduce(np.array([1.5, 2.0, 4.0])) == 12.0
    assert plus.reduce(np.zeros(0)) == 0.0 and times.reduce(np.zeros(0)) == 1.0  # the identity
    np.testing.assert_array_equal(plus(np.arange(3), 1.5), [1.5, 2.5, 3.5])  # dtype dispatch
    np.testing.assert_array_equal(plus.outer(np.arange(2), np.arange(3)), np.add.outer(np.arange(2), np.arange(3)))


def test_bad_vectorize_signatures_are_errors():
    with pytest.raises(TypeError, match="at least one signature"):
        nativecall.vectorize([])(_square)
    with pytest.raises(TypeError, match="take 1 arguments|takes 1 arguments|ufunc"):
        nativecall.vectorize(["float64(float64)", "float64(float64, float64)"])(_square)
    with pytest.raises(ValueError, match="identity"):
        nativecall.vectorize(["float64(float64, float64)"], identity=5)(_sum2)
    with pytest.raises((TypeError, nativecall.CompileError), match="numbers|pointer|ufunc"):
        nativecall.vectorize(["float64(float64*)"])(_deref)


def _square(x):
    return x * x


def _sum2(a, b):
    return a + b


def _deref(p):
    return p[0]


def test_ufunc_memory_stays_alive_with_the_ufunc():
    import gc

    gc.collect()
    before = nativecall.stats()["code_modules"]
    u = nativecall.vectorize(["float64(float64)"])(_square)
    assert nativecall.stats()["code_modules"] > before
    assert u(3.0) == 9.0
    gc.collect()
    assert u(np.arange(3.0)).tolist() == [0.0, 1.0, 4.0]


def test_kernels_pickle_by_source_and_recompile():
    copy = pickle.loads(pickle.dumps(total))
    a = np.arange(1.0, 5.0)
    assert copy is not total and isinstance(copy, nativecall.Kernel)
    assert copy(a) == total(a) == sum(math.gamma(x) + OFFSET for x in a)
    assert str(copy.signature) == str(total.signature)


def test_ufuncs_pickle_and_numpy_ufuncs_still_do():
    copy = pickle.loads(pickle.dumps(damped))
    assert isinstance(copy, np.ufunc) and copy.types == damped.types
    np.testing.assert_array_equal(copy(np.arange(4.0)), damped(np.arange(4.0)))
    assert pickle.loads(pickle.dumps(np.add)) is np.add


def test_cython_callables_pickle_by_name_and_raw_addresses_refuse(clib):
    gamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "double (double)")
    assert pickle.loads(pickle.dumps(gamma))(5.0) == 24.0
    with pytest.raises(TypeError, match="raw address"):
        pickle.dumps(nativecall.native(clib.gauss))


def _apply_total(a):
    return total(a)


def test_kernels_and_ufuncs_in_a_spawned_process_pool():
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        sums = pool.map(total, [np.arange(1.0, 3.0), np.arange(1.0, 4.0)])
        curves = pool.map(damped, [np.arange(3.0), np.arange(2.0)])
    assert sums == [total(np.arange(1.0, 3.0)), total(np.arange(1.0, 4.0))]
    np.testing.assert_array_equal(curves[0], damped(np.arange(3.0)))


def test_dask_threaded_and_local_cluster():
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    x = da.linspace(-3.0, 3.0, 200_000, chunks=50_000)
    want = damped(x.compute())
    np.testing.assert_array_equal(damped(x).compute(scheduler="threads"), want)
    np.testing.assert_array_equal(x.map_blocks(damped).compute(scheduler="threads"), want)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            np.testing.assert_array_equal(x.map_blocks(damped).compute(), want)
            assert damped(x).sum().compute() == pytest.approx(want.sum(), rel=1e-12)


def test_ufuncs_free_their_kernels_and_code_with_their_last_reference():
    import gc
    import resource

    def churn(n):
        for i in range(n):
            u = nativecall.vectorize(["float64(float64)", "float32(float32)"])(_square)
            assert u(float(i)) == float(i) * i
            assert pickle.loads(pickle.dumps(u)).types == u.types  # the recipe is there while it lives
            del u

    churn(20)
    gc.collect()
    baseline = nativecall.stats()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    churn(150)
    gc.collect()
    assert nativecall.stats() == baseline
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    assert grown < 4, f"peak RSS grew by {grown:.1f} MiB over 150 ufuncs"
