//! The builtin functions' signatures: what each takes and returns.

use crate::abi::Type;

use super::*;
use crate::abi::FloatType;
use crate::jit::ir::{Builtin, CmathFn, MathFn, NpFn, Span};

pub(super) fn builtin_type(b: Builtin, args: &[Type], span: Span) -> R<Type> {
    let name = match b {
        Builtin::Abs => "abs",
        Builtin::Min => "min",
        Builtin::Max => "max",
        Builtin::Int => "int",
        Builtin::Float => "float",
        Builtin::Bool => "bool",
        Builtin::Len => "len",
        Builtin::Math(_) => "math function",
        Builtin::Numpy(_) => "numpy function",
        Builtin::Complex => "complex",
        Builtin::Real => "real",
        Builtin::Imag => "imag",
        Builtin::Conj => "conjugate",
        Builtin::Cmath(..) => "cmath function",
    };
    let arity = |n: usize| -> R<()> {
        if args.len() == n {
            Ok(())
        } else {
            Err(CompileError::typing(
                span,
                format!(
                    "{name}() takes {n} argument{}, got {}",
                    if n == 1 { "" } else { "s" },
                    args.len()
                ),
            ))
        }
    };
    let numeric = |t: &Type| -> R<()> {
        if is_numeric(t) {
            Ok(())
        } else {
            Err(CompileError::typing(
                span,
                format!("{name}() needs a number, got {}", kernel_type_name(t)),
            ))
        }
    };
    let number = |t: &Type| -> R<()> {
        if is_number(t) {
            Ok(())
        } else {
            Err(CompileError::typing(
                span,
                format!("{name}() needs a number, got {}", kernel_type_name(t)),
            ))
        }
    };
    Ok(match b {
        Builtin::Abs if args.len() == 1 && is_complex(&args[0]) => Type::F64,
        Builtin::Abs => {
            arity(1)?;
            numeric(&args[0])?;
            bool_as_int(&args[0])
        }
        Builtin::Complex => {
            if !(1..=2).contains(&args.len()) {
                return Err(CompileError::typing(
                    span,
                    format!("complex() takes 1 or 2 numbers, got {}", args.len()),
                ));
            }
            for t in args {
                numeric(t)?;
            }
            C128
        }
        Builtin::Real | Builtin::Imag | Builtin::Conj => {
            arity(1)?;
            number(&args[0])?;
            match (&args[0], b) {
                (Type::Complex(f), Builtin::Real | Builtin::Imag) => Type::Float(*f),
                (t, _) => bool_as_int(t),
            }
        }
        Builtin::Cmath(f, numpy) => {
            match (f.math(), numpy) {
                (Some(m), true) if args.iter().all(is_numeric) => {
                    return builtin_type(Builtin::Math(m), args, span)
                }
                _ => {}
            }
            let prefix = if numpy { "np" } else { "cmath" };
            let fname = if numpy && f == CmathFn::Phase {
                "angle"
            } else {
                f.name()
            };
            let n = if f == CmathFn::Rect { 2 } else { 1 };
            if args.len() != n {
                return Err(CompileError::typing(
                    span,
                    format!(
                        "{prefix}.{fname}() takes {n} argument(s), got {}",
                        args.len()
                    ),
                ));
            }
            for t in args {
                if f == CmathFn::Rect {
                    numeric(t)?;
                } else {
                    number(t)?;
                }
            }
            match f {
                CmathFn::Phase => Type::F64,
                CmathFn::Isnan | CmathFn::Isinf | CmathFn::Isfinite => Type::Bool,
                _ => C128,
            }
        }
        Builtin::Min | Builtin::Max => {
            if args.len() < 2 {
                return Err(CompileError::unsupported(
                    span,
                    format!("{name}() needs at least two numbers in a kernel"),
                ));
            }
            let mut acc = args[0].clone();
            numeric(&acc)?;
            for t in &args[1..] {
                numeric(t)?;
                acc = unify(&acc, t).expect("numbers unify");
            }
            acc
        }
        Builtin::Len => {
            arity(1)?;
            if !matches!(args[0], Type::Array { .. }) {
                return Err(CompileError::typing(
                    span,
                    format!(
                        "len() of a {} (kernels take len() of arrays)",
                        kernel_type_name(&args[0])
                    ),
                ));
            }
            I64
        }
        Builtin::Int => {
            arity(1)?;
            numeric(&args[0])?;
            I64
        }
        Builtin::Float => {
            arity(1)?;
            numeric(&args[0])?;
            Type::F64
        }
        Builtin::Bool => {
            arity(1)?;
            if !(is_number(&args[0]) || matches!(args[0], Type::Pointer { .. })) {
                return Err(CompileError::typing(
                    span,
                    format!("bool() of a {}", kernel_type_name(&args[0])),
                ));
            }
            Type::Bool
        }
        Builtin::Numpy(f) => numpy_type(f, args, span)?,
        Builtin::Math(m) => {
            let n = m.arity();
            let ok = args.len() == n || (m == MathFn::Log && args.len() == 2);
            if !ok {
                return Err(CompileError::typing(
                    span,
                    format!("math.{m:?}() takes {n} argument(s), got {}", args.len())
                        .to_lowercase(),
                ));
            }
            for t in args {
                if is_complex(t) {
                    return Err(CompileError::typing(
                        span,
                        format!(
                            "math.{}() takes real numbers, got {}; cmath.{0}() takes complex ones",
                            format!("{m:?}").to_lowercase(),
                            kernel_type_name(t)
                        ),
                    ));
                }
                numeric(t)?;
            }
            match m {
                // Of an int: the int itself (uint64 keeps values past int64's range).
                MathFn::Floor | MathFn::Ceil | MathFn::Trunc if is_int(&bool_as_int(&args[0])) => {
                    bool_as_int(&args[0])
                }
                MathFn::Floor | MathFn::Ceil | MathFn::Trunc => I64,
                MathFn::Isnan | MathFn::Isinf | MathFn::Isfinite => Type::Bool,
                _ => Type::F64,
            }
        }
    })
}

/// The result type of a NumPy function that is not a `math` one (see [`NpFn`]).
fn numpy_type(f: NpFn, args: &[Type], span: Span) -> R<Type> {
    let name = f.name();
    if args.len() != f.arity() {
        return Err(CompileError::typing(
            span,
            format!(
                "np.{name}() takes {} argument(s), got {}",
                f.arity(),
                args.len()
            ),
        ));
    }
    for t in args {
        if !is_numeric(t) {
            return Err(CompileError::typing(
                span,
                format!("np.{name}() needs a number, got {}", kernel_type_name(t)),
            ));
        }
    }
    Ok(match f {
        // NumPy keeps float32 as float32; anything else computes in float64.
        NpFn::Floor | NpFn::Ceil | NpFn::Trunc if args[0] == Type::Float(FloatType::F32) => {
            args[0].clone()
        }
        NpFn::Floor | NpFn::Ceil | NpFn::Trunc | NpFn::Hypot | NpFn::Arctan2 => Type::F64,
        NpFn::Minimum | NpFn::Maximum => unify(&args[0], &args[1]).expect("numbers unify"),
        NpFn::Sign => bool_as_int(&args[0]),
    })
}
