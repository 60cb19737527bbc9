"""Differential test: generated kernels against CPython running the same functions.

Expressions are random trees over the kernel language's operators, builtins, math
functions, complex numbers (computed, then brought back to a real number by `.real`,
`.imag`, `abs`, `cmath.phase` or a comparison), array reads (of conditional expressions of arrays too) and
NumPy's reductions of arrays (np.sum, a.mean(), np.median, ...), over int64,
float64 and array inputs whose values reach the places where a float64 shortcut
would differ from Python: ints beyond 2**53 up to
int64's limits, floats next to them (float(a) and its neighbours), signed zeros, both
signs of NaN, infinities, subnormals.

The reference is CPython running a transcription of the kernel: where the kernel's
type rules turn an int into a float64 (a conditional expression, `and`/`or`, `min`/
`max` or a local that unify int with float, as docs/semantics.md says), the reference
says `float(...)` explicitly. Every other result must be bit-identical: same value,
same type, same sign of zero, NaN with the same sign. An input is set aside only where
docs/semantics.md says kernels differ on purpose: CPython raises (division by zero,
math domain errors, float overflow, int(nan)) or returns a complex number, or an int
leaves int64 (kernels wrap). The reference checks every value it computes, so only the
subexpressions CPython actually evaluates decide that.

Each shard runs in its own interpreter (`python tests/test_jit_differential.py SEED COUNT`),
so a crash or a hang is a failure that shows the program and the input it was running.
`NATIVECALL_FUZZ_SCALE=N` multiplies the number of kernels (1 is the suite's size);
`NATIVECALL_FUZZ_SEED` changes the seeds.
"""

import cmath
import json
import linecache
import math
import operator
import os
import random
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SMALL_INTS = [-7, -3, -1, 0, 1, 2, 5, 13]
BIG_INTS = [2**53, 2**53 + 1, -(2**53) - 1, -(2**53) - 2, 2**62 + 1, 3 * 2**60 + 7, INT64_MAX, INT64_MIN, INT64_MIN + 1]
NEG_NAN = math.copysign(math.nan, -1.0)
FLOATS = [-2.5, -1.0, -0.0, 0.0, 0.5, 1.5, 3.25, 1e10, math.inf, -math.inf, math.nan, NEG_NAN, 5e-324, 1e300,
          2.0**53, 2.0**63, -(2.0**63), 2.0**64, 9007199254740994.0]  # fmt: skip
ARRAYS = ("v", "w", "v2", "w2")  # float64, int64, float64, int64
ARRAY_LEN = 4
SHARDS = 4
KERNELS_PER_SHARD = 80
INPUTS_PER_KERNEL = 30


def scale():
    return max(1, int(os.environ.get("NATIVECALL_FUZZ_SCALE", "1")))


def base_seed():
    return int(os.environ.get("NATIVECALL_FUZZ_SEED", "0"))


class Node:
    """An expression: its kernel source, its reference source, and its kernel type."""

    def __init__(self, src, ref, kind, children=()):
        self.src, self.ref, self.kind, self.children = src, f"_c({ref})", kind, children


