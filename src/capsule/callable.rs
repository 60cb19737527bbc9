//! `nativecall.NativeCallable`: an address, a signature, and the owner that keeps the code alive.

use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::sync::{Arc, OnceLock};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

use crate::abi::{Signature, Type};
use crate::jit::{constant_args_thunk, ArgSource, CodeMemory, CountGuard, Thunk};

use super::adapt::adapt;
use super::call::{self, CallPlan, Slot};
use super::types::{signature_from_object, PySignature};

/// A native function that Python, scipy, Cython, ctypes, cffi and Numba can all call.
///
/// Make one with `nativecall.native(obj)`; it holds a strong reference to whatever
/// owns the code, so the address stays valid as long as the callable (or anything
/// exported from it) is alive.
#[pyclass(module = "nativecall", name = "NativeCallable", subclass, frozen)]
pub struct NativeCallable {
    /// Where the code is.
    pub address: usize,
    /// The signature callers see.
    pub signature: Arc<Signature>,
    /// The signature of the code at `address` (differs from `signature` when arguments are hidden).
    pub raw_signature: Arc<Signature>,
    /// Constant arguments filled in at raw parameter positions (Cython's `__pyx_skip_dispatch`).
    pub hidden: Vec<(usize, Slot)>,
    /// A name for messages and reprs.
    pub name: String,
    /// What keeps the code alive.
    pub owner: Py<PyAny>,
    /// The user data the code takes through its `void *`: what came with a scipy
    /// LowLevelCallable or in an imported capsule's context. Exports pass it on (as the
    /// capsule's context and the LowLevelCallable's `user_data`).
    pub user_data: Option<Py<PyAny>>,
    /// Generated code this callable runs (a kernel's, or an adapter's), freed with the last owner.
    pub code: Option<Arc<CodeMemory>>,
    /// For each visible parameter, whether the code may write through it (`None`: unknown,
    /// so any array argument must be writable).
    pub writes: Option<Vec<bool>>,
    /// Whether the code records index errors (a kernel compiled with `boundscheck=True`).
    pub bounds_checked: bool,
    /// `(module, capsule key)` for a Cython function, so it can be pickled by name.
    pub origin: Option<Py<PyAny>>,
    plan: OnceLock<Arc<CallPlan>>,
    thunk: OnceLock<Thunk>,
    /// Adapted entries already generated for this callable (see `adapt::finish`), so that
    /// exporting it again under an adapted signature shares the code instead of compiling.
    /// Dropped with the callable: the cache never keeps code alive on its own.
    pub(crate) adapters: Mutex<HashMap<AdapterKey, Thunk>>,
    /// The entry taking every parameter after the first from a user-data struct, with
    /// the struct's fields (type, offset) and size: what `nativecall.optimize` calls,
    /// looked up once instead of on every scalar solve.
    pub(crate) user_data_entry: OnceLock<UserDataEntry>,
}

/// An adapted entry, each user-data field's type and offset, and the struct size.
pub(crate) type UserDataEntry = (Thunk, Vec<(Type, usize)>, usize);

/// What identifies an adapted entry: the consumer's signature (compared as written,
/// spelling included, since scipy compares names), where each argument comes from, and
/// the element-count guard.
pub(crate) type AdapterKey = (Signature, Vec<ArgSource>, Option<CountGuard>);

impl NativeCallable {
    /// A callable whose code has exactly `signature`.
    pub fn new(
        address: usize,
        signature: Arc<Signature>,
        name: String,
        owner: Py<PyAny>,
    ) -> PyResult<Self> {
        if address == 0 {
            return Err(PyValueError::new_err(format!(
                "{name}: the function address is NULL; a native callable needs code to call"
            )));
        }
        Ok(NativeCallable {
            address,
            raw_signature: signature.clone(),
            signature,
            hidden: Vec::new(),
            name,
            owner,
            user_data: None,
            code: None,
            writes: None,
            bounds_checked: false,
            origin: None,
            plan: OnceLock::new(),
            thunk: OnceLock::new(),
            adapters: Mutex::new(HashMap::new()),
            user_data_entry: OnceLock::new(),
        })
    }

