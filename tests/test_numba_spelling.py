"""Code written for Numba ports by changing the import: ``nativecall.types`` and
``nativecall.cfunc`` spell signatures and callbacks as Numba does (and take Numba's own
type objects), and ``@nativecall.jit`` without a signature dispatches on argument types."""

import ctypes
import math

import numba
import numpy as np
import pytest
import scipy.integrate
from scipy import LowLevelCallable

import nativecall
from nativecall import cfunc, types

# ---------------------------------------------------------------------------- signatures


def test_nativecall_types_spell_the_same_signature_as_the_string():
    sig = types.float64(types.intc, types.CPointer(types.float64))
    assert isinstance(sig, nativecall.Signature)
    assert sig == nativecall.Signature("float64(intc, float64*)")
    assert str(sig) == "double (int, double *)"
    assert types.void(types.voidptr, types.intp) == nativecall.Signature("void (void *, npy_intp)")
    assert types.boolean(types.uint8, types.complex128) == nativecall.Signature("bool (uint8, complex128)")
    assert types.CPointer(types.CPointer(types.int32)) == nativecall.Type("int32_t **")


def test_numba_signatures_convert_to_the_same_nativecall_signature_as_the_string():
    nt = numba.types
    cases = [
        (nt.float64(nt.intc, nt.CPointer(nt.float64)), "float64(intc, float64*)"),
        (nt.float64(nt.intc, nt.CPointer(nt.float64), nt.voidptr), "double (int, double *, void *)"),
        (nt.int32(nt.intp, nt.CPointer(nt.intp), nt.float64, nt.int64), "int (npy_intp, npy_intp *, double, int64)"),
        (nt.void(nt.uint8, nt.boolean, nt.float32), "void (uint8_t, bool, float)"),
        (nt.complex128(nt.complex64), "complex128(complex64)"),
        (nt.float64(nt.float64[:, ::1], nt.int32[:]), "float64(float64[:, ::1], int32[:])"),
    ]
    for numba_sig, text in cases:
        assert types.as_signature(numba_sig) == nativecall.Signature(text), (numba_sig, text)
    assert types.as_type(nt.CPointer(nt.float64)) == types.CPointer(types.float64)


def test_a_numba_type_with_no_native_equivalent_is_refused_by_name():
    with pytest.raises(TypeError, match="unicode_type"):
        types.as_signature(numba.types.float64(numba.types.unicode_type))


# ---------------------------------------------------------------------------- cfunc


def _quad_integrand(n, xx):
    # scipy's quad calls f(n, xx) with xx[0] the point and xx[1:] the extra args
    t, a = xx[0], xx[1]
    return math.exp(-a * t) * math.cos(t)


quad_sig = types.float64(types.intc, types.CPointer(types.float64))
ported = cfunc(quad_sig)(_quad_integrand)
original = numba.cfunc(numba.types.float64(numba.types.intc, numba.types.CPointer(numba.types.float64)))(
    _quad_integrand
)


def test_a_scipy_quad_integrand_ported_by_the_import_gives_numbas_result():
    for a in (0.5, 2.0):
        got = scipy.integrate.quad(LowLevelCallable(ported.ctypes), 0.0, 10.0, args=(a,))[0]
        want = scipy.integrate.quad(LowLevelCallable(original.ctypes), 0.0, 10.0, args=(a,))[0]
        exact = (a - math.exp(-10 * a) * (a * math.cos(10) - math.sin(10))) / (a * a + 1)
        assert got == want
        assert got == pytest.approx(exact, rel=1e-12)


def test_a_cfunc_has_numbas_address_ctypes_cffi_and_native_name():
    assert isinstance(ported, nativecall.CFunc)
    assert ported.native_name == ported.kernel.name
    raw = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int, ctypes.POINTER(ctypes.c_double))(ported.address)
    xx = (ctypes.c_double * 2)(1.5, 0.25)
    assert raw(2, xx) == math.exp(-0.375) * math.cos(1.5)
    assert ported.ctypes(2, xx) == raw(2, xx)
    from_cffi = scipy.integrate.quad(LowLevelCallable(ported.cffi), 0.0, 1.0, args=(0.25,))[0]
    assert from_cffi == scipy.integrate.quad(LowLevelCallable(original.ctypes), 0.0, 1.0, args=(0.25,))[0]
    assert nativecall.native(ported) is ported.kernel
    assert ported.signature == nativecall.Signature("double (int, double *)")