def _as(node, kind):
    """The reference for `node` converted as the kernel converts it to `kind`."""
    if kind == "float" and node.kind != "float":
        return f"float({node.ref})"
    return node.ref


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def leaf(self):
        r = self.rng.random()
        if r < 0.25:
            n = self.rng.choice(["a", "b"])
            return Node(n, n, "int")
        if r < 0.5:
            n = self.rng.choice(["x", "y"])
            return Node(n, n, "float")
        if r < 0.65:
            name, kind = self.rng.choice([("v", "float"), ("w", "int")])
            arr = name
            if self.rng.random() < 0.3:
                other = "v2" if name == "v" else "w2"
                cond = self.rng.choice(["a > b", "x < y", "a", "x"])
                arr = f"({name} if {cond} else {other})"
            k = self.rng.randint(-ARRAY_LEN, ARRAY_LEN - 1)
            return Node(f"{arr}[{k}]", f"{arr}[{k}]", kind)
        if r < 0.7:
            if self.rng.random() < 0.5:
                return Node("len(v)", "len(v)", "int")
            return self.reduction()
        if r < 0.85:
            n = str(self.rng.choice([0, 1, 2, 3, 7, 9, 2**53 + 1, 2**62]))
            return Node(n, n, "int")
        f = self.rng.choice([0.5, 2.0, 3.75, -1.25, 0.1, 2.0**53, 1e300])
        n = f"({f!r})" if f < 0 else repr(f)
        return Node(n, n, "float")

    def reduction(self):
        """A NumPy reduction of a whole array: of 4 elements every one is exactly specified
        (NumPy sums fewer than 8 in order, from 0.0, as kernels do)."""
        name, kind = self.rng.choice([("v", "float"), ("w", "int"), ("v2", "float")])
        f = self.rng.choice(["sum", "mean", "var", "std", "min", "max", "median", "nanmedian"])
        if kind == "int" and f == "nanmedian":
            f = "median"
        if f in ("median", "nanmedian") or self.rng.random() < 0.5:
            src = f"np.{f}({name})"
        else:
            src = f"{name}.{f}()"
        out = kind if f in ("sum", "min", "max") else "float"
        return Node(src, f"_reduce({f!r}, {name}, {kind!r})", out)

    def expr(self, depth):
        if depth <= 0 or self.rng.random() < 0.2:
            return self.leaf()
        e = lambda: self.expr(depth - 1)  # noqa: E731
        kind = self.rng.choice(
            ["arith", "arith", "arith", "div", "div", "div", "pow", "compare", "compare", "chain", "boolop", "not",
             "ifexp", "ifexp", "neg", "abs", "minmax", "cast", "bitwise", "math", "math", "math2", "numpy",
             "complex", "complex"]
        )  # fmt: skip
        if kind == "complex":
            # A complex computation brought back to a real number.
            c = self.cexpr(depth - 1)
            f = self.rng.choice(["real", "imag", "abs", "phase", "eq"])
            if f in ("real", "imag"):
                return Node(f"{c.src}.{f}", f"{c.ref}.{f}", "float", (c,))
            if f == "abs":
                return Node(f"abs({c.src})", f"abs({c.ref})", "float", (c,))
            if f == "phase":
                return Node(f"cmath.phase({c.src})", f"cmath.phase({c.ref})", "float", (c,))
            d = self.cexpr(depth - 1) if self.rng.random() < 0.5 else e()
            op = self.rng.choice(["==", "!="])
            return Node(f"({c.src} {op} {d.src})", f"{c.ref} {op} {d.ref}", "bool", (c, d))
        if kind == "arith":
            a, b = e(), e()
            op = self.rng.choice(["+", "-", "*"])
            return Node(f"({a.src} {op} {b.src})", _arith(op, a, b), _num(a, b), (a, b))
        if kind == "div":
            a, b = e(), e()
            op = self.rng.choice(["/", "/", "/", "//", "%"])
            out = "float" if op == "/" else _num(a, b)
            return Node(f"({a.src} {op} {b.src})", _arith(op, a, b), out, (a, b))
        if kind == "pow":
            a = e()
            k = self.rng.randint(0, 3)
            out = "float" if a.kind == "float" else "int"
            ref = f"_pow({a.ref}, {k})" if out == "float" else f"{a.ref} ** {k}"
            return Node(f"({a.src} ** {k})", ref, out, (a,))
        if kind == "compare":
            a, b = e(), e()
            op = self.rng.choice(["<", "<=", ">", ">=", "==", "!="])
            return Node(f"({a.src} {op} {b.src})", f"{a.ref} {op} {b.ref}", "bool", (a, b))
        if kind == "chain":
            a, b, c = e(), e(), e()
            o1, o2 = self.rng.choice(["<", "<=", "=="]), self.rng.choice(["<", "<=", "!=", ">="])
            return Node(f"({a.src} {o1} {b.src} {o2} {c.src})", f"{a.ref} {o1} {b.ref} {o2} {c.ref}", "bool", (a, b, c))
        if kind == "boolop":
            a, b = e(), e()
            op = self.rng.choice(["and", "or"])
            k = _unify(a, b)
            return Node(f"({a.src} {op} {b.src})", f"{_as(a, k)} {op} {_as(b, k)}", k, (a, b))
        if kind == "not":
            a = e()
            if a.kind == "bool" and self.rng.random() < 0.5:
                # `~` of a bool is logical not, as NumPy's bool has it (docs/semantics.md).
                return Node(f"(~{a.src})", f"not {a.ref}", "bool", (a,))
            return Node(f"(not {a.src})", f"not {a.ref}", "bool", (a,))
        if kind == "numpy":
            # NumPy's functions whose results are exactly specified (no SIMD variants).
            f = self.rng.choice(["sqrt", "floor", "ceil", "trunc", "absolute", "sign", "minimum", "maximum", "hypot",
                                 "arctan2", "isnan"])  # fmt: skip
            args = [e()] if f not in ("minimum", "maximum", "hypot", "arctan2") else [e(), e()]
            out = "bool" if f == "isnan" else "float"
            src = ", ".join(f"float({a.src})" for a in args)
            ref = ", ".join(f"float({a.ref})" for a in args)
            return Node(f"np.{f}({src})", f"_np({f!r}, {ref})", out, tuple(args))
        if kind == "ifexp":
            c, a, b = e(), e(), e()
            k = _unify(a, b)
            return Node(f"({a.src} if {c.src} else {b.src})", f"{_as(a, k)} if {c.ref} else {_as(b, k)}", k, (c, a, b))
        if kind in ("neg", "abs"):
            a = e()
            out = "int" if a.kind == "bool" else a.kind
            src = f"(-{a.src})" if kind == "neg" else f"abs({a.src})"
            ref = f"-{a.ref}" if kind == "neg" else f"abs({a.ref})"
            return Node(src, ref, out, (a,))
        if kind == "minmax":
            a, b = e(), e()
            f = self.rng.choice(["min", "max"])
            k = _unify(a, b)
            return Node(f"{f}({a.src}, {b.src})", f"{f}({_as(a, k)}, {_as(b, k)})", k, (a, b))
        if kind == "cast":
            a = e()
            f = self.rng.choice(["int", "float"])
            return Node(f"{f}({a.src})", f"{f}({a.ref})", f, (a,))
        if kind == "bitwise":
            a, b = self.int_expr(depth - 1), self.int_expr(depth - 1)
            op = self.rng.choice(["&", "|", "^"])
            return Node(f"({a.src} {op} {b.src})", f"{a.ref} {op} {b.ref}", "int", (a, b))
        if kind == "math2":
            a, b = e(), e()
            f = self.rng.choice(["hypot", "hypot", "hypot", "atan2", "pow", "fmod", "copysign"])
            return Node(f"math.{f}({a.src}, {b.src})", f"math.{f}({a.ref}, {b.ref})", "float", (a, b))
        a = e()
        f = self.rng.choice(
            ["sqrt", "fabs", "floor", "ceil", "trunc", "exp", "expm1", "log", "log1p", "atan", "sin", "tanh", "erf",
             "gamma", "lgamma"]
        )  # fmt: skip
        out = "int" if f in ("floor", "ceil", "trunc") else "float"
        return Node(f"math.{f}({a.src})", f"math.{f}({a.ref})", out, (a,))

    def cexpr(self, depth):
        """A complex expression (its reference is not checked as a real value is)."""
        e = lambda: self.expr(max(depth - 1, 0))  # noqa: E731
        c = lambda: self.cexpr(depth - 1)  # noqa: E731
        r = self.rng.random()
        if depth <= 0 or r < 0.25:
            leaf = self.rng.random()
            if leaf < 0.3:
                z = self.rng.choice([1j, 1.5 - 2j, -0.5 + 0.25j, 2 + 0j, -3j])
                return _complex_node(f"({z!r})", f"({z!r})", ())
            if leaf < 0.65:
                a, b = e(), e()
                return _complex_node(f"complex({a.src}, {b.src})", f"complex({a.ref}, {b.ref})", (a, b))
            a = e()
            return _complex_node(f"({a.src} * 1j)", f"{a.ref} * 1j", (a,))
        kind = self.rng.choice(["arith", "arith", "mixed", "div", "pow", "neg", "conj", "cmath"])
        if kind in ("arith", "mixed", "div"):
            a, b = c(), (c() if kind != "mixed" else e())
            if kind == "mixed" and self.rng.random() < 0.5:
                a, b = b, a
            op = "/" if kind == "div" else self.rng.choice(["+", "-", "*"])
            return _complex_node(f"({a.src} {op} {b.src})", f"{a.ref} {op} {b.ref}", (a, b))
        a = c()
        if kind == "pow":
            k = self.rng.randint(0, 3)
            return _complex_node(f"({a.src} ** {k})", f"{a.ref} ** {k}", (a,))
        if kind == "neg":
            return _complex_node(f"(-{a.src})", f"-{a.ref}", (a,))
        if kind == "conj":
            return _complex_node(f"{a.src}.conjugate()", f"{a.ref}.conjugate()", (a,))
        f = self.rng.choice(["exp", "sqrt", "log"])
        return _complex_node(f"cmath.{f}({a.src})", f"cmath.{f}({a.ref})", (a,))

    def int_expr(self, depth):
        while True:
            n = self.expr(depth)
            if n.kind == "int":
                return n

    def kernel(self):
        """The kernel's source and its reference's, for one random expression."""
        tree = self.expr(self.rng.choice([3, 4, 4, 5, 5, 6]))
        params = "a, b, x, y, v, w, v2, w2"
        variant = self.rng.random()
        if variant < 0.2:
            # A local that unifies the expression with an int, through a branch, then a loop.
            t = _as(tree, "float" if tree.kind == "float" else "int")
            body = (
                "    t = {e}\n"
                "    if a > b:\n"
                "        t = {plus}\n"
                "    for i in range(3):\n"
                "        t = {times}\n"
                "    return t\n"
            )
            src = body.format(e=tree.src, plus="t + 1", times="t * 1")
            ref = body.format(e=t, plus="_c(t + 1)", times="_c(t * 1)")
        elif variant < 0.3:
            # A float accumulator in a while loop with augmented assignment.
            body = (
                "    s = 0.0\n"
                "    i = 0\n"
                "    while i < 2:\n"
                "        s += {e}\n"
                "        i += 1\n"
                "    return s\n"
            )
            src = body.format(e=tree.src)
            ref = body.format(e=_as(tree, "float"))
        else:
            src = f"    return {tree.src}\n"
            ref = f"    return {tree.ref}\n"
        return f"def kernel({params}):\n{src}", f"def reference({params}):\n{ref}"

    def inputs(self):
        rng = self.rng

        def an_int():
            r = rng.random()
            if r < 0.45:
                return rng.choice(SMALL_INTS)
            if r < 0.7:
                return rng.choice(BIG_INTS)
            v = rng.getrandbits(rng.randint(40, 63))
            return -v if rng.random() < 0.5 else v

        def a_float(near):
            r = rng.random()
            if r < 0.25:
                f = float(near)
                return rng.choice([f, f, math.nextafter(f, math.inf), math.nextafter(f, -math.inf), -f])
            if r < 0.6:
                return rng.uniform(-10, 10) * 2.0 ** rng.randint(-30, 70)
            if r < 0.7:
                return rng.getrandbits(rng.randint(1, 52)) * rng.choice([5e-324, -5e-324])  # subnormal
            return rng.choice(FLOATS)

        a, b = an_int(), an_int()
        return {
            "a": a,
            "b": b,
            "x": a_float(rng.choice([a, b])),
            "y": a_float(rng.choice([a, b])),
            "v": [a_float(an_int()) for _ in range(ARRAY_LEN)],
            "w": [an_int() for _ in range(ARRAY_LEN)],
            "v2": [a_float(an_int()) for _ in range(ARRAY_LEN)],
            "w2": [an_int() for _ in range(ARRAY_LEN)],
        }


