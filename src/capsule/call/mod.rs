//! Calling native functions from Python through libffi.
//!
//! One prepared call interface (`ffi_cif`) per ABI signature is cached for the
//! life of the process ([`plan`]); arguments are converted with range and type checks
//! ([`scalar`] for numbers, [`pointer`] for addresses and buffers, [`array_arg`] for
//! array parameters and DLPack tensors). Signatures of scalars only take the fast
//! entry ([`fast`]: no libffi, a generated invoker per signature). The GIL stays held
//! for the call unless the callable was made with `nogil=True`.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyInt;
use pyo3::Borrowed;

use crate::abi::{FloatType, Type};

use super::callable::NativeCallable;
use super::errors;

mod array_arg;
mod entry;
mod fast;
mod plan;
mod pointer;
mod scalar;

pub(crate) use entry::entry_for;
pub(crate) use fast::{call_fast, FastEntry};
pub(crate) use plan::{plan_for, CallPlan};
pub(crate) use pointer::{buffer_element, buffer_format};
pub(crate) use scalar::convert_result;

use plan::NativeCall;

/// Storage for one argument or result: large and aligned enough for every value type.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default)]
pub(crate) struct Slot(pub [u8; 16]);

impl Slot {
    fn from_bytes(bytes: &[u8]) -> Slot {
        let mut s = Slot::default();
        s.0[..bytes.len()].copy_from_slice(bytes);
        s
    }

    /// A pointer-sized zero (`NULL`, or `0` for any int type on little- and big-endian alike
    /// when read back at the type's own width).
    pub(crate) fn zero() -> Slot {
        Slot::default()
    }
}

/// A `DLTensor` built for one call, with the shape and strides it points into.
type DescriptorView = (dlpark::ffi::DLTensor, Vec<i64>, Vec<i64>);

/// Buffers borrowed for the duration of one call, released under the GIL.
#[derive(Default)]
pub(crate) struct Borrows {
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
pub(crate) struct ArgContext<'a> {
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

/// Convert one Python value to native storage for `ty`.
pub(crate) fn convert_arg(
    obj: &Bound<'_, PyAny>,
    ty: &Type,
    ctx: &ArgContext<'_>,
    borrows: &mut Borrows,
) -> PyResult<Slot> {
    match ty {
        Type::Bool => scalar::bool_slot(obj, ty, ctx),
        Type::Int(i) => scalar::int_slot(obj, *i, ty, ctx),
        Type::Float(FloatType::F64) => Ok(Slot::from_bytes(
            &scalar::float_value(obj, ty, ctx)?.to_ne_bytes(),
        )),
        Type::Float(FloatType::F32) => scalar::f32_slot(obj, ty, ctx),
        Type::Complex(f) => scalar::complex_slot(obj, *f, ty, ctx),
        Type::Array { dtype, ndim, .. } => {
            array_arg::array_arg(obj, Some((dtype, *ndim)), ty, ctx, borrows)
        }
        Type::Pointer { pointee, .. }
            if **pointee == Type::DLTensor && !obj.is_none() && !obj.is_instance_of::<PyInt>() =>
        {
            array_arg::array_arg(obj, None, ty, ctx, borrows)
        }
        Type::Pointer { pointee, is_const } => {
            let addr = pointer::pointer_value(obj, pointee, *is_const, ty, ctx, borrows)?;
            Ok(Slot::from_bytes(&addr.to_ne_bytes()))
        }
        other => Err(PyTypeError::new_err(format!(
            "{} cannot be passed from Python",
            ctx.what(other)
        ))),
    }
}

/// The positional arguments of a call from Python: borrowed references, alive for the call
/// (a vectorcall's argument array, or an argument tuple's items).
pub(crate) type Args<'a> = &'a [*mut ffi::PyObject];

/// Argument `i` of `args`.
fn arg<'a, 'py>(py: Python<'py>, args: Args<'a>, i: usize) -> Borrowed<'a, 'py, PyAny> {
    // SAFETY: every pointer in `args` is a live object the caller holds for the call.
    unsafe { Borrowed::from_ptr(py, args[i]) }
}

/// What fills one parameter of a callable's code in a call from Python.
pub(crate) enum Fill<'a> {
    /// A constant (Cython's hidden parameters).
    Hidden(Slot),
    /// The Python argument at this position, converted for this type: the visible
    /// spelling, which decides conversions (it may add `const`) and is ABI-equal to the
    /// code's parameter.
    Arg(usize, &'a Type),
}

/// How each parameter of `callee`'s code is filled, in order.
pub(crate) fn fills(callee: &NativeCallable) -> impl Iterator<Item = Fill<'_>> {
    let hidden = callee.hidden();
    let mut next = 0;
    callee
        .raw_signature
        .params
        .iter()
        .enumerate()
        .map(
            move |(index, p)| match hidden.iter().find(|(i, _)| *i == index) {
                Some((_, value)) => Fill::Hidden(*value),
                None => {
                    let k = next;
                    next += 1;
                    Fill::Arg(k, callee.signature.params.get(k).map_or(&p.ty, |v| &v.ty))
                }
            },
        )
}