def test_a_cfunc_with_user_data_goes_through_lowlevelcallable_with_its_user_data():
    @cfunc(types.float64(types.intc, types.CPointer(types.float64), types.voidptr))
    def integrand(n, xx, user_data):
        return xx[0] * xx[0]

    data = ctypes.cast(ctypes.pointer(ctypes.c_double(3.0)), ctypes.c_void_p)
    llc = LowLevelCallable(integrand.ctypes, data)
    assert llc.signature == "double (int, double *, void *)"
    assert scipy.integrate.quad(llc, 0.0, 2.0)[0] == pytest.approx(8.0 / 3.0, rel=1e-14)


def test_cfunc_takes_numba_signatures_strings_and_signatures_alike():
    def f(x, y):
        return x * y + 1.0

    numba_sig = numba.types.float64(numba.types.float64, numba.types.int32)
    for sig in (numba_sig, "float64(float64, int32)", types.float64(types.float64, types.int32)):
        c = cfunc(sig, cache=True, nopython=True)(f)
        assert c(2.5, 4) == 11.0
        assert c.signature == nativecall.Signature("double (double, int32_t)")
        assert nativecall.jit(sig)(f).signature == c.signature


def test_cfunc_refuses_options_it_does_not_know_and_a_missing_signature():
    with pytest.raises(TypeError, match="parallel"):
        cfunc("float64(float64)", parallel=True)
    with pytest.raises(TypeError, match="needs a signature"):
        cfunc(_quad_integrand)
    with pytest.raises(TypeError, match="expected a signature"):
        cfunc(3.0)


def test_jit_takes_a_signature_built_from_types():
    @nativecall.jit(types.float64(types.CPointer(types.float64), types.intp))
    def total(p, n):
        s = 0.0
        for i in range(n):
            s += p[i]
        return s

    values = (ctypes.c_double * 3)(1.0, 2.0, 4.5)
    assert total(values, 3) == 7.5


# ---------------------------------------------------------------------------- dispatch


def test_a_kernel_without_a_signature_compiles_once_per_argument_types():
    @nativecall.jit
    def half(x):
        return x // 2

    assert isinstance(half, nativecall.Dispatcher)
    assert half(7) == 3 and type(half(7)) is int
    assert half(7.5) == 3.0 and type(half(7.5)) is float
    assert half(9) == 4
    assert half(True) == 0 and half(np.int8(-7)) == -4
    assert half(-(2**63)) == -(2**62)
    assert half(np.float32(5.0)) == 2.0
    assert list(half.overloads) == [("int64_t",), ("double",), ("bool",), ("int8_t",), ("float",)]
    assert [str(s) for s in half.signatures] == [
        "int64_t (int64_t)", "double (double)", "int64_t (bool)", "int64_t (int8_t)", "double (float)"
    ]  # bool // int computes in int64, as int8 // int64 does; float32 // int gives float64


def test_a_kernel_without_a_signature_takes_numpy_and_nativecall_arrays_by_dtype_and_ndim():
    @nativecall.jit(nopython=True, cache=True)
    def total(a):
        s = 0
        for i in range(a.shape[0]):
            s += a[i]
        return s

    assert total(np.arange(5, dtype=np.int32)) == 10
    assert total(np.linspace(0.0, 1.0, 5)) == 2.5
    assert total(nativecall.asarray(np.arange(4.0))) == 6.0
    assert total(np.arange(10.0)[::2]) == 20.0
    assert set(total.overloads) == {("int[::1]",), ("double[::1]",), ("double[:]",)}


def test_calling_a_kernel_without_a_signature_with_an_unsupported_value_names_the_argument():
    @nativecall.jit
    def add(x, y):
        return x + y

    with pytest.raises(TypeError, match=r"argument 'y' is a builtins.str"):
        add(1.0, "two")
    assert add.overloads == {}


