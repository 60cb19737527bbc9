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

use crate::abi::{dtype, Type};
use crate::jit::entry::{
    entry_serves, python_entry, ArrayParam, EntryApi, EntryParam, EntrySpec, NumpyApi,
};

use super::super::array::Array;
use super::super::callable::NativeCallable;
use super::array_arg::c_contiguous;
use super::{clear_kernel_errors, fills, kernel_errors, runtime_state, Fill};
use crate::abi::dlpack::DLTensor;

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
                describe: describe_array as *const () as usize,
            })
        }
    })
}

/// Each of NumPy's builtin type numbers with its dtype's kind and item size.
type NumpyKinds = Vec<(i32, char, usize)>;

/// Where NumPy keeps what an array parameter reads, and each of NumPy's type numbers
/// with the kind and size of its elements; `None` where NumPy cannot be imported (or
/// the platform's `npy_intp` is not the `int64_t` of a DLTensor's shape).
fn numpy_api(py: Python<'_>) -> Option<&'static (NumpyApi, NumpyKinds)> {
    use numpy::npyffi::{
        objects::{PyArrayObject_fields, PyArray_Descr_fields},
        NpyTypes, PyArrayObject, PyArray_Descr, PY_ARRAY_API,
    };
    use numpy::{PyArrayDescr, PyArrayDescrMethods};
    use std::mem::offset_of;
    static NUMPY: OnceCell<Option<(NumpyApi, NumpyKinds)>> = OnceCell::new();
    NUMPY
        .get_or_init(|| {
            if !cfg!(target_pointer_width = "64") || py.import("numpy").is_err() {
                return None;
            }
            let array = |field: usize| (offset_of!(PyArrayObject, fields) + field) as i32;
            let descr = |field: usize| (offset_of!(PyArray_Descr, fields) + field) as i32;
            // SAFETY: NumPy's API table is loaded (numpy imports); the type object is a
            // static of NumPy's, alive for the process.
            let ndarray_type =
                unsafe { numpy::npyffi::get_type_object(py, NpyTypes::PyArray_Type) } as usize;
            let api = NumpyApi {
                ndarray_type,
                data: array(offset_of!(PyArrayObject_fields, data)),
                nd: array(offset_of!(PyArrayObject_fields, nd)),
                dimensions: array(offset_of!(PyArrayObject_fields, dimensions)),
                strides: array(offset_of!(PyArrayObject_fields, strides)),
                descr: array(offset_of!(PyArrayObject_fields, descr)),
                flags: array(offset_of!(PyArrayObject_fields, flags)),
                type_num: descr(offset_of!(PyArray_Descr_fields, type_num)),
                byteorder: descr(offset_of!(PyArray_Descr_fields, byteorder)),
            };
            // NPY_BOOL (0) to NPY_CLONGDOUBLE (16).
            let mut kinds = Vec::new();
            for t in 0..=16 {
                // SAFETY: a builtin type number; the result is a new reference or NULL.
                let d = unsafe { PY_ARRAY_API.PyArray_DescrFromType(py, t) };
                // SAFETY: `d` is a new reference to a dtype, or NULL with an error set.
                let Some(d) = (unsafe { Bound::from_owned_ptr_or_opt(py, d.cast()) }) else {
                    PyErr::take(py);
                    continue;
                };
                if let Ok(d) = d.cast::<PyArrayDescr>() {
                    kinds.push((t, d.kind() as char, d.itemsize()));
                }
            }
            Some((api, kinds))
        })
        .as_ref()
}

/// How an array parameter of element type `elem` takes a NumPy array on the fast path;
/// `None` for elements the general path also sends elsewhere (complex numbers).
fn array_param(
    elem: &Type,
    ndim: u32,
    contiguous: bool,
    writable: bool,
    kinds: &[(i32, char, usize)],
) -> Option<ArrayParam> {
    let d = dtype::of_type(elem).filter(|d| d.kind != 'c')?;
    let itemsize = d.itemsize();
    let type_nums: Vec<i32> = kinds
        .iter()
        .filter(|(_, k, size)| *k == d.kind && *size == itemsize)
        .map(|(t, ..)| *t)
        .collect();
    (!type_nums.is_empty() && itemsize.is_power_of_two()).then_some(ArrayParam {
        ndim,
        itemsize: itemsize as u32,
        type_nums,
        dl_code: d.code,
        dl_bits: d.bits,
        contiguous,
        writable,
    })
}

/// The generated entry for `callee` (the object `callable`), or `None` when its calls
/// take the general path: parameters or result other than ints, floats and bools, more
/// than [`MAX_PARAMS`] parameters, or `nogil=True`. `slow` is the general entry.
pub(crate) fn entry_for(
    py: Python<'_>,
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
    let array = |t: &Type| matches!(t, Type::Array { .. });
    if callee.nogil()
        || raw.params.len() > MAX_PARAMS
        || !entry_serves(&raw.ret, true)
        || !raw
            .arg_types()
            .enumerate()
            .all(|(i, t)| is_hidden(i) || entry_serves(t, false) || array(t))
        || !visible
            .arg_types()
            .all(|t| entry_serves(t, false) || array(t))
    {
        return None;
    }
    // NumPy is imported only for callables that take arrays.
    let numpy = if visible.arg_types().any(array) {
        Some(numpy_api(py)?)
    } else {
        None
    };
    let params = fills(callee)
        .map(|fill| match fill {
            Fill::Hidden(slot) => Some(EntryParam::Hidden(i64::from_le_bytes(
                slot.0[..8].try_into().expect("8 bytes"),
            ))),
            Fill::Arg(k, ty) => match (ty, numpy) {
                (
                    Type::Array {
                        dtype,
                        ndim,
                        contiguous,
                    },
                    Some((_, kinds)),
                ) => Some(EntryParam::Array(array_param(
                    dtype,
                    *ndim,
                    *contiguous,
                    callee.may_write(k),
                    kinds,
                )?)),
                _ => Some(EntryParam::Visible(ty.clone())),
            },
        })
        .collect::<Option<Vec<_>>>()?;
    let code_offset = (std::ptr::addr_of!(callee.address) as isize) - (callable as isize);
    let spec = EntrySpec {
        raw: (**raw).clone(),
        params,
        code_offset: i32::try_from(code_offset).ok()?,
        errors: callee.records_errors(),
    };
    python_entry(&spec, &api(slow)?, numpy.map(|(n, _)| n)).ok()
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

/// `describe(obj, tensor, param)`: fill `tensor` for a `nativecall.Array` that `param`
/// takes as it is (1); anything else, or any mismatch (dtype, dimensions, contiguity, a
/// read-only array for a written parameter, another device), goes to the general entry
/// (0), which converts or words the refusal. The shape and strides are the Array's own.
extern "C" fn describe_array(
    obj: *mut ffi::PyObject,
    tensor: *mut DLTensor,
    param: *const ArrayParam,
) -> i32 {
    // SAFETY: entries run with the GIL held.
    let py = unsafe { Python::assume_attached() };
    let described = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `obj` is an argument the caller holds for the call; `param` was leaked
        // by the entry that passes it.
        let (obj, a) = unsafe { (Borrowed::from_ptr(py, obj), &*param) };
        let Ok(array) = obj.cast::<Array>() else {
            return false;
        };
        let (dtype, shape, strides, data, device, readonly) = array.get().descriptor();
        let fits = device.device_type.0 == 1
            && dtype.code.0 == a.dl_code
            && dtype.bits == a.dl_bits
            && dtype.lanes == 1
            && shape.len() == a.ndim as usize
            && strides.len() == shape.len()
            && !(a.writable && readonly)
            && (!a.contiguous || c_contiguous(shape, strides));
        if fits {
            // SAFETY: `tensor` is the entry's stack slot for one DLTensor; the shape and
            // strides stay put while the Array (held by the caller) lives.
            unsafe {
                tensor.write(DLTensor {
                    data: data as *mut std::ffi::c_void,
                    device,
                    ndim: a.ndim as i32,
                    dtype,
                    shape: shape.as_ptr() as *mut i64,
                    strides: strides.as_ptr() as *mut i64,
                    byte_offset: 0,
                })
            };
        }
        fits
    }));
    matches!(described, Ok(true)) as i32
}
