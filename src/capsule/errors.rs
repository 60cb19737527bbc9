//! The one place Rust errors become Python exceptions.
//!
//! Every nativecall exception class is defined in Python, in `nativecall._errors`; the
//! extension imports each once (on first use, cached by pyo3) and raises those same
//! classes, so `nativecall.SignatureError` is one class wherever it comes from. Each
//! kind of error has a function here (or a `From` impl): callers say what went wrong,
//! this module picks the exception and words the message, so the same failure reads the
//! same everywhere.

use pyo3::exceptions::{PyIndexError, PyRecursionError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::abi::{self, Type};
use crate::jit::typing::{CompileError, ErrorKind};
use crate::jit::{JitError, KernelError};

pyo3::import_exception!(nativecall._errors, SignatureError);
pyo3::import_exception!(nativecall._errors, KernelCompileFailure);

/// `nativecall.SignatureError` for `e`, with `text` and `position` attributes.
pub(crate) fn signature_error(_py: Python<'_>, e: &abi::SignatureError) -> PyErr {
    SignatureError::new_err((e.to_string(), e.text.clone(), e.position))
}

impl From<abi::SignatureError> for PyErr {
    fn from(e: abi::SignatureError) -> PyErr {
        SignatureError::new_err((e.to_string(), e.text, e.position))
    }
}

/// The native compiler's report (`kind`, message, source line and column), which the
/// frontend re-raises as the matching `CompileError` subclass pointing into the source.
pub(crate) fn kernel_failure(kind: &str, message: String, line: u32, col: u32) -> PyErr {
    KernelCompileFailure::new_err((kind.to_owned(), message, line, col))
}

/// A kernel's compile error (unsupported construct, type mismatch, undefined name).
pub(crate) fn compile_failure(c: CompileError) -> PyErr {
    let kind = match c.kind {
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::Typing => "typing",
        ErrorKind::Name => "name",
        ErrorKind::NoSignature => "no-signature",
    };
    KernelCompileFailure::new_err((kind, c.message, c.span.line, c.span.col, c.arg_types))
}

impl From<KernelError> for PyErr {
    /// A kernel (or ufunc loop) that did not compile: its source's fault, or code
    /// generation's (`codegen`, at no particular line); both are compile errors.
    fn from(e: KernelError) -> PyErr {
        match e {
            KernelError::Compile(c) => compile_failure(c),
            KernelError::Jit(j) => kernel_failure("codegen", j.to_string(), 0, 0),
        }
    }
}

/// Generated glue (a thunk, an adapter, a callback entry) that could not be made:
/// `TypeError("{what}: {e}")`, since the signature asked for is what cannot be served.
pub(crate) fn glue_error(what: impl std::fmt::Display, e: &JitError) -> PyErr {
    PyTypeError::new_err(format!("{what}: {e}"))
}

/// The name of `obj`'s type, for messages (`"?"` if it has none).
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `TypeError("expected {expected}, got {type of obj}")`: an object of the wrong kind.
pub(crate) fn expected(expected: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("expected {expected}, got {}", type_name(obj)))
}

/// `TypeError("{what} must be {expected}, got {type of obj}")`: an argument of the wrong type.
pub(crate) fn must_be(what: &str, expected: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{what} must be {expected}, got {}", type_name(obj)))
}

/// An array argument whose elements are not the declared ones; `got` says what they are.
pub(crate) fn wrong_elements(what: &str, want: &Type, got: impl std::fmt::Display) -> PyErr {
    PyTypeError::new_err(format!("{what} needs {want} elements, got {got}"))
}

/// An array argument with another number of dimensions than declared.
pub(crate) fn wrong_ndim(what: &str, ndim: u32, got: usize) -> PyErr {
    PyTypeError::new_err(format!(
        "{what} needs a {ndim}-dimensional array, got {got} dimensions"
    ))
}

/// A read-only array passed where the kernel writes.
pub(crate) fn read_only_array(what: &str) -> PyErr {
    PyValueError::new_err(format!("{what} is read-only, and the kernel writes to it"))
}

/// What a kernel call reported after it returned: its native stack nearly full.
pub(crate) fn kernel_recursion(name: &str) -> PyErr {
    PyRecursionError::new_err(format!(
        "{name}: maximum recursion depth exceeded (the native stack of this thread is nearly full)"
    ))
}

/// What a kernel's array operation reported, in NumPy's words: `ValueError` for `np.min`/
/// `np.max` of an empty array or a negative length, `MemoryError` for a scratch array
/// too large.
pub(crate) fn kernel_array(name: &str, e: crate::jit::runtime::ArrayError) -> PyErr {
    use crate::jit::runtime::ArrayError;
    match e {
        ArrayError::EmptyMinimum | ArrayError::EmptyMaximum => {
            let op = if e == ArrayError::EmptyMinimum {
                "minimum"
            } else {
                "maximum"
            };
            PyValueError::new_err(format!(
                "{name}: zero-size array to reduction operation {op} which has no identity"
            ))
        }
        ArrayError::NegativeLength => PyValueError::new_err(format!(
            "{name}: negative dimensions are not allowed (np.empty/np.zeros of a negative length)"
        )),
        ArrayError::OutOfMemory => pyo3::exceptions::PyMemoryError::new_err(format!(
            "{name}: unable to allocate a scratch array (np.empty/np.zeros) of that length"
        )),
    }
}

/// What a bounds-checked kernel call reported: an index out of bounds on `axis`, or
/// (`axis < 0`) an array argument with another number of dimensions than declared.
pub(crate) fn kernel_index(name: &str, axis: i64, index: i64, size: i64) -> PyErr {
    if axis < 0 {
        PyValueError::new_err(format!(
            "{name}: an array argument has {index} dimensions where {size} were declared"
        ))
    } else {
        PyIndexError::new_err(format!(
            "{name}: index {index} is out of bounds for axis {axis} with size {size}"
        ))
    }
}

/// `TypeError` for a call with `got` positional arguments where `expected` are taken.
pub(crate) fn arity(
    callee: &crate::capsule::callable::NativeCallable,
    expected: usize,
    got: usize,
) -> PyErr {
    PyTypeError::new_err(format!(
        "{}() takes {expected} argument{} ({}), got {got}",
        callee.name,
        if expected == 1 { "" } else { "s" },
        callee.signature,
    ))
}

/// `TypeError` for a call with keyword arguments (`names`, as given).
pub(crate) fn keywords_refused(
    callee: &crate::capsule::callable::NativeCallable,
    names: &[String],
) -> PyErr {
    let expected = callee.raw_signature.params.len() - callee.hidden().len();
    PyTypeError::new_err(format!(
        "{}() takes no keyword arguments, got {}; pass the {expected} argument{} ({}) by position",
        callee.name,
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", "),
        if expected == 1 { "" } else { "s" },
        callee.signature,
    ))
}
