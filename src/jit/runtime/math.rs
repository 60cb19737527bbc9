//! CPython's `math` functions as generated code calls them.

use crate::jit::ir::{MathFn, PythonVersion};

/// The C library's math functions, called directly by generated code (CPython's `math`
/// module calls the same ones, so results agree bit for bit).
pub(super) mod libm {
    use std::ffi::c_double;

    unsafe extern "C" {
        pub(crate) fn pow(x: c_double, y: c_double) -> c_double;
        pub(crate) fn exp(x: c_double) -> c_double;
        pub(crate) fn expm1(x: c_double) -> c_double;
        pub(crate) fn log(x: c_double) -> c_double;
        pub(crate) fn log1p(x: c_double) -> c_double;
        pub(crate) fn log2(x: c_double) -> c_double;
        pub(crate) fn log10(x: c_double) -> c_double;
        pub(crate) fn sin(x: c_double) -> c_double;
        pub(crate) fn cos(x: c_double) -> c_double;
        pub(crate) fn tan(x: c_double) -> c_double;
        pub(crate) fn asin(x: c_double) -> c_double;
        pub(crate) fn acos(x: c_double) -> c_double;
        pub(crate) fn atan(x: c_double) -> c_double;
        pub(crate) fn atan2(y: c_double, x: c_double) -> c_double;
        pub(crate) fn sinh(x: c_double) -> c_double;
        pub(crate) fn cosh(x: c_double) -> c_double;
        pub(crate) fn tanh(x: c_double) -> c_double;
        pub(crate) fn fmod(x: c_double, y: c_double) -> c_double;
        pub(crate) fn erf(x: c_double) -> c_double;
        pub(crate) fn erfc(x: c_double) -> c_double;
    }
}

/// Python's `x ** y` and `math.pow` on floats: the C library's `pow`, except that a NaN
/// operand is returned as it is (its sign kept), as CPython's `float_pow` does; C's
/// `pow` may give a NaN of the other sign.
pub extern "C" fn py_pow(x: f64, y: f64) -> f64 {
    if x.is_nan() {
        return if y == 0.0 { 1.0 } else { x };
    }
    if y.is_nan() {
        return if x == 1.0 { 1.0 } else { y };
    }
    // SAFETY: `pow` is a pure C function of two doubles.
    unsafe { libm::pow(x, y) }
}

/// `math.atan2(y, x)` as CPython's `m_atan2`: a NaN operand gives the positive NaN
/// (C's `atan2` returns the operand, sign included), and the infinities and zeros are
/// settled before the C library is asked.
pub extern "C" fn py_atan2(y: f64, x: f64) -> f64 {
    atan2_with_nan(y, x, f64::NAN)
}

/// [`py_atan2`] as CPython 3.10 has it: its NaN is `Py_HUGE_VAL * 0.`, see `py310_nan`.
pub extern "C" fn py_atan2_310(y: f64, x: f64) -> f64 {
    atan2_with_nan(y, x, py310_nan())
}

fn atan2_with_nan(y: f64, x: f64, nan: f64) -> f64 {
    use std::f64::consts::PI;
    if x.is_nan() || y.is_nan() {
        return nan;
    }
    if y.is_infinite() {
        if x.is_infinite() {
            let quarter = if x.is_sign_positive() { 0.25 } else { 0.75 };
            return (quarter * PI).copysign(y);
        }
        return (0.5 * PI).copysign(y);
    }
    if x.is_infinite() || y == 0.0 {
        return if x.is_sign_positive() { 0.0 } else { PI }.copysign(y);
    }
    // SAFETY: `atan2` is a pure C function of two doubles.
    unsafe { libm::atan2(y, x) }
}

/// The NaN CPython 3.10 returns from `math` code (`Py_NAN`, defined there as
/// `Py_HUGE_VAL * 0.` and computed when it runs): the hardware's default NaN, which is
/// negative on x86 and positive on ARM. From 3.11 on, `Py_NAN` is the positive NaN.
fn py310_nan() -> f64 {
    std::hint::black_box(f64::INFINITY) * 0.0
}

/// `math.hypot(x, y)` as CPython 3.12 and later compute it (`vector_norm` in
/// Modules/mathmodule.c): scaled by a power of two, squared exactly with `fma`, summed
/// with compensation, then one Newton correction of the square root; subnormal
/// operands are first scaled up by 2**1022. The C library's `hypot` differs from it in
/// the last bit for about 1 in 150 inputs.
pub extern "C" fn py_hypot(x: f64, y: f64) -> f64 {
    let mut v = [x.abs(), y.abs()];
    let max = max_of(&v);
    hypot_special(&v, f64::NAN).unwrap_or_else(|| vector_norm(&mut v, max))
}

