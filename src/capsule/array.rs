//! `nativecall.Array`: a zero-copy DLPack view (or Rust-owned memory) that exports
//! itself through DLPack again, with dlpark doing the protocol work.

use std::sync::Arc;

use dlpark::ffi::{
    DLDataType, DLDataTypeCode, DLDevice, DLManagedTensor, DLManagedTensorVersioned,
};
use dlpark::metadata::Dynamic;
use dlpark::python::{export_dlpack, DlpackExporter, ExportRequest, ImportedDlpack};
use dlpark::{DlpackFlags, Managed, ManagedTensorBase};
use pyo3::exceptions::{PyBufferError, PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::abi::{FloatType, IntType, Type};

use super::types::{type_from_object, PyNativeType};

/// What keeps an array's memory alive (held, never read: dropping it frees the memory).
#[allow(dead_code)]
enum Storage {
    /// Memory nativecall allocated (8-byte aligned, zero-initialised).
    Owned(Box<[u64]>),
    /// A tensor imported from another producer; dropping it runs its deleter once.
    Imported(ImportedDlpack),
}

struct Shared(#[allow(dead_code)] Storage);

// SAFETY: the storage is only read for its address after construction and dropped
// once; DLPack deleters may run on any thread (NumPy's takes the GIL itself).
unsafe impl Send for Shared {}
// SAFETY: as above, shared access never touches the storage.
unsafe impl Sync for Shared {}

/// A DLPack array: shape, strides (in elements), dtype and device, over memory that an
/// imported producer or nativecall owns. `numpy.from_dlpack(array)` views it without
/// copying, and kernels take it wherever an array parameter is declared.
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

fn dtype_of(t: &Type) -> PyResult<DLDataType> {
    let (code, bits) = match t {
        Type::Bool => (6, 8),
        Type::Int(i) => (if i.signed() { 0 } else { 1 }, i.bits() as u8),
        Type::Float(FloatType::F32) => (2, 32),
        Type::Float(FloatType::F64) => (2, 64),
        Type::Complex(FloatType::F32) => (5, 64),
        Type::Complex(FloatType::F64) => (5, 128),
        other => {
            return Err(PyTypeError::new_err(format!(
                "'{other}' is not an array element type"
            )))
        }
    };
    Ok(DLDataType {
        code: DLDataTypeCode(code),
        bits,
        lanes: 1,
    })
}

fn type_of(dt: DLDataType) -> Option<Type> {
    Some(match (dt.code.0, dt.bits, dt.lanes) {
        (6, 8, 1) => Type::Bool,
        (0, 8, 1) => Type::Int(IntType::I8),
        (0, 16, 1) => Type::Int(IntType::I16),
        (0, 32, 1) => Type::Int(IntType::Int),
        (0, 64, 1) => Type::Int(IntType::I64),
        (1, 8, 1) => Type::Int(IntType::U8),
        (1, 16, 1) => Type::Int(IntType::U16),
        (1, 32, 1) => Type::Int(IntType::UInt),
        (1, 64, 1) => Type::Int(IntType::U64),
        (2, 32, 1) => Type::F32,
        (2, 64, 1) => Type::F64,
        (5, 64, 1) => Type::Complex(FloatType::F32),
        (5, 128, 1) => Type::Complex(FloatType::F64),
        _ => return None,
    })
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

    fn allocate(shape: Vec<i64>, dtype: DLDataType) -> PyResult<Array> {
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
    let np_dtype = py
        .import("numpy")?
        .getattr("dtype")?
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
pub fn zeros(shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Array> {
    let dt = element_type(dtype)?;
    Array::allocate(shape_from(shape)?, dt)
}

/// A new array of `shape` and `dtype` in memory nativecall owns (nativecall zero-fills it
/// too: reading uninitialised memory is never worth the risk).
#[pyfunction]
#[pyo3(signature = (shape, dtype=None))]
pub fn empty(shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Array> {
    zeros(shape, dtype)
}

/// A zero-copy view of any DLPack producer (NumPy arrays, PyTorch/JAX tensors, capsules).
#[pyfunction]
pub fn from_dlpack(obj: &Bound<'_, PyAny>) -> PyResult<Array> {
    let imported = dlpark::python::from_dlpack(obj.as_borrowed(), None, None).map_err(|e| {
        PyTypeError::new_err(format!(
            "from_dlpack needs a DLPack producer or capsule: {e}"
        ))
    })?;
    let readonly = imported.flags().contains(DlpackFlags::READ_ONLY);
    let (data, shape, strides, dtype, device) = {
        let t = imported
            .validate()
            .map_err(|e| PyValueError::new_err(format!("an invalid DLPack tensor: {e}")))?;
        let shape = t.shape().to_vec();
        let strides = t
            .strides()
            .map(|s| s.to_vec())
            .unwrap_or_else(|| compact(&shape));
        let data = t.data_ptr() as usize + t.byte_offset() as usize;
        (data, shape, strides, t.dtype(), t.device())
    };
    if type_of(dtype).is_none() {
        return Err(PyTypeError::new_err(format!(
            "unsupported DLPack dtype (code {}, {} bits, {} lanes)",
            dtype.code.0, dtype.bits, dtype.lanes
        )));
    }
    Ok(Array {
        storage: Arc::new(Shared(Storage::Imported(imported))),
        data,
        shape,
        strides,
        dtype,
        device,
        readonly,
    })
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
