"""The one element-type table (``src/abi/dtype.rs``) checked entry by entry against NumPy:
type number, character, kind and size, and a DLPack round trip both ways."""

import numpy as np
import pytest

import nativecall
from nativecall import _native

TABLE = _native._dtype_table()
DLPACK_CODES = {"b": 6, "i": 0, "u": 1, "f": 2, "c": 5}


def test_the_table_holds_every_element_type_arrays_take():
    assert [row[0] for row in TABLE] == [
        "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32",
        "int64", "uint64", "float32", "float64", "complex64", "complex128",
    ]  # fmt: skip


@pytest.mark.parametrize("name, code, bits, lanes, num, char, kind", TABLE, ids=[row[0] for row in TABLE])
def test_each_entry_spells_the_numpy_dtype_of_its_name(name, code, bits, lanes, num, char, kind):
    dt = np.dtype(name)
    assert dt.num == num
    assert dt.char == char
    assert dt.kind == kind
    assert dt.itemsize * 8 == bits * lanes
    assert code == DLPACK_CODES[kind]
    assert np.dtype(char) == dt


@pytest.mark.parametrize("name", [row[0] for row in TABLE])
def test_each_entry_round_trips_through_dlpack_both_ways(name):
    ours = nativecall.zeros((2, 3), name)
    assert str(ours.dtype) == str(nativecall.Type(name))
    theirs = np.from_dlpack(ours)
    assert theirs.dtype == np.dtype(name)
    assert theirs.shape == (2, 3) and not theirs.any()
    values = np.arange(6).reshape(2, 3).astype(name)
    back = nativecall.from_dlpack(values)
    assert back.dtype == nativecall.Type(name)
    np.testing.assert_array_equal(np.from_dlpack(back), values)


@pytest.mark.parametrize("name", [row[0] for row in TABLE])
def test_each_entry_is_read_from_a_typestr_and_a_buffer_format(name):
    values = np.ones(4, name)
    via_interface = nativecall.asarray(type("Iface", (), {"__array_interface__": values.__array_interface__})())
    assert via_interface.dtype == nativecall.Type(name)
    via_buffer = nativecall.asarray(memoryview(values))
    assert via_buffer.dtype == nativecall.Type(name)