def _complex_node(src, ref, children):
    node = Node(src, ref, "complex", children)
    node.ref = f"_cx({ref})"
    return node


def _cx(z):
    """A complex intermediate. Products and quotients of complex numbers with NaN parts
    meet NaNs with each other, so the sign of a NaN that comes out is left open."""
    if isinstance(z, complex) and (math.isnan(z.real) or math.isnan(z.imag)):
        NANS_MET[0] = True
    return z


def _np(name, *args):
    """NumPy's result on float64 scalars, as a Python float (or bool)."""
    with np.errstate(all="ignore"):
        r = getattr(np, name)(*[np.float64(a) for a in args])
    return bool(r) if name == "isnan" else float(r)


def _reduce(name, values, kind):
    """NumPy's reduction of the array, as a Python number. Of an array holding a NaN, a
    kernel's reduction (but nanmedian) gives the array's first NaN, sign included, where
    NumPy's sign varies with its loops (docs/semantics.md): the reference is that NaN, so a
    program that goes on to read its sign (copysign) is compared exactly too."""
    import warnings

    arr = np.array(values, dtype=np.float64 if kind == "float" else np.int64)
    if kind == "float":
        first_nan = next((float(x) for x in values if math.isnan(x)), None)
        if first_nan is not None and (name != "nanmedian" or all(math.isnan(x) for x in values)):
            return first_nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return getattr(np, name)(arr).item()


