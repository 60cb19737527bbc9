//! Calling native functions from Python through libffi.
//!
//! One prepared call interface (`ffi_cif`) per ABI signature is cached for the
//! life of the process; arguments are converted with range and type checks and
//! the GIL is released for the duration of the native call.

use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::sync::Arc;

use libffi::middle::{Arg, Cif, CodePtr, Ret, Type as FfiType};
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyComplex, PyFloat, PyInt, PyTuple};

use crate::abi::{FloatType, IntType, Signature, Type};

use super::callable::NativeCallable;

/// Storage for one argument or result: large and aligned enough for every value type.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default)]
pub struct Slot(pub [u8; 16]);

impl Slot {
    fn from_bytes(bytes: &[u8]) -> Slot {
        let mut s = Slot::default();
        s.0[..bytes.len()].copy_from_slice(bytes);
        s
    }

    /// A pointer-sized zero (`NULL`, or `0` for any int type on little- and big-endian alike
    /// when read back at the type's own width).
    pub fn zero() -> Slot {
        Slot::default()
    }
}

/// A prepared libffi call interface for one signature.
pub struct CallPlan {
    cif: Cif,
}

// SAFETY: a `Cif` is prepared once and then only read by `ffi_call`, which does not
// mutate it; its type descriptions are owned by the `Cif` and never shared mutably.
unsafe impl Send for CallPlan {}
// SAFETY: as above, concurrent `ffi_call`s only read the prepared `ffi_cif`.
unsafe impl Sync for CallPlan {}

static PLANS: Lazy<Mutex<HashMap<String, Arc<CallPlan>>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

fn ffi_type(ty: &Type) -> Result<FfiType, String> {
    Ok(match ty {
        Type::Void => FfiType::void(),
        Type::Bool => FfiType::u8(),
        Type::Int(i) => match (i.bits(), i.signed()) {
            (8, true) => FfiType::i8(),
            (8, false) => FfiType::u8(),
            (16, true) => FfiType::i16(),
            (16, false) => FfiType::u16(),
            (32, true) => FfiType::i32(),
            (32, false) => FfiType::u32(),
            (64, true) => FfiType::i64(),
            _ => FfiType::u64(),
        },
        Type::Float(FloatType::F32) => FfiType::f32(),
        Type::Float(FloatType::F64) => FfiType::f64(),
        Type::Complex(FloatType::F32) => FfiType::c32(),
        Type::Complex(FloatType::F64) => FfiType::c64(),
        Type::Float(FloatType::LongDouble) | Type::Complex(FloatType::LongDouble) => {
            return Err(format!(
                "'{ty}' values cannot be passed to or from Python without losing precision, so calls with them are refused"
            ))
        }
        Type::Pointer { .. } | Type::Array { .. } => FfiType::pointer(),
        Type::Struct(_) | Type::DLTensor | Type::Function(_) => {
            return Err(format!("'{ty}' cannot be passed by value"))
        }
    })
}

/// The cached call interface for `sig` (an error message if a type cannot be called from Python).
pub fn plan_for(sig: &Signature) -> Result<Arc<CallPlan>, String> {
    let key = sig.abi_key();
    if let Some(plan) = PLANS.lock().get(&key) {
        return Ok(plan.clone());
    }
    let args = sig
        .arg_types()
        .map(ffi_type)
        .collect::<Result<Vec<_>, _>>()?;
    let ret = ffi_type(&sig.ret)?;
    let cif =
        Cif::try_new(args, ret).map_err(|e| format!("libffi cannot describe '{sig}': {e:?}"))?;
    let plan = Arc::new(CallPlan { cif });
    PLANS.lock().insert(key, plan.clone());
    Ok(plan)
}

/// A `DLTensor` built for one call, with the shape and strides it points into.
type DescriptorView = (dlpark::ffi::DLTensor, Vec<i64>, Vec<i64>);

