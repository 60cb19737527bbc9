//! Complex arithmetic and CPython's `cmath` functions as generated code calls them.
//!
//! Each takes the parts of its operands as doubles and returns a [`C64`], which the C
//! ABIs return in two float registers (as `double _Complex`), so generated code declares
//! the helpers with two `f64` results. On finite operands the functions are CPython's
//! algorithms (`Objects/complexobject.c`, `Modules/cmathmodule.c`), calling the same C
//! library functions, so results agree bit for bit; where CPython raises (a domain or
//! range error) the value it computed is returned, as the `math` functions do in kernels.
//! For infinite and NaN operands CPython looks results up in tables of special values by
//! the class of each part (-inf, negative, -0, +0, positive, +inf, NaN); kernels look
//! up the same values ([`special`], checked against CPython's `cmath` for every class
//! by the tests), signs of zeros and infinities included. Where CPython raises for such an operand
//! (a domain error), kernels return what the C library's Annex G function (`cexp`,
//! `clog`, ...) gives.

use super::math::libm;

/// A complex number as C's `double _Complex` lays it out and returns it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct C64 {
    /// The real part.
    pub re: f64,
    /// The imaginary part.
    pub im: f64,
}

mod clib {
    use super::C64;
    use std::ffi::c_double;

    unsafe extern "C" {
        pub(super) fn hypot(x: c_double, y: c_double) -> c_double;
        pub(super) fn cexp(z: C64) -> C64;
        pub(super) fn clog(z: C64) -> C64;
        pub(super) fn csqrt(z: C64) -> C64;
        pub(super) fn csinh(z: C64) -> C64;
        pub(super) fn ccosh(z: C64) -> C64;
        pub(super) fn ctanh(z: C64) -> C64;
        pub(super) fn sincos(x: c_double, sin: *mut c_double, cos: *mut c_double);
    }
}

const fn c(re: f64, im: f64) -> C64 {
    C64 { re, im }
}

fn hypot(x: f64, y: f64) -> f64 {
    // SAFETY: `hypot` is a pure C function of two doubles.
    unsafe { clib::hypot(x, y) }
}

macro_rules! lib1 {
    ($($name:ident),*) => {$(
        fn $name(x: f64) -> f64 {
            // SAFETY: a pure C function of one double.
            unsafe { libm::$name(x) }
        }
    )*};
}
lib1!(exp, log, log1p, sin, cos, tan, sinh, cosh, tanh);

/// `(sin(x), cos(x))`: glibc's `sincos` runs the same code as `sin` and `cos` (the same
/// results) for about the price of one.
fn sin_cos(x: f64) -> (f64, f64) {
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let (mut s, mut c) = (0.0, 0.0);
        // SAFETY: `sincos` writes one double through each valid pointer.
        unsafe { clib::sincos(x, &mut s, &mut c) };
        (s, c)
    } else {
        (sin(x), cos(x))
    }
}

fn atan2(y: f64, x: f64) -> f64 {
    // SAFETY: a pure C function of two doubles.
    unsafe { libm::atan2(y, x) }
}

/// `DBL_MAX / 4`: beyond it sqrt and log scale their operand down.
const LARGE: f64 = f64::MAX / 4.0;
/// `log(DBL_MAX / 4)` (708.3964185322641): beyond it exp and the hyperbolic functions
/// avoid overflow.
const LOG_LARGE: f64 = 708.3964185322641;

fn finite(z: C64) -> bool {
    z.re.is_finite() && z.im.is_finite()
}

/// `a / b` as CPython's `_Py_c_quot` (Smith's method: scale by the larger part of `b`),
/// except that division by zero, where Python raises `ZeroDivisionError`, divides each
/// part of `a` by zero, as NumPy does (`(1+1j) / 0j` is `inf+infj`).
pub extern "C" fn c_quot(ar: f64, ai: f64, br: f64, bi: f64) -> C64 {
    let (abs_br, abs_bi) = (br.abs(), bi.abs());
    if abs_br >= abs_bi {
        if abs_br == 0.0 {
            return c(ar / abs_br, ai / abs_br);
        }
        let ratio = bi / br;
        let denom = br + bi * ratio;
        c((ar + ai * ratio) / denom, (ai - ar * ratio) / denom)
    } else if abs_bi >= abs_br {
        let ratio = br / bi;
        let denom = br * ratio + bi;
        c((ar * ratio + ai) / denom, (ai * ratio - ar) / denom)
    } else {
        // A part of `b` is a NaN.
        c(f64::NAN, f64::NAN)
    }
}

