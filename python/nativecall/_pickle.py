"""Pickling kernels, ufuncs and Cython-backed callables.

Compiled code cannot travel between processes, but what it was compiled from can:
a kernel pickles as its source, its signature and the values of the outside names
it used (numbers, modules by name, other kernels and Cython functions, recursively),
and is compiled again on load, which takes about a millisecond. A Cython-backed
callable pickles as its module and name. A callable made from a raw address cannot
be pickled: nothing says what the address means in another process.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import importlib
import linecache
import textwrap
import types


class ModuleRef:
    """A module in a pickle: unpickles as ``importlib.import_module(name)``."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return (importlib.import_module, (self.name,))


def _packed(captured):
    return {k: ModuleRef(v.__name__) if isinstance(v, types.ModuleType) else v for k, v in captured.items()}


def reduce_kernel(kernel):
    source, name, signature, boundscheck, captured, *fastmath = kernel._recipe
    args = (source, name, signature, boundscheck, _packed(captured), kernel.nogil, *fastmath)
    return (rebuild_kernel, args)


def function_from_source(source, name, captured):
    """The plain function ``name`` defined in ``source`` (decorators and annotations
    dropped), with ``captured`` as its globals, and its source readable by the frontend."""
    tree = ast.parse(textwrap.dedent(source))
    fdef = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    fdef.decorator_list = []
    fdef.returns = None
    for arg in fdef.args.args:
        arg.annotation = None
    text = ast.unparse(fdef) + "\n"
    filename = f"<nativecall {name} {hashlib.sha1(text.encode()).hexdigest()[:12]}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace = dict(captured)
    namespace["__builtins__"] = builtins
    namespace["__name__"] = "nativecall._rebuilt"
    exec(compile(text, filename, "exec"), namespace)
    return namespace[name]


def rebuild_kernel(source, name, signature, boundscheck, captured, nogil=False, fastmath=False):
    from ._jit import compile_kernel

    kernel = compile_kernel(function_from_source(source, name, captured), signature, boundscheck, fastmath)
    if nogil:
        kernel._release_gil()
    return kernel


# NumPy's reducer for ufuncs, which nativecall's wraps (set when the first ufunc is made).
NUMPY_UFUNC_REDUCE = None


def reduce_ufunc(ufunc):
    from ._native import _ufunc_loops

    loops = _ufunc_loops(ufunc)
    recipe = loops.recipe if loops is not None else None
    if recipe is None:  # NumPy's own ufuncs pickle by name, as before
        return NUMPY_UFUNC_REDUCE(ufunc) if NUMPY_UFUNC_REDUCE else ufunc.__name__
    kernel_recipe, signatures, identity = recipe
    source, name, _, _, captured = kernel_recipe[:5]
    return (rebuild_ufunc, (source, name, signatures, identity, _packed(captured)))


def rebuild_ufunc(source, name, signatures, identity, captured):
    from ._jit import vectorize

    return vectorize(signatures, identity=identity)(function_from_source(source, name, captured))


def rebuild_cython(module, key, signature):
    from ._interop import cython_functions

    nc = cython_functions(module)[key]
    return nc._respelled(signature) if str(nc.signature) != signature else nc


def reduce_native_callable(nc):
    origin = nc._origin
    if origin is None:
        raise TypeError(
            f"cannot pickle {nc!r}: it was built from a raw address, which means nothing in another "
            "process; pickle the kernel or the Cython function it came from instead"
        )
    module, key = origin
    return (rebuild_cython, (module, key, str(nc.signature)))
