//! Native code generation with Cranelift.
//!
//! Kernels ([`ir`] → [`typing`] → Cranelift, in `codegen`), thunks that adapt one
//! C signature to another, the runtime helpers generated code calls, and the
//! ownership of code memory. No Python here: `cargo test` covers it.

mod callback;
mod code;
mod codegen;
pub mod invoke;
pub mod ir;
mod lower;
pub mod runtime;
mod thunk;
pub mod typing;

pub use callback::{callback_entry, callback_type_supported, Dispatcher};
pub use code::{code_stats, CodeMemory};
pub use codegen::{
    clif_listing, clif_text, compile, compile_entry, compile_ufunc_loop, kernel_signature,
    Compiled, Entry, KernelError,
};
pub use thunk::{adapter_thunk, constant_args_thunk, ArgSource, CountGuard, Thunk};

use std::fmt;
use std::sync::Mutex;

/// Stack for compiling a kernel: reading, typing and code generation recurse over the
/// kernel IR (its nesting is bounded where it is read) and a level takes tens of KiB in
/// debug builds. Only the pages used are committed.
const COMPILE_STACK: usize = 64 << 20;

/// Run `work` on a thread with [`COMPILE_STACK`] bytes of stack, so that compiling does not
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
