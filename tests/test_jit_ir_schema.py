"""The kernel IR's one schema (nativecall/_ir.py), walked kind by kind through the
frontend that emits it and the native decoder that checks and reads it."""

import ast
import cmath
import ctypes
import math

import numpy as np
import pytest
from scipy.special import cython_special

import nativecall
from nativecall import _ir, _jit, _native


@nativecall.jit("float64(float64)")
def square(x):
    return x * x


@nativecall.jit("void(float64[::1])")
def set_first(a):
    a[0] = 7.0


RECORD = np.dtype([("a", np.int8), ("b", np.float64)])
RECORDS = np.array([(1, 2.5)], dtype=RECORD)  # kept alive: the "field" kernel reads it
GLOBALS = {"math": math, "cmath": cmath, "RECORD": RECORD, "np": np, "cython_special": cython_special, "square": square, "set_first": set_first,
           "carray": nativecall.carray, "cast": nativecall.cast}  # fmt: skip


def array(*values):
    return np.array(values, dtype=np.float64)


# For every node kind: a kernel whose IR holds it, its signature and arguments.
KERNELS = {
    "function": ("float64(float64)", "def f(x):\n    return x * 2.0", (2.5,)),
    "param": ("float64(float64, float64)", "def f(x, y):\n    return x - y", (3.0, 1.25)),
    "overloads": ("float64(float64)", "def f(x):\n    return cython_special.gamma(x)", (5.0,)),
    "assign": ("float64(float64)", "def f(x):\n    y = x + 1.0\n    a, b = y, x\n    return a * b", (2.0,)),
    "augassign": ("int64(int64)", "def f(n):\n    s = 1\n    s += n\n    s *= 3\n    return s", (4,)),
    "store": ("float64(float64[::1], float64)", "def f(a, x):\n    a[1] = x\n    return a[1] + a[0]", (array(1, 2, 3), 4.5)),
    "augstore": ("float64(float64[::1], float64)", "def f(a, x):\n    a[1] += x\n    return a[1]", (array(1, 2, 3), 4.5)),
    "if": ("int64(float64)", "def f(x):\n    if x > 0:\n        return 1\n    else:\n        return -1", (-2.0,)),
    "while": ("int64(int64)", "def f(n):\n    i = 0\n    while i * i < n:\n        i += 1\n    return i", (10,)),
    "for": ("int64(int64)", "def f(n):\n    s = 0\n    for i in range(1, n, 2):\n        s += i\n    return s", (10,)),
    "break": (
        "int64(int64)",
        "def f(n):\n    s = 0\n    for i in range(n):\n        if i == 4:\n            break\n        s += i\n    return s",
        (10,),
    ),
    "continue": (
        "int64(int64)",
        "def f(n):\n    s = 0\n    for i in range(n):\n        if i % 2 == 0:\n            continue\n        s += i\n    return s",
        (10,),
    ),
    "return": ("void(float64[::1])", "def f(a):\n    a[0] = -a[2]\n    return", (array(1, 2, 3),)),
    "expr_stmt": ("float64(float64[::1])", "def f(a):\n    set_first(a)\n    return a[0] + a[1]", (array(1, 2, 3),)),
    "pass": ("float64(float64)", "def f(x):\n    pass\n    return x", (1.5,)),
    "int": ("int64(int64)", "def f(n):\n    return n + 3", (39,)),
    "float": ("float64(float64)", "def f(x):\n    return x * 0.5", (3.0,)),
    "complex": ("float64(float64)", "def f(x):\n    return (x * 2.5j).imag", (3.0,)),
    "bool": ("bool(float64)", "def f(x):\n    flag = True\n    return flag and x > 0", (2.0,)),
    "null": ("float64(float64, voidptr)", "def f(x, data):\n    if data == None:\n        return x\n    return 2.0 * x", (3.0, None)),
    "name": ("float64(float64)", "def f(x):\n    return x", (0.25,)),
    "funcref": ("float64(float64)", "def f(x):\n    g = square\n    return g(x) + 1.0", (3.0,)),
    "unary": ("float64(float64)", "def f(x):\n    return -x", (2.0,)),
    "binary": ("int64(int64)", "def f(n):\n    return n ** 2 // 3 - (n << 1)", (7,)),
    "compare": ("bool(int64)", "def f(n):\n    return 0 < n <= 10", (10,)),
    "boolop": ("bool(float64)", "def f(x):\n    return x > 0 or x < -5", (-6.0,)),
    "ifexp": ("float64(float64)", "def f(x):\n    return x if x > 0 else -x", (-1.5,)),
    "index": ("float64(float64[::1])", "def f(a):\n    return a[2]", (array(1, 2, 3),)),
    "shape": ("int64(float64[::1])", "def f(a):\n    return a.shape[0]", (array(1, 2, 3, 4),)),
    "ndim": ("int64(float64[:, :])", "def f(a):\n    return a.ndim", (np.ones((2, 3)),)),
    "view": (
        "float64(float64*, int64)",
        "def f(p, n):\n    a = carray(p, (n,))\n    return a[1] + len(a)",
        (array(1, 2, 3).ctypes.data_as(ctypes.POINTER(ctypes.c_double)), 3),
    ),
    "cast": (
        "int64(voidptr)",
        "def f(p):\n    return int(cast(p, 'int64 *')[1])",
        (ctypes.cast(np.array([5, 7], dtype=np.int64).ctypes.data_as(ctypes.c_void_p), ctypes.c_void_p),),
    ),
    "call": ("float64(float64)", "def f(x):\n    return square(x)", (1.5,)),
    "builtin": ("float64(float64)", "def f(x):\n    return abs(x)", (-4.0,)),
    "math": ("float64(float64)", "def f(x):\n    return math.sqrt(x)", (16.0,)),
    "cmath": ("float64(complex128)", "def f(z):\n    return cmath.exp(z).real + np.exp(z).imag", (1j,)),
    "field": (
        "float64(voidptr)",
        "def f(p):\n    return carray(p, 1, dtype=RECORD)[0].b",
        (ctypes.c_void_p(RECORDS.ctypes.data),),
    ),
    "numpy": ("float64(float64)", "def f(x):\n    return np.minimum(x, 2.0) + np.floor(x)", (3.5,)),
    "reduce": ("float64(float64)", "def f(x):\n    a = np.zeros(3)\n    a[0] = x\n    return np.sum(a) + a.max()", (3.5,)),
    "scratch": ("int64(int64)", "def f(n):\n    a = np.empty(n, dtype=np.int32)\n    a[:] = 2\n    return a.sum()", (4,)),
    "native": ("float64(float64)", "def f(x):\n    return square(x) + 1.0", (5.0,)),
    "local": ("float64(float64)", "def f(x):\n    g = square\n    return g(x)", (5.0,)),
    "self": (
        "int64(int64)",
        "def f(n):\n    if n <= 1:\n        return 1\n    return n * f(n - 1)",
        (10,),
    ),
}


