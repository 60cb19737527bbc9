//! Every way a NativeCallable leaves: the address of code with its visible signature,
//! a PyCapsule, a `scipy.LowLevelCallable`, ctypes and cffi pointers, Numba's wrapper
//! address protocol, and pickling.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

use crate::abi::Signature;
use crate::jit::constant_args_thunk;

use super::super::adapt::adapt;
use super::super::types::signature_from_object;
use super::super::{errors, py_functions};
use super::capsule_protocol::{make_capsule, user_data_address};
use super::NativeCallable;

impl NativeCallable {
    /// The address of code with exactly the visible signature: the function itself,
    /// or (when arguments are hidden) a generated thunk that adds them. The thunk
    /// lives as long as this callable.
    pub fn export_address(&self) -> PyResult<usize> {
        if self.hidden.is_empty() {
            return Ok(self.address);
        }
        if let Some(t) = self.thunk.get() {
            return Ok(t.address);
        }
        let hidden = self.hidden_bits();
        let thunk =
            constant_args_thunk(self.address, &self.raw_signature, &hidden).map_err(|e| {
                let what = format!(
                    "{} ({} at the ABI) cannot be exported as '{}'",
                    self.name, self.raw_signature, self.signature
                );
                errors::glue_error(what, &e)
            })?;
        Ok(self.thunk.get_or_init(|| thunk).address)
    }

    /// The spelling to export under: the callable's own, or `requested` if it is ABI-equal.
    pub fn export_signature(
        &self,
        requested: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Arc<Signature>> {
        match requested {
            None => Ok(self.signature.clone()),
            Some(obj) if obj.is_none() => Ok(self.signature.clone()),
            Some(obj) => {
                let wanted = signature_from_object(obj)?;
                if wanted.abi_eq(&self.signature) {
                    Ok(wanted)
                } else {
                    Err(PyTypeError::new_err(format!(
                        "cannot export {} as '{wanted}': its signature is '{}', which is not ABI-compatible",
                        self.name, self.signature
                    )))
                }
            }
        }
    }
}

/// `NativeCallable.capsule`: a PyCapsule pointing at the code, named by the signature
/// (or an adapted one), keeping the callable alive.
pub(super) fn capsule<'py>(
    slf: &Bound<'py, NativeCallable>,
    signature: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let me = slf.get();
    let target = match signature.filter(|s| !s.is_none()) {
        None => me.signature.clone(),
        Some(s) => signature_from_object(s)?,
    };
    let (nc, user_data) = adapt(slf, target.clone(), None)?;
    if user_data.is_some() {
        return Err(PyTypeError::new_err(format!(
            "'{target}' needs packed user data; use lowlevelcallable('{target}', user_data=(...))"
        )));
    }
    let nc_ref = nc.get();
    // The context is the consumer's user data: the one this callable came with, or NULL.
    let context = match &nc_ref.user_data {
        Some(u) => user_data_address(u.bind(slf.py()))?,
        None => 0,
    };
    make_capsule(
        slf.py(),
        nc_ref.export_address()?,
        &nc_ref.signature.to_string(),
        nc.as_any(),
        context,
    )
}

/// `NativeCallable.lowlevelcallable`: a `scipy.LowLevelCallable`, adapted to `signature`
/// and carrying `user_data`.
pub(super) fn lowlevelcallable<'py>(
    slf: &Bound<'py, NativeCallable>,
    signature: Option<&Bound<'py, PyAny>>,
    user_data: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    let me = slf.get();
    let target = match signature.filter(|s| !s.is_none()) {
        None => me.signature.clone(),
        Some(s) => signature_from_object(s)?,
    };
    // `()` is no extra arguments, so no user data of its own, as `None` is.
    let no_extras = |u: &Bound<'py, PyAny>| u.cast::<PyTuple>().is_ok_and(|t| t.is_empty());
    let user_data = match user_data {
        Some(u) if !u.is_none() && !no_extras(u) => Some(u.clone()),
        _ => me.user_data.as_ref().map(|u| u.bind(py).clone()),
    };
    let (nc, user_data) = adapt(slf, target, user_data)?;
    let capsule = NativeCallable::capsule(&nc, None)?;
    py_functions::make_lowlevelcallable(py)?.call1((capsule, user_data))
}

/// `NativeCallable.ctypes`: a ctypes function pointer that keeps the callable alive.
pub(super) fn ctypes<'py>(slf: &Bound<'py, NativeCallable>) -> PyResult<Bound<'py, PyAny>> {
    let address = slf.get().export_address()?;
    py_functions::to_ctypes(slf.py())?.call1((slf, address))
}

/// `NativeCallable.cffi`: a cffi function pointer made with `ffi`.
pub(super) fn cffi<'py>(
    slf: &Bound<'py, NativeCallable>,
    ffi: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let address = slf.get().export_address()?;
    py_functions::to_cffi(slf.py())?.call1((slf, ffi, address))
}

/// `NativeCallable.__reduce__`: by module and name for Cython functions (see `nativecall._pickle`).
pub(super) fn reduce<'py>(slf: &Bound<'py, NativeCallable>) -> PyResult<Bound<'py, PyAny>> {
    py_functions::reduce_native_callable(slf.py())?.call1((slf,))
}

/// `NativeCallable._numba_type_`: the Numba type of the callable.
pub(super) fn numba_type<'py>(slf: &Bound<'py, NativeCallable>) -> PyResult<Bound<'py, PyAny>> {
    py_functions::numba_type(slf.py())?.call1((slf,))
}

/// `NativeCallable.numba`: the callable through Numba's wrapper address protocol.
pub(super) fn numba<'py>(slf: &Bound<'py, NativeCallable>) -> PyResult<Bound<'py, PyAny>> {
    py_functions::numba_adapter(slf.py())?.call1((slf,))
}
