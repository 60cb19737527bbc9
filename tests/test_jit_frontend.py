"""The frontend's edges: every compile problem is a CompileError with a position,
kernels defined inside functions, and kernels from source text (no source file)."""

import inspect
import linecache
import pickle
import subprocess
import sys

import numpy as np
import pytest

import nativecall
from nativecall import CompileError, TypingError, UnsupportedError

HERE = __file__


def not_a_type(x):
    return x


def line_containing(text, func):
    lines, start = inspect.getsourcelines(func)
    for k, line in enumerate(lines):
        if text in line:
            return start + k, line.index(text)
    raise AssertionError(text)


# ---------------------------------------------------------------- issue 9 item 12


def test_an_annotation_that_names_no_type_is_a_typing_error_at_the_annotation():
    def f(x: float, n: not_a_type):
        return x

    with pytest.raises(TypingError) as info:
        nativecall.jit(f)
    e = info.value
    assert e.filename == HERE
    assert (e.lineno, e.col_offset) == line_containing("not_a_type)", f)
    assert "parameter 'n'" in e.message and "not a nativecall type" in e.message


def test_an_annotation_string_that_does_not_parse_is_a_typing_error_not_a_signature_error():
    def f(x: "double ** (", n: int) -> "float64":
        return n

    with pytest.raises(TypingError) as info:
        nativecall.jit(f)
    assert not isinstance(info.value, nativecall.SignatureError)
    assert info.value.lineno == line_containing('"double ** ("', f)[0]
    assert "parameter 'x'" in info.value.message


def test_a_return_annotation_that_names_no_type_points_at_it():
    def f(x: float) -> not_a_type:
        return x

    with pytest.raises(TypingError, match="the return annotation") as info:
        nativecall.jit(f)
    assert (info.value.lineno, info.value.col_offset) == line_containing("not_a_type:", f)


@pytest.mark.parametrize("k", [9223372036854775808, 2**64 + 3, 4294967296, 65])
def test_a_shape_index_beyond_any_array_is_a_typing_error_at_the_index(k):
    src = f"def f(a):\n    return a.shape[{k}]\n"
    with pytest.raises(TypingError, match=f"a.shape\\[{k}\\]") as info:
        nativecall.jit("int64(float64[:])", source=src)
    assert (info.value.lineno, info.value.col_offset) == (2, 19)


def test_vectorizing_a_recursive_function_is_an_unsupported_error_at_the_recursive_call():
    def f(x):
        return f(x - 1.0) if x > 0 else 0.0

    with pytest.raises(UnsupportedError, match="recursive kernel cannot be a ufunc loop") as info:
        nativecall.vectorize(["float64(float64)"])(f)
    assert (info.value.lineno, info.value.col_offset) == line_containing("f(x - 1.0)", f)


def test_vectorizing_with_a_signature_that_is_not_numbers_is_a_typing_error():
    def f(a):
        return a[0]

    with pytest.raises(TypingError, match="ufunc loops take and return numbers; .* has 'float64\\[:\\]'") as info:
        nativecall.vectorize(["float64(float64[:])"])(f)
    assert info.value.filename == HERE and info.value.lineno == line_containing("def f(a)", f)[0]

    def g():
        return 1.0

    with pytest.raises(TypingError, match="at least one argument"):
        nativecall.vectorize(["float64()"])(g)


def test_type_text_python_cannot_encode_is_a_signature_error():
    for text in ["double (\ud800)", "\udfff"]:
        with pytest.raises(nativecall.SignatureError, match="valid Unicode"):
            nativecall.Signature(text)
        with pytest.raises(nativecall.SignatureError, match="valid Unicode"):
            nativecall.Type(text)


# ---------------------------------------------------------------- issue 9 item 15


@nativecall.jit("int64(int64)")
def countdown(n):  # a module-level kernel with the name the nested one below uses
    return -1000


def test_a_kernel_defined_in_a_function_recurses_into_itself_not_into_a_global_of_the_same_name():
    @nativecall.jit("int64(int64)")
    def countdown(n):
        return 0 if n <= 0 else 1 + countdown(n - 1)

    assert countdown(7) == 7
    assert pickle.loads(pickle.dumps(countdown))(9) == 9


def test_kernels_defined_in_functions_and_methods_recurse_with_annotations():
    class Maker:
        def make(self):
            @nativecall.jit
            def fib(n: int) -> int:
                return n if n < 2 else fib(n - 1) + fib(n - 2)

            return fib

    fib = Maker().make()
    assert [fib(k) for k in range(10)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]


def test_a_nested_kernel_using_an_enclosing_name_assigned_later_says_it_is_not_defined():
    def make():
        @nativecall.jit("float64(float64)")
        def f(x):
            return x * later

        later = 2.0
        return f

    with pytest.raises(nativecall.UndefinedNameError, match="'later'"):
        make()


