"""Types and signatures in Numba's spelling, so that a file written for Numba ports by
changing ``from numba import cfunc, types`` to ``from nativecall import cfunc, types``.

Every name is a :class:`nativecall.Type`; calling one with argument types makes a
:class:`nativecall.Signature`, as calling a Numba type makes a Numba signature::

    >>> from nativecall import types
    >>> sig = types.float64(types.intc, types.CPointer(types.float64))
    >>> str(sig)
    'double (int, double *)'

:func:`as_type` and :func:`as_signature` also read Numba's own type and signature
objects (``numba.types.float64``, ``numba.types.CPointer(...)``, ``numba.types.voidptr``,
``numba.types.float64[:]``) by their attributes, without importing Numba.
"""

from __future__ import annotations

from typing import Any

from ._native import (
    Signature,
    Type,
    bool,
    complex64,
    complex128,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    intc,
    intp,
    uint8,
    uint16,
    uint32,
    uint64,
    uintc,
    uintp,
    void,
    voidptr,
)

__all__ = [
    "CPointer", "as_signature", "as_type",
    "void", "boolean", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "intc", "uintc", "intp", "uintp", "int_", "uint", "long_", "ulong", "longlong", "ulonglong",
    "float32", "float64", "double",
    "complex64", "complex128", "voidptr",
]  # fmt: skip

#: Numba's names for C's bool.
boolean = bool_ = bool
#: Numba's other names: ``int_``/``uint`` are pointer-sized, ``long_`` is C's ``long``, ``double`` float64.
int_ = intp
uint = uintp
long_ = Type("long")
ulong = Type("unsigned long")
longlong = Type("long long")
ulonglong = Type("unsigned long long")
double = float64


def CPointer(dtype: Any) -> Type:  # noqa: N802 - Numba's name
    """A pointer to ``dtype``: ``CPointer(float64)`` is ``double *`` (Numba's ``types.CPointer``)."""
    return as_type(dtype).pointer()


def _numba_type(obj: Any) -> Type | None:
    """The nativecall type of a Numba type object, read from its class name and attributes
    (``bitwidth``, ``signed``, ``dtype``, ``ndim``, ``layout``); None if it is not one."""
    module = type(obj).__module__ or ""
    if not module.startswith("numba"):
        return None
    kind = type(obj).__name__
    if kind == "Boolean":
        return bool
    if kind == "Integer":
        return Type(f"{'' if obj.signed else 'u'}int{obj.bitwidth}")
    if kind == "Float":
        return Type(f"float{obj.bitwidth}")
    if kind == "Complex":
        return Type(f"complex{obj.bitwidth}")
    if kind == "NoneType":
        return void
    if kind == "RawPointer":
        return voidptr
    if kind == "CPointer":
        return as_type(obj.dtype).pointer()
    if kind == "Array":
        dims = [slice(None)] * obj.ndim
        if obj.layout == "C":
            dims[-1] = slice(None, None, 1)
        elif obj.layout != "A":
            raise TypeError(f"Numba's {obj} has layout '{obj.layout}'; kernels take 'C' or 'A' arrays")
        return as_type(obj.dtype)[tuple(dims)]
    raise TypeError(f"Numba's type {obj} ({kind}) has no nativecall equivalent")


def as_type(obj: Any) -> Type:
    """A :class:`nativecall.Type` from a Type, its text (``"double *"``, ``"float64"``)
    or a Numba type object."""
    if isinstance(obj, Type):
        return obj
    if isinstance(obj, str):
        return Type(obj)
    t = _numba_type(obj)
    if t is None:
        raise TypeError(f"expected a nativecall type, its text or a Numba type, got {type(obj).__name__} {obj!r}")
    return t


def as_signature(obj: Any) -> Signature:
    """A :class:`nativecall.Signature` from a Signature, its text (C, Cython or Numba
    spelling) or a Numba signature (``numba.types.float64(numba.types.intc)``, which
    has ``return_type`` and ``args``)."""
    if isinstance(obj, Signature):
        return obj
    if isinstance(obj, str):
        return Signature(obj)
    if hasattr(obj, "return_type") and hasattr(obj, "args") and (type(obj).__module__ or "").startswith("numba"):
        return as_type(obj.return_type)(*(as_type(a) for a in obj.args))
    raise TypeError(
        f"expected a signature (a nativecall.Signature, its text such as 'float64(intc, float64*)', "
        f"or a Numba signature such as numba.types.float64(numba.types.intc)), got {type(obj).__name__} {obj!r}"
    )
