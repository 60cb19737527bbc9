"""The fast entry for calls from Python: scalar signatures called without libffi, the GIL
held unless ``nogil=True``, keyword arguments refused, conversions as on the general path."""

import ctypes
import threading
import time

import numpy as np
import pytest

import nativecall


@nativecall.jit("float64(int64)")
def harmonic(n):
    s = 0.0
    for i in range(1, n + 1):
        s += 1.0 / i
    return s


@nativecall.jit("float64(int64)", nogil=True)
def harmonic_nogil(n):
    s = 0.0
    for i in range(1, n + 1):
        s += 1.0 / i
    return s


def _python_ticks_during(call, n):
    """Run ``call(n)`` in another thread; the longest time this thread went without running
    Python while it ran, and how long it ran."""
    done = []

    def work():
        start = time.perf_counter()
        done.append(call(n))
        done.append(time.perf_counter() - start)

    t = threading.Thread(target=work)
    ticks = [time.perf_counter()]
    t.start()
    while t.is_alive():
        ticks.append(time.perf_counter())
    t.join()
    ticks.append(time.perf_counter())
    return max(b - a for a, b in zip(ticks, ticks[1:])), done[1]


def _size_for(seconds):
    start = time.perf_counter()
    harmonic(10_000_000)
    took = time.perf_counter() - start
    return min(max(int(10_000_000 * seconds / took), 10_000_000), 10**9)


def test_a_kernel_made_with_nogil_lets_other_threads_run_during_a_long_call():
    n = _size_for(0.3)
    assert harmonic_nogil.nogil and not harmonic.nogil
    assert harmonic_nogil(n) == harmonic(n)
    stall, duration = _python_ticks_during(harmonic_nogil, n)
    assert stall < duration / 2, f"this thread stalled {stall:.3f} s during a {duration:.3f} s call"


def test_a_kernel_holds_the_gil_during_a_call_by_default():
    n = _size_for(0.3)
    stall, duration = _python_ticks_during(harmonic, n)
    assert stall > duration * 0.9, f"this thread stalled only {stall:.3f} s during a {duration:.3f} s call"


def test_native_with_nogil_releases_the_gil_in_a_copy_not_in_the_callable_given():
    libc = ctypes.CDLL(None)
    usleep = libc.usleep
    usleep.restype, usleep.argtypes = ctypes.c_int, [ctypes.c_uint]
    held = nativecall.native(usleep)
    released = nativecall.native(held, nogil=True)
    assert released is not held and released.nogil and not held.nogil
    assert released.address == held.address and released.signature == held.signature
    stall, duration = _python_ticks_during(released, 300_000)
    assert duration >= 0.29 and stall < duration / 2
    stall, duration = _python_ticks_during(held, 300_000)
    assert stall > duration * 0.9


def test_keyword_arguments_are_refused_naming_the_positional_signature():
    @nativecall.jit("float64(float64, float64)")
    def hypot2(x, y):
        return x * x + y * y

    with pytest.raises(
        TypeError,
        match=r"hypot2\(\) takes no keyword arguments, got 'y'; pass the 2 arguments \(double \(double, double\)\) by position",
    ):
        hypot2(1.0, y=2.0)
    with pytest.raises(TypeError, match=r"takes no keyword arguments, got 'x', 'y'"):
        hypot2(x=1.0, y=2.0)
    assert hypot2(3.0, 4.0) == 25.0


def test_wrong_arity_on_the_fast_entry_reads_as_on_the_general_path():
    @nativecall.jit("float64(float64)")
    def half(x):
        return x / 2

    with pytest.raises(TypeError, match=r"^half\(\) takes 1 argument \(double \(double\)\), got 2$"):
        half(1.0, 2.0)
    with pytest.raises(TypeError, match=r"^half\(\) takes 1 argument \(double \(double\)\), got 0$"):
        half()


@nativecall.jit("int8(int8, uint16, int32, uint32, int64, uint64, bool)")
def mix_ints(a, b, c, d, e, f, g):
    return a + (1 if g else 0)


@nativecall.jit("uint64(uint64)")
def u64_same(x):
    return x


@nativecall.jit("float32(float32)")
def f32_same(x):
    return x


def test_ints_of_every_width_take_exact_ints_and_keep_every_range_check():
    assert mix_ints(-128, 65535, -(2**31), 2**32 - 1, -(2**63), 2**64 - 1, False) == -128
    assert mix_ints(126, 0, 0, 0, 0, 0, True) == 127
    assert mix_ints(True, 0, 0, 0, 0, 0, 1) == 2  # bools and 0/1 as on the general path
    assert u64_same(2**64 - 1) == 2**64 - 1
    assert mix_ints(np.int8(5), np.uint16(7), 0, 0, 0, 0, np.bool_(True)) == 6
    with pytest.raises(OverflowError, match=r"argument 1 of mix_ints \(int8_t\) cannot hold 128: the range is -128..=127"):
        mix_ints(128, 0, 0, 0, 0, 0, False)
    with pytest.raises(OverflowError, match=r"argument 6 of mix_ints \(uint64_t\) cannot hold -1"):
        mix_ints(0, 0, 0, 0, 0, -1, False)
    with pytest.raises(OverflowError, match=r"cannot hold 18446744073709551616"):
        u64_same(2**64)
    with pytest.raises(TypeError, match=r"argument 1 of mix_ints \(int8_t\) must be an int, got float 1\.0"):
        mix_ints(1.0, 0, 0, 0, 0, 0, False)
    with pytest.raises(OverflowError, match=r"argument 7 of mix_ints \(bool\) must be True, False, 0 or 1, got 2"):
        mix_ints(0, 0, 0, 0, 0, 0, 2)


def test_floats_and_complex_numbers_take_every_value_the_general_path_takes():
    assert f32_same(0.5) == 0.5
    assert f32_same(np.float32(1.25)) == 1.25
    assert f32_same(3) == 3.0
    assert f32_same(float("inf")) == float("inf")
    with pytest.raises(OverflowError, match=r"argument 1 of f32_same \(float\) cannot hold 1e300: the largest float is 3.4028234663852886e38"):
        f32_same(1e300)
    with pytest.raises(TypeError, match=r"must be a real number, got complex"):
        f32_same(1j)
    from scipy import special

    cgamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "complex128(complex128)")
    assert cgamma(1 + 1j) == special.gamma(1 + 1j)
    assert cgamma(4) == special.gamma(4 + 0j)  # an int for a complex parameter


def test_pointers_as_ints_and_void_results_take_the_fast_entry(clib):
    is_null = nativecall.native(clib.is_null)
    assert is_null(None) == 1 and is_null(0) == 1
    buf = ctypes.c_double(1.0)
    assert is_null(ctypes.addressof(buf)) == 0
    libc = ctypes.CDLL(None)
    srand = libc.srand
    srand.restype, srand.argtypes = None, [ctypes.c_uint]
    assert nativecall.native(srand)(7) is None


def test_a_nogil_kernel_pickles_with_nogil_and_a_plain_one_without():
    import pickle

    released = nativecall.jit("float64(float64)", nogil=True)(_pickled_square)
    held = nativecall.jit("float64(float64)")(_pickled_square)
    for kernel, nogil in [(released, True), (held, False)]:
        copy = pickle.loads(pickle.dumps(kernel))
        assert copy is not kernel and copy.nogil is nogil
        assert copy(3.0) == 9.0


def _pickled_square(x):
    return x * x