impl ArgContext<'_> {
    /// The context of Python argument `index` of a call of `callee`.
    fn of(callee: &NativeCallable, index: usize) -> ArgContext<'_> {
        ArgContext {
            function: &callee.name,
            index,
            writes: callee.may_write(index),
        }
    }
}

/// Call `callee` with the Python `args` filling every parameter it does not hide.
pub(crate) fn call_native<'py>(
    py: Python<'py>,
    callee: &NativeCallable,
    plan: Arc<CallPlan>,
    args: Args<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    let (name, raw, hidden) = (&callee.name, &callee.raw_signature, callee.hidden());
    let expected = raw.params.len() - hidden.len();
    if args.len() != expected {
        return Err(errors::arity(callee, expected, args.len()));
    }
    let mut borrows = Borrows::default();
    let mut slots = Vec::with_capacity(raw.params.len());
    for fill in fills(callee) {
        slots.push(match fill {
            Fill::Hidden(value) => value,
            Fill::Arg(k, ty) => {
                let ctx = ArgContext::of(callee, k);
                convert_arg(&arg(py, args, k), ty, &ctx, &mut borrows)?
            }
        });
    }
    let call = NativeCall {
        plan,
        code: callee.address,
        slots,
    };
    let state = clear_kernel_errors(callee);
    let ret = if callee.nogil() {
        py.detach(move || call.run())
    } else {
        call.run()
    };
    kernel_errors(callee, name, state)?;
    drop(borrows);
    convert_result(py, &raw.ret, &ret)
}

/// Forget any error a kernel left in this thread's runtime state before a call, so what
/// [`kernel_errors`] finds after it is this call's. Returns the thread's stack state, for
/// [`kernel_errors`] to read without looking the thread-local up again.
/// Code that records no errors (its code generation emitted no error helper and no stack
/// check) skips the thread-local lookups, a fair share of a short call's cost.
fn clear_kernel_errors(callee: &NativeCallable) -> RuntimeState {
    if !callee.records_errors() {
        return RuntimeState(std::ptr::null());
    }
    if callee.bounds_checked() {
        crate::jit::runtime::take_index_error();
    }
    crate::jit::runtime::take_array_error();
    let state = runtime_state(callee);
    // SAFETY: the pointer is this thread's own state, alive as long as the thread.
    unsafe { (*state.0).error.set(0) };
    state
}

/// This thread's kernel runtime state, for [`kernel_errors`] to read (null for code that
/// records no errors).
fn runtime_state(callee: &NativeCallable) -> RuntimeState {
    if !callee.records_errors() {
        return RuntimeState(std::ptr::null());
    }
    RuntimeState(crate::jit::runtime::stack_state())
}

/// This thread's kernel runtime state, found before a call (see [`clear_kernel_errors`]);
/// null for code that records no errors.
pub(crate) struct RuntimeState(*const crate::jit::runtime::StackState);

/// The error a call of `callee` (named `name` in messages) left in this thread's runtime
/// state: a recursion too deep, an array operation that failed, or (bounds-checked
/// kernels) an index out of range.
fn kernel_errors(callee: &NativeCallable, name: &str, state: RuntimeState) -> PyResult<()> {
    if state.0.is_null() {
        return Ok(());
    }
    // SAFETY: as in `clear_kernel_errors`; the call ran on this same thread.
    let recursed = unsafe { (*state.0).error.replace(0) != 0 };
    if recursed {
        return Err(errors::kernel_recursion(name));
    }
    if let Some(e) = crate::jit::runtime::take_array_error() {
        return Err(errors::kernel_array(name, e));
    }
    if callee.bounds_checked() {
        if let Some((axis, index, size)) = crate::jit::runtime::take_index_error() {
            return Err(errors::kernel_index(name, axis, index, size));
        }
    }
    Ok(())
}