def test_a_kernel_calling_one_without_a_signature_compiles_it_for_each_call_sites_types():
    @nativecall.jit
    def square(x):
        return x * x

    @nativecall.jit("float64(float64, int64)")
    def both(a, n):
        k = square(n)  # int64: stays an integer (exact beyond 2**53)
        return square(a) + k // 2

    assert both(1.5, 3) == 2.25 + 4
    assert set(square.overloads) == {("double",), ("int64_t",)}
    assert square.overloads[("int64_t",)].signature.restype == nativecall.int64


def test_a_numba_njit_function_called_from_a_kernel_is_compiled_from_its_source():
    @numba.njit
    def cube(x):
        return x * x * x

    @nativecall.jit("float64(float64)")
    def uses_numba_helper(x):
        return cube(x) + 1.0

    assert uses_numba_helper(2.0) == 9.0
    assert uses_numba_helper(-1.5) == cube(-1.5) + 1.0


def test_jit_still_refuses_options_it_does_not_know():
    with pytest.raises(TypeError, match="parallel"):
        nativecall.jit(parallel=True)


@pytest.mark.skipif(not hasattr(nativecall, "carray"), reason="nativecall.carray is not in this build")
def test_a_kernel_naming_numbas_carray_compiles_it_as_nativecalls():
    @cfunc(types.float64(types.intc, types.CPointer(types.float64)))
    def mean(n, xx):
        values = numba.carray(xx, n)
        s = 0.0
        for i in range(n):
            s += values[i]
        return s / n

    data = (ctypes.c_double * 4)(1.0, 2.0, 4.0, 9.0)
    assert mean(4, data) == 4.0


def test_a_kernel_without_a_signature_is_not_a_function_pointer_and_says_so():
    @nativecall.jit
    def square(x):
        return x * x

    with pytest.raises(nativecall.TypingError, match="'square' is a kernel without a signature"):

        @nativecall.jit("float64(float64)")
        def holds_it(x):
            f = square
            return x

    with pytest.raises(OverflowError, match="argument 'x' = 1180591620717411303424 does not fit in int64"):
        square(2**70)



@nativecall.jit
def cube(x):
    return x * x * x


@nativecall.jit("float64(float64)")
def cube_plus_one(x):
    return cube(x) + 1.0


def test_kernels_without_a_signature_pickle_as_their_source_and_compile_again_on_use():
    import pickle

    again = pickle.loads(pickle.dumps(cube))
    assert isinstance(again, nativecall.Dispatcher) and again is not cube
    assert again.overloads == {}
    assert again(3) == 27 and again(0.5) == 0.125
    caller = pickle.loads(pickle.dumps(cube_plus_one))
    assert caller(2.0) == 9.0


# ---------------------------------------------------------------------------- ports of Numba callbacks
#
# Each callback is the text a Numba user wrote; its port is the same text with `numba`
# replaced by `nativecall` in the import lines only. Both run through the scipy consumer
# the callback was written for, and must give the same result. Ports that need a part of
# the kernel language this build lacks are skipped, naming it.

import importlib.util  # noqa: E402
import re  # noqa: E402

import scipy.ndimage  # noqa: E402

QUAD_TUTORIAL = '''
import math
from numba import cfunc, types

@cfunc(types.float64(types.intc, types.CPointer(types.float64)))
def integrand(n, xx):
    t, a = xx[0], xx[1]
    return math.exp(-a * t) * math.cos(t)
'''

NUMBA_DOCS_QUAD = '''
import numpy as np
from numba import cfunc

@cfunc("float64(float64)")
def integrand(t):
    return np.exp(-t) / t**2
'''

NDIMAGE_SHIFT = '''
from numba import cfunc, types

@cfunc(types.intc(types.CPointer(types.intp), types.CPointer(types.double), types.intc, types.intc, types.voidptr))
def transform(output_coordinates, input_coordinates, output_rank, input_rank, user_data):
    for i in range(input_rank):
        input_coordinates[i] = output_coordinates[i] - 0.5
    return 1
'''

