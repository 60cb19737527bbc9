"""Adapters between NativeCallable and the other ways Python hands over native code.

Each importer reads only the other library's own attributes (ctypes' ``argtypes``,
cffi's ``ffi.typeof``, Numba's ``_sig``, scipy's LowLevelCallable fields, Cython's
``__pyx_capi__``) and hands ``_native`` an address, a signature and an owner.
No library is imported here unless an object of that library is passed in, so
``import nativecall`` stays cheap.
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from typing import Any

from ._native import NativeCallable, Signature, Type

__all__ = ["native", "cython_functions", "from_cython"]

ACCEPTED = (
    "a NativeCallable, a PyCapsule named by its C signature (or with signature=), "
    "a Pythran capsule (with returns= or signature=), "
    "a scipy.LowLevelCallable, a ctypes function pointer, a cffi function pointer, "
    "a Numba cfunc, or an object with __wrapper_address__() and signature()"
)


def native(
    obj: Any, signature: str | Signature | None = None, *, returns: str | Type | None = None
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
    """
    if signature is not None and not isinstance(signature, Signature):
        signature = Signature(signature)
    if returns is not None and not isinstance(returns, Type):
        returns = Type(returns)
    if signature is not None and returns is not None and signature.restype != returns:
        raise TypeError(f"signature='{signature}' returns '{signature.restype}', but returns='{returns}'")
    nc = _import(obj, signature, returns)
    if returns is not None and nc.signature.restype != returns:
        raise TypeError(f"{nc.name} returns '{nc.signature.restype}', not returns='{returns}'")
    if signature is not None and str(nc.signature) != str(signature):
        nc = nc._respelled(signature)
    return nc


def _import(obj, signature, returns=None):
    if isinstance(obj, NativeCallable):
        return obj
    unwrap = getattr(type(obj), "__native_callable__", None)  # nativecall.cfunc's result
    if unwrap is not None:
        return unwrap(obj)
    if type(obj).__name__ == "PyCapsule":
        pythran = _pythran_capsule(obj)
        if pythran is not None:
            return _from_pythran(obj, *pythran, signature, returns)
        return NativeCallable._from_capsule(obj, signature)
    if _is_lowlevelcallable(obj):
        inner = native(obj.function, obj.signature)
        nc = NativeCallable._from_capsule(inner.capsule(obj.signature), user_data=obj.user_data, name=inner.name)
        return nc
    ctypes = sys.modules.get("ctypes")
    if ctypes is not None and isinstance(obj, ctypes._CFuncPtr):
        return _from_ctypes(obj, ctypes)
    cffi_backend = sys.modules.get("_cffi_backend")
    if cffi_backend is not None and isinstance(obj, cffi_backend._CDataBase):
        return _from_cffi(obj)
    ccallback = sys.modules.get("numba.core.ccallback")
    if ccallback is not None and isinstance(obj, ccallback.CFunc):
        name = getattr(obj, "__name__", None) or obj.native_name
        return NativeCallable.from_address(obj.address, _numba_signature(obj._sig), owner=obj, name=name)
    wrapper_address = getattr(type(obj), "__wrapper_address__", None)
    if wrapper_address is not None and callable(getattr(obj, "signature", None)):
        sig = obj.signature()
        text = sig if isinstance(sig, str) else _numba_signature(sig)
        return NativeCallable.from_address(obj.__wrapper_address__(), text, owner=obj, name=type(obj).__name__)
    raise TypeError(f"nativecall.native() accepts {ACCEPTED}; got {type(obj).__module__}.{type(obj).__qualname__}")


def _is_lowlevelcallable(obj):
    ccallback = sys.modules.get("scipy._lib._ccallback")
    return ccallback is not None and isinstance(obj, ccallback.LowLevelCallable)


def _numba_signature(sig):
    """``float64(float64, voidptr)`` text from a Numba ``Signature``."""
    return "%s(%s)" % (sig.return_type, ", ".join(str(a) for a in sig.args))


# ---------------------------------------------------------------------------- Pythran

# `#pythran export capsule f(float64, int32*)` names the capsule "f(float64, int32*)":
# the function's name and Pythran's spelling of the argument types, no return type.
_PYTHRAN_NAME = re.compile(r"([A-Za-z_]\w*)\((.*)\)\Z", re.S)

