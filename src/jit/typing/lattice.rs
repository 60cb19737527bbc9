//! The kernel types as a lattice: which are numbers, how two combine, what converts to what.

use crate::abi::{FloatType, IntType, Type};

use super::*;
use crate::jit::ir::{BinOp, Span};

/// `int64`.
pub const I64: Type = Type::Int(IntType::I64);

/// Whether values of `t` are integers (not bool).
pub fn is_int(t: &Type) -> bool {
    matches!(t, Type::Int(_))
}

/// Whether `t` is a real floating-point type kernels compute with.
pub fn is_float(t: &Type) -> bool {
    matches!(t, Type::Float(FloatType::F32 | FloatType::F64))
}

/// Bool, int or float.
pub fn is_numeric(t: &Type) -> bool {
    matches!(t, Type::Bool) || is_int(t) || is_float(t)
}

/// Whether `t` is a complex type kernels compute with (`complex64`, `complex128`).
pub fn is_complex(t: &Type) -> bool {
    matches!(t, Type::Complex(FloatType::F32 | FloatType::F64))
}

/// A real number (bool, int, float) or a complex one.
pub fn is_number(t: &Type) -> bool {
    is_numeric(t) || is_complex(t)
}

/// `complex128`.
pub const C128: Type = Type::Complex(FloatType::F64);

/// The complex type a number of type `t` converts to in arithmetic with complex numbers
/// (`complex64` of a `float32` or `complex64`, as NumPy's types combine).
fn complex_of(t: &Type) -> Type {
    match t {
        Type::Float(FloatType::F32) | Type::Complex(FloatType::F32) => {
            Type::Complex(FloatType::F32)
        }
        _ => C128,
    }
}

/// A type as kernels print it (`int64`, `float64`, `float64*`, C spelling otherwise).
pub fn kernel_type_name(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::Int(i) => i.numba_name().into(),
        Type::Float(FloatType::F64) => "float64".into(),
        Type::Float(FloatType::F32) => "float32".into(),
        Type::Complex(FloatType::F64) => "complex128".into(),
        Type::Complex(FloatType::F32) => "complex64".into(),
        Type::Pointer { pointee, .. } if is_numeric(pointee) => {
            format!("{}*", kernel_type_name(pointee))
        }
        Type::Array {
            dtype,
            ndim,
            contiguous,
        } => {
            let mut dims = vec![":"; *ndim as usize];
            if *contiguous {
                dims[*ndim as usize - 1] = "::1";
            }
            format!("{}[{}]", kernel_type_name(dtype), dims.join(", "))
        }
        other => other.to_string(),
    }
}

pub(super) fn bool_as_int(t: &Type) -> Type {
    if *t == Type::Bool {
        I64
    } else {
        t.clone()
    }
}

/// The type both operands of an arithmetic operation are converted to.
pub fn promote(a: &Type, b: &Type) -> Option<Type> {
    if (is_complex(a) || is_complex(b)) && is_number(a) && is_number(b) {
        // Python converts the other operand to complex; complex64 stays only with
        // complex64 or float32 (NumPy's rule).
        let (x, y) = (complex_of(a), complex_of(b));
        return Some(if x == y { x } else { C128 });
    }
    let (a, b) = (bool_as_int(a), bool_as_int(b));
    match (&a, &b) {
        (Type::Int(x), Type::Int(y)) => Some(
            if x.bits() > y.bits() || (x.bits() == y.bits() && x.signed()) {
                a.clone()
            } else {
                b.clone()
            },
        ),
        (Type::Float(FloatType::F32), Type::Float(FloatType::F32)) => Some(Type::F32),
        _ if is_numeric(&a) && is_numeric(&b) => Some(Type::F64),
        _ => None,
    }
}

