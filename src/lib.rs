//! nativecall: one native-callable ABI for scientific Python.
//!
//! - [`abi`]: native types and signature strings as scipy, Cython and Numba write them.
//! - [`jit`]: Cranelift code generation and the ownership of JIT code memory.
//! - `capsule` (feature `python`): the Python extension module `nativecall._native`.
#![deny(missing_docs)]

pub mod abi;

#[cfg(feature = "python")]
pub mod capsule;
pub mod jit;
