"""Array indexing inside `for` loops (where the code generator drops the wrap-around of
indices it knows are non-negative and splits constant offsets off the address) computes
what the same function computes on NumPy arrays in CPython, for every layout: C and
Fortran order, strided, negative strides, zero-size and single-element arrays."""

import numpy as np
import pytest

import nativecall


def stencil(a, b, sweeps):
    n = a.shape[0]
    m = a.shape[1]
    for s in range(sweeps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                b[i, j] = 0.2 * (a[i, j] + a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                a[i, j] = 0.2 * (b[i, j] + b[i - 1, j] + b[i + 1, j] + b[i, j - 1] + b[i, j + 1])
    return a[n // 2, m // 2] if n > 0 and m > 0 else 0.0


def mixed_signs(v, w):
    # i - 1 reaches -1 (the last element, as in NumPy); i + 2 and 2 * i + 1 do not go negative;
    # the downward loop's index stays non-negative; i + j sums two loop variables.
    n = v.shape[0]
    s = 0.0
    for i in range(n):
        s += v[i - 1] * 3.0 + w[i]
    for i in range(n - 2):
        s += v[i + 2] - v[2 * i // 2]
    for i in range(n - 1, -1, -1):
        s = s * 0.5 + v[i]
    for i in range(-2, 1):
        s += v[i]
    for i in range(n // 2):
        for j in range(n // 2):
            s += v[i + j] * w[1 + j]
    return s


def reassigned(v):
    # The loop variable changes inside the body: its range says nothing about v[i].
    s = 0.0
    for i in range(v.shape[0]):
        i = i - v.shape[0]
        s += v[i]
    return s


STRIDED = "float64(float64[:, :], float64[:, :], int64)"
CONTIGUOUS = "float64(float64[:, ::1], float64[:, ::1], int64)"


def layouts(rows, cols):
    rng = np.random.default_rng(rows * 100 + cols)
    base = rng.random((rows, cols))
    yield "C", base.copy()
    yield "F", np.asfortranarray(base)
    wide = rng.random((2 * rows + 1, 3 * cols + 1))
    yield "strided", wide[::2, ::3][:rows, :cols]
    yield "negative", base.copy()[::-1, ::-1]
    yield "negative rows", base.copy()[::-1, :]


@pytest.mark.parametrize("shape", [(7, 9), (1, 1), (0, 5), (5, 0), (2, 3), (3, 3)])
def test_a_stencil_on_strided_arrays_computes_what_numpy_indexing_computes(shape):
    kernel = nativecall.jit(STRIDED)(stencil)
    for name, a in layouts(*shape):
        b = a * 0.5
        a_ref, b_ref = a.copy(), b.copy()
        want = stencil(a_ref, b_ref, 3)
        got = kernel(a, b, 3)
        assert got == want, name
        assert np.array_equal(a, a_ref) and np.array_equal(b, b_ref), name


@pytest.mark.parametrize("shape", [(7, 9), (1, 1), (0, 5), (4, 0), (3, 3)])
def test_a_stencil_on_contiguous_arrays_computes_what_numpy_indexing_computes(shape):
    kernel = nativecall.jit(CONTIGUOUS)(stencil)
    a = np.random.default_rng(9).random(shape)
    b = a * 0.25
    a_ref, b_ref = a.copy(), b.copy()
    assert kernel(a, b, 2) == stencil(a_ref, b_ref, 2)
    assert np.array_equal(a, a_ref) and np.array_equal(b, b_ref)
    with pytest.raises(ValueError):
        kernel(np.ones((4, 6))[:, ::2], np.ones((4, 3)), 1)  # not C-contiguous: refused


@pytest.mark.parametrize("boundscheck", [False, True])
def test_indices_that_may_be_negative_still_count_from_the_end(boundscheck):
    kernel = nativecall.jit("float64(float64[:], float64[:])", boundscheck=boundscheck)(mixed_signs)
    rng = np.random.default_rng(4)
    for n in [2, 3, 8, 33]:
        v, w = rng.random(n), rng.random(n + 1)
        for x in (v, v[::-1], np.repeat(v, 2)[::2]):
            assert kernel(x, w) == mixed_signs(x, w)
    again = nativecall.jit("float64(float64[:])", boundscheck=boundscheck)(reassigned)
    v = rng.random(6)[::-1]
    assert again(v) == reassigned(v)


def test_an_index_past_the_end_in_a_loop_is_still_caught_with_boundscheck():
    @nativecall.jit("float64(float64[:, :])", boundscheck=True)
    def overrun(a):
        s = 0.0
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                s += a[i, j + 1]
        return s

    a = np.ones((3, 4))
    with pytest.raises(IndexError):
        overrun(a)
    assert overrun(np.ones((3, 0))) == 0.0
