//! The generated entry's dispatcher: takes the GIL, makes Python objects of the C
//! arguments, calls the function by vectorcall, converts the result back, and reports
//! any exception as the callback's `OnError` says. Nothing unwinds across `extern "C"`.

use std::ffi::{c_void, CString};
use std::panic::AssertUnwindSafe;

use pyo3::ffi;

use super::{Context, Conv, OnError};

/// Releases the GIL state taken by `PyGILState_Ensure` when dropped (also on unwind).
struct GilState(ffi::PyGILState_STATE);

impl Drop for GilState {
    fn drop(&mut self) {
        // SAFETY: paired with the `PyGILState_Ensure` that made this value, on the same thread.
        unsafe { ffi::PyGILState_Release(self.0) };
    }
}

/// Puts back an exception set aside during the call (when dropped, before the GIL goes).
struct Restore([*mut ffi::PyObject; 3]);

impl Drop for Restore {
    fn drop(&mut self) {
        let [t, v, tb] = self.0;
        if !t.is_null() {
            // SAFETY: the GIL is held (this is dropped before the `GilState`), and these
            // are the references `PyErr_Fetch` gave; `PyErr_Restore` takes them over,
            // replacing any exception the call reported as unraisable (none is left set).
            unsafe { ffi::PyErr_Restore(t, v, tb) };
        }
    }
}

/// The entry's dispatcher. Nothing unwinds out of it: a panic (which nothing here
/// should raise) is caught and the call returns the error value.
pub(super) unsafe extern "C" fn dispatch(context: usize, args: *const u64, result: *mut u64) {
    // SAFETY: `context` is the `Context` the entry was generated with, which the owner
    // keeps alive as long as the code exists.
    let ctx = unsafe { &*(context as *const Context) };
    // SAFETY: `args` has one slot per parameter and `result` one slot, on the entry's stack.
    let call = AssertUnwindSafe(|| unsafe { call_python(ctx, args, result) });
    if std::panic::catch_unwind(call).is_err() {
        // SAFETY: as above.
        unsafe { *result = ctx.error_bits };
    }
}

/// Convert, call, convert back; on any error report it as `ctx.on_error` says and write
/// the error value.
///
/// # Safety
/// `args` holds `ctx.params.len()` slots and `result` one, as the entry passes them.
unsafe fn call_python(ctx: &Context, args: *const u64, result: *mut u64) {
    // SAFETY: any thread may take the GIL this way, with or without a thread state.
    let _gil = GilState(unsafe { ffi::PyGILState_Ensure() });
    // An exception already set belongs to the caller. With `Pending` it is normally the
    // one an earlier call left (scipy.ndimage goes on calling after an error status):
    // the first error stands and `func` is not called again. Otherwise it is put aside
    // for the call (Python code cannot run with an exception set) and restored after.
    // SAFETY: the GIL is held.
    let mut saved = [std::ptr::null_mut::<ffi::PyObject>(); 3];
    if !unsafe { ffi::PyErr_Occurred() }.is_null() {
        if ctx.on_error == OnError::Pending {
            // SAFETY: the entry's result slot.
            unsafe { *result = ctx.error_bits };
            return;
        }
        // SAFETY: the GIL is held; the three references are restored below.
        unsafe { ffi::PyErr_Fetch(&mut saved[0], &mut saved[1], &mut saved[2]) };
    }
    let _restore = Restore(saved);
    let n = ctx.params.len();
    // One free slot in front of the arguments, so the callee may use it
    // (PY_VECTORCALL_ARGUMENTS_OFFSET): bound methods then need no copy.
    let mut inline = [std::ptr::null_mut::<ffi::PyObject>(); 9];
    let mut heap = Vec::new();
    let objs: &mut [*mut ffi::PyObject] = if n < inline.len() {
        &mut inline[..n + 1]
    } else {
        heap.resize(n + 1, std::ptr::null_mut());
        &mut heap
    };
    let mut ok = true;
    for (i, conv) in ctx.params.iter().enumerate() {
        // SAFETY: slot `i` exists and holds the argument at its width.
        let o = unsafe { to_python(*conv, args.add(i)) };
        if o.is_null() {
            ok = false;
            break;
        }
        objs[i + 1] = o;
    }
    let res = if ok {
        // SAFETY: the GIL is held; `objs[1..]` are `n` owned references.
        unsafe { call_with(ctx.func.as_ptr(), objs) }
    } else {
        std::ptr::null_mut()
    };
    for o in objs.iter().skip(1) {
        // SAFETY: each is null or a reference this function owns.
        unsafe { ffi::Py_XDECREF(*o) };
    }
    let converted = !res.is_null() && {
        // SAFETY: `res` is an owned reference; `result` is the entry's result slot.
        let ok = unsafe { from_python(ctx, res, result) };
        // SAFETY: as above; released once.
        unsafe { ffi::Py_DECREF(res) };
        ok
    };
    if !converted {
        if ctx.on_error == OnError::Unraisable {
            // SAFETY: an exception is set (every failing path above sets one).
            unsafe { ffi::PyErr_WriteUnraisable(ctx.func.as_ptr()) };
        }
        // SAFETY: the entry's result slot.
        unsafe { *result = ctx.error_bits };
    }
}