NDIMAGE_SHIFT_USER_DATA = '''
from numba import cfunc, types, carray

@cfunc(types.intc(types.CPointer(types.intp), types.CPointer(types.double), types.intc, types.intc, types.voidptr))
def transform(output_coordinates_ptr, input_coordinates_ptr, output_rank, input_rank, user_data):
    input_coordinates = carray(input_coordinates_ptr, (output_rank,))
    output_coordinates = carray(output_coordinates_ptr, (output_rank,))
    shift = carray(user_data, (1,), types.double)[0]
    for i in range(input_rank):
        input_coordinates[i] = output_coordinates[i] - shift
    return 1
'''

NDIMAGE_MEAN = '''
from numba import cfunc, carray
from numba.types import intc, intp, float64, voidptr
from numba.types import CPointer

@cfunc(intc(CPointer(float64), intp, CPointer(float64), voidptr))
def nbmean(values_ptr, len_values, result, data):
    values = carray(values_ptr, (len_values,), dtype=float64)
    result[0] = 0
    for v in values:
        result[0] += v
    result[0] /= len_values
    return 1
'''


def _load(source, lib, tmp_path, name):
    if lib == "nativecall":
        source = re.sub(r"^(from|import) numba\b", r"\1 nativecall", source, flags=re.M)
    path = tmp_path / f"{name}_{lib}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"{name}_{lib}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (nativecall.CompileError, ImportError) as e:
        if lib == "nativecall" and not _complete_build():
            pytest.skip(f"this build's kernel language lacks what {name} uses: {getattr(e, 'message', e)}")
        raise
    return module


def _complete_build():
    """Whether this build has the array views and NumPy functions (issue 11's items 1-2)."""
    return hasattr(nativecall, "carray") and hasattr(nativecall, "farray")


def _quad(f, *args):
    return scipy.integrate.quad(LowLevelCallable(f.ctypes), 0.0, 10.0, args=args)[0]


def test_port_scipys_quad_tutorial_integrand_by_the_import(tmp_path):
    ported, original = (_load(QUAD_TUTORIAL, lib, tmp_path, "quad").integrand for lib in ("nativecall", "numba"))
    assert isinstance(ported, nativecall.CFunc)
    for a in (0.25, 3.0):
        assert _quad(ported, a) == _quad(original, a)


def test_port_numbas_docs_cfunc_example_by_the_import(tmp_path):
    ported, original = (_load(NUMBA_DOCS_QUAD, lib, tmp_path, "docs").integrand for lib in ("nativecall", "numba"))
    got = scipy.integrate.quad(ported.ctypes, 1, np.inf)
    assert got == scipy.integrate.quad(original.ctypes, 1, np.inf)
    assert got[0] == pytest.approx(0.14849550677592205, rel=1e-9)


def test_port_scipys_ndimage_shift_transform_by_the_import(tmp_path):
    image = np.arange(12, dtype=np.float64).reshape(4, 3)
    results = []
    for lib in ("nativecall", "numba"):
        transform = _load(NDIMAGE_SHIFT, lib, tmp_path, "shift").transform
        results.append(scipy.ndimage.geometric_transform(image, LowLevelCallable(transform.ctypes)))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], scipy.ndimage.shift(image, 0.5, order=3, mode="constant"))


def test_port_scipys_ndimage_shift_with_user_data_by_the_import(tmp_path):
    image = np.arange(12, dtype=np.float64).reshape(4, 3)
    shift = ctypes.c_double(0.5)
    ptr = ctypes.cast(ctypes.pointer(shift), ctypes.c_void_p)
    results = []
    for lib in ("nativecall", "numba"):
        transform = _load(NDIMAGE_SHIFT_USER_DATA, lib, tmp_path, "shift_data").transform
        results.append(scipy.ndimage.geometric_transform(image, LowLevelCallable(transform.ctypes, ptr)))
    np.testing.assert_array_equal(results[0], results[1])


def test_port_scipys_ndimage_generic_filter_mean_by_the_import(tmp_path):
    image = np.arange(30, dtype=np.float64).reshape(5, 6) ** 1.5
    results = []
    for lib in ("nativecall", "numba"):
        nbmean = _load(NDIMAGE_MEAN, lib, tmp_path, "mean").nbmean
        results.append(scipy.ndimage.generic_filter(image, LowLevelCallable(nbmean.ctypes), size=3))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], scipy.ndimage.uniform_filter(image, size=3, mode="reflect"), rtol=1e-12)


import cmath  # noqa: E402


