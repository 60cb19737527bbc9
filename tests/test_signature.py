"""Signatures and types from Python: parse, print, compare, and errors with a caret."""

import ctypes

import pytest

import nativecall
from nativecall import Signature, SignatureError, Type


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("double (double, void *)", "double (double, void *)"),
        ("double(double,void*)", "double (double, void *)"),
        ("int (double *, intptr_t, double *, void *)", "int (double *, npy_intp, double *, void *)"),
        ("int (double *, npy_intp, double *, npy_intp, void *)", "int (double *, npy_intp, double *, npy_intp, void *)"),
        ("double (int, double *)", "double (int, double *)"),
        ("float64(float64, intp)", "double (double, npy_intp)"),
        ("intc(CPointer(float64), intp, CPointer(float64), voidptr)", "int (double *, npy_intp, double *, void *)"),
        ("double (double, int __pyx_skip_dispatch)", "double (double, int)"),
        ("PY_LONG_LONG (double const *, Py_ssize_t)", "long long (const double *, npy_intp)"),
        ("__pyx_t_double_complex (__pyx_t_double_complex)", "double _Complex (double _Complex)"),
        ("double (double (*)(double, void *), double)", "double (double (*)(double, void *), double)"),
        ("float64(float64(float64, voidptr)*, float64)", "double (double (*)(double, void *), double)"),
    ],
)
def test_signature_text_prints_as_one_canonical_c_spelling(text, canonical):
    assert str(Signature(text)) == canonical
    assert Signature(str(Signature(text))) == Signature(text)


def test_equality_is_abi_equivalence_on_this_platform():
    long_is_64 = ctypes.sizeof(ctypes.c_long) == 8
    assert (Signature("long (long)") == Signature("npy_intp (int64_t)")) == long_is_64
    assert Signature("int (int)") != Signature("long (int)")
    assert Signature("double (const double *)") == Signature("double (double *)")
    assert Signature("double (double)") != Signature("double (double, void *)")
    assert Signature("double (double *)") != Signature("double (void *)")
    assert Signature("double (double)") != 3.5
    # ABI-equal signatures hash alike, so they can key a dict.
    table = {Signature("long (long)"): "a"}
    if long_is_64:
        assert table[Signature("int64_t (npy_intp)")] == "a"


@pytest.mark.parametrize(
    "make, text, same",
    [
        (Signature, "double (const double *)", "double(double*)"),
        (Signature, "float64(float64, voidptr)", "double (double, void *)"),
        (Type, "const double *", "double*"),
        (Type, "float64", "double"),
    ],
)
def test_equal_objects_hash_alike_and_text_is_not_equal_to_either(make, text, same):
    a, b = make(text), make(same)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    # Many spellings name one signature and their str hashes differ, so no string can
    # be equal to it without breaking hash(x) == hash(y) for x == y.
    assert a != text and a != same and a != str(a) and b != str(b)
    assert {a: 1}.get(str(a)) is None and {str(a): 1}.get(a) is None
    assert (a == 3.5) is False and (a != None) is True  # noqa: E711
    assert make(text) != (Type if make is Signature else Signature)("double (double)")


def test_restype_argtypes_and_names():
    sig = Signature("double (Py_ssize_t n, double *x, int __pyx_skip_dispatch)")
    assert str(sig.restype) == "double"
    assert [str(t) for t in sig.argtypes] == ["npy_intp", "double *", "int"]
    assert sig.argnames == ("n", "x", "__pyx_skip_dispatch")
    assert sig.argtypes[1].kind == "pointer" and str(sig.argtypes[1].pointee) == "double"
    assert sig.argtypes[0].bits == ctypes.sizeof(ctypes.c_ssize_t) * 8 and sig.argtypes[0].signed
    assert len(sig) == 3
    assert sig.numba == "float64(intp, CPointer(float64), int32)"


def test_types_are_objects_that_build_signatures():
    f = nativecall.float64(nativecall.float64, nativecall.intp)
    assert isinstance(f, Signature)
    assert str(f) == "double (double, npy_intp)"
    assert nativecall.float64.size == 8 and nativecall.float64.alignment == 8
    assert nativecall.complex128.size == 16
    assert nativecall.intp == Type("Py_ssize_t")
    assert nativecall.int32 == Type("int") and nativecall.int32 != Type("long")
    assert str(nativecall.float64.pointer()) == "double *"
    assert str(Signature("double (double, void *)").pointer()) == "double (*)(double, void *)"
    assert str(Type("double (*)(double)").signature) == "double (double)"
    assert repr(nativecall.voidptr) == "nativecall.Type('void *')"


@pytest.mark.parametrize(
    "text, position, words",
    [
        ("double (double, )", 16, "expected a type"),
        ("doubel (double)", 0, "unknown type name 'doubel'"),
        ("double (double", 14, "expected ',' or ')'"),
        ("double", 6, "not a function signature"),
        ("double (double) extra", 16, "unexpected 'extra'"),
        ("double (void, int)", 8, "'void' must be the only parameter"),
    ],
)
def test_malformed_signatures_raise_signature_error_with_a_caret(text, position, words):
    with pytest.raises(SignatureError) as info:
        Signature(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.position == position and err.text == text
    message = str(err)
    assert words in message
    line, caret = message.splitlines()[1:3]
    assert line.strip() == text.strip()
    assert caret.index("^") - line.index(text[0] if text else "") == position


def test_non_string_signature_is_a_type_error():
    with pytest.raises(TypeError, match="signature string"):
        Signature(3)


def test_typedef_extends_every_later_parse():
    with pytest.raises(SignatureError, match="nativecall.typedef"):
        Signature("my_weight_t (my_weight_t)")
    nativecall.typedef("my_weight_t", "float")
    nativecall.typedef("my_callback_t", "double (*)(my_weight_t, void *)")
    assert str(Signature("my_weight_t (my_callback_t)")) == "float (double (*)(float, void *))"
    with pytest.raises(SignatureError):
        nativecall.typedef("double", "float")


def test_every_live_scipy_capsule_name_round_trips():
    import importlib

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    count = 0
    for module in ["scipy.special.cython_special", "scipy.optimize.cython_optimize._zeros", "scipy.linalg.cython_blas"]:
        for capsule in importlib.import_module(module).__pyx_capi__.values():
            name = get_name(capsule).decode()
            sig = Signature(name)
            assert Signature(str(sig)) == sig
            assert str(Signature(str(sig))) == str(sig)
            count += 1
    assert count > 500
