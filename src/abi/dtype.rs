//! The one table of array element types: each nativecall [`Type`] an array may hold, with
//! its DLPack dtype (code, bits, lanes), its NumPy type number and character, and its
//! array-interface kind. Every conversion between these spellings goes through here:
//! DLPack import and export, NumPy arrays passed to kernels, ufunc loop types,
//! `__array_interface__` typestrs and buffer formats.
//!
//! ```
//! use nativecall::abi::{dtype, Type};
//!
//! let f64 = dtype::of_type(&Type::F64).unwrap();
//! assert_eq!((f64.code, f64.bits, f64.lanes), (dtype::DLPACK_FLOAT, 64, 1));
//! assert_eq!(dtype::of_dlpack(2, 64, 1).unwrap().ty, Type::F64);
//! assert_eq!(dtype::of_kind('f', 8).unwrap().numpy_char, 'd');
//! ```

use std::ffi::c_long;

use super::{FloatType, IntType, Type};

/// DLPack's `kDLInt`.
pub const DLPACK_INT: u8 = 0;
/// DLPack's `kDLUInt`.
pub const DLPACK_UINT: u8 = 1;
/// DLPack's `kDLFloat`.
pub const DLPACK_FLOAT: u8 = 2;
/// DLPack's `kDLComplex`.
pub const DLPACK_COMPLEX: u8 = 5;
/// DLPack's `kDLBool`.
pub const DLPACK_BOOL: u8 = 6;

/// One array element type in every spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dtype {
    /// The type as kernels name it (`float64`), which is also NumPy's dtype name.
    pub name: &'static str,
    /// The nativecall type (its canonical spelling; ABI-equal spellings map here too).
    pub ty: Type,
    /// DLPack's type code (`kDLInt`, `kDLUInt`, `kDLFloat`, `kDLComplex`, `kDLBool`).
    pub code: u8,
    /// DLPack's bits per lane.
    pub bits: u8,
    /// DLPack's lanes (1: nativecall has no vector elements).
    pub lanes: u16,
    /// NumPy's type number (`NPY_DOUBLE` is 12), the one NumPy gives `numpy.dtype(name).num`
    /// on this platform.
    pub numpy_num: u8,
    /// NumPy's type character (`numpy.dtype(name).char`).
    pub numpy_char: char,
    /// The array interface's kind letter (`'f'` of `'<f8'`): b, i, u, f or c.
    pub kind: char,
}

impl Dtype {
    /// The size of one element in bytes.
    pub fn itemsize(&self) -> usize {
        self.bits as usize / 8 * self.lanes as usize
    }
}

/// Whether C `long` is 64 bits (LP64): NumPy's `int64` is then `NPY_LONG`, else `NPY_LONGLONG`.
const LONG_IS_64: bool = std::mem::size_of::<c_long>() == 8;

/// NumPy's type numbers (`NPY_TYPES`), as `numpy/ndarraytypes.h` numbers them.
mod npy {
    pub(super) const BOOL: u8 = 0;
    pub(super) const BYTE: u8 = 1;
    pub(super) const UBYTE: u8 = 2;
    pub(super) const SHORT: u8 = 3;
    pub(super) const USHORT: u8 = 4;
    pub(super) const INT: u8 = 5;
    pub(super) const UINT: u8 = 6;
    pub(super) const LONG: u8 = 7;
    pub(super) const ULONG: u8 = 8;
    pub(super) const LONGLONG: u8 = 9;
    pub(super) const ULONGLONG: u8 = 10;
    pub(super) const FLOAT: u8 = 11;
    pub(super) const DOUBLE: u8 = 12;
    pub(super) const CFLOAT: u8 = 14;
    pub(super) const CDOUBLE: u8 = 15;
}

const fn entry(
    name: &'static str,
    ty: Type,
    code: u8,
    bits: u8,
    numpy_num: u8,
    numpy_char: char,
    kind: char,
) -> Dtype {
    Dtype {
        name,
        ty,
        code,
        bits,
        lanes: 1,
        numpy_num,
        numpy_char,
        kind,
    }
}

/// Every element type arrays hold, in NumPy's type-number order.
pub static TABLE: [Dtype; 13] = [
    entry("bool", Type::Bool, DLPACK_BOOL, 8, npy::BOOL, '?', 'b'),
    entry(
        "int8",
        Type::Int(IntType::I8),
        DLPACK_INT,
        8,
        npy::BYTE,
        'b',
        'i',
    ),
    entry(
        "uint8",
        Type::Int(IntType::U8),
        DLPACK_UINT,
        8,
        npy::UBYTE,
        'B',
        'u',
    ),
    entry(
        "int16",
        Type::Int(IntType::I16),
        DLPACK_INT,
        16,
        npy::SHORT,
        'h',
        'i',
    ),
    entry(
        "uint16",
        Type::Int(IntType::U16),
        DLPACK_UINT,
        16,
        npy::USHORT,
        'H',
        'u',
    ),
    entry(
        "int32",
        Type::Int(IntType::Int),
        DLPACK_INT,
        32,
        npy::INT,
        'i',
        'i',
    ),
    entry(
        "uint32",
        Type::Int(IntType::UInt),
        DLPACK_UINT,
        32,
        npy::UINT,
        'I',
        'u',
    ),
    if LONG_IS_64 {
        entry(
            "int64",
            Type::Int(IntType::I64),
            DLPACK_INT,
            64,
            npy::LONG,
            'l',
            'i',
        )
    } else {
        entry(
            "int64",
            Type::Int(IntType::I64),
            DLPACK_INT,
            64,
            npy::LONGLONG,
            'q',
            'i',
        )
    },
    if LONG_IS_64 {
        entry(
            "uint64",
            Type::Int(IntType::U64),
            DLPACK_UINT,
            64,
            npy::ULONG,
            'L',
            'u',
        )
    } else {
        entry(
            "uint64",
            Type::Int(IntType::U64),
            DLPACK_UINT,
            64,
            npy::ULONGLONG,
            'Q',
            'u',
        )
    },
    entry("float32", Type::F32, DLPACK_FLOAT, 32, npy::FLOAT, 'f', 'f'),
    entry(
        "float64",
        Type::F64,
        DLPACK_FLOAT,
        64,
        npy::DOUBLE,
        'd',
        'f',
    ),
    entry(
        "complex64",
        Type::Complex(FloatType::F32),
        DLPACK_COMPLEX,
        64,
        npy::CFLOAT,
        'F',
        'c',
    ),
    entry(
        "complex128",
        Type::Complex(FloatType::F64),
        DLPACK_COMPLEX,
        128,
        npy::CDOUBLE,
        'D',
        'c',
    ),
];