/// Call `func` with the arguments `objs[1..]` (borrowed; `objs[0]` is a free slot the
/// callee may use): the result, or null with an exception set.
///
/// # Safety
/// The GIL is held and `objs[1..]` are live objects.
#[cfg(not(feature = "abi3"))]
unsafe fn call_with(
    func: *mut ffi::PyObject,
    objs: &mut [*mut ffi::PyObject],
) -> *mut ffi::PyObject {
    // SAFETY: as the caller promises.
    unsafe {
        ffi::PyObject_Vectorcall(
            func,
            objs.as_ptr().add(1),
            (objs.len() - 1) | ffi::PY_VECTORCALL_ARGUMENTS_OFFSET,
            std::ptr::null_mut(),
        )
    }
}

/// As above, for the stable ABI (`abi3`, from 3.11), whose limited API has no vectorcall
/// before 3.12: the arguments go into a tuple.
///
/// # Safety
/// The GIL is held and `objs[1..]` are live objects.
#[cfg(feature = "abi3")]
unsafe fn call_with(
    func: *mut ffi::PyObject,
    objs: &mut [*mut ffi::PyObject],
) -> *mut ffi::PyObject {
    // SAFETY: as the caller promises; the tuple owns a new reference to each argument
    // and is released once.
    unsafe {
        let tuple = ffi::PyTuple_New((objs.len() - 1) as ffi::Py_ssize_t);
        if tuple.is_null() {
            return tuple;
        }
        for (i, o) in objs.iter().skip(1).enumerate() {
            if ffi::PyTuple_SetItem(tuple, i as ffi::Py_ssize_t, ffi::Py_NewRef(*o)) != 0 {
                ffi::Py_DECREF(tuple);
                return std::ptr::null_mut();
            }
        }
        let res = ffi::PyObject_Call(func, tuple, std::ptr::null_mut());
        ffi::Py_DECREF(tuple);
        res
    }
}

/// A new reference to the Python value of the argument in `slot`, or null with an exception set.
///
/// # Safety
/// The GIL is held and `slot` holds a value of the type `conv` describes.
unsafe fn to_python(conv: Conv, slot: *const u64) -> *mut ffi::PyObject {
    // SAFETY: as the caller promises; the entry zero-fills each slot and stores at the
    // value's width, so reading the narrower type at the slot's start is that value.
    unsafe {
        match conv {
            Conv::Bool => ffi::PyBool_FromLong((*(slot as *const u8) != 0) as _),
            Conv::Signed(8) => ffi::PyLong_FromLong(*(slot as *const i8) as _),
            Conv::Signed(16) => ffi::PyLong_FromLong(*(slot as *const i16) as _),
            Conv::Signed(32) => ffi::PyLong_FromLong(*(slot as *const i32) as _),
            Conv::Signed(_) => ffi::PyLong_FromLongLong(*(slot as *const i64)),
            Conv::Unsigned(8) => ffi::PyLong_FromLong(*(slot as *const u8) as _),
            Conv::Unsigned(16) => ffi::PyLong_FromLong(*(slot as *const u16) as _),
            Conv::Unsigned(32) => ffi::PyLong_FromUnsignedLongLong(*(slot as *const u32) as _),
            Conv::Unsigned(_) => ffi::PyLong_FromUnsignedLongLong(*slot),
            Conv::F32 => ffi::PyFloat_FromDouble(*(slot as *const f32) as f64),
            Conv::F64 => ffi::PyFloat_FromDouble(f64::from_bits(*slot)),
            Conv::Pointer => ffi::PyLong_FromSize_t(*(slot as *const usize)),
            Conv::Void => ffi::Py_NewRef(ffi::Py_None()),
        }
    }
}

/// Set a TypeError `"<what> must return <expected>, got <type of obj>"`.
///
/// # Safety
/// The GIL is held and `obj` is a live object.
unsafe fn wrong_result(ctx: &Context, obj: *mut ffi::PyObject, expected: &str) {
    // SAFETY: as the caller promises.
    let got = unsafe { type_name(obj) };
    let msg = format!(
        "callback {} must return {expected}, got {got}",
        ctx.what.to_string_lossy()
    );
    let msg = CString::new(msg).unwrap_or_default();
    // SAFETY: the GIL is held; the message is NUL-terminated.
    unsafe { ffi::PyErr_SetString(ffi::PyExc_TypeError, msg.as_ptr()) };
}