/// Buffers borrowed for the duration of one call, released under the GIL.
#[derive(Default)]
pub struct Borrows {
    // Boxed so a view never moves between PyObject_GetBuffer and PyBuffer_Release.
    #[allow(clippy::vec_box)]
    buffers: Vec<Box<ffi::Py_buffer>>,
    /// Arrays imported for the call (DLPack tensors, held buffers, interface owners);
    /// dropping them runs each DLPack deleter and releases each buffer once.
    arrays: Vec<super::array::Array>,
    /// Descriptors built directly over NumPy arrays (with their shape and strides).
    #[allow(clippy::vec_box)]
    numpy_views: Vec<Box<DescriptorView>>,
    /// Objects that own memory or code an argument points into (a thunk's callable);
    /// held, never read, until the call returns.
    #[allow(dead_code)]
    objects: Vec<Py<PyAny>>,
}

impl Drop for Borrows {
    fn drop(&mut self) {
        for view in &mut self.buffers {
            // SAFETY: each view was filled by a successful PyObject_GetBuffer; a Borrows only
            // lives inside a call made with the GIL held, so releasing here is sound.
            unsafe { ffi::PyBuffer_Release(&mut **view) };
        }
    }
}

/// How an argument is named in error messages.
pub struct ArgContext<'a> {
    /// The function's name.
    pub function: &'a str,
    /// The zero-based position among the arguments the caller passes.
    pub index: usize,
    /// Whether the callee may write through this argument (arrays from read-only
    /// producers are refused then).
    pub writes: bool,
}

