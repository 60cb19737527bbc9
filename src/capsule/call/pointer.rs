//! Pointer arguments: `None`, int addresses, NativeCallables for function pointers,
//! buffers of the pointee, and (through `nativecall._interop`) ctypes and cffi objects.

use std::ffi::c_int;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};

use crate::abi::{dtype, FloatType, IntType, Type};

use super::super::callable::NativeCallable;
use super::super::errors::type_name;
use super::{ArgContext, Borrows};

/// A filled buffer view's struct format (`"B"`, unsigned bytes, when it gives none).
pub(crate) fn buffer_format(view: &ffi::Py_buffer) -> String {
    if view.format.is_null() {
        return "B".to_string();
    }
    // SAFETY: a non-null format is a NUL-terminated string owned by the view.
    unsafe { std::ffi::CStr::from_ptr(view.format) }
        .to_string_lossy()
        .into_owned()
}

/// The element type a buffer's struct-module format describes, if it is a plain scalar.
pub(crate) fn buffer_element(format: &str, itemsize: usize) -> Option<Type> {
    let body = format.trim_start_matches(['@', '=', '<', '>', '!']);
    let foreign = match format.chars().next() {
        Some('<') => cfg!(target_endian = "big"),
        Some('>' | '!') => cfg!(target_endian = "little"),
        _ => false,
    };
    if foreign {
        return None;
    }
    // The struct module's letters by array-interface kind; the size is the buffer's.
    let element = |kind: char| dtype::of_kind(kind, itemsize).map(|d| d.ty.clone());
    match body {
        "b" | "h" | "i" | "l" | "q" | "n" => element('i'),
        "B" | "H" | "I" | "L" | "Q" | "N" => element('u'),
        "?" => element('b'),
        "f" if itemsize == 4 => element('f'),
        "d" if itemsize == 8 => element('f'),
        "Zf" if itemsize == 8 => element('c'),
        "Zd" if itemsize == 16 => element('c'),
        // Not array elements, but what a pointer parameter may point at.
        "c" => Some(Type::Int(IntType::Char)),
        "g" => Some(Type::Float(FloatType::LongDouble)),
        "Zg" => Some(Type::Complex(FloatType::LongDouble)),
        _ => None,
    }
}

pub(super) fn pointer_value(
    obj: &Bound<'_, PyAny>,
    pointee: &Type,
    is_const: bool,
    ty: &Type,
    ctx: &ArgContext<'_>,
    borrows: &mut Borrows,
) -> PyResult<usize> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(0);
    }
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return obj.extract::<usize>().map_err(|_| {
            PyOverflowError::new_err(format!(
                "{} must be an address in 0..=2**{}-1, got {}",
                ctx.what(ty),
                usize::BITS,
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        });
    }
    if let (Type::Function(wanted), Ok(nc)) = (pointee, obj.cast::<NativeCallable>()) {
        let nc = nc.get();
        if !nc.signature.abi_eq(wanted) {
            return Err(PyTypeError::new_err(format!(
                "{} needs a function '{wanted}', got {} with '{}'",
                ctx.what(ty),
                nc.name,
                nc.signature
            )));
        }
        // A thunk (for hidden arguments) lives as long as `nc`: keep it for the call.
        let address = nc.export_address()?;
        borrows.objects.push(obj.clone().unbind());
        return Ok(address);
    }
    // SAFETY: `obj` is a live object; PyObject_CheckBuffer only inspects its type.
    if unsafe { ffi::PyObject_CheckBuffer(obj.as_ptr()) } == 1
        && !matches!(pointee, Type::Function(_))
    {
        let mut view: Box<ffi::Py_buffer> = Box::new(ffi::Py_buffer::new());
        // SAFETY: `view` is a fresh Py_buffer; on success it is released by `borrows`.
        let rc = unsafe {
            ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, ffi::PyBUF_RECORDS_RO as c_int)
        };
        if rc == 0 {
            let format = buffer_format(&view);
            let itemsize = view.itemsize as usize;
            let buf = view.buf as usize;
            let readonly = view.readonly != 0;
            // SAFETY: the view is valid; 'C' asks for row-major contiguity.
            let contiguous =
                unsafe { ffi::PyBuffer_IsContiguous(&*view, b'C' as std::ffi::c_char) } == 1;
            borrows.buffers.push(view);
            let element = buffer_element(&format, itemsize);
            if element.is_none()
                && format
                    .trim_start_matches(['@', '=', '<', '>', '!'])
                    .starts_with(['&', 'T', 'P', 'O', 'X', '('])
            {
                // A ctypes pointer or struct: not an array of the pointee; ask the adapters.
            } else {
                if *pointee != Type::Void {
                    match &element {
                        Some(e) if e.abi_eq(pointee) => {}
                        _ => {
                            return Err(PyTypeError::new_err(format!(
                                "{} needs a buffer of {pointee}, got {} with format '{format}' ({itemsize}-byte items)",
                                ctx.what(ty),
                                type_name(obj)
                            )))
                        }
                    }
                }
                if !contiguous {
                    return Err(PyTypeError::new_err(format!(
                        "{} needs C-contiguous memory, got a non-contiguous {} (pass numpy.ascontiguousarray(x))",
                        ctx.what(ty),
                        type_name(obj)
                    )));
                }
                if readonly && !is_const {
                    return Err(PyValueError::new_err(format!(
                        "{} is read-only, and the function may write through '{ty}' (declare the parameter const to pass read-only memory)",
                        ctx.what(ty)
                    )));
                }
                return Ok(buf);
            }
        } else {
            // Not exportable as a record buffer; fall through to the adapters' error.
            PyErr::take(py);
        }
    }
    let adapter = super::super::py_functions::pointer_argument(py)?;
    let ty_obj = super::super::types::PyNativeType::new(ty.clone());
    let (address, keep): (usize, Bound<'_, PyAny>) =
        adapter.call1((obj, ty_obj, ctx.what(ty)))?.extract()?;
    if !keep.is_none() {
        borrows.objects.push(keep.unbind());
    }
    Ok(address)
}
