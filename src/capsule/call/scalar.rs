//! Python numbers to native scalars (with range and type checks), and native results
//! back to Python objects.

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyComplex, PyFloat};

use crate::abi::{FloatType, IntType, Type};

use super::super::errors;
use super::{ArgContext, Slot};

/// A `bool` argument: `True`, `False`, `0` or `1`.
pub(super) fn bool_slot(obj: &Bound<'_, PyAny>, ty: &Type, ctx: &ArgContext<'_>) -> PyResult<Slot> {
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
            Err(_) => Err(errors::must_be(&ctx.what(ty), "a bool", obj)),
        },
    }
}

/// A `float` argument, refusing values beyond `float`'s range.
pub(super) fn f32_slot(obj: &Bound<'_, PyAny>, ty: &Type, ctx: &ArgContext<'_>) -> PyResult<Slot> {
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

/// A complex argument, as two floats of `f`'s width.
pub(super) fn complex_slot(
    obj: &Bound<'_, PyAny>,
    f: FloatType,
    ty: &Type,
    ctx: &ArgContext<'_>,
) -> PyResult<Slot> {
    let (re, im) = complex_value(obj, ty, ctx)?;
    let mut s = Slot::default();
    if f == FloatType::F32 {
        s.0[..4].copy_from_slice(&(re as f32).to_ne_bytes());
        s.0[4..8].copy_from_slice(&(im as f32).to_ne_bytes());
    } else {
        s.0[..8].copy_from_slice(&re.to_ne_bytes());
        s.0[8..].copy_from_slice(&im.to_ne_bytes());
    }
    Ok(s)
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
        errors::must_be(&ctx.what(ty), expected, obj)
    }
}

pub(super) fn int_slot(
    obj: &Bound<'_, PyAny>,
    i: IntType,
    ty: &Type,
    ctx: &ArgContext<'_>,
) -> PyResult<Slot> {
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

pub(super) fn float_value(
    obj: &Bound<'_, PyAny>,
    ty: &Type,
    ctx: &ArgContext<'_>,
) -> PyResult<f64> {
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

/// Turn a native result into a Python object.
pub(crate) fn convert_result<'py>(
    py: Python<'py>,
    ty: &Type,
    slot: &Slot,
) -> PyResult<Bound<'py, PyAny>> {
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
