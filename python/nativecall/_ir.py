"""The kernel IR: the one definition of what the ``@nativecall.jit`` frontend hands the
native compiler.

A node is a tuple ``(tag, field, ...)``. Every node kind is defined below, once, with
the category it belongs to and its fields in order, each with the kind of value it holds.
The frontend (``_jit.py``) builds nodes only by calling these kinds
(``BINARY(op, left, right, line, col)``), which check the field count; the Rust decoder
(``src/capsule/kernel/ir_decode.rs``) reads :data:`SCHEMA` once per process and checks
every node's tag, field count and field kinds against it before reading a field by name.

Field kinds:

- a category (``function``, ``param``, ``overloads``, ``stmt``, ``expr``, ``callee``):
  a node of that category;
- ``str``, ``int`` (not a bool), ``float``, ``bool``; ``type`` (a :class:`nativecall.Type`);
  ``callable`` (a :class:`nativecall.NativeCallable`);
- ``binop``, ``unaryop``, ``cmpop``: an operator's text, one of :data:`BINOPS`,
  :data:`UNARYOPS`, :data:`CMPOPS`;
- ``K?``: a K or None; ``[K]``: a list of K.

Nodes with a place in the source end with ``line`` (1-based, in the kernel's own text)
and ``col`` (0-based, in its dedented text).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Kind", "SCHEMA", "CATEGORIES", "FIELD_KINDS", "BINOPS", "UNARYOPS", "CMPOPS"]

CATEGORIES = ("function", "param", "overloads", "stmt", "expr", "callee")
FIELD_KINDS = CATEGORIES + ("str", "int", "float", "bool", "type", "callable", "binop", "unaryop", "cmpop")
BINOPS = ("+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "<<", ">>")
UNARYOPS = ("-", "+", "not", "~")
CMPOPS = ("==", "!=", "<", "<=", ">", ">=")

#: ``{tag: (category, ((field, kind), ...))}``, in the order the kinds are defined below.
SCHEMA: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}


def _base(kind: str) -> str:
    return kind[1:-1] if kind.startswith("[") else kind.rstrip("?")


class Kind:
    """One node kind: calling it with the fields in order makes the node."""

    __slots__ = ("tag", "category", "fields", "names")

    def __init__(self, category: str, tag: str, fields: str = "", span: bool = True) -> None:
        pairs = [(name, kind) for name, kind in (f.split(":") for f in fields.split())]
        pairs += [("line", "int"), ("col", "int")] if span else []
        if category not in CATEGORIES or tag in SCHEMA or any(_base(k) not in FIELD_KINDS for _, k in pairs):
            raise ValueError(f"kernel IR schema: bad definition of '{tag}' ({category}): {pairs}")
        self.tag = tag
        self.category = category
        self.fields = tuple(pairs)
        self.names = ", ".join(name for name, _ in self.fields)
        SCHEMA[tag] = (category, self.fields)

    def __call__(self, *values: Any) -> tuple:
        if len(values) != len(self.fields):
            raise TypeError(
                f"kernel IR: a '{self.tag}' node has {len(self.fields)} fields ({self.names}), got {len(values)}"
            )
        return (self.tag, *values)

    def __repr__(self) -> str:
        return f"<kernel IR {self.category} '{self.tag}'({self.names})>"


# ---------------------------------------------------------------------------- the function

FUNCTION = Kind(
    "function", "function",
    "name:str params:[param] ret:type? body:[stmt] natives:[overloads] boundscheck:bool fastmath:bool", span=False,
)  # fmt: skip
#: A parameter: its name and type.
PARAM = Kind("param", "param", "name:str type:type", span=False)
#: The native functions one name in the source calls (``natives[i]`` is a ``native`` callee's
#: ``index``): several for a Cython function with fused-type specialisations.
OVERLOADS = Kind("overloads", "overloads", "label:str targets:[callable]", span=False)

# ---------------------------------------------------------------------------- statements

#: ``a = e`` and ``a, b = e1, e2`` (as many values as targets, all evaluated first).
ASSIGN = Kind("stmt", "assign", "targets:[str] values:[expr]")
AUGASSIGN = Kind("stmt", "augassign", "target:str op:binop value:expr")
#: ``base[indices] = value``
STORE = Kind("stmt", "store", "base:expr indices:[expr] value:expr")
AUGSTORE = Kind("stmt", "augstore", "base:expr indices:[expr] op:binop value:expr")
IF = Kind("stmt", "if", "test:expr body:[stmt] orelse:[stmt]")
WHILE = Kind("stmt", "while", "test:expr body:[stmt] orelse:[stmt]")
#: ``for var in range(start, stop, step)``
FOR = Kind("stmt", "for", "var:str start:expr stop:expr step:expr body:[stmt] orelse:[stmt]")
BREAK = Kind("stmt", "break")
CONTINUE = Kind("stmt", "continue")
RETURN = Kind("stmt", "return", "value:expr?")
#: An expression evaluated for its effect (a call).
EXPR_STMT = Kind("stmt", "expr_stmt", "value:expr")
PASS = Kind("stmt", "pass", span=False)

# ---------------------------------------------------------------------------- expressions

INT = Kind("expr", "int", "value:int")
FLOAT = Kind("expr", "float", "value:float")
#: A complex constant (``2.5j``, or a frozen complex number): its two parts.
COMPLEX = Kind("expr", "complex", "real:float imag:float")
BOOL = Kind("expr", "bool", "value:bool")
#: ``None``: a null pointer.
NULL = Kind("expr", "null")
#: A local variable or parameter.
NAME = Kind("expr", "name", "id:str")
#: A native function used as a value (a function pointer): ``natives[index]``.
FUNCREF = Kind("expr", "funcref", "index:int")
UNARY = Kind("expr", "unary", "op:unaryop operand:expr")
BINARY = Kind("expr", "binary", "op:binop left:expr right:expr")
#: ``left ops[0] comparators[0] ops[1] comparators[1] ...`` (as many ops as comparators).
COMPARE = Kind("expr", "compare", "left:expr ops:[cmpop] comparators:[expr]")
#: ``values[0] and values[1] ...`` (``is_and``) or ``... or ...``.
BOOLOP = Kind("expr", "boolop", "is_and:bool values:[expr]")
#: ``body if test else orelse``
IFEXP = Kind("expr", "ifexp", "test:expr body:expr orelse:expr")
#: ``base[indices]``: a pointer or an array element.
INDEX = Kind("expr", "index", "base:expr indices:[expr]")
#: ``array.shape[dim]``
SHAPE = Kind("expr", "shape", "array:expr dim:int")
NDIM = Kind("expr", "ndim", "array:expr")
#: ``carray(ptr, shape, dtype)`` (``fortran``: ``farray``): an array view over a pointer,
#: one extent per dimension; ``dtype`` None takes the pointee's type.
VIEW = Kind("expr", "view", "ptr:expr shape:[expr] dtype:type? fortran:bool")
#: ``cast(ptr, type)``: a pointer as another pointer type.
CAST = Kind("expr", "cast", "value:expr type:type")
CALL = Kind("expr", "call", "callee:callee args:[expr]")
#: ``carray(ptr, n, dtype=record)[index].field``: the number of ``type`` at byte ``offset`` of
#: record ``index``, records ``stride`` bytes apart from the pointer ``base``.
FIELD = Kind("expr", "field", "base:expr index:expr stride:int offset:int type:type")

# ---------------------------------------------------------------------------- callees

#: ``abs``, ``min``, ``max``, ``int``, ``float``, ``bool``, ``len``, ``complex``, or the
#: parts of a number: ``real``, ``imag``, ``conjugate`` (``z.real``, ``z.conjugate()``).
BUILTIN = Kind("callee", "builtin", "name:str", span=False)
#: A function of the math module, by name.
MATH = Kind("callee", "math", "name:str", span=False)
#: A NumPy function whose float64 semantics differ from math's (``floor``, ``minimum``, ...).
NUMPY = Kind("callee", "numpy", "name:str", span=False)
#: A function of the cmath module by name, or (``numpy``) the NumPy function of that name,
#: which is the math function on real numbers.
CMATH = Kind("callee", "cmath", "name:str numpy:bool", span=False)
#: A NumPy reduction of a whole 1-D array (``sum``, ``mean``, ``median``, ...).
REDUCE = Kind("callee", "reduce", "name:str", span=False)
#: ``np.empty(n, dtype)`` (``zeroed``: ``np.zeros``): a 1-D scratch array freed at return.
SCRATCH = Kind("callee", "scratch", "dtype:type zeroed:bool", span=False)
#: ``natives[index]``, resolved among its overloads by the argument types.
NATIVE = Kind("callee", "native", "index:int", span=False)
#: A local variable holding a function pointer.
LOCAL = Kind("callee", "local", "name:str", span=False)
#: The kernel itself (recursion).
SELF = Kind("callee", "self", span=False)