/// `math.hypot(x, y)` as CPython 3.11 computes it: [`py_hypot`]'s method, but squared
/// with Veltkamp splitting (no `fma`) into three accumulators, and subnormal operands
/// divided by the largest. It and 3.12's differ in the last bit for about 1 in 300
/// inputs with subnormal or very different operands.
pub extern "C" fn py_hypot_311(x: f64, y: f64) -> f64 {
    let v = [x.abs(), y.abs()];
    hypot_special(&v, f64::NAN).unwrap_or_else(|| vector_norm_311(&v, max_of(&v)))
}

/// `math.hypot(x, y)` as CPython 3.10 computes it: 3.11's, except that a NaN operand
/// gives 3.10's `Py_NAN` (see `py310_nan`).
pub extern "C" fn py_hypot_310(x: f64, y: f64) -> f64 {
    let v = [x.abs(), y.abs()];
    hypot_special(&v, py310_nan()).unwrap_or_else(|| vector_norm_311(&v, max_of(&v)))
}

/// CPython's scan for the largest magnitude: a NaN never becomes the maximum.
fn max_of(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, &x| if x > m { x } else { m })
}

/// `vector_norm`'s answers before any arithmetic: an infinity wins over a NaN, and a NaN
/// operand gives the release's `Py_NAN`.
fn hypot_special(v: &[f64], nan: f64) -> Option<f64> {
    let max = max_of(v);
    if max.is_infinite() {
        Some(max)
    } else if v.iter().any(|x| x.is_nan()) {
        Some(nan)
    } else if max == 0.0 || v.len() <= 1 {
        Some(max)
    } else {
        None
    }
}

/// CPython 3.12's `vector_norm` for finite, nonnegative `v` with largest element
/// `max > 0`.
fn vector_norm(v: &mut [f64], max: f64) -> f64 {
    // frexp: max = m * 2**max_e with 0.5 <= m < 1.
    let max_e = frexp_exponent(max);
    if max_e < -1023 {
        // ldexp(1.0, -max_e) would overflow: make the subnormals normal first.
        for x in v.iter_mut() {
            *x /= f64::MIN_POSITIVE;
        }
        return f64::MIN_POSITIVE * vector_norm(v, max / f64::MIN_POSITIVE);
    }
    // Error-free product (`dl_mul`, with `fma`) and sum of |a| >= |b| (`dl_fast_sum`).
    let dl_mul = |x: f64, y: f64| {
        let z = x * y;
        (z, x.mul_add(y, -z))
    };
    let dl_fast_sum = |a: f64, b: f64| {
        let x = a + b;
        (x, (a - x) + b)
    };
    let scale = ldexp(1.0, -max_e);
    let (mut csum, mut frac1, mut frac2) = (1.0f64, 0.0f64, 0.0f64);
    for &x in v.iter() {
        let x = x * scale;
        let (hi, lo) = dl_mul(x, x);
        let (sum, err) = dl_fast_sum(csum, hi);
        csum = sum;
        frac1 += lo;
        frac2 += err;
    }
    let h = (csum - 1.0 + (frac1 + frac2)).sqrt();
    let (hi, lo) = dl_mul(-h, h);
    let (sum, err) = dl_fast_sum(csum, hi);
    csum = sum;
    frac1 += lo;
    frac2 += err;
    let x = csum - 1.0 + (frac1 + frac2);
    (h + x / (2.0 * h)) / scale
}

/// CPython 3.10's and 3.11's `vector_norm`, with [`vector_norm`]'s preconditions.
fn vector_norm_311(v: &[f64], max: f64) -> f64 {
    const T27: f64 = 134217729.0; // 2**27 + 1
    let (mut csum, mut frac1, mut frac2, mut frac3) = (1.0f64, 0.0f64, 0.0f64, 0.0f64);
    let add = |x: f64, frac: &mut f64, csum: &mut f64| {
        let old = *csum;
        *csum += x;
        *frac += (old - *csum) + x;
    };
    let split = |x: f64| {
        let t = x * T27;
        let hi = t - (t - x);
        (hi, x - hi)
    };
    let max_e = frexp_exponent(max);
    if max_e >= -1023 {
        let scale = ldexp(1.0, -max_e);
        for &x in v {
            let (hi, lo) = split(x * scale);
            add(hi * hi, &mut frac1, &mut csum);
            add(2.0 * hi * lo, &mut frac2, &mut csum);
            frac3 += lo * lo;
        }
        let h = (csum - 1.0 + (frac1 + frac2 + frac3)).sqrt();
        let (hi, lo) = split(h);
        add(-hi * hi, &mut frac1, &mut csum);
        add(-2.0 * hi * lo, &mut frac2, &mut csum);
        add(-lo * lo, &mut frac3, &mut csum);
        let x = csum - 1.0 + (frac1 + frac2 + frac3);
        return (h + x / (2.0 * h)) / scale;
    }
    // ldexp(1.0, -max_e) would overflow: divide by max instead.
    for &x in v {
        let x = x / max;
        add(x * x, &mut frac1, &mut csum);
    }
    max * (csum - 1.0 + frac1).sqrt()
}

