"""Array views over pointers and pointer casts: ``carray``, ``farray`` and ``cast``.

In a kernel, ``carray(ptr, shape, dtype=None)`` is an array view over the memory ``ptr``
points to (compiled to the pointer and its extents; see docs/semantics.md). Outside
kernels ``carray``/``farray`` make the same view as a NumPy array over a ctypes pointer
(as Numba's do), and ``cast`` casts a ctypes pointer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["carray", "farray", "cast"]


def _view(ptr: Any, shape: Any, dtype: Any, order: str) -> Any:
    import ctypes

    import numpy as np

    name = "carray" if order == "C" else "farray"
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not isinstance(ptr, (ctypes._Pointer, ctypes.c_void_p)):
        raise TypeError(
            f"nativecall.{name}() outside a kernel takes a ctypes pointer, got {type(ptr).__name__} "
            f"(in @nativecall.jit kernels it takes a pointer parameter)"
        )
    if dtype is None:
        if not isinstance(ptr, ctypes._Pointer):
            raise TypeError(f"nativecall.{name}() of a void pointer needs dtype=")
        dt = np.dtype(ptr._type_)
    else:
        from ._jit import _record_dtype

        record = _record_dtype(dtype)
        if record is not None:
            dt = record
        else:
            dt = np.dtype(dtype if not hasattr(dtype, "kind") or isinstance(dtype, np.dtype) else str(dtype))
        if isinstance(ptr, ctypes._Pointer) and np.dtype(ptr._type_) != dt:
            raise TypeError(f"nativecall.{name}(): the pointer's element type {np.dtype(ptr._type_)} is not dtype {dt}")
    address = ctypes.cast(ptr, ctypes.c_void_p).value
    if not address:
        raise ValueError(f"nativecall.{name}() of a NULL pointer")
    count = 1
    for n in shape:
        count *= int(n)
    buffer = (ctypes.c_char * (count * dt.itemsize)).from_address(address)
    view = np.frombuffer(buffer, dt, count).reshape(shape, order=order)
    # Records read by attribute (`view[0].field`), as in kernels and in Numba.
    return view.view(np.recarray) if dt.fields is not None else view


def carray(ptr: Any, shape: Any, dtype: Any = None) -> Any:
    """An array view over the memory ``ptr`` points to, in C order: in a kernel, over a
    pointer parameter (``dtype=`` gives the element type of a ``void *``); outside, a NumPy
    array over a ctypes pointer."""
    return _view(ptr, shape, dtype, "C")


def farray(ptr: Any, shape: Any, dtype: Any = None) -> Any:
    """:func:`carray` in Fortran (column-major) order."""
    return _view(ptr, shape, dtype, "F")


def cast(ptr: Any, to: Any) -> Any:
    """``ptr`` as another pointer type: ``cast(user_data, "double *")`` (or a
    :class:`nativecall.Type`). In a kernel, compiled to nothing; outside, a ctypes pointer
    to a number cast with ``ctypes.cast``."""
    import ctypes

    import numpy as np

    from ._native import Type

    t = to if isinstance(to, Type) else Type(to)
    if t.kind != "pointer" or t.pointee.kind not in ("int", "float", "bool"):
        raise TypeError(f"nativecall.cast() outside a kernel casts to a pointer to a number, got {t}")
    if not isinstance(ptr, (ctypes._Pointer, ctypes.c_void_p)):
        raise TypeError(f"nativecall.cast() outside a kernel takes a ctypes pointer, got {type(ptr).__name__}")
    target = ctypes.POINTER(np.ctypeslib.as_ctypes_type(np.dtype(_numpy_name(t.pointee))))
    return ctypes.cast(ptr, target)



def _numpy_name(t: Any) -> str:
    if t.kind == "bool":
        return "bool"
    return f"{'float' if t.kind == 'float' else 'int' if t.signed else 'uint'}{t.bits}"