impl ArgContext<'_> {
    fn what(&self, ty: &Type) -> String {
        let shown = match ty {
            Type::Array { .. } => crate::jit::typing::kernel_type_name(ty),
            _ => ty.to_string(),
        };
        format!("argument {} of {} ({shown})", self.index + 1, self.function)
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Convert one Python value to native storage for `ty`.
pub fn convert_arg(
    obj: &Bound<'_, PyAny>,
    ty: &Type,
    ctx: &ArgContext<'_>,
    borrows: &mut Borrows,
) -> PyResult<Slot> {
    match ty {
        Type::Bool => {
            if let Ok(b) = obj.cast::<PyBool>() {
                return Ok(Slot::from_bytes(&[b.is_true() as u8]));
            }
            match obj.extract::<i128>() {
                Ok(v) if v == 0 || v == 1 => Ok(Slot::from_bytes(&[v as u8])),
                Ok(v) => Err(PyOverflowError::new_err(format!(
                    "{} must be True, False, 0 or 1, got {v}",
                    ctx.what(ty)
                ))),
                Err(_) => match obj.extract::<bool>() {
                    Ok(b) => Ok(Slot::from_bytes(&[b as u8])),
                    Err(_) => Err(PyTypeError::new_err(format!(
                        "{} must be a bool, got {}",
                        ctx.what(ty),
                        type_name(obj)
                    ))),
                },
            }
        }
        Type::Int(i) => int_slot(obj, *i, ty, ctx),
        Type::Float(FloatType::F64) => {
            Ok(Slot::from_bytes(&float_value(obj, ty, ctx)?.to_ne_bytes()))
        }
        Type::Float(FloatType::F32) => {
            let v = float_value(obj, ty, ctx)?;
            if v.is_finite() && v.abs() > f32::MAX as f64 {
                // `{:?}` prints 1e300 as such, not as its 301 decimal digits.
                return Err(PyOverflowError::new_err(format!(
                    "{} cannot hold {v:?}: the largest float is {:?}",
                    ctx.what(ty),
                    f32::MAX as f64
                )));
            }
            Ok(Slot::from_bytes(&(v as f32).to_ne_bytes()))
        }
        Type::Complex(f) => {
            let (re, im) = complex_value(obj, ty, ctx)?;
            let mut s = Slot::default();
            if *f == FloatType::F32 {
                s.0[..4].copy_from_slice(&(re as f32).to_ne_bytes());
                s.0[4..8].copy_from_slice(&(im as f32).to_ne_bytes());
            } else {
                s.0[..8].copy_from_slice(&re.to_ne_bytes());
                s.0[8..].copy_from_slice(&im.to_ne_bytes());
            }
            Ok(s)
        }
        Type::Array { dtype, ndim, .. } => array_arg(obj, Some((dtype, *ndim)), ty, ctx, borrows),
        Type::Pointer { pointee, .. }
            if **pointee == Type::DLTensor && !obj.is_none() && !obj.is_instance_of::<PyInt>() =>
        {
            array_arg(obj, None, ty, ctx, borrows)
        }
        Type::Pointer { pointee, is_const } => {
            let addr = pointer_value(obj, pointee, *is_const, ty, ctx, borrows)?;
            Ok(Slot::from_bytes(&addr.to_ne_bytes()))
        }
        other => Err(PyTypeError::new_err(format!(
            "{} cannot be passed from Python",
            ctx.what(other)
        ))),
    }
}

/// An extraction failure restated for the argument: overflow stays `OverflowError`,
/// anything else is a `TypeError` naming what was expected.
fn conversion_error(
    e: PyErr,
    obj: &Bound<'_, PyAny>,
    ty: &Type,
    ctx: &ArgContext<'_>,
    expected: &str,
) -> PyErr {
    if e.is_instance_of::<PyOverflowError>(obj.py()) {
        let shown = obj.repr().map(|r| r.to_string()).unwrap_or_default();
        PyOverflowError::new_err(format!("{} cannot hold {shown}", ctx.what(ty)))
    } else {
        PyTypeError::new_err(format!(
            "{} must be {expected}, got {}",
            ctx.what(ty),
            type_name(obj)
        ))
    }
}

fn int_slot(obj: &Bound<'_, PyAny>, i: IntType, ty: &Type, ctx: &ArgContext<'_>) -> PyResult<Slot> {
    if obj.is_instance_of::<PyFloat>() {
        return Err(PyTypeError::new_err(format!(
            "{} must be an int, got float {} (convert it explicitly if truncation is intended)",
            ctx.what(ty),
            obj.repr()?
        )));
    }
    let v: i128 = obj
        .extract()
        .map_err(|e| conversion_error(e, obj, ty, ctx, "an int"))?;
    let (lo, hi) = i.range();
    if v < lo || v > hi {
        return Err(PyOverflowError::new_err(format!(
            "{} cannot hold {v}: the range is {lo}..={hi}",
            ctx.what(ty)
        )));
    }
    let bytes = (v as u128).to_ne_bytes();
    let n = i.bits() as usize / 8;
    // Native-endian truncation: on big-endian the low bytes are at the end.
    Ok(if cfg!(target_endian = "little") {
        Slot::from_bytes(&bytes[..n])
    } else {
        Slot::from_bytes(&bytes[16 - n..])
    })
}

fn float_value(obj: &Bound<'_, PyAny>, ty: &Type, ctx: &ArgContext<'_>) -> PyResult<f64> {
    if obj.is_instance_of::<PyComplex>() {
        return Err(PyTypeError::new_err(format!(
            "{} must be a real number, got complex",
            ctx.what(ty)
        )));
    }
    obj.extract::<f64>()
        .map_err(|e| conversion_error(e, obj, ty, ctx, "a float"))
}

fn complex_value(obj: &Bound<'_, PyAny>, ty: &Type, ctx: &ArgContext<'_>) -> PyResult<(f64, f64)> {
    let c = if obj.is_instance_of::<PyComplex>() {
        obj.clone()
    } else if obj.hasattr("__complex__")? {
        obj.py().get_type::<PyComplex>().call1((obj,))?
    } else {
        return Ok((float_value(obj, ty, ctx)?, 0.0));
    };
    let c = c.cast::<PyComplex>()?;
    Ok((c.real(), c.imag()))
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
    let int = |signed: bool| IntType::of_size(itemsize, signed).map(Type::Int);
    match body {
        "b" | "h" | "i" | "l" | "q" | "n" => int(true),
        "B" | "H" | "I" | "L" | "Q" | "N" => int(false),
        "c" => Some(Type::Int(IntType::Char)),
        "?" => Some(Type::Bool),
        "f" if itemsize == 4 => Some(Type::F32),
        "d" if itemsize == 8 => Some(Type::F64),
        "g" => Some(Type::Float(FloatType::LongDouble)),
        "Zf" if itemsize == 8 => Some(Type::Complex(FloatType::F32)),
        "Zd" if itemsize == 16 => Some(Type::Complex(FloatType::F64)),
        "Zg" => Some(Type::Complex(FloatType::LongDouble)),
        _ => None,
    }
}

fn pointer_value(
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
            let format = if view.format.is_null() {
                "B".to_string()
            } else {
                // SAFETY: a non-null format is a NUL-terminated string owned by the view.
                unsafe { std::ffi::CStr::from_ptr(view.format) }
                    .to_string_lossy()
                    .into_owned()
            };
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
    let adapter = py
        .import("nativecall._interop")?
        .getattr("pointer_argument")?;
    let ty_obj = super::types::PyNativeType::new(ty.clone());
    let (address, keep): (usize, Bound<'_, PyAny>) =
        adapter.call1((obj, ty_obj, ctx.what(ty)))?.extract()?;
    if !keep.is_none() {
        borrows.objects.push(keep.unbind());
    }
    Ok(address)
}

fn dlpack_code(t: &Type) -> Option<(u8, u8)> {
    // DLPack's type codes: kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBool 6.
    Some(match t {
        Type::Bool => (6, 8),
        Type::Int(i) => (if i.signed() { 0 } else { 1 }, i.bits() as u8),
        Type::Float(FloatType::F32) => (2, 32),
        Type::Float(FloatType::F64) => (2, 64),
        _ => return None,
    })
}

/// A NumPy array's own descriptor as a `DLTensor`, without a capsule round trip (what
/// NumPy's `__dlpack__` would describe, read through rust-numpy; ~100 ns instead of
/// ~1.3 µs). `None` where DLPack could not describe the array either (byte strides that
/// are not whole elements, unsupported dtypes): the DLPack path then reports why.
fn numpy_view(
    obj: &Bound<'_, PyAny>,
    want: Option<(&Type, u32)>,
    ty: &Type,
    ctx: &ArgContext<'_>,
    borrows: &mut Borrows,
) -> PyResult<Option<Slot>> {
    use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
    if let Ok(a) = obj.cast::<super::array::Array>() {
        borrows.objects.push(obj.clone().unbind());
        return own_array_view(a.get(), "an Array", want, ty, ctx, borrows).map(Some);
    }
    let Ok(arr) = obj.cast::<PyUntypedArray>() else {
        return Ok(None);
    };
    let descr = arr.dtype();
    let itemsize = descr.itemsize();
    if descr.is_native_byteorder() == Some(false) || itemsize == 0 {
        return Ok(None);
    }
    let (code, bits) = match (descr.kind(), itemsize) {
        (b'b', 1) => (6u8, 8u8),
        (b'i', n) => (0, (n * 8) as u8),
        (b'u', n) => (1, (n * 8) as u8),
        (b'f', 4 | 8) => (2, (itemsize * 8) as u8),
        _ => return Ok(None),
    };
    let mut strides = Vec::with_capacity(arr.ndim());
    for &s in arr.strides() {
        if s % itemsize as isize != 0 {
            return Ok(None);
        }
        strides.push((s / itemsize as isize) as i64);
    }
    if let Some((dtype, ndim)) = want {
        let (wc, wb) = dlpack_code(dtype).expect("array elements are numbers");
        if wc != code || wb != bits {
            return Err(PyTypeError::new_err(format!(
                "{} needs {dtype} elements, got a NumPy array of {}",
                ctx.what(ty),
                descr.str()?
            )));
        }
        if arr.ndim() != ndim as usize {
            return Err(PyTypeError::new_err(format!(
                "{} needs a {ndim}-dimensional array, got {} dimensions",
                ctx.what(ty),
                arr.ndim()
            )));
        }
    }
    let shape: Vec<i64> = arr.shape().iter().map(|&d| d as i64).collect();
    check_contiguous(&shape, Some(&strides), ty, ctx)?;
    // SAFETY: a live ndarray; reading its flags field.
    let writeable =
        unsafe { (*arr.as_array_ptr()).fields.flags } & numpy::npyffi::NPY_ARRAY_WRITEABLE != 0;
    if ctx.writes && !writeable {
        return Err(PyValueError::new_err(format!(
            "{} is read-only, and the kernel writes to it",
            ctx.what(ty)
        )));
    }
    // SAFETY: a live ndarray; its data pointer is valid while `obj` is (kept below).
    let data = unsafe { (*arr.as_array_ptr()).fields.data } as *mut std::ffi::c_void;
    let mut view = Box::new((
        dlpark::ffi::DLTensor {
            data,
            device: dlpark::ffi::DLDevice::CPU,
            ndim: shape.len() as i32,
            dtype: dlpark::ffi::DLDataType {
                code: dlpark::ffi::DLDataTypeCode(code),
                bits,
                lanes: 1,
            },
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            byte_offset: 0,
        },
        shape,
        strides,
    ));
    view.0.shape = view.1.as_mut_ptr();
    view.0.strides = view.2.as_mut_ptr();
    let address = &view.0 as *const _ as usize;
    borrows.numpy_views.push(view);
    borrows.objects.push(obj.clone().unbind());
    Ok(Some(Slot::from_bytes(&address.to_ne_bytes())))
}

/// Refuse an array that is not C-contiguous for a parameter whose type says it is
/// (`float64[:, ::1]`, indexed with strides computed from the shape). `strides` are in
/// elements (`None`: compact). As NumPy's flags say, a dimension of length 1 may have
/// any stride, and an empty array is contiguous (no element can be reached).
fn check_contiguous(
    shape: &[i64],
    strides: Option<&[i64]>,
    ty: &Type,
    ctx: &ArgContext<'_>,
) -> PyResult<()> {
    let (
        Type::Array {
            contiguous: true, ..
        },
        Some(strides),
    ) = (ty, strides)
    else {
        return Ok(());
    };
    if shape.contains(&0) {
        return Ok(());
    }
    let mut want = 1i64;
    for (k, (&n, &s)) in shape.iter().zip(strides).enumerate().rev() {
        if n != 1 && s != want {
            return Err(PyValueError::new_err(format!(
                "{} must be C-contiguous: dimension {k} has stride {s} (in elements), {want} \
                 expected for shape {shape:?}; pass numpy.ascontiguousarray(...) or declare \
                 the parameter with ':' (any strides)",
                ctx.what(ty),
            )));
        }
        want = want.saturating_mul(n);
    }
    Ok(())
}

/// The descriptor of a `nativecall.Array` (or of an array imported for the call), checked
/// against the parameter; the caller keeps the array alive for the call. `source` names
/// where it came from in errors ("an Array", "a memoryview").
fn own_array_view(
    a: &super::array::Array,
    source: &str,
    want: Option<(&Type, u32)>,
    ty: &Type,
    ctx: &ArgContext<'_>,
    borrows: &mut Borrows,
) -> PyResult<Slot> {
    let (dtype, shape, strides, data, device, readonly) = a.descriptor();
    if device.device_type.0 != 1 {
        return Err(PyValueError::new_err(format!(
            "{} must be in CPU memory, got a tensor on device type {} (id {}); copy it to the CPU first",
            ctx.what(ty),
            device.device_type.0,
            device.device_id
        )));
    }
    if let Some((t, ndim)) = want {
        let (code, bits) = dlpack_code(t).expect("array elements are numbers");
        if dtype.code.0 != code || dtype.bits != bits || dtype.lanes != 1 {
            return Err(PyTypeError::new_err(format!(
                "{} needs {t} elements, got {} from {source}",
                ctx.what(ty),
                a.element_name()
            )));
        }
        if shape.len() != ndim as usize {
            return Err(PyTypeError::new_err(format!(
                "{} needs a {ndim}-dimensional array, got {} dimensions",
                ctx.what(ty),
                shape.len()
            )));
        }
    }
    check_contiguous(shape, Some(strides), ty, ctx)?;
    if ctx.writes && readonly {
        return Err(PyValueError::new_err(format!(
            "{} is read-only, and the kernel writes to it",
            ctx.what(ty)
        )));
    }
    let mut view = Box::new((
        dlpark::ffi::DLTensor {
            data: data as *mut std::ffi::c_void,
            device,
            ndim: shape.len() as i32,
            dtype,
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            byte_offset: 0,
        },
        shape.to_vec(),
        strides.to_vec(),
    ));
    view.0.shape = view.1.as_mut_ptr();
    view.0.strides = view.2.as_mut_ptr();
    let address = &view.0 as *const _ as usize;
    borrows.numpy_views.push(view);
    Ok(Slot::from_bytes(&address.to_ne_bytes()))
}

/// Any other array object (a DLPack producer or capsule, an `__array_interface__`, a
/// buffer) imported zero-copy, checked against the parameter, and kept for the call.
fn array_arg(
    obj: &Bound<'_, PyAny>,
    want: Option<(&Type, u32)>,
    ty: &Type,
    ctx: &ArgContext<'_>,
    borrows: &mut Borrows,
) -> PyResult<Slot> {
    if let Some(slot) = numpy_view(obj, want, ty, ctx, borrows)? {
        return Ok(slot);
    }
    let imported = super::array::import_any(obj, &ctx.what(ty))?;
    let name = type_name(obj);
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    let source = format!("{article} {name}");
    let slot = own_array_view(&imported, &source, want, ty, ctx, borrows)?;
    borrows.arrays.push(imported);
    Ok(slot)
}

/// Turn a native result into a Python object.
pub fn convert_result<'py>(py: Python<'py>, ty: &Type, slot: &Slot) -> PyResult<Bound<'py, PyAny>> {
    let b = &slot.0;
    let f64_at = |o: usize| f64::from_ne_bytes(b[o..o + 8].try_into().unwrap());
    let f32_at = |o: usize| f32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
    Ok(match ty {
        Type::Void => py.None().into_bound(py),
        Type::Bool => PyBool::new(py, b[0] != 0).to_owned().into_any(),
        Type::Int(i) => {
            // libffi widens small integer results to a full `ffi_arg` register.
            let raw = u64::from_ne_bytes(b[..8].try_into().unwrap());
            let bits = i.bits();
            let v: i128 = if bits == 64 {
                if i.signed() {
                    raw as i64 as i128
                } else {
                    raw as i128
                }
            } else {
                let low = raw & ((1u64 << bits) - 1);
                if i.signed() && low >> (bits - 1) == 1 {
                    low as i128 - (1i128 << bits)
                } else {
                    low as i128
                }
            };
            v.into_pyobject(py)?.into_any()
        }
        Type::Float(FloatType::F64) => PyFloat::new(py, f64_at(0)).into_any(),
        Type::Float(FloatType::F32) => PyFloat::new(py, f32_at(0) as f64).into_any(),
        Type::Complex(FloatType::F64) => {
            PyComplex::from_doubles(py, f64_at(0), f64_at(8)).into_any()
        }
        Type::Complex(FloatType::F32) => {
            PyComplex::from_doubles(py, f32_at(0) as f64, f32_at(4) as f64).into_any()
        }
        Type::Pointer { .. } => {
            usize::from_ne_bytes(b[..std::mem::size_of::<usize>()].try_into().unwrap())
                .into_pyobject(py)?
                .into_any()
        }
        other => {
            return Err(PyTypeError::new_err(format!(
                "cannot return '{other}' to Python"
            )))
        }
    })
}

