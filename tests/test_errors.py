"""Every nativecall exception class comes from one module, and the extension raises those
same classes: a compile error is a CompileError wherever it is raised."""

import pickle

import pytest

import nativecall
from nativecall import _errors, _native


def _deref(p):
    return p[0]


def _square(x):
    return x * x


def test_every_public_exception_class_is_defined_in_nativecall_errors():
    classes = [getattr(nativecall, n) for n in nativecall.__all__ if isinstance(getattr(nativecall, n), type)]
    exceptions = [c for c in classes if issubclass(c, BaseException)]
    assert {c.__name__ for c in exceptions} == {
        "CompileError",
        "SignatureError",
        "TypingError",
        "UndefinedNameError",
        "UnsupportedError",
    }
    assert all(c.__module__ == "nativecall._errors" for c in exceptions)
    assert all(getattr(_errors, c.__name__) is c for c in exceptions)


def test_the_extension_raises_the_classes_of_nativecall_errors():
    assert _native.SignatureError is _errors.SignatureError is nativecall.SignatureError
    assert _native.KernelCompileFailure is _errors.KernelCompileFailure
    with pytest.raises(nativecall.SignatureError) as info:
        nativecall.Signature("double (double")
    assert type(info.value) is _errors.SignatureError


def test_a_signature_error_is_a_value_error_with_the_text_and_the_position():
    with pytest.raises(ValueError) as info:
        nativecall.Type("double ***&")
    e = info.value
    assert isinstance(e, nativecall.SignatureError)
    assert e.text == "double ***&"
    assert e.position == 10
    assert "^" in str(e) and "double ***&" in str(e)
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is nativecall.SignatureError and str(again) == str(e)


def test_a_ufunc_made_from_a_kernel_that_is_not_a_ufunc_loop_raises_a_compile_error():
    pointer_kernel = nativecall.jit("float64(float64*)")(_deref)
    with pytest.raises(nativecall.CompileError) as info:
        _native._make_ufunc("deref", "", [pointer_kernel])
    assert "ufunc loops take and return numbers" in str(info.value)
    assert info.value.args[0] == "typing"


def test_a_ufunc_of_kernels_with_different_arities_raises_a_compile_error():
    one = nativecall.jit("float64(float64)")(_square)
    two = nativecall.jit("float64(float64, float64)", source="def add(a, b):\n    return a + b\n")
    with pytest.raises(nativecall.CompileError, match="every signature of a ufunc takes 1 arguments"):
        _native._make_ufunc("mixed", "", [one, two])


def test_vectorize_reports_a_bad_kernel_as_a_typing_error_pointing_at_the_source():
    with pytest.raises(nativecall.TypingError) as info:
        nativecall.vectorize(["float64(float64*)"])(_deref)
    assert info.value.filename == __file__
    assert info.value.lineno == _deref.__code__.co_firstlineno
