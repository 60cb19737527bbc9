"""nativecall: one native-callable ABI for scientific Python.

Any native function — a PyCapsule, a ``scipy.LowLevelCallable``, a ctypes or cffi
function pointer, a Numba ``cfunc``, a Cython ``__pyx_capi__`` entry — becomes a
:class:`NativeCallable` with :func:`native`, and leaves again as a capsule, a
LowLevelCallable, a ctypes or a cffi pointer.

    >>> import nativecall
    >>> gamma = nativecall.from_cython("scipy.special.cython_special", "gamma", "double (double)")
    >>> gamma(5.0)
    24.0
"""

from typing import TYPE_CHECKING, Any, Callable, Iterable, overload

from . import types
from ._cfunc import CFunc, cfunc
from ._dispatch import Dispatcher
from ._interop import cython_functions, from_cython
from ._interop import native as _native_import
from ._views import carray, cast, farray
from ._errors import CompileError, SignatureError, TypingError, UndefinedNameError, UnsupportedError
from ._native import (
    Array,
    Kernel,
    NativeCallable,
    Signature,
    Type,
    asarray,
    bool,
    callback,
    complex64,
    complex128,
    empty,
    float32,
    float64,
    from_dlpack,
    int8,
    int16,
    int32,
    int64,
    intc,
    intp,
    stats,
    typedef,
    uint8,
    uint16,
    uint32,
    uint64,
    uintc,
    uintp,
    void,
    voidptr,
    zeros,
)

if TYPE_CHECKING:
    import numpy

__version__ = "0.1.0"


def get_include() -> str:
    """The directory holding ``nativecall.h`` and ``nativecall.pxd``: pass it to a C
    compiler's ``-I`` and to ``cythonize(..., include_path=[...])``."""
    import os

    return os.path.dirname(os.path.abspath(__file__))


def __getattr__(name: str) -> Any:
    # `nativecall.optimize` needs NumPy and scipy: load it on first use only.
    if name == "optimize":
        import importlib

        return importlib.import_module(".optimize", __name__)
    raise AttributeError(f"module 'nativecall' has no attribute {name!r}")


def vectorize(
    signatures: "str | Signature | Iterable[str | Signature]", *, identity: "int | None" = None
) -> "Callable[[Callable[..., Any]], numpy.ufunc]":
    """Make a real ``numpy.ufunc`` whose loops are compiled kernels, one per signature:
    ``@nativecall.vectorize(["float64(float64)", "float32(float32)"])``. NumPy provides
    broadcasting, ``out=``, ``where=``, dtype dispatch and (with ``identity=0`` or ``1``
    on two-argument ufuncs) ``reduce``/``accumulate``."""
    from ._jit import vectorize as _vectorize

    return _vectorize(signatures, identity=identity)


# Typed as giving a Kernel: a Dispatcher comes only from a function without annotations,
# which a type checker does not check anyway.
@overload
def jit(signature: "Callable[..., Any]", /) -> Kernel: ...
@overload
def jit(signature: Any = None, **options: Any) -> "Callable[[Callable[..., Any]], Kernel]": ...


def jit(signature: Any = None, **options: Any) -> Any:
    """Compile a Python function into a native :class:`Kernel`.

    ``@nativecall.jit("float64(float64, intp)")`` (Numba or C spelling), or plain
    ``@nativecall.jit`` with annotations (``x: nativecall.float64``; ``float``, ``int``
    and ``bool`` mean float64, int64 and bool; a missing return annotation is
    inferred). Compilation is eager; errors raise :class:`CompileError` subclasses
    that point at the source. See docs/semantics.md for the language. The signature may
    also be a :mod:`nativecall.types` or Numba signature object.

    Without a signature or annotations (``@nativecall.jit``, ``@nativecall.jit(nopython=True)``)
    the result is a :class:`Dispatcher`: a kernel is compiled for each combination of
    argument types it is called with, from Python or from another kernel.

    Without a source file (``exec``, ``python -c``, the plain REPL), pass the text:
    ``nativecall.jit("float64(float64)", source="def f(x): ...", globals=None)`` returns
    the kernel of the one function it defines; outside names come from ``globals`` (a
    dict, copied) and from the source's own imports.

    Calls from Python hold the GIL, as Cython and Numba do; ``nogil=True`` releases it
    for the duration of each call, so other Python threads run during long calls.
    """
    from ._jit import jit as _jit  # the frontend (ast, inspect) loads on first use

    nogil = options.pop("nogil", False)
    made = _jit(signature, **options)
    if not nogil:
        return made

    def released(compiled: Any) -> Any:
        # A Dispatcher's kernels are made later, on first use: `nogil` is then Numba's
        # option, accepted as it is for `@jit(nogil=True)` helpers.
        if isinstance(compiled, Kernel):
            compiled._release_gil()
        return compiled

    if isinstance(made, Kernel) or not callable(made):
        return released(made)

    def decorate(func: "Callable[..., Any]") -> Any:
        return released(made(func))

    return decorate


def native(
    obj: Any,
    signature: "str | Signature | None" = None,
    *,
    returns: "str | Type | None" = None,
    nogil: bool = False,
) -> NativeCallable:
    """Return a :class:`NativeCallable` for any native function object.

    Accepts a PyCapsule (its name is the signature; pass ``signature=`` when it is
    not), a capsule Pythran exports (``#pythran export capsule f(float64, int)``: its
    name gives the argument types, ``returns=`` or ``signature=`` the return type), a
    ``scipy.LowLevelCallable`` (its ``user_data`` is kept), a ctypes function
    pointer (from ``argtypes``/``restype``), a cffi function pointer, a Numba
    ``cfunc``, any object implementing Numba's wrapper address protocol, and a
    NativeCallable. ``signature=`` must be ABI-equal to what the object says, and
    chooses how the signature is spelled; so must ``returns=`` to its return type.

    Calls from Python hold the GIL, as Cython and Numba do; ``nogil=True`` releases it
    for the duration of each call, so other Python threads run during long calls (the
    function must then not touch Python objects).
    """
    nc = _native_import(obj, signature, returns=returns)
    if nogil:
        if nc is obj:  # a NativeCallable given: release the GIL in a copy, not in it
            nc = nc._respelled(nc.signature)
        nc._release_gil()
    return nc


__all__ = [
    "Array",
    "CFunc",
    "CompileError",
    "Dispatcher",
    "Kernel",
    "NativeCallable",
    "Signature",
    "SignatureError",
    "Type",
    "TypingError",
    "UndefinedNameError",
    "UnsupportedError",
    "asarray",
    "callback",
    "carray",
    "cast",
    "cfunc",
    "cython_functions",
    "empty",
    "farray",
    "from_dlpack",
    "from_cython",
    "get_include",
    "jit",
    "native",
    "stats",
    "typedef",
    "types",
    "vectorize",
    "zeros",
    # types
    "void",
    "bool",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "intp",
    "uintp",
    "intc",
    "uintc",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "voidptr",
]
