//! Generated Python entries ([`crate::jit::entry`]) for callables whose parameters and
//! result are ints, floats, bools, `complex128` and pointers: what the entry needs of the interpreter, the
//! error helpers it calls, and the choice of which callables get one.
//!
//! A callable starts with the general `vectorcall`; its first call from Python installs
//! the generated entry in the instance (when its signature has one), so code never
//! called from Python costs nothing, and one entry, generated once per signature, serves
//! every callable of that signature.

use std::panic::{catch_unwind, AssertUnwindSafe};

use once_cell::sync::OnceCell;
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::Borrowed;

use crate::jit::entry::{entry_serves, python_entry, EntryApi, EntryParam, EntrySpec};

use super::super::callable::NativeCallable;
use super::{clear_kernel_errors, kernel_errors, runtime_state};

/// The most parameters (hidden ones included) an entry takes.
const MAX_PARAMS: usize = 8;

/// The interpreter's side of every entry, or `None` where an exact `float` does not keep
/// its value right after the object header (then no entries are made: the general path
/// serves every call).
fn api(slow: usize) -> Option<EntryApi> {
    static API: OnceCell<Option<EntryApi>> = OnceCell::new();
    *API.get_or_init(|| {
        let float_value_offset = std::mem::size_of::<ffi::PyObject>() as i32;
        // SAFETY: called with the GIL held (from a call into a callable); the probe float
        // is a new reference, read within its size and released.
        let layout_holds = unsafe {
            let probe = ffi::PyFloat_FromDouble(-1234.5678);
            if probe.is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            let at = probe
                .cast::<u8>()
                .add(float_value_offset as usize)
                .cast::<f64>()
                .read();
            let exact = ffi::Py_TYPE(probe) == std::ptr::addr_of_mut!(ffi::PyFloat_Type);
            ffi::Py_DecRef(probe);
            let z = ffi::PyComplex_FromDoubles(1.5, -2.25);
            if z.is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            let parts = z
                .cast::<u8>()
                .add(float_value_offset as usize)
                .cast::<[f64; 2]>();
            let complex_holds = ffi::Py_TYPE(z) == std::ptr::addr_of_mut!(ffi::PyComplex_Type)
                && parts.read() == [1.5, -2.25];
            ffi::Py_DecRef(z);
            exact && at == -1234.5678 && complex_holds
        };
        if !layout_holds {
            return None;
        }
        // SAFETY: addresses of the interpreter's static objects and exported functions.
        unsafe {
            Some(EntryApi {
                type_offset: std::mem::offset_of!(ffi::PyObject, ob_type) as i32,
                float_value_offset,
                // Py_complex's parts follow the header as a float's value does.
                complex_value_offset: float_value_offset,
                float_type: std::ptr::addr_of_mut!(ffi::PyFloat_Type) as usize,
                complex_type: std::ptr::addr_of_mut!(ffi::PyComplex_Type) as usize,
                long_type: std::ptr::addr_of_mut!(ffi::PyLong_Type) as usize,
                py_true: ffi::Py_True() as usize,
                py_false: ffi::Py_False() as usize,
                py_none: ffi::Py_None() as usize,
                float_from_double: ffi::PyFloat_FromDouble as *const () as usize,
                complex_from_doubles: ffi::PyComplex_FromDoubles as *const () as usize,
                long_as_long_long_and_overflow: ffi::PyLong_AsLongLongAndOverflow as *const ()
                    as usize,
                long_from_long_long: ffi::PyLong_FromLongLong as *const () as usize,
                long_from_unsigned_long_long: ffi::PyLong_FromUnsignedLongLong as *const ()
                    as usize,
                incref: ffi::Py_IncRef as *const () as usize,
                slow,
                clear: clear_errors as *const () as usize,
                check: check_errors as *const () as usize,
            })
        }
    })
}

/// The generated entry for `callee` (the object `callable`), or `None` when its calls
/// take the general path: parameters or result other than ints, floats and bools, more
/// than [`MAX_PARAMS`] parameters, or `nogil=True`. `slow` is the general entry.
pub(crate) fn entry_for(
    callee: &NativeCallable,
    callable: *mut ffi::PyObject,
    slow: usize,
) -> Option<usize> {
    let raw = &callee.raw_signature;
    let visible = &callee.signature;
    let hidden = callee.hidden();
    let is_hidden = |index: usize| hidden.iter().any(|(i, _)| *i == index);
    // Hidden parameters are constants of any int or pointer type (Cython's flag and
    // optional-arguments struct); the others must be values the entry can unbox.
    if callee.nogil()
        || raw.params.len() > MAX_PARAMS
        || !entry_serves(&raw.ret, true)
        || !raw
            .arg_types()
            .enumerate()
            .all(|(i, t)| is_hidden(i) || entry_serves(t, false))
        || !visible.arg_types().all(|t| entry_serves(t, false))
    {
        return None;
    }
    let mut next = 0;
    let params = raw
        .params
        .iter()
        .enumerate()
        .map(
            |(index, p)| match hidden.iter().find(|(i, _)| *i == index) {
                Some((_, slot)) => {
                    EntryParam::Hidden(i64::from_le_bytes(slot.0[..8].try_into().expect("8 bytes")))
                }
                None => {
                    // The visible spelling decides conversions (as on the general path).
                    let ty = visible.params.get(next).map_or(&p.ty, |v| &v.ty).clone();
                    next += 1;
                    EntryParam::Visible(ty)
                }
            },
        )
        .collect();
    let code_offset = (std::ptr::addr_of!(callee.address) as isize) - (callable as isize);
    let spec = EntrySpec {
        raw: (**raw).clone(),
        params,
        code_offset: i32::try_from(code_offset).ok()?,
        errors: callee.records_errors(),
    };
    python_entry(&spec, &api(slow)?).ok()
}

/// The callable behind an entry's `callable` argument.
///
/// # Safety
/// `callable` is a live instance of a `NativeCallable` subtype, and the GIL is held.
unsafe fn callee<'a>(py: Python<'a>, callable: *mut ffi::PyObject) -> &'a NativeCallable {
    // SAFETY: as the caller promises; the object outlives the call that passed it.
    let me = unsafe { Borrowed::from_ptr(py, callable).cast_unchecked::<NativeCallable>() };
    // SAFETY: the object is borrowed by the call for longer than this reference is used.
    unsafe { &*(me.get() as *const NativeCallable) }
}

/// `clear(callable)`: forget errors left in this thread's runtime state.
extern "C" fn clear_errors(callable: *mut ffi::PyObject) {
    // SAFETY: entries run with the GIL held.
    let py = unsafe { Python::assume_attached() };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: entries pass the callable they were called on.
        clear_kernel_errors(unsafe { callee(py, callable) });
    }));
}

/// `check(callable)`: 1 with the exception set when the call left an error, else 0.
extern "C" fn check_errors(callable: *mut ffi::PyObject) -> i32 {
    // SAFETY: entries run with the GIL held.
    let py = unsafe { Python::assume_attached() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: entries pass the callable they were called on.
        let me = unsafe { callee(py, callable) };
        kernel_errors(me, &me.name, runtime_state(me))
    }));
    match result {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            e.restore(py);
            1
        }
        Err(_) => {
            PyRuntimeError::new_err("nativecall: internal error (a panic) during a call")
                .restore(py);
            1
        }
    }
}
