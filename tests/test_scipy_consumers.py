"""Every scipy consumer of LowLevelCallable, fed kernels, against the same function in Python;
extra arguments travel natively (quad's args through 'double (int, double *)', ndimage's
data through user_data)."""

import math

import numpy as np
import pytest
from scipy import integrate, ndimage

import nativecall


@nativecall.jit("float64(float64)")
def bump(x):
    return math.exp(-x * x) * (1.0 + 0.5 * math.sin(3.0 * x))


@nativecall.jit("float64(float64, float64, float64)")
def damped(x, a, w):
    return math.exp(-a * x) * math.cos(w * x)


def py_damped(x, a, w):
    return math.exp(-a * x) * math.cos(w * x)


@nativecall.jit("float64(float64, voidptr)")
def scaled_by_data(x, data):
    return 2.0 * x


def test_quad_with_each_of_the_four_signatures():
    want = integrate.quad(bump.py_func, -3, 3)[0]
    assert integrate.quad(bump.lowlevelcallable(), -3, 3)[0] == pytest.approx(want, rel=1e-14)

    want = integrate.quad(py_damped, 0, 10, args=(0.5, 3.0))[0]
    ud = damped.lowlevelcallable("double (double, void *)", user_data=(0.5, 3.0))
    assert ud.signature == "double (double, void *)"
    assert integrate.quad(ud, 0, 10)[0] == pytest.approx(want, rel=1e-14)

    nd = damped.lowlevelcallable("double (int, double *)")
    assert nd.signature == "double (int, double *)"
    assert integrate.quad(nd, 0, 10, args=(0.5, 3.0))[0] == pytest.approx(want, rel=1e-14)

    nd_ud = damped.lowlevelcallable("double (int, double *, void *)")
    assert nd_ud.signature == "double (int, double *, void *)"
    assert integrate.quad(nd_ud, 0, 10, args=(0.5, 3.0))[0] == pytest.approx(want, rel=1e-14)

    # A kernel that takes the void * itself.
    assert integrate.quad(scaled_by_data.lowlevelcallable(), 0, 1)[0] == pytest.approx(1.0, rel=1e-14)


def test_dblquad_tplquad_and_nquad():
    @nativecall.jit("float64(float64, float64)")
    def f2(y, x):
        return x * y * y + math.cos(x)

    @nativecall.jit("float64(float64, float64, float64)")
    def f3(z, y, x):
        return x + 2.0 * y + 3.0 * z * z

    @nativecall.jit("float64(float64, float64, float64)")
    def fn(x0, x1, c):
        return c * math.exp(-(x0 * x0 + x1 * x1))

    want = integrate.dblquad(f2.py_func, 0, 1, 0, 2)[0]
    assert integrate.dblquad(f2.lowlevelcallable("double (int, double *)"), 0, 1, 0, 2)[0] == pytest.approx(want, rel=1e-13)
    want = integrate.tplquad(f3.py_func, 0, 1, 0, 1, 0, 1)[0]
    got = integrate.tplquad(f3.lowlevelcallable("double (int, double *)"), 0, 1, 0, 1, 0, 1)[0]
    assert got == pytest.approx(want, rel=1e-13)
    want = integrate.nquad(fn.py_func, [[-1, 1], [0, 2]], args=(3.0,))[0]
    got = integrate.nquad(fn.lowlevelcallable("double (int, double *)"), [[-1, 1], [0, 2]], args=(3.0,))[0]
    assert got == pytest.approx(want, rel=1e-13)


@nativecall.jit("int32(float64*, intp, float64*, float64, float64)")
def weighted_range(values, n, out, w, floor):
    lo = values[0]
    hi = values[0]
    for i in range(1, n):
        lo = min(lo, values[i])
        hi = max(hi, values[i])
    out[0] = max(w * (hi - lo), floor)
    return 1


def test_generic_filter_with_data_through_user_data():
    rng = np.random.default_rng(0)
    image = rng.random((40, 30))
    llc = weighted_range.lowlevelcallable("int (double *, npy_intp, double *, void *)", user_data=(2.0, 0.1))
    assert llc.signature == "int (double *, npy_intp, double *, void *)"
    got = ndimage.generic_filter(image, llc, size=3)
    want = ndimage.generic_filter(image, lambda v: max(2.0 * (v.max() - v.min()), 0.1), size=3)
    np.testing.assert_array_equal(got, want)
    # scipy also accepts the intptr_t spelling; the same kernel exports under it.
    llc2 = weighted_range.lowlevelcallable("int (double *, intptr_t, double *, void *)", user_data=(2.0, 0.1))
    assert llc2.signature == "int (double *, npy_intp, double *, void *)"


def test_generic_filter1d():
    @nativecall.jit("int32(float64*, intp, float64*, intp, float64)")
    def moving_sum(line_in, n_in, line_out, n_out, scale):
        size = n_in - n_out + 1
        for i in range(n_out):
            s = 0.0
            for j in range(size):
                s += line_in[i + j]
            line_out[i] = scale * s
        return 1

    def py_moving_sum(iline, oline):
        size = len(iline) - len(oline) + 1
        for i in range(len(oline)):
            oline[i] = 0.5 * iline[i : i + size].sum()

    data = np.arange(60.0).reshape(6, 10) ** 1.5
    llc = moving_sum.lowlevelcallable("int (double *, npy_intp, double *, npy_intp, void *)", user_data=(0.5,))
    got = ndimage.generic_filter1d(data, llc, filter_size=3)
    want = ndimage.generic_filter1d(data, py_moving_sum, filter_size=3)
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_geometric_transform():
    @nativecall.jit("int32(intp*, float64*, int32, int32, float64, float64)")
    def shift(out_coords, in_coords, out_rank, in_rank, dy, dx):
        in_coords[0] = out_coords[0] - dy
        in_coords[1] = out_coords[1] - dx
        return 1

    image = np.arange(48.0).reshape(6, 8)
    llc = shift.lowlevelcallable("int (npy_intp *, double *, int, int, void *)", user_data=(0.5, 1.25))
    got = ndimage.geometric_transform(image, llc)
    want = ndimage.geometric_transform(image, lambda c: (c[0] - 0.5, c[1] - 1.25))
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_kernels_using_cython_special_go_to_quad():
    from scipy import special
    from scipy.special import cython_special

    @nativecall.jit("float64(float64)")
    def integrand(x):
        return cython_special.gamma(x) * cython_special.erf(x) + cython_special.jv(0.5, x) - cython_special.loggamma(x)

    def py(x):
        return special.gamma(x) * special.erf(x) + special.jv(0.5, x) - special.loggamma(x).real

    for x in [0.5, 1.5, 2.5]:
        assert integrand(x) == py(x)
    got = integrate.quad(integrand.lowlevelcallable(), 0.5, 3.0)[0]
    assert got == pytest.approx(integrate.quad(py, 0.5, 3.0)[0], rel=1e-13)
