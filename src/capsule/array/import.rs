//! Views of other producers' arrays: DLPack tensors and capsules, `__array_interface__`
//! and PEP 3118 buffers, each checked (dtype, byte order, strides, alignment, extents)
//! and held (the producer's deleter, the buffer export, or the owning object) for as
//! long as the view lives.

use std::sync::Arc;

use dlpark::ffi::DLDevice;
use dlpark::python::ImportedDlpack;
use dlpark::DlpackFlags;
use pyo3::exceptions::{PyBufferError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyInt, PyTuple};

use crate::abi::dtype::{self, ELEMENT_TYPES};
use crate::abi::Type;

use super::super::errors::type_name;
use super::{compact, dtype_of, type_of, Array, HeldBuffer, Shared, Storage};

/// A zero-copy view of any DLPack producer (NumPy arrays, PyTorch/JAX tensors, capsules).
#[pyfunction]
pub(crate) fn from_dlpack(obj: &Bound<'_, PyAny>) -> PyResult<Array> {
    if let Some(array) = from_numpy(obj) {
        return Ok(array);
    }
    let imported = dlpark::python::from_dlpack(obj.as_borrowed(), None, None).map_err(|e| {
        PyTypeError::new_err(format!(
            "from_dlpack needs a DLPack producer or capsule: {e}"
        ))
    })?;
    from_imported(imported, "")
}

/// A NumPy array described in place, as its `__dlpack__` would describe it but without the
/// capsule round trip (a few hundred ns instead of microseconds): the view holds the array
/// object, as NumPy's base object does. `None` for anything that is not an ndarray or that
/// DLPack might describe otherwise or refuse (byte-swapped, strides that are not whole
/// elements, unaligned data, dtypes outside the table): those take the DLPack path, which
/// says why.
fn from_numpy(obj: &Bound<'_, PyAny>) -> Option<Array> {
    use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
    let arr = obj.cast::<PyUntypedArray>().ok()?;
    let descr = arr.dtype();
    if descr.is_native_byteorder() == Some(false) {
        return None;
    }
    let d = dtype::of_kind(descr.kind() as char, descr.itemsize())?;
    let itemsize = d.itemsize() as isize;
    let strides = arr
        .strides()
        .iter()
        .map(|&s| (s % itemsize == 0).then_some((s / itemsize) as i64))
        .collect::<Option<Vec<i64>>>()?;
    let shape: Vec<i64> = arr.shape().iter().map(|&n| n as i64).collect();
    // SAFETY: a live ndarray; reading its data pointer and flags fields.
    let (data, flags) = unsafe {
        let fields = &(*arr.as_array_ptr()).fields;
        (fields.data as usize, fields.flags)
    };
    if shape.iter().product::<i64>() > 0 && !data.is_multiple_of(d.ty.align().unwrap_or(1)) {
        return None;
    }
    Some(Array {
        storage: Arc::new(Shared(Storage::Object(obj.clone().unbind()))),
        data,
        shape,
        strides,
        dtype: dlpark::ffi::DLDataType {
            code: dlpark::ffi::DLDataTypeCode(d.code),
            bits: d.bits,
            lanes: d.lanes,
        },
        device: DLDevice::CPU,
        readonly: flags & numpy::npyffi::NPY_ARRAY_WRITEABLE == 0,
    })
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
pub(crate) fn asarray<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if obj.is_instance_of::<Array>() {
        return Ok(obj.clone());
    }
    Ok(Bound::new(obj.py(), import_any(obj, "nativecall.asarray")?)?.into_any())
}

/// [`asarray`] for anything but a `nativecall.Array`; `what` names the caller in errors
/// ("nativecall.asarray", "argument 1 of f (float64[:])").
pub(crate) fn import_any(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Array> {
    if let Some(array) = from_numpy(obj) {
        return Ok(array);
    }
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
    let format = super::super::call::buffer_format(view);
    let itemsize = view.itemsize as usize;
    let t = super::super::call::buffer_element(&format, itemsize)
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
    kind.and_then(|k| dtype::of_kind(k, size))
        .map(|d| d.ty.clone())
        .ok_or_else(|| {
            format!(
                "typestr '{typestr}' is not a supported element type; accepted: {ELEMENT_TYPES}"
            )
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