def lowered(tag):
    """The kernel for ``tag``: its Python function, and the IR the frontend makes of it."""
    signature, source, _ = KERNELS[tag]
    func = _jit._function_from_source(source, GLOBALS)
    frontend = _jit._Frontend(func, signature)
    frontend.boundscheck = False
    return func, frontend.lower()


def nodes(node, path=()):
    """Every node in ``node`` (guided by the schema), with the path of indices to it."""
    yield path, node
    _, fields = _ir.SCHEMA[node[0]]
    for i, ((_, kind), value) in enumerate(zip(fields, node[1:]), start=1):
        if kind.strip("[]?") not in _ir.CATEGORIES or value is None:
            continue
        if kind.startswith("["):
            for j, item in enumerate(value):
                yield from nodes(item, path + (i, j))
        else:
            yield from nodes(value, path + (i,))


def replaced(tree, path, new):
    """``tree`` with the value at ``path`` replaced by ``new`` (tuples and lists rebuilt)."""
    if not path:
        return new
    items = list(tree)
    items[path[0]] = replaced(tree[path[0]], path[1:], new)
    return tuple(items) if isinstance(tree, tuple) else items


def first(tag):
    """The IR of ``tag``'s kernel, and the path to the first node of that kind in it."""
    _, ir = lowered(tag)
    return ir, next(path for path, node in nodes(ir) if node[0] == tag)


def compile_ir(ir):
    return _native._compile_kernel(ir, None, (), None)


def article(tag):
    return f"an '{tag}'" if tag[0] in "aeio" else f"a '{tag}'"


def test_every_node_kind_has_a_kernel_here():
    assert set(KERNELS) == set(_ir.SCHEMA)


@pytest.mark.parametrize("tag", list(KERNELS))
def test_each_node_kind_is_emitted_by_the_frontend_and_compiles_to_the_same_answer_as_python(tag):
    func, ir = lowered(tag)
    assert tag in {node[0] for _, node in nodes(ir)}
    signature, _, args = KERNELS[tag]
    kernel = nativecall.jit(signature, source=KERNELS[tag][1], globals=GLOBALS)
    native_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    python_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got, expected = kernel(*native_args), func(*python_args)
    if isinstance(expected, np.generic):  # Python reading an array element gets a NumPy scalar
        expected = expected.item()
    assert got == expected and type(got) is type(expected), (got, expected)
    for mine, theirs in zip(native_args, python_args):
        if isinstance(mine, np.ndarray):
            assert mine.tolist() == theirs.tolist()


