"""Kernel-source fuzzer: mutations of valid kernels (expressions, operators, statements,
constants and signatures swapped for others, inside and outside the kernel language).
Every mutant Python itself compiles must compile as a kernel, or raise a CompileError
or SignatureError (or their subclasses); nothing else, and never crash.

Kernels are compiled, not run: a mutant may loop forever, and running code is the
differential test's job. Run it with ``python tests/fuzz/runner.py fuzz_kernels``.
"""

import ast
import linecache
import math
import random
import warnings

import nativecall

NAME = "kernels"
COUNT = 10_000  # inputs in `make fuzz` (NATIVECALL_FUZZ_SCALE=1); the suite runs fewer

SEEDS = [
    ("float64(float64, float64)", "def k(x, y):\n    return math.exp(-x * x) * math.cos(y) + abs(x - y) / 2.0\n"),
    ("int64(int64)", "def k(n):\n    return 1 if n <= 1 else n * k(n - 1)\n"),
    ("float64(float64[:])",
     "def k(a):\n    s = 0.0\n    for i in range(a.shape[0]):\n        s += a[i]\n    return s\n"),
    ("void(float64[:, :], float64)",
     "def k(a, v):\n    for i in range(a.shape[0]):\n        for j in range(a.shape[1]):\n"
     "            a[i, j] = v * i + j\n"),
    ("int64(int64, int64)",
     "def k(a, b):\n    while b != 0:\n        a, b = b, a % b\n        if a > 1000:\n            break\n    else:\n"
     "        a = -a\n    return a\n"),
    ("float64(double *, intp)",
     "def k(p, n):\n    m = p[0]\n    for i in range(1, n):\n        m = max(m, p[i])\n    return m\n"),
    ("bool(float64, int32)", "def k(x, n):\n    return (x > 0 and n < 3) or not math.isnan(x) and x == x\n"),
    ("float64(float64)", "def k(x):\n    y = x\n    y **= 2\n    z = y // 3.0 + y % 2.0\n    return helper(z) if z else -z\n"),
    ("int32(int32, uint8)", "def k(a, b):\n    c = a << b\n    c ^= a >> 1\n    return c & 255 | ~b\n"),
    ("float64(float64[:], int64[:])",
     "def k(a, idx):\n    t = 0.0\n    for i in range(len(idx)):\n        t += a[idx[i]] * float(i)\n    return t\n"),
    (None, "def k(x: float, n: int) -> float:\n    for i in range(n):\n        x = x * 0.5 + 1.0\n    return x\n"),
    (None, "def k(a: nativecall.float64[:], x: nativecall.float64):\n    a[0] = x\n    return a.ndim\n"),
    ("float32(float32, float32)", "def k(x, y):\n    return math.sqrt(x * x + y * y) if x < y else math.hypot(x, y)\n"),
    ("float64(float64[:, ::1])", "def k(a):\n    return a[a.shape[0] - 1, 0] + a[0, a.shape[1] - 1]\n"),
    (None, "def k(x: 'float64', p: 'double *', a: 'int32[::1]') -> 'float64':\n    return x + p[0] * a[len(a) - 1]\n"),
    ("int64(int64, float64[:])",
     "def k(n, a):\n    i = 0\n    while i < n:\n        if a[i] < 0.0:\n            continue\n        i += 1\n    return i\n"),
]  # fmt: skip

TYPES = ["float64", "int64", "int32", "float32", "bool", "uint8", "intp", "float64[:]", "float64[:, :]",
         "int32[:]", "float64[::1]", "float64[:, ::1]", "double *", "voidptr", "complex128", "void",
         "float64(float64)*", "float64[::2]", "int64[:, :, :]"]  # fmt: skip
