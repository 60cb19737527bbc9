//! Functions generated code calls for operations Cranelift has no instruction for.
//!
//! Each is `extern "C"`, takes and returns plain numbers, and cannot panic, so
//! nothing can unwind out of generated code. Math functions are the C library's own where
//! CPython's `math` calls it, and CPython's code transcribed where it has its own.
//!
//! `arith` holds the operator helpers, `math` the `math` functions, `arrays` the array
//! helpers (the median, scratch arrays), `stack` the
//! per-thread state recursion checks read; this module names every helper by address.

mod arith;
mod arrays;
mod complex;
mod math;
mod stack;

pub use arith::{int_true_divide, ipow, py_floordiv, py_fmod, uint_true_divide};
pub use arrays::{
    array_error, array_error_address, median, median_address, scratch_alloc, scratch_alloc_address,
    scratch_free, scratch_free_address, take_array_error, ArrayError, ElementKind,
};
pub use complex::{c_abs, c_pow, c_quot, c_rect, C64};
pub use math::{
    math_helper, py_atan2, py_atan2_310, py_gamma, py_hypot, py_hypot_310, py_hypot_311, py_lgamma,
    py_pow,
};
pub use stack::{
    stack_state, stack_state_address, take_recursion_error, StackState, STACK_ERROR_OFFSET,
    STACK_LIMIT_OFFSET, STACK_UNWINDING_OFFSET,
};

use math::libm;

/// The name of the helper at `address`, for listings of generated code that must read
/// the same on every run and machine (generated code calls helpers by address).
pub fn helper_name(address: usize) -> Option<&'static str> {
    type F1 = unsafe extern "C" fn(f64) -> f64;
    type F2 = unsafe extern "C" fn(f64, f64) -> f64;
    let one = |f: F1, n| (f as usize, n);
    let two = |f: F2, n| (f as usize, n);
    let named: [(usize, &'static str); 38] = [
        one(libm::exp, "exp"),
        one(libm::expm1, "expm1"),
        one(libm::log, "log"),
        one(libm::log1p, "log1p"),
        one(libm::log2, "log2"),
        one(libm::log10, "log10"),
        one(libm::sin, "sin"),
        one(libm::cos, "cos"),
        one(libm::tan, "tan"),
        one(libm::asin, "asin"),
        one(libm::acos, "acos"),
        one(libm::atan, "atan"),
        one(libm::sinh, "sinh"),
        one(libm::cosh, "cosh"),
        one(libm::tanh, "tanh"),
        one(libm::erf, "erf"),
        one(libm::erfc, "erfc"),
        two(libm::fmod, "fmod"),
        two(libm::pow, "pow"),
        one(py_gamma, "py_gamma"),
        one(py_lgamma, "py_lgamma"),
        two(py_pow, "py_pow"),
        two(py_atan2, "py_atan2"),
        two(py_atan2_310, "py_atan2_310"),
        two(py_hypot, "py_hypot"),
        two(py_hypot_311, "py_hypot_311"),
        two(py_hypot_310, "py_hypot_310"),
        (py_fmod_address(), "py_fmod"),
        (py_floordiv_address(), "py_floordiv"),
        (ipow_address(), "ipow"),
        (int_true_divide_address(), "int_true_divide"),
        (uint_true_divide_address(), "uint_true_divide"),
        (index_error_address(), "index_error"),
        (stack_state_address(), "stack_state"),
        (median_address(), "median"),
        (array_error_address(), "array_error"),
        (scratch_alloc_address(), "scratch_alloc"),
        (scratch_free_address(), "scratch_free"),
    ];
    named
        .iter()
        .chain(complex_helpers().iter())
        .find(|(a, _)| *a == address)
        .map(|(_, n)| *n)
}

/// The complex helpers by address and name.
fn complex_helpers() -> [(usize, &'static str); 14] {
    use crate::jit::ir::CmathFn::*;
    let f = |m, n| (cmath_helper(m), n);
    [
        f(Exp, "c_exp"),
        f(Log, "c_log"),
        f(Sqrt, "c_sqrt"),
        f(Sin, "c_sin"),
        f(Cos, "c_cos"),
        f(Tan, "c_tan"),
        f(Sinh, "c_sinh"),
        f(Cosh, "c_cosh"),
        f(Tanh, "c_tanh"),
        f(Rect, "c_rect"),
        (c_quot as *const () as usize, "c_quot"),
        (c_pow as *const () as usize, "c_pow"),
        (c_abs as *const () as usize, "c_abs"),
        (c_atan2_address(), "atan2"),
    ]
}

/// The helper computing `cmath` function `m` of one complex number (`rect` of two reals);
/// `phase` and the tests are computed inline, and have none.
pub fn cmath_helper(m: crate::jit::ir::CmathFn) -> usize {
    use crate::jit::ir::CmathFn::*;
    let f: extern "C" fn(f64, f64) -> C64 = match m {
        Exp => complex::c_exp,
        Log => complex::c_log,
        Sqrt => complex::c_sqrt,
        Sin => complex::c_sin,
        Cos => complex::c_cos,
        Tan => complex::c_tan,
        Sinh => complex::c_sinh,
        Cosh => complex::c_cosh,
        Tanh => complex::c_tanh,
        Rect | Phase | Isnan | Isinf | Isfinite => complex::c_rect,
    };
    f as *const () as usize
}

/// The C library's `atan2`, which CPython's `cmath.phase` calls.
pub fn c_atan2_address() -> usize {
    libm::atan2 as *const () as usize
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

/// See [`py_pow`].
pub fn pow_address() -> usize {
    py_pow as *const () as usize
}

/// See [`int_true_divide`].
pub fn int_true_divide_address() -> usize {
    int_true_divide as *const () as usize
}

/// See [`uint_true_divide`].
pub fn uint_true_divide_address() -> usize {
    uint_true_divide as *const () as usize
}

thread_local! {
    static INDEX_ERROR: std::cell::Cell<Option<(i64, i64, i64)>> = const { std::cell::Cell::new(None) };
}

/// Called by bounds-checked kernels before they return early: `axis` (or -1 for a
/// wrong number of dimensions), the index as written (or the tensor's ndim) and the size
/// (or the declared ndim). Recorded for the calling thread.
pub extern "C" fn index_error(axis: i64, index: i64, size: i64) {
    INDEX_ERROR.with(|e| e.set(Some((axis, index, size))));
}

/// The address of [`index_error`].
pub fn index_error_address() -> usize {
    index_error as *const () as usize
}

/// Take (and clear) the index error this thread's last bounds-checked call recorded.
pub fn take_index_error() -> Option<(i64, i64, i64)> {
    INDEX_ERROR.with(|e| e.take())
}
