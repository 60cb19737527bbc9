# cython: language_level=3, boundscheck=False, wraparound=False
"""A Cython loop that calls any nativecall kernel (or native callable) without the GIL."""

from nativecall cimport function_pointer

ctypedef double (*integrand_t)(double) noexcept nogil


def simpson(f, double a, double b, Py_ssize_t n):
    """Simpson's rule for f over [a, b] with n (even) intervals; f is any native callable
    with signature double (double): a nativecall kernel, a capsule, a ctypes function..."""
    cdef integrand_t fp = <integrand_t> function_pointer(f, b"double (double)")
    cdef double h = (b - a) / n, s
    cdef Py_ssize_t i
    if n % 2:
        raise ValueError("n must be even")
    with nogil:
        s = fp(a) + fp(b)
        for i in range(1, n):
            s += (4.0 if i % 2 else 2.0) * fp(a + i * h)
    return s * h / 3.0
