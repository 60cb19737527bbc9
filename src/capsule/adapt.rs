//! Adapting a callable to a consumer's signature with a generated thunk, so extra
//! arguments never travel through a Python tuple at call time.
//!
//! - `f(x, a, b)` as `"double (double, void *)"`: `a, b` are packed once into a native
//!   struct that the LowLevelCallable owns as its `user_data`;
//! - `f(x, a, b)` as scipy.integrate.quad's `"double (int, double *)"`: `xx[0]` is `x`,
//!   `xx[1:]` are what `quad(..., args=(a, b))` passes;
//! - hidden constant arguments (Cython's `__pyx_skip_dispatch`) are the same mechanism.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::abi::{IntType, Signature, Type};
use crate::jit::{adapter_thunk, compile_entry, ArgSource, CountGuard, Entry, Thunk};

use super::call::{convert_arg, ArgContext, Borrows};
use super::callable::{make_capsule, AdapterKey, NativeCallable, USER_DATA_CAPSULE};
use super::errors;
use super::kernel::Kernel;
use super::types::PySignature;

/// Extra arguments packed into a C struct, owned by the capsule passed as `user_data`.
#[pyclass(module = "nativecall", name = "PackedArgs", frozen)]
pub struct PackedArgs {
    buf: Box<[u64]>,
    layout: Vec<(Type, usize)>,
    // The objects whose memory pointer fields point into.
    _keep: Vec<Py<PyAny>>,
    // Their buffer exports and array descriptors, held as long as the struct: a field
    // points into them, and a held export pins the memory (a bytearray cannot resize).
    _pinned: Pinned,
}

/// Borrows that outlive the packing call.
struct Pinned(#[allow(dead_code)] Borrows);

// SAFETY: the borrows are never read after packing; they are only dropped, with their
// PackedArgs, which Python deallocates with the GIL held.
unsafe impl Send for Pinned {}
// SAFETY: as above, nothing reads them.
unsafe impl Sync for Pinned {}

#[pymethods]
impl PackedArgs {
    /// The address of the packed struct.
    #[getter]
    fn address(&self) -> usize {
        self.buf.as_ptr() as usize
    }

    /// Each field's C type and byte offset.
    #[getter]
    fn layout(&self) -> Vec<(String, usize)> {
        self.layout
            .iter()
            .map(|(t, o)| (t.to_string(), *o))
            .collect()
    }
}

/// C struct layout of `types`: each field's offset, and the total size.
fn struct_layout(types: &[Type]) -> PyResult<(Vec<usize>, usize)> {
    let mut offsets = Vec::with_capacity(types.len());
    let mut at = 0usize;
    for t in types {
        let (size, align) = match (t.size(), t.align()) {
            (Some(s), Some(a)) => (s, a),
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "'{t}' cannot be packed into user data"
                )))
            }
        };
        at = at.div_ceil(align) * align;
        offsets.push(at);
        at += size;
    }
    Ok((offsets, at))
}

/// Pack `values` for the parameters `types` of `name`, which start at its parameter
/// `first` (so errors name the consumer's own position).
fn pack<'py>(
    py: Python<'py>,
    name: &str,
    first: usize,
    types: &[Type],
    values: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PackedArgs>> {
    let shown: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    let values: Vec<Bound<'py, PyAny>> = match values.cast::<PyTuple>() {
        Ok(t) => t.iter().collect(),
        Err(_) if types.len() == 1 => vec![values.clone()],
        Err(_) => {
            return Err(PyTypeError::new_err(format!(
                "user_data for {name} must be a tuple of its extra arguments ({}), got {}",
                shown.join(", "),
                values.get_type().name()?
            )))
        }
    };
    if values.len() != types.len() {
        return Err(PyTypeError::new_err(format!(
            "user_data for {name} must hold {} values ({}), got {}",
            types.len(),
            shown.join(", "),
            values.len()
        )));
    }
    let (offsets, size) = struct_layout(types)?;
    let mut buf = vec![0u64; size.div_ceil(8).max(1)].into_boxed_slice();
    let bytes: &mut [u8] = bytemuck_bytes(&mut buf);
    let mut borrows = Borrows::default();
    for (k, ((t, v), off)) in types.iter().zip(&values).zip(&offsets).enumerate() {
        let ctx = ArgContext {
            function: name,
            index: first + k,
            writes: true,
        };
        let slot = convert_arg(v, t, &ctx, &mut borrows)?;
        let n = t.size().expect("sized");
        bytes[*off..*off + n].copy_from_slice(&slot.0[..n]);
    }
    let keep = values.into_iter().map(|v| v.unbind()).collect();
    let layout = types.iter().cloned().zip(offsets).collect();
    Bound::new(
        py,
        PackedArgs {
            buf,
            layout,
            _keep: keep,
            _pinned: Pinned(borrows),
        },
    )
}

fn bytemuck_bytes(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 has no padding and any byte pattern is a valid u8; the slice covers
    // exactly the words' memory.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, words.len() * 8) }
}

fn is_numeric(t: &Type) -> bool {
    matches!(t, Type::Bool | Type::Int(_) | Type::Float(_))
}