def _arith(op, a, b):
    return f"_arith({a.ref}, {b.ref}, {op!r})"


def _num(a, b):
    return "float" if "float" in (a.kind, b.kind) else "int"


def _unify(a, b):
    return a.kind if a.kind == b.kind else _num(a, b)


OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "//": operator.floordiv, "%": operator.mod}  # fmt: skip
NANS_MET = [False]


def _binary(a, b, op):
    """`a op b`, noting when two NaNs meet: which one's sign the result carries is not
    specified (IEEE 754 leaves it open; docs/semantics.md)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        NANS_MET[0] = True
    return OPERATORS[op](a, b)


def _pow(x, k):
    """`x ** k` for a constant int `k`: correctly rounded, as kernels compute it, where
    the C library's `pow` (CPython's) can be off in the last bit (docs/semantics.md)."""
    if isinstance(x, float) and math.isfinite(x) and x != 0.0:
        return float(Fraction(x) ** k)
    return x**k


class SetAside(Exception):
    """CPython's result is not a reference: docs/semantics.md lets kernels differ here."""


def _check(v):
    if isinstance(v, complex) or (type(v) is int and not INT64_MIN <= v <= INT64_MAX):
        raise SetAside
    return v


class _ReferenceMath:
    """`math` for the reference, except that `copysign` reading the sign of a NaN whose sign
    is left open (two NaNs met, a complex intermediate had NaN parts) is no reference: the
    sign it copies is the implementation's choice, and so is the finite result."""

    def __getattr__(self, name):
        return getattr(math, name)

    @staticmethod
    def copysign(x, y):
        if NANS_MET[0] and math.isnan(y):
            raise SetAside
        return math.copysign(x, y)


