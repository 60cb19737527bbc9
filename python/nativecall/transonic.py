"""A transonic backend that compiles through nativecall.

``import nativecall.transonic`` registers the backend ``"nativecall"``; a module then
chooses it like any other transonic backend::

    import math
    from transonic import jit, set_backend_for_this_module, Array
    import nativecall.transonic

    set_backend_for_this_module("nativecall")

    @jit
    def damped(x: float, k: float) -> float:
        return math.exp(-k * x) * math.cos(x)

Annotations become the kernel's signature: ``float``, ``int`` and ``bool`` mean
float64, int64 and bool, NumPy scalar types keep their names, and transonic's
``Array[float, "1d"]`` is a ``float64[:]`` parameter. A function without complete
annotations is compiled for the types of its first call instead, as transonic does.

With transonic as released (0.4.x), ``@jit`` keeps transonic's wrapper: its first call
runs the Python function and compiles, later calls run the kernel, and
:func:`kernel` returns the :class:`nativecall.Kernel` (so ``kernel(f).lowlevelcallable()``
goes to scipy). transonic hard-codes its backend names in a few functions; this
module widens them for ``"nativecall"`` only (see ``_adapt_released_transonic``).
With the patch in ``contrib/transonic/`` transonic finds this backend through the
``transonic.backends`` entry point (so ``TRANSONIC_BACKEND=nativecall`` works in any
import order), and ``@jit``/``@boost`` of an annotated function return the Kernel itself.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import sys
import textwrap
import types
import weakref

# Released transonic checks TRANSONIC_BACKEND against its own four names while
# `import transonic` runs: hide a "nativecall" from it, and apply it in _register().
_ENV_BACKEND = os.environ.get("TRANSONIC_BACKEND", "")
if _ENV_BACKEND.lower() == "nativecall" and "transonic" not in sys.modules:
    del os.environ["TRANSONIC_BACKEND"]
    try:
        import transonic
    finally:
        os.environ["TRANSONIC_BACKEND"] = _ENV_BACKEND
import transonic
from transonic.backends import backends as _backends
from transonic.backends.base_jit import SubBackendJIT
from transonic.backends.py import PythonBackend
from transonic.backends.typing import TypeFormatter
from transonic.typing import format_type_as_backend_type, typeof

from ._jit import jit as _nativecall_jit
from ._native import Kernel, Signature, Type

__all__ = ["NativecallBackend", "backend", "kernel", "signature_of"]

NAME = "nativecall"

# transonic writes Python's type names; nativecall spells them as NumPy does
# (a bare `int` would be C's 32-bit int).
_NAMES = {"int": "int64", "float": "float64", "complex": "complex128", "bool": "bool", "bool_": "bool"}


class _TypeFormatter(TypeFormatter):
    """transonic types as nativecall type strings: ``Array[float, "2d"]`` is
    ``float64[:, :]`` (any strides and either order: kernels take every layout)."""

    def normalize_type_name(self, name):
        return _NAMES.get(name, name)

    def make_array_code(self, dtype, ndim, shape, memview, mem_layout, positive_indices):
        dtype = self.normalize_type_name(dtype.__name__)
        if ndim == 0:
            return dtype
        return f"{dtype}[{', '.join([':'] * ndim)}]"


_FORMATTER = _TypeFormatter(NAME)


def _type_text(annotation, func, what):
    """The nativecall type string for a transonic or Python annotation."""
    if isinstance(annotation, str):
        try:
            annotation = eval(annotation, func.__globals__)  # from __future__ import annotations
        except Exception:
            pass
    if isinstance(annotation, Type):
        return str(annotation)
    try:
        text = format_type_as_backend_type(annotation, _FORMATTER)
    except (ValueError, RuntimeError, AttributeError, TypeError, KeyError):
        text = None
    if text is not None:
        try:
            Type(text)
            return text
        except (TypeError, ValueError):
            pass
    raise TypeError(
        f"{func.__qualname__}: {what} is annotated {annotation!r}, which has no nativecall type "
        "(accepted: float, int, bool, NumPy scalar types, nativecall types and Array[<dtype>, \"<n>d\"] "
        "with one dtype and one ndim)"
    )


def signature_of(func):
    """``"float64(float64[:], int64)"`` from ``func``'s annotations, or None when a
    parameter or the return type is not annotated."""
    sig = inspect.signature(func)
    params = []
    for p in sig.parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or p.annotation is p.empty:
            return None
        params.append(_type_text(p.annotation, func, f"parameter '{p.name}'"))
    if sig.return_annotation is sig.empty:
        return None
    ret = _type_text(sig.return_annotation, func, "the return value")
    return f"{ret}({', '.join(params)})"


# The kernel compiled for each Python function (and the signature it was compiled for).
_KERNELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compile(func, signature):
    found = _KERNELS.get(func)
    if found is not None and found[0] == signature:
        return found[1]
    k = _nativecall_jit(signature)(func)
    _KERNELS[func] = (signature, k)
    return k


def kernel(func):
    """The :class:`nativecall.Kernel` of a function decorated with transonic's ``@jit``
    or ``@boost`` under the nativecall backend (or of the plain Python function):
    compiled from its annotations now, or the one compiled for its first call's types."""
    if isinstance(func, Kernel):
        return func
    compiled = _transonic_compiled(func)
    if compiled is not None:
        return compiled
    original = inspect.unwrap(func)
    if not inspect.isfunction(original):
        raise TypeError(f"nativecall.transonic.kernel() takes a transonic-decorated function, got {type(func).__name__}")
    signature = signature_of(original)
    if signature is None:
        raise TypeError(
            f"{original.__qualname__} has no complete annotations and has not been compiled for a call yet, "
            "so its types are unknown: annotate every parameter and the return value, or call it first"
        )
    return _compile(original, signature)


