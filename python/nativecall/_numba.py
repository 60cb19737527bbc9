"""Numba interop: nativecall callables inside ``@numba.njit`` code.

Numba calls first-class native functions through its wrapper address protocol: an
object with ``__wrapper_address__()`` (the code address) and ``signature()`` (a Numba
signature). A NativeCallable passed as an argument is typed as such a first-class
function (``numba.types.FunctionType``; it has ``__wrapper_address__``), so one njit
function serves kernels, cfuncs and ctypes functions alike. A NativeCallable used as a
global or closure variable is a constant: it is typed as an external function pointer
(what Numba makes of a ctypes function global), whose address is compiled into the
code and called directly. Compiled code cannot hold a Python reference, so a callable
whose address is compiled in is kept alive for the rest of the process.

``init`` registers this with Numba: Numba runs it (the ``numba_extensions`` entry point)
before its first compilation, and ``numba_type`` runs it too, in case the entry point is
not installed. ``import nativecall`` never imports Numba.
"""

from __future__ import annotations

_REGISTERED = False
_INITIALISED = False
#: Callables whose address some compiled Numba code holds (see the module docstring).
_PINNED: dict = {}


def init():
    """Teach Numba to type NativeCallables itself (the ``numba_extensions`` entry point)."""
    global _INITIALISED
    if _INITIALISED:
        return
    from numba.core.typing.typeof import Purpose, typeof_impl

    from ._native import NativeCallable

    @typeof_impl.register(NativeCallable)
    def _typeof_native(val, c):
        if c.purpose == Purpose.constant:
            return constant_type(val)
        return numba_type(val)

    _INITIALISED = True


def _address(nc):
    """The code address of a callable Numba compiles in as a constant (kept alive)."""
    _PINNED[id(nc)] = nc
    return nc._export_address()


def constant_type(nc):
    """The Numba type of a NativeCallable used as a global: a function pointer."""
    from numba.core import types

    return types.ExternalFunctionPointer(numba_signature(nc), get_pointer=_address)


def numba_signature(nc):
    """The Numba signature of a NativeCallable's signature."""
    from numba.core import sigutils, typing

    text = nc.signature.numba
    if text is None:
        raise TypeError(f"{nc.name} ('{nc.signature}') uses a type Numba has no name for")
    args, ret = sigutils.normalize_signature(text)
    return typing.signature(ret, *args)


def numba_type(nc):
    """The Numba type of a NativeCallable passed as an argument: a first-class function."""
    from numba.core import types

    init()
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