/// The callable to export as `target`, with the `user_data` to hand the consumer.
pub(crate) fn adapt<'py>(
    slf: &Bound<'py, NativeCallable>,
    target: Arc<Signature>,
    user_data: Option<Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, NativeCallable>, Option<Bound<'py, PyAny>>)> {
    let py = slf.py();
    let me = slf.get();
    let own = me.signature.clone();
    if target.abi_eq(&own) {
        if target.to_string() == own.to_string() {
            return Ok((slf.clone(), user_data));
        }
        let respelled = NativeCallable::_respelled(
            slf,
            &Bound::new(py, PySignature { sig: target })?.into_any(),
        )?;
        return Ok((respelled, user_data));
    }
    let tparams: Vec<&Type> = target.arg_types().collect();
    let oparams: Vec<&Type> = own.arg_types().collect();
    let same_ret = target.ret.abi_eq(&own.ret);
    let int = Type::Int(IntType::Int);
    let dptr = Type::pointer(Type::F64);
    let vptr = Type::void_ptr();

    // quad's "double (int, double *)" and "double (int, double *, void *)".
    let nd = (tparams.len() == 2 || (tparams.len() == 3 && tparams[2].abi_eq(&vptr)))
        && tparams[0].abi_eq(&int)
        && tparams[1].abi_eq(&dptr);
    if same_ret && nd && !oparams.is_empty() && oparams.iter().all(|t| is_numeric(t)) {
        let sources: Vec<ArgSource> = (0..oparams.len())
            .map(|i| ArgSource::Element { param: 1, index: i })
            .collect();
        let guard = CountGuard {
            count_param: 0,
            min: oparams.len() as i64,
        };
        return finish(slf, target, &sources, Some(guard), user_data);
    }

    // A trailing `void *user_data` the callable does not take: ignored.
    let k = tparams.len().saturating_sub(1);
    if same_ret
        && !tparams.is_empty()
        && tparams[k].abi_eq(&vptr)
        && oparams.len() == k
        && tparams[..k].iter().zip(&oparams).all(|(a, b)| a.abi_eq(b))
    {
        if let Some(extras) = user_data.as_ref().and_then(|u| u.cast::<PyTuple>().ok()) {
            return Err(PyTypeError::new_err(format!(
                "{} ({own}) as '{target}' takes no extra arguments from user_data, got {} ({})",
                me.name,
                extras.len(),
                extras.repr()?
            )));
        }
        let sources: Vec<ArgSource> = (0..k).map(ArgSource::Param).collect();
        return finish(slf, target, &sources, None, user_data);
    }

    // A trailing `void *user_data` carrying the callable's extra parameters.
    let ud = !tparams.is_empty() && tparams[k].abi_eq(&vptr) && oparams.len() > k;
    if same_ret
        && ud
        && tparams[..k]
            .iter()
            .zip(&oparams[..k])
            .all(|(a, b)| a.abi_eq(b))
    {
        let extras: Vec<Type> = oparams[k..].iter().map(|t| (*t).clone()).collect();
        let Some(values) = user_data else {
            return Err(PyTypeError::new_err(format!(
                "{} as '{target}' needs user_data=(...) with its extra arguments ({})",
                me.name,
                extras
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let packed = pack(py, &me.name, k, &extras, &values)?;
        let (offsets, _) = struct_layout(&extras)?;
        let mut sources: Vec<ArgSource> = (0..k).map(ArgSource::Param).collect();
        sources.extend(offsets.iter().map(|o| ArgSource::Field {
            param: k,
            offset: *o as i32,
        }));
        let capsule = make_capsule(
            py,
            packed.get().buf.as_ptr() as usize,
            USER_DATA_CAPSULE,
            packed.as_any(),
            0,
        )?;
        return finish(slf, target, &sources, None, Some(capsule.into_any()));
    }

    Err(PyTypeError::new_err(format!(
        "cannot export {} ({own}) as '{target}': not ABI-compatible, and no adapter applies. Adapters: \
         extra parameters from user_data ('{} (<leading parameters>, void *)'), or quad's \
         'double (int, double *)' for numeric parameters",
        me.name, own.ret
    )))
}

fn finish<'py>(
    slf: &Bound<'py, NativeCallable>,
    target: Arc<Signature>,
    sources: &[ArgSource],
    guard: Option<CountGuard>,
    user_data: Option<Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, NativeCallable>, Option<Bound<'py, PyAny>>)> {
    let me = slf.get();
    let entry = cached_entry(slf, &target, sources, guard)?;
    let nc = NativeCallable::new(
        entry.address,
        target,
        me.name.clone(),
        slf.clone().into_any().unbind(),
    )?
    .with_code(entry.code);
    Ok((nc.into_bound(slf.py())?, user_data))
}

/// The adapted entry of `slf` for `target` with arguments from `sources`: generated once
/// per (signature, sources, guard) and kept with `slf`, so exporting again (with other
/// user data values: the packed values differ, the layout does not) shares the code.
pub(crate) fn cached_entry(
    slf: &Bound<'_, NativeCallable>,
    target: &Arc<Signature>,
    sources: &[ArgSource],
    guard: Option<CountGuard>,
) -> PyResult<Thunk> {
    let me = slf.get();
    let key: AdapterKey = ((**target).clone(), sources.to_vec(), guard);
    if let Some(t) = me.adapters.lock().get(&key) {
        return Ok(t.clone());
    }
    // Generated without the lock (a kernel compiles with the GIL released); if another
    // thread got there first, its entry is kept and this one dropped.
    let made = adapted_entry(slf, target, sources, guard)?;
    Ok(me.adapters.lock().entry(key).or_insert(made).clone())
}

/// Generate the code of an adapted entry of `slf`.
fn adapted_entry(
    slf: &Bound<'_, NativeCallable>,
    target: &Arc<Signature>,
    sources: &[ArgSource],
    guard: Option<CountGuard>,
) -> PyResult<Thunk> {
    let me = slf.get();
    // A kernel is compiled again with the adapted entry, so the consumer's call lands in
    // the kernel's own code; anything else (or a recursive kernel) gets a thunk in front.
    if let Ok(kernel) = slf.cast::<Kernel>() {
        let entry = Entry {
            outer: (**target).clone(),
            sources: sources.to_vec(),
            guard,
        };
        let ir = kernel.get().ir().clone();
        if let Ok(compiled) = slf.py().detach(|| compile_entry(&ir, Some(&entry))) {
            return Ok(Thunk {
                address: compiled.address,
                code: compiled.code,
            });
        }
    }
    let inner_address = me.export_address()?;
    adapter_thunk(inner_address, &me.signature, target, sources, guard)
        .map_err(|e| errors::glue_error(format_args!("cannot adapt {} to '{target}'", me.name), &e))
}

/// An adapted callable, each struct field's C type and offset, and the struct size.
type UserDataThunk<'py> = (Bound<'py, NativeCallable>, Vec<(String, usize)>, usize);

/// An adapted signature, its argument sources, each extra parameter's type and offset,
/// and the struct size.
pub(crate) type UserDataLayout = (Arc<Signature>, Vec<ArgSource>, Vec<(Type, usize)>, usize);

/// Where `f`'s parameters after the first `leading` are read from: a struct behind a
/// trailing `void *`. Returns the adapted signature, the argument sources, each extra
/// parameter's type and offset, and the struct size.
pub(crate) fn user_data_layout(f: &NativeCallable, leading: usize) -> PyResult<UserDataLayout> {
    let params: Vec<Type> = f.signature.arg_types().cloned().collect();
    if params.len() < leading {
        return Err(PyTypeError::new_err(format!(
            "{} ({}) has fewer than {leading} parameters",
            f.name, f.signature
        )));
    }
    let extras = params[leading..].to_vec();
    let (offsets, size) = struct_layout(&extras)?;
    let mut target_params = params[..leading].to_vec();
    target_params.push(Type::void_ptr());
    let target = Arc::new(Signature::new(f.signature.ret.clone(), target_params));
    let mut sources: Vec<ArgSource> = (0..leading).map(ArgSource::Param).collect();
    sources.extend(offsets.iter().map(|o| ArgSource::Field {
        param: leading,
        offset: *o as i32,
    }));
    let layout = extras.into_iter().zip(offsets).collect();
    Ok((target, sources, layout, size))
}

/// `f` adapted to take its parameters after the first `leading` from a struct behind a
/// trailing `void *`, without packing any values: for callers that fill the struct
/// themselves, element by element (`nativecall.optimize` over arrays). Returns the
/// adapted callable and each field's C type and byte offset, and the struct size.
#[pyfunction]
pub(crate) fn _user_data_thunk<'py>(
    f: &Bound<'py, NativeCallable>,
    leading: usize,
) -> PyResult<UserDataThunk<'py>> {
    let (target, sources, layout, size) = user_data_layout(f.get(), leading)?;
    let (nc, _) = finish(f, target, &sources, None, None)?;
    let layout = layout.iter().map(|(t, o)| (t.to_string(), *o)).collect();
    Ok((nc, layout, size))
}

/// Pack `values` for the fields `layout` (of a struct of `size` bytes) into words, for
/// parameter positions starting at `first` of `name`. Pointer arguments borrow into
/// `borrows`, which must outlive every use of the words.
pub(crate) fn pack_into(
    name: &str,
    first: usize,
    layout: &[(Type, usize)],
    size: usize,
    values: &Bound<'_, PyTuple>,
    borrows: &mut Borrows,
) -> PyResult<Vec<u64>> {
    let mut buf = vec![0u64; size.div_ceil(8).max(1)];
    let bytes: &mut [u8] = bytemuck_bytes(&mut buf);
    for (k, ((t, off), v)) in layout.iter().zip(values.iter()).enumerate() {
        let ctx = ArgContext {
            function: name,
            index: first + k,
            writes: true,
        };
        let slot = convert_arg(&v, t, &ctx, borrows)?;
        let n = t.size().expect("sized");
        bytes[*off..*off + n].copy_from_slice(&slot.0[..n]);
    }
    Ok(buf)
}
