//! `nativecall.Array`: a zero-copy view of any CPU array object (DLPack, the buffer
//! protocol, `__array_interface__`) or Rust-owned memory, exported through DLPack again,
//! with dlpark doing the DLPack protocol work.

use std::sync::Arc;

use dlpark::ffi::{
    DLDataType, DLDataTypeCode, DLDevice, DLManagedTensor, DLManagedTensorVersioned,
};
use dlpark::metadata::Dynamic;
use dlpark::python::{export_dlpack, DlpackExporter, ExportRequest, ImportedDlpack};
use dlpark::{DlpackFlags, Managed, ManagedTensorBase};
use pyo3::exceptions::{PyBufferError, PyMemoryError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyInt, PyTuple};

use crate::abi::{FloatType, IntType, Type};

use super::types::{type_from_object, PyNativeType};

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
    from_imported(imported, "")
}

/// An `Array` over an imported DLPack tensor; `what` prefixes errors.
fn from_imported(imported: ImportedDlpack, what: &str) -> PyResult<Array> {
    let readonly = imported.flags().contains(DlpackFlags::READ_ONLY);
    let (data, shape, strides, dtype, device) = {
        let t = imported
            .validate()
            .map_err(|e| PyValueError::new_err(format!("{what}an invalid DLPack tensor: {e}")))?;
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
            "{what}unsupported DLPack dtype (code {}, {} bits, {} lanes)",
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

/// A zero-copy view of any array object NumPy users pass: a `nativecall.Array` (itself),
/// a DLPack producer or capsule, an object with `__array_interface__`, or a buffer
/// (`memoryview`, `array.array`, `bytearray`, `mmap`, NumPy arrays too). The view keeps
/// the memory alive and pinned (buffer exports held) for as long as it exists.
/// `__cuda_array_interface__` is refused: this build runs on the CPU only.
#[pyfunction]
pub fn asarray<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if obj.is_instance_of::<Array>() {
        return Ok(obj.clone());
    }
    Ok(Bound::new(obj.py(), import_any(obj, "nativecall.asarray")?)?.into_any())
}

/// The elements nativecall arrays hold, for error messages.
const ELEMENT_TYPES: &str =
    "bool, int8..int64, uint8..uint64, float32, float64, complex64, complex128";

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// [`asarray`] for anything but a `nativecall.Array`; `what` names the caller in errors
/// ("nativecall.asarray", "argument 1 of f (float64[:])").
pub(crate) fn import_any(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Array> {
    let py = obj.py();
    // Optional lookups: a missing protocol costs no AttributeError.
    let interface = || obj.getattr_opt(intern!(py, "__array_interface__"));
    // SAFETY: `obj` is a live object; PyObject_CheckBuffer only inspects its type.
    let buffer = unsafe { ffi::PyObject_CheckBuffer(obj.as_ptr()) } == 1;
    if obj.is_instance_of::<PyCapsule>() || obj.getattr_opt(intern!(py, "__dlpack__"))?.is_some() {
        match dlpark::python::from_dlpack(obj.as_borrowed(), None, None) {
            Ok(imported) => return from_imported(imported, &format!("{what}: ")),
            // The producer refused (NumPy does for byte-swapped arrays): the other
            // protocols, if it speaks one, say precisely why the array is unusable.
            Err(e) => match interface()? {
                Some(iface) => return from_interface(obj, &iface, what),
                None if buffer => return from_buffer(obj, what),
                None => {
                    return Err(PyTypeError::new_err(format!(
                        "{what} needs an array, got {} whose DLPack export failed: {e}",
                        type_name(obj)
                    )))
                }
            },
        }
    }
    if let Some(iface) = interface()? {
        return from_interface(obj, &iface, what);
    }
    if buffer {
        return from_buffer(obj, what);
    }
    if obj
        .getattr_opt(intern!(py, "__cuda_array_interface__"))?
        .is_some()
    {
        return Err(PyValueError::new_err(format!(
            "{what} must be in CPU memory, got a {} in CUDA memory (__cuda_array_interface__); this build of nativecall runs on the CPU only: copy it to the host first",
            type_name(obj)
        )));
    }
    Err(PyTypeError::new_err(format!(
        "{what} needs an array: a NumPy array, a nativecall.Array, an object with __dlpack__ or __array_interface__, a buffer (memoryview, array.array, bytearray, mmap) or a DLPack capsule; got {}",
        type_name(obj)
    )))
}

/// Element strides from byte strides, refusing those that are not whole elements.
fn element_strides(
    bytes: &[isize],
    itemsize: usize,
    what: &str,
    source: &str,
) -> PyResult<Vec<i64>> {
    bytes
        .iter()
        .map(|&s| {
            if s % itemsize as isize == 0 {
                Ok((s / itemsize as isize) as i64)
            } else {
                Err(PyBufferError::new_err(format!(
                    "{what}: {source} has byte strides {bytes:?}, not whole {itemsize}-byte elements"
                )))
            }
        })
        .collect()
}

/// Refuse an address that is not aligned for its elements (kernels load them whole).
fn check_aligned(data: usize, t: &Type, size: i64, what: &str, source: &str) -> PyResult<()> {
    let align = t.align().unwrap_or(1);
    if size > 0 && !data.is_multiple_of(align) {
        return Err(PyBufferError::new_err(format!(
            "{what}: {source} starts at address {data:#x}, not aligned to its {align}-byte {} elements",
            crate::jit::typing::kernel_type_name(t)
        )));
    }
    Ok(())
}

/// A PEP 3118 buffer, held open for the life of the view.
fn from_buffer(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Array> {
    let source = type_name(obj);
    let held = HeldBuffer::get(obj, ffi::PyBUF_RECORDS_RO).map_err(|e| {
        PyBufferError::new_err(format!(
            "{what}: {source} does not export its memory as a strided buffer: {e}"
        ))
    })?;
    let view = &*held.0;
    let format = if view.format.is_null() {
        "B".to_string()
    } else {
        // SAFETY: a non-null format is a NUL-terminated string owned by the view.
        unsafe { std::ffi::CStr::from_ptr(view.format) }
            .to_string_lossy()
            .into_owned()
    };
    let itemsize = view.itemsize as usize;
    let t = super::call::buffer_element(&format, itemsize)
        .filter(|t| dtype_of(t).is_ok())
        .ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{what}: a {source} of format '{format}' ({itemsize}-byte items) does not hold native array elements; accepted: {ELEMENT_TYPES} in native byte order"
            ))
        })?;
    if !view.suboffsets.is_null() {
        return Err(PyBufferError::new_err(format!(
            "{what}: {source} is an indirect (suboffsets) buffer, which arrays cannot describe"
        )));
    }
    let ndim = view.ndim as usize;
    // SAFETY: PyBUF_RECORDS_RO asks for shape and strides: `ndim` entries each (or null for 0-d).
    let (shape, byte_strides) = unsafe {
        if ndim == 0 {
            (Vec::new(), Vec::new())
        } else {
            (
                std::slice::from_raw_parts(view.shape, ndim).to_vec(),
                std::slice::from_raw_parts(view.strides, ndim).to_vec(),
            )
        }
    };
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let strides = element_strides(&byte_strides, itemsize, what, &source)?;
    let data = view.buf as usize;
    check_aligned(data, &t, shape.iter().product(), what, &source)?;
    let readonly = view.readonly != 0;
    Ok(Array {
        storage: Arc::new(Shared(Storage::Buffer(held))),
        data,
        shape,
        strides,
        dtype: dtype_of(&t)?,
        device: DLDevice::CPU,
        readonly,
    })
}