# Pythran spells Python's scalar types by their Python names (`int` is a C `long`);
# its NumPy names are nativecall's.
_PYTHRAN_TYPES = {"int": "int64", "float": "float64", "complex": "complex128", "bool": "bool"}
_PYTHRAN_NUMPY = {
    *(f"int{b}" for b in (8, 16, 32, 64)),
    *(f"uint{b}" for b in (8, 16, 32, 64)),
    "float32",
    "float64",
    "complex64",
    "complex128",
    "intc",
    "uintc",
    "intp",
    "uintp",
}


def _pythran_capsule(capsule):
    """``(function name, [argument types as Pythran spells them])`` when the capsule's
    name has the shape of a Pythran export (a function name that is not a type, then a
    parenthesised argument list), else None."""
    name = _capsule_name(capsule)
    m = _PYTHRAN_NAME.match(name or "")
    if m is None:
        return None
    fname, args = m.groups()
    try:
        Type(fname)
    except (TypeError, ValueError):
        pass
    else:
        return None  # "double(double)" is a C signature
    return fname, [a.strip() for a in args.split(",")] if args.strip() else []


def _pythran_type(text, where):
    base = text.rstrip("*").strip()
    stars = len(text) - len(text.rstrip("*"))
    if base in _PYTHRAN_TYPES:
        base = _PYTHRAN_TYPES[base]
    elif base not in _PYTHRAN_NUMPY:
        accepted = ", ".join(sorted(_PYTHRAN_TYPES) + sorted(_PYTHRAN_NUMPY))
        raise TypeError(f"{where}: Pythran type '{text}' has no native equivalent here (accepted: {accepted}, and T*)")
    return Type(base + "*" * stars)


def _from_pythran(capsule, fname, args, signature, returns):
    where = f"the Pythran capsule '{_capsule_name(capsule)}'"
    argtypes = [_pythran_type(a, where) for a in args]
    arglist = ", ".join(str(t) for t in argtypes) or "void"
    if signature is None and returns is None:
        raise TypeError(
            f"{where} names its argument types but not its return type; pass returns= "
            f"(e.g. nativecall.native(capsule, returns='float64')) or signature='<return type>({arglist})'"
        )
    if signature is None:
        signature = Signature(f"{returns}({arglist})")
    elif list(signature.argtypes) != argtypes:
        raise TypeError(f"{where} takes ({arglist}), which is not ABI-compatible with signature='{signature}'")
    return NativeCallable._from_capsule(capsule, signature, name=fname)


# ---------------------------------------------------------------------------- ctypes

_CTYPES_CODES = {
    "d": "double",
    "f": "float",
    "g": "long double",
    "i": "int",
    "I": "unsigned int",
    "l": "long",
    "L": "unsigned long",
    "q": "long long",
    "Q": "unsigned long long",
    "h": "short",
    "H": "unsigned short",
    "b": "signed char",
    "B": "unsigned char",
    "c": "char",
    "?": "bool",
    "z": "char *",
    "P": "void *",
    "D": "double _Complex",
    "F": "float _Complex",
}


def _ctypes_type_text(t, ctypes, where):
    if t is None:
        return "void"
    if isinstance(t, type) and issubclass(t, ctypes._CFuncPtr):
        if t._argtypes_ is None:
            raise TypeError(f"{where}: a ctypes function pointer type without argtypes has no known signature")
        args = ", ".join(_ctypes_type_text(a, ctypes, where) for a in t._argtypes_)
        return f"{_ctypes_type_text(t._restype_, ctypes, where)}({args or 'void'})*"
    if isinstance(t, type) and issubclass(t, ctypes._Pointer):
        return _ctypes_type_text(t._type_, ctypes, where) + " *"
    code = getattr(t, "_type_", None)
    if isinstance(code, str) and code in _CTYPES_CODES and issubclass(t, ctypes._SimpleCData):
        return _CTYPES_CODES[code]
    name = getattr(t, "__name__", repr(t))
    raise TypeError(
        f"{where}: ctypes type {name} has no native equivalent here "
        "(accepted: simple C types, POINTER(...), CFUNCTYPE(...) and None)"
    )