/// The name of `obj`'s type, as its `tp_name` spells it.
///
/// # Safety
/// The GIL is held and `obj` is a live object.
#[cfg(not(feature = "abi3"))]
unsafe fn type_name(obj: *mut ffi::PyObject) -> String {
    // SAFETY: as the caller promises; `tp_name` is a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr((*ffi::Py_TYPE(obj)).tp_name) }
        .to_string_lossy()
        .into_owned()
}

/// The name of `obj`'s type (`__name__`: the stable ABI hides `tp_name`).
///
/// # Safety
/// The GIL is held and `obj` is a live object.
#[cfg(feature = "abi3")]
unsafe fn type_name(obj: *mut ffi::PyObject) -> String {
    // SAFETY: as the caller promises; the name is a new reference, released once, and
    // the UTF-8 it lends is copied before that.
    unsafe {
        let name = ffi::PyType_GetName(ffi::Py_TYPE(obj));
        if name.is_null() {
            ffi::PyErr_Clear();
            return "?".to_owned();
        }
        let mut len: ffi::Py_ssize_t = 0;
        let utf8 = ffi::PyUnicode_AsUTF8AndSize(name, &mut len);
        let got = if utf8.is_null() {
            ffi::PyErr_Clear();
            "?".to_owned()
        } else {
            let bytes = std::slice::from_raw_parts(utf8 as *const u8, len as usize);
            String::from_utf8_lossy(bytes).into_owned()
        };
        ffi::Py_DECREF(name);
        got
    }
}

/// Write `res` converted to the result type into `result`; false with an exception set
/// if it does not convert (a float for an int, an int out of range, a str, ...).
///
/// # Safety
/// The GIL is held, `res` is a live object, `result` the entry's result slot.
unsafe fn from_python(ctx: &Context, res: *mut ffi::PyObject, result: *mut u64) -> bool {
    // SAFETY: as the caller promises, for every call below.
    unsafe {
        match ctx.ret {
            Conv::Void => true,
            Conv::F64 | Conv::F32 => {
                let v = if ffi::PyFloat_CheckExact(res) != 0 {
                    #[cfg(not(feature = "abi3"))]
                    let v = ffi::PyFloat_AS_DOUBLE(res);
                    // The stable ABI has no macro; an exact float converts without error.
                    #[cfg(feature = "abi3")]
                    let v = ffi::PyFloat_AsDouble(res);
                    v
                } else if ffi::PyComplex_Check(res) != 0 {
                    wrong_result(ctx, res, "a real number");
                    return false;
                } else {
                    let v = ffi::PyFloat_AsDouble(res);
                    if v == -1.0 && !ffi::PyErr_Occurred().is_null() {
                        ffi::PyErr_Clear();
                        wrong_result(ctx, res, "a real number");
                        return false;
                    }
                    v
                };
                if ctx.ret == Conv::F32 {
                    *(result as *mut f32) = v as f32;
                } else {
                    *(result as *mut f64) = v;
                }
                true
            }
            Conv::Signed(_) | Conv::Unsigned(_) | Conv::Bool => {
                if ffi::PyFloat_Check(res) != 0 {
                    wrong_result(ctx, res, "an int (a float is not truncated)");
                    return false;
                }
                let index = ffi::PyNumber_Index(res);
                if index.is_null() {
                    ffi::PyErr_Clear();
                    wrong_result(ctx, res, "an int");
                    return false;
                }
                let mut overflow = 0;
                let v = ffi::PyLong_AsLongLongAndOverflow(index, &mut overflow);
                let wide: Option<i128> = if overflow > 0 {
                    let u = ffi::PyLong_AsUnsignedLongLong(index);
                    if ffi::PyErr_Occurred().is_null() {
                        Some(u as i128)
                    } else {
                        ffi::PyErr_Clear();
                        None
                    }
                } else if overflow < 0 || (v == -1 && !ffi::PyErr_Occurred().is_null()) {
                    ffi::PyErr_Clear();
                    None
                } else {
                    Some(v as i128)
                };
                ffi::Py_DECREF(index);
                let (lo, hi) = ctx.int_range.unwrap_or((0, 1));
                match wide {
                    Some(v) if (lo..=hi).contains(&v) => {
                        *result = v as u64;
                        true
                    }
                    _ => {
                        let msg = format!(
                            "callback {} returned an int outside {lo}..={hi}",
                            ctx.what.to_string_lossy()
                        );
                        let msg = CString::new(msg).unwrap_or_default();
                        ffi::PyErr_SetString(ffi::PyExc_OverflowError, msg.as_ptr());
                        false
                    }
                }
            }
            Conv::Pointer => {
                if res == ffi::Py_None() {
                    *result = 0;
                    return true;
                }
                if ffi::PyLong_Check(res) == 0 {
                    wrong_result(ctx, res, "an int address or None");
                    return false;
                }
                let p = ffi::PyLong_AsVoidPtr(res);
                if p.is_null() && !ffi::PyErr_Occurred().is_null() {
                    return false;
                }
                *(result as *mut *mut c_void) = p;
                true
            }
        }
    }
}
