"""Any array NumPy users pass: buffers (memoryview, array.array, bytearray, mmap),
__array_interface__ and DLPack, into kernels and nativecall.asarray, zero-copy, with
dtype/ndim/read-only checks, and the memory kept alive and pinned while it is used."""

import array
import gc
import mmap
import resource

import numpy as np
import pytest
from scipy import integrate

import nativecall


@nativecall.jit("float64(float64[:])")
def total(a):
    s = 0.0
    for i in range(len(a)):
        s += a[i]
    return s


@nativecall.jit("void(float64[:], float64)")
def add(a, v):
    for i in range(len(a)):
        a[i] += v


@nativecall.jit("int64(uint8[:])")
def byte_sum(b):
    s = 0
    for i in range(len(b)):
        s += b[i]
    return s


@nativecall.jit("void(uint8[:])")
def bump(b):
    for i in range(len(b)):
        b[i] += 1


@nativecall.jit("void(float64[:, :])")
def index_fill(a):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] = 10.0 * i + j


class Interface:
    """A producer that speaks only __array_interface__ (as PyPy's micronumpy does)."""

    def __init__(self, **interface):
        self.__array_interface__ = {"version": 3, **interface}


def interface_of(x, readonly=None):
    """A hand-made interface over the NumPy array `x` (keeping `x` alive)."""
    ro = not x.flags.writeable if readonly is None else readonly
    owner = Interface(data=(x.ctypes.data, ro), typestr=x.dtype.str, shape=x.shape, strides=x.strides)
    owner.base = x
    return owner


# ---------------------------------------------------------------- buffers


def test_array_array_bytearray_and_mmap_go_into_kernels_without_a_copy():
    d = array.array("d", [1.0, 2.0, 3.5])
    assert total(d) == 6.5
    add(d, 1.0)
    assert d.tolist() == [2.0, 3.0, 4.5]  # the kernel wrote into the array.array itself

    ba = bytearray(b"\x01\x02\x03\xff")
    assert byte_sum(ba) == 261
    bump(ba)
    assert ba == bytearray(b"\x02\x03\x04\x00")  # uint8 wraps, as in C

    with mmap.mmap(-1, 4096) as mm:
        mm[:3] = b"\x05\x06\x07"
        assert byte_sum(mm) == 18
        bump(mm)
        assert mm[:3] == b"\x06\x07\x08" and mm[4095] == 1
        as_doubles = memoryview(mm).cast("d")
        add(as_doubles, 0.5)
        assert np.frombuffer(mm, np.float64)[100] == 0.5
        as_doubles.release()


def test_memoryview_slices_with_steps_and_negative_strides_keep_their_strides():
    values = array.array("d", range(10))
    assert total(memoryview(values)[::3]) == 0 + 3 + 6 + 9
    assert total(memoryview(values)[::-4]) == 9 + 5 + 1
    m = memoryview(values)[1::2]
    add(m, 100.0)
    assert values.tolist() == [v + 100.0 * (i % 2) for i, v in enumerate(range(10))]
    # A two-dimensional strided buffer (a memoryview of a NumPy view, not the array).
    big = np.zeros((4, 6))
    index_fill(memoryview(big[::2, ::-3]))
    np.testing.assert_array_equal(big[::2, ::-3], 10.0 * np.arange(2)[:, None] + np.arange(2))
    assert np.count_nonzero(big) == 3


def test_buffers_of_the_wrong_element_type_or_rank_are_refused_by_name():
    with pytest.raises(TypeError, match=r"needs double elements, got int8 elements from a memoryview"):
        total(memoryview(bytearray(16)).cast("b"))
    with pytest.raises(TypeError, match=r"needs double elements, got float32 elements from an array"):
        total(array.array("f", [1.0]))
    with pytest.raises(TypeError, match=r"needs uint8_t elements, got int64 elements from an array"):
        byte_sum(array.array("q", [1]))
    with pytest.raises(TypeError, match=r"format 'e' \(2-byte items\) does not hold native array elements"):
        total(memoryview(np.zeros(4, np.float16)))
    with pytest.raises(TypeError, match="needs a 1-dimensional array, got 2 dimensions"):
        total(memoryview(bytearray(32)).cast("d", (2, 2)))
    with pytest.raises(TypeError, match=r"needs an array: .*buffer .*; got list"):
        total([1.0, 2.0])
    # Kernels load whole elements: a buffer starting inside one is refused, not read torn.
    with pytest.raises(BufferError, match="not aligned to its 8-byte float64 elements"):
        total(memoryview(bytearray(17))[1:].cast("d"))
    # Byte strides that are not whole elements cannot be described to a kernel.
    packed = np.zeros(4, dtype=[("x", "<f8"), ("tag", "u1")])["x"]
    with pytest.raises(BufferError, match=r"byte strides \[9\], not whole 8-byte elements"):
        total(memoryview(packed))


