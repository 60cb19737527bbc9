//! `nativecall.callback(func, signature)`: a Python function as a C function pointer.
//!
//! The address is a generated entry (`crate::jit::callback_entry`) with the consumer's C
//! signature; it hands its arguments to [`dispatch`], which takes the GIL, makes a
//! Python object of each argument, calls `func` by vectorcall (no tuple), converts the
//! result, and releases the GIL. An exception raised by `func` (or a result that does not
//! convert) never crosses into C: it is reported as unraisable and the call returns a
//! documented error value, or, for consumers that check for a pending exception after an
//! error status (scipy.ndimage's callbacks), it is left set for the consumer to raise.
//!
//! The entry's side, from C into Python and back without unwinding, is [`dispatch`].

use std::ffi::CString;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::abi::{self, FloatType, Signature, Type};
use crate::jit::{callback_entry, callback_type_supported, CodeMemory};

use super::call::{convert_arg, ArgContext, Borrows};
use super::callable::NativeCallable;
use super::errors;
use super::types::signature_from_object;

mod dispatch;

use dispatch::dispatch;

/// How one value crosses between C and Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conv {
    Void,
    Bool,
    Signed(u32),
    Unsigned(u32),
    F32,
    F64,
    Pointer,
}

impl Conv {
    fn of(ty: &Type) -> Conv {
        match ty {
            Type::Void => Conv::Void,
            Type::Bool => Conv::Bool,
            Type::Int(i) if i.signed() => Conv::Signed(i.bits()),
            Type::Int(i) => Conv::Unsigned(i.bits()),
            Type::Float(FloatType::F32) => Conv::F32,
            Type::Float(FloatType::F64) => Conv::F64,
            _ => Conv::Pointer,
        }
    }
}

/// Where an exception raised by the Python function goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnError {
    /// `PyErr_WriteUnraisable`, as Numba's cfunc wrappers do; the C caller gets the error value.
    Unraisable,
    /// Left set for the caller, which returns to Python and raises it (scipy.ndimage).
    Pending,
}

/// What the generated entry passes to [`dispatch`]: everything a call needs.
struct Context {
    func: Py<PyAny>,
    params: Vec<Conv>,
    ret: Conv,
    int_range: Option<(i128, i128)>,
    on_error: OnError,
    /// The result bits returned when `func` raised.
    error_bits: u64,
    /// For messages: `name (signature)`, NUL-terminated.
    what: CString,
}

/// Keeps a callback's Python function, its call context and its generated entry alive
/// (the entry reads the context on every call, so they go together).
#[pyclass(module = "nativecall", name = "CallbackOwner", frozen)]
pub struct CallbackOwner {
    // Dropped first: no call can start once the code is gone.
    _code: Arc<CodeMemory>,
    context: Box<Context>,
}

#[pymethods]
impl CallbackOwner {
    /// The Python function the callback calls.
    #[getter]
    fn func(&self, py: Python<'_>) -> Py<PyAny> {
        self.context.func.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<nativecall.CallbackOwner of {}>",
            self.context.what.to_string_lossy()
        )
    }
}

/// The C signatures of scipy.ndimage's callbacks, whose `int` result is a status: 0 means
/// an error, and scipy raises the pending Python exception.
const NDIMAGE_SIGNATURES: [&str; 4] = [
    "int (double *, intptr_t, double *, void *)",
    "int (double *, intptr_t, double *, intptr_t, void *)",
    "int (intptr_t *, double *, int, int, void *)",
    "int (double *, double *, intptr_t, void *)",
];

fn is_ndimage_signature(sig: &Signature) -> bool {
    NDIMAGE_SIGNATURES.iter().any(|s| {
        abi::parse_signature(s)
            .map(|known| known.abi_eq(sig))
            .unwrap_or(false)
    })
}

