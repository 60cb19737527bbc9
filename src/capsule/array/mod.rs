//! `nativecall.Array`: a zero-copy view of any CPU array object (DLPack, the buffer
//! protocol, `__array_interface__`) or Rust-owned memory, exported through DLPack again,
//! with dlpark doing the DLPack protocol work.
//!
//! The struct, what keeps its memory alive and its DLPack export live here; arrays in
//! memory nativecall owns are made in [`alloc`], and views of other producers' arrays in
//! [`import`].

use std::sync::Arc;

use dlpark::ffi::{
    DLDataType, DLDataTypeCode, DLDevice, DLManagedTensor, DLManagedTensorVersioned,
};
use dlpark::metadata::Dynamic;
use dlpark::python::{export_dlpack, DlpackExporter, ExportRequest, ImportedDlpack};
use dlpark::{DlpackFlags, Managed, ManagedTensorBase};
use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::abi::{dtype, Type};

use super::types::PyNativeType;

mod alloc;
mod import;

pub(crate) use alloc::{empty, zeros};
pub(crate) use import::import_any;
pub(crate) use import::{asarray, from_dlpack};

/// What keeps an array's memory alive (held, never read: dropping it frees the memory).
#[allow(dead_code)]
enum Storage {
    /// Memory nativecall allocated (8-byte aligned, zero-initialised).
    Owned(Box<[u64]>),
    /// A tensor imported from another producer; dropping it runs its deleter once.
    Imported(ImportedDlpack),
    /// A buffer export (PEP 3118) held open: while it is, the exporter may not free,
    /// move or resize the memory (a `bytearray` refuses to grow, an `mmap` to close).
    Buffer(HeldBuffer),
    /// The object whose `__array_interface__` gave a raw address: holding it keeps the
    /// memory alive, as NumPy's base object does.
    Object(Py<PyAny>),
}

/// A filled `Py_buffer`, released exactly once when dropped. Boxed so the view never
/// moves between `PyObject_GetBuffer` and `PyBuffer_Release`.
pub(crate) struct HeldBuffer(Box<ffi::Py_buffer>);

impl HeldBuffer {
    /// Ask `obj` for a view with `flags`; the Python error if it refuses.
    fn get(obj: &Bound<'_, PyAny>, flags: i32) -> PyResult<HeldBuffer> {
        let mut view = Box::new(ffi::Py_buffer::new());
        // SAFETY: `view` is a fresh Py_buffer; on success it is released by Drop.
        if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, flags) } != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        Ok(HeldBuffer(view))
    }
}

impl Drop for HeldBuffer {
    fn drop(&mut self) {
        // The last owner may be a DLPack consumer's deleter on a thread without the GIL.
        // During interpreter shutdown the view is leaked instead of released unsafely.
        Python::try_attach(|_| {
            // SAFETY: filled by a successful PyObject_GetBuffer and released only here.
            unsafe { ffi::PyBuffer_Release(&mut *self.0) }
        });
    }
}

