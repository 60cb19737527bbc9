//! Array arguments: NumPy arrays described in place, `nativecall.Array`s, and any other
//! array object (DLPack, `__array_interface__`, buffers) imported zero-copy for the call.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::abi::{dtype, Type};

use super::super::errors::{self, type_name};
use super::{ArgContext, Borrows, Slot};

/// The DLPack type code and bits of an array element type.
fn dlpack_code(t: &Type) -> Option<(u8, u8)> {
    dtype::of_type(t).map(|d| (d.code, d.bits))
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
    if let Ok(a) = obj.cast::<super::super::array::Array>() {
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
    // Complex arrays take the DLPack path.
    let Some((code, bits)) = dtype::of_kind(descr.kind() as char, itemsize)
        .filter(|d| d.kind != 'c')
        .map(|d| (d.code, d.bits))
    else {
        return Ok(None);
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
            return Err(errors::wrong_elements(
                &ctx.what(ty),
                dtype,
                format!("a NumPy array of {}", descr.str()?),
            ));
        }
        if arr.ndim() != ndim as usize {
            return Err(errors::wrong_ndim(&ctx.what(ty), ndim, arr.ndim()));
        }
    }
    let shape: Vec<i64> = arr.shape().iter().map(|&d| d as i64).collect();
    check_contiguous(&shape, Some(&strides), ty, ctx)?;
    // SAFETY: a live ndarray; reading its flags field.
    let writeable =
        unsafe { (*arr.as_array_ptr()).fields.flags } & numpy::npyffi::NPY_ARRAY_WRITEABLE != 0;
    if ctx.writes && !writeable {
        return Err(errors::read_only_array(&ctx.what(ty)));
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

/// Whether `shape` with `strides` (in elements) is C-contiguous, as NumPy's flag says: a
/// dimension of length 1 may have any stride, and an empty array is contiguous.
pub(super) fn c_contiguous(shape: &[i64], strides: &[i64]) -> bool {
    if shape.contains(&0) {
        return true;
    }
    let mut want = 1i64;
    for (&n, &s) in shape.iter().zip(strides).rev() {
        if n != 1 && s != want {
            return false;
        }
        want = want.saturating_mul(n);
    }
    true
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
    a: &super::super::array::Array,
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
            return Err(errors::wrong_elements(
                &ctx.what(ty),
                t,
                format_args!("{} from {source}", a.element_name()),
            ));
        }
        if shape.len() != ndim as usize {
            return Err(errors::wrong_ndim(&ctx.what(ty), ndim, shape.len()));
        }
    }
    check_contiguous(shape, Some(strides), ty, ctx)?;
    if ctx.writes && readonly {
        return Err(errors::read_only_array(&ctx.what(ty)));
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
pub(super) fn array_arg(
    obj: &Bound<'_, PyAny>,
    want: Option<(&Type, u32)>,
    ty: &Type,
    ctx: &ArgContext<'_>,
    borrows: &mut Borrows,
) -> PyResult<Slot> {
    if let Some(slot) = numpy_view(obj, want, ty, ctx, borrows)? {
        return Ok(slot);
    }
    let imported = super::super::array::import_any(obj, &ctx.what(ty))?;
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