def _from_ctypes(fp, ctypes):
    address = ctypes.cast(fp, ctypes.c_void_p).value
    # A pointer from ctypes.cast() or a CFUNCTYPE instance has no name; its type's name
    # ("CFunctionType") would say nothing, so it is named by its address.
    name = getattr(fp, "__name__", None) or f"ctypes function at {address or 0:#x}"
    argtypes = fp.argtypes
    if argtypes is None:
        raise TypeError(
            f"ctypes function {name} has no argtypes, so its signature is unknown; set "
            f"{name}.argtypes (and .restype) first"
        )
    restype = fp.restype
    where = f"ctypes function {name}"
    if restype is not None and not isinstance(restype, type):
        raise TypeError(f"{where}: restype must be a ctypes type or None, got {restype!r}")
    args = ", ".join(_ctypes_type_text(a, ctypes, where) for a in argtypes)
    text = f"{_ctypes_type_text(restype, ctypes, where)}({args or 'void'})"
    if not address:
        raise ValueError(f"{where} is a NULL function pointer")
    if getattr(fp, "__name__", None) is None:
        name = f"{name} '{Signature(text)}'"
    return NativeCallable.from_address(address, text, owner=fp, name=name)


def _ctypes_of(ty, ctypes):
    kind = ty.kind
    if kind == "void":
        return None
    if kind == "bool":
        return ctypes.c_bool
    if kind == "int":
        if str(ty) == "char":
            return ctypes.c_char
        return {
            (8, True): ctypes.c_int8,
            (8, False): ctypes.c_uint8,
            (16, True): ctypes.c_int16,
            (16, False): ctypes.c_uint16,
            (32, True): ctypes.c_int32,
            (32, False): ctypes.c_uint32,
            (64, True): ctypes.c_int64,
            (64, False): ctypes.c_uint64,
        }[(ty.bits, ty.signed)]
    if kind == "float":
        return {32: ctypes.c_float, 64: ctypes.c_double}.get(ty.bits, ctypes.c_longdouble)
    if kind == "complex":
        named = {64: "c_float_complex", 128: "c_double_complex"}.get(ty.bits)
        if named and hasattr(ctypes, named):
            return getattr(ctypes, named)
        raise TypeError(f"ctypes on this Python has no type for '{ty}' (ctypes gained complex types in 3.14)")
    if kind == "pointer":
        pointee = ty.pointee
        if pointee.kind == "function":
            return _ctypes_prototype(pointee.signature, ctypes)
        if pointee.kind in ("void", "struct", "dltensor"):
            return ctypes.c_void_p
        return ctypes.POINTER(_ctypes_of(pointee, ctypes))
    raise TypeError(f"'{ty}' has no ctypes equivalent")


def _ctypes_prototype(sig, ctypes):
    return ctypes.CFUNCTYPE(_ctypes_of(sig.restype, ctypes), *(_ctypes_of(a, ctypes) for a in sig.argtypes))


def to_ctypes(nc, address):
    import ctypes

    fp = _ctypes_prototype(nc.signature, ctypes)(address)
    fp.__name__ = nc.name
    # The function pointer keeps the code's owner alive.
    fp._nativecall_owner = nc
    return fp


# ---------------------------------------------------------------------------- cffi

_FFI = None


def _any_ffi():
    global _FFI
    if _FFI is None:
        import cffi

        _FFI = cffi.FFI()
    return _FFI


def _from_cffi(obj):
    ffi = _any_ffi()
    ctype = ffi.typeof(obj)
    if ctype.kind != "function":
        raise TypeError(f"expected a cffi function pointer, got cdata '{ctype.cname}'")
    if ctype.ellipsis:
        raise TypeError(f"cffi function '{ctype.cname}' is variadic; variadic functions are not supported")
    sig = Type(ctype.cname).signature
    address = int(ffi.cast("uintptr_t", obj))
    if not address:
        raise ValueError(f"the cffi function pointer '{ctype.cname}' is NULL")
    return NativeCallable.from_address(address, sig, owner=obj, name=f"cffi:{ctype.cname}")


# C spellings cffi does not know, by the word they replace.
_CFFI_SPELLING = {"npy_intp": "intptr_t", "npy_uintp": "uintptr_t", "bool": "_Bool", "DLTensor": "struct DLTensor"}


def _cffi_cdecl(sig):
    import re

    return re.sub(r"\b(npy_intp|npy_uintp|bool|DLTensor)\b", lambda m: _CFFI_SPELLING[m.group(1)], str(sig.pointer()))


