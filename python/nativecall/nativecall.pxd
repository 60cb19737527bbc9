# nativecall.pxd: typed C function pointers from native-callable Python objects, for Cython.
#
#     # cythonize(..., include_path=[nativecall.get_include()])
#     from nativecall cimport function_pointer
#
#     ctypedef double (*func_t)(double) noexcept nogil
#     cdef func_t f = <func_t> function_pointer(kernel, b"double (double)")
#     with nogil:
#         y = f(x)
#
# `function_pointer(obj, signature)` accepts a Kernel, NativeCallable, capsule,
# scipy.LowLevelCallable, ctypes or cffi function pointer or Numba cfunc whose signature
# is ABI-equal to `signature`, and raises TypeError naming both signatures otherwise.
# The pointer is valid while `obj` is alive.

cdef extern from "nativecall.h":
    void *function_pointer "nativecall_function_pointer" (object obj, const char *signature) except NULL
