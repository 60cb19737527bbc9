//! Python exceptions, and the one place Rust errors become them.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::abi;

pyo3::create_exception!(
    nativecall,
    SignatureError,
    PyValueError,
    "A signature or type string that does not parse; the message shows the text with a caret."
);

/// `nativecall.SignatureError` for `e`, with `text` and `position` attributes.
pub fn signature_error(py: Python<'_>, e: &abi::SignatureError) -> PyErr {
    let err = SignatureError::new_err(e.to_string());
    let value = err.value(py);
    // Attributes are a convenience; the message already says everything.
    let _ = value.setattr("text", &e.text);
    let _ = value.setattr("position", e.position);
    err
}
