//! Type names: Numba's and the C names that are not keywords, the C keywords, and the
//! typedefs users register.

use std::collections::HashMap;

use once_cell::sync::Lazy;
use parking_lot::RwLock;

use super::super::types::{FloatType, IntType, Type};
use super::{err, parse_type_text, SignatureError};

/// Names every parser knows without a typedef: Numba's type names and the C names
/// that are not keywords. User typedefs are looked up after these.
pub(super) fn builtin_name(name: &str) -> Option<Type> {
    use IntType::*;
    Some(match name {
        // Numba's names.
        "float64" | "double" | "float_" | "npy_float64" | "npy_double" => Type::F64,
        "float32" | "npy_float32" => Type::F32,
        "complex128"
        | "__pyx_t_double_complex"
        | "_cffi_double_complex_t"
        | "npy_complex128"
        | "npy_cdouble" => Type::Complex(FloatType::F64),
        "complex64"
        | "__pyx_t_float_complex"
        | "_cffi_float_complex_t"
        | "npy_complex64"
        | "npy_cfloat" => Type::Complex(FloatType::F32),
        "int8" | "int8_t" | "npy_int8" | "byte" => Type::Int(I8),
        "uint8" | "uint8_t" | "npy_uint8" | "uchar" => Type::Int(U8),
        "int16" | "int16_t" | "npy_int16" => Type::Int(I16),
        "uint16" | "uint16_t" | "npy_uint16" => Type::Int(U16),
        "int32" | "int32_t" | "npy_int32" | "intc" => Type::Int(Int),
        "uint32" | "uint32_t" | "npy_uint32" | "uintc" => Type::Int(UInt),
        "int64" | "int64_t" | "npy_int64" => Type::Int(I64),
        "uint64" | "uint64_t" | "npy_uint64" => Type::Int(U64),
        "intp" | "npy_intp" | "intptr_t" | "Py_ssize_t" | "ssize_t" | "ptrdiff_t" => {
            Type::Int(Intp)
        }
        "uintp" | "npy_uintp" | "uintptr_t" => Type::Int(UIntp),
        "size_t" | "Py_uhash_t" => Type::Int(Size),
        "PY_LONG_LONG" | "longlong" | "npy_longlong" => Type::Int(LongLong),
        "PY_ULONG_LONG" | "ulonglong" | "npy_ulonglong" => Type::Int(ULongLong),
        "long_" | "npy_long" => Type::Int(Long),
        "ulong" | "npy_ulong" => Type::Int(ULong),
        "bool_" | "boolean" | "bool" | "_Bool" | "npy_bool" => Type::Bool,
        "voidptr" => Type::void_ptr(),
        "none" => Type::Void,
        "DLTensor" => Type::DLTensor,
        _ => return None,
    })
}

/// Typedefs that scipy's Cython modules use in their exported signatures, plus
/// whatever users add through [`add_typedef`].
static TYPEDEFS: Lazy<RwLock<HashMap<String, Type>>> = Lazy::new(|| {
    let mut table = HashMap::new();
    let zeros = "__pyx_t_5scipy_8optimize_15cython_optimize_6_zeros_";
    table.insert(
        format!("{zeros}callback_type"),
        parse_type_text("double (*)(double, void *)").unwrap(),
    );
    table.insert(
        format!("{zeros}zeros_full_output"),
        Type::Struct("zeros_full_output".into()),
    );
    for module in ["6linalg_11cython_blas_", "6linalg_13cython_lapack_"] {
        let prefix = format!("__pyx_t_5scipy_{module}");
        table.insert(format!("{prefix}s"), Type::F32);
        table.insert(format!("{prefix}d"), Type::F64);
        table.insert(format!("{prefix}c"), Type::Complex(FloatType::F32));
        table.insert(format!("{prefix}z"), Type::Complex(FloatType::F64));
        // `ctypedef bint dselect2(d*, d*)`: function types, used as `dselect2 *`.
        for (name, ty, arity) in [
            ("cselect1", "float _Complex", 1),
            ("cselect2", "float _Complex", 2),
            ("dselect2", "double", 2),
            ("dselect3", "double", 3),
            ("sselect2", "float", 2),
            ("sselect3", "float", 3),
            ("zselect1", "double _Complex", 1),
            ("zselect2", "double _Complex", 2),
        ] {
            let args = vec![format!("{ty} *"); arity].join(", ");
            table.insert(
                format!("{prefix}{name}"),
                parse_type_text(&format!("int ({args})")).unwrap(),
            );
        }
    }
    RwLock::new(table)
});

/// Register `name` as another spelling of `ty` for every later parse
/// (what `nativecall.typedef(name, type_text)` calls).
pub fn add_typedef(name: &str, ty: Type) -> Result<(), SignatureError> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || is_keyword(name) || builtin_name(name).is_some() {
        return Err(err(
            name,
            0,
            "a typedef name must be a new C identifier (not a keyword or a built-in type name)",
        ));
    }
    TYPEDEFS.write().insert(name.to_string(), ty);
    Ok(())
}

pub(super) fn lookup_typedef(name: &str) -> Option<Type> {
    builtin_name(name).or_else(|| TYPEDEFS.read().get(name).cloned())
}

pub(super) fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "const"
            | "volatile"
            | "restrict"
            | "__restrict"
            | "__restrict__"
            | "signed"
            | "unsigned"
            | "short"
            | "long"
            | "int"
            | "char"
            | "float"
            | "double"
            | "void"
            | "_Complex"
            | "complex"
            | "struct"
            | "union"
            | "enum"
            | "CPointer"
    )
}
