//! The types Python instantiates for `NativeCallable` and `Kernel`: heap subtypes, made
//! once with `PyType_FromSpecWithBases`, whose instances take calls by vectorcall.
//!
//! pyo3 gives a `#[pyclass]` only `tp_call` (an argument tuple and a keyword dict per
//! call, then its own argument extraction); a call from Python then costs several times
//! what the native code does. Each subtype adds one pointer to the instance, the
//! `vectorcallfunc` [`vectorcall`], at `__vectorcalloffset__`, and its own `tp_call` for
//! callers that build a tuple anyway: both read the arguments in place and go straight to
//! [`NativeCallable::call_from_python`]. Vectorcall joined the limited API in 3.12, but
//! the protocol (PEP 590, with `__vectorcalloffset__` for heap types since 3.9) is what
//! CPython 3.11 runs, so the stable-ABI build uses it there too.
//!
//! Instances are made by calling the subtype: the pyo3 base's `tp_new` (its `#[new]`)
//! takes the value waiting in [`PENDING`] for this thread and allocates the subtype's
//! larger object, and [`into_object`] then stores the vectorcall pointer.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use pyo3::Borrowed;

use super::NativeCallable;

/// `Py_TPFLAGS_HAVE_VECTORCALL` (PEP 590; not in pyo3's limited-API 3.11 definitions).
const HAVE_VECTORCALL: c_ulong = 1 << 11;
/// `Py_TPFLAGS_IMMUTABLETYPE` (3.10): nobody can reassign `__call__` behind vectorcall.
const IMMUTABLE_TYPE: c_ulong = 1 << 8;
/// `PY_VECTORCALL_ARGUMENTS_OFFSET`: a flag in `nargsf`, not part of the count.
const ARGUMENTS_OFFSET: usize = 1 << (usize::BITS - 1);

/// PEP 590's `vectorcallfunc`.
type VectorcallFunc = unsafe extern "C" fn(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject;

/// Arguments up to this many are gathered on the stack by [`tp_call`].
const STACK_ARGS: usize = 8;

thread_local! {
    /// The Rust value the next `#[new]` of a pyo3 base on this thread takes: a
    /// `NativeCallable`, or a `PyClassInitializer<Kernel>`.
    static PENDING: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// The value [`into_object`] left for the `#[new]` running now, if it is a `T`.
pub(crate) fn take_pending<T: 'static>(what: &str) -> PyResult<T> {
    PENDING
        .with(|p| p.borrow_mut().take())
        .and_then(|b| b.downcast::<T>().ok())
        .map(|b| *b)
        .ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{what} objects are made by nativecall.native() and nativecall.jit(), not by calling the type"
            ))
        })
}

/// One subtype: the type object and where its instances keep the vectorcall pointer.
struct FastType {
    ty: Py<PyType>,
    offset: isize,
}

/// The subtype of `base` named `name` (made on first use, once per interpreter).
fn fast_type<'a>(
    py: Python<'_>,
    cell: &'a PyOnceLock<FastType>,
    base: &Bound<'_, PyType>,
    name: &'static CStr,
) -> PyResult<&'a FastType> {
    cell.get_or_try_init(py, || {
        let basicsize: isize = base.getattr("__basicsize__")?.extract()?;
        let align = std::mem::align_of::<usize>() as isize;
        let offset = (basicsize + align - 1) / align * align;
        // CPython reads the members while it makes the type and keeps pointers to
        // them in the member descriptors: they live as long as the process.
        let members: &'static mut [ffi::PyMemberDef; 2] = Box::leak(Box::new([
            ffi::PyMemberDef {
                name: c"__vectorcalloffset__".as_ptr(),
                type_code: ffi::Py_T_PYSSIZET,
                offset: offset as ffi::Py_ssize_t,
                flags: ffi::Py_READONLY,
                doc: std::ptr::null(),
            },
            ffi::PyMemberDef::default(),
        ]));
        let slots: &'static mut [ffi::PyType_Slot; 3] = Box::leak(Box::new([
            ffi::PyType_Slot {
                slot: ffi::Py_tp_call,
                pfunc: tp_call as *mut c_void,
            },
            ffi::PyType_Slot {
                slot: ffi::Py_tp_members,
                pfunc: members.as_mut_ptr().cast(),
            },
            ffi::PyType_Slot {
                slot: 0,
                pfunc: std::ptr::null_mut(),
            },
        ]));
        let size = offset + std::mem::size_of::<usize>() as isize;
        let mut spec = ffi::PyType_Spec {
            name: name.as_ptr() as *const c_char,
            basicsize: size as c_int,
            itemsize: 0,
            flags: (ffi::Py_TPFLAGS_DEFAULT | HAVE_VECTORCALL | IMMUTABLE_TYPE) as c_uint,
            slots: slots.as_mut_ptr(),
        };
        // SAFETY: `spec`, its slots and members are valid (the latter two for the
        // process); `base` is a type object that allows subclasses.
        let ty = unsafe {
            Bound::from_owned_ptr_or_err(
                py,
                ffi::PyType_FromSpecWithBases(&mut spec, base.as_ptr()),
            )?
        };
        Ok(FastType {
            ty: ty.cast_into::<PyType>()?.unbind(),
            offset,
        })
    })
}

