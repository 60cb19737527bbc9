//! The native type system: types, signatures and the C structs that cross the ABI.
//!
//! Nothing here touches Python, so `cargo test` covers it on its own.
//!
//! A signature reads the way scipy and Cython write it, or in Numba's spelling; both
//! name the same signature, and it prints in C:
//!
//! ```
//! use nativecall::abi::{parse_signature, parse_type_text, FloatType, Type};
//!
//! let c = parse_signature("double (int n, double *xx, void *user_data)").unwrap();
//! let numba = parse_signature("float64(intc, CPointer(float64), voidptr)").unwrap();
//! assert!(c.abi_eq(&numba));
//! assert_eq!(numba.to_string(), "double (int, double *, void *)");
//! assert_eq!(c.ret, Type::Float(FloatType::F64));
//! assert_eq!(c.params[1].name.as_deref(), Some("xx"));
//!
//! let t = parse_type_text("const double *").unwrap();
//! assert_eq!(t.size(), Some(8));
//!
//! // A mistake is reported with its position, for a caret under it.
//! let e = parse_signature("double (double,").unwrap_err();
//! assert_eq!(e.position, 15);
//! ```

pub mod dlpack;
pub mod dtype;
mod parse;
mod signature;
mod types;

pub use parse::{add_typedef, parse_signature, parse_type_text, SignatureError};
pub use signature::{Param, Signature};
pub use types::{FloatType, IntType, Type, MAX_TYPE_DEPTH};
