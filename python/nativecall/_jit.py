"""``@nativecall.jit``: the Python-subset frontend.

The function's source is parsed with :mod:`ast` and lowered to the kernel IR the
Rust compiler reads (nested tuples, built through the node kinds of :mod:`._ir`). Names are resolved here, once, at decoration
time: parameters and assigned names are locals; numbers found in the closure or
the globals are frozen as constants; functions from :mod:`math`, the builtins
``abs/min/max/int/float/bool``, other kernels, anything :func:`nativecall.native`
accepts and attributes of Cython modules become calls. See ``docs/semantics.md``.
"""

from __future__ import annotations

import ast
import builtins
import cmath
import inspect
import itertools
import linecache
import math
import numbers
import operator
import sys
import textwrap
import types

from . import _ir as ir
from . import _native
from ._errors import CompileError, TypingError, UndefinedNameError, UnsupportedError
from ._dispatch import Dispatcher, numba_dispatcher
from ._native import Kernel, NativeCallable, Signature, SignatureError, Type

__all__ = ["jit", "compile_kernel"]


_ERRORS = {
    "unsupported": UnsupportedError,
    "typing": TypingError,
    "no-signature": TypingError,
    "name": UndefinedNameError,
}

_BINOPS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_UNARY = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not", ast.Invert: "~"}
_BUILTINS = {
    "abs": abs, "min": min, "max": max, "int": int, "float": float, "bool": bool, "len": len, "complex": complex,
}  # fmt: skip
_CMATH_FUNCTIONS = {
    "exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "phase", "rect", "isnan", "isinf", "isfinite",
}  # fmt: skip
# The parts of a number: ``z.real``, ``z.imag`` (attributes), ``z.conjugate()`` (a method).
_PART_ATTRIBUTES = {"real", "imag"}
_MATH_FUNCTIONS = {
    "sqrt", "exp", "expm1", "log", "log1p", "log2", "log10", "pow", "sin", "cos", "tan", "asin", "acos",
    "atan", "atan2", "sinh", "cosh", "tanh", "floor", "ceil", "trunc", "fabs", "hypot", "copysign", "fmod",
    "erf", "erfc", "gamma", "lgamma", "isnan", "isinf", "isfinite",
}  # fmt: skip
# NumPy's scalar functions kernels compile, with what each becomes: a math function of
# the same semantics on float64 (NumPy's domain errors give nan and -inf, as kernels' math
# functions do), a NumPy function of its own, a builtin, or the operator `**`.
_NUMPY_FUNCTIONS = {
    **{n: ("math", n) for n in ("expm1", "log1p", "log2", "log10", "fabs")},
    # On real numbers the math function of the name; on complex ones cmath's.
    **{n: ("cmath", n) for n in (
        "exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "isnan", "isinf", "isfinite", "angle",
    )},
    "real": ("builtin", "real"), "imag": ("builtin", "imag"),
    "conj": ("builtin", "conjugate"), "conjugate": ("builtin", "conjugate"),
    "arcsin": ("math", "asin"), "arccos": ("math", "acos"), "arctan": ("math", "atan"),
    **{n: ("numpy", n) for n in ("floor", "ceil", "trunc", "hypot", "arctan2", "minimum", "maximum", "sign")},
    "abs": ("builtin", "abs"), "absolute": ("builtin", "abs"),
    "power": ("binary", "**"),
}  # fmt: skip
# NumPy's reductions of a whole 1-D array kernels compute (np.sum(a)), by the name each
# compiles as; and the array methods that are the same reductions (a.sum()).
_NUMPY_REDUCTIONS = {
    "sum": "sum", "mean": "mean", "var": "var", "std": "std", "min": "min", "max": "max",
    "amin": "min", "amax": "max", "median": "median", "nanmedian": "nanmedian",
}  # fmt: skip
_ARRAY_METHODS = ("sum", "mean", "var", "std", "min", "max")
# NumPy's array constructors kernels compile: a 1-D scratch array of a run-time length.
_NUMPY_SCRATCH = ("empty", "zeros")
_INT64 = (-(2**63), 2**63 - 1)
_MAX_NDIM = 64  # DLPack's ndim is an int32; NumPy allows 64
# How deeply kernel expressions may nest (x + x + ... of 100 terms nests 100 deep): the
# compiler recurses over them, so deeper ones are a CompileError (docs/semantics.md).
MAX_EXPR_DEPTH = 100
_UNSET = object()


def _annotation_type(ann, namespace):
    """The kernel type an annotation names (None without one), or raises ValueError saying
    what it names instead. ``from __future__ import annotations`` keeps every annotation as
    text: it is evaluated where the function was defined (``float64[:]``), and text that
    names no Python object is read as a C or Numba type (``"double *"``)."""
    if ann is inspect.Parameter.empty or ann is None:
        return None
    if isinstance(ann, str):
        try:
            ann = eval(ann, namespace)  # noqa: S307 - the user's own annotation
        except Exception:
            pass
        if isinstance(ann, str):
            try:
                return Type(ann)
            except SignatureError as e:
                raise ValueError(f"the annotation {ann!r} is not a type ({e.args[0] if e.args else e})") from None
    if isinstance(ann, Type):
        return ann
    if ann is float:
        return _native.float64
    if ann is int:
        return _native.int64
    if ann is builtins.bool:
        return _native.bool
    raise ValueError(f"the annotation {ann!r} is not a nativecall type (use nativecall.float64, float, int, bool, ...)")


# Numba's options that change nothing for a kernel: it is always compiled to native code
# without the interpreter, never holds the GIL while it runs, and compiles in about a
# millisecond, so there is nothing to cache.
_IGNORED_OPTIONS = ("nopython", "nogil", "cache")


def jit(signature=None, *, boundscheck=False, fastmath=False, source=None, globals=None, **options):
    """Compile a Python function into a native :class:`nativecall.Kernel`.

    ``@nativecall.jit("float64(float64, intp)")`` (Numba or C spelling), or plain
    ``@nativecall.jit`` with annotations (``x: nativecall.float64``; ``float``, ``int``
    and ``bool`` mean float64, int64 and bool; a missing return annotation is
    inferred). Compilation is eager; errors raise :class:`CompileError` subclasses.

    ``nativecall.jit(signature, source="def f(x): ...", globals=None)`` compiles the one
    function a source string defines, for code that has no source file (``exec``,
    ``python -c``, the plain REPL); its outside names come from ``globals`` (a dict,
    copied) and from what the source itself imports.

    Without a signature, a function with parameters and no annotation on them gives a
    :class:`Dispatcher` that compiles a kernel per combination of argument types, as
    Numba's ``@jit`` does. Numba's ``nopython=``, ``nogil=`` and ``cache=`` are accepted
    and change nothing. ``fastmath=True`` lets ``a * b + c`` on floats be one fused
    multiply-add (rounded once) where the CPU has FMA; without it kernels compute as CPython.
    """
    for name in _IGNORED_OPTIONS:
        options.pop(name, None)
    if options:
        raise TypeError(
            f"jit() got unexpected options: {', '.join(sorted(options))} "
            f"(accepted: boundscheck, fastmath, source, globals, and Numba's {', '.join(_IGNORED_OPTIONS)})"
        )
    is_function = isinstance(signature, types.FunctionType)
    if signature is not None and not callable(signature) and not isinstance(signature, (str, Signature)):
        from .types import as_signature

        signature = as_signature(signature)  # nativecall.types or Numba signature objects
    if source is not None:
        if is_function or callable(signature):
            raise TypeError("jit(source=...) takes the signature (or None), not a function")
        return _kernel_or_dispatcher(_function_from_source(source, globals), signature, boundscheck, fastmath)
    if globals is not None:
        raise TypeError("jit(globals=...) goes with source=...")
    if is_function or (callable(signature) and not isinstance(signature, (str, Signature))):
        return _kernel_or_dispatcher(signature, None, boundscheck, fastmath)

    def decorate(func):
        return _kernel_or_dispatcher(func, signature, boundscheck, fastmath)

    return decorate