    /// Hide Cython's trailing `int __pyx_skip_dispatch` (passed as 0) and the
    /// optional-argument struct pointer that may follow it (passed as NULL).
    pub fn hide_cython_parameters(mut self) -> Self {
        let raw = self.raw_signature.clone();
        let mut hidden = Vec::new();
        for (index, p) in raw.params.iter().enumerate().rev() {
            let is_skip =
                p.name.as_deref() == Some("__pyx_skip_dispatch") && matches!(p.ty, Type::Int(_));
            let is_opt = p.name.as_deref() == Some("__pyx_optional_args")
                && matches!(p.ty.pointee(), Some(Type::Struct(_)));
            if is_opt && hidden.is_empty() || is_skip {
                hidden.push((index, Slot::zero()));
            } else {
                break;
            }
            if is_skip {
                break;
            }
        }
        if hidden.is_empty() {
            return self;
        }
        hidden.reverse();
        let visible = raw
            .params
            .iter()
            .enumerate()
            .filter(|(i, _)| !hidden.iter().any(|(h, _)| h == i))
            .map(|(_, p)| p.clone())
            .collect();
        self.signature = Arc::new(Signature {
            ret: raw.ret.clone(),
            params: visible,
        });
        self.hidden = hidden;
        self
    }

    /// The hidden constants as raw bits at their raw positions.
    pub fn hidden_bits(&self) -> Vec<(usize, u64)> {
        self.hidden
            .iter()
            .map(|(i, slot)| {
                (
                    *i,
                    u64::from_ne_bytes(slot.0[..8].try_into().expect("8 bytes")),
                )
            })
            .collect()
    }

    fn plan(&self) -> PyResult<Arc<CallPlan>> {
        if let Some(p) = self.plan.get() {
            return Ok(p.clone());
        }
        let plan = call::plan_for(&self.raw_signature).map_err(|m| {
            PyTypeError::new_err(format!(
                "{} ({}) cannot be called from Python: {m}",
                self.name, self.signature
            ))
        })?;
        Ok(self.plan.get_or_init(|| plan).clone())
    }

    /// The address of code with exactly the visible signature: the function itself,
    /// or (when arguments are hidden) a generated thunk that adds them. The thunk
    /// lives as long as this callable.
    pub fn export_address(&self) -> PyResult<usize> {
        if self.hidden.is_empty() {
            return Ok(self.address);
        }
        if let Some(t) = self.thunk.get() {
            return Ok(t.address);
        }
        let hidden = self.hidden_bits();
        let thunk =
            constant_args_thunk(self.address, &self.raw_signature, &hidden).map_err(|e| {
                PyTypeError::new_err(format!(
                    "{} ({} at the ABI) cannot be exported as '{}': {e}",
                    self.name, self.raw_signature, self.signature
                ))
            })?;
        Ok(self.thunk.get_or_init(|| thunk).address)
    }

    /// The spelling to export under: the callable's own, or `requested` if it is ABI-equal.
    pub fn export_signature(
        &self,
        requested: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Arc<Signature>> {
        match requested {
            None => Ok(self.signature.clone()),
            Some(obj) if obj.is_none() => Ok(self.signature.clone()),
            Some(obj) => {
                let wanted = signature_from_object(obj)?;
                if wanted.abi_eq(&self.signature) {
                    Ok(wanted)
                } else {
                    Err(PyTypeError::new_err(format!(
                        "cannot export {} as '{wanted}': its signature is '{}', which is not ABI-compatible",
                        self.name, self.signature
                    )))
                }
            }
        }
    }
}

/// What a capsule made by nativecall keeps: its name (the capsule points into it) and the owner.
///
/// Kept beside the capsule, never in its context slot: the context belongs to the
/// consumer (scipy reads it as the callback's `user_data`).
struct CapsuleOwner {
    name: CString,
    owner: *mut ffi::PyObject,
}

// SAFETY: `owner` is a strong reference that is only released in the capsule
// destructor, which runs with the GIL held; the table itself is behind a mutex.
unsafe impl Send for CapsuleOwner {}

/// The owners of live capsules made by [`make_capsule`], keyed by the capsule's address
/// (an entry is removed by the capsule's destructor, before the address can be reused).
static CAPSULE_OWNERS: Lazy<Mutex<HashMap<usize, CapsuleOwner>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

unsafe extern "C" fn capsule_destructor(capsule: *mut ffi::PyObject) {
    // Taken out under the lock, released after it: dropping the owner can run any
    // Python code, including the destructors of other capsules.
    let entry = CAPSULE_OWNERS.lock().remove(&(capsule as usize));
    if let Some(entry) = entry {
        // SAFETY: the destructor runs with the GIL held, and `owner` is the strong
        // reference `make_capsule` took for this capsule.
        unsafe { ffi::Py_DecRef(entry.owner) };
        drop(entry.name);
    }
}

/// A PyCapsule named `name` pointing at `address`, keeping `owner` alive. Its context is
/// `context` (the consumer's user data, or 0 for NULL).
pub fn make_capsule<'py>(
    py: Python<'py>,
    address: usize,
    name: &str,
    owner: &Bound<'py, PyAny>,
    context: usize,
) -> PyResult<Bound<'py, PyCapsule>> {
    let name = CString::new(name)
        .map_err(|_| PyValueError::new_err("a capsule name cannot contain NUL"))?;
    let owner = owner.clone().into_ptr();
    // SAFETY: `address` is non-null (checked at construction); the name's buffer lives in
    // the owners table until the destructor runs (moving the CString does not move it).
    unsafe {
        let cap = ffi::PyCapsule_New(
            address as *mut c_void,
            name.as_ptr(),
            Some(capsule_destructor),
        );
        if cap.is_null() {
            // Take ownership back: no capsule was made, so no destructor will run.
            ffi::Py_DecRef(owner);
            return Err(PyErr::fetch(py));
        }
        CAPSULE_OWNERS
            .lock()
            .insert(cap as usize, CapsuleOwner { name, owner });
        if context != 0 && ffi::PyCapsule_SetContext(cap, context as *mut c_void) != 0 {
            let err = PyErr::fetch(py);
            // The destructor releases the owner.
            ffi::Py_DecRef(cap);
            return Err(err);
        }
        Ok(Bound::from_owned_ptr(py, cap).cast_into_unchecked())
    }
}

