//! The fast entry for calls from Python whose parameters and result are all scalars
//! (ints of every width, floats, bool, complex, pointers).
//!
//! Arguments are unboxed with the C API's fast paths where the object is exactly a
//! `float`, an `int` or a `bool` (anything else, and any value the fast path would refuse,
//! goes through the general converters, so the checks and messages are the same), into
//! slots on the stack; a generated invoker ([`crate::jit::invoke`]) calls the code
//! without libffi; the GIL stays held unless the callable was made with `nogil=True`.
//!
//! Most calls never get here: the generated entry ([`super::entry`]) serves ints, floats,
//! bools, `complex128`, pointers and arrays in straight-line code. This path takes what
//! it hands on (a float subclass, an int past its fast range), the first call of a
//! callable, `nogil=True` callables and `complex64`.

use std::ffi::c_int;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::abi::{FloatType, IntType, Signature, Type};
use crate::jit::invoke::{invoker, Invoker, INVOKE_SLOT_BYTES};

use super::super::callable::NativeCallable;
use super::{
    arg, clear_kernel_errors, convert_arg, convert_result, fills, kernel_errors, ArgContext, Args,
    Borrows, Fill, Slot,
};

/// The most parameters (hidden ones included) the fast entry passes; more take the
/// general path.
const MAX_PARAMS: usize = 8;

const _: () = assert!(std::mem::size_of::<Slot>() == INVOKE_SLOT_BYTES);

/// How one parameter of the code is filled.
enum Param {
    /// A constant (Cython's hidden `__pyx_skip_dispatch`).
    Hidden(Slot),
    /// The next Python argument, converted for this visible type.
    Visible(Type),
}

/// A scalar signature's entry: the invoker and how each parameter is filled.
pub(crate) struct FastEntry {
    invoker: Invoker,
    params: Vec<Param>,
}

fn is_scalar(ty: &Type, result: bool) -> bool {
    match ty {
        Type::Void => result,
        Type::Bool | Type::Int(_) | Type::Pointer { .. } => true,
        Type::Float(f) | Type::Complex(f) => *f != FloatType::LongDouble,
        _ => false,
    }
}

impl FastEntry {
    /// The fast entry for `callee`, or `None` when its signature needs the general path
    /// (arrays, structs, long double, more than [`MAX_PARAMS`] parameters, or complex
    /// numbers that would not all travel in registers).
    pub(crate) fn for_callable(callee: &NativeCallable) -> Option<FastEntry> {
        let raw: &Signature = &callee.raw_signature;
        let visible = &callee.signature;
        if raw.params.len() > MAX_PARAMS
            || !is_scalar(&raw.ret, true)
            || !raw.arg_types().all(|t| is_scalar(t, false))
            || !visible.arg_types().all(|t| is_scalar(t, false))
        {
            return None;
        }
        let invoker = invoker(raw).ok()?;
        let params = fills(callee)
            .map(|fill| match fill {
                Fill::Hidden(value) => Param::Hidden(value),
                Fill::Arg(_, ty) => Param::Visible(ty.clone()),
            })
            .collect();
        Some(FastEntry { invoker, params })
    }
}

/// An exact `float` as a double (no conversion protocol to run, nothing to refuse).
fn exact_float(obj: &Bound<'_, PyAny>) -> Option<f64> {
    let p = obj.as_ptr();
    // SAFETY: `p` is a live object (borrowed from the argument tuple); for an exact float
    // PyFloat_AsDouble only reads its value and cannot fail.
    unsafe { (ffi::PyFloat_CheckExact(p) != 0).then(|| ffi::PyFloat_AsDouble(p)) }
}

/// An exact `int` that fits a C `long long`.
fn exact_int(obj: &Bound<'_, PyAny>) -> Option<i64> {
    let p = obj.as_ptr();
    // SAFETY: as above; for an exact int PyLong_AsLongLongAndOverflow reports a value out
    // of range through `overflow` without raising.
    unsafe {
        if ffi::PyLong_CheckExact(p) == 0 {
            return None;
        }
        let mut overflow: c_int = 0;
        let v = ffi::PyLong_AsLongLongAndOverflow(p, &mut overflow);
        (overflow == 0).then_some(v)
    }
}

fn int_bytes(v: i64, i: IntType) -> Option<Slot> {
    let (lo, hi) = i.range();
    if (v as i128) < lo || (v as i128) > hi {
        return None;
    }
    let n = i.bits() as usize / 8;
    let bytes = v.to_ne_bytes();
    Some(if cfg!(target_endian = "little") {
        Slot::from_bytes(&bytes[..n])
    } else {
        Slot::from_bytes(&bytes[8 - n..])
    })
}