EXPRS = [
    "0", "1", "-1", "2", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "2**63", "1e308",
    "0.5", "-0.0", "math.nan", "math.inf", "math.pi", "True", "None", "'s'", "1j", "b''", "x", "y", "n", "a", "p",
    "k", "i", "len(a)", "abs(x)", "math.sqrt(x)", "math.floor(x)", "helper(x)", "k(x)", "k(n - 1)", "some_function(x)",
    "range(3)", "a[0]", "a[i]", "a[0, 0]", "a[1:2]", "a[::2]", "a.shape[0]", "a.shape[1]", "a.shape[2**63]",
    "a.shape[-1]", "a.shape[x]", "a.ndim", "a.T", "a.size", "(a if x else a)", "(a if x else idx)[0]",
    "len(a if n else a)", "(x if y else n)", "lambda: 0",
    "[1, 2]", "(1, 2)", "{1: 2}", "x @ y", "x is y", "x in y", "(z := 1)", "int(x)", "float(n)", "bool(p)",
    "min(x, y, n)", "max()", "abs()", "math.pow(x)", "math.hypot(x, y)", "math.fsum(a)", "nativecall.float64",
    "math", "nativecall", "print", "f'{x}'", "not a", "-a", "a + 1.0", "a < a", "p[0]", "p + 1", "x[0]",
    "len(x)", "k", "helper", "x.real", "undefined_name", "np.sin(x)", "abs(*a)", "x if x else None",
]  # fmt: skip
STMTS = [
    "return", "return x", "return a", "return None", "break", "continue", "pass", "x = a", "a[0] = 1.0",
    "a[0] = a", "p[0] = 2.0", "x = None", "x: float = 1", "y: int", "a, b = 1", "a, b = b, a", "x += a",
    "a += 1.0", "del x", "global x", "import math", "assert x", "raise ValueError", "print(x)", "x = y = 1.0",
    "for i in range(10):\n    pass", "for i in range(0, 10, 0):\n    pass", "for i in a:\n    pass",
    "for i in range(1, 2, 3, 4):\n    pass", "while False:\n    pass", "if x:\n    return 1\nelse:\n    return 2.0",
    "with x:\n    pass", "try:\n    pass\nexcept Exception:\n    pass", "def inner():\n    return 1",
    "x.attr = 1", "(x, y)[0] = 1", "a[1:2] = 1.0", "yield x", "nonlocal_name = k(x)", "x = k",
]  # fmt: skip


def _parse_expr(text):
    return ast.parse(text, mode="eval").body


def _mutate_tree(rng, tree):
    nodes = list(ast.walk(tree.body[0]))  # the function (statements around it would only fail in Python)
    op = rng.randrange(8)
    if op == 6:  # nest an expression deeply, around the frontend's limit of 100 levels and past it
        exprs = [n for n in nodes if isinstance(n, ast.expr) and not isinstance(n, ast.expr_context)]
        _replace(nodes, rng.choice(exprs), _deep_expr(rng, _parse_expr(rng.choice(["x", "1", "a[0]", "n"]))))
        return
    if op == 7:  # nest a statement in branches and loops, up to Python's own limit of 100 blocks
        op = 5
        depth = rng.choice([1, 10, 50, 98])
    else:
        depth = 1
    if op == 0:  # replace an expression
        exprs = [n for n in nodes if isinstance(n, ast.expr) and not isinstance(n, ast.expr_context)]
        target = rng.choice(exprs)
        for parent in nodes:
            for field, value in ast.iter_fields(parent):
                if value is target:
                    setattr(parent, field, _parse_expr(rng.choice(EXPRS)))
                    return
                if isinstance(value, list) and target in value:
                    value[value.index(target)] = _parse_expr(rng.choice(EXPRS))
                    return
    elif op == 1:  # swap an operator
        ops = [n for n in nodes if isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.AugAssign))]
        if ops:
            n = rng.choice(ops)
            pick = lambda base: rng.choice([c for c in base.__subclasses__()])()  # noqa: E731
            if isinstance(n, (ast.BinOp, ast.AugAssign)):
                n.op = pick(ast.operator)
            elif isinstance(n, ast.UnaryOp):
                n.op = pick(ast.unaryop)
            elif isinstance(n, ast.Compare):
                n.ops = [pick(ast.cmpop) for _ in n.ops]
            else:
                n.op = pick(ast.boolop)
    else:  # statements: insert, delete, duplicate, move
        bodies = [getattr(n, f) for n in nodes for f in ("body", "orelse") if isinstance(getattr(n, f, None), list)]
        bodies = [b for b in bodies if b and isinstance(b[0], ast.stmt)]
        body = rng.choice(bodies)
        at = rng.randrange(len(body) + 1)
        if op == 2:
            body[at:at] = ast.parse(rng.choice(STMTS)).body
        elif op == 3 and len(body) > 1:
            del body[min(at, len(body) - 1)]
        elif op == 4:
            body.insert(at, body[rng.randrange(len(body))])
        else:  # wrap a statement into loops or branches
            k = min(at, len(body) - 1)
            for _ in range(depth):
                wrapper = ast.parse(rng.choice(["if x:\n    pass", "for i in range(3):\n    pass", "while n:\n    pass"])).body[0]
                wrapper.body = [body[k]]
                body[k] = wrapper