# ---------------------------------------------------------------- issue 9 item 16


def test_a_kernel_compiles_from_source_text_with_its_imports_and_given_globals():
    src = """
    import math

    def damped(x, a):
        return math.exp(-a * x) * scale
    """
    k = nativecall.jit("float64(float64, float64)", source=src, globals={"scale": 3.0})
    assert k(0.5, 2.0) == 3.0 * np.exp(-1.0)
    assert k.name == "damped"
    again = pickle.loads(pickle.dumps(k))
    assert again(0.5, 2.0) == k(0.5, 2.0)


def test_source_text_with_annotations_and_arrays_compiles():
    src = "def total(a: nativecall.float64[::1]) -> float:\n    s = 0.0\n    for i in range(a.shape[0]):\n        s += a[i]\n    return s\n"
    k = nativecall.jit(source=src, globals={"nativecall": nativecall})
    assert k(np.arange(5.0)) == 10.0


def test_errors_in_source_text_point_into_the_text():
    src = "def f(x):\n    y = x + 1.0\n    return y + missing\n"
    with pytest.raises(nativecall.UndefinedNameError) as info:
        nativecall.jit("float64(float64)", source=src)
    e = info.value
    assert e.filename.startswith("<nativecall source") and (e.lineno, e.col_offset) == (3, 15)
    assert str(e).splitlines()[-2].strip() == "return y + missing"


@pytest.mark.parametrize(
    "src, error, words",
    [
        ("def f(x):\n    return x +\n", CompileError, "not Python"),
        ("def f(x):\n    return x\ndef g(x):\n    return x\n", UnsupportedError, "exactly one undecorated function"),
        ("x = 1\n", UnsupportedError, "got 0 function definitions"),
        ("@staticmethod\ndef f(x):\n    return x\n", UnsupportedError, "got 1 decorated function"),
        ("import no_such_module_here\ndef f(x):\n    return x\n", CompileError, "ModuleNotFoundError"),
    ],
)
def test_source_text_that_is_not_one_function_is_a_compile_error(src, error, words):
    with pytest.raises(error, match=words):
        nativecall.jit("float64(float64)", source=src)


def test_source_text_arguments_are_checked():
    with pytest.raises(TypeError, match="kernel's text"):
        nativecall.jit("float64(float64)", source=b"def f(x): return x")
    with pytest.raises(TypeError, match="goes with source"):
        nativecall.jit("float64(float64)", globals={})


def test_a_function_made_by_exec_says_how_to_compile_it_from_text():
    ns = {"nativecall": nativecall}
    with pytest.raises(UnsupportedError, match=r"nativecall.jit\(signature, source='def g"):
        exec("@nativecall.jit('float64(float64)')\ndef g(x):\n    return x + 1\n", ns)


def test_python_dash_c_compiles_a_kernel_from_text_and_explains_otherwise():
    code = (
        "import nativecall\n"
        "k = nativecall.jit('float64(float64)', source='def f(x):\\n    return x * 3.0\\n')\n"
        "print(k(2.0))\n"
        "def g(x):\n"
        "    return x\n"
        "try:\n"
        "    print(nativecall.jit('float64(float64)')(g)(5.0))\n"
        "except nativecall.UnsupportedError as e:\n"
        "    print('source=' in str(e))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # From 3.13 CPython keeps the text of `python -c` where inspect finds it: g compiles.
    assert out.stdout.split() == ["6.0", "5.0" if sys.version_info >= (3, 13) else "True"]


def test_a_function_typed_into_the_new_repl_compiles_from_the_source_python_keeps():
    # Python 3.13's REPL keeps each input in linecache under "<python-input-N>" (with
    # "<stdin>" as the full name) and compiles it with that file name.
    src = "def triple(x):\n    return 3.0 * x\n"
    name = "<python-input-4242>"
    linecache.cache[name] = (len(src), None, src.splitlines(True), "<stdin>")
    try:
        ns = {"__name__": "__main__"}
        exec(compile(src, name, "exec"), ns)
        k = nativecall.jit("float64(float64)")(ns["triple"])
        assert k(2.5) == 7.5
        bad = "def wrong(x):\n    return x + nope\n"
        linecache.cache[name] = (len(bad), None, bad.splitlines(True), "<stdin>")
        exec(compile(bad, name, "exec"), ns)
        with pytest.raises(nativecall.UndefinedNameError) as info:
            nativecall.jit("float64(float64)")(ns["wrong"])
        assert (info.value.filename, info.value.lineno) == (name, 2)
    finally:
        linecache.cache.pop(name, None)