/// A NativeCallable whose address is a C function that calls the Python function `func`.
///
/// `signature` is the C signature consumers call (bool, integers, floats and pointers;
/// pointers arrive as ints, and an int or None is returned for a pointer result).
/// `errors` says where an exception raised by `func` goes: `"unraisable"` reports it
/// with `sys.unraisablehook` and returns `error_value`; `"pending"` leaves it set for the
/// caller (only for consumers that check, as scipy.ndimage does) and returns
/// `error_value`; `"auto"` (the default) is `"pending"` for scipy.ndimage's callback
/// signatures and `"unraisable"` otherwise. The default `error_value` is NaN for a
/// floating-point result, 0 with `"pending"` (ndimage's failure status), and otherwise
/// -1 for a signed integer and 0 for unsigned integers, bool and pointers.
#[pyfunction]
#[pyo3(signature = (func, signature, *, errors="auto", error_value=None, name=None))]
pub(crate) fn callback<'py>(
    py: Python<'py>,
    func: &Bound<'py, PyAny>,
    signature: &Bound<'py, PyAny>,
    errors: &str,
    error_value: Option<&Bound<'py, PyAny>>,
    name: Option<String>,
) -> PyResult<Bound<'py, NativeCallable>> {
    if !func.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "callback() needs a callable, got {}",
            func.get_type().name()?
        )));
    }
    let sig = signature_from_object(signature)?;
    for (i, t) in sig.arg_types().enumerate() {
        if !callback_type_supported(t, false) {
            return Err(PyTypeError::new_err(format!(
                "callback signature '{sig}': parameter {} is '{t}'; a callback takes bool, integers, floats and pointers",
                i + 1
            )));
        }
    }
    if !callback_type_supported(&sig.ret, true) {
        return Err(PyTypeError::new_err(format!(
            "callback signature '{sig}' returns '{}'; a callback returns void, bool, integers, floats or pointers",
            sig.ret
        )));
    }
    let on_error = match errors {
        "unraisable" => OnError::Unraisable,
        "pending" => OnError::Pending,
        "auto" if is_ndimage_signature(&sig) => OnError::Pending,
        "auto" => OnError::Unraisable,
        other => {
            return Err(PyValueError::new_err(format!(
                "errors must be 'auto', 'unraisable' or 'pending', got '{other}'"
            )))
        }
    };
    let name = match name {
        Some(n) => n,
        None => func
            .getattr("__qualname__")
            .or_else(|_| func.getattr("__name__"))
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| "callback".into()),
    };
    let error_bits = match error_value.filter(|v| !v.is_none()) {
        Some(v) => {
            if sig.ret == Type::Void {
                return Err(PyTypeError::new_err(format!(
                    "error_value= is given, but '{sig}' returns void"
                )));
            }
            let ctx = ArgContext {
                function: "callback",
                index: 3,
                writes: false,
            };
            let slot = convert_arg(v, &sig.ret, &ctx, &mut Borrows::default())?;
            u64::from_ne_bytes(slot.0[..8].try_into().expect("8 bytes"))
        }
        None => default_error_bits(&sig.ret, on_error),
    };
    let int_range = match &sig.ret {
        Type::Int(i) => Some(i.range()),
        Type::Bool => Some((0, 1)),
        _ => None,
    };
    let what = CString::new(format!("{name} ({sig})")).unwrap_or_default();
    let context = Box::new(Context {
        func: func.clone().unbind(),
        params: sig.arg_types().map(Conv::of).collect(),
        ret: Conv::of(&sig.ret),
        int_range,
        on_error,
        error_bits,
        what,
    });
    let entry = callback_entry(&sig, dispatch, &*context as *const Context as usize)
        .map_err(|e| errors::glue_error(format_args!("cannot make a callback '{sig}'"), &e))?;
    let address = entry.address;
    let owner = Bound::new(
        py,
        CallbackOwner {
            _code: entry.code,
            context,
        },
    )?;
    let nc = NativeCallable::new(address, sig, name, owner.into_any().unbind())?;
    nc.into_bound(py)
}

/// The result returned when the Python function raised (see [`callback`]).
fn default_error_bits(ret: &Type, on_error: OnError) -> u64 {
    match ret {
        Type::Float(FloatType::F64) => f64::NAN.to_bits(),
        Type::Float(FloatType::F32) => f32::NAN.to_bits() as u64,
        // -1 at any width: the entry reads the low bytes.
        Type::Int(i) if i.signed() && on_error == OnError::Unraisable => u64::MAX,
        _ => 0,
    }
}