def _replace(nodes, target, new):
    for parent in nodes:
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and target in value:
                value[value.index(target)] = new
                return


def _deep_expr(rng, leaf):
    """`leaf` nested in a chain of one kind of expression, about 100 levels deep or far more."""
    n = rng.choice([rng.randint(95, 105), rng.randint(1, 400)])
    kind = rng.randrange(5)
    e = leaf
    for _ in range(n):
        if kind == 0:
            e = ast.BinOp(e, rng.choice([ast.Add(), ast.Mult(), ast.Sub()]), leaf)
        elif kind == 1:
            e = ast.UnaryOp(rng.choice([ast.USub(), ast.Not(), ast.Invert()]), e)
        elif kind == 2:
            e = ast.IfExp(_parse_expr("x"), e, leaf)
        elif kind == 3:
            e = ast.Call(ast.Name(rng.choice(["abs", "float", "helper", "k"]), ast.Load()), [e], [])
        else:
            e = ast.Compare(leaf, [ast.Lt()], [e])
    return e


def _mutate_signature(rng, sig, nparams):
    if sig is None:
        return rng.choice([None, f"float64({', '.join(['float64'] * nparams)})"])
    parsed_ok = "(" in sig
    if not parsed_ok:
        return sig
    ret, args = sig.split("(", 1)
    args = [a.strip() for a in args[:-1].split(", ")] if args[:-1].strip() else []
    r = rng.random()
    if r < 0.4 and args:
        args[rng.randrange(len(args))] = rng.choice(TYPES)
    elif r < 0.6:
        ret = rng.choice(TYPES)
    elif r < 0.7:
        args.append(rng.choice(TYPES))
    elif r < 0.8 and args:
        args.pop()
    return f"{ret}({', '.join(args)})"


def generate(seed, i):
    """(signature or None, source, how): how is 'jit', 'vectorize' or 'source' (jit's source=)."""
    warnings.simplefilter("ignore", SyntaxWarning)  # mutants such as `x is 1`
    rng = random.Random(seed * 1_000_003 + i)
    sig, source = rng.choice(SEEDS)
    for _ in range(20):
        tree = ast.parse(source)
        for _ in range(rng.randint(1, 5)):
            try:
                _mutate_tree(rng, tree)
            except (IndexError, ValueError):
                pass
        try:
            text = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):  # deep for Python too
            continue
        nparams = len(tree.body[0].args.args) if tree.body and isinstance(tree.body[0], ast.FunctionDef) else 0
        if rng.random() < 0.3:
            sig = _mutate_signature(rng, sig, nparams)
        how = rng.choice(["jit"] * 6 + ["vectorize", "source"])
        return [sig, text, how]
    return [sig, source, "jit"]


def some_function(x):
    return x


@nativecall.jit("float64(float64)")
def helper(x):
    return x + 1.0


_COUNTER = [0]


def _namespace():
    import numpy as np

    return {"math": math, "nativecall": nativecall, "np": np, "helper": helper, "some_function": some_function,
            "__name__": "fuzzed"}  # fmt: skip


def attempt(inp):
    sig, text, how = inp
    _COUNTER[0] += 1
    filename = f"<fuzzed kernel {_COUNTER[0]}>"
    ns = _namespace()
    try:
        if how == "source":
            nativecall.jit(sig, source=text, globals=ns)
            return None
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        try:
            exec(compile(text, filename, "exec"), ns)
        except Exception:  # noqa: BLE001 - not a function Python can define: nothing to compile
            return None
        func = next((v for v in ns.values() if callable(v) and getattr(v, "__module__", None) == "fuzzed"), None)
        if func is None:
            return None
        if how == "vectorize" and sig is not None:
            nativecall.vectorize([sig])(func)
        else:
            nativecall.jit(sig)(func) if sig is not None else nativecall.jit(func)
    except (nativecall.CompileError, nativecall.SignatureError):
        return None
    except BaseException as e:  # noqa: BLE001 - every other exception is a finding
        return f"{type(e).__module__}.{type(e).__name__}: {e}"
    finally:
        linecache.cache.pop(filename, None)
    return None


def known_issue(inp, problem):
    return None  # no open issue: every finding fails the run
