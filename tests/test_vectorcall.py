"""Calls from Python by vectorcall: kernels and every NativeCallable take their arguments
in place (no tuple, no keyword dict), refuse keywords and wrong arity as before, through
vectorcall and through a caller that builds a tuple, and stay alive exactly as long as
they are referenced."""

import ctypes
import ctypes.util
import functools
import gc
import math
import sys
import threading

import pytest

import nativecall

HAVE_VECTORCALL = 1 << 11  # Py_TPFLAGS_HAVE_VECTORCALL


@nativecall.jit("float64(float64, float64)")
def weighted(x, w):
    return x * w + 1.0


def _erfc():
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    fn = libm.erfc
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double]
    return fn


def test_kernels_and_native_callables_are_instances_of_vectorcall_types():
    erfc = nativecall.native(_erfc())
    released = nativecall.native(erfc, nogil=True)
    for obj in (weighted, erfc, released):
        assert type(obj).__flags__ & HAVE_VECTORCALL, type(obj)
    assert isinstance(weighted, nativecall.Kernel) and isinstance(weighted, nativecall.NativeCallable)
    assert isinstance(erfc, nativecall.NativeCallable) and not isinstance(erfc, nativecall.Kernel)
    assert type(weighted).__name__ == "Kernel" and type(erfc).__name__ == "NativeCallable"
    assert erfc(0.5) == math.erfc(0.5) and released(0.25) == math.erfc(0.25)


def test_the_types_refuse_to_be_called_directly_and_name_the_way_to_make_one():
    for cls in (nativecall.NativeCallable, nativecall.Kernel, type(weighted), type(nativecall.native(_erfc()))):
        with pytest.raises(TypeError, match=r"objects are made by nativecall\.native\(\) and nativecall\.jit\(\)"):
            cls()


def test_a_call_with_an_argument_tuple_reads_as_a_vectorcall():
    # functools.partial with keywords and type(k).__call__ pass a tuple (and a dict) to tp_call.
    call = type(weighted).__call__
    assert call(weighted, 2.0, 3.0) == weighted(2.0, 3.0) == 7.0
    assert functools.partial(weighted, 2.0)(0.5) == 2.0
    assert weighted(*[1.5, 2.0], **{}) == 4.0
    with pytest.raises(TypeError, match=r"^weighted\(\) takes 2 arguments \(double \(double, double\)\), got 3$"):
        call(weighted, 1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match=r"^weighted\(\) takes no keyword arguments, got 'w'; pass the 2 arguments"):
        call(weighted, 1.0, w=2.0)
    with pytest.raises(TypeError, match=r"^weighted\(\) takes no keyword arguments, got 'w'"):
        functools.partial(weighted, w=2.0)(1.0)


def test_keywords_and_wrong_arity_are_refused_for_a_native_c_function_too():
    erfc = nativecall.native(_erfc())
    with pytest.raises(TypeError, match=r"takes no keyword arguments, got 'x'; pass the 1 argument \(double \(double\)\)"):
        erfc(x=1.0)
    with pytest.raises(TypeError, match=r"takes 1 argument \(double \(double\)\), got 0$"):
        erfc()
    with pytest.raises(TypeError, match=r"takes 1 argument \(double \(double\)\), got 9$"):
        erfc(*[1.0] * 9)  # more than the tuple path gathers on the stack


def test_many_calls_leave_every_reference_count_as_it_was():
    x, w = 1.0 + 2**-30, 3.0 + 2**-30  # objects of their own, not shared constants
    before = (sys.getrefcount(x), sys.getrefcount(w), sys.getrefcount(weighted))
    results = [weighted(x, w) for _ in range(1000)]
    for _ in range(1000):
        weighted(x, w)
        with pytest.raises(TypeError):
            weighted(x, w=w)
    after = (sys.getrefcount(x), sys.getrefcount(w), sys.getrefcount(weighted))
    result_refs = sys.getrefcount(results[0])  # outside `assert`: pytest's rewrite holds one
    assert after == before
    assert result_refs == 2  # the list's and getrefcount's: a new float per call
    assert results[0] == x * w + 1.0


def test_a_kernel_held_only_by_a_thread_calling_it_lives_until_the_thread_is_done():
    base = nativecall.stats()["kernels"]

    def make():
        return nativecall.jit("float64(float64)", source="def twice(x):\n    return 2.0 * x\n")

    k = make()
    assert nativecall.stats()["kernels"] == base + 1
    out = []
    t = threading.Thread(target=lambda f=k: out.append(sum(f(float(i)) for i in range(10_000))))
    del k
    t.start()
    t.join()
    assert out == [2.0 * sum(range(10_000))]
    del t
    gc.collect()
    assert nativecall.stats()["kernels"] == base


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_kernels_of_doubles_give_the_same_result_held_and_with_the_gil_released(n):
    # Up to three doubles the code is called directly, four go through the invoker, and
    # nogil=True always does: every way must pass each argument in its own place.
    names = ", ".join(f"x{i}" for i in range(n))
    body = " + ".join(f"x{i} * {10.0**i}" for i in range(n))
    source = f"def poly({names}):\n    return {body}\n"
    sig = f"float64({', '.join(['float64'] * n)})"
    held = nativecall.jit(sig, source=source)
    released = nativecall.jit(sig, source=source, nogil=True)
    args = [float(i + 1) + 0.25 for i in range(n)]
    expected = sum(a * 10.0**i for i, a in enumerate(args))
    assert held(*args) == released(*args) == expected
    with pytest.raises(TypeError, match=rf"^poly\(\) takes {n} arguments? \(double \("):
        held(*args, 1.0)
