//! The builtin functions' signatures: what each takes and returns.

use crate::abi::Type;

use super::*;
use crate::abi::{FloatType, IntType};
use crate::jit::ir::{Builtin, CmathFn, MathFn, NpFn, Reduction, Span};

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
        Builtin::Reduce(r) => return reduction_type(r, args, span),
        Builtin::Scratch { zeroed: true, .. } => "np.zeros",
        Builtin::Scratch { .. } => "np.empty",
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
        Builtin::Reduce(_) => unreachable!("typed above"),
        Builtin::Scratch { elem, .. } => {
            arity(1)?;
            if !(is_int(&args[0]) || args[0] == Type::Bool) {
                return Err(CompileError::typing(
                    span,
                    format!(
                        "{name}() takes the length, an integer, got {} (kernels make 1-D arrays)",
                        kernel_type_name(&args[0])
                    ),
                ));
            }
            Type::Array {
                dtype: Box::new(elem.ty()),
                ndim: 1,
                contiguous: true,
            }
        }
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

/// The result type of `np.<r>(a)` (`a.<r>()`): NumPy's for a 1-D array `a` of numbers.
/// Sums of integers (and bools) are int64 (uint64 of unsigned ones) as NumPy's on 64-bit
/// platforms; min and max keep the element type; the rest are float64 (float32 of a
/// float32 array).
fn reduction_type(r: Reduction, args: &[Type], span: Span) -> R<Type> {
    let name = r.name();
    if args.len() != 1 {
        return Err(CompileError::typing(
            span,
            format!(
                "np.{name}() takes one array in kernels, got {} arguments",
                args.len()
            ),
        ));
    }
    let Type::Array { dtype, ndim, .. } = &args[0] else {
        return Err(CompileError::typing(
            span,
            format!(
                "np.{name}() takes an array in kernels, got {}",
                kernel_type_name(&args[0])
            ),
        ));
    };
    if *ndim != 1 {
        return Err(CompileError::unsupported(
            span,
            format!(
                "np.{name}() of a {ndim}-D array: kernels reduce whole 1-D arrays (index a row, \
                 or loop)"
            ),
        ));
    }
    let elem = (**dtype).clone();
    if !is_numeric(&elem) || matches!(elem, Type::Complex(_)) {
        return Err(CompileError::typing(
            span,
            format!(
                "np.{name}() of an array of {}: kernels reduce arrays of real numbers",
                kernel_type_name(&elem)
            ),
        ));
    }
    let f32 = Type::Float(FloatType::F32);
    Ok(match r {
        Reduction::Min | Reduction::Max => elem,
        Reduction::Sum if is_float(&elem) => elem,
        Reduction::Sum if matches!(elem, Type::Int(i) if !i.signed()) => Type::Int(IntType::U64),
        Reduction::Sum => I64,
        _ if elem == f32 => f32,
        _ => Type::F64,
    })
}