/// The element type of an `__array_interface__` typestr (`'<f8'`, `'|b1'`), if native.
fn typestr_element(typestr: &str) -> Result<Type, String> {
    let mut chars = typestr.chars();
    let (order, kind) = (chars.next(), chars.next());
    let size: usize = chars
        .as_str()
        .parse()
        .map_err(|_| format!("typestr '{typestr}' is not '<order><kind><size>'"))?;
    let native = match order {
        Some('|' | '=') => true,
        Some('<') => cfg!(target_endian = "little") || size == 1,
        Some('>') => cfg!(target_endian = "big") || size == 1,
        _ => {
            return Err(format!(
                "typestr '{typestr}' has no byte order ('<', '>', '|' or '=')"
            ))
        }
    };
    if !native {
        return Err(format!(
            "typestr '{typestr}' is not in native byte order (byte-swap it first)"
        ));
    }
    let int = |signed: bool| IntType::of_size(size, signed).map(Type::Int);
    match (kind, size) {
        (Some('b'), 1) => Some(Type::Bool),
        (Some('i'), _) => int(true),
        (Some('u'), _) => int(false),
        (Some('f'), 4) => Some(Type::F32),
        (Some('f'), 8) => Some(Type::F64),
        (Some('c'), 8) => Some(Type::Complex(FloatType::F32)),
        (Some('c'), 16) => Some(Type::Complex(FloatType::F64)),
        _ => None,
    }
    .ok_or_else(|| {
        format!("typestr '{typestr}' is not a supported element type; accepted: {ELEMENT_TYPES}")
    })
}

