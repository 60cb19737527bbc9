//! Native code generation with Cranelift.
//!
//! Kernels ([`ir`] → [`typing`] → Cranelift, in `codegen`), thunks that adapt one
//! C signature to another, the runtime helpers generated code calls, and the
//! ownership of code memory. No Python here: `cargo test` covers it.

mod code;
mod codegen;
pub mod ir;
mod lower;
pub mod runtime;
mod thunk;
pub mod typing;

pub use code::{code_stats, CodeMemory};
pub use codegen::{
    clif_text, compile, compile_entry, compile_ufunc_loop, kernel_signature, Compiled, Entry,
    KernelError,
};
pub use thunk::{adapter_thunk, constant_args_thunk, ArgSource, CountGuard, Thunk};

use std::fmt;

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