/// The slot for `obj` when a fast path applies and accepts it; `None` sends the argument
/// to the general converter, which also words every refusal.
fn quick_slot(obj: &Bound<'_, PyAny>, ty: &Type) -> Option<Slot> {
    match ty {
        Type::Float(FloatType::F64) => exact_float(obj).map(|v| Slot::from_bytes(&v.to_ne_bytes())),
        Type::Float(FloatType::F32) => exact_float(obj)
            .filter(|v| !v.is_finite() || v.abs() <= f32::MAX as f64)
            .map(|v| Slot::from_bytes(&(v as f32).to_ne_bytes())),
        Type::Int(i) => exact_int(obj).and_then(|v| int_bytes(v, *i)),
        Type::Bool => {
            let p = obj.as_ptr();
            // SAFETY: Py_True and Py_False are the interpreter's immortal singletons.
            let (t, f) = unsafe { (ffi::Py_True(), ffi::Py_False()) };
            (p == t || p == f).then(|| Slot::from_bytes(&[(p == t) as u8]))
        }
        _ => None,
    }
}

/// Call `callee` through `entry` with the Python `args`.
pub(crate) fn call_fast<'py>(
    py: Python<'py>,
    callee: &NativeCallable,
    entry: &FastEntry,
    args: Args<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    let expected = entry.params.len() - callee.hidden().len();
    if args.len() != expected {
        return Err(super::super::errors::arity(callee, expected, args.len()));
    }
    let mut slots = [Slot::default(); MAX_PARAMS];
    // Pointer arguments may borrow buffers or hold objects until the call returns
    // (made only then: dropping even an empty one shows in a call that costs ~100 ns).
    let mut borrows: Option<Box<Borrows>> = None;
    let mut next = 0;
    for (slot, param) in slots.iter_mut().zip(&entry.params) {
        let ty = match param {
            Param::Hidden(value) => {
                *slot = *value;
                continue;
            }
            Param::Visible(ty) => ty,
        };
        // `next < args.len()`: there are exactly `expected` visible parameters.
        let arg = arg(py, args, next);
        *slot = match quick_slot(&arg, ty) {
            Some(s) => s,
            None => general_slot(&arg, ty, callee, next, &mut borrows)?,
        };
        next += 1;
    }
    let state = clear_kernel_errors(callee);
    let mut ret = Slot::default();
    let (invoke, code) = (entry.invoker, callee.address);
    if callee.nogil() {
        invoke_detached(py, invoke, code, &slots, &mut ret);
    } else {
        // SAFETY: the invoker was generated for the code's raw signature, each slot holds
        // a value of its parameter's type, and `ret` has room for every result type.
        unsafe { invoke(code, slots.as_ptr().cast(), (&mut ret as *mut Slot).cast()) };
    }
    kernel_errors(callee, &callee.name, state)?;
    drop(borrows);
    fast_result(py, &callee.raw_signature.ret, &ret)
}

/// An argument no fast path took, through the general converter (which also words
/// every refusal). Kept out of line, so the common call stays small.
#[cold]
#[inline(never)]
fn general_slot(
    arg: &Bound<'_, PyAny>,
    ty: &Type,
    callee: &NativeCallable,
    index: usize,
    borrows: &mut Option<Box<Borrows>>,
) -> PyResult<Slot> {
    let ctx = ArgContext::of(callee, index);
    convert_arg(arg, ty, &ctx, borrows.get_or_insert_with(Default::default))
}

/// The call with the GIL released (`nogil=True`).
#[inline(never)]
fn invoke_detached(py: Python<'_>, invoke: Invoker, code: usize, slots: &[Slot], ret: &mut Slot) {
    // Addresses as integers: the closure runs on this thread, while `slots` and `ret` live.
    let (args_at, ret_at) = (slots.as_ptr() as usize, ret as *mut Slot as usize);
    // SAFETY: as for the call with the GIL held in `call_fast`.
    py.detach(move || unsafe { invoke(code, args_at as *const u8, ret_at as *mut u8) });
}

/// The result as a Python object: floats directly, everything else as the general path does.
fn fast_result<'py>(py: Python<'py>, ty: &Type, ret: &Slot) -> PyResult<Bound<'py, PyAny>> {
    if let Type::Float(FloatType::F64) = ty {
        let v = f64::from_ne_bytes(ret.0[..8].try_into().expect("8 bytes"));
        return Ok(pyo3::types::PyFloat::new(py, v).into_any());
    }
    // The general conversion reads small ints at their own width from the low bytes.
    convert_result(py, ty, ret)
}
