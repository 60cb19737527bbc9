//! Functions generated code calls for operations Cranelift has no instruction for.
//!
//! Each is `extern "C"`, takes and returns plain numbers, and cannot panic, so
//! nothing can unwind out of generated code.

use std::ffi::c_double;

use super::ir::MathFn;

unsafe extern "C" {
    fn erf(x: c_double) -> c_double;
    fn erfc(x: c_double) -> c_double;
    fn tgamma(x: c_double) -> c_double;
    fn lgamma(x: c_double) -> c_double;
}

/// Python's float `%`: the result has the sign of the divisor. By zero: NaN (as NumPy).
pub extern "C" fn py_fmod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0f64.copysign(b)
    }
}

/// Python's float `//` (CPython's algorithm, so results agree bit for bit).
/// By zero: `a / b` (±inf or NaN, as NumPy's `floor_divide`).
pub extern "C" fn py_floordiv(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return a / b;
    }
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && (b < 0.0) != (m < 0.0) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut fl = div.floor();
        if div - fl > 0.5 {
            fl += 1.0;
        }
        fl
    } else {
        0.0f64.copysign(a / b)
    }
}

/// `base ** exp` on integers, wrapping. A negative exponent gives the integer part
/// of the exact result: 1 for base 1, ±1 for base -1, and 0 otherwise (Python would
/// give a float, and raise for base 0).
pub extern "C" fn ipow(base: i64, exp: i64) -> i64 {
    if exp < 0 {
        return match base {
            1 => 1,
            -1 => {
                if exp & 1 == 0 {
                    1
                } else {
                    -1
                }
            }
            _ => 0,
        };
    }
    let (mut result, mut b, mut e) = (1i64, base, exp as u64);
    while e > 0 {
        if e & 1 == 1 {
            result = result.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    result
}

extern "C" fn pow(a: f64, b: f64) -> f64 {
    a.powf(b)
}
extern "C" fn exp(a: f64) -> f64 {
    a.exp()
}
extern "C" fn expm1(a: f64) -> f64 {
    a.exp_m1()
}
extern "C" fn log(a: f64) -> f64 {
    a.ln()
}
extern "C" fn log1p(a: f64) -> f64 {
    a.ln_1p()
}
extern "C" fn log2(a: f64) -> f64 {
    a.log2()
}
extern "C" fn log10(a: f64) -> f64 {
    a.log10()
}
extern "C" fn sin(a: f64) -> f64 {
    a.sin()
}
extern "C" fn cos(a: f64) -> f64 {
    a.cos()
}
extern "C" fn tan(a: f64) -> f64 {
    a.tan()
}
extern "C" fn asin(a: f64) -> f64 {
    a.asin()
}
extern "C" fn acos(a: f64) -> f64 {
    a.acos()
}
extern "C" fn atan(a: f64) -> f64 {
    a.atan()
}
extern "C" fn atan2(a: f64, b: f64) -> f64 {
    a.atan2(b)
}
extern "C" fn sinh(a: f64) -> f64 {
    a.sinh()
}
extern "C" fn cosh(a: f64) -> f64 {
    a.cosh()
}
extern "C" fn tanh(a: f64) -> f64 {
    a.tanh()
}
extern "C" fn hypot(a: f64, b: f64) -> f64 {
    a.hypot(b)
}
extern "C" fn fmod(a: f64, b: f64) -> f64 {
    a % b
}
extern "C" fn nc_erf(a: f64) -> f64 {
    // SAFETY: libm's erf is a pure function of a double.
    unsafe { erf(a) }
}
extern "C" fn nc_erfc(a: f64) -> f64 {
    // SAFETY: libm's erfc is a pure function of a double.
    unsafe { erfc(a) }
}
extern "C" fn nc_gamma(a: f64) -> f64 {
    // SAFETY: libm's tgamma is a pure function of a double.
    unsafe { tgamma(a) }
}
extern "C" fn nc_lgamma(a: f64) -> f64 {
    // SAFETY: libm's lgamma is pure apart from writing the global `signgam`, which nothing reads.
    unsafe { lgamma(a) }
}

/// The address of the helper for a `math` function that has no Cranelift instruction,
/// with its arity (all take and return `double`).
pub fn math_helper(m: MathFn) -> Option<(usize, usize)> {
    use MathFn::*;
    let one = |f: extern "C" fn(f64) -> f64| Some((f as *const () as usize, 1));
    let two = |f: extern "C" fn(f64, f64) -> f64| Some((f as *const () as usize, 2));
    match m {
        Exp => one(exp),
        Expm1 => one(expm1),
        Log => one(log),
        Log1p => one(log1p),
        Log2 => one(log2),
        Log10 => one(log10),
        Sin => one(sin),
        Cos => one(cos),
        Tan => one(tan),
        Asin => one(asin),
        Acos => one(acos),
        Atan => one(atan),
        Sinh => one(sinh),
        Cosh => one(cosh),
        Tanh => one(tanh),
        Erf => one(nc_erf),
        Erfc => one(nc_erfc),
        Gamma => one(nc_gamma),
        Lgamma => one(nc_lgamma),
        Pow => two(pow),
        Atan2 => two(atan2),
        Hypot => two(hypot),
        Fmod => two(fmod),
        Sqrt | Floor | Ceil | Trunc | Fabs | Copysign | Isnan | Isinf | Isfinite => None,
    }
}

/// Addresses of the operator helpers.
pub fn py_fmod_address() -> usize {
    py_fmod as *const () as usize
}

/// See [`py_floordiv`].
pub fn py_floordiv_address() -> usize {
    py_floordiv as *const () as usize
}

/// See [`ipow`].
pub fn ipow_address() -> usize {
    ipow as *const () as usize
}

/// See `pow`.
pub fn pow_address() -> usize {
    pow as *const () as usize
}