/// A capsule's context pointer (0 when it has none).
fn capsule_context(capsule: &Bound<'_, PyAny>) -> PyResult<usize> {
    let py = capsule.py();
    // SAFETY: `capsule` was checked to be a valid capsule by `read_capsule`.
    let context = unsafe { ffi::PyCapsule_GetContext(capsule.as_ptr()) };
    if context.is_null() && PyErr::occurred(py) {
        return Err(PyErr::fetch(py));
    }
    Ok(context as usize)
}

/// The address a consumer receives for `user_data`, read the way scipy.LowLevelCallable
/// reads it: a PyCapsule's pointer, a ctypes `c_void_p`'s value, a cffi pointer's address.
pub fn user_data_address(user_data: &Bound<'_, PyAny>) -> PyResult<usize> {
    if user_data.is_instance_of::<PyCapsule>() {
        return Ok(read_capsule(user_data)?.1);
    }
    user_data
        .py()
        .import("nativecall._interop")?
        .getattr("user_data_address")?
        .call1((user_data,))?
        .extract()
}

/// The name and pointer of a capsule (checking it is a valid capsule).
pub fn read_capsule(obj: &Bound<'_, PyAny>) -> PyResult<(Option<String>, usize)> {
    let py = obj.py();
    // SAFETY: `obj` is a live object; the capsule API checks its type and validity.
    unsafe {
        if ffi::PyCapsule_CheckExact(obj.as_ptr()) == 0 {
            return Err(PyTypeError::new_err(format!(
                "expected a PyCapsule, got {}",
                obj.get_type().name()?
            )));
        }
        let name_ptr = ffi::PyCapsule_GetName(obj.as_ptr());
        if name_ptr.is_null() && PyErr::occurred(py) {
            return Err(PyErr::fetch(py));
        }
        let pointer = ffi::PyCapsule_GetPointer(obj.as_ptr(), name_ptr);
        if pointer.is_null() {
            let cause = PyErr::take(py).map(|e| e.to_string()).unwrap_or_default();
            return Err(PyValueError::new_err(format!(
                "the capsule holds no valid pointer (NULL capsule) {cause}"
            )));
        }
        let name =
            (!name_ptr.is_null()).then(|| CStr::from_ptr(name_ptr).to_string_lossy().into_owned());
        Ok((name, pointer as usize))
    }
}

/// A capsule's context as user data to pass on: a capsule pointing at the context and
/// keeping `capsule` (whose destructor frees the context) alive; `None` without context.
fn imported_context(capsule: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
    let context = capsule_context(capsule)?;
    if context == 0 {
        return Ok(None);
    }
    let data = make_capsule(capsule.py(), context, USER_DATA_CAPSULE, capsule, 0)?;
    Ok(Some(data.into_any().unbind()))
}

/// The name of capsules nativecall hands out as user data.
pub const USER_DATA_CAPSULE: &str = "nativecall.user_data";