def _kernel_or_dispatcher(func, signature, boundscheck, fastmath=False):
    """A Kernel, or a Dispatcher when there is no signature and no parameter has an
    annotation (some but not all annotated stays an error: which types were meant?)."""
    if signature is None and isinstance(func, types.FunctionType):
        params = inspect.signature(func).parameters.values()
        if params and all(p.annotation is inspect.Parameter.empty for p in params):
            return Dispatcher(func, bool(boundscheck), bool(fastmath))
    return compile_kernel(func, signature, boundscheck, fastmath)


def compile_kernel(func, signature, boundscheck=False, fastmath=False):
    """The kernel of ``func`` for ``signature`` (a Signature or its text; a tuple of
    argument types, the return type inferred; or None for the annotations)."""
    if not isinstance(func, types.FunctionType):
        raise TypeError(f"nativecall.jit compiles Python functions, got {type(func).__name__}")
    frontend = _Frontend(func, signature)
    frontend.boundscheck = bool(boundscheck)
    frontend.fastmath = bool(fastmath)
    ir = frontend.lower()
    recipe = [frontend.source, frontend.fdef.name, frontend.signature_text, bool(boundscheck), frontend.captured]
    if fastmath:
        recipe.append(True)
    # Each call of a kernel without a signature is compiled for the argument types the
    # native compiler finds at that call site: it reports the first call site with no
    # kernel yet, which is compiled and given to the call site before trying again.
    for _ in range(len(frontend.dispatch_sites) + 1):
        try:
            kernel = _native._compile_kernel(ir, func, tuple(frontend.keep), recipe)
            break
        except _native.KernelCompileFailure as failure:
            if not frontend.specialize_call_site(failure):
                raise _compile_error(frontend, failure) from None
    if recipe[2] is None:  # an inferred return type: the recipe records the one found
        recipe[2] = _signature_text(frontend.param_list, kernel.signature.restype)
    return kernel


def _compile_error(frontend, failure):
    """The CompileError for a failure the native compiler reported, pointing into the source."""
    kind, message, line, col = failure.args
    if kind == "codegen":
        return CompileError(f"{frontend.func.__qualname__}: {message}", frontend.filename, frontend.first_line)
    return frontend.error(_ERRORS[kind], message, line, col)


