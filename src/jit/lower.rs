//! How C values map to Cranelift ABI parameters on this platform.

use cranelift_codegen::ir::{types, AbiParam, Type as ClifType};

use crate::abi::{FloatType, Type};

use super::JitError;

/// The pointer-sized integer type.
pub(super) fn pointer_type() -> ClifType {
    if cfg!(target_pointer_width = "64") {
        types::I64
    } else {
        types::I32
    }
}

/// The Cranelift type of one kernel value of type `t` (a pointer for pointers, arrays
/// and function pointers).
pub(super) fn value_type(t: &Type) -> ClifType {
    match t {
        Type::Bool => types::I8,
        Type::Int(i) => ClifType::int(i.bits() as u16).expect("integer width"),
        Type::Float(FloatType::F32) => types::F32,
        Type::Float(_) => types::F64,
        _ => pointer_type(),
    }
}

/// The Cranelift parameters that carry one C value of type `ty` (more than one for
/// complex numbers, which the C ABIs split into their parts).
pub(super) fn abi_params(ty: &Type) -> Result<Vec<AbiParam>, JitError> {
    let int = |t: ClifType, signed: bool| {
        let p = AbiParam::new(t);
        if t.bits() < 32 {
            if signed {
                p.sext()
            } else {
                p.uext()
            }
        } else {
            p
        }
    };
    Ok(match ty {
        Type::Void => vec![],
        Type::Bool => vec![int(types::I8, false)],
        Type::Int(i) => vec![int(value_type(ty), i.signed())],
        Type::Float(FloatType::F32 | FloatType::F64) => vec![AbiParam::new(value_type(ty))],
        // x86-64 System V and AArch64 AAPCS pass `double _Complex` like two doubles.
        Type::Complex(FloatType::F64)
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) && !cfg!(windows) =>
        {
            vec![AbiParam::new(types::F64), AbiParam::new(types::F64)]
        }
        // `float _Complex`: both parts packed in one SSE register on x86-64, two on AArch64.
        Type::Complex(FloatType::F32) if cfg!(target_arch = "x86_64") && !cfg!(windows) => {
            vec![AbiParam::new(types::F64)]
        }
        Type::Complex(FloatType::F32) if cfg!(target_arch = "aarch64") => {
            vec![AbiParam::new(types::F32), AbiParam::new(types::F32)]
        }
        Type::Pointer { .. } | Type::Array { .. } => vec![AbiParam::new(pointer_type())],
        other => {
            return Err(JitError::Unsupported(format!(
                "'{other}' values in generated code"
            )))
        }
    })
}

/// Whether the float parts of a whole parameter list stay in registers, so that
/// splitting complex numbers into parts matches the C ABI (a complex split between
/// a register and the stack would not).
pub(super) fn float_registers_suffice(params: &[AbiParam]) -> bool {
    params.iter().filter(|p| p.value_type.is_float()).count() <= 8
}
