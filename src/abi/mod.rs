//! The native type system: types, signatures and the C structs that cross the ABI.
//!
//! Nothing here touches Python, so `cargo test` covers it on its own.

pub mod dlpack;
pub mod dtype;
mod parse;
mod signature;
mod types;

pub use parse::{add_typedef, parse_signature, parse_type_text, SignatureError};
pub use signature::{Param, Signature};
pub use types::{FloatType, IntType, Type, MAX_TYPE_DEPTH};
