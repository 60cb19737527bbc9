//! The PyCapsule protocol: capsules nativecall makes (named by the C signature, owner kept
//! beside the capsule, context passed on) and capsules it reads (name, pointer, context).

use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::sync::Arc;

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use super::super::types::signature_from_object;
use super::super::{errors, py_functions};
use super::NativeCallable;

/// What a capsule made by nativecall keeps: its name (the capsule points into it) and the owner.
///
/// Kept beside the capsule, never in its context slot: the context belongs to the
/// consumer (scipy reads it as the callback's `user_data`).
struct CapsuleOwner {
    name: CString,
    owner: *mut ffi::PyObject,
}

// SAFETY: `owner` is a strong reference that is only released in the capsule
// destructor, which runs with the GIL held; the table itself is behind a mutex.
unsafe impl Send for CapsuleOwner {}

/// The owners of live capsules made by [`make_capsule`], keyed by the capsule's address
/// (an entry is removed by the capsule's destructor, before the address can be reused).
static CAPSULE_OWNERS: Lazy<Mutex<HashMap<usize, CapsuleOwner>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

unsafe extern "C" fn capsule_destructor(capsule: *mut ffi::PyObject) {
    // Taken out under the lock, released after it: dropping the owner can run any
    // Python code, including the destructors of other capsules.
    let entry = CAPSULE_OWNERS.lock().remove(&(capsule as usize));
    if let Some(entry) = entry {
        // SAFETY: the destructor runs with the GIL held, and `owner` is the strong
        // reference `make_capsule` took for this capsule.
        unsafe { ffi::Py_DecRef(entry.owner) };
        drop(entry.name);
    }
}

/// A PyCapsule named `name` pointing at `address`, keeping `owner` alive. Its context is
/// `context` (the consumer's user data, or 0 for NULL).
pub(crate) fn make_capsule<'py>(
    py: Python<'py>,
    address: usize,
    name: &str,
    owner: &Bound<'py, PyAny>,
    context: usize,
) -> PyResult<Bound<'py, PyCapsule>> {
    let name = CString::new(name)
        .map_err(|_| PyValueError::new_err("a capsule name cannot contain NUL"))?;
    let owner = owner.clone().into_ptr();
    // SAFETY: `address` is non-null (checked at construction); the name's buffer lives in
    // the owners table until the destructor runs (moving the CString does not move it).
    unsafe {
        let cap = ffi::PyCapsule_New(
            address as *mut c_void,
            name.as_ptr(),
            Some(capsule_destructor),
        );
        if cap.is_null() {
            // Take ownership back: no capsule was made, so no destructor will run.
            ffi::Py_DecRef(owner);
            return Err(PyErr::fetch(py));
        }
        CAPSULE_OWNERS
            .lock()
            .insert(cap as usize, CapsuleOwner { name, owner });
        if context != 0 && ffi::PyCapsule_SetContext(cap, context as *mut c_void) != 0 {
            let err = PyErr::fetch(py);
            // The destructor releases the owner.
            ffi::Py_DecRef(cap);
            return Err(err);
        }
        Ok(Bound::from_owned_ptr(py, cap).cast_into_unchecked())
    }
}

/// A capsule's context pointer (0 when it has none).
fn capsule_context(capsule: &Bound<'_, PyAny>) -> PyResult<usize> {
    let py = capsule.py();
    // SAFETY: `capsule` was checked to be a valid capsule by `read_capsule`.
    let context = unsafe { ffi::PyCapsule_GetContext(capsule.as_ptr()) };
    if context.is_null() && PyErr::occurred(py) {
        return Err(PyErr::fetch(py));
    }
    Ok(context as usize)
}

/// The address a consumer receives for `user_data`, read the way scipy.LowLevelCallable
/// reads it: a PyCapsule's pointer, a ctypes `c_void_p`'s value, a cffi pointer's address.
pub(crate) fn user_data_address(user_data: &Bound<'_, PyAny>) -> PyResult<usize> {
    if user_data.is_instance_of::<PyCapsule>() {
        return Ok(read_capsule(user_data)?.1);
    }
    py_functions::user_data_address(user_data.py())?
        .call1((user_data,))?
        .extract()
}