/// An `__array_interface__` (version 3): `data` is `(address, readonly)`, a buffer, or
/// absent (the object's own buffer), with `offset` bytes into a buffer; `strides` in bytes
/// or absent (C order). Buffers are held; with a bare address the object is held, as its
/// owner. Extents are checked against a buffer's length.
fn from_interface<'py>(
    obj: &Bound<'py, PyAny>,
    iface: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Array> {
    let source = format!("{}.__array_interface__", type_name(obj));
    let bad = |why: String| PyValueError::new_err(format!("{what}: an invalid {source}: {why}"));
    let dict = iface
        .cast::<PyDict>()
        .map_err(|_| bad(format!("expected a dict, got {}", type_name(iface))))?;
    let item = |key: &str| -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(dict.get_item(key)?.filter(|v| !v.is_none()))
    };
    let version: Option<i64> = item("version")?.and_then(|v| v.extract().ok());
    if version != Some(3) {
        return Err(bad(format!(
            "expected 'version': 3, got {}",
            item("version")?.map_or("none".into(), |v| v
                .repr()
                .map_or("?".into(), |r| r.to_string()))
        )));
    }
    if item("mask")?.is_some() {
        return Err(PyTypeError::new_err(format!(
            "{what}: {source} has a mask; masked arrays are not accepted"
        )));
    }
    let typestr: String = item("typestr")?
        .ok_or_else(|| bad("no 'typestr'".into()))?
        .extract()
        .map_err(|_| bad("'typestr' is not a str".into()))?;
    let t = typestr_element(&typestr)
        .map_err(|why| PyTypeError::new_err(format!("{what}: {source}: {why}")))?;
    let itemsize = t.size().expect("a sized element");
    let shape: Vec<i64> = item("shape")?
        .ok_or_else(|| bad("no 'shape'".into()))?
        .extract()
        .map_err(|_| bad("'shape' is not a tuple of ints".into()))?;
    if shape.iter().any(|&d| d < 0) {
        return Err(bad(format!("negative dimension in shape {shape:?}")));
    }
    let strides = match item("strides")? {
        None => compact(&shape),
        Some(s) => {
            let bytes: Vec<isize> = s
                .extract()
                .map_err(|_| bad("'strides' is not a tuple of ints".into()))?;
            if bytes.len() != shape.len() {
                return Err(bad(format!(
                    "{} strides for {} dimensions",
                    bytes.len(),
                    shape.len()
                )));
            }
            element_strides(&bytes, itemsize, what, &source)?
        }
    };
    let size: i64 = shape.iter().product();
    let data = item("data")?;
    let (storage, address, readonly) = match data {
        Some(d) if d.is_instance_of::<PyTuple>() => {
            let (address, readonly): (Bound<'py, PyAny>, Bound<'py, PyAny>) = d
                .extract()
                .map_err(|_| bad("'data' is not (address, readonly)".into()))?;
            if !address.is_instance_of::<PyInt>() {
                return Err(bad("'data' is not (int address, readonly flag)".into()));
            }
            let address: usize = address
                .extract()
                .map_err(|_| bad("the data address is not a pointer".into()))?;
            if address == 0 && size > 0 {
                return Err(bad("a null data address".into()));
            }
            (
                Storage::Object(obj.clone().unbind()),
                address,
                readonly.is_truthy()?,
            )
        }
        // Memory shared through a buffer: the named object's, or the array object's own.
        other => {
            let holder = other.unwrap_or_else(|| obj.clone());
            let held = HeldBuffer::get(&holder, ffi::PyBUF_SIMPLE).map_err(|e| {
                PyBufferError::new_err(format!(
                    "{what}: {source} shares its memory through the buffer of a {}, which does not export contiguous bytes: {e}",
                    type_name(&holder)
                ))
            })?;
            let offset: i64 = item("offset")?
                .map_or(Ok(0), |o| o.extract())
                .map_err(|_| bad("'offset' is not an int".into()))?;
            let len = held.0.len as i128;
            // The lowest and highest byte any element touches, relative to the buffer.
            let (mut lo, mut hi) = (offset as i128, offset as i128 + itemsize as i128);
            for (&n, &s) in shape.iter().zip(&strides) {
                let reach = (n.max(1) as i128 - 1) * s as i128 * itemsize as i128;
                if reach < 0 {
                    lo += reach
                } else {
                    hi += reach
                }
            }
            if size > 0 && (lo < 0 || hi > len) {
                return Err(PyBufferError::new_err(format!(
                    "{what}: {source} describes bytes {lo}..{hi} of a {len}-byte buffer"
                )));
            }
            let address = (held.0.buf as i128 + offset as i128) as usize;
            let readonly = held.0.readonly != 0;
            (Storage::Buffer(held), address, readonly)
        }
    };
    check_aligned(address, &t, size, what, &source)?;
    Ok(Array {
        storage: Arc::new(Shared(storage)),
        data: address,
        shape,
        strides,
        dtype: dtype_of(&t)?,
        device: DLDevice::CPU,
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