struct Shared(#[allow(dead_code)] Storage);

// SAFETY: the storage is only read for its address after construction and dropped
// once; DLPack deleters may run on any thread (NumPy's takes the GIL itself), a held
// buffer takes the GIL to release itself, and `Py` defers its decref without the GIL.
unsafe impl Send for Shared {}
// SAFETY: as above, shared access never touches the storage.
unsafe impl Sync for Shared {}

/// An array: shape, strides (in elements), dtype and device, over memory that an
/// imported producer (DLPack, a buffer, an `__array_interface__`) or nativecall owns.
/// `numpy.from_dlpack(array)` views it without copying, and kernels take it wherever
/// an array parameter is declared.
#[pyclass(module = "nativecall", name = "Array", frozen)]
pub struct Array {
    storage: Arc<Shared>,
    data: usize,
    shape: Vec<i64>,
    strides: Vec<i64>,
    dtype: DLDataType,
    device: DLDevice,
    readonly: bool,
}

/// The DLPack dtype of an element type (see [`crate::abi::dtype`]).
fn dtype_of(t: &Type) -> PyResult<DLDataType> {
    let d = dtype::of_type(t)
        .ok_or_else(|| PyTypeError::new_err(format!("'{t}' is not an array element type")))?;
    Ok(DLDataType {
        code: DLDataTypeCode(d.code),
        bits: d.bits,
        lanes: d.lanes,
    })
}

/// The element type of a DLPack dtype, if arrays hold it.
fn type_of(dt: DLDataType) -> Option<Type> {
    dtype::of_dlpack(dt.code.0, dt.bits, dt.lanes).map(|d| d.ty.clone())
}

fn compact(shape: &[i64]) -> Vec<i64> {
    let mut strides = vec![1i64; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * shape[k + 1].max(1);
    }
    strides
}

impl Array {
    /// A descriptor of this array (pointing into its own shape and strides) for a call,
    /// with whether it is read-only; the caller keeps the Array alive meanwhile.
    pub(crate) fn descriptor(&self) -> (DLDataType, &[i64], &[i64], usize, DLDevice, bool) {
        (
            self.dtype,
            &self.shape,
            &self.strides,
            self.data,
            self.device,
            self.readonly,
        )
    }

    /// The element type as kernels spell it (`float64`), for error messages.
    pub(crate) fn element_name(&self) -> String {
        type_of(self.dtype).map_or_else(
            || {
                format!(
                    "DLPack dtype (code {}, {} bits)",
                    self.dtype.code.0, self.dtype.bits
                )
            },
            |t| format!("{} elements", crate::jit::typing::kernel_type_name(&t)),
        )
    }

    fn managed<M: ManagedTensorBase>(&self) -> PyResult<Managed<M>> {
        let err = |e: &dyn std::fmt::Display| {
            PyBufferError::new_err(format!("DLPack export failed: {e}"))
        };
        let mut init = Dynamic::new(self.shape.clone(), self.strides.clone())
            .initialize_as::<M>(self.storage.clone())
            .map_err(|e| err(&e))?;
        init.set_data(self.data as *mut std::ffi::c_void)
            .set_device(self.device)
            .set_dtype(self.dtype);
        if self.readonly {
            init.set_flags(DlpackFlags::READ_ONLY)
                .map_err(|e| err(&e))?;
        }
        // SAFETY: every field is set; the context (an Arc of the storage) keeps the
        // memory alive until the consumer's deleter runs.
        Ok(unsafe { init.finish() })
    }

    fn nbytes(&self) -> usize {
        self.shape.iter().product::<i64>().max(0) as usize * (self.dtype.bits as usize / 8)
    }
}

impl DlpackExporter for Array {
    fn device(&self) -> DLDevice {
        self.device
    }

    fn flags(&self) -> DlpackFlags {
        if self.readonly {
            DlpackFlags::READ_ONLY
        } else {
            DlpackFlags::empty()
        }
    }

    fn prepare_export(&self, _py: Python<'_>, _request: &ExportRequest<'_>) -> PyResult<()> {
        Ok(())
    }

    fn export_legacy(&self, _py: Python<'_>) -> PyResult<Managed<DLManagedTensor>> {
        self.managed()
    }

    fn export_versioned(&self, _py: Python<'_>) -> PyResult<Managed<DLManagedTensorVersioned>> {
        self.managed()
    }
}

#[pymethods]
impl Array {
    /// The shape.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.shape)
    }

    /// The strides, in elements (DLPack's unit; NumPy's are in bytes).
    #[getter]
    fn strides<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.strides)
    }

    /// The element type.
    #[getter]
    fn dtype(&self) -> PyNativeType {
        PyNativeType::new(type_of(self.dtype).expect("checked at construction"))
    }

    /// `(device_type, device_id)` as DLPack numbers them (1 is the CPU).
    #[getter]
    fn device(&self) -> (u32, i32) {
        (self.device.device_type.0, self.device.device_id)
    }

    /// The number of dimensions.
    #[getter]
    fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    #[getter]
    fn size(&self) -> i64 {
        self.shape.iter().product()
    }

    /// Whether the producer marked the memory read-only.
    #[getter]
    fn readonly(&self) -> bool {
        self.readonly
    }

    /// The address of the first element.
    #[getter]
    fn address(&self) -> usize {
        self.data
    }

    fn __len__(&self) -> PyResult<usize> {
        self.shape
            .first()
            .map(|&n| n as usize)
            .ok_or_else(|| PyTypeError::new_err("len() of a 0-d array"))
    }

    fn __repr__(&self) -> String {
        let t = type_of(self.dtype)
            .map(|t| crate::jit::typing::kernel_type_name(&t))
            .unwrap_or_default();
        format!(
            "nativecall.Array(shape={:?}, dtype={t}, strides={:?})",
            self.shape, self.strides
        )
    }

    /// The DLPack protocol: a capsule over the same memory (versioned when the consumer
    /// asks for `max_version >= (1, 0)`, legacy otherwise). `copy=True` exports a copy.
    #[pyo3(signature = (*, stream=None, max_version=None, dl_device=None, copy=None))]
    fn __dlpack__<'py>(
        slf: &Bound<'py, Self>,
        stream: Option<&Bound<'py, PyAny>>,
        max_version: Option<(u32, u32)>,
        dl_device: Option<(u32, i32)>,
        copy: Option<bool>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let me = slf.get();
        if copy == Some(true) {
            let copied = me.copy_contiguous()?;
            let request = ExportRequest::parse(stream, max_version, dl_device, None)?;
            return export_dlpack(&copied, py, request);
        }
        let request = ExportRequest::parse(stream, max_version, dl_device, copy)?;
        export_dlpack(me, py, request)
    }

    /// `(device_type, device_id)`, as the DLPack protocol asks.
    fn __dlpack_device__(&self) -> (u32, i32) {
        self.device()
    }

    /// A C-contiguous copy in nativecall-owned memory.
    fn copy(&self) -> PyResult<Array> {
        self.copy_contiguous()
    }

    /// The number of bytes the elements take.
    #[getter(nbytes)]
    fn py_nbytes(&self) -> usize {
        self.nbytes()
    }
}

impl Array {
    fn copy_contiguous(&self) -> PyResult<Array> {
        if self.device.device_type.0 != 1 {
            return Err(PyBufferError::new_err("only CPU arrays can be copied"));
        }
        let out = Array::allocate(self.shape.clone(), self.dtype)?;
        let item = self.dtype.bits as usize / 8;
        let n = self.size().max(0) as usize;
        let mut index = vec![0i64; self.shape.len()];
        for flat in 0..n {
            let offset: i64 = index.iter().zip(&self.strides).map(|(i, s)| i * s).sum();
            // SAFETY: `index` stays inside the shape, so the source element is inside the
            // producer's array; the destination has room for `n` items.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    (self.data as *const u8).offset((offset * item as i64) as isize),
                    (out.data as *mut u8).add(flat * item),
                    item,
                );
            }
            for k in (0..index.len()).rev() {
                index[k] += 1;
                if index[k] < self.shape[k] {
                    break;
                }
                index[k] = 0;
            }
        }
        Ok(out)
    }
}