def to_cffi(nc, ffi, address):
    if not (callable(getattr(ffi, "cast", None)) and callable(getattr(ffi, "gc", None))):
        raise TypeError(
            f"{nc.name}.cffi(ffi) needs the cffi.FFI instance to make the function pointer with "
            f"(ffi = cffi.FFI()), got {type(ffi).__name__}"
        )
    ptr = ffi.cast(_cffi_cdecl(nc.signature), address)
    # ffi.gc ties a finaliser to the returned cdata; the lambda's default keeps `nc` alive.
    return ffi.gc(ptr, lambda _ptr, _owner=nc: None)


# ---------------------------------------------------------------------------- C and Cython


def c_function_pointer(obj, signature):
    """The address nativecall.h's ``nativecall_function_pointer`` hands to C: ``obj``'s
    code, after checking its signature is ABI-equal to ``signature``."""
    wanted = signature if isinstance(signature, Signature) else Signature(signature)
    nc = native(obj)
    if nc.signature != wanted:
        raise TypeError(f"expected a function '{wanted}', got {nc.name} with '{nc.signature}'")
    # No thunk is made for an object that is not already a NativeCallable (native() of it
    # never hides arguments), so the code is owned by `obj` itself.
    return nc._export_address()


# ---------------------------------------------------------------------------- scipy


def make_lowlevelcallable(capsule, user_data):
    from scipy import LowLevelCallable

    return LowLevelCallable(capsule, user_data)


def user_data_address(obj):
    """The address a consumer receives for ``user_data=obj``, as scipy.LowLevelCallable
    reads it (PyCapsules are read natively before this is asked)."""
    ctypes = sys.modules.get("ctypes")
    if ctypes is not None and isinstance(obj, ctypes.c_void_p):
        return obj.value or 0
    cffi_backend = sys.modules.get("_cffi_backend")
    if cffi_backend is not None and isinstance(obj, cffi_backend._CDataBase):
        return int(_any_ffi().cast("uintptr_t", obj))
    raise TypeError(
        "user_data must be what scipy.LowLevelCallable accepts: a PyCapsule, a ctypes.c_void_p "
        f"or a cffi pointer; got {type(obj).__module__}.{type(obj).__qualname__}"
    )


# ---------------------------------------------------------------------------- call arguments


def pointer_argument(obj, ty, what):
    """``(address, keepalive)`` to pass ``obj`` as a pointer of type ``ty``; the call
    holds ``keepalive`` until it returns. Ints, None and buffers are handled natively
    before this is asked."""
    pointee = ty.pointee
    if pointee.kind == "function":
        try:
            nc = native(obj)
        except TypeError:
            raise TypeError(
                f"{what} needs a function pointer '{ty}': an int address or {ACCEPTED}; got {type(obj).__name__}"
            ) from None
        if nc.signature != pointee.signature:
            raise TypeError(f"{what} needs a function '{pointee.signature}', got {nc.name} with '{nc.signature}'")
        # A thunk (for hidden arguments) lives as long as `nc`: keep it for the call.
        return nc._export_address(), nc
    ctypes = sys.modules.get("ctypes")
    if ctypes is not None:
        if isinstance(obj, ctypes.c_void_p):
            if pointee.kind != "void":
                raise TypeError(f"{what} needs '{ty}', got ctypes.c_void_p (cast it to POINTER(...) first)")
            return obj.value or 0, None
        if isinstance(obj, ctypes._Pointer):
            text = _ctypes_type_text(type(obj)._type_, ctypes, what)
            if pointee.kind != "void" and Type(text) != pointee:
                raise TypeError(f"{what} needs '{ty}', got a ctypes pointer to {text}")
            return ctypes.cast(obj, ctypes.c_void_p).value or 0, None
        if isinstance(obj, (ctypes.Structure, ctypes.Union)) and pointee.kind in ("void", "struct"):
            return ctypes.addressof(obj), None
    cffi_backend = sys.modules.get("_cffi_backend")
    if cffi_backend is not None and isinstance(obj, cffi_backend._CDataBase):
        ffi = _any_ffi()
        ctype = ffi.typeof(obj)
        if ctype.kind not in ("pointer", "array"):
            raise TypeError(f"{what} needs '{ty}', got cdata '{ctype.cname}'")
        item = ctype.item.cname
        if pointee.kind != "void" and item != "void" and Type(item) != pointee:
            raise TypeError(f"{what} needs '{ty}', got cdata '{ctype.cname}'")
        return int(ffi.cast("uintptr_t", obj)), None
    if type(obj).__name__ == "PyCapsule" and pointee.kind in ("void", "struct"):
        return _capsule_pointer(obj), None
    raise TypeError(
        f"{what} needs '{ty}': an int address, None, a C-contiguous writable buffer or numpy array of "
        f"{pointee}, a ctypes pointer or a cffi pointer; got {type(obj).__name__}"
    )