/// Make the Python object for a value of a pyo3 class deriving from `NativeCallable`:
/// `value` is what the class's `#[new]` takes ([`take_pending`]), `base` the pyo3 type,
/// `name` the subtype's dotted name.
pub(crate) fn into_object<'py, V: 'static>(
    py: Python<'py>,
    value: V,
    cell: &FastTypeCell,
    base: &Bound<'py, PyType>,
    name: &'static CStr,
) -> PyResult<Bound<'py, PyAny>> {
    let fast = fast_type(py, &cell.0, base, name)?;
    PENDING.with(|p| *p.borrow_mut() = Some(Box::new(value)));
    let made = fast.ty.bind(py).call0();
    // Never leave a value behind for a later, unrelated `#[new]`.
    PENDING.with(|p| p.borrow_mut().take());
    let obj = made?;
    // SAFETY: `obj` is an instance of the subtype (its `tp_new` is the base's, which
    // allocates the subtype's size, zeroed), so `offset` is inside it and pointer-aligned.
    unsafe {
        let at = obj.as_ptr().cast::<u8>().offset(fast.offset);
        at.cast::<Option<VectorcallFunc>>().write(Some(vectorcall));
        let me = obj.cast_unchecked::<NativeCallable>().get();
        // A new object: nothing has set it yet.
        let _ = me.vectorcall_at.set(fast.offset);
    }
    Ok(obj)
}

/// Make `callable`'s calls from Python run `f` (a `vectorcallfunc`) from now on.
///
/// # Safety
/// `callable` is `me`'s object (made by [`into_object`]), and `f` a `vectorcallfunc`
/// that serves it.
unsafe fn set_vectorcall(callable: *mut ffi::PyObject, me: &NativeCallable, f: usize) {
    if let Some(&offset) = me.vectorcall_at.get() {
        // SAFETY: `offset` is where `into_object` stored the pointer in this object.
        unsafe {
            callable
                .cast::<u8>()
                .offset(offset)
                .cast::<usize>()
                .write(f)
        };
    }
}

/// Give `callable` its generated entry, on its first call from Python (see
/// [`crate::capsule::call::entry_for`]); the general entry stays where it has none.
fn install_entry(py: Python<'_>, callable: *mut ffi::PyObject, me: &NativeCallable) {
    me.python_entry.get_or_init(|| {
        if let Some(f) = super::call::entry_for(py, me, callable, vectorcall as *const () as usize)
        {
            // SAFETY: `callable` is `me`'s object, and the entry serves its signature.
            unsafe { set_vectorcall(callable, me, f) };
        }
    });
}