REFERENCE_MATH = _ReferenceMath()


def reference_value(ref_func, env):
    """CPython's result (SetAside if it is not a reference), and whether two NaNs met on the way."""
    NANS_MET[0] = False
    try:
        return ref_func(**env), NANS_MET[0]
    except (ArithmeticError, ValueError, SetAside):
        return SetAside, False


def same(mine, theirs, nan_sign_open=False):
    """Bit-identical: the same type (a kernel int may stand for a bool), value, zero sign, and
    NaN sign (unless two NaNs met in an arithmetic operation)."""
    if isinstance(theirs, float):
        if not isinstance(mine, float):
            return False
        if math.isnan(theirs):
            return math.isnan(mine) and (nan_sign_open or math.copysign(1.0, mine) == math.copysign(1.0, theirs))
        return mine == theirs and math.copysign(1.0, mine) == math.copysign(1.0, theirs)
    if isinstance(theirs, bool) and isinstance(mine, bool):
        return mine == theirs
    return type(mine) is int and mine == theirs


def define(src, name, reference=False):
    filename = f"<differential {name}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    ns = {
        "math": REFERENCE_MATH if reference else math, "cmath": cmath, "np": np, "_c": _check, "_cx": _cx, "_arith": _binary, "_pow": _pow, "_np": _np,
        "_reduce": _reduce,
    }  # fmt: skip
    exec(compile(src, filename, "exec"), ns)
    return ns


