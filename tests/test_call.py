"""Calling native functions from Python: conversions, range checks, pointers and arity."""

import ctypes
import threading
import time

import numpy as np
import pytest

import nativecall


@pytest.fixture(scope="module")
def f(clib):
    """Every test function of the gcc library as a NativeCallable."""

    class Functions:
        pass

    fns = Functions()
    for name in ["scale", "add3", "imul", "u8_next", "i8_neg", "u64_max", "i16_min", "negate", "f32_half",
                 "fill", "apply", "is_null", "address_of", "slow_sum", "poly_nd"]:
        setattr(fns, name, nativecall.native(getattr(clib, name)))
    # ctypes cannot say `const`; the C declarations can.
    fns.total = nativecall.native(clib.total, "double (const double *x, int64_t n)")
    fns.itotal = nativecall.native(clib.itotal, "int32_t (const int32_t *x, int64_t n)")
    addr = ctypes.cast(clib.cmul, ctypes.c_void_p).value
    fns.cmul = nativecall.NativeCallable.from_address(addr, "double _Complex (double _Complex, double _Complex)", owner=clib)
    addr = ctypes.cast(clib.cconj, ctypes.c_void_p).value
    fns.cconj = nativecall.NativeCallable.from_address(addr, "complex64(complex64)", owner=clib)
    return fns


def test_scalars_convert_both_ways(f):
    assert f.add3(1, 2.5, True) == 1 + 25 + 100
    assert f.imul(-7, 1 << 40) == -7 << 40
    assert f.u8_next(254) == 255
    assert f.u8_next(255) == 0  # unsigned wrap in C
    assert f.i8_neg(-127) == 127
    assert f.i8_neg(np.int8(5)) == -5
    assert f.u64_max() == 2**64 - 1
    assert f.i16_min() == -(2**15)
    assert f.negate(True) is False and f.negate(0) is True
    assert f.f32_half(3.0) == 1.5
    assert f.f32_half(np.float32(0.1)) == pytest.approx(0.05, rel=1e-6)


def test_complex_arguments_and_results(f):
    assert f.cmul(1 + 2j, 3 - 1j) == (1 + 2j) * (3 - 1j)
    assert f.cmul(2, 1j) == 2j
    assert f.cconj(1.5 + 2.5j) == 1.5 - 2.5j
    assert f.cmul(np.complex128(1j), np.complex64(1j)) == -1


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda f: f.u8_next(256), OverflowError, "argument 1 of u8_next (unsigned char) cannot hold 256"),
        (lambda f: f.u8_next(-1), OverflowError, "cannot hold -1"),
        (lambda f: f.i8_neg(128), OverflowError, "cannot hold 128"),
        (lambda f: f.imul(2**31, 1), OverflowError, "argument 1 of imul (int) cannot hold 2147483648"),
        (lambda f: f.imul(1, 2**63), OverflowError, "argument 2 of imul"),
        (lambda f: f.imul(1, 2**200), OverflowError, "cannot hold"),
        (lambda f: f.imul(1.5, 2), TypeError, "must be an int, got float"),
        (lambda f: f.imul("3", 2), TypeError, "must be an int, got str"),
        (lambda f: f.add3(1.0, 2.0, "3"), TypeError, "argument 3 of add3 (double) must be a float, got str"),
        (lambda f: f.add3(1.0, 2.0, 1j), TypeError, "must be a real number, got complex"),
        (lambda f: f.f32_half(1e300), OverflowError, "argument 1 of f32_half (float) cannot hold 1e300: the largest"),
        (lambda f: f.f32_half(-3.5e38), OverflowError, "cannot hold -3.5e38: the largest float is 3.4028234663852886e38"),
        (lambda f: f.negate(2), OverflowError, "True, False, 0 or 1"),
        (lambda f: f.cmul("x", 1), TypeError, "must be a float"),
    ],
)
def test_bad_scalars_raise_clear_errors(f, call, exc, words):
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        call(f)


def test_wrong_arity_shows_the_signature(f):
    with pytest.raises(TypeError, match=r"add3\(\) takes 3 arguments \(double \(double, double, double\)\), got 2"):
        f.add3(1.0, 2.0)
    with pytest.raises(TypeError, match="takes 0 arguments"):
        f.u64_max(1)


