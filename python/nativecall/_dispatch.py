"""Kernels without a signature: compiled for the argument types they are called with.

``@nativecall.jit`` on a function whose parameters have no annotations (and
``@nativecall.jit(nopython=True)``) gives a :class:`Dispatcher`, as Numba's ``@jit``
does: the first call from Python with given argument types compiles a kernel for
them, and later calls with the same types reuse it. A kernel that calls a dispatcher
gets a specialization for the argument types at that call site (see ``_jit.py``).
"""

from __future__ import annotations

import builtins
import functools
import numbers
import sys
import textwrap
from typing import Any

from ._native import Array, Kernel, NativeCallable, Type

__all__ = ["Dispatcher", "numba_dispatcher", "type_of"]

_INT64 = (-(2**63), 2**63 - 1)
_SPELLED = "bool, int, float, complex, NumPy scalars and arrays, nativecall.Array and native functions"


def _array_type(dtype: Type, ndim: int, c_contiguous: bool) -> Type:
    dims = [slice(None)] * ndim
    if c_contiguous:
        dims[-1] = slice(None, None, 1)
    return dtype[tuple(dims)]


def _c_contiguous(shape, strides, itemsize) -> bool:
    expected = itemsize
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def type_of(value: Any) -> Type | None:
    """The kernel type of a Python value passed to a kernel without a signature: int is
    int64, float float64, bool bool, complex complex128, a NumPy scalar or array its
    dtype (arrays: ``float64[:, ::1]`` when C-contiguous, else ``float64[:, :]``), a
    nativecall.Array likewise, a native function its function pointer type; None for
    anything else."""
    if isinstance(value, builtins.bool):
        return Type("bool")
    if isinstance(value, NativeCallable):
        return value.signature.pointer()
    if isinstance(value, Array):
        itemsize = value.dtype.size or 1
        return _array_type(value.dtype, value.ndim, _c_contiguous(value.shape, value.strides, itemsize))
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                return None
            dtype = _dtype_type(value.dtype)
            return None if dtype is None else _array_type(dtype, value.ndim, value.flags.c_contiguous)
        if isinstance(value, np.generic):
            return _dtype_type(value.dtype)
    if isinstance(value, numbers.Integral) and type(value) is int:
        return Type("int64") if _INT64[0] <= value <= _INT64[1] else None
    if type(value) is float:
        return Type("float64")
    if type(value) is complex:
        return Type("complex128")
    return None


def _call_key(value: Any) -> Any:
    """What decides a value's kernel type, cheaply (None: work it out in full)."""
    t = type(value)
    if t is float or t is builtins.bool or t is complex:
        return t
    if t is int:
        return t if _INT64[0] <= value <= _INT64[1] else None
    if t.__module__ == "numpy":
        return (value.dtype, value.ndim, value.flags.c_contiguous) if t.__name__ == "ndarray" else t
    return None


def _dtype_type(dtype: Any) -> Type | None:
    name = "bool" if dtype.kind == "b" else dtype.name
    try:
        return Type(name)
    except (TypeError, ValueError):
        return None