/// The entry of `t` (any ABI-equal spelling: `long`, `npy_intp` and `int64_t` are
/// `int64` on LP64), or `None` if arrays cannot hold it (`long double`, pointers, ...).
pub fn of_type(t: &Type) -> Option<&'static Dtype> {
    let (code, bits) = match t {
        Type::Bool => (DLPACK_BOOL, 8),
        Type::Int(i) if i.signed() => (DLPACK_INT, i.bits()),
        Type::Int(i) => (DLPACK_UINT, i.bits()),
        Type::Float(f @ (FloatType::F32 | FloatType::F64)) => (DLPACK_FLOAT, float_bits(*f)),
        Type::Complex(f @ (FloatType::F32 | FloatType::F64)) => {
            (DLPACK_COMPLEX, 2 * float_bits(*f))
        }
        _ => return None,
    };
    of_dlpack(code, u8::try_from(bits).ok()?, 1)
}

fn float_bits(f: FloatType) -> u32 {
    if f == FloatType::F32 {
        32
    } else {
        64
    }
}

/// The entry of a DLPack dtype, or `None` for dtypes arrays do not hold (bfloat16,
/// vector lanes, ...).
pub fn of_dlpack(code: u8, bits: u8, lanes: u16) -> Option<&'static Dtype> {
    TABLE
        .iter()
        .find(|d| d.code == code && d.bits == bits && d.lanes == lanes)
}

/// The entry of an array-interface kind and item size (`('f', 8)` of `'<f8'`; NumPy's
/// `dtype.kind` and `itemsize` too), or `None`.
pub fn of_kind(kind: char, itemsize: usize) -> Option<&'static Dtype> {
    TABLE
        .iter()
        .find(|d| d.kind == kind && d.itemsize() == itemsize)
}

/// The entry of a NumPy type number (`NPY_LONGLONG` finds `int64` on LP64 too: its size
/// decides), or `None`.
pub fn of_numpy_num(num: u8) -> Option<&'static Dtype> {
    let long = std::mem::size_of::<c_long>();
    match num {
        npy::LONG => of_kind('i', long),
        npy::ULONG => of_kind('u', long),
        npy::LONGLONG => of_kind('i', 8),
        npy::ULONGLONG => of_kind('u', 8),
        _ => TABLE.iter().find(|d| d.numpy_num == num),
    }
}

/// The elements arrays hold, for error messages.
pub const ELEMENT_TYPES: &str =
    "bool, int8..int64, uint8..uint64, float32, float64, complex64, complex128";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::parse_type_text;

    #[test]
    fn every_entry_is_found_again_from_each_of_its_spellings() {
        for d in &TABLE {
            assert_eq!(of_type(&d.ty), Some(d), "{}", d.name);
            assert_eq!(of_dlpack(d.code, d.bits, d.lanes), Some(d), "{}", d.name);
            assert_eq!(of_kind(d.kind, d.itemsize()), Some(d), "{}", d.name);
            assert_eq!(of_numpy_num(d.numpy_num), Some(d), "{}", d.name);
            let parsed = parse_type_text(d.name).expect("a type name");
            assert!(parsed.abi_eq(&d.ty), "{} parses to {parsed}", d.name);
            assert_eq!(d.ty.size(), Some(d.itemsize()), "{}", d.name);
        }
    }

    #[test]
    fn spellings_are_unique_within_the_table() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!((a.code, a.bits, a.lanes), (b.code, b.bits, b.lanes));
                assert_ne!(a.numpy_num, b.numpy_num);
                assert_ne!(a.numpy_char, b.numpy_char);
                assert_ne!((a.kind, a.itemsize()), (b.kind, b.itemsize()));
            }
        }
    }

    #[test]
    fn abi_equal_spellings_find_the_same_entry() {
        for (text, name) in [
            ("long long", "int64"),
            ("int64_t", "int64"),
            (
                "npy_intp",
                if cfg!(target_pointer_width = "64") {
                    "int64"
                } else {
                    "int32"
                },
            ),
            ("unsigned char", "uint8"),
            ("_Bool", "bool"),
            ("double _Complex", "complex128"),
        ] {
            let t = parse_type_text(text).expect("a type");
            assert_eq!(of_type(&t).map(|d| d.name), Some(name), "{text}");
        }
    }

    #[test]
    fn types_arrays_cannot_hold_have_no_entry() {
        for text in ["long double", "void", "double *", "long double _Complex"] {
            let t = parse_type_text(text).expect("a type");
            assert_eq!(of_type(&t), None, "{text}");
        }
        assert_eq!(of_dlpack(DLPACK_FLOAT, 16, 1), None);
        assert_eq!(of_dlpack(DLPACK_FLOAT, 32, 4), None);
        assert_eq!(of_kind('f', 2), None);
        assert_eq!(of_numpy_num(13), None); // NPY_LONGDOUBLE
    }
}