def test_numpy_arrays_pass_as_pointers_without_copying(f):
    out = np.zeros(5)
    f.fill(out, 5, 10.0)
    assert out.tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert f.total(out, 5) == 60.0
    assert f.itotal(np.array([1, 2, 3], dtype=np.int32), 3) == 6
    view = out[1:4]
    f.fill(view, 3, -1.0)
    assert out.tolist() == [10.0, -1.0, 0.0, 1.0, 14.0]
    buf = bytearray(8 * 4)
    f.fill(memoryview(buf).cast("d"), 4, 0.5)
    assert np.frombuffer(buf).tolist() == [0.5, 1.5, 2.5, 3.5]


def test_pointer_dtype_and_contiguity_mismatches_are_type_errors(f):
    with pytest.raises(TypeError, match=r"needs a buffer of double, got ndarray with format 'f'"):
        f.total(np.zeros(3, dtype=np.float32), 3)
    with pytest.raises(TypeError, match="needs a buffer of int"):
        f.itotal(np.zeros(3, dtype=np.int64), 3)
    with pytest.raises(TypeError, match="C-contiguous"):
        f.total(np.zeros(6)[::2], 3)
    with pytest.raises(TypeError, match="C-contiguous"):
        f.total(np.zeros((3, 3)).T, 9)
    with pytest.raises(TypeError, match="needs 'const double \\*'"):
        f.total("abc", 3)
    with pytest.raises(TypeError, match="needs a buffer of double"):
        f.total(b"12345678", 1)


def test_read_only_memory_goes_only_to_const_pointers(f):
    ro = np.arange(4.0)
    ro.flags.writeable = False
    assert f.total(ro, 4) == 6.0  # const double *
    with pytest.raises(ValueError, match="read-only"):
        f.fill(ro, 4, 0.0)  # double *
    assert ro.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_ints_none_ctypes_and_cffi_pass_as_pointers(f, cffi_lib):
    arr = (ctypes.c_double * 3)(1.0, 2.0, 3.0)
    assert f.total(ctypes.addressof(arr), 3) == 6.0
    assert f.total(arr, 3) == 6.0
    assert f.total(ctypes.cast(arr, ctypes.POINTER(ctypes.c_double)), 3) == 6.0
    assert f.is_null(None) == 1 and f.is_null(0) == 1 and f.is_null(arr) == 0
    assert f.address_of(ctypes.c_void_p(1234)) == 1234  # the pointer's value, not its storage

    class Point(ctypes.Structure):
        _fields_ = [("x", ctypes.c_double), ("y", ctypes.c_double)]

    p = Point(1.0, 2.0)
    assert f.address_of(p) == ctypes.addressof(p)
    with pytest.raises(TypeError, match="ctypes pointer to int"):
        f.total(ctypes.cast(arr, ctypes.POINTER(ctypes.c_int)), 3)
    ffi, _ = cffi_lib
    buf = ffi.new("double[]", [4.0, 5.0])
    assert f.total(buf, 2) == 9.0
    with pytest.raises(TypeError, match="cdata 'int"):
        f.total(ffi.new("int[]", 2), 2)
    with pytest.raises(OverflowError, match="address"):
        f.is_null(-1)


def test_function_pointer_arguments_take_any_native_callable(f, clib):
    scale = nativecall.native(clib.scale)
    k = ctypes.c_double(4.0)
    assert f.apply(scale, 2.0, ctypes.addressof(k)) == 8.0
    assert f.apply(clib.scale, 2.0, None) == 2.0  # a ctypes function
    assert f.apply(scale.capsule(), 3.0, None) == 3.0
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, ctypes.c_void_p)
    assert f.apply(proto(lambda x, _: x * x), 3.0, None) == 9.0  # a Python callback
    with pytest.raises(TypeError, match=r"needs a function 'double \(double, void \*\)', got gauss with 'double \(double\)'"):
        f.apply(clib.gauss, 1.0, None)
    with pytest.raises(TypeError, match="function pointer"):
        f.apply("scale", 1.0, None)


def _longest_stall_of_this_thread(call, n, threads=2):
    """Run ``call(n)`` in ``threads`` threads; return their results, the longest time this
    thread went without running Python while a call ran, and the shortest call's duration."""
    results, spans = [], []

    def work():
        start = time.perf_counter()
        results.append(call(n))
        spans.append((start, time.perf_counter()))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    ticks = [time.perf_counter()]
    for t in workers:
        t.start()
    while any(t.is_alive() for t in workers):
        ticks.append(time.perf_counter())
    for t in workers:
        t.join()
    stall = 0.0
    for start, end in spans:
        inside = [start] + [t for t in ticks if start < t < end] + [end]
        stall = max(stall, max(b - a for a, b in zip(inside, inside[1:])))
    return results, stall, min(end - start for start, end in spans)


