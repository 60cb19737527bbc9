//! Functions generated code calls for operations Cranelift has no instruction for.
//!
//! Each is `extern "C"`, takes and returns plain numbers, and cannot panic, so
//! nothing can unwind out of generated code. Math functions are the C library's own.

use std::cell::Cell;

use super::ir::MathFn;

/// The C library's math functions, called directly by generated code (CPython's `math`
/// module calls the same ones, so results agree bit for bit; `gamma`/`lgamma` are the
/// exception, CPython has its own).
mod libm {
    use std::ffi::c_double;

    unsafe extern "C" {
        pub fn pow(x: c_double, y: c_double) -> c_double;
        pub fn exp(x: c_double) -> c_double;
        pub fn expm1(x: c_double) -> c_double;
        pub fn log(x: c_double) -> c_double;
        pub fn log1p(x: c_double) -> c_double;
        pub fn log2(x: c_double) -> c_double;
        pub fn log10(x: c_double) -> c_double;
        pub fn sin(x: c_double) -> c_double;
        pub fn cos(x: c_double) -> c_double;
        pub fn tan(x: c_double) -> c_double;
        pub fn asin(x: c_double) -> c_double;
        pub fn acos(x: c_double) -> c_double;
        pub fn atan(x: c_double) -> c_double;
        pub fn atan2(y: c_double, x: c_double) -> c_double;
        pub fn sinh(x: c_double) -> c_double;
        pub fn cosh(x: c_double) -> c_double;
        pub fn tanh(x: c_double) -> c_double;
        pub fn hypot(x: c_double, y: c_double) -> c_double;
        pub fn fmod(x: c_double, y: c_double) -> c_double;
        pub fn erf(x: c_double) -> c_double;
        pub fn erfc(x: c_double) -> c_double;
        pub fn tgamma(x: c_double) -> c_double;
        pub fn lgamma(x: c_double) -> c_double;
    }
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

/// The address of the helper for a `math` function that has no Cranelift instruction,
/// with its arity (all take and return `double`).
pub fn math_helper(m: MathFn) -> Option<(usize, usize)> {
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
        Gamma => one(libm::tgamma),
        Lgamma => one(libm::lgamma),
        Pow => two(libm::pow),
        Atan2 => two(libm::atan2),
        Hypot => two(libm::hypot),
        Fmod => two(libm::fmod),
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

/// The C library's `pow`.
pub fn pow_address() -> usize {
    libm::pow as unsafe extern "C" fn(f64, f64) -> f64 as usize
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

/// What the kernels running on one thread share to check the stack. Generated code gets a
/// pointer to it once per call from outside (see [`stack_state`]) and reads and writes
/// the fields directly; the offsets are asserted below.
#[repr(C)]
pub struct StackState {
    /// The lowest stack address at which a kernel may still make a call.
    pub limit: Cell<usize>,
    /// 1 while kernels return from a call that found the stack nearly full.
    pub unwinding: Cell<u8>,
    /// 1 once that happened, until the Python caller takes it.
    pub error: Cell<u8>,
}

/// Offsets generated code uses.
pub const STACK_LIMIT_OFFSET: i32 = 0;
/// See [`STACK_LIMIT_OFFSET`].
pub const STACK_UNWINDING_OFFSET: i32 = 8;
/// See [`STACK_LIMIT_OFFSET`].
pub const STACK_ERROR_OFFSET: i32 = 9;
const _: () = {
    assert!(std::mem::offset_of!(StackState, limit) == STACK_LIMIT_OFFSET as usize);
    assert!(std::mem::offset_of!(StackState, unwinding) == STACK_UNWINDING_OFFSET as usize);
    assert!(std::mem::offset_of!(StackState, error) == STACK_ERROR_OFFSET as usize);
};

thread_local! {
    static STACK_STATE: StackState = const {
        StackState {
            limit: Cell::new(0),
            unwinding: Cell::new(0),
            error: Cell::new(0),
        }
    };
}

/// Stack kept free below a kernel's frame for what it calls (C functions, helpers).
const STACK_RESERVE: usize = 256 * 1024;

/// The lowest address of this thread's stack and its size, if the platform says.
#[cfg(target_os = "linux")]
fn thread_stack() -> Option<(usize, usize)> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read, and
    // destroyed once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        ok.then_some((addr as usize, size))
    }
}

#[cfg(target_os = "macos")]
fn thread_stack() -> Option<(usize, usize)> {
    // SAFETY: both calls only read the current thread's attributes.
    unsafe {
        let me = libc::pthread_self();
        let top = libc::pthread_get_stackaddr_np(me) as usize;
        let size = libc::pthread_get_stacksize_np(me);
        Some((top - size, size))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn thread_stack() -> Option<(usize, usize)> {
    None
}

/// The limit for a thread whose stack pointer is near `sp`: the bottom of its stack plus
/// a reserve (a quarter of a small stack). Where the platform cannot say, 1 MiB below `sp`.
fn stack_limit(sp: usize) -> usize {
    let limit = match thread_stack() {
        Some((low, size)) if low < sp && sp <= low + size => low + STACK_RESERVE.min(size / 4),
        _ => sp.saturating_sub(1024 * 1024),
    };
    limit.max(1)
}

/// Called once per call from outside by every kernel that makes calls (only those can
/// recurse): this thread's [`StackState`], its limit found on first use. A call from
/// outside starts afresh, so any earlier unwinding is over.
pub extern "C" fn stack_state() -> *const StackState {
    let probe = 0u8;
    let sp = std::ptr::addr_of!(probe) as usize;
    STACK_STATE.with(|s| {
        if s.limit.get() == 0 {
            s.limit.set(stack_limit(sp));
        }
        s.unwinding.set(0);
        s as *const StackState
    })
}

/// The address of [`stack_state`].
pub fn stack_state_address() -> usize {
    stack_state as *const () as usize
}

/// Take (and clear) whether a kernel on this thread found the stack nearly full since
/// the last take.
pub fn take_recursion_error() -> bool {
    STACK_STATE.with(|s| {
        s.unwinding.set(0);
        s.error.replace(0) != 0
    })
}