class _Frontend:
    def __init__(self, func, signature):
        self.boundscheck = self.fastmath = False
        # Locals holding a view of records (``p = carray(ud, 1, dtype=rec)``: dtype, None) or
        # one record of it (``r = p[0]``: dtype and the constant index, or for a computed
        # one, the hidden local ``r.index`` that keeps it).
        self.records = {}
        self.func = func
        self.filename = func.__code__.co_filename
        try:
            lines, first, tree = _source_lines(func)
        except (OSError, TypeError) as e:
            raise UnsupportedError(
                f"nativecall.jit needs the source of {func.__qualname__} ({e}); define it in a file or a notebook "
                f"cell, or pass the text: nativecall.jit(signature, source='def {func.__name__}(...): ...')",
                self.filename,
                func.__code__.co_firstlineno,
            ) from None
        source = "".join(lines)
        dedented = textwrap.dedent(source)
        self.indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
        self.first_line = first
        self.lines = source.splitlines()
        if tree is None:
            tree = ast.parse(dedented)
        fdefs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        if not fdefs:
            raise UnsupportedError("nativecall.jit compiles 'def' functions (not lambdas)", self.filename, first)
        self.fdef = fdefs[0]
        self.signature = signature
        self.natives = []  # [(name, [NativeCallable, ...])]
        self.native_index = {}
        self.keep = []
        self.frozen = {}  # id(global array) -> (its frozen copy, element type)
        self.closure = {}
        self.unbound = set()  # free variables the enclosing function has not assigned yet
        if func.__closure__:
            for name, cell in zip(func.__code__.co_freevars, func.__closure__):
                try:
                    self.closure[name] = cell.cell_contents
                except ValueError:
                    self.unbound.add(name)
        self.locals = set()
        self.captured = {}
        self.source = dedented
        self.expr_depth = 0
        # Calls of kernels without a signature: {(line, col): (dispatcher, label, targets)},
        # ``targets`` being the call site's (initially empty) list in ``self.natives``.
        self.dispatch_sites = {}

    # ------------------------------------------------------------------ errors

    def error(self, cls, message, line, col):
        lineno = self.first_line + line - 1
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return cls(message, self.filename, lineno, col + self.indent, text)

    def fail(self, node, message, cls=UnsupportedError):
        return self.error(cls, message, getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    def pos(self, node):
        return node.lineno, node.col_offset

    # ------------------------------------------------------------------ the function

    def lower(self):
        f = self.fdef
        if isinstance(f, ast.AsyncFunctionDef):
            raise self.fail(f, "async functions cannot be kernels")
        a = f.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
            raise self.fail(f, "kernel parameters are plain positional names (no defaults, *args, **kwargs or keyword-only)")
        names = [arg.arg for arg in a.args]
        params, ret = self.param_types(names)
        self.param_list = params
        self.locals = set(names) | _assigned_names(f.body)
        body = self.block(_strip_docstring(f.body))
        natives = [ir.OVERLOADS(label, targets) for label, targets in self.natives]
        params = [ir.PARAM(name, t) for name, t in zip(names, params)]
        return ir.FUNCTION(f.name, params, ret, body, natives, self.boundscheck, self.fastmath)

    def param_types(self, names):
        func = self.func
        if isinstance(self.signature, tuple):  # argument types; the return type is inferred
            if len(self.signature) != len(names):
                raise self.fail(
                    self.fdef,
                    f"{func.__name__} takes {len(names)} argument{'' if len(names) == 1 else 's'}, "
                    f"got {len(self.signature)}",
                    TypingError,
                )
            self.signature_text = None
            return list(self.signature), None
        if self.signature is not None:
            sig = self.signature if isinstance(self.signature, Signature) else Signature(self.signature)
            if len(sig) != len(names):
                raise self.fail(
                    self.fdef,
                    f"the signature '{sig}' has {len(sig)} parameters but {func.__name__} takes {len(names)}",
                    TypingError,
                )
            params, ret = list(sig.argtypes), sig.restype
            self.signature_text = _signature_text(params, ret)
            return params, ret
        hints = inspect.signature(func)
        namespace = {**func.__globals__, **self.closure}
        params = []
        for n, arg in zip(names, self.fdef.args.args):
            t = self.annotation(hints.parameters[n].annotation, namespace, arg.annotation or arg, f"parameter '{n}'")
            if t is None:
                raise self.fail(
                    self.fdef,
                    f"parameter '{n}' has no type: give @nativecall.jit a signature such as "
                    f"\"float64(float64)\" or annotate it (x: nativecall.float64)",
                    TypingError,
                )
            params.append(t)
        ret = self.annotation(hints.return_annotation, namespace, self.fdef.returns or self.fdef, "the return annotation")
        self.signature_text = None if ret is None else _signature_text(params, ret)
        return params, ret

    def annotation(self, ann, namespace, node, what):
        try:
            return _annotation_type(ann, namespace)
        except ValueError as e:
            raise self.fail(node, f"{what}: {e}", TypingError) from None

    # ------------------------------------------------------------------ names

    def lookup(self, name):
        """The Python object a non-local name refers to, or _UNSET. Every closure or
        global found is recorded: a pickled kernel carries them."""
        if name in self.closure:
            self.captured[name] = self.closure[name]
            return _numba_equivalent(self.closure[name])
        if name in self.unbound:  # the enclosing function's, not a global of the same name
            return _UNSET
        g = self.func.__globals__
        if name in g:
            self.captured[name] = g[name]
            return _numba_equivalent(g[name])
        b = g.get("__builtins__", builtins)
        b = b if isinstance(b, dict) else vars(b)
        return b.get(name, _UNSET)

    def constant(self, value, node):
        """A frozen number, or None if ``value`` is not a real number."""
        line, col = self.pos(node)
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return ir.BOOL(builtins.bool(value), line, col)
        if isinstance(value, numbers.Integral):
            v = operator.index(value)
            if not _INT64[0] <= v <= _INT64[1]:
                raise self.fail(node, f"the integer {v} does not fit in int64", TypingError)
            return ir.INT(v, line, col)
        if isinstance(value, numbers.Real):
            return ir.FLOAT(float(value), line, col)
        if isinstance(value, numbers.Complex):
            z = complex(value)
            return ir.COMPLEX(z.real, z.imag, line, col)
        return None

    def native_ref(self, key, label, callables):
        if key not in self.native_index:
            self.native_index[key] = len(self.natives)
            self.natives.append((label, callables))
            self.keep.extend(callables)
        return self.native_index[key]

    def as_native(self, value, label, node):
        """Index of a native callee for ``value``, or None if it is not native-callable."""
        if isinstance(value, types.ModuleType):
            return None
        if isinstance(value, NativeCallable):
            return self.native_ref(id(value), label, [value])
        if isinstance(value, Dispatcher) or numba_dispatcher(value) is not None:
            raise self.fail(
                node,
                f"'{label}' is a kernel without a signature: call it, or give it a signature "
                f"(@nativecall.jit(\"float64(float64)\")) to use it as a function pointer",
                TypingError,
            )
        try:
            from ._interop import native

            nc = native(value)
        except TypeError as e:
            if type(value).__name__ == "PyCapsule":
                # A capsule is meant to be native: say why this one cannot be read.
                raise self.fail(node, f"{label}: {e}", TypingError) from None
            return None
        except ValueError as e:
            raise self.fail(node, f"{label}: {e}", TypingError) from None
        return self.native_ref(id(value), label, [nc])

    def cython_overloads(self, module, attr, node):
        from ._interop import cython_functions, plain_name

        label = f"{module.__name__}.{attr}"
        key = ("cython", module.__name__, attr)
        if key in self.native_index:
            return self.native_index[key]
        fns = [nc for k, nc in sorted(cython_functions(module).items()) if plain_name(k) == attr]
        if not fns:
            raise self.fail(node, f"module {module.__name__} exports no native function '{attr}'", UndefinedNameError)
        # Prefer real-valued specialisations when types tie (double over double complex).
        fns.sort(key=lambda nc: "_Complex" in str(nc.signature))
        return self.native_ref(key, label, fns)

    def static_value(self, node):
        """The object an attribute chain like ``math.pi`` or ``cython_special.gamma`` names."""
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return _UNSET
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            base = self.static_value(node.value)
            if base is _UNSET:
                return _UNSET
            return _numba_equivalent(getattr(base, node.attr, _UNSET))
        return _UNSET

    # ------------------------------------------------------------------ statements

    def block(self, body):
        out = []
        for s in body:
            lowered = self.stmt(s)
            out.extend(lowered if isinstance(lowered, list) else [lowered])
        return out

    def stmt(self, s):
        line, col = self.pos(s)
        if isinstance(s, ast.Assign):
            if len(s.targets) > 1:
                # a = b = e: evaluate e once into the first target, then copy it to the others.
                first = self.assign(s.targets[0], s.value, s)
                return [first] + [self.assign(t, s.targets[0], s) for t in s.targets[1:]]
            return self.assign(s.targets[0], s.value, s)
        if isinstance(s, ast.AnnAssign):
            if s.value is None:
                return ir.PASS()
            return self.assign(s.target, s.value, s)
        if isinstance(s, ast.AugAssign):
            op = self.binop(s.op, s)
            if isinstance(s.target, ast.Name):
                self.check_local(s.target)
                return ir.AUGASSIGN(s.target.id, op, self.expr(s.value), line, col)
            if isinstance(s.target, ast.Subscript):
                p, i = self.subscript(s.target)
                return ir.AUGSTORE(p, i, op, self.expr(s.value), line, col)
            raise self.fail(s.target, "augmented assignment to this target is not supported")
        if isinstance(s, ast.If):
            return ir.IF(self.expr(s.test), self.block(s.body), self.block(s.orelse), line, col)
        if isinstance(s, ast.While):
            return ir.WHILE(self.expr(s.test), self.block(s.body), self.block(s.orelse), line, col)
        if isinstance(s, ast.For):
            return self.for_(s)
        if isinstance(s, ast.Break):
            return ir.BREAK(line, col)
        if isinstance(s, ast.Continue):
            return ir.CONTINUE(line, col)
        if isinstance(s, ast.Return):
            return ir.RETURN(None if s.value is None else self.expr(s.value), line, col)
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                return ir.PASS()
            return ir.EXPR_STMT(self.expr(s.value), line, col)
        if isinstance(s, ast.Pass):
            return ir.PASS()
        raise self.fail(s, f"'{type(s).__name__}' statements are not supported in kernels")

    def check_local(self, target):
        if target.id not in self.locals:  # pragma: no cover - every assigned name is local
            raise self.fail(target, f"cannot assign to '{target.id}'")

    def assign(self, target, value, s):
        line, col = self.pos(s)
        if isinstance(target, ast.Name):
            bound = self.record_binding(target, value)
            if bound is not None:
                return ir.ASSIGN(*bound, line, col)
            if target.id in self.records:
                raise self.fail(target, f"'{target.id}' holds records; it cannot be assigned another value", TypingError)
            return ir.ASSIGN([target.id], [self.expr(value)], line, col)
        if isinstance(target, ast.Subscript):
            k = target.slice
            if isinstance(k, ast.Slice) or (isinstance(k, ast.Constant) and k.value is Ellipsis):
                return self.slice_assign(target, value, s)
            p, i = self.subscript(target)
            return ir.STORE(p, i, self.expr(value), line, col)
        if isinstance(target, ast.Tuple):
            if not all(isinstance(t, ast.Name) for t in target.elts):
                raise self.fail(target, "tuple assignment targets must be names")
            if not isinstance(value, ast.Tuple) and self.view_count(value) == len(target.elts):
                # a, b = carray(xx, 2): the view into a hidden local, then its elements.
                array = f"unpack.array.{line}.{col}"
                name = ir.NAME(array, line, col)
                items = [ir.INDEX(name, [ir.INT(k, line, col)], line, col) for k in range(len(target.elts))]
                return [ir.ASSIGN([array], [self.expr(value)], line, col),
                        ir.ASSIGN([t.id for t in target.elts], items, line, col)]  # fmt: skip
            if not isinstance(value, ast.Tuple) or len(value.elts) != len(target.elts):
                raise self.fail(value, "tuple assignment needs a tuple of the same length on the right (a, b = b, a)")
            return ir.ASSIGN([t.id for t in target.elts], [self.expr(v) for v in value.elts], line, col)
        raise self.fail(target, f"assignment to a {type(target).__name__} is not supported")

    def view_count(self, value):
        """The element count of ``carray(p, k)``/``farray(p, (k,))`` when ``k`` is an int
        literal (the only arrays a tuple assignment unpacks: their length is known), else None."""
        special = self.special_callee(value.func) if isinstance(value, ast.Call) else None
        if special is None or special[0] != "view":
            return None
        shape = value.args[1] if len(value.args) > 1 else next((kw.value for kw in value.keywords if kw.arg == "shape"), None)
        if isinstance(shape, ast.Tuple) and len(shape.elts) == 1:
            shape = shape.elts[0]
        if isinstance(shape, ast.Constant) and type(shape.value) is int:
            return shape.value
        return None

    def slice_assign(self, target, value, s):
        """``a[lo:hi] = x``, ``a[:] = x``, ``a[...] = x`` on a 1-D array: ``x`` evaluated once
        (first, as Python does), then a loop storing it at each index of the slice, whose
        bounds are clamped to the array as NumPy's (negative ones count from the end)."""
        line, col = self.pos(s)
        k = target.slice
        if isinstance(k, ast.Slice) and k.step is not None:
            raise self.fail(k.step, "slice assignment with a step (a[lo:hi:step] = x) is not supported in kernels")
        tag = f"{line}.{col}"
        out = [ir.ASSIGN([f"slice.value.{tag}"], [self.expr(value)], line, col)]
        if isinstance(target.value, ast.Name) and target.value.id in self.locals:
            array = ir.NAME(target.value.id, line, col)
        else:
            out.append(ir.ASSIGN([f"slice.array.{tag}"], [self.expr(target.value)], line, col))
            array = ir.NAME(f"slice.array.{tag}", line, col)
        n = ir.CALL(ir.BUILTIN("len"), [array], line, col)

        def clamp(bound, name, default):
            if bound is None:
                return default
            var = ir.NAME(f"slice.{name}.{tag}", line, col)
            zero = ir.INT(0, line, col)
            out.append(ir.ASSIGN([f"slice.{name}.{tag}"], [self.expr(bound)], line, col))
            # b + n if b < 0 else b, then into [0, n].
            wrapped = ir.IFEXP(ir.COMPARE(var, ["<"], [zero], line, col), ir.BINARY("+", var, n, line, col), var, line, col)
            out.append(ir.ASSIGN([f"slice.{name}.{tag}"], [wrapped], line, col))
            low = ir.IFEXP(ir.COMPARE(var, ["<"], [zero], line, col), zero, var, line, col)
            out.append(ir.ASSIGN([f"slice.{name}.{tag}"], [low], line, col))
            high = ir.IFEXP(ir.COMPARE(var, [">"], [n], line, col), n, var, line, col)
            out.append(ir.ASSIGN([f"slice.{name}.{tag}"], [high], line, col))
            return var

        lower = k.lower if isinstance(k, ast.Slice) else None
        upper = k.upper if isinstance(k, ast.Slice) else None
        start = clamp(lower, "start", ir.INT(0, line, col))
        stop = clamp(upper, "stop", n)
        index = f"slice.index.{tag}"
        store = ir.STORE(array, [ir.NAME(index, line, col)], ir.NAME(f"slice.value.{tag}", line, col), line, col)
        out.append(ir.FOR(index, start, stop, ir.INT(1, line, col), [store], [], line, col))
        return out

    def for_(self, s):
        line, col = self.pos(s)
        it = s.iter
        is_range = (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id not in self.locals
            and self.lookup(it.func.id) is range
        )
        if not is_range:
            return self.for_each(s)
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.fail(it, "range() takes 1 to 3 positional arguments")
        if not isinstance(s.target, ast.Name):
            raise self.fail(s.target, "the loop variable must be a name")
        a = [self.expr(x) for x in it.args]
        if len(a) == 1:
            start, stop, step = ir.INT(0, line, col), a[0], ir.INT(1, line, col)
        elif len(a) == 2:
            start, stop, step = a[0], a[1], ir.INT(1, line, col)
        else:
            start, stop, step = a
        return ir.FOR(s.target.id, start, stop, step, self.block(s.body), self.block(s.orelse), line, col)

    def for_each(self, s):
        """``for v in a``: a loop over ``range(len(a))`` whose body starts with
        ``v = a[i]``; an array that is not a local is evaluated once, into a hidden local."""
        line, col = self.pos(s)
        if not isinstance(s.target, ast.Name):
            raise self.fail(s.target, "the loop variable must be a name")
        it = s.iter
        if not isinstance(it, (ast.Name, ast.Attribute, ast.Call)):
            raise self.fail(it, f"kernels loop with 'for i in range(...)' and 'for v in array', not over a {type(it).__name__}")
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id not in self.locals:
            if self.lookup(it.func.id) in (enumerate, zip, reversed):
                raise self.fail(it, f"kernels loop with 'for i in range(...)' and 'for v in array'; {it.func.id}() is not supported")
        before = []
        if isinstance(it, ast.Name) and it.id in self.locals:
            array = it.id
        else:
            array = f"for.array.{line}.{col}"  # not a Python name: no clash with the user's
            before.append(ir.ASSIGN([array], [self.expr(it)], line, col))
        index = f"for.index.{line}.{col}"
        name = ir.NAME(array, line, col)
        first = ir.ASSIGN([s.target.id], [ir.INDEX(name, [ir.NAME(index, line, col)], line, col)], line, col)
        stop = ir.CALL(ir.BUILTIN("len"), [name], line, col)
        body = [first] + self.block(s.body)
        loop = ir.FOR(index, ir.INT(0, line, col), stop, ir.INT(1, line, col), body, self.block(s.orelse), line, col)
        return before + [loop]

    # ------------------------------------------------------------------ expressions

    def binop(self, op, node):
        try:
            return _BINOPS[type(op)]
        except KeyError:
            raise self.fail(node, f"the operator {type(op).__name__} is not supported in kernels") from None

    def subscript(self, node):
        """The base and the list of indices of ``p[i]`` or ``a[i, j]``."""
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        for p in parts:
            if isinstance(p, ast.Slice):
                raise self.fail(p, "kernels index with integers (a[i], a[i, j]); slices are not supported")
        return self.expr(node.value), [self.expr(p) for p in parts]

    def expr(self, e):
        self.expr_depth += 1
        try:
            if self.expr_depth > MAX_EXPR_DEPTH:
                raise self.fail(e, f"expressions nest more than {MAX_EXPR_DEPTH} levels deep in kernels; split this one with local variables")
            return self.expr_(e)
        finally:
            self.expr_depth -= 1

    def expr_(self, e):
        line, col = self.pos(e)
        if isinstance(e, ast.Constant):
            if e.value is None:
                return ir.NULL(line, col)
            c = self.constant(e.value, e) if not isinstance(e.value, (str, bytes)) else None
            if c is None:
                raise self.fail(e, f"{type(e.value).__name__} constants are not supported in kernels")
            return c
        if isinstance(e, ast.Name):
            if e.id in self.locals:
                return ir.NAME(e.id, line, col)
            value = self.lookup(e.id)
            if value is _UNSET:
                raise self.fail(e, f"name '{e.id}' is not defined", UndefinedNameError)
            return self.value(value, e, e.id)
        if isinstance(e, ast.Attribute) and (ref := self.record_ref(e.value)) is not None:
            return self.record_field(e, ref)
        if isinstance(e, ast.Attribute) and e.attr in _PART_ATTRIBUTES and self.static_value(e.value) is _UNSET:
            return ir.CALL(ir.BUILTIN(e.attr), [self.expr(e.value)], line, col)
        if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id in self.locals:
            if e.attr == "ndim":
                return ir.NDIM(self.expr(e.value), line, col)
            raise self.fail(e, f"'.{e.attr}' is not supported in kernels (arrays have .shape[k] and .ndim)")
        if isinstance(e, ast.Attribute):
            value = self.static_value(e)
            if value is _UNSET:
                raise self.fail(e, f"'{ast.unparse(e)}' is not a constant or a native function kernels can use")
            return self.value(value, e, ast.unparse(e))
        if isinstance(e, ast.BinOp):
            return ir.BINARY(self.binop(e.op, e), self.expr(e.left), self.expr(e.right), line, col)
        if isinstance(e, ast.UnaryOp):
            op = _UNARY[type(e.op)]
            if op == "-" and isinstance(e.operand, ast.Constant) and type(e.operand.value) is int:
                return self.constant(-e.operand.value, e)
            return ir.UNARY(op, self.expr(e.operand), line, col)
        if isinstance(e, ast.BoolOp):
            return ir.BOOLOP(isinstance(e.op, ast.And), [self.expr(v) for v in e.values], line, col)
        if isinstance(e, ast.Compare):
            ops, comparators = [], []
            for op, right in zip(e.ops, e.comparators):
                if type(op) not in _CMPOPS:
                    raise self.fail(e, f"the comparison {type(op).__name__} is not supported in kernels")
                ops.append(_CMPOPS[type(op)])
                comparators.append(self.expr(right))
            return ir.COMPARE(self.expr(e.left), ops, comparators, line, col)
        if isinstance(e, ast.IfExp):
            return ir.IFEXP(self.expr(e.test), self.expr(e.body), self.expr(e.orelse), line, col)
        if isinstance(e, ast.Subscript):
            v = e.value
            if isinstance(v, ast.Attribute) and v.attr == "shape" and isinstance(v.value, ast.Name) and v.value.id in self.locals:
                k = e.slice
                if not (isinstance(k, ast.Constant) and type(k.value) is int and k.value >= 0):
                    raise self.fail(k, "a.shape takes a constant, non-negative index in kernels")
                if k.value > _MAX_NDIM:
                    raise self.fail(k, f"a.shape[{k.value}]: arrays have at most {_MAX_NDIM} dimensions", TypingError)
                return ir.SHAPE(self.expr(v.value), k.value, line, col)
            if isinstance(v, (ast.Name, ast.Attribute)) and not (isinstance(v, ast.Name) and v.id in self.locals):
                # A frozen tuple indexed by a constant (a global array's .shape[k]) is a constant.
                k, frozen = e.slice, self.static_value(v)
                if isinstance(frozen, tuple) and isinstance(k, ast.Constant) and type(k.value) is int:
                    if not -len(frozen) <= k.value < len(frozen):
                        raise self.fail(k, f"{ast.unparse(e)}: index {k.value} out of range for a tuple of {len(frozen)}", TypingError)
                    c = self.constant(frozen[k.value], e)
                    if c is not None:
                        return c
            p, i = self.subscript(e)
            return ir.INDEX(p, i, line, col)
        if isinstance(e, ast.Call):
            return self.call(e)
        raise self.fail(e, f"'{type(e).__name__}' expressions are not supported in kernels")

    # ------------------------------------------------------------------ records

    def record_view(self, node):
        """``(pointer, dtype)`` if ``node`` is ``carray(ptr, shape, dtype=record)``: a NumPy
        record dtype, a ctypes Structure or a Numba Record type, else None."""
        if not isinstance(node, ast.Call):
            return None
        special = self.special_callee(node.func)
        if special is None or special[0] != "view":
            return None
        bound = dict(zip(("ptr", "shape", "dtype"), node.args))
        bound.update((kw.arg, kw.value) for kw in node.keywords if kw.arg)
        dtype_node = bound.get("dtype")
        if dtype_node is None or "ptr" not in bound:
            return None
        if isinstance(dtype_node, ast.Name) and dtype_node.id in self.locals:
            return None
        dtype = _record_dtype(self.static_value(dtype_node) if isinstance(dtype_node, (ast.Name, ast.Attribute)) else None)
        if dtype is None:
            return None
        return self.expr(bound["ptr"]), dtype

    def record_ref(self, node):
        """``(pointer, index, dtype, offset, stride)`` of a record ``node`` names (``view[i]``,
        a local holding one, or a nested record field of one), else None."""
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, (ast.Tuple, ast.Slice)):
            base = node.value
            if isinstance(base, ast.Name) and self.records.get(base.id, (None, 0))[1] is None:
                dtype = self.records[base.id][0]
                line, col = self.pos(base)
                return ir.NAME(base.id, line, col), self.expr(node.slice), dtype, 0, dtype.itemsize
            view = self.record_view(base)
            if view is not None:
                return view[0], self.expr(node.slice), view[1], 0, view[1].itemsize
            return None
        if isinstance(node, ast.Name) and node.id in self.records and self.records[node.id][1] is not None:
            dtype, k = self.records[node.id]
            line, col = self.pos(node)
            index = ir.NAME(k, line, col) if isinstance(k, str) else ir.INT(k, line, col)
            return ir.NAME(node.id, line, col), index, dtype, 0, dtype.itemsize
        if isinstance(node, ast.Attribute):
            inner = self.record_ref(node.value)
            if inner is not None:
                base, index, dtype, offset, stride = inner
                fdtype, foffset = self.field_of(node, dtype)
                if fdtype.fields is None:  # a number: `p.z.imag` is a part of it
                    return None
                return base, index, fdtype, offset + foffset, stride
        return None

    def field_of(self, node, dtype):
        if node.attr not in (dtype.fields or {}):
            raise self.fail(
                node, f"the record has no field '{node.attr}'; it has {', '.join(dtype.names)}", TypingError
            )
        fdtype, foffset = dtype.fields[node.attr][:2]
        return fdtype, foffset

    def record_field(self, node, ref):
        base, index, dtype, offset, stride = ref
        fdtype, foffset = self.field_of(node, dtype)
        line, col = self.pos(node)
        if fdtype.fields is not None:
            raise self.fail(node, f"'{ast.unparse(node)}' is a record: read its fields", TypingError)
        if fdtype.subdtype is not None or not fdtype.isnative or fdtype.kind not in "biufc":
            raise self.fail(node, f"record field '{node.attr}' has type {fdtype}; kernels read numeric fields in native byte order")
        return ir.FIELD(base, index, stride, offset + foffset, Type(fdtype.name), line, col)

    def record_binding(self, target, value):
        """The values a local holding records is given (``p = carray(..., dtype=rec)``,
        ``r = carray(..., dtype=rec)[i]`` or ``r = p[i]``): its pointer, and for a computed
        index the index, kept in a hidden local; None for any other value."""
        line, col = self.pos(value)
        void_ptr = Type("void *")
        view = self.record_view(value)
        index = None
        if view is not None:
            entry, pointer = (view[1], None), view[0]
        elif isinstance(value, ast.Subscript) and not isinstance(value.slice, (ast.Tuple, ast.Slice)):
            constant = isinstance(value.slice, ast.Constant) and type(value.slice.value) is int
            k = value.slice.value if constant else f"{target.id}.index"
            base = value.value
            if isinstance(base, ast.Name) and self.records.get(base.id, (None, 0))[1] is None:
                entry, pointer = (self.records[base.id][0], k), ir.NAME(base.id, *self.pos(base))
            elif (view := self.record_view(base)) is not None:
                entry, pointer = (view[1], k), view[0]
            else:
                return None
            if not constant:
                index = self.expr(value.slice)
        else:
            return None
        if self.records.get(target.id, entry) != entry:
            raise self.fail(target, f"'{target.id}' holds records of another dtype here", TypingError)
        self.records[target.id] = entry
        if index is not None:
            return [target.id, f"{target.id}.index"], [ir.CAST(pointer, void_ptr, line, col), index]
        return [target.id], [ir.CAST(pointer, void_ptr, line, col)]

    def value(self, value, node, label):
        """A non-local value used as an expression: a frozen number, a frozen NumPy array
        (a read-only view of a copy the kernel keeps) or a function pointer."""
        c = self.constant(value, node)
        if c is not None:
            return c
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, numpy.ndarray):
            return self.frozen_array(value, node, label)
        index = self.as_native(value, label, node)
        if index is not None:
            line, col = self.pos(node)
            return ir.FUNCREF(index, line, col)
        raise self.fail(
            node,
            f"'{label}' is a {type(value).__name__}; kernels can use numbers and native functions from outside",
        )

    def frozen_array(self, value, node, label):
        """A global NumPy array, frozen as Numba does: a copy taken now (later changes to
        the global are not seen), kept alive by the kernel, read through a view of a
        ``const`` pointer (storing into it is a compile error)."""
        import numpy as np

        line, col = self.pos(node)
        if value.dtype.kind not in "biuf" or value.dtype.byteorder == (">" if sys.byteorder == "little" else "<"):
            raise self.fail(node, f"'{label}' is an array of {value.dtype}; kernels read global arrays of numbers", TypingError)
        if value.ndim == 0:
            return self.constant(value.item(), node)
        frozen = self.frozen.get(id(value))
        if frozen is None:
            copy = np.array(value, order="C", copy=True)
            copy.flags.writeable = False
            self.keep.append(copy)
            frozen = self.frozen[id(value)] = (copy, _type_of(copy.dtype))
        copy, elem = frozen
        ptr = ir.CAST(ir.INT(copy.ctypes.data, line, col), Type(f"const {elem} *"), line, col)
        extents = [ir.INT(n, line, col) for n in copy.shape]
        return ir.VIEW(ptr, extents, None, False, line, col)

    def call(self, e):
        line, col = self.pos(e)
        f = e.func
        if isinstance(f, ast.Attribute) and f.attr == "conjugate" and self.static_value(f.value) is _UNSET:
            if e.args or e.keywords:
                raise self.fail(e, "conjugate() takes no arguments", TypingError)
            return ir.CALL(ir.BUILTIN("conjugate"), [self.expr(f.value)], line, col)
        if isinstance(f, ast.Attribute) and (
            (isinstance(f.value, ast.Name) and f.value.id in self.locals)
            or isinstance(f.value, (ast.Call, ast.Subscript))
            or _is_ndarray(self.static_value(f.value) if isinstance(f.value, (ast.Name, ast.Attribute)) else None)
        ):
            if f.attr not in _ARRAY_METHODS:
                raise self.fail(
                    f, f"'.{f.attr}()' is not supported in kernels (arrays have {', '.join(f'.{m}()' for m in _ARRAY_METHODS)})"
                )
            return self.reduction(f.attr, f"a.{f.attr}()", [f.value], e)
        special = self.special_callee(e.func)
        if special is not None:
            return self.special_call(special, e)
        if e.keywords:
            raise self.fail(e, "keyword arguments are not supported in kernel calls")
        if any(isinstance(a, ast.Starred) for a in e.args):
            raise self.fail(e, "*args are not supported in kernel calls")
        args = [self.expr(a) for a in e.args]
        return ir.CALL(self.callee(e.func), args, line, col)

    def special_callee(self, f):
        """``("view", "carray"|"farray")``, ``("cast", None)`` or ``("numpy", name)`` when
        ``f`` names nativecall's (or Numba's) carray/farray/cast or a NumPy function."""
        if isinstance(f, ast.Name) and f.id in self.locals:
            return None
        numpy = sys.modules.get("numpy")
        if isinstance(f, ast.Attribute) and numpy is not None and self.static_value(f.value) is numpy:
            if f.attr in _NUMPY_FUNCTIONS:
                return ("numpy", f.attr)
            if f.attr in _NUMPY_REDUCTIONS:
                return ("reduce", f.attr)
            if f.attr in _NUMPY_SCRATCH:
                return ("scratch", f.attr)
            raise self.fail(
                f,
                f"'{ast.unparse(f)}' is not available in kernels; of NumPy, kernels call "
                f"{', '.join(sorted(_NUMPY_FUNCTIONS))} (on scalars) and "
                f"{', '.join(sorted(_NUMPY_REDUCTIONS))} (of a 1-D array) and empty, zeros (1-D scratch arrays)",
            )
        value = self.static_value(f) if isinstance(f, (ast.Name, ast.Attribute)) else _UNSET
        if value is _UNSET or isinstance(value, (int, float, str)):
            return None
        from . import _views

        numba = sys.modules.get("numba")
        for name in ("carray", "farray"):
            if value is getattr(_views, name) or (numba is not None and value is getattr(numba, name, None)):
                return ("view", name)
        if value is _views.cast:
            return ("cast", None)
        if numpy is not None and isinstance(value, numpy.ufunc):
            for name in _NUMPY_FUNCTIONS:
                if getattr(numpy, name, None) is value:
                    return ("numpy", name)
        if numpy is not None and callable(value):
            for name in _NUMPY_REDUCTIONS:
                if getattr(numpy, name, None) is value:
                    return ("reduce", name)
            for name in _NUMPY_SCRATCH:
                if getattr(numpy, name, None) is value:
                    return ("scratch", name)
        return None

    def special_call(self, special, e):
        line, col = self.pos(e)
        what, name = special
        if any(isinstance(a, ast.Starred) for a in e.args):
            raise self.fail(e, "*args are not supported in kernel calls")
        if what == "reduce":
            return self.reduction(name, f"np.{name}()", e.args, e)
        if what == "scratch":
            return self.scratch(name, e)
        if what == "numpy":
            if e.keywords:
                raise self.fail(e, f"np.{name}() takes positional arguments only in kernels (no out=, where=, dtype=)")
            kind, target = _NUMPY_FUNCTIONS[name]
            args = [self.expr(a) for a in e.args]
            if kind == "binary":
                if len(args) != 2:
                    raise self.fail(e, f"np.{name}() takes 2 arguments, got {len(args)}", TypingError)
                exponent = e.args[1]
                literal_half = isinstance(exponent, ast.Constant) and type(exponent.value) is float and exponent.value == 0.5
                if literal_half and _numpy_power_half_is_sqrt():
                    # This NumPy computes x ** 0.5 as sqrt(x): nan for -inf, -0.0 for -0.0.
                    return ir.CALL(ir.MATH("sqrt"), args[:1], line, col)
                return ir.BINARY(target, args[0], args[1], line, col)
            if kind == "cmath":
                callee = ir.CMATH(target, True)
            else:
                callee = {"math": ir.MATH, "numpy": ir.NUMPY, "builtin": ir.BUILTIN}[kind](target)
            return ir.CALL(callee, args, line, col)
        params = ("ptr", "shape", "dtype") if what == "view" else ("ptr", "to")
        label = name if what == "view" else "cast"
        if len(e.args) > len(params):
            raise self.fail(e, f"{label}() takes at most {len(params)} arguments ({', '.join(params)}), got {len(e.args)}", TypingError)
        bound = dict(zip(params, e.args))
        for kw in e.keywords:
            if kw.arg not in params or kw.arg in bound:
                raise self.fail(kw.value, f"{label}() takes the arguments {', '.join(params)}; got '{kw.arg}=' here", TypingError)
            bound[kw.arg] = kw.value
        missing = [p for p in params[:2] if p not in bound]
        if missing:
            raise self.fail(e, f"{label}() needs its argument '{missing[0]}'", TypingError)
        ptr = self.expr(bound["ptr"])
        if ptr[0] == "int":
            raise self.fail(bound["ptr"], f"{label}() takes a pointer, got an integer constant", TypingError)
        if what == "cast":
            return ir.CAST(ptr, self.type_argument(bound["to"], "cast()", allow_none=False), line, col)
        dtype = self.type_argument(bound["dtype"], f"{name}(dtype=...)") if "dtype" in bound else None
        return ir.VIEW(ptr, self.extents(bound["shape"], name), dtype, name == "farray", line, col)

    def reduction(self, name, label, args, e):
        """``np.<name>(a)`` or ``a.<name>()``: a NumPy reduction of a whole 1-D array."""
        line, col = self.pos(e)
        if e.keywords:
            kw = e.keywords[0]
            raise self.fail(
                kw.value if kw.arg else e,
                f"{label} with '{kw.arg or '**'}=' is not supported in kernels: they reduce a whole 1-D "
                f"array (no axis=, dtype=, out=, ddof=, keepdims=)",
            )
        if len(args) != 1:
            raise self.fail(e, f"{label} takes one array in kernels, got {len(args)} arguments", TypingError)
        return ir.CALL(ir.REDUCE(_NUMPY_REDUCTIONS[name]), [self.expr(args[0])], line, col)

    def scratch(self, name, e):
        """``np.empty(n, dtype=np.float64)`` / ``np.zeros(...)``: a 1-D scratch array."""
        line, col = self.pos(e)
        label = f"np.{name}()"
        if len(e.args) > 2:
            raise self.fail(e, f"{label} takes at most 2 arguments (shape, dtype) in kernels, got {len(e.args)}", TypingError)
        bound = dict(zip(("shape", "dtype"), e.args))
        for kw in e.keywords:
            if kw.arg not in ("shape", "dtype") or kw.arg in bound:
                raise self.fail(
                    kw.value, f"{label} takes shape and dtype in kernels (1-D, C order); got '{kw.arg or '**'}=' here"
                )
            bound[kw.arg] = kw.value
        if "shape" not in bound:
            raise self.fail(e, f"{label} needs its argument 'shape'", TypingError)
        shape = bound["shape"]
        if isinstance(shape, ast.Tuple):
            if len(shape.elts) != 1:
                raise self.fail(shape, f"{label} of {len(shape.elts)} dimensions: kernels make 1-D scratch arrays")
            shape = shape.elts[0]
        if "dtype" in bound:
            dtype = self.type_argument(bound["dtype"], f"{label[:-1]}dtype=...)", allow_none=False)
        else:
            dtype = Type("double")
        if dtype.kind not in ("int", "float", "bool"):
            raise self.fail(bound["dtype"], f"{label} makes arrays of numbers, not of {dtype}", TypingError)
        return ir.CALL(ir.SCRATCH(dtype, name == "zeros"), [self.expr(shape)], line, col)

    def extents(self, node, name):
        """The extents of a view's shape: an int expression, or a tuple of them (a frozen
        tuple of ints from outside the kernel too)."""
        if isinstance(node, ast.Tuple):
            if not node.elts:
                raise self.fail(node, f"{name}() needs at least one extent", TypingError)
            return [self.expr(x) for x in node.elts]
        if not (isinstance(node, ast.Name) and node.id in self.locals):
            value = self.static_value(node) if isinstance(node, (ast.Name, ast.Attribute)) else _UNSET
            if isinstance(value, tuple):
                if not value or not all(isinstance(v, numbers.Integral) for v in value):
                    raise self.fail(node, f"{name}() shape {value!r}: expected a tuple of ints", TypingError)
                return [self.constant(v, node) for v in value]
        return [self.expr(node)]

    def type_argument(self, node, what, allow_none=True):
        """The kernel type a dtype or type argument names (a Type, a C/Numba type string,
        a NumPy dtype or scalar type, or a Numba type), evaluated at compile time."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
        elif isinstance(node, (ast.Name, ast.Attribute)) and not (isinstance(node, ast.Name) and node.id in self.locals):
            value = self.static_value(node)
        else:
            raise self.fail(node, f"{what} takes a type known at compile time (np.float64, \"double *\", nativecall.float64)", TypingError)
        if value is None and allow_none:
            return None
        try:
            return _type_of(value)
        except (ValueError, TypeError, SignatureError) as err:
            raise self.fail(node, f"{what}: {err}", TypingError) from None

    def callee(self, f):
        if isinstance(f, ast.Name):
            if f.id in self.locals:
                return ir.LOCAL(f.id)
            value = self.lookup(f.id)
            if value is _UNSET:
                if f.id == self.func.__name__:
                    return ir.SELF()
                raise self.fail(f, f"name '{f.id}' is not defined", UndefinedNameError)
            if value is self.func or (
                f.id == self.fdef.name and isinstance(value, (Kernel, Dispatcher)) and value.py_func is self.func
            ):
                return ir.SELF()
            return self.callee_value(value, f, f.id)
        if isinstance(f, ast.Attribute):
            base = self.static_value(f.value)
            if isinstance(base, types.ModuleType) and base is math:
                if f.attr in _MATH_FUNCTIONS:
                    return ir.MATH(f.attr)
                raise self.fail(f, f"math.{f.attr} is not available in kernels")
            if isinstance(base, types.ModuleType) and base is cmath:
                if f.attr in _CMATH_FUNCTIONS:
                    return ir.CMATH(f.attr, False)
                raise self.fail(f, f"cmath.{f.attr} is not available in kernels; they call cmath.{', cmath.'.join(sorted(_CMATH_FUNCTIONS))}")
            if isinstance(base, types.ModuleType) and hasattr(base, "__pyx_capi__") and f.attr in _pyx_plain_names(base):
                return ir.NATIVE(self.cython_overloads(base, f.attr, f))
            value = self.static_value(f)
            if value is _UNSET:
                raise self.fail(f, f"'{ast.unparse(f)}' is not defined", UndefinedNameError)
            return self.callee_value(value, f, ast.unparse(f))
        raise self.fail(f, "kernels call names and module attributes only")

    def callee_value(self, value, node, label):
        dispatcher = value if isinstance(value, Dispatcher) else numba_dispatcher(value)
        if dispatcher is not None:
            return self.dispatch_site(dispatcher, node, label)
        for name, builtin in _BUILTINS.items():
            if value is builtin:
                return ir.BUILTIN(name)
        if isinstance(value, types.BuiltinFunctionType) and getattr(math, getattr(value, "__name__", ""), None) is value:
            if value.__name__ in _MATH_FUNCTIONS:
                return ir.MATH(value.__name__)
            raise self.fail(node, f"math.{value.__name__} is not available in kernels")
        if isinstance(value, types.BuiltinFunctionType) and getattr(cmath, getattr(value, "__name__", ""), None) is value:
            if value.__name__ in _CMATH_FUNCTIONS:
                return ir.CMATH(value.__name__, False)
            raise self.fail(node, f"cmath.{value.__name__} is not available in kernels")
        if value is range:
            raise self.fail(node, "range() is only for 'for' loops in kernels")
        if isinstance(value, types.ModuleType):
            raise self.fail(node, f"'{label}' is a module, not a function")
        if isinstance(value, types.FunctionType):
            raise self.fail(
                node,
                f"'{label}' is a Python function; decorate it with @nativecall.jit to call it from a kernel",
                TypingError,
            )
        index = self.as_native(value, label, node)
        if index is None:
            raise self.fail(node, f"'{label}' ({type(value).__name__}) cannot be called from a kernel", TypingError)
        return ir.NATIVE(index)


    # ------------------------------------------------------------------ kernels without a signature

    def dispatch_site(self, dispatcher, node, label):
        """A call of a kernel without a signature: a native callee of its own, given the
        kernel for this call site's argument types once the compiler has found them."""
        key = self.pos(node)
        if key not in self.dispatch_sites:
            targets = []
            self.dispatch_sites[key] = (dispatcher, label, targets)
            self.native_index[("dispatch", key)] = len(self.natives)
            self.natives.append((label, targets))
        return ir.NATIVE(self.native_index[("dispatch", key)])

    def specialize_call_site(self, failure):
        """Whether ``failure`` is the compiler asking for a call site's kernel (a call
        whose callee has no signature yet), which is then compiled for the argument types
        the failure names. An argument type with no kernel spelling is a TypingError."""
        kind, message, line, col = failure.args
        site = self.dispatch_sites.get((line, col))
        if kind != "no-signature" or site is None or site[2]:
            return False
        dispatcher, label, targets = site
        argtypes = []
        for k, text in enumerate(failure.arg_types):
            try:
                argtypes.append(Type(text))
            except (SignatureError, TypeError, ValueError):
                raise self.error(
                    TypingError, f"{label}: argument {k + 1} is a {text}, which a kernel cannot take", line, col
                ) from None
        try:
            kernel = dispatcher.compile(tuple(argtypes))
        except CompileError as e:
            raise self.error(
                TypingError, f"{label} does not compile for ({', '.join(map(str, argtypes))}): {e}", line, col
            ) from e
        targets.append(kernel)
        self.keep.append(kernel)
        return True