def test_the_frontends_operators_are_the_schemas():
    assert sorted(_jit._BINOPS.values()) == sorted(_ir.BINOPS)
    assert sorted(_jit._UNARY.values()) == sorted(_ir.UNARYOPS)
    assert sorted(_jit._CMPOPS.values()) == sorted(_ir.CMPOPS)


@pytest.mark.parametrize("op", _ir.BINOPS)
def test_each_binary_operator_reaches_the_decoder(op):
    source = f"def f(a, b):\n    return float(a {op} b)"
    kernel = nativecall.jit("float64(int64, int64)", source=source)
    assert kernel(13, 3) == float(eval(f"13 {op} 3"))  # noqa: S307 - the operator under test


@pytest.mark.parametrize("tag", list(KERNELS))
def test_a_node_with_a_field_too_few_or_too_many_is_refused_naming_its_fields(tag):
    ir, path = first(tag)
    node = nodes_at(ir, path)
    _, fields = _ir.SCHEMA[tag]
    names = ", ".join(name for name, _ in fields)
    for wrong in [node + (0,)] + ([node[:-1]] if fields else []):
        message = f"{article(tag)} node has {len(wrong) - 1} fields, the schema says {len(fields)} ({names})"
        with pytest.raises(TypeError, match=_re(message)):
            compile_ir(replaced(ir, path, wrong))


@pytest.mark.parametrize(
    "tag, field",
    [(tag, name) for tag, (_, fields) in _ir.SCHEMA.items() for name, _ in fields],
)
def test_every_field_of_every_node_kind_is_checked_for_its_kind(tag, field):
    ir, path = first(tag)
    node = nodes_at(ir, path)
    i = [name for name, _ in _ir.SCHEMA[tag][1]].index(field) + 1
    wrong = node[:i] + (object(),) + node[i + 1 :]
    with pytest.raises(TypeError, match=_re(f"field '{field}' of {article(tag)} node")) as e:
        compile_ir(replaced(ir, path, wrong))
    assert "object" in str(e.value)


def nodes_at(ir, path):
    node = ir
    for i in path:
        node = node[i]
    return node


def _re(text):
    import re

    return re.escape(text)


def binary_ir(expr):
    """A whole function IR returning ``expr`` (x is its float64 parameter)."""
    return _ir.FUNCTION(
        "f", [_ir.PARAM("x", nativecall.float64)], nativecall.float64, [_ir.RETURN(expr, 2, 4)], [], False, False
    )


X = _ir.NAME("x", 2, 11)


@pytest.mark.parametrize(
    "expr, message",
    [
        (("bogus", 1, 2), "kernel IR: field 'value' of a 'return' node holds an expr node, got the unknown tag 'bogus'"),
        (_ir.PASS(), "kernel IR: field 'value' of a 'return' node holds an expr node, got the stmt node 'pass'"),
        ("x", "holds an expr node (a tuple starting with its tag), got str 'x'"),
        ((), "holds an expr node (a tuple starting with its tag), got tuple ()"),
        ((3, 4), "holds an expr node (a tuple starting with its tag), got tuple (3, 4)"),
        (("binary", "+", X, X, 2), "a 'binary' node has 4 fields, the schema says 5 (op, left, right, line, col)"),
        (_ir.BINARY("+", X, "x", 2, 4), "field 'right' of a 'binary' node holds an expr node (a tuple"),
        (_ir.BINARY("<>", X, X, 2, 4), "field 'op' of a 'binary' node is an unknown binop: '<>'"),
        (_ir.UNARY("!", X, 2, 4), "field 'op' of a 'unary' node is an unknown unaryop: '!'"),
        (_ir.INT(True, 2, 4), "field 'value' of an 'int' node holds an int, got bool True"),
        (_ir.INT(2**70, 2, 4), "field 'value' of an 'int' node:"),
        (_ir.FLOAT(1, 2, 4), "field 'value' of a 'float' node holds a float, got int 1"),
        (_ir.SHAPE(X, -1, 2, 4), "field 'dim' of a 'shape' node is out of range for u32: -1"),
        (_ir.INDEX(X, (X,), 2, 4), "field 'indices' of an 'index' node holds a list of expr nodes, got tuple"),
        (_ir.COMPARE(X, ["<", 3], [X, X], 2, 4), "item 1 of field 'ops' of a 'compare' node is a cmpop, got int 3"),
        (_ir.COMPARE(X, ["<", "<"], [X], 2, 4), "a 'compare' node has 2 ops and 1 comparators"),
        (_ir.COMPARE(X, ["is"], [X], 2, 4), "field 'ops' of a 'compare' node is an unknown cmpop: 'is'"),
        (_ir.CALL(_ir.BUILTIN("print"), [X], 2, 4), "field 'name' of a 'builtin' node is an unknown builtin: 'print'"),
        (_ir.CALL(_ir.MATH("tau"), [X], 2, 4), "field 'name' of a 'math' node is an unknown math function: 'tau'"),
        (_ir.CALL(X, [X], 2, 4), "field 'callee' of a 'call' node holds a callee node, got the expr node 'name'"),
        (_ir.CALL(_ir.NATIVE(-1), [X], 2, 4), "field 'index' of a 'native' node is out of range for usize: -1"),
    ],
)
def test_malformed_nodes_are_a_type_error_saying_what_was_expected_and_what_was_got(expr, message):
    with pytest.raises(TypeError, match=_re(message)):
        compile_ir(binary_ir(expr))


