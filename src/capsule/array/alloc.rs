//! Arrays in memory nativecall owns: `nativecall.zeros` and `nativecall.empty`.

use std::sync::Arc;

use dlpark::ffi::{DLDataType, DLDevice};
use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::abi::Type;

use super::super::py_functions;
use super::super::types::type_from_object;
use super::{compact, dtype_of, Array, Shared, Storage};

impl Array {
    pub(super) fn allocate(shape: Vec<i64>, dtype: DLDataType) -> PyResult<Array> {
        if shape.iter().any(|&d| d < 0) {
            return Err(PyValueError::new_err(format!(
                "negative dimension in shape {shape:?}"
            )));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize));
        let bytes = count
            .and_then(|n| n.checked_mul(dtype.bits as usize / 8))
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "an array of shape {shape:?} is too large: its size in bytes overflows"
                ))
            })?;
        let buf = zeroed_words(bytes.div_ceil(8).max(1)).ok_or_else(|| {
            PyMemoryError::new_err(format!(
                "cannot allocate {bytes} bytes for an array of shape {shape:?}"
            ))
        })?;
        let data = buf.as_ptr() as usize;
        Ok(Array {
            storage: Arc::new(Shared(Storage::Owned(buf))),
            data,
            strides: compact(&shape),
            shape,
            dtype,
            device: DLDevice::CPU,
            readonly: false,
        })
    }
}

/// `n` zeroed words, or `None` if the allocator refuses (where `vec!` would abort the
/// process). Zeroed memory from the allocator is not written here: untouched pages
/// cost nothing, as with NumPy's `calloc`.
fn zeroed_words(n: usize) -> Option<Box<[u64]>> {
    let layout = std::alloc::Layout::array::<u64>(n).ok()?;
    // SAFETY: `layout` has a non-zero size (n >= 1).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) } as *mut u64;
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `[u64; n]`,
    // and all-zero bytes are valid `u64`s; the Box frees it with the same layout.
    Some(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, n)) })
}

fn shape_from(obj: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if let Ok(n) = obj.extract::<i64>() {
        return Ok(vec![n]);
    }
    obj.extract::<Vec<i64>>()
        .map_err(|_| PyTypeError::new_err("a shape is an int or a sequence of ints"))
}

fn element_type(dtype: Option<&Bound<'_, PyAny>>) -> PyResult<DLDataType> {
    let Some(dtype) = dtype else {
        return dtype_of(&Type::F64);
    };
    if let Ok(t) = type_from_object(dtype) {
        return dtype_of(&t);
    }
    // NumPy dtypes and what numpy.dtype() takes (np.float64, float, ...), by their name.
    let py = dtype.py();
    let not_element = || {
        PyTypeError::new_err(format!(
            "not an array element type: expected a nativecall type, a name such as 'float64' or a NumPy dtype, got {}",
            dtype.repr().map_or_else(|_| "?".into(), |r| r.to_string())
        ))
    };
    let np_dtype = py_functions::numpy_dtype(py)?
        .call1((dtype,))
        .map_err(|_| not_element())?;
    if !np_dtype.getattr("isnative")?.is_truthy()? {
        return Err(PyTypeError::new_err(format!(
            "nativecall arrays are in native byte order, got NumPy dtype '{}'",
            np_dtype.getattr("str")?
        )));
    }
    let name: String = np_dtype.getattr("name")?.extract()?;
    let t = crate::abi::parse_type_text(&name).map_err(|_| not_element())?;
    dtype_of(&t)
}

/// A new array of `shape` and `dtype` in memory nativecall owns, zero-filled. `dtype` is a
/// nativecall type, a type name (`"float64"`, `"int32"`) or a NumPy dtype (`np.float64`).
#[pyfunction]
#[pyo3(signature = (shape, dtype=None))]
pub(crate) fn zeros(shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Array> {
    let dt = element_type(dtype)?;
    Array::allocate(shape_from(shape)?, dt)
}

/// A new array of `shape` and `dtype` in memory nativecall owns (nativecall zero-fills it
/// too: reading uninitialised memory is never worth the risk).
#[pyfunction]
#[pyo3(signature = (shape, dtype=None))]
pub(crate) fn empty(shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Array> {
    zeros(shape, dtype)
}