def _capsule_name(capsule):
    """The capsule's name as text, or None."""
    import ctypes

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    name = get_name(capsule)
    return None if name is None else name.decode("utf-8", "replace")


def _capsule_pointer(capsule):
    import ctypes

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return get_pointer(capsule, get_name(capsule)) or 0


# ---------------------------------------------------------------------------- Cython

# One index per fused type, joined by '_'; a C name cannot start with a digit, so
# the name begins at the first character that does not continue the indices.
_FUSED_NAME = re.compile(r"__pyx_fuse_\d+(?:_\d+)*([A-Za-z_].*)\Z", re.S)


def _module(module):
    if isinstance(module, str):
        return importlib.import_module(module)
    if isinstance(module, types.ModuleType):
        return module
    raise TypeError(f"expected a module or a dotted module name, got {type(module).__name__}")


def cython_functions(module: str | types.ModuleType) -> dict[str, NativeCallable]:
    """Every C function a Cython module exports in ``__pyx_capi__``, as
    ``{capsule name: NativeCallable}`` (fused specialisations keep their
    ``__pyx_fuse_N`` names). Cython's hidden ``__pyx_skip_dispatch`` and optional
    argument parameters are filled in and left out of each ``signature``."""
    mod = _module(module)
    capi = getattr(mod, "__pyx_capi__", None)
    if capi is None:
        raise TypeError(f"module {mod.__name__} exports no C functions (it has no __pyx_capi__)")
    cached = _CYTHON_CACHE.get(mod.__name__)
    if cached is not None and cached[0] is capi:
        return dict(cached[1])
    out = {}
    for key, capsule in capi.items():
        out[key] = NativeCallable._from_capsule(
            capsule, name=f"{mod.__name__}.{plain_name(key)}", cython=True, origin=(mod.__name__, key)
        )
    _CYTHON_CACHE[mod.__name__] = (capi, out)
    return dict(out)


# Parsed exports per module (NativeCallables are immutable; a module's capsules live as
# long as the module), so kernels naming cython_special functions do not re-parse 396
# signatures each.
_CYTHON_CACHE = {}


def plain_name(key):
    """``gamma`` for ``__pyx_fuse_1gamma`` and ``eval_chebyt`` for
    ``__pyx_fuse_0_1eval_chebyt`` (Cython names a fused specialisation
    ``__pyx_fuse_<i>[_<j>...]<name>``, one index per fused type)."""
    m = _FUSED_NAME.match(key)
    return m.group(1) if m else key


def from_cython(
    module: str | types.ModuleType, name: str, signature: str | Signature | None = None
) -> NativeCallable:
    """The C function ``name`` that a Cython module exports, e.g.
    ``from_cython("scipy.special.cython_special", "gamma", "double (double)")``.

    Fused functions have one specialisation per type combination; ``signature=``
    picks the one whose signature is ABI-equal to it (checked against each
    capsule's own signature, never guessed from the ``__pyx_fuse_N`` index).
    """
    mod = _module(module)
    functions = cython_functions(mod)
    candidates = [nc for key, nc in functions.items() if plain_name(key) == name]
    if not candidates:
        exported = sorted({plain_name(k) for k in functions})
        import difflib

        close = difflib.get_close_matches(name, exported, n=5, cutoff=0.6)
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise AttributeError(f"module {mod.__name__} exports no native function {name!r}{hint}")
    available = ", ".join(f"'{nc.signature}'" for nc in candidates)
    if signature is None:
        if len(candidates) == 1:
            return candidates[0]
        raise TypeError(
            f"{mod.__name__}.{name} has {len(candidates)} specialisations; pass signature= with one of: {available}"
        )
    wanted = signature if isinstance(signature, Signature) else Signature(signature)
    for nc in candidates:
        if nc.signature == wanted:
            return nc._respelled(wanted) if str(nc.signature) != str(wanted) else nc
    raise TypeError(f"{mod.__name__}.{name} has no specialisation '{wanted}'; available: {available}")
