//! Integer and float operators Cranelift has no instruction for, as CPython computes them.

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

/// `a / b` on int64, correctly rounded as CPython's `int / int` (`long_true_divide`).
/// Generated code calls this only when an operand is beyond ±2**53; below that one
/// `fdiv` of the converted operands is already correctly rounded. By zero: `float(a) / 0.0`.
pub extern "C" fn int_true_divide(a: i64, b: i64) -> f64 {
    true_divide(a < 0, a.unsigned_abs(), b < 0, b.unsigned_abs())
}

/// [`int_true_divide`] for uint64.
pub extern "C" fn uint_true_divide(a: u64, b: u64) -> f64 {
    true_divide(false, a, false, b)
}

/// The quotient of two integers given as signs and magnitudes, rounded once to
/// float64 (half to even). CPython's algorithm: scale `a` so that the integer
/// quotient has 55 or 56 bits, keep whether anything was lost as a sticky bit, round
/// to 53 bits and scale back. The quotient lies within 2**±64, so neither overflow nor
/// subnormals can occur, and every step fits in a u128.
fn true_divide(a_neg: bool, a: u64, b_neg: bool, b: u64) -> f64 {
    const MANT: i32 = f64::MANTISSA_DIGITS as i32;
    let negate = a_neg != b_neg;
    let sign = |v: f64| if negate { -v } else { v };
    if b == 0 {
        let fa = a as f64;
        return if a_neg { -fa } else { fa } / 0.0;
    }
    if a == 0 {
        return sign(0.0);
    }
    if a <= 1 << MANT && b <= 1 << MANT {
        return sign(a as f64 / b as f64);
    }
    let bits = |v: u64| 64 - v.leading_zeros() as i32;
    let shift = bits(a) - bits(b) - MANT - 2;
    let (x, mut inexact) = if shift <= 0 {
        ((a as u128) << -shift, false)
    } else {
        ((a >> shift) as u128, a & ((1 << shift) - 1) != 0)
    };
    let q = x / b as u128;
    inexact |= x % b as u128 != 0;
    let extra = 128 - q.leading_zeros() as i32 - MANT;
    let mask = 1u128 << (extra - 1);
    let mut low = q | inexact as u128;
    if low & mask != 0 && low & (3 * mask - 1) != 0 {
        low += mask;
    }
    let q = low & !(2 * mask - 1);
    // Exact: q has at most 54 significant bits (its low `extra` bits are clear), and
    // 2**shift is a normal float64.
    let scale = f64::from_bits(((1023 + shift) as u64) << 52);
    sign(q as f64 * scale)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_division_rounds_once_as_cpython_does() {
        // Expected values from CPython's int / int.
        let cases: [(i64, i64, f64); 5] = [
            (-9007199254740994, 9007199254740993, -1.0),
            (i64::MAX, 3, 3.0744573456182584e18),
            (i64::MIN, i64::MAX, -1.0),
            (4611686018427388929, 2048, 2251799813685248.5),
            (6917529027641081857, 3, 2.305843009213694e18),
        ];
        for (a, b, q) in cases {
            assert_eq!(int_true_divide(a, b).to_bits(), q.to_bits(), "{a} / {b}");
        }
        assert_eq!(uint_true_divide(u64::MAX, u64::MAX - 2), 1.0);
        assert_eq!(
            int_true_divide(0, -(1 << 60)).to_bits(),
            (-0.0f64).to_bits()
        );
        assert_eq!(int_true_divide(-(1 << 60), 0), f64::NEG_INFINITY);
        assert!(int_true_divide(0, 0).is_nan());
    }
}