#[pymethods]
impl NativeCallable {
    /// Wrap a raw code address.
    ///
    /// **Unsafe**: nothing can check that `address` is a function with `signature`,
    /// nor that it stays valid; a wrong address or signature crashes the process
    /// when called. Pass `owner=` to keep whatever owns the code alive.
    #[staticmethod]
    #[pyo3(signature = (address, signature, owner=None, name=None))]
    fn from_address(
        py: Python<'_>,
        address: usize,
        signature: &Bound<'_, PyAny>,
        owner: Option<Py<PyAny>>,
        name: Option<String>,
    ) -> PyResult<Self> {
        let sig = signature_from_object(signature)?;
        let name = name.unwrap_or_else(|| format!("native@{address:#x}"));
        NativeCallable::new(address, sig, name, owner.unwrap_or_else(|| py.None()))
    }

    /// A callable from a PyCapsule: the signature is the capsule's name, or `signature`.
    /// With `cython=True` Cython's hidden parameters are hidden and filled.
    #[staticmethod]
    #[pyo3(signature = (capsule, signature=None, name=None, cython=false, user_data=None, origin=None))]
    fn _from_capsule(
        capsule: &Bound<'_, PyAny>,
        signature: Option<&Bound<'_, PyAny>>,
        name: Option<String>,
        cython: bool,
        user_data: Option<Py<PyAny>>,
        origin: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let py = capsule.py();
        let (capsule_name, address) = read_capsule(capsule)?;
        let from_name = capsule_name.as_deref().map(crate::abi::parse_signature);
        let sig = match (signature.filter(|s| !s.is_none()), from_name) {
            (Some(s), Some(Ok(named))) => {
                let wanted = signature_from_object(s)?;
                if !wanted.abi_eq(&named) {
                    return Err(PyTypeError::new_err(format!(
                        "the capsule is named '{named}', which is not ABI-compatible with signature='{wanted}'"
                    )));
                }
                wanted
            }
            (Some(s), _) => signature_from_object(s)?,
            (None, Some(Ok(named))) => Arc::new(named),
            (None, Some(Err(e))) => {
                return Err(PyTypeError::new_err(format!(
                    "the capsule's name {:?} is not a C signature, so its signature is unknown; pass signature= (the name did not parse: {})",
                    capsule_name.unwrap_or_default(),
                    e.message
                )))
            }
            (None, None) => {
                return Err(PyTypeError::new_err(
                    "the capsule has no name, so its signature is unknown; pass signature=",
                ))
            }
        };
        let name = name.unwrap_or_else(|| "capsule".into());
        let mut nc = NativeCallable::new(address, sig, name, capsule.clone().unbind())?;
        if cython {
            nc = nc.hide_cython_parameters();
        }
        nc.user_data = match user_data.filter(|u| !u.is_none(py)) {
            // A NULL user data means "none given": scipy then falls back to the context.
            Some(u) if user_data_address(u.bind(py))? != 0 => Some(u),
            _ => imported_context(capsule)?,
        };
        nc.origin = origin;
        Ok(nc)
    }

    /// The same code under another, ABI-equal spelling of its signature.
    pub(crate) fn _respelled(
        slf: &Bound<'_, Self>,
        signature: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let me = slf.get();
        let sig = me.export_signature(Some(signature))?;
        let mut nc = NativeCallable::new(
            me.address,
            me.raw_signature.clone(),
            me.name.clone(),
            slf.clone().into_any().unbind(),
        )?;
        nc.hidden = me.hidden.clone();
        nc.signature = sig;
        nc.user_data = me.user_data.as_ref().map(|u| u.clone_ref(slf.py()));
        nc.origin = me.origin.as_ref().map(|o| o.clone_ref(slf.py()));
        Ok(nc)
    }

    /// The address of the code, as an int.
    #[getter]
    fn address(&self) -> usize {
        self.address
    }

    /// The signature callers see.
    #[getter]
    fn signature(&self) -> PySignature {
        PySignature {
            sig: self.signature.clone(),
        }
    }

    /// The signature of the code at `address` (with Cython's hidden parameters).
    #[getter]
    fn c_signature(&self) -> PySignature {
        PySignature {
            sig: self.raw_signature.clone(),
        }
    }

    /// The function's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The object that keeps the code alive.
    #[getter]
    fn owner(&self, py: Python<'_>) -> Py<PyAny> {
        self.owner.clone_ref(py)
    }

    /// The user data that came with a scipy LowLevelCallable, or `None`.
    #[getter]
    fn user_data(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.user_data.as_ref().map(|u| u.clone_ref(py))
    }

