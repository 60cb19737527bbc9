"""Bad kernels: each is a CompileError subclass pointing at file, line and column, never a crash."""

import inspect

import pytest

import nativecall
from nativecall import CompileError, TypingError, UndefinedNameError, UnsupportedError

HERE = __file__


def compile_error(sig, func):
    with pytest.raises(CompileError) as info:
        nativecall.jit(sig)(func)
    return info.value


def line_of(func, text):
    lines, first = inspect.getsourcelines(func)
    for k, line in enumerate(lines):
        if text in line:
            return first + k, line.index(text)
    raise AssertionError(text)


def test_errors_carry_file_line_column_and_show_a_caret():
    def f(x):
        y = x + 1.0
        return y + undefined_thing  # noqa: F821

    e = compile_error("float64(float64)", f)
    assert isinstance(e, UndefinedNameError) and isinstance(e, NameError)
    assert e.filename == HERE
    assert (e.lineno, e.col_offset) == line_of(f, "undefined_thing")
    text = str(e)
    assert "name 'undefined_thing' is not defined" in text
    shown, caret = text.splitlines()[-2:]
    assert shown.strip() == "return y + undefined_thing  # noqa: F821"
    assert caret.index("^") - shown.index("return") == len("return y + ")


def unsupported_string(x):
    return "text"


def unsupported_list(x):
    a = [1, 2]
    return x


def unsupported_try(x):
    try:
        return x
    except Exception:
        return 0.0


def unsupported_kwargs(x):
    return max(x, 1.0, key=abs)


def unsupported_is(x):
    return x is None


def unsupported_slice(p):
    return p[1:2]


def unsupported_lambda(x):
    f = lambda y: y  # noqa: E731
    return x


def unsupported_with(x):
    with open("f"):
        return x


def unsupported_iter(x):
    for i in [1, 2]:
        x += i
    return x


@pytest.mark.parametrize(
    "func, sig, words",
    [
        (unsupported_string, "float64(float64)", "str constants"),
        (unsupported_list, "float64(float64)", "'List' expressions"),
        (unsupported_try, "float64(float64)", "'Try' statements"),
        (unsupported_kwargs, "float64(float64)", "keyword arguments"),
        (unsupported_is, "bool(float64)", "IsNot|Is"),
        (unsupported_slice, "float64(float64*)", "slices are not supported"),
        (unsupported_lambda, "float64(float64)", "'Lambda' expressions"),
        (unsupported_with, "float64(float64)", "'With' statements"),
        (unsupported_iter, "float64(float64)", "range"),
    ],
)
def test_constructs_outside_the_language_are_unsupported_errors(func, sig, words):
    e = compile_error(sig, func)
    assert isinstance(e, UnsupportedError) and isinstance(e, NotImplementedError)
    assert e.filename == HERE and e.lineno > 0
    import re

    assert re.search(words, e.message), e.message


def mismatched_assign(p, x):
    y = p
    y = x
    return x


def float_to_int_return(x):
    return x * 2.0


def pointer_arith(p):
    q = p + 1
    return q[0]


def float_index(p, x):
    return p[x]


def void_result(p):
    y = nothing_returned(p)
    return 0.0


def store_through_const(p):
    p[0] = 1.0
    return 0.0


@nativecall.jit("void(float64*)")
def nothing_returned(p):
    p[0] = 0.0


@pytest.mark.parametrize(
    "func, sig, words",
    [
        (mismatched_assign, "float64(float64*, float64)", "variable 'y' holds float64\\* but is assigned float64"),
        (float_to_int_return, "int64(float64)", "use int\\(\\) to truncate"),
        (pointer_arith, "float64(float64*)", "pointer arithmetic is not supported"),
        (float_index, "float64(float64*, float64)", "an index must be an integer, got float64"),
        (void_result, "float64(float64*)", "void result"),
        (store_through_const, "float64(const double *)", "const pointer"),
    ],
)
def test_type_errors_are_typing_errors(func, sig, words):
    e = compile_error(sig, func)
    assert isinstance(e, TypingError) and isinstance(e, TypeError)
    import re

    assert re.search(words, e.message), e.message
    assert e.lineno > 0 and e.source_line.strip()


def test_signature_and_annotation_problems_are_reported():
    def two(a, b):
        return a

    e = compile_error("float64(float64)", two)
    assert "has 1 parameters but two takes 2" in e.message

    def half_annotated(a: float, b):
        return a

    with pytest.raises(TypingError, match="parameter 'b' has no type"):
        nativecall.jit(half_annotated)

    with pytest.raises(nativecall.SignatureError):
        nativecall.jit("float64(flaot64)")(two)

    def defaults(a, b=1.0):
        return a

    e = compile_error("float64(float64, float64)", defaults)
    assert "no defaults" in e.message

    with pytest.raises(TypeError, match="compiles Python functions"):
        nativecall.jit("float64(float64)")(abs)

    with pytest.raises(UnsupportedError, match="not lambdas"):
        nativecall.jit("float64(float64)")(lambda x: x)


def test_integer_constants_beyond_int64_and_unsupported_globals():
    def huge(x):
        return x + 1180591620717411303424

    e = compile_error("int64(int64)", huge)
    assert isinstance(e, (TypingError, UnsupportedError))

    table = {"a": 1}

    def uses_dict(x):
        return table + x

    e = compile_error("int64(int64)", uses_dict)
    assert "kernels can use numbers and native functions" in e.message


def test_missing_return_is_a_compile_error():
    def sometimes(x):
        if x > 0:
            return x

    e = compile_error("float64(float64)", sometimes)
    assert "can reach its end without returning" in e.message