def _transonic_compiled(func):
    """The Kernel transonic's ``@jit`` wrapper calls, once its first call compiled it
    (the wrapper's closure holds transonic's JIT object, whose ``backend_func`` it is)."""
    for cell in getattr(func, "__closure__", None) or ():
        try:
            compiled = getattr(cell.cell_contents, "backend_func", None)
        except ValueError:  # an empty cell
            continue
        if isinstance(compiled, Kernel):
            return compiled
    return None


class _SubBackendJIT(SubBackendJIT):
    """transonic's ``@jit`` steps for nativecall: the header is the kernel's one
    signature (from the annotations, else from the call's argument types)."""

    def __init__(self, name, type_formatter):
        super().__init__(name, _FORMATTER)

    def make_new_header(self, func, arg_types):
        signature = signature_of(func)
        if signature is None:
            if arg_types == "no types":
                return ""
            # No return annotation: nativecall infers the return type.
            return f"{func.__name__}({', '.join(arg_types)})"
        return f"{func.__name__}:{signature}"

    def merge_old_and_new_header(self, path_backend_header, header, func):
        # A kernel has one signature: the newest types replace the old ones.
        return header + "\n"

    def write_new_header(self, path_backend_header, header, arg_types):
        with open(path_backend_header, "w") as file:
            file.write(header)

    def compute_typename_from_object(self, obj):
        return format_type_as_backend_type(typeof(obj), _FORMATTER)


class NativecallBackend(PythonBackend):
    """transonic's backend interface, implemented with :func:`nativecall.jit`."""

    backend_name = NAME
    suffix_header = ".nativecall"
    _SubBackendJIT = _SubBackendJIT
    _TypeFormatter = _TypeFormatter

    def can_import_accelerator(self):
        return True

    def compile_extension(self, path_backend, name_ext_file=None, native=False, xsimd=False, openmp=False, **kw):
        """Write the module transonic imports the function from: transonic's copy of
        the function (with the globals it uses), compiled by nativecall when imported.
        ``(False, None)``: nothing is left compiling in the background."""
        if name_ext_file is None:
            name_ext_file = self.name_ext_from_path_backend(path_backend)
        header = path_backend.with_suffix(self.suffix_header).read_text().strip()
        func_name = path_backend.stem
        source = _strip_annotations(path_backend.read_text())
        module = (
            f'"""transonic\'s nativecall backend: {func_name} compiled as a nativecall kernel."""\n'
            f"import nativecall.transonic as __nativecall_transonic\n\n"
            f"{source}\n\n"
            f"__transonic__ = ({transonic.__version__!r},)\n"
            f"{func_name} = __nativecall_transonic._load({func_name}, {header!r})\n"
        )
        with open(path_backend.with_name(name_ext_file), "w") as file:
            file.write(module)
        return False, None

    # Hooks used by transonic with the contrib/transonic patch.

    def jit_function(self, func, **options):
        """The Kernel replacing ``@jit``'s ``func`` when its annotations give the
        signature; None lets transonic compile at the first call."""
        signature = signature_of(func)
        return None if signature is None else _compile(func, signature)

    def boost_function(self, func, **options):
        """The Kernel replacing ``@boost``'s ``func`` (which must be annotated)."""
        signature = signature_of(func)
        if signature is None:
            raise TypeError(
                f"@boost with the nativecall backend compiles {func.__qualname__} at once: annotate every "
                "parameter and the return value"
            )
        return _compile(func, signature)


