//! Generated thunks that add constant arguments, called through real C-ABI function pointers.

use std::ffi::{c_int, c_void};

use nativecall::abi::parse_signature;
use nativecall::jit::constant_args_thunk;

extern "C" fn twice_unless_dispatch(x: f64, skip_dispatch: c_int) -> f64 {
    if skip_dispatch == 0 {
        2.0 * x
    } else {
        f64::NAN
    }
}

extern "C" fn with_optional_args(
    n: isize,
    x: f64,
    skip_dispatch: c_int,
    opt: *const c_void,
) -> f64 {
    if skip_dispatch != 0 || !opt.is_null() {
        return f64::NAN;
    }
    n as f64 + x
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct C128 {
    re: f64,
    im: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct C64 {
    re: f32,
    im: f32,
}

// `double _Complex` and `struct { double re, im; }` are passed alike on x86-64 System V and AArch64.
extern "C" fn complex_square(z: C128, skip_dispatch: c_int) -> C128 {
    let k = if skip_dispatch == 0 { 1.0 } else { f64::NAN };
    C128 {
        re: k * (z.re * z.re - z.im * z.im),
        im: k * 2.0 * z.re * z.im,
    }
}

extern "C" fn complex64_conj(z: C64, skip_dispatch: c_int) -> C64 {
    let k = if skip_dispatch == 0 { 1.0 } else { f32::NAN };
    C64 {
        re: k * z.re,
        im: -k * z.im,
    }
}

extern "C" fn narrow_ints(a: i8, b: u16, c: c_int, skip_dispatch: c_int) -> i64 {
    if skip_dispatch != 0 {
        return i64::MIN;
    }
    a as i64 * 1_000_000 + b as i64 * 10 + c as i64
}

#[test]
fn a_thunk_passes_zero_for_skip_dispatch() {
    let raw = parse_signature("double (double, int __pyx_skip_dispatch)").unwrap();
    let t =
        constant_args_thunk(twice_unless_dispatch as *const () as usize, &raw, &[(1, 0)]).unwrap();
    // SAFETY: the thunk has the visible signature double (double).
    let f: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(t.address) };
    assert_eq!(f(21.0), 42.0);
    assert_eq!(f(-0.25), -0.5);
}

#[test]
fn a_thunk_fills_skip_dispatch_and_null_optional_args() {
    let raw = parse_signature(
        "double (Py_ssize_t, double, int __pyx_skip_dispatch, struct __pyx_opt_args_x *__pyx_optional_args)",
    )
    .unwrap();
    let t = constant_args_thunk(
        with_optional_args as *const () as usize,
        &raw,
        &[(2, 0), (3, 0)],
    )
    .unwrap();
    // SAFETY: the thunk has the visible signature double (npy_intp, double).
    let f: extern "C" fn(isize, f64) -> f64 = unsafe { std::mem::transmute(t.address) };
    assert_eq!(f(40, 2.5), 42.5);
}

#[test]
fn complex_arguments_and_results_travel_in_parts() {
    let raw =
        parse_signature("__pyx_t_double_complex (__pyx_t_double_complex, int __pyx_skip_dispatch)")
            .unwrap();
    let t = constant_args_thunk(complex_square as *const () as usize, &raw, &[(1, 0)]).unwrap();
    // SAFETY: visible signature double _Complex (double _Complex), passed as C128.
    let f: extern "C" fn(C128) -> C128 = unsafe { std::mem::transmute(t.address) };
    assert_eq!(f(C128 { re: 1.0, im: 2.0 }), C128 { re: -3.0, im: 4.0 });

    let raw = parse_signature("float _Complex (float _Complex, int)").unwrap();
    let t = constant_args_thunk(complex64_conj as *const () as usize, &raw, &[(1, 0)]).unwrap();
    // SAFETY: visible signature float _Complex (float _Complex), passed as C64.
    let f: extern "C" fn(C64) -> C64 = unsafe { std::mem::transmute(t.address) };
    assert_eq!(f(C64 { re: 1.5, im: 2.5 }), C64 { re: 1.5, im: -2.5 });
}

#[test]
fn narrow_integers_keep_their_sign() {
    let raw = parse_signature("int64_t (int8_t, uint16_t, int, int)").unwrap();
    let t = constant_args_thunk(narrow_ints as *const () as usize, &raw, &[(3, 0)]).unwrap();
    // SAFETY: visible signature int64_t (int8_t, uint16_t, int).
    let f: extern "C" fn(i8, u16, c_int) -> i64 = unsafe { std::mem::transmute(t.address) };
    assert_eq!(f(-3, 65535, -7), -3_000_000 + 655_350 - 7);
}

#[test]
fn thunks_are_built_and_called_from_many_threads() {
    let raw = parse_signature("double (double, int)").unwrap();
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let raw = raw.clone();
            std::thread::spawn(move || {
                let mut total = 0.0;
                for i in 0..50 {
                    let t = constant_args_thunk(
                        twice_unless_dispatch as *const () as usize,
                        &raw,
                        &[(1, 0)],
                    )
                    .unwrap();
                    // SAFETY: visible signature double (double).
                    let f: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(t.address) };
                    total += f((k * 100 + i) as f64);
                }
                total
            })
        })
        .collect();
    let totals: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (k, total) in totals.iter().enumerate() {
        let expected: f64 = (0..50).map(|i| 2.0 * (k * 100 + i) as f64).sum();
        assert_eq!(*total, expected);
    }
}

#[test]
fn long_double_is_refused_with_a_reason() {
    let raw = parse_signature("long double (long double, int)").unwrap();
    let e = constant_args_thunk(narrow_ints as *const () as usize, &raw, &[(1, 0)])
        .err()
        .unwrap();
    assert!(e.to_string().contains("long double"), "{e}");
}
