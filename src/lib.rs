//! nativecall: one native-callable ABI for scientific Python.
//!
//! - [`abi`]: native types and signature strings as scipy, Cython and Numba write them,
//!   the DLPack structs and the one table of dtypes.
//! - [`jit`]: kernel IR, typing, Cranelift code generation, thunks that adapt one C
//!   signature to another, and the ownership of JIT code memory.
//! - `capsule` (feature `python`, private): the Python extension module `nativecall._native`.
//!
//! `abi` and `jit` need no Python: a Rust user (and `cargo test`) reaches them through the
//! items their modules re-export; everything else is private to the crate
//! (`unreachable_pub` keeps it that way).
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod abi;

#[cfg(feature = "python")]
mod capsule;
pub mod jit;