/// The exponent `frexp` gives a finite, nonzero `x` (`x = m * 2**e`, `0.5 <= |m| < 1`).
fn frexp_exponent(x: f64) -> i32 {
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: normalise first.
        frexp_exponent(x * f64::from_bits(0x4350_0000_0000_0000)) - 54 // 2**54
    } else {
        biased - 1022
    }
}

/// `x * 2**e`, exact for the powers `vector_norm` uses (e in -1024..=1077, x = 1).
fn ldexp(x: f64, e: i32) -> f64 {
    // Two steps so that 2**e never needs a biased exponent outside 1..=2046.
    let half = e / 2;
    x * f64::from_bits(((1023 + half) as u64) << 52)
        * f64::from_bits(((1023 + e - half) as u64) << 52)
}

/// `math.gamma(x)` as CPython computes it (`m_tgamma` in Modules/mathmodule.c, the same
/// in every release since 3.2): the Lanczos approximation with a correction for the
/// rounding of `x + g - 0.5`, the reflection formula below zero, and a table for
/// small integers. Where CPython raises, the value `m_tgamma` returns.
pub extern "C" fn py_gamma(x: f64) -> f64 {
    use std::f64::consts::PI;
    if !x.is_finite() {
        // gamma(nan) = nan, gamma(inf) = inf, gamma(-inf) = nan.
        return if x.is_nan() || x > 0.0 { x } else { f64::NAN };
    }
    if x == 0.0 {
        return f64::INFINITY.copysign(x);
    }
    if x == x.floor() {
        if x < 0.0 {
            return f64::NAN;
        }
        if x <= GAMMA_INTEGRAL.len() as f64 {
            return GAMMA_INTEGRAL[x as usize - 1];
        }
    }
    let absx = x.abs();
    if absx < 1e-20 {
        return 1.0 / x;
    }
    if absx > 200.0 {
        return if x < 0.0 {
            0.0 / sinpi(x)
        } else {
            f64::INFINITY
        };
    }
    let y = absx + LANCZOS_G_MINUS_HALF;
    // The rounding error of y, computed so that no step rounds.
    let z = if absx > LANCZOS_G_MINUS_HALF {
        (y - absx) - LANCZOS_G_MINUS_HALF
    } else {
        (y - LANCZOS_G_MINUS_HALF) - absx
    };
    let z = z * LANCZOS_G / y;
    // SAFETY (all blocks below): `exp` and `pow` are pure C functions of doubles.
    if x < 0.0 {
        let mut r = -PI / sinpi(absx) / absx * unsafe { libm::exp(y) } / lanczos_sum(absx);
        r -= z * r;
        if absx < 140.0 {
            r /= unsafe { libm::pow(y, absx - 0.5) };
        } else {
            let sqrtpow = unsafe { libm::pow(y, absx / 2.0 - 0.25) };
            r /= sqrtpow;
            r /= sqrtpow;
        }
        r
    } else {
        let mut r = lanczos_sum(absx) / unsafe { libm::exp(y) };
        r += z * r;
        if absx < 140.0 {
            r *= unsafe { libm::pow(y, absx - 0.5) };
        } else {
            let sqrtpow = unsafe { libm::pow(y, absx / 2.0 - 0.25) };
            r *= sqrtpow;
            r *= sqrtpow;
        }
        r
    }
}

