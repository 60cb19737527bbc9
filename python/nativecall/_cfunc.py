"""``nativecall.cfunc``: ``numba.cfunc``'s call form and result, backed by a kernel.

A file written for Numba (``from numba import cfunc, types``) ports by changing the
import: the decorator takes the same signatures (a ``nativecall.types`` or Numba
signature object, or its text) and returns an object with Numba's ``CFunc`` attributes
(``address``, ``ctypes``, ``cffi``, ``native_name``), so ``LowLevelCallable(f.ctypes)``
and ``LowLevelCallable(f.ctypes, user_data)`` work as they do with Numba.
"""

from __future__ import annotations

import functools
import types as _pytypes
from typing import Any, Callable

from ._native import Kernel
from .types import as_signature

__all__ = ["CFunc", "cfunc"]

# Numba's options that change nothing for a kernel (it is always compiled to native code
# without the interpreter, and compiling again takes about a millisecond).
_IGNORED = ("cache", "nopython")


class CFunc:
    """A kernel compiled by :func:`nativecall.cfunc`, with the attributes of Numba's
    ``CFunc``: ``address``, ``ctypes``, ``cffi``, ``native_name``; and those of a
    :class:`nativecall.Kernel` (``signature``, ``lowlevelcallable(...)``, ``capsule()``,
    ``inspect_ir()``, ...). Calling it runs the compiled code."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self._cffi: Any = None
        self._ctypes: Any = None
        functools.update_wrapper(self, kernel.py_func, updated=())

    def __native_callable__(self) -> Kernel:
        return self.kernel

    @property
    def address(self) -> int:
        """The address of the compiled function (what ``ctypes``' and ``cffi``'s pointers hold)."""
        return self.kernel.address

    @property
    def native_name(self) -> str:
        """The function's name."""
        return self.kernel.name

    @property
    def ctypes(self) -> Any:
        """A ctypes function pointer with the signature's C types (``LowLevelCallable(f.ctypes)``),
        made once, as Numba's is: a callback built per use (``quad(LowLevelCallable(f.ctypes))``
        in a loop) would otherwise pay for the ctypes type each time."""
        if self._ctypes is None:
            self._ctypes = self.kernel.ctypes
        return self._ctypes

    @property
    def cffi(self) -> Any:
        """A cffi function pointer of the signature's C type (Numba's is a ``void *``; both
        cast to any function pointer type, and scipy reads this one's signature)."""
        if self._cffi is None:
            import cffi

            self._cffi = self.kernel.cffi(cffi.FFI())
        return self._cffi

    def __call__(self, *args: Any) -> Any:
        return self.kernel(*args)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.kernel, name)

    def __reduce__(self) -> Any:
        return (CFunc, (self.kernel,))

    def __repr__(self) -> str:
        return f"<nativecall cfunc {self.__qualname__}: {self.kernel.signature}>"


def cfunc(sig: Any, **options: Any) -> Callable[[Callable[..., Any]], CFunc]:
    """``@nativecall.cfunc(types.float64(types.intc, types.CPointer(types.float64)))``:
    ``numba.cfunc``'s call form. The signature is a ``nativecall.types`` signature,
    a Numba one (``numba.types.float64(numba.types.intc)``), a :class:`Signature` or its
    text. ``cache=`` and ``nopython=`` are accepted and change nothing; ``boundscheck=``
    and ``fastmath=`` are :func:`nativecall.jit`'s. The result has Numba's ``CFunc`` attributes."""
    if isinstance(sig, _pytypes.FunctionType):
        raise TypeError("cfunc needs a signature: @cfunc(types.float64(types.float64)) or @cfunc('float64(float64)')")
    boundscheck = options.pop("boundscheck", False)
    fastmath = options.pop("fastmath", False)
    for name in _IGNORED:
        options.pop(name, None)
    if options:
        raise TypeError(
            f"cfunc() got unsupported options: {', '.join(sorted(options))} "
            f"(accepted: boundscheck, fastmath, and Numba's {', '.join(_IGNORED)}, which change nothing here)"
        )
    signature = as_signature(sig)

    def decorate(func: Callable[..., Any]) -> CFunc:
        from ._jit import compile_kernel

        return CFunc(compile_kernel(func, signature, boundscheck, fastmath))

    return decorate