def run_shard(seed, count, crash_at=None):
    """Worker: compile and check `count` kernels; one JSON line per program and input
    before it runs (so a crash names them), a summary line at the end."""
    import faulthandler

    import numpy as np

    import nativecall

    def say(**record):
        print(json.dumps(record), flush=True)

    gen = Generator(seed)
    checked = skipped = 0
    mismatches = []
    for n in range(count):
        src, ref_src = gen.kernel()
        say(program=src)
        func = define(src, f"{seed}-{n}")["kernel"]
        func.__annotations__ = {
            "a": nativecall.int64, "b": nativecall.int64, "x": nativecall.float64, "y": nativecall.float64,
            "v": nativecall.float64[:], "w": nativecall.int64[:], "v2": nativecall.float64[:],
            "w2": nativecall.int64[:],
        }  # fmt: skip
        kernel = nativecall.jit(func)
        reference = define(ref_src, f"{seed}-{n} reference", reference=True)["reference"]
        for _ in range(INPUTS_PER_KERNEL):
            env = gen.inputs()
            want, nans_met = reference_value(reference, env)
            if want is SetAside:
                skipped += 1
                continue
            say(input=repr(env))
            if crash_at == checked:
                faulthandler._sigsegv()
            arrays = {k: np.array(env[k], dtype=np.float64 if k[0] == "v" else np.int64) for k in ARRAYS}
            got = kernel(env["a"], env["b"], env["x"], env["y"], arrays["v"], arrays["w"], arrays["v2"], arrays["w2"])
            checked += 1
            if not same(got, want, nans_met):
                mismatches.append({"program": src, "input": repr(env), "kernel": repr(got), "cpython": repr(want)})
    say(summary={"checked": checked, "skipped": skipped, "mismatches": mismatches})


def run_in_subprocess(seed, count, timeout, crash_at=None):
    """Run a shard in a fresh interpreter; return its summary, or fail showing what it ran last."""
    cmd = [sys.executable, os.path.abspath(__file__), str(seed), str(count)]
    if crash_at is not None:
        cmd.append(str(crash_at))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out, err, status = proc.stdout, proc.stderr, f"exit status {proc.returncode}"
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else e.stdout or ""
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr or ""
        status = f"no result within {timeout} s"
    program = last_input = None
    for line in out.splitlines():
        record = json.loads(line)
        if "program" in record:
            program, last_input = record["program"], None
        elif "input" in record:
            last_input = record["input"]
        elif "summary" in record:
            return record["summary"]
    pytest.fail(
        f"differential shard seed={seed} count={count}: {status}\n"
        f"last program:\n{program}\nlast input: {last_input}\nstderr:\n{err[-3000:]}",
        pytrace=False,
    )


@pytest.mark.parametrize("shard", range(SHARDS))
def test_generated_kernels_match_cpython(shard):
    seed = base_seed() * 1000 + shard + 1
    count = KERNELS_PER_SHARD * scale()
    summary = run_in_subprocess(seed, count, timeout=120 + 2 * count)
    mismatches = summary["mismatches"]
    assert not mismatches, f"{len(mismatches)} mismatches (seed {seed}), first ones:\n" + "\n".join(
        f"{m['program']}  input {m['input']}\n  kernel {m['kernel']}, CPython {m['cpython']}" for m in mismatches[:8]
    )
    assert summary["checked"] > count * INPUTS_PER_KERNEL * 0.4, summary


def test_a_crashing_kernel_fails_the_test_with_its_program_and_input():
    with pytest.raises(pytest.fail.Exception) as failure:
        run_in_subprocess(seed=5, count=3, timeout=120, crash_at=2)
    message = str(failure.value)
    assert "exit status -11" in message and "def kernel(a, b, x, y, v, w, v2, w2):" in message
    assert "last input: {'a':" in message


if __name__ == "__main__":
    run_shard(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