def test_a_malformed_header_is_refused_before_anything_is_compiled():
    with pytest.raises(TypeError, match=_re("kernel IR: the root holds a function node (a tuple starting with its tag), got list")):
        compile_ir(["function"])
    with pytest.raises(TypeError, match=_re("item 0 of field 'params' of a 'function' node holds a param node, got the unknown tag 'x'")):
        compile_ir(("function", "f", [("x", nativecall.float64)], None, [], [], False, False))
    with pytest.raises(TypeError, match=_re("item 0 of field 'targets' of an 'overloads' node is a NativeCallable, got builtin_function_or_method")):
        compile_ir(_ir.FUNCTION("f", [], None, [], [_ir.OVERLOADS("g", [print])], False, False))
    with pytest.raises(TypeError, match=_re("field 'type' of a 'param' node: expected a nativecall.Type")):
        compile_ir(_ir.FUNCTION("f", [_ir.PARAM("x", 3)], None, [], [], False, False))


def test_the_python_constructors_check_the_field_count():
    with pytest.raises(TypeError, match=_re("a 'binary' node has 5 fields (op, left, right, line, col), got 3")):
        _ir.BINARY("+", X, X)
    assert _ir.SELF() == ("self",)
    assert _ir.BINARY("+", X, X, 1, 2) == ("binary", "+", X, X, 1, 2)


def test_a_well_formed_hand_built_function_compiles_and_runs():
    kernel = compile_ir(binary_ir(_ir.BINARY("*", X, _ir.FLOAT(3.0, 2, 15), 2, 11)))
    assert kernel(1.5) == 4.5


def test_every_schema_field_kind_is_one_the_module_documents():
    documented = ast.get_docstring(ast.parse(open(_ir.__file__).read()))
    for category, fields in _ir.SCHEMA.values():
        assert category in _ir.CATEGORIES
        for _, kind in fields:
            assert kind.strip("[]?") in _ir.FIELD_KINDS
            assert f"``{kind.strip('[]?')}``" in documented, kind


# The decoder reads the schema once per process: each disagreement needs a fresh one.
DISAGREEMENTS = {
    "a kind the decoder does not read": (
        "_ir.Kind('expr', 'complex_literal', 'real:float imag:float')",
        "the expr node 'complex_literal' has no decoder",
    ),
    "a kind the schema lost": ("del _ir.SCHEMA['ndim']", "the decoder reads 'ndim' nodes, which the schema does not define"),
    "a field of another kind": (
        "_ir.SCHEMA['binary'] = ('expr', (('op', 'str'),) + _ir.SCHEMA['binary'][1][1:])",
        "'binary' field 'op' is a str in the schema, the decoder reads a binop",
    ),
    "a renamed field": (
        "_ir.SCHEMA['binary'] = ('expr', (('operator', 'binop'),) + _ir.SCHEMA['binary'][1][1:])",
        "the decoder reads field 'op' of 'binary', which has operator, left, right, line, col",
    ),
    "other operators": ("_ir.BINOPS = _ir.BINOPS + ('@',)", "BINOPS:"),
}


@pytest.mark.parametrize("change", list(DISAGREEMENTS))
def test_a_schema_the_decoder_disagrees_with_is_a_clear_error_asking_for_a_rebuild(change):
    import subprocess
    import sys

    edit, message = DISAGREEMENTS[change]
    code = (
        "import nativecall\nfrom nativecall import _ir, _native\n"
        f"{edit}\n"
        "ir = _ir.FUNCTION('f', [_ir.PARAM('x', nativecall.float64)], nativecall.float64, "
        "[_ir.RETURN(_ir.BINARY('+', _ir.NAME('x', 2, 11), _ir.NAME('x', 2, 15), 2, 11), 2, 4)], [], False, False)\n"
        "try:\n    _native._compile_kernel(ir, None, (), None)\n"
        "except RuntimeError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "nativecall._ir.SCHEMA and the compiled kernel IR decoder disagree" in out.stdout
    assert message in out.stdout
    assert "rebuild the extension" in out.stdout