/// `math.lgamma(x)` as CPython computes it (`m_lgamma`, unchanged since 3.2): the log of
/// [`py_gamma`]'s Lanczos approximation, with the reflection formula below zero.
pub extern "C" fn py_lgamma(x: f64) -> f64 {
    const LOG_PI: f64 = 1.1447298858494002;
    if !x.is_finite() {
        return if x.is_nan() { x } else { f64::INFINITY };
    }
    if x == x.floor() && x <= 2.0 {
        return if x <= 0.0 { f64::INFINITY } else { 0.0 };
    }
    let absx = x.abs();
    // SAFETY (all blocks): `log` is a pure C function of a double.
    let log = |v: f64| unsafe { libm::log(v) };
    if absx < 1e-20 {
        return -log(absx);
    }
    let mut r = log(lanczos_sum(absx)) - LANCZOS_G;
    r += (absx - 0.5) * (log(absx + LANCZOS_G - 0.5) - 1.0);
    if x < 0.0 {
        r = LOG_PI - log(sinpi(absx).abs()) - log(absx) - r;
    }
    r
}

const LANCZOS_G: f64 = 6.02468004077673;
const LANCZOS_G_MINUS_HALF: f64 = 5.52468004077673;
const LANCZOS_NUM: [f64; 13] = [
    23531376880.41076,
    42919803642.6491,
    35711959237.35567,
    17921034426.03721,
    6039542586.352028,
    1439720407.3117216,
    248874557.86205417,
    31426415.585400194,
    2876370.6289353725,
    186056.26539522348,
    8071.672002365816,
    210.82427775157936,
    2.5066282746310002,
];
/// x * (x + 1) * ... * (x + 11), expanded.
const LANCZOS_DEN: [f64; 13] = [
    0.0,
    39916800.0,
    120543840.0,
    150917976.0,
    105258076.0,
    45995730.0,
    13339535.0,
    2637558.0,
    357423.0,
    32670.0,
    1925.0,
    66.0,
    1.0,
];
/// gamma(1) ..= gamma(23), exact.
const GAMMA_INTEGRAL: [f64; 23] = {
    let mut table = [1.0; 23];
    let mut i = 1;
    while i < 23 {
        table[i] = table[i - 1] * i as f64;
        i += 1;
    }
    table
};

/// CPython's `lanczos_sum` for x > 0, as a rational function in x (or in 1/x from 5 on).
fn lanczos_sum(x: f64) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    if x < 5.0 {
        for i in (0..13).rev() {
            num = num * x + LANCZOS_NUM[i];
            den = den * x + LANCZOS_DEN[i];
        }
    } else {
        for i in 0..13 {
            num = num / x + LANCZOS_NUM[i];
            den = den / x + LANCZOS_DEN[i];
        }
    }
    num / den
}

/// CPython's `m_sinpi`: sin(pi * x) for finite x, exact at the integers.
fn sinpi(x: f64) -> f64 {
    use std::f64::consts::PI;
    let y = x.abs() % 2.0;
    // SAFETY (all blocks): `sin` and `cos` are pure C functions of a double.
    let r = match (2.0 * y).round() as i32 {
        0 => unsafe { libm::sin(PI * y) },
        1 => unsafe { libm::cos(PI * (y - 0.5)) },
        // Not -sin(pi * (y - 1.0)), which gives -0.0 at y == 1.0.
        2 => unsafe { libm::sin(PI * (1.0 - y)) },
        3 => -unsafe { libm::cos(PI * (y - 1.5)) },
        _ => unsafe { libm::sin(PI * (y - 2.0)) },
    };
    1.0f64.copysign(x) * r
}

