"""Kernels annotated in a module with ``from __future__ import annotations``, where every
annotation is a string: they compile exactly as they do without it (issue 9 item 13)."""

from __future__ import annotations

import numpy as np
import pytest

import nativecall
from nativecall import float64, int32


@nativecall.jit
def first(p: "double *", n: int) -> float:
    return p[n - 1]


@nativecall.jit
def total(a: float64[:], scale: float) -> float64:
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s * scale


@nativecall.jit
def corner(a: nativecall.float64[:, ::1], k: int32) -> float:
    return a[a.shape[0] - 1, a.shape[1] - 1] * k


@nativecall.jit
def flag(x: bool, y: "float32") -> "int64":
    return 1 if x and y > 0 else 0


def test_string_annotations_give_the_same_signatures_as_without_the_future_import():
    assert first.signature == nativecall.Signature("double (double *, int64_t)")
    assert total.signature == nativecall.Signature("float64(float64[:], float64)")
    assert corner.inspect_types()["a"] == "float64[:, ::1]"
    assert corner.signature == nativecall.Signature("float64(float64[:, ::1], int32)")
    assert flag.signature == nativecall.Signature("int64(bool, float32)")


def test_string_annotated_kernels_compute():
    import ctypes

    buf = (ctypes.c_double * 3)(1.5, 2.5, 4.0)
    assert first(ctypes.addressof(buf), 3) == 4.0
    assert total(np.array([1.0, 2.0, 3.5]), 2.0) == 13.0
    assert corner(np.arange(6.0).reshape(2, 3), 3) == 15.0
    assert (flag(True, 1.0), flag(True, -1.0), flag(False, 1.0)) == (1, 0, 0)


VECTOR = nativecall.int64[:]  # a module-level alias, named by a string annotation below


def test_string_annotations_resolve_module_level_aliases():
    @nativecall.jit
    def last(a: VECTOR) -> int:
        return a[len(a) - 1]

    assert last(np.array([4, 9], dtype=np.int64)) == 9
    assert last.inspect_types()["a"] == "int64[:]"


def test_a_string_annotation_that_names_no_type_is_a_typing_error_at_it():
    def f(x: float, n: np.sin) -> float:
        return x

    with pytest.raises(nativecall.TypingError, match="parameter 'n'") as info:
        nativecall.jit(f)
    assert info.value.source_line.strip().startswith("def f(x: float, n: np.sin)")