struct NativeCall {
    plan: Arc<CallPlan>,
    code: usize,
    slots: Vec<Slot>,
}

// SAFETY: the call only reads the slots it owns and the prepared plan; the
// addresses inside the slots stay valid because the caller keeps `borrows` and
// the argument objects alive until after the call returns.
unsafe impl Send for NativeCall {}

impl NativeCall {
    fn run(self) -> Slot {
        let args: Vec<Arg> = self.slots.iter().map(Arg::new).collect();
        let mut ret = Slot::default();
        // SAFETY: the plan was prepared for this signature, each slot holds a value of the
        // parameter's type, and `ret` is 16 bytes, large enough for every result type.
        unsafe {
            self.plan.cif.call_return_into(
                CodePtr(self.code as *mut c_void),
                &args,
                Ret::new(&mut ret),
            );
        }
        ret
    }
}

/// Call `callee` with the Python `args` filling every parameter it does not hide.
pub fn call_native<'py>(
    py: Python<'py>,
    callee: &NativeCallable,
    plan: Arc<CallPlan>,
    args: &Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    let (name, raw, hidden) = (&callee.name, &callee.raw_signature, &callee.hidden);
    let expected = raw.params.len() - hidden.len();
    if args.len() != expected {
        return Err(PyTypeError::new_err(format!(
            "{name}() takes {expected} argument{} ({}), got {}",
            if expected == 1 { "" } else { "s" },
            callee.signature,
            args.len()
        )));
    }
    let mut borrows = Borrows::default();
    let mut slots = Vec::with_capacity(raw.params.len());
    let mut next = 0;
    for (index, param) in raw.params.iter().enumerate() {
        if let Some((_, value)) = hidden.iter().find(|(i, _)| *i == index) {
            slots.push(*value);
            continue;
        }
        let ctx = ArgContext {
            function: name,
            index: next,
            writes: callee
                .writes
                .as_ref()
                .is_none_or(|w| w.get(next).copied().unwrap_or(true)),
        };
        let arg = args.get_item(next)?;
        // The visible spelling decides conversions (it may add `const`); it is
        // ABI-equal to the raw parameter at this position.
        let ty = callee
            .signature
            .params
            .get(next)
            .map_or(&param.ty, |p| &p.ty);
        slots.push(convert_arg(&arg, ty, &ctx, &mut borrows)?);
        next += 1;
    }
    let call = NativeCall {
        plan,
        code: callee.address,
        slots,
    };
    if callee.bounds_checked {
        crate::jit::runtime::take_index_error();
    }
    crate::jit::runtime::take_recursion_error();
    let ret = py.detach(move || call.run());
    if crate::jit::runtime::take_recursion_error() {
        return Err(pyo3::exceptions::PyRecursionError::new_err(format!(
            "{name}: maximum recursion depth exceeded (the native stack of this thread is nearly full)"
        )));
    }
    if callee.bounds_checked {
        if let Some((axis, index, size)) = crate::jit::runtime::take_index_error() {
            return Err(if axis < 0 {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "{name}: an array argument has {index} dimensions where {size} were declared"
                ))
            } else {
                pyo3::exceptions::PyIndexError::new_err(format!(
                    "{name}: index {index} is out of bounds for axis {axis} with size {size}"
                ))
            });
        }
    }
    drop(borrows);
    convert_result(py, &raw.ret, &ret)
}
