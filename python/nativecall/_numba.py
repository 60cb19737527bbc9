"""Numba interop: nativecall callables inside ``@numba.njit`` code.

Numba calls first-class native functions through its wrapper address protocol: an
object with ``__wrapper_address__()`` (the code address) and ``signature()`` (a Numba
signature). A NativeCallable passed as an argument works as it is (it has
``__wrapper_address__`` and tells Numba its type through ``_numba_type_``); for a
global, Numba wants a protocol instance, which ``callable.numba`` gives.
"""

from __future__ import annotations

_REGISTERED = False


def numba_signature(nc):
    """The Numba signature of a NativeCallable's signature."""
    from numba.core import sigutils, typing

    text = nc.signature.numba
    if text is None:
        raise TypeError(f"{nc.name} ('{nc.signature}') uses a type Numba has no name for")
    args, ret = sigutils.normalize_signature(text)
    return typing.signature(ret, *args)


def numba_type(nc):
    from numba.core import types

    return types.FunctionType(numba_signature(nc))


class NumbaFunction:
    """A NativeCallable seen through Numba's wrapper address protocol (use it as a global
    or an argument in ``@numba.njit`` code). It keeps the callable alive."""

    __slots__ = ("callable", "_sig")

    def __init__(self, nc):
        self.callable = nc
        self._sig = numba_signature(nc)

    def __wrapper_address__(self):
        return self.callable._export_address()

    def signature(self):
        return self._sig

    def __call__(self, *args):
        return self.callable(*args)

    def __repr__(self):
        return f"<nativecall numba function {self.callable.name}: {self._sig}>"


def adapter(nc):
    global _REGISTERED
    if not _REGISTERED:
        from numba.core.types import WrapperAddressProtocol

        WrapperAddressProtocol.register(NumbaFunction)
        _REGISTERED = True
    return NumbaFunction(nc)