/// The address of the helper for a `math` function that has no Cranelift instruction,
/// with its arity (all take and return `double`), as CPython `python` computes it:
/// `hypot` changed its algorithm in 3.12, and `atan2` and `hypot` return a NaN of
/// the hardware's choice in 3.10 (the positive one from 3.11 on).
pub fn math_helper(m: MathFn, python: PythonVersion) -> Option<(usize, usize)> {
    use MathFn::*;
    type F1 = unsafe extern "C" fn(f64) -> f64;
    type F2 = unsafe extern "C" fn(f64, f64) -> f64;
    let one = |f: F1| Some((f as usize, 1));
    let two = |f: F2| Some((f as usize, 2));
    match m {
        Exp => one(libm::exp),
        Expm1 => one(libm::expm1),
        Log => one(libm::log),
        Log1p => one(libm::log1p),
        Log2 => one(libm::log2),
        Log10 => one(libm::log10),
        Sin => one(libm::sin),
        Cos => one(libm::cos),
        Tan => one(libm::tan),
        Asin => one(libm::asin),
        Acos => one(libm::acos),
        Atan => one(libm::atan),
        Sinh => one(libm::sinh),
        Cosh => one(libm::cosh),
        Tanh => one(libm::tanh),
        Erf => one(libm::erf),
        Erfc => one(libm::erfc),
        Gamma => one(py_gamma),
        Lgamma => one(py_lgamma),
        Pow => two(py_pow),
        Atan2 if python < PythonVersion::new(3, 11) => two(py_atan2_310),
        Atan2 => two(py_atan2),
        Hypot if python < PythonVersion::new(3, 11) => two(py_hypot_310),
        Hypot if python < PythonVersion::new(3, 12) => two(py_hypot_311),
        Hypot => two(py_hypot),
        Fmod => two(libm::fmod),
        Sqrt | Floor | Ceil | Trunc | Fabs | Copysign | Isnan | Isinf | Isfinite => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypot_follows_cpython_on_specials_and_subnormals() {
        for hypot in [py_hypot, py_hypot_311, py_hypot_310] {
            assert_eq!(hypot(f64::NAN, f64::INFINITY), f64::INFINITY);
            assert_eq!(hypot(0.6, 0.8), 1.0);
            assert_eq!(hypot(3e-320, 4e-320), 5e-320);
            assert_eq!(hypot(1e308, 1e308), 1.4142135623730951e308);
            assert_eq!(hypot(-0.0, 0.0).to_bits(), 0);
        }
        for hypot in [py_hypot, py_hypot_311] {
            let nan = hypot(-f64::NAN, 1.0);
            assert!(nan.is_nan() && nan.is_sign_positive());
        }
        assert_eq!(py_hypot_310(1.0, f64::NAN).to_bits(), py310_nan().to_bits());
    }

    #[test]
    fn hypot_of_subnormals_changed_in_cpython_3_12() {
        // Expected values from CPython 3.11 and 3.12.
        let (x, y) = (3.1098219472394e-309, 5.32878654075366e-309);
        assert_eq!(py_hypot_311(x, y), 6.169842667398356e-309);
        assert_eq!(py_hypot(x, y), 6.16984266739835e-309);
        assert_eq!(py_hypot_310(x, y), py_hypot_311(x, y));
    }

    #[test]
    fn math_helpers_follow_the_cpython_release() {
        let helper = |m, minor| math_helper(m, PythonVersion::new(3, minor)).map(|h| h.0);
        let address = |f: extern "C" fn(f64, f64) -> f64| Some(f as usize);
        assert_eq!(helper(MathFn::Hypot, 10), address(py_hypot_310));
        assert_eq!(helper(MathFn::Hypot, 11), address(py_hypot_311));
        assert_eq!(helper(MathFn::Hypot, 12), address(py_hypot));
        assert_eq!(helper(MathFn::Hypot, 14), address(py_hypot));
        assert_eq!(helper(MathFn::Atan2, 10), address(py_atan2_310));
        assert_eq!(helper(MathFn::Atan2, 11), address(py_atan2));
    }

    #[test]
    fn gamma_and_lgamma_are_cpython_s_not_the_c_library_s() {
        // Expected values from CPython; glibc's tgamma and lgamma differ in the last bits.
        let cases = [
            (2.5, 1.3293403881791372, 0.2846828704729196),
            (-2.5, -0.9453087204829417, -0.05624371649767457),
            (150.5, 4.661072627097377e261, 602.5139548705855),
            (-150.5, -4.478447658150641e-264, -606.383188068925),
            (-0.3, -4.326851108825192, 1.4648400508576032),
        ];
        for (x, gamma, lgamma) in cases {
            assert_eq!(py_gamma(x), gamma, "gamma({x})");
            assert_eq!(py_lgamma(x), lgamma, "lgamma({x})");
        }
        assert_eq!(py_gamma(23.0), 1124000727777607680000.0);
        assert_eq!(py_gamma(-0.0), f64::NEG_INFINITY);
        assert!(py_gamma(-3.0).is_nan() && py_gamma(-f64::INFINITY).is_nan());
        assert_eq!((py_lgamma(1.0), py_lgamma(-2.0)), (0.0, f64::INFINITY));
    }

    #[test]
    fn pow_and_atan2_keep_cpython_s_nan() {
        let neg_nan = -f64::NAN;
        assert_eq!(py_pow(neg_nan, 1.0).to_bits(), neg_nan.to_bits());
        assert_eq!(py_pow(1.0, neg_nan), 1.0);
        assert_eq!(py_pow(neg_nan, 0.0), 1.0);
        assert!(py_atan2(neg_nan, 1.0).is_sign_positive());
        assert_eq!(py_atan2_310(1.0, f64::NAN).to_bits(), py310_nan().to_bits());
        assert_eq!(py_atan2(-0.0, -1.0), -std::f64::consts::PI);
    }
}