class Dispatcher:
    """A kernel without a signature (``@nativecall.jit`` on a function with unannotated
    parameters): each combination of argument types is compiled on its first call and
    kept in :attr:`overloads`. Inside another kernel, a call compiles the combination
    of types found at that call site."""

    def __init__(self, py_func: Any, boundscheck: builtins.bool = False, fastmath: builtins.bool = False) -> None:
        self.py_func = py_func
        self.boundscheck = boundscheck
        self.fastmath = fastmath
        #: The kernels compiled so far, by their argument types as text (``('double',)``,
        #: ``('int64_t', 'double[:, ::1]')``: Types compare by ABI, where all arrays are equal).
        self.overloads: dict[tuple[str, ...], Kernel] = {}
        # The kernel for a call's arguments by their Python types (and arrays' dtype,
        # ndim and contiguity): what a call looks up before working out kernel types.
        self._by_key: dict[tuple[Any, ...], Kernel] = {}
        functools.update_wrapper(self, py_func, updated=())

    @property
    def signatures(self) -> list[Any]:
        """The signatures compiled so far, in order."""
        return [k.signature for k in self.overloads.values()]

    def compile(self, argtypes: Any) -> Kernel:
        """The kernel for these argument types (a sequence of :class:`nativecall.Type` or
        their text), compiled on first use."""
        from ._jit import _type_text, compile_kernel

        argtypes = tuple(t if isinstance(t, Type) else Type(t) for t in argtypes)
        key = tuple(_type_text(t) for t in argtypes)
        kernel = self.overloads.get(key)
        if kernel is None:
            kernel = compile_kernel(self.py_func, argtypes, self.boundscheck, self.fastmath)
            self.overloads[key] = kernel
        return kernel

    def argtypes_of(self, args: tuple) -> tuple[Type, ...]:
        out = []
        names = self.py_func.__code__.co_varnames
        for k, a in enumerate(args):
            t = type_of(a)
            if t is None:
                name = names[k] if k < self.py_func.__code__.co_argcount else f"#{k + 1}"
                if type(a) is int:
                    raise OverflowError(f"{self.py_func.__qualname__}(): argument '{name}' = {a} does not fit in int64")
                raise TypeError(
                    f"{self.py_func.__qualname__}(): argument '{name}' is a {type(a).__module__}.{type(a).__qualname__} "
                    f"({a!r:.60}), which has no kernel type; kernels take {_SPELLED}"
                )
            out.append(t)
        return tuple(out)

    def __call__(self, *args: Any) -> Any:
        key = tuple(map(_call_key, args))
        kernel = self._by_key.get(key)
        if kernel is None:
            kernel = self.compile(self.argtypes_of(args))
            if None not in key:
                self._by_key[key] = kernel
        return kernel(*args)

    def __reduce__(self) -> Any:
        # As a kernel pickles: its source and the outside values it names, compiled again
        # (per argument types, on use) where it is loaded.
        from ._jit import _source_lines
        from ._pickle import _packed

        func = self.py_func
        lines, _, _ = _source_lines(func)
        captured = {}
        for name in _names(func.__code__):
            if name in func.__globals__ and func.__globals__[name] is not self:
                captured[name] = func.__globals__[name]
        for name, cell in zip(func.__code__.co_freevars, func.__closure__ or ()):
            if cell.cell_contents is not self:
                captured[name] = cell.cell_contents
        source = textwrap.dedent("".join(lines))
        return (_rebuild, (source, func.__name__, self.boundscheck, _packed(captured), self.fastmath))

    def __repr__(self) -> str:
        return f"<nativecall dispatcher {self.py_func.__qualname__}: {len(self.overloads)} compiled>"


def _names(code: Any) -> set[str]:
    """Every global name ``code`` and the code nested in it refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


def _rebuild(
    source: str, name: str, boundscheck: builtins.bool, captured: dict[str, Any], fastmath: builtins.bool = False
) -> Dispatcher:
    from ._pickle import function_from_source

    return Dispatcher(function_from_source(source, name, captured), boundscheck, fastmath)


# Numba dispatchers seen from kernels, by id (the value keeps the Numba object alive).
_NUMBA: dict[int, tuple[Any, Dispatcher]] = {}


def numba_dispatcher(value: Any) -> Dispatcher | None:
    """A Dispatcher for Numba's ``@njit`` function ``value`` (compiled from its
    ``py_func``), or None if ``value`` is not one."""
    if not (type(value).__module__ or "").startswith("numba") or not hasattr(value, "py_func"):
        return None
    if type(value).__name__ not in ("CPUDispatcher", "Dispatcher"):
        return None
    entry = _NUMBA.get(id(value))
    if entry is None or entry[0] is not value:
        options = getattr(value, "targetoptions", {})
        boundscheck = builtins.bool(options.get("boundscheck", False))
        fastmath = builtins.bool(options.get("fastmath", False))
        entry = _NUMBA[id(value)] = (value, Dispatcher(value.py_func, boundscheck, fastmath))
    return entry[1]
