//! Native code generation with Cranelift.
//!
//! Kernels ([`ir`] → [`typing`] → Cranelift, in `codegen`), thunks that adapt one
//! C signature to another, the runtime helpers generated code calls, and the
//! ownership of code memory. No Python here: `cargo test` covers it.
//!
//! A kernel is [`ir::Function`] (what the Python frontend sends, read from its IR);
//! [`compile`] types it and generates code that lives as long as [`Compiled::code`]:
//!
//! ```
//! use nativecall::abi::{FloatType, Type};
//! use nativecall::jit::compile;
//! use nativecall::jit::ir::{BinOp, Expr, Function, PythonVersion, Span, Stmt};
//!
//! // def square_plus_one(x: float64) -> float64: return x * x + 1.0
//! let at = Span { line: 1, col: 0 };
//! let x = || Expr::Name("x".into(), at);
//! let square = Expr::Binary(BinOp::Mul, Box::new(x()), Box::new(x()), at);
//! let body = Expr::Binary(BinOp::Add, Box::new(square), Box::new(Expr::Float(1.0, at)), at);
//! let f64_ = Type::Float(FloatType::F64);
//! let kernel = Function {
//!     name: "square_plus_one".into(),
//!     params: vec![("x".into(), f64_.clone())],
//!     ret: Some(f64_),
//!     body: vec![Stmt::Return(Some(body), at)],
//!     natives: vec![],
//!     boundscheck: false,
//!     fastmath: false,
//!     python: PythonVersion::new(3, 12),
//! };
//! let compiled = compile(&kernel).unwrap();
//! assert_eq!(compiled.signature.to_string(), "double (double)");
//! // SAFETY: the code has the C signature just checked, and `compiled.code` outlives the call.
//! let f: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(compiled.address) };
//! assert_eq!(f(3.0), 10.0);
//! ```
//!
//! A thunk adapts a C function to another signature, here Cython's hidden
//! `skip_dispatch` flag filled with 0 (what `__pyx_capi__` functions need):
//!
//! ```
//! use nativecall::abi::parse_signature;
//! use nativecall::jit::constant_args_thunk;
//!
//! extern "C" fn scaled(x: f64, skip_dispatch: i32) -> f64 {
//!     if skip_dispatch == 0 { 2.0 * x } else { f64::NAN }
//! }
//! let raw = parse_signature("double (double, int __pyx_skip_dispatch)").unwrap();
//! let thunk = constant_args_thunk(scaled as *const () as usize, &raw, &[(1, 0)]).unwrap();
//! // SAFETY: the thunk's visible signature is double (double); `thunk.code` outlives the call.
//! let f: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(thunk.address) };
//! assert_eq!(f(1.5), 3.0);
//! ```

mod adapt;
mod callback;
mod code;
mod codegen;
pub mod entry;
pub mod invoke;
pub mod ir;
mod lower;
pub mod runtime;
mod thunk;
pub mod typing;

pub use adapt::{ArgSource, CountGuard};
pub use callback::{callback_entry, callback_type_supported, Dispatcher};
pub use code::{code_stats, is_generated_entry, CodeMemory};
pub use codegen::{
    clif_listing, clif_text, compile, compile_entry, compile_ufunc_loop, kernel_signature,
    Compiled, Entry, KernelError,
};
pub use thunk::{adapter_thunk, constant_args_thunk, Thunk};

use std::fmt;
use std::sync::Mutex;

/// Stack for compiling a kernel: reading, typing and code generation recurse over the
/// kernel IR (its nesting is bounded where it is read) and a level takes tens of KiB in
/// debug builds. Only the pages used are committed.
const COMPILE_STACK: usize = 64 << 20;

/// Run `work` on a thread with 64 MiB of stack (`COMPILE_STACK`), so that compiling does not
/// depend on the stack of the calling thread (a Python thread may have 256 KiB); inline if
/// no thread can be started. A panic in `work` continues in the caller.
pub fn with_room<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    let work = Mutex::new(Some(work));
    let take = || work.lock().ok().and_then(|mut w| w.take());
    let spawned = std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("nativecall-compile".into())
            .stack_size(COMPILE_STACK)
            .spawn_scoped(s, || take().map(|w| w()));
        match handle.map(|h| h.join()) {
            Ok(Ok(out)) => out,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => None,
        }
    });
    match spawned {
        Some(out) => out,
        None => (take().expect("work not yet run"))(),
    }
}

/// Why code could not be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitError {
    /// The signature uses something the code generator cannot express on this platform.
    Unsupported(String),
    /// Cranelift rejected the function (a bug in nativecall if it happens).
    Codegen(String),
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Unsupported(m) => write!(f, "unsupported: {m}"),
            JitError::Codegen(m) => write!(f, "code generation failed: {m}"),
        }
    }
}

impl std::error::Error for JitError {}