def test_read_only_buffers_only_go_where_the_kernel_does_not_write():
    raw = np.arange(4.0).tobytes()
    assert total(memoryview(raw).cast("d")) == 6.0  # bytes are read-only; total only reads
    with pytest.raises(ValueError, match="read-only, and the kernel writes to it"):
        add(memoryview(raw).cast("d"), 1.0)
    ba = bytearray(8)
    with pytest.raises(ValueError, match="read-only"):
        bump(memoryview(ba).toreadonly())
    assert ba == bytearray(8)
    assert byte_sum(memoryview(ba).toreadonly()) == 0
    with pytest.raises(ValueError, match="read-only"):
        bump(b"abc")


# ---------------------------------------------------------------- __array_interface__


def test_array_interface_producers_go_in_zero_copy_with_their_strides():
    x = np.arange(24.0).reshape(4, 6)
    view = x[::2, ::-2]  # non-contiguous, negative stride
    owner = interface_of(view)
    assert total(interface_of(x[1])) == sum(range(6, 12))
    index_fill(owner)
    np.testing.assert_array_equal(x[::2, ::-2], 10.0 * np.arange(2)[:, None] + np.arange(3))
    assert x[1, 0] == 6.0  # rows the view skips are untouched


def test_array_interface_sharing_a_buffer_with_an_offset_or_its_own_buffer():
    ba = bytearray(np.arange(6.0).tobytes())
    # data names a buffer object; offset is in bytes; strides step over every other element.
    strided = Interface(data=ba, offset=8, typestr="<f8", shape=(2,), strides=(16,))
    assert total(strided) == 1.0 + 3.0
    add(strided, 10.0)
    assert np.frombuffer(ba).tolist() == [0.0, 11.0, 2.0, 13.0, 4.0, 5.0]

    class Doubles(bytearray):
        """No data key: the object's own buffer holds the elements."""

        @property
        def __array_interface__(self):
            return {"version": 3, "typestr": "<f8", "shape": (len(self) // 8,)}

    class FrozenDoubles(bytes):
        __array_interface__ = Doubles.__array_interface__

    d = Doubles(np.arange(3.0).tobytes())
    assert total(d) == 3.0
    add(d, 0.25)
    assert np.frombuffer(d).tolist() == [0.25, 1.25, 2.25]
    assert total(FrozenDoubles(np.arange(3.0).tobytes())) == 3.0
    with pytest.raises(ValueError, match="read-only"):
        add(FrozenDoubles(bytes(8)), 1.0)


def test_array_interface_read_only_flag_is_honoured():
    x = np.arange(3.0)
    assert total(interface_of(x, readonly=True)) == 3.0
    with pytest.raises(ValueError, match="read-only, and the kernel writes to it"):
        add(interface_of(x, readonly=True), 1.0)
    flagged_by_int = Interface(data=(x.ctypes.data, 1), typestr="<f8", shape=(3,))  # NumPy reads it as truth
    with pytest.raises(ValueError, match="read-only"):
        add(flagged_by_int, 1.0)
    assert x.tolist() == [0.0, 1.0, 2.0]
    assert nativecall.asarray(interface_of(x, readonly=True)).readonly


@pytest.mark.parametrize(
    "interface, exc, words",
    [
        ({"typestr": "<i1", "shape": (8,)}, TypeError, "needs double elements, got int8 elements from an Interface"),
        ({"typestr": ">f8", "shape": (1,)}, TypeError, r"typestr '>f8' is not in native byte order"),
        ({"typestr": "<f2", "shape": (4,)}, TypeError, r"typestr '<f2' is not a supported element type"),
        ({"typestr": "<f8", "shape": (2,), "strides": (12,)}, BufferError, "not whole 8-byte elements"),
        ({"typestr": "<f8", "shape": (2,), "offset": 8}, BufferError, r"describes bytes 8\.\.24 of a 16-byte buffer"),
        ({"typestr": "<f8", "shape": (2,), "version": 2}, ValueError, "expected 'version': 3, got 2"),
        ({"typestr": "<f8", "shape": (2,), "mask": b"\x00\x01"}, TypeError, "masked arrays are not accepted"),
        ({"typestr": "<f8", "shape": (2, 1)}, TypeError, "needs a 1-dimensional array, got 2"),
        ({"shape": (2,)}, ValueError, "no 'typestr'"),
        ({"typestr": "<f8", "shape": (2,), "data": ("0x1000", False)}, ValueError, r"'data' is not \(int address"),
        ({"typestr": "<f8", "shape": (2,), "data": (0, False)}, ValueError, "a null data address"),
        ({"typestr": "<f8", "shape": (2,), "data": 3.0}, BufferError, "through the buffer of a float"),
    ],
)
def test_bad_array_interfaces_are_clear_errors(interface, exc, words):
    owner = Interface(**{"data": bytearray(16), **interface})
    with pytest.raises(exc, match=words):
        total(owner)


def test_cuda_arrays_are_refused_clearly_on_a_cpu_build():
    class CudaOnly:
        __cuda_array_interface__ = {"version": 3, "data": (0x7F0000000000, False), "typestr": "<f8", "shape": (4,)}

    with pytest.raises(ValueError, match=r"must be in CPU memory, got a CudaOnly in CUDA memory \(__cuda_array_interface__\)"):
        total(CudaOnly())
    with pytest.raises(ValueError, match="CPU only"):
        nativecall.asarray(CudaOnly())


# ---------------------------------------------------------------- nativecall.asarray and lifetimes


@pytest.mark.parametrize(
    "make, dtype, shape, strides",
    [
        (lambda: memoryview(array.array("i", range(12))).cast("B").cast("i", (3, 4)), nativecall.int32, (3, 4), (4, 1)),
        (lambda: array.array("d", [1.0, 2.0]), nativecall.float64, (2,), (1,)),
        (lambda: bytearray(5), nativecall.uint8, (5,), (1,)),
        (lambda: memoryview(array.array("h", range(9)))[::-2], nativecall.int16, (5,), (-2,)),
        (lambda: interface_of(np.zeros((4, 6), np.complex128)[::2, 1::2]), nativecall.complex128, (2, 3), (12, 2)),
        (lambda: np.arange(3.0), nativecall.float64, (3,), (1,)),  # through DLPack
    ],
)
def test_asarray_views_every_kind_of_array_with_its_shape_strides_and_dtype(make, dtype, shape, strides):
    source = make()
    a = nativecall.asarray(source)
    assert isinstance(a, nativecall.Array)
    assert (a.dtype, a.shape, a.strides, a.readonly) == (dtype, shape, strides, False)
    seen = np.from_dlpack(a)
    expected = np.asarray(source)
    np.testing.assert_array_equal(seen, expected)
    assert np.shares_memory(seen, expected)


def test_asarray_of_an_array_is_the_array_itself():
    z = nativecall.zeros(3)
    assert nativecall.asarray(z) is z
    with pytest.raises(TypeError, match=r"nativecall.asarray needs an array: .*; got str"):
        nativecall.asarray("abc")


def test_a_view_keeps_its_source_alive_after_the_source_is_deleted():
    d = array.array("d", [1.5, 2.5])
    a = nativecall.asarray(d)
    del d
    gc.collect()
    array.array("d", [9.0] * 1000)  # reuse freed memory, if any was freed
    assert total(a) == 4.0
    x = np.arange(4.0)
    b = nativecall.asarray(interface_of(x[::-1]))
    del x
    gc.collect()
    np.zeros(1000)
    assert np.from_dlpack(b).tolist() == [3.0, 2.0, 1.0, 0.0]


def test_buffers_stay_pinned_while_a_view_or_its_export_exists():
    ba = bytearray(b"\x01\x02")
    a = nativecall.asarray(ba)
    with pytest.raises(BufferError):
        ba.extend(b"\x00" * 4096)  # would move the memory the view points into
    y = np.from_dlpack(a)  # NumPy's view holds the export after ours is gone
    del a
    gc.collect()
    with pytest.raises(BufferError):
        ba.append(0)
    y[0] = 7
    assert ba[0] == 7
    del y
    gc.collect()
    ba.extend(b"\x00" * 4096)
    assert len(ba) == 4098

    mm = mmap.mmap(-1, 64)
    v = nativecall.asarray(mm)
    with pytest.raises(BufferError):
        mm.close()  # an mmap cannot be unmapped under a view
    del v
    gc.collect()
    mm.close()
    assert mm.closed


def test_a_call_pins_a_buffer_only_for_the_call():
    ba = bytearray(8)
    bump(ba)
    ba.append(1)  # no export is left behind
    assert ba == bytearray(b"\x01" * 8 + b"\x01")


def test_buffers_and_interfaces_in_packed_user_data_reach_scipy_and_stay_pinned():
    @nativecall.jit("float64(float64, float64[:])")
    def affine(x, a):
        return x * a[0] + a[1]

    coefficients = array.array("d", [2.0, 3.0])
    llc = affine.lowlevelcallable("double (double, void *)", user_data=(coefficients,))
    with pytest.raises(BufferError):
        coefficients.append(0.0)
    assert integrate.quad(llc, 0, 1)[0] == pytest.approx(4.0, rel=1e-14)
    coefficients[1] = -1.0  # same memory: the next integral sees it
    assert integrate.quad(llc, 0, 1)[0] == pytest.approx(0.0, abs=1e-14)
    del llc
    gc.collect()
    coefficients.append(0.0)

    x = np.array([0.0, 1.0, 4.0, -5.0])
    llc = affine.lowlevelcallable("double (double, void *)", user_data=(interface_of(x[::-2]),))
    del x
    gc.collect()
    assert integrate.quad(llc, 0, 2)[0] == pytest.approx(-5.0 * 2 + 1.0 * 2, rel=1e-14)


def test_importing_and_dropping_many_views_leaks_nothing():
    raw = bytearray(np.arange(16.0).tobytes())

    def churn(n):
        # Each source is 8 KiB, so a view that leaked its source would show within a few MiB.
        for _ in range(n):
            total(memoryview(raw).cast("d"))
            np.from_dlpack(nativecall.asarray(array.array("d", bytes(8192))))
            total(interface_of(np.zeros(1024)))
            nativecall.asarray(memoryview(bytearray(8192))[::2]).__dlpack__()

    churn(1_000)
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    churn(10_000)
    gc.collect()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown < 8, f"peak RSS grew by {grown:.1f} MiB over 40 000 imports of 8 KiB each"
    raw.append(0)  # and no export is left behind


def _numpy_arrays():
    base = np.arange(48, dtype=np.float64).reshape(4, 12)
    yield "contiguous", base
    yield "fortran", np.asfortranarray(base)
    yield "strided", base[::2, 1::3]
    yield "negative strides", base[::-1, ::-2]
    yield "zero-size", base[:0]
    yield "0-d", np.array(2.5)
    yield "read-only", np.frombuffer(bytes(range(16)), dtype=np.int32)
    for dtype in ["bool", "int8", "uint16", "int32", "uint64", "float32", "complex64", "complex128"]:
        yield dtype, np.arange(6).astype(dtype).reshape(2, 3)


@pytest.mark.parametrize("label, arr", list(_numpy_arrays()), ids=[l for l, _ in _numpy_arrays()])
def test_numpy_arrays_are_described_in_place_as_their_own_dlpack_export_describes_them(label, arr):
    # The direct path reads the ndarray's own fields; the capsule forces the DLPack path.
    direct = nativecall.from_dlpack(arr)
    through_dlpack = nativecall.from_dlpack(arr.__dlpack__(max_version=(1, 0)))
    assert direct.shape == through_dlpack.shape == arr.shape
    assert direct.strides == through_dlpack.strides
    assert direct.dtype == through_dlpack.dtype
    assert direct.readonly == through_dlpack.readonly == (not arr.flags.writeable)
    back = np.from_dlpack(direct)
    assert back.dtype == arr.dtype and np.array_equal(back, arr)
    if arr.size:
        assert np.shares_memory(back, arr)
    assert nativecall.asarray(arr).strides == direct.strides


def test_numpy_arrays_the_direct_path_leaves_to_dlpack_are_refused_or_taken_as_before():
    swapped = np.arange(4, dtype=">f8")
    with pytest.raises((TypeError, BufferError, ValueError), match="byte|order|swap|endian|native"):
        nativecall.from_dlpack(swapped)
    # What DLPack accepts that the direct path leaves to it (unaligned data) still comes in.
    unaligned = np.frombuffer(bytes(range(17)), dtype=np.uint8)[1:].view(np.float64)
    assert np.from_dlpack(nativecall.from_dlpack(unaligned)).tobytes() == unaligned.tobytes()


def test_a_numpy_view_keeps_the_array_alive_after_the_array_is_deleted():
    arr = np.arange(5.0)
    view = nativecall.from_dlpack(arr)
    del arr
    gc.collect()
    assert np.from_dlpack(view).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
