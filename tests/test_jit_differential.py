"""Differential test: a few hundred generated kernels against CPython running the same functions.

Expressions are random trees over the kernel language's operators, builtins and math
functions, over int64 and float64 inputs. For every input CPython's result is the
reference; an input is set aside only where docs/semantics.md says kernels differ on
purpose: CPython raises (division by zero, math domain errors, float overflow,
int(nan)), or an integer leaves the range where int64 and float64 agree with Python's
unbounded ints (|v| > 2**53). Everything else must match exactly: same value, same
sign of zero, NaN where CPython gives NaN.
"""

import linecache
import math
import random

import pytest

import nativecall

INTS = [-7, -3, -1, 0, 1, 2, 5, 13]
FLOATS = [-2.5, -1.0, -0.0, 0.0, 0.5, 1.5, 3.25, 1e10, math.inf, math.nan]
LIMIT = 2**53


class Node:
    def __init__(self, src, kind, children=()):
        self.src, self.kind, self.children = src, kind, children

    def subtrees(self):
        yield self
        for c in self.children:
            yield from c.subtrees()


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def leaf(self):
        r = self.rng.random()
        if r < 0.3:
            return Node(self.rng.choice(["a", "b"]), "int")
        if r < 0.6:
            return Node(self.rng.choice(["x", "y"]), "float")
        if r < 0.8:
            return Node(str(self.rng.randint(0, 9)), "int")
        return Node(repr(self.rng.choice([0.5, 2.0, 3.75, -1.25, 0.1])), "float")

    def expr(self, depth):
        if depth <= 0 or self.rng.random() < 0.2:
            return self.leaf()
        e = lambda: self.expr(depth - 1)  # noqa: E731
        kind = self.rng.choice(
            ["arith", "arith", "arith", "div", "pow", "compare", "chain", "boolop", "not", "ifexp", "neg",
             "abs", "minmax", "cast", "bitwise", "math"]
        )  # fmt: skip
        if kind == "arith":
            a, b = e(), e()
            op = self.rng.choice(["+", "-", "*"])
            return Node(f"({a.src} {op} {b.src})", _num(a, b), (a, b))
        if kind == "div":
            a, b = e(), e()
            op = self.rng.choice(["/", "//", "%"])
            out = "float" if op == "/" else _num(a, b)
            return Node(f"({a.src} {op} {b.src})", out, (a, b))
        if kind == "pow":
            a = e()
            k = self.rng.randint(0, 3)
            return Node(f"({a.src} ** {k})", "float" if a.kind == "float" else "int", (a,))
        if kind == "compare":
            a, b = e(), e()
            op = self.rng.choice(["<", "<=", ">", ">=", "==", "!="])
            return Node(f"({a.src} {op} {b.src})", "bool", (a, b))
        if kind == "chain":
            a, b, c = e(), e(), e()
            o1, o2 = self.rng.choice(["<", "<="]), self.rng.choice(["<", "<=", "!="])
            return Node(f"({a.src} {o1} {b.src} {o2} {c.src})", "bool", (a, b, c))
        if kind == "boolop":
            a, b = e(), e()
            op = self.rng.choice(["and", "or"])
            return Node(f"({a.src} {op} {b.src})", _unify(a, b), (a, b))
        if kind == "not":
            a = e()
            return Node(f"(not {a.src})", "bool", (a,))
        if kind == "ifexp":
            c, a, b = e(), e(), e()
            return Node(f"({a.src} if {c.src} else {b.src})", _unify(a, b), (c, a, b))
        if kind == "neg":
            a = e()
            return Node(f"(-{a.src})", "int" if a.kind == "bool" else a.kind, (a,))
        if kind == "abs":
            a = e()
            return Node(f"abs({a.src})", "int" if a.kind == "bool" else a.kind, (a,))
        if kind == "minmax":
            a, b = e(), e()
            f = self.rng.choice(["min", "max"])
            return Node(f"{f}({a.src}, {b.src})", _unify(a, b), (a, b))
        if kind == "cast":
            a = e()
            f = self.rng.choice(["int", "float"])
            return Node(f"{f}({a.src})", f, (a,))
        if kind == "bitwise":
            a, b = self.int_expr(depth - 1), self.int_expr(depth - 1)
            op = self.rng.choice(["&", "|", "^"])
            return Node(f"({a.src} {op} {b.src})", "int", (a, b))
        a = e()
        f = self.rng.choice(["sqrt", "fabs", "floor", "ceil", "exp", "atan", "hypot"])
        if f == "hypot":
            b = e()
            return Node(f"math.hypot({a.src}, {b.src})", "float", (a, b))
        return Node(f"math.{f}({a.src})", "int" if f in ("floor", "ceil") else "float", (a,))

    def int_expr(self, depth):
        while True:
            n = self.expr(depth)
            if n.kind == "int":
                return n