/// The name and pointer of a capsule (checking it is a valid capsule).
pub(crate) fn read_capsule(obj: &Bound<'_, PyAny>) -> PyResult<(Option<String>, usize)> {
    let py = obj.py();
    // SAFETY: `obj` is a live object; the capsule API checks its type and validity.
    unsafe {
        if ffi::PyCapsule_CheckExact(obj.as_ptr()) == 0 {
            return Err(errors::expected("a PyCapsule", obj));
        }
        let name_ptr = ffi::PyCapsule_GetName(obj.as_ptr());
        if name_ptr.is_null() && PyErr::occurred(py) {
            return Err(PyErr::fetch(py));
        }
        let pointer = ffi::PyCapsule_GetPointer(obj.as_ptr(), name_ptr);
        if pointer.is_null() {
            let cause = PyErr::take(py).map(|e| e.to_string()).unwrap_or_default();
            return Err(PyValueError::new_err(format!(
                "the capsule holds no valid pointer (NULL capsule) {cause}"
            )));
        }
        let name =
            (!name_ptr.is_null()).then(|| CStr::from_ptr(name_ptr).to_string_lossy().into_owned());
        Ok((name, pointer as usize))
    }
}

/// A capsule's context as user data to pass on: a capsule pointing at the context and
/// keeping `capsule` (whose destructor frees the context) alive; `None` without context.
fn imported_context(capsule: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
    let context = capsule_context(capsule)?;
    if context == 0 {
        return Ok(None);
    }
    let data = make_capsule(capsule.py(), context, USER_DATA_CAPSULE, capsule, 0)?;
    Ok(Some(data.into_any().unbind()))
}

/// The name of capsules nativecall hands out as user data.
pub(crate) const USER_DATA_CAPSULE: &str = "nativecall.user_data";

/// `NativeCallable._from_capsule`: a callable from a PyCapsule, the signature being the
/// capsule's name or `signature`; with `cython=True` Cython's hidden parameters are hidden.
pub(super) fn from_capsule(
    capsule: &Bound<'_, PyAny>,
    signature: Option<&Bound<'_, PyAny>>,
    name: Option<String>,
    cython: bool,
    user_data: Option<Py<PyAny>>,
    origin: Option<Py<PyAny>>,
) -> PyResult<NativeCallable> {
    let py = capsule.py();
    let (capsule_name, address) = read_capsule(capsule)?;
    let from_name = capsule_name.as_deref().map(crate::abi::parse_signature);
    let sig = match (signature.filter(|s| !s.is_none()), from_name) {
        (Some(s), Some(Ok(named))) => {
            let wanted = signature_from_object(s)?;
            if !wanted.abi_eq(&named) {
                return Err(PyTypeError::new_err(format!(
                    "the capsule is named '{named}', which is not ABI-compatible with signature='{wanted}'"
                )));
            }
            wanted
        }
        (Some(s), _) => signature_from_object(s)?,
        (None, Some(Ok(named))) => Arc::new(named),
        (None, Some(Err(e))) => {
            return Err(PyTypeError::new_err(format!(
                "the capsule's name {:?} is not a C signature, so its signature is unknown; pass signature= (the name did not parse: {})",
                capsule_name.unwrap_or_default(),
                e.message
            )))
        }
        (None, None) => {
            return Err(PyTypeError::new_err(
                "the capsule has no name, so its signature is unknown; pass signature=",
            ))
        }
    };
    let name = name.unwrap_or_else(|| "capsule".into());
    let mut nc = NativeCallable::new(address, sig, name, capsule.clone().unbind())?;
    if cython {
        nc = nc.hide_cython_parameters();
    }
    nc.user_data = match user_data.filter(|u| !u.is_none(py)) {
        // A NULL user data means "none given": scipy then falls back to the context.
        Some(u) if user_data_address(u.bind(py))? != 0 => Some(u),
        _ => imported_context(capsule)?,
    };
    nc.origin = origin;
    Ok(nc)
}