def _compile_from_call(func, header):
    """A kernel for the argument types transonic recorded (``f(float64[:, :], int64)``),
    its return type inferred."""
    args = header[header.index("(") + 1 : header.rindex(")")]
    argtypes = list(Signature(f"void({args or 'void'})").argtypes)
    clone = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    clone.__qualname__, clone.__module__ = func.__qualname__, func.__module__
    clone.__annotations__ = dict(zip(inspect.signature(func).parameters, argtypes))
    return _nativecall_jit(clone)


def _strip_annotations(source):
    """transonic's copy of the function without its annotations: they name transonic
    types the copy does not import, and the header has the signature already."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
            for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
                a.annotation = None
            if node.args.vararg:
                node.args.vararg.annotation = None
            if node.args.kwarg:
                node.args.kwarg.annotation = None
    return ast.unparse(tree)


def _load(func, header):
    """Called by the module ``compile_extension`` writes, as transonic imports it:
    the kernel of the copied function (compiled already if this process did)."""
    if ":" in header:
        return _compile(func, header.split(":", 1)[1])
    return _compile_from_call(func, header)


backend = NativecallBackend()


def _adapt_released_transonic():
    """transonic 0.4 has no way to register a backend: besides the table
    ``transonic.backends.backends`` it spells its four backend names out in
    ``can_import_accelerator``, ``get_decorated_dicts`` and the per-backend module
    tables. Each is widened here for "nativecall" only, leaving every other name to
    transonic's own code. (The contrib/transonic patch makes all of this unnecessary.)"""
    from transonic import aheadoftime, justintime, util
    from transonic.analyses import justintime as analyses_jit

    justintime.modules_backends.setdefault(NAME, {})
    aheadoftime.modules_backends.setdefault(NAME, {})

    original_can_import = util.can_import_accelerator
    if not getattr(original_can_import, "_nativecall", False):

        @functools.wraps(original_can_import)
        def can_import_accelerator(backend=util.backend_default):
            return True if backend == NAME else original_can_import(backend)

        can_import_accelerator._nativecall = True
        for module in (util, justintime):
            module.can_import_accelerator = can_import_accelerator

    original_decorated = analyses_jit.get_decorated_dicts
    if not getattr(original_decorated, "_nativecall", False):

        @functools.wraps(original_decorated)
        def get_decorated_dicts(module, ancestors, duc, pathfile, backend_name, decorator="boost"):
            if backend_name != NAME:
                return original_decorated(module, ancestors, duc, pathfile, backend_name, decorator)
            # Found as the "python" backend's, then filed under nativecall's name.
            dicts = original_decorated(module, ancestors, duc, pathfile, "python", decorator)
            for per_backend in dicts.values():
                per_backend[NAME] = per_backend["python"]
            return dicts

        get_decorated_dicts._nativecall = True
        analyses_jit.get_decorated_dicts = get_decorated_dicts


def _register():
    from transonic import config

    register = getattr(transonic.backends, "register_backend", None)
    if register is not None:  # transonic with the contrib/transonic patch
        if _backends.get(NAME) is not backend:
            register(backend)
        if _ENV_BACKEND.lower() == NAME and config.backend_default != NAME:
            config.set_backend(NAME)
        return
    _backends[NAME] = backend
    _adapt_released_transonic()
    # TRANSONIC_BACKEND=nativecall works with released transonic when this module is
    # imported before transonic (else `import transonic` has refused it already).
    if _ENV_BACKEND.lower() == NAME and config.backend_default != NAME:
        config.backend_default = NAME
        config.backend_set_by_user = True
        transonic.backends.backend_default = NAME


_register()
