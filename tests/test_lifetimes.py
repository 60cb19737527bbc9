"""Ownership: exports keep code alive, and nothing leaks when they go."""

import ctypes
import gc
import resource

import pytest

import nativecall


def rss_mib():
    # Linux reports ru_maxrss in KiB; the peak only grows, so a flat peak means no leak.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_thunk_code_is_freed_with_the_last_export():
    from scipy.special import cython_special

    gc.collect()
    before = nativecall.stats()
    # A callable of its own (from_cython's are cached per module, with their thunks).
    gamma = nativecall.NativeCallable._from_capsule(cython_special.__pyx_capi__["__pyx_fuse_1gamma"], cython=True)
    assert str(gamma.signature) == "double (double)"
    capsule = gamma.capsule()  # generates the thunk
    during = nativecall.stats()
    assert during["code_modules"] == before["code_modules"] + 1
    assert during["code_bytes"] > before["code_bytes"]
    del gamma
    gc.collect()
    assert nativecall.stats() == during, "the capsule keeps the thunk alive"
    assert nativecall.native(capsule)(4.0) == 6.0
    del capsule
    gc.collect()
    assert nativecall.stats() == before


def test_creating_and_dropping_many_exports_leaks_nothing(clib):
    gamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "double (double)")

    def churn(n):
        for _ in range(n):
            nc = nativecall.native(clib.scale)
            back = nativecall.native(nc.capsule())
            assert back(2.0, None) == 2.0
            fp = back.ctypes
            nativecall.native(fp).lowlevelcallable()
            nativecall.native(gamma.capsule())  # a thunk each time, freed each time

    churn(2000)  # warm caches and allocator pools
    gc.collect()
    base_rss, base_code = rss_mib(), nativecall.stats()
    churn(20000)
    gc.collect()
    assert nativecall.stats() == base_code
    assert rss_mib() - base_rss < 8, f"peak RSS grew by {rss_mib() - base_rss:.1f} MiB"


def test_a_ctypes_export_keeps_the_callable_alive():
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
    fp = nativecall.native(proto(lambda x: 3 * x)).ctypes
    gc.collect()
    assert fp(2.0) == 6.0


@pytest.mark.parametrize("bad", [None, 3, "capsule", object()])
def test_from_capsule_rejects_non_capsules(bad):
    with pytest.raises(TypeError, match="PyCapsule"):
        nativecall.NativeCallable._from_capsule(bad)