def _num(a, b):
    if "float" in (a.kind, b.kind):
        return "float"
    return "int"


def _unify(a, b):
    if a.kind == b.kind:
        return a.kind
    return _num(a, b)


def python_value(src, env):
    try:
        return eval(src, {"math": math}, env)
    except (ArithmeticError, ValueError):
        return _RAISES


_RAISES = object()


def usable(tree, env):
    """Whether CPython's result for this input is a reference the kernel must match."""
    for sub in tree.subtrees():
        v = python_value(sub.src, env)
        if v is _RAISES or isinstance(v, complex):
            return False
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > LIMIT:
            return False
    return True


def promoted(tree, env):
    """Whether some subexpression is float64 in the kernel (int and float unified) while
    CPython still holds an int there: then, as documented, only the sign of a zero may differ."""
    for sub in tree.subtrees():
        if sub.kind == "float" and isinstance(python_value(sub.src, env), int):
            return True
    return False


def same(mine, theirs, zero_sign_may_differ):
    if isinstance(mine, float):
        exact_zero = not (zero_sign_may_differ or not isinstance(theirs, float))
        theirs = float(theirs)
        if math.isnan(theirs):
            return math.isnan(mine)
        return mine == theirs and (not exact_zero or math.copysign(1.0, mine) == math.copysign(1.0, theirs))
    if isinstance(mine, bool):
        return isinstance(theirs, bool) and mine == theirs
    return mine == int(theirs)


def compile_source(src, name):
    filename = f"<differential {name}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns = {"math": math}
    exec(compile(src, filename, "exec"), ns)
    return ns["kernel"]


def cases(count, seed):
    gen = Generator(seed)
    for n in range(count):
        tree = gen.expr(4)
        yield n, tree


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_generated_kernels_match_cpython(seed):
    count = 120
    checked = skipped = 0
    mismatches = []
    rng = random.Random(seed * 7919)
    for n, tree in cases(count, seed):
        if rng.random() < 0.25:
            # A statement-level variant: a local promoted through a branch, then a loop.
            src = (
                "def kernel(a, b, x, y):\n"
                f"    t = {tree.src}\n"
                "    if a > b:\n"
                "        t = t + 1\n"
                "    for i in range(3):\n"
                "        t = t * 1\n"
                "    return t\n"
            )
        else:
            src = f"def kernel(a, b, x, y):\n    return {tree.src}\n"
        func = compile_source(src, f"{seed}-{n}")
        kernel = _compile(func)
        for _ in range(12):
            env = {"a": rng.choice(INTS), "b": rng.choice(INTS), "x": rng.choice(FLOATS), "y": rng.choice(FLOATS)}
            if not usable(tree, env):
                skipped += 1
                continue
            want = func(**env)
            got = kernel(env["a"], env["b"], env["x"], env["y"])
            checked += 1
            if not same(got, want, promoted(tree, env)):
                mismatches.append((tree.src, env, got, want, kernel.inspect_types()["return"]))
    assert not mismatches, "\n".join(map(repr, mismatches[:10]))
    assert checked > count * 12 * 0.5, f"only {checked} inputs checked ({skipped} set aside)"


def _compile(func):
    """Compile with the parameters typed and the return type inferred."""
    func.__annotations__ = {"a": nativecall.int64, "b": nativecall.int64, "x": nativecall.float64, "y": nativecall.float64}
    return nativecall.jit(func)