def _slow_sum_size(f):
    """An `n` for which `f.slow_sum(n)` takes about 0.3 s on this machine, whatever its speed."""
    start = time.perf_counter()
    f.slow_sum(10_000_000)
    return min(max(int(10_000_000 * 0.3 / (time.perf_counter() - start)), 10_000_000), 500_000_000)


def test_calls_with_nogil_release_the_gil_and_run_in_parallel_threads(f, clib):
    n = _slow_sum_size(f)
    expected = f.slow_sum(n)
    released = nativecall.native(clib.slow_sum, nogil=True)
    assert released.nogil and not f.slow_sum.nogil
    results, stall, duration = _longest_stall_of_this_thread(released, n)
    assert results == [expected] * 2
    # While the native code runs without the GIL, this thread keeps running Python.
    assert stall < duration / 2, f"this thread stalled {stall:.3f} s during {duration:.3f} s calls"


def test_calls_hold_the_gil_by_default_as_cython_and_numba_do(f, clib_path):
    n = _slow_sum_size(f)
    expected = f.slow_sum(n)
    results, stall, duration = _longest_stall_of_this_thread(f.slow_sum, n)
    assert results == [expected] * 2
    assert stall > duration * 0.9, f"this thread stalled only {stall:.3f} s during {duration:.3f} s calls"

    # ctypes.PyDLL, which holds the GIL during the call, measures the same.
    held = ctypes.PyDLL(str(clib_path)).slow_sum
    held.restype, held.argtypes = ctypes.c_double, [ctypes.c_int64]
    results, stall, duration = _longest_stall_of_this_thread(held, n)
    assert results == [expected] * 2
    assert stall > duration * 0.9, f"this thread stalled only {stall:.3f} s during {duration:.3f} s calls"


def test_long_double_calls_are_refused_not_truncated():
    import scipy.special.cython_special as cs  # exports a long double specialisation

    fns = nativecall.cython_functions(cs)
    ld = [nc for nc in fns.values() if "long double" in str(nc.signature)]
    assert ld, "scipy exports a long double function"
    with pytest.raises(TypeError, match="long double"):
        ld[0](1.0)


def test_unnamed_ctypes_function_pointers_are_named_by_address_and_signature(clib):
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, ctypes.c_double, ctypes.c_double)
    cast = ctypes.cast(clib.add3, proto)
    address = ctypes.cast(clib.add3, ctypes.c_void_p).value
    nc = nativecall.native(cast)
    assert nc.name == f"ctypes function at {address:#x} 'double (double, double, double)'"
    assert "CFunctionType" not in repr(nc)
    with pytest.raises(TypeError, match=f"argument 2 of ctypes function at {address:#x} 'double .*' .double. must be a float"):
        nc(1.0, "x", 2.0)
    assert nc(1.0, 2.0, 3.0) == 1 + 20 + 300
    assert nativecall.native(clib.add3).name == "add3"


def test_cffi_export_without_an_ffi_says_one_is_needed(clib):
    nc = nativecall.native(clib.add3)
    for bad in (None, 3, "ffi"):
        with pytest.raises(TypeError, match=r"add3.cffi\(ffi\) needs the cffi.FFI instance .*got " + type(bad).__name__):
            nc.cffi(bad)


def _first(p):
    return p[0]


def test_calls_through_the_python_adapters_import_no_module_once_warm():
    import ctypes
    import sys

    first = nativecall.jit("float64(float64*)")(_first)
    value = ctypes.c_double(2.5)
    assert first(ctypes.pointer(value)) == 2.5  # looks the adapter up
    assert first.ctypes(ctypes.pointer(value)) == 2.5  # and the ctypes export
    saved = sys.modules["nativecall._interop"]
    sys.modules["nativecall._interop"] = None  # any import of it now raises ImportError
    try:
        value.value = -4.0
        assert first(ctypes.pointer(value)) == -4.0
        assert first.ctypes(ctypes.pointer(value)) == -4.0
    finally:
        sys.modules["nativecall._interop"] = saved