fn prod(a: C64, b: C64) -> C64 {
    c(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
}

/// `z ** n` for a whole `n` as CPython's `c_powi`: repeated squaring, and the reciprocal
/// for `n <= 0`.
fn powi(z: C64, n: i64) -> C64 {
    let powu = |x: C64, n: i64| {
        let (mut r, mut p, mut mask) = (c(1.0, 0.0), x, 1i64);
        while mask > 0 && n >= mask {
            if n & mask != 0 {
                r = prod(r, p);
            }
            mask <<= 1;
            p = prod(p, p);
        }
        r
    };
    if n > 0 {
        powu(z, n)
    } else {
        let d = powu(z, -n);
        c_quot(1.0, 0.0, d.re, d.im)
    }
}

/// Python's `a ** b` on complex numbers (CPython's `complex_pow`): a whole exponent up to
/// 100 in size by repeated squaring, any other by `_Py_c_pow` (polar form). `0j ** b`
/// with a negative or complex `b`, where Python raises, is `0j`, as `_Py_c_pow` computes it.
pub extern "C" fn c_pow(ar: f64, ai: f64, br: f64, bi: f64) -> C64 {
    if bi == 0.0 && br == br.floor() && br.abs() <= 100.0 {
        return powi(c(ar, ai), br as i64);
    }
    if br == 0.0 && bi == 0.0 {
        c(1.0, 0.0)
    } else if ar == 0.0 && ai == 0.0 {
        c(0.0, 0.0)
    } else {
        let vabs = hypot(ar, ai);
        let mut len = libm_pow(vabs, br);
        let at = atan2(ai, ar);
        let mut phase = at * br;
        if bi != 0.0 {
            len /= exp(at * bi);
            phase += bi * log(vabs);
        }
        c(len * cos(phase), len * sin(phase))
    }
}

fn libm_pow(x: f64, y: f64) -> f64 {
    // SAFETY: a pure C function of two doubles.
    unsafe { libm::pow(x, y) }
}

/// `abs(z)` as CPython's `_Py_c_abs`: the C library's `hypot`, infinite if a part is
/// infinite (even with a NaN part), else NaN if a part is NaN.
pub extern "C" fn c_abs(re: f64, im: f64) -> f64 {
    if !(re.is_finite() && im.is_finite()) {
        if re.is_infinite() {
            return re.abs();
        }
        if im.is_infinite() {
            return im.abs();
        }
        return f64::NAN;
    }
    hypot(re, im)
}

fn annex_g(f: unsafe extern "C" fn(C64) -> C64, z: C64) -> C64 {
    // SAFETY: the C99 complex functions are pure functions of their operand.
    unsafe { f(z) }
}

/// CPython's results on operands with an infinite or NaN part, by the class of each
/// part; `None` where CPython computes the result by a formula (handled before the
/// table) or raises.
mod special {
    use super::C64;

    /// A table indexed by the classes of the two parts (see [`class`]).
    pub(super) type Table = [[Option<(f64, f64)>; 7]; 7];

    /// A value of the table.
    const fn value(re: f64, im: f64) -> Option<(f64, f64)> {
        Some((re, im))
    }
    use value as V;
    /// Not in the table (a finite operand, a formula case, or an error).
    const U: Option<(f64, f64)> = None;
    const I: f64 = f64::INFINITY;
    const N: f64 = f64::NAN;
    const P: f64 = std::f64::consts::PI;
    const P2: f64 = std::f64::consts::FRAC_PI_2;
    const P4: f64 = std::f64::consts::FRAC_PI_4;
    /// 3π/4 as CPython's tables hold it (`0.75 * M_PI`).
    const P34: f64 = 0.75 * P;

    /// The class of `x`: -inf, negative, -0, +0, positive, +inf, NaN.
    fn class(x: f64) -> usize {
        if x.is_nan() {
            6
        } else if x == f64::INFINITY {
            5
        } else if x == f64::NEG_INFINITY {
            0
        } else if x == 0.0 {
            if x.is_sign_negative() {
                2
            } else {
                3
            }
        } else if x < 0.0 {
            1
        } else {
            4
        }
    }

    /// The table's value for `(re, im)`, if it has one.
    pub(super) fn lookup(table: &Table, re: f64, im: f64) -> Option<C64> {
        table[class(re)][class(im)].map(|(re, im)| C64 { re, im })
    }

    /// `cmath.exp` on non-finite operands.
    #[rustfmt::skip]
    pub(super) const EXP: Table = [
        [V(0.0, 0.0), U, V(0.0, -0.0), V(0.0, 0.0), U, V(0.0, 0.0), V(0.0, 0.0)], // -inf
        [U, U, U, U, U, U, V(N, N)], // negative
        [U, U, U, U, U, U, V(N, N)], // -0
        [U, U, U, U, U, U, V(N, N)], // +0
        [U, U, U, U, U, U, V(N, N)], // positive
        [U, U, V(I, -0.0), V(I, 0.0), U, U, V(I, N)], // +inf
        [V(N, N), V(N, N), V(N, -0.0), V(N, 0.0), V(N, N), V(N, N), V(N, N)], // nan
    ];

    /// `cmath.log` on non-finite operands.
    #[rustfmt::skip]
    pub(super) const LOG: Table = [
        [V(I, -P34), V(I, -P), V(I, -P), V(I, P), V(I, P), V(I, P34), V(I, N)], // -inf
        [V(I, -P2), U, U, U, U, V(I, P2), V(N, N)], // negative
        [V(I, -P2), U, U, U, U, V(I, P2), V(N, N)], // -0
        [V(I, -P2), U, U, U, U, V(I, P2), V(N, N)], // +0
        [V(I, -P2), U, U, U, U, V(I, P2), V(N, N)], // positive
        [V(I, -P4), V(I, -0.0), V(I, -0.0), V(I, 0.0), V(I, 0.0), V(I, P4), V(I, N)], // +inf
        [V(I, N), V(N, N), V(N, N), V(N, N), V(N, N), V(I, N), V(N, N)], // nan
    ];

    /// `cmath.sqrt` on non-finite operands.
    #[rustfmt::skip]
    pub(super) const SQRT: Table = [
        [V(I, -I), V(0.0, -I), V(0.0, -I), V(0.0, I), V(0.0, I), V(I, I), V(N, I)], // -inf
        [V(I, -I), U, U, U, U, V(I, I), V(N, N)], // negative
        [V(I, -I), U, U, U, U, V(I, I), V(N, N)], // -0
        [V(I, -I), U, U, U, U, V(I, I), V(N, N)], // +0
        [V(I, -I), U, U, U, U, V(I, I), V(N, N)], // positive
        [V(I, -I), V(I, -0.0), V(I, -0.0), V(I, 0.0), V(I, 0.0), V(I, I), V(I, N)], // +inf
        [V(I, -I), V(N, N), V(N, N), V(N, N), V(N, N), V(I, I), V(N, N)], // nan
    ];

    /// `cmath.sinh` on non-finite operands.
    #[rustfmt::skip]
    pub(super) const SINH: Table = [
        [U, U, V(-I, -0.0), V(-I, 0.0), U, U, V(I, N)], // -inf
        [U, U, U, U, U, U, V(N, N)], // negative
        [U, U, U, U, U, U, V(0.0, N)], // -0
        [U, U, U, U, U, U, V(0.0, N)], // +0
        [U, U, U, U, U, U, V(N, N)], // positive
        [U, U, V(I, -0.0), V(I, 0.0), U, U, V(I, N)], // +inf
        [V(N, N), V(N, N), V(N, -0.0), V(N, 0.0), V(N, N), V(N, N), V(N, N)], // nan
    ];

    /// `cmath.cosh` on non-finite operands.
    #[rustfmt::skip]
    pub(super) const COSH: Table = [
        [U, U, V(I, 0.0), V(I, -0.0), U, U, V(I, N)], // -inf
        [U, U, U, U, U, U, V(N, N)], // negative
        [U, U, U, U, U, U, V(N, 0.0)], // -0
        [U, U, U, U, U, U, V(N, 0.0)], // +0
        [U, U, U, U, U, U, V(N, N)], // positive
        [U, U, V(I, -0.0), V(I, 0.0), U, U, V(I, N)], // +inf
        [V(N, N), V(N, N), V(N, 0.0), V(N, 0.0), V(N, N), V(N, N), V(N, N)], // nan
    ];

    /// `cmath.tanh` on non-finite operands.
    #[rustfmt::skip]
    pub(super) const TANH: Table = [
        [V(-1.0, 0.0), U, V(-1.0, -0.0), V(-1.0, 0.0), U, V(-1.0, 0.0), V(-1.0, 0.0)], // -inf
        [U, U, U, U, U, U, V(N, N)], // negative
        [U, U, U, U, U, U, V(N, N)], // -0
        [U, U, U, U, U, U, V(N, N)], // +0
        [U, U, U, U, U, U, V(N, N)], // positive
        [V(1.0, 0.0), U, V(1.0, -0.0), V(1.0, 0.0), U, V(1.0, 0.0), V(1.0, 0.0)], // +inf
        [V(N, N), V(N, N), V(N, -0.0), V(N, 0.0), V(N, N), V(N, N), V(N, N)], // nan
    ];

    /// `cmath.rect` on non-finite operands.
    #[rustfmt::skip]
    pub(super) const RECT: Table = [
        [U, U, V(-I, 0.0), V(-I, -0.0), U, U, V(I, N)], // -inf
        [U, U, U, U, U, U, V(N, N)], // negative
        [V(0.0, 0.0), U, U, U, U, V(0.0, 0.0), V(0.0, 0.0)], // -0
        [V(0.0, 0.0), U, U, U, U, V(0.0, 0.0), V(0.0, 0.0)], // +0
        [U, U, U, U, U, U, V(N, N)], // positive
        [U, U, V(I, -0.0), V(I, 0.0), U, U, V(I, N)], // +inf
        [V(N, N), V(N, N), V(N, 0.0), V(N, 0.0), V(N, N), V(N, N), V(N, N)], // nan
    ];
}

/// `cmath.exp`.
pub(super) extern "C" fn c_exp(re: f64, im: f64) -> C64 {
    let z = c(re, im);
    if !finite(z) {
        if re.is_infinite() && im.is_finite() && im != 0.0 {
            return if re > 0.0 {
                c(
                    f64::INFINITY.copysign(cos(im)),
                    f64::INFINITY.copysign(sin(im)),
                )
            } else {
                c(0.0f64.copysign(cos(im)), 0.0f64.copysign(sin(im)))
            };
        }
        return special::lookup(&special::EXP, re, im).unwrap_or_else(|| annex_g(clib::cexp, z));
    }
    let (s, co) = sin_cos(im);
    if re > LOG_LARGE {
        let l = exp(re - 1.0);
        c(l * co * std::f64::consts::E, l * s * std::f64::consts::E)
    } else {
        let l = exp(re);
        c(l * co, l * s)
    }
}

/// `cmath.log` (one argument).
pub(super) extern "C" fn c_log(re: f64, im: f64) -> C64 {
    let z = c(re, im);
    if !finite(z) {
        return special::lookup(&special::LOG, re, im).unwrap_or_else(|| annex_g(clib::clog, z));
    }
    let (ax, ay) = (re.abs(), im.abs());
    let real = if ax > LARGE || ay > LARGE {
        log(hypot(ax / 2.0, ay / 2.0)) + std::f64::consts::LN_2
    } else if ax < f64::MIN_POSITIVE && ay < f64::MIN_POSITIVE {
        if ax > 0.0 || ay > 0.0 {
            let up = 2f64.powi(f64::MANTISSA_DIGITS as i32);
            log(hypot(ax * up, ay * up)) - f64::MANTISSA_DIGITS as f64 * std::f64::consts::LN_2
        } else {
            f64::NEG_INFINITY
        }
    } else {
        let h = hypot(ax, ay);
        if (0.71..=1.73).contains(&h) {
            let (am, an) = if ax > ay { (ax, ay) } else { (ay, ax) };
            log1p((am - 1.0) * (am + 1.0) + an * an) / 2.0
        } else {
            log(h)
        }
    };
    c(real, atan2(im, re))
}

/// `cmath.sqrt`.
pub(super) extern "C" fn c_sqrt(re: f64, im: f64) -> C64 {
    let z = c(re, im);
    if !finite(z) {
        return special::lookup(&special::SQRT, re, im).unwrap_or_else(|| annex_g(clib::csqrt, z));
    }
    if re == 0.0 && im == 0.0 {
        return c(0.0, im);
    }
    let (mut ax, ay) = (re.abs(), im.abs());
    let s = if ax < f64::MIN_POSITIVE && ay < f64::MIN_POSITIVE {
        // Scale subnormal parts up by 2**53 and the root down by 2**-27 (exact).
        let up = 2f64.powi(53);
        ax *= up;
        (ax + hypot(ax, ay * up)).sqrt() * 2f64.powi(-27)
    } else {
        ax /= 8.0;
        2.0 * (ax + hypot(ax, ay / 8.0)).sqrt()
    };
    let d = ay / (2.0 * s);
    if re >= 0.0 {
        c(s, d.copysign(im))
    } else {
        c(d, s.copysign(im))
    }
}

/// `cmath.sinh`.
pub(super) extern "C" fn c_sinh(re: f64, im: f64) -> C64 {
    let z = c(re, im);
    if !finite(z) {
        if re.is_infinite() && im.is_finite() && im != 0.0 {
            let inf = f64::INFINITY;
            return if re > 0.0 {
                c(inf.copysign(cos(im)), inf.copysign(sin(im)))
            } else {
                c(-inf.copysign(cos(im)), inf.copysign(sin(im)))
            };
        }
        return special::lookup(&special::SINH, re, im).unwrap_or_else(|| annex_g(clib::csinh, z));
    }
    if re.abs() > LOG_LARGE {
        let x = re - 1f64.copysign(re);
        let e = std::f64::consts::E;
        c(cos(im) * sinh(x) * e, sin(im) * cosh(x) * e)
    } else {
        c(cos(im) * sinh(re), sin(im) * cosh(re))
    }
}

/// `cmath.cosh`.
pub(super) extern "C" fn c_cosh(re: f64, im: f64) -> C64 {
    let z = c(re, im);
    if !finite(z) {
        if re.is_infinite() && im.is_finite() && im != 0.0 {
            let inf = f64::INFINITY;
            return if re > 0.0 {
                c(inf.copysign(cos(im)), inf.copysign(sin(im)))
            } else {
                c(inf.copysign(cos(im)), -inf.copysign(sin(im)))
            };
        }
        return special::lookup(&special::COSH, re, im).unwrap_or_else(|| annex_g(clib::ccosh, z));
    }
    if re.abs() > LOG_LARGE {
        let x = re - 1f64.copysign(re);
        let e = std::f64::consts::E;
        c(cos(im) * cosh(x) * e, sin(im) * sinh(x) * e)
    } else {
        c(cos(im) * cosh(re), sin(im) * sinh(re))
    }
}

/// `cmath.tanh`.
pub(super) extern "C" fn c_tanh(re: f64, im: f64) -> C64 {
    let z = c(re, im);
    if !finite(z) {
        if re.is_infinite() && im.is_finite() && im != 0.0 {
            let sign = 0f64.copysign(2.0 * sin(im) * cos(im));
            return c(1f64.copysign(re), sign);
        }
        return special::lookup(&special::TANH, re, im).unwrap_or_else(|| annex_g(clib::ctanh, z));
    }
    if re.abs() > LOG_LARGE {
        c(
            1f64.copysign(re),
            4.0 * sin(im) * cos(im) * exp(-2.0 * re.abs()),
        )
    } else {
        let tx = tanh(re);
        let ty = tan(im);
        let cx = 1.0 / cosh(re);
        let txty = tx * ty;
        let denom = 1.0 + txty * txty;
        c(tx * (1.0 + ty * ty) / denom, ((ty / denom) * cx) * cx)
    }
}

/// `cmath.sin`: `-i sinh(iz)`.
pub(super) extern "C" fn c_sin(re: f64, im: f64) -> C64 {
    let s = c_sinh(-im, re);
    c(s.im, -s.re)
}

/// `cmath.cos`: `cosh(iz)`.
pub(super) extern "C" fn c_cos(re: f64, im: f64) -> C64 {
    c_cosh(-im, re)
}

/// `cmath.tan`: `-i tanh(iz)`.
pub(super) extern "C" fn c_tan(re: f64, im: f64) -> C64 {
    let s = c_tanh(-im, re);
    c(s.im, -s.re)
}

/// `cmath.rect(r, phi)`. For an infinite or NaN operand, CPython's formula where `r` is
/// infinite and `phi` finite and nonzero, its table elsewhere, and where CPython raises,
/// `r * cos(phi)`, `r * sin(phi)` (docs/semantics.md).
pub extern "C" fn c_rect(r: f64, phi: f64) -> C64 {
    if !(r.is_finite() && phi.is_finite()) {
        if r.is_infinite() && phi.is_finite() && phi != 0.0 {
            let inf = f64::INFINITY;
            return if r > 0.0 {
                c(inf.copysign(cos(phi)), inf.copysign(sin(phi)))
            } else {
                c(-inf.copysign(cos(phi)), -inf.copysign(sin(phi)))
            };
        }
        return special::lookup(&special::RECT, r, phi)
            .unwrap_or_else(|| c(r * cos(phi), r * sin(phi)));
    }
    if phi == 0.0 {
        return c(r, r * phi);
    }
    c(r * cos(phi), r * sin(phi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overflow_threshold_is_the_log_of_a_quarter_of_the_largest_double() {
        assert_eq!(LOG_LARGE, log(LARGE));
    }

    #[test]
    fn sincos_is_sin_and_cos() {
        for k in 0..2000 {
            let x = (k as f64 - 1000.0) * 0.737 + 1e-3 * k as f64;
            assert_eq!(sin_cos(x), (sin(x), cos(x)), "{x}");
        }
        assert_eq!(sin_cos(1e300), (sin(1e300), cos(1e300)));
    }

    #[test]
    fn division_scales_by_the_larger_part_of_the_divisor() {
        assert_eq!(c_quot(1.0, 2.0, 3.0, 4.0), c(0.44, 0.08));
        assert_eq!(c_quot(1.0, 0.0, 0.0, 2.0), c(0.0, -0.5));
        assert_eq!(c_quot(1.0, 1.0, 0.0, 0.0), c(f64::INFINITY, f64::INFINITY));
        let q = c_quot(1.0, 1.0, f64::NAN, 1.0);
        assert!(q.re.is_nan() && q.im.is_nan());
    }

    #[test]
    fn whole_powers_multiply_and_others_go_through_the_polar_form() {
        assert_eq!(c_pow(0.0, 1.0, 2.0, 0.0), c(-1.0, 0.0));
        assert_eq!(c_pow(2.0, 0.0, -1.0, 0.0), c(0.5, 0.0));
        assert_eq!(c_pow(5.0, 7.0, 0.0, 0.0), c(1.0, 0.0));
        let r = c_pow(-1.0, 0.0, 0.5, 0.0);
        assert!(r.re.abs() < 1e-16 && r.im == 1.0);
    }

    #[test]
    fn sqrt_and_log_of_simple_values() {
        assert_eq!(c_sqrt(-4.0, 0.0), c(0.0, 2.0));
        assert_eq!(c_sqrt(-4.0, -0.0), c(0.0, -2.0));
        assert_eq!(c_log(1.0, 0.0), c(0.0, 0.0));
        assert_eq!(c_log(0.0, 0.0).re, f64::NEG_INFINITY);
        assert_eq!(c_abs(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert_eq!(c_abs(3.0, 4.0), 5.0);
    }
}