    /// Call the native function through libffi.
    #[pyo3(signature = (*args))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let plan = self.plan()?;
        call::call_native(py, self, plan, args)
    }

    fn __repr__(&self) -> String {
        format!(
            "<nativecall.NativeCallable {}: {} at {:#x}>",
            self.name, self.signature, self.address
        )
    }

    /// A PyCapsule pointing at the code, named by the signature (`signature=` picks an
    /// ABI-equal spelling, or an adapted signature a generated thunk provides). The
    /// capsule keeps this callable, and so the code, alive.
    #[pyo3(signature = (signature=None))]
    pub(crate) fn capsule<'py>(
        slf: &Bound<'py, Self>,
        signature: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let me = slf.get();
        let target = match signature.filter(|s| !s.is_none()) {
            None => me.signature.clone(),
            Some(s) => signature_from_object(s)?,
        };
        let (nc, user_data) = adapt(slf, target.clone(), None)?;
        if user_data.is_some() {
            return Err(PyTypeError::new_err(format!(
                "'{target}' needs packed user data; use lowlevelcallable('{target}', user_data=(...))"
            )));
        }
        let nc_ref = nc.get();
        // The context is the consumer's user data: the one this callable came with, or NULL.
        let context = match &nc_ref.user_data {
            Some(u) => user_data_address(u.bind(slf.py()))?,
            None => 0,
        };
        make_capsule(
            slf.py(),
            nc_ref.export_address()?,
            &nc_ref.signature.to_string(),
            nc.as_any(),
            context,
        )
    }

    /// A `scipy.LowLevelCallable` for this function.
    ///
    /// `signature=` picks an ABI-equal spelling (scipy compares names exactly) or a
    /// consumer's signature that a generated thunk adapts to: extra parameters packed
    /// from `user_data=(a, b)` behind a trailing `void *`, or scipy.integrate.quad's
    /// `"double (int, double *)"`. Otherwise `user_data=` is passed as the final
    /// `void *` (default: the user data this callable came with).
    #[pyo3(signature = (signature=None, user_data=None))]
    fn lowlevelcallable<'py>(
        slf: &Bound<'py, Self>,
        signature: Option<&Bound<'py, PyAny>>,
        user_data: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let target = match signature.filter(|s| !s.is_none()) {
            None => me.signature.clone(),
            Some(s) => signature_from_object(s)?,
        };
        // `()` is no extra arguments, so no user data of its own, as `None` is.
        let no_extras = |u: &Bound<'py, PyAny>| u.cast::<PyTuple>().is_ok_and(|t| t.is_empty());
        let user_data = match user_data {
            Some(u) if !u.is_none() && !no_extras(u) => Some(u.clone()),
            _ => me.user_data.as_ref().map(|u| u.bind(py).clone()),
        };
        let (nc, user_data) = adapt(slf, target, user_data)?;
        let capsule = Self::capsule(&nc, None)?;
        py.import("nativecall._interop")?
            .getattr("make_lowlevelcallable")?
            .call1((capsule, user_data))
    }

    /// A ctypes function pointer with `argtypes` and `restype` set (it keeps this callable alive).
    #[getter]
    fn ctypes<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let address = slf.get().export_address()?;
        slf.py()
            .import("nativecall._interop")?
            .getattr("to_ctypes")?
            .call1((slf, address))
    }

    /// A cffi function pointer of the matching C type, made with `ffi` (it keeps this callable alive).
    fn cffi<'py>(slf: &Bound<'py, Self>, ffi: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let address = slf.get().export_address()?;
        slf.py()
            .import("nativecall._interop")?
            .getattr("to_cffi")?
            .call1((slf, ffi, address))
    }

    /// The address of code with exactly `signature` (a thunk when arguments are hidden).
    fn _export_address(&self) -> PyResult<usize> {
        self.export_address()
    }

    /// `(module, capsule key)` of a Cython function, else `None`.
    #[getter]
    fn _origin(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.origin.as_ref().map(|o| o.clone_ref(py))
    }

    /// Cython functions pickle by module and name; raw addresses refuse (see `nativecall._pickle`).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("nativecall._pickle")?
            .getattr("reduce_native_callable")?
            .call1((slf,))
    }

    /// The address of code with exactly `signature`, for Numba's wrapper address protocol.
    fn __wrapper_address__(&self) -> PyResult<usize> {
        self.export_address()
    }

    /// The Numba type of this callable (Numba reads `_numba_type_` when it is passed to
    /// `@numba.njit` code as an argument).
    #[getter]
    fn _numba_type_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("nativecall._numba")?
            .getattr("numba_type")?
            .call1((slf,))
    }

    /// This callable through Numba's wrapper address protocol, usable as a global (or an
    /// argument) inside `@numba.njit` code.
    #[getter]
    fn numba<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("nativecall._numba")?
            .getattr("adapter")?
            .call1((slf,))
    }
}