_POWER_HALF_IS_SQRT = []


def _is_ndarray(value):
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def _numpy_power_half_is_sqrt():
    """Whether the installed NumPy computes ``np.power(x, 0.5)`` as ``sqrt(x)`` (NumPy 2.3 and
    later: ``-0.0`` for ``-0.0``, nan for ``-inf``) rather than as C's ``pow`` (``0.0`` and
    ``inf``, which is also what ``**`` gives in kernels). Asked of NumPy once."""
    if not _POWER_HALF_IS_SQRT:
        import numpy as np

        with np.errstate(all="ignore"):
            _POWER_HALF_IS_SQRT.append(math.copysign(1.0, float(np.power(np.float64(-0.0), 0.5))) < 0)
    return _POWER_HALF_IS_SQRT[0]


def _numba_equivalent(value):
    """nativecall's ``carray``/``farray`` for Numba's (a file that kept ``from numba import
    carray`` ports by changing only the decorator); any other value as it is."""
    if getattr(value, "__module__", None) == "numba.np.numpy_support" and callable(value):
        name = getattr(value, "__name__", "")
        if name in ("carray", "farray"):
            import nativecall

            return getattr(nativecall, name, value)
    return value


def _type_of(value):
    """The kernel type a dtype-like value names."""
    if isinstance(value, Type):
        return value
    if isinstance(value, str):
        return Type(value)
    if type(value).__module__.startswith("numba"):  # a Numba type: its name is its spelling
        return Type(str(value))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            return Type(numpy.dtype(value).name)
        except TypeError:
            pass
    raise TypeError(f"expected a type (np.float64, nativecall.float64, \"double *\"), got {value!r}")