/// Which entry `callable`'s calls from Python take (see `NativeCallable._python_entry`).
pub(crate) fn entry_kind(callable: &Bound<'_, NativeCallable>) -> Option<&'static str> {
    let me = callable.get();
    me.python_entry.get()?;
    let &offset = me.vectorcall_at.get()?;
    // SAFETY: `offset` is where `into_object` stored the pointer in this object.
    let f = unsafe {
        callable
            .as_ptr()
            .cast::<u8>()
            .offset(offset)
            .cast::<usize>()
            .read()
    };
    Some(if f == vectorcall as *const () as usize {
        "general"
    } else {
        "generated"
    })
}

/// Send `callable`'s calls from Python back through the general entry (after a change
/// the generated entry does not follow, such as `nogil=True`).
pub(crate) fn reset_entry(callable: &Bound<'_, NativeCallable>) {
    // SAFETY: the object is the callable's own, and `vectorcall` serves every callable.
    unsafe {
        set_vectorcall(
            callable.as_ptr(),
            callable.get(),
            vectorcall as *const () as usize,
        )
    };
}

/// A subtype made once per interpreter (one static per pyo3 class).
pub(crate) struct FastTypeCell(PyOnceLock<FastType>);

impl FastTypeCell {
    pub(crate) const fn new() -> Self {
        FastTypeCell(PyOnceLock::new())
    }
}

/// Run `f` for a call arriving from CPython: its result as a new reference, or NULL with
/// the exception set. A panic becomes a `RuntimeError`, never an unwind into CPython.
fn entry(
    callable: *mut ffi::PyObject,
    f: impl FnOnce(Python<'_>, &NativeCallable) -> PyResult<*mut ffi::PyObject>,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls with the GIL held (attached to this thread).
    let py = unsafe { Python::assume_attached() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: only instances of the subtypes made above carry these entries, and
        // every one derives from NativeCallable (a frozen class: no borrow to take).
        let me = unsafe { Borrowed::from_ptr(py, callable).cast_unchecked::<NativeCallable>() };
        f(py, me.get())
    }));
    match result {
        Ok(Ok(obj)) => obj,
        Ok(Err(e)) => {
            e.restore(py);
            std::ptr::null_mut()
        }
        Err(_) => {
            PyRuntimeError::new_err("nativecall: internal error (a panic) during a call")
                .restore(py);
            std::ptr::null_mut()
        }
    }
}

/// The strings in a tuple of keyword names, for the refusal's message.
fn keyword_names(names: &Bound<'_, PyAny>) -> Vec<String> {
    names
        .try_iter()
        .map(|it| it.flatten().map(|n| n.to_string()).collect())
        .unwrap_or_default()
}

/// PEP 590 entry: positional arguments in place, keyword names (refused) in `kwnames`.
unsafe extern "C" fn vectorcall(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    entry(callable, |py, me| {
        if !kwnames.is_null() {
            // SAFETY: a non-NULL `kwnames` is a tuple CPython owns for the call.
            let names = unsafe { Borrowed::from_ptr(py, kwnames) };
            if names.len()? > 0 {
                return Err(super::super::errors::keywords_refused(
                    me,
                    &keyword_names(&names),
                ));
            }
        }
        install_entry(py, callable, me);
        let n = nargsf & !ARGUMENTS_OFFSET;
        let args = if n == 0 {
            &[][..]
        } else {
            // SAFETY: PEP 590: `args` holds `n` borrowed references for the call.
            unsafe { std::slice::from_raw_parts(args, n) }
        };
        me.call_from_python(py, args).map(Bound::into_ptr)
    })
}

/// `tp_call`: for callers that made an argument tuple (and perhaps a keyword dict).
unsafe extern "C" fn tp_call(
    callable: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    entry(callable, |py, me| {
        if !kwargs.is_null() {
            // SAFETY: a non-NULL `kwargs` is a dict CPython owns for the call.
            let kw = unsafe { Borrowed::from_ptr(py, kwargs) };
            if kw.len()? > 0 {
                return Err(super::super::errors::keywords_refused(
                    me,
                    &keyword_names(&kw),
                ));
            }
        }
        // SAFETY: `args` is the call's argument tuple.
        let tuple = unsafe { Borrowed::from_ptr(py, args) };
        let n = tuple.len()?;
        let mut stack = [std::ptr::null_mut(); STACK_ARGS];
        let mut heap = Vec::new();
        let items: &mut [*mut ffi::PyObject] = if n <= STACK_ARGS {
            &mut stack[..n]
        } else {
            heap.resize(n, std::ptr::null_mut());
            &mut heap
        };
        for (i, item) in items.iter_mut().enumerate() {
            // SAFETY: `i < n`; the tuple holds its items alive for the call.
            *item = unsafe { ffi::PyTuple_GetItem(args, i as ffi::Py_ssize_t) };
        }
        me.call_from_python(py, items).map(Bound::into_ptr)
    })
}