def _complex_integrand(n, xx):
    # A Fourier-type integrand written with complex numbers, as Numba users write it.
    t, k = xx[0], xx[1]
    z = cmath.exp(1j * k * t) / (1.0 + t * t)
    w = z * z.conjugate() + 0.5j * z
    return z.real + w.imag - abs(z) * 0.25


def test_a_numba_complex_integrand_ported_by_the_import_gives_numbas_result():
    ported_c = cfunc(quad_sig)(_complex_integrand)
    original_c = numba.cfunc(numba.types.float64(numba.types.intc, numba.types.CPointer(numba.types.float64)))(
        _complex_integrand
    )
    for k in (0.5, 3.0):
        got = scipy.integrate.quad(LowLevelCallable(ported_c.ctypes), 0.0, 5.0, args=(k,))[0]
        want = scipy.integrate.quad(LowLevelCallable(original_c.ctypes), 0.0, 5.0, args=(k,))[0]
        assert got == pytest.approx(want, rel=1e-13)
    # Point by point the port is CPython's arithmetic exactly (Numba's may differ in the last bit).
    for t, k in [(0.1, 0.5), (2.5, 3.0), (4.75, -1.25)]:
        xx = (ctypes.c_double * 2)(t, k)
        assert ported_c.ctypes(2, xx) == _complex_integrand(2, [t, k])
        assert ported_c.ctypes(2, xx) == pytest.approx(original_c.ctypes(2, xx), rel=1e-14, abs=1e-15)


# A robust local filter (median plus median absolute deviation plus spread) with a scratch
# array, and a climate-style gap filler replacing NaN by the median of its neighbours.
NDIMAGE_ROBUST = '''
import numpy as np
from numba import cfunc, carray
from numba.types import intc, intp, float64, voidptr, CPointer

@cfunc(intc(CPointer(float64), intp, CPointer(float64), voidptr))
def robust(values_ptr, len_values, result, data):
    values = carray(values_ptr, (len_values,), dtype=float64)
    med = np.median(values)
    dev = np.empty(len_values)
    for i in range(len_values):
        dev[i] = abs(values[i] - med)
    result[0] = med + np.median(dev) + values.std() + np.var(values) - values.min() / values.max()
    return 1
'''

NDIMAGE_GAP_FILL = '''
import numpy as np
from numba import cfunc, carray
from numba.types import intc, intp, float64, voidptr, CPointer

@cfunc(intc(CPointer(float64), intp, CPointer(float64), voidptr))
def gapfill(values_ptr, len_values, result, data):
    values = carray(values_ptr, (len_values,), dtype=float64)
    center = values[len_values // 2]
    if np.isnan(center):
        result[0] = np.nanmedian(values)
    else:
        result[0] = center
    return 1
'''


def _robust(v):
    med = np.median(v)
    return med + np.median(np.abs(v - med)) + v.std() + np.var(v) - v.min() / v.max()


def test_port_a_generic_filter_with_median_std_and_a_scratch_array_by_the_import(tmp_path):
    image = np.random.default_rng(5).random((23, 17)) * 10 + 1
    results = []
    for lib in ("nativecall", "numba"):
        robust = _load(NDIMAGE_ROBUST, lib, tmp_path, "robust").robust
        results.append(scipy.ndimage.generic_filter(image, LowLevelCallable(robust.ctypes), size=(3, 5)))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-13)
    np.testing.assert_allclose(results[0], scipy.ndimage.generic_filter(image, _robust, size=(3, 5)), rtol=1e-12)


def test_port_a_nanmedian_gap_filler_by_the_import(tmp_path):
    image = np.random.default_rng(6).random((19, 21))
    image[np.random.default_rng(7).random(image.shape) < 0.3] = np.nan
    results = []
    for lib in ("nativecall", "numba"):
        gapfill = _load(NDIMAGE_GAP_FILL, lib, tmp_path, "gapfill").gapfill
        results.append(scipy.ndimage.generic_filter(image, LowLevelCallable(gapfill.ctypes), size=5))
    np.testing.assert_array_equal(results[0], results[1])
    assert np.isnan(image).sum() > 50 and np.isnan(results[0]).sum() < np.isnan(image).sum()