def _record_dtype(value):
    """The NumPy record dtype ``value`` names (a structured dtype, a ctypes Structure
    class, a Numba Record type), or None."""
    numpy = sys.modules.get("numpy")
    if numpy is None or value is None or value is _UNSET:
        return None
    ctypes = sys.modules.get("ctypes")
    if ctypes is not None and isinstance(value, type) and issubclass(value, ctypes.Structure):
        return numpy.dtype(value)
    if type(value).__module__.startswith("numba") and type(value).__name__ == "Record":
        from numba.np.numpy_support import as_dtype

        return as_dtype(value)
    if isinstance(value, numpy.dtype) and value.fields is not None:
        return value
    return None


def _pyx_plain_names(module):
    from ._interop import plain_name

    return {plain_name(k) for k in module.__pyx_capi__}


def _type_text(t):
    """A type as text that parses back to it (arrays in their Numba spelling)."""
    if t.kind == "array":
        return f"{_type_text(t.dtype)}[{', '.join([':'] * (t.ndim - 1) + ['::1' if t.contiguous else ':'])}]"
    return str(t)


def _signature_text(params, ret):
    return f"{_type_text(ret)}({', '.join(_type_text(t) for t in params)})"


def _strip_docstring(body):
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def _assigned_names(body):
    """Every name a statement list assigns (the kernel's locals)."""
    names = set()

    def targets(t):
        if isinstance(t, ast.Name):
            names.add(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                targets(e)

    def walk(stmts):
        for s in stmts:
            if isinstance(s, ast.Assign):
                for t in s.targets:
                    targets(t)
            elif isinstance(s, (ast.AugAssign, ast.AnnAssign)):
                targets(s.target)
            elif isinstance(s, ast.For):
                targets(s.target)
                walk(s.body)
                walk(s.orelse)
            elif isinstance(s, (ast.If, ast.While)):
                walk(s.body)
                walk(s.orelse)
            elif isinstance(s, (ast.With, ast.Try)):
                walk(s.body)

    walk(body)
    return names


def _source_lines(func):
    """The lines of ``func``'s definition, its first line number, and its parsed tree.

    Fast path: read the file's lines from linecache and take the indented block that
    starts at the code object's first line (comment and blank lines do not end it).
    Anything the fast path could misread fails to parse, and inspect takes over.
    """
    code = func.__code__
    lines = linecache.getlines(code.co_filename, func.__globals__)
    if not lines and hasattr(linecache, "_getlines_from_code"):
        lines = linecache._getlines_from_code(code)  # Python >= 3.13.1 keeps the REPL's input by code object
    start = code.co_firstlineno - 1
    if 0 <= start < len(lines):
        first = lines[start]
        base = len(first) - len(first.lstrip())
        end = start + 1
        seen_def = first.lstrip().startswith("def ")
        while end < len(lines):
            text = lines[end]
            stripped = text.strip()
            if stripped and not stripped.startswith("#"):
                indent = len(text) - len(text.lstrip())
                if indent <= base:
                    if seen_def:
                        break
                    seen_def = text.lstrip().startswith("def ")  # still among the decorators
            end += 1
        block = lines[start:end]
        try:
            return block, code.co_firstlineno, ast.parse(textwrap.dedent("".join(block)))
        except SyntaxError:
            pass
    lines, first = inspect.getsourcelines(func)
    return lines, first, None


_SOURCE_NUMBERS = itertools.count(1)


def _function_from_source(source, namespace):
    """The one function ``source`` defines, run in a copy of ``namespace``. The text is
    kept in linecache under its own name, as IPython and Python 3.13's REPL keep their
    input, so the frontend reads it like a file and errors point into it."""
    if not isinstance(source, str):
        raise TypeError(f"jit(source=...) takes the kernel's text, got {type(source).__name__}")
    if namespace is not None and not isinstance(namespace, dict):
        raise TypeError(f"jit(globals=...) takes a dict, got {type(namespace).__name__}")
    filename = f"<nativecall source {next(_SOURCE_NUMBERS)}>"
    text = textwrap.dedent(source)
    text += "" if text.endswith("\n") else "\n"
    lines = text.splitlines(True)
    linecache.cache[filename] = (len(text), None, lines, filename)

    def line(n):
        return lines[n - 1] if n and 0 < n <= len(lines) else ""

    try:
        tree = ast.parse(text, filename)
    except (SyntaxError, ValueError) as e:
        n = getattr(e, "lineno", 0) or 0
        raise CompileError(f"the kernel source is not Python: {e}", filename, n, (getattr(e, "offset", 1) or 1) - 1, line(n)) from None
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if len(defs) != 1 or defs[0].decorator_list:
        n = defs[1].lineno if len(defs) > 1 else defs[0].lineno if defs else 1
        raise UnsupportedError(
            f"jit(source=...) compiles a source that defines exactly one undecorated function "
            f"(def f(x): ...), got {len(defs)} {'decorated ' if defs and defs[0].decorator_list else ''}"
            f"function definition{'s' if len(defs) != 1 else ''}",
            filename, n, 0, line(n),
        )  # fmt: skip
    ns = dict(namespace or {})
    ns.setdefault("__builtins__", builtins)
    ns.setdefault("__name__", "nativecall.source")
    try:
        exec(compile(tree, filename, "exec"), ns)
    except Exception as e:
        tb, n = e.__traceback__, defs[0].lineno
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == filename:
                n = tb.tb_lineno
            tb = tb.tb_next
        raise CompileError(f"running the kernel source raised {type(e).__name__}: {e}", filename, n, 0, line(n)) from None
    return ns[defs[0].name]


# ---------------------------------------------------------------------------- vectorize


def _loop_order(kernel):
    """Sort key putting narrower loops first, as NumPy's own ufuncs list them (NumPy takes
    the first loop the inputs cast to safely, so float64 first would swallow float32)."""
    rank = {"bool": 0, "int": 1, "float": 2}
    return [(rank.get(t.kind, 3), t.bits or 0, not (t.signed or False)) for t in kernel.signature.argtypes]


def vectorize(signatures, *, identity=None):
    """Make a real ``numpy.ufunc`` from a scalar Python function, one loop per signature.

    ``@nativecall.vectorize(["float64(float64)", "float32(float32)"])``. Each loop is the
    kernel body compiled by Cranelift inside the element loop; NumPy does broadcasting,
    ``out=``, ``where=``, dtype dispatch and, for two-argument ufuncs with an
    ``identity`` (0 or 1), ``reduce`` and ``accumulate``.
    """
    if isinstance(signatures, (str, Signature)):
        signatures = [signatures]
    signatures = list(signatures)
    if not signatures:
        raise TypeError("vectorize needs at least one signature, e.g. ['float64(float64)']")

    def decorate(func):
        kernels = sorted((compile_kernel(func, sig) for sig in signatures), key=_loop_order)
        # The recipe lives in the ufunc's own loops object and dies with the ufunc.
        recipe = (kernels[0]._recipe, [k._recipe[2] for k in kernels], identity)
        try:
            ufunc = _native._make_ufunc(
                func.__name__, func.__doc__ or "", kernels, identity, recipe
            )
        except _native.KernelCompileFailure as failure:
            raise _compile_error(_Frontend(func, signatures[0]), failure) from None
        _register_ufunc_pickling()
        return ufunc

    return decorate


def _register_ufunc_pickling():
    """Pickle nativecall ufuncs by recipe; NumPy's own ufuncs keep pickling by name."""
    import copyreg

    import numpy as np

    from . import _pickle

    current = copyreg.dispatch_table.get(np.ufunc)
    if current is not _pickle.reduce_ufunc:
        _pickle.NUMPY_UFUNC_REDUCE = current  # NumPy registers its own (by name)
        copyreg.pickle(np.ufunc, _pickle.reduce_ufunc)