/// The type a variable holding both an `a` and a `b` has (`None`: they cannot share one).
pub fn unify(a: &Type, b: &Type) -> Option<Type> {
    // Every array is a `DLTensor *` to the ABI; in kernels its dtype and ndim matter, and
    // the pair is C-contiguous only when both are (a C-contiguous array is also strided).
    if let (
        Type::Array {
            dtype: x,
            ndim: n,
            contiguous: c,
        },
        Type::Array {
            dtype: y,
            ndim: m,
            contiguous: d,
        },
    ) = (a, b)
    {
        return (x.abi_eq(y) && n == m).then(|| Type::Array {
            dtype: x.clone(),
            ndim: *n,
            contiguous: *c && *d,
        });
    }
    if a.abi_eq(b) {
        return Some(a.clone());
    }
    match (a, b) {
        (Type::Bool, t) | (t, Type::Bool) if is_int(t) || is_float(t) => Some(t.clone()),
        _ if is_number(a) && is_number(b) => promote(a, b),
        (Type::Pointer { pointee: p, .. }, Type::Pointer { pointee: q, .. }) if p.abi_eq(q) => {
            Some(a.clone())
        }
        _ => None,
    }
}

/// Whether a value of type `from` may be passed, stored or returned where `to` is expected.
/// Numbers convert freely except float to int (use `int()`); pointers must match
/// (any data pointer converts to `void *`).
pub fn convertible(from: &Type, to: &Type) -> bool {
    if let (
        Type::Array {
            dtype: a,
            ndim: n,
            contiguous: c,
        },
        Type::Array {
            dtype: b,
            ndim: m,
            contiguous: d,
        },
    ) = (from, to)
    {
        // A C-contiguous array passes where any strides are accepted, not the other way.
        return a.abi_eq(b) && n == m && (*c || !*d);
    }
    if matches!(to, Type::Array { .. }) {
        return false;
    }
    if from.abi_eq(to) {
        return true;
    }
    match (from, to) {
        (f, t) if is_numeric(f) && (is_int(t) || is_float(t)) => !(is_float(f) && is_int(t)),
        // Any number converts to complex (a complex number to a real one only by `.real`).
        (f, t) if is_number(f) && is_complex(t) => true,
        // Any number converts to bool by its truth value, as C converts to _Bool.
        (f, Type::Bool) => is_numeric(f),
        (Type::Pointer { .. }, Type::Pointer { pointee, .. }) if **pointee == Type::Void => true,
        // As in C, `void *` (NULL included) converts to any pointer.
        (Type::Pointer { pointee, .. }, Type::Pointer { .. }) if **pointee == Type::Void => true,
        (Type::Pointer { pointee: p, .. }, Type::Pointer { pointee: q, .. }) => p.abi_eq(q),
        _ => false,
    }
}

/// The result type of `a op b`.
pub fn binary_type(op: BinOp, a: &Type, b: &Type, span: Span) -> R<Type> {
    let err = || {
        let hint = if matches!(a, Type::Pointer { .. }) || matches!(b, Type::Pointer { .. }) {
            " (pointer arithmetic is not supported; index with p[i])"
        } else {
            ""
        };
        Err(CompileError::typing(
            span,
            format!(
                "'{}' is not defined for {} and {}{hint}",
                op.symbol(),
                kernel_type_name(a),
                kernel_type_name(b)
            ),
        ))
    };
    if !(is_number(a) && is_number(b)) {
        return err();
    }
    let p = promote(a, b).expect("numeric types promote");
    if is_complex(&p) {
        // As in Python: complex numbers have no `//`, `%`, bitwise operators or shifts.
        return match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow => Ok(p),
            _ => err(),
        };
    }
    Ok(match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::FloorDiv | BinOp::Mod | BinOp::Pow => p,
        BinOp::Div => {
            if is_float(&p) {
                p
            } else {
                Type::F64
            }
        }
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
            if *a == Type::Bool && *b == Type::Bool {
                Type::Bool
            } else if is_float(&p) {
                return err();
            } else {
                p
            }
        }
        BinOp::LShift | BinOp::RShift => {
            if is_float(a) || is_float(b) {
                return err();
            }
            bool_as_int(a)
        }
    })
}
