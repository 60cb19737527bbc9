//! `nativecall.NativeCallable`: an address, a signature, and the owner that keeps the code alive.
//!
//! The struct and its Python methods live here; the capsule protocol (making and reading
//! PyCapsules, their owners and contexts) in [`capsule_protocol`], Cython's hidden
//! parameters in [`cython`], and every export (capsule, LowLevelCallable, ctypes, cffi,
//! Numba, pickle) in [`export`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyTuple};

use crate::abi::{Signature, Type};
use crate::jit::{ArgSource, CodeMemory, CountGuard, Thunk};

use super::call::{self, CallPlan, FastEntry, Slot};
use super::types::{signature_from_object, PySignature};

mod capsule_protocol;
mod cython;
mod export;
mod vectorcall;

pub(crate) use capsule_protocol::{make_capsule, USER_DATA_CAPSULE};
pub(crate) use vectorcall::{into_object, take_pending, FastTypeCell};

/// The subtype of `NativeCallable` its instances have (see [`vectorcall`]).
static FAST_TYPE: FastTypeCell = FastTypeCell::new();

/// A native function that Python, scipy, Cython, ctypes, cffi and Numba can all call.
///
/// Make one with `nativecall.native(obj)`; it holds a strong reference to whatever
/// owns the code, so the address stays valid as long as the callable (or anything
/// exported from it) is alive.
///
/// The fields the kernel IR decoder reads (`address`, `signature`, `raw_signature`,
/// `name`, `writes`) are crate-visible; the rest are private, set through [`Self::new`]
/// and the `with_*` methods and read through accessors.
#[pyclass(module = "nativecall", name = "NativeCallable", subclass, frozen)]
pub struct NativeCallable {
    /// Where the code is.
    pub(crate) address: usize,
    /// The signature callers see.
    pub(crate) signature: Arc<Signature>,
    /// The signature of the code at `address` (differs from `signature` when arguments are hidden).
    pub(crate) raw_signature: Arc<Signature>,
    /// Constant arguments filled in at raw parameter positions (Cython's `__pyx_skip_dispatch`).
    hidden: Vec<(usize, Slot)>,
    /// A name for messages and reprs.
    pub(crate) name: String,
    /// What keeps the code alive.
    owner: Py<PyAny>,
    /// The user data the code takes through its `void *`: what came with a scipy
    /// LowLevelCallable or in an imported capsule's context. Exports pass it on (as the
    /// capsule's context and the LowLevelCallable's `user_data`).
    user_data: Option<Py<PyAny>>,
    /// Generated code this callable runs (a kernel's, or an adapter's), freed with the last owner.
    /// Held, never read: dropping it frees the code.
    #[allow(dead_code)]
    code: Option<Arc<CodeMemory>>,
    /// For each visible parameter, whether the code may write through it (`None`: unknown,
    /// so any array argument must be writable).
    pub(crate) writes: Option<Vec<bool>>,
    /// Whether the code records index errors (a kernel compiled with `boundscheck=True`).
    bounds_checked: bool,
    /// Whether the code may leave an error in this thread's kernel runtime state: a
    /// kernel says (its code generation knows); other code is assumed to when it is
    /// generated code (an adapted entry, a thunk, a kernel's address wrapped again).
    records_errors: bool,
    /// `(module, capsule key)` for a Cython function, so it can be pickled by name.
    origin: Option<Py<PyAny>>,
    plan: OnceLock<Arc<CallPlan>>,
    /// The fast entry for calls from Python (`None`: the signature takes the general path).
    fast: OnceLock<Option<FastEntry>>,
    /// Whether calls from Python release the GIL (`nogil=True`); set once, when made.
    nogil: AtomicBool,
    /// Where the object keeps its `vectorcallfunc` (set when the object is made).
    vectorcall_at: OnceLock<isize>,
    /// Set once the first call from Python has looked for a generated entry (and
    /// installed it where the signature has one).
    python_entry: OnceLock<()>,
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
        let generated = crate::jit::is_generated_entry(address);
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
            // Only generated code (a kernel's, or an entry or thunk running one) can leave
            // an error in the thread's kernel runtime state; a C or Cython function cannot,
            // and its calls skip the look. Generated code not known as a kernel here (a
            // kernel's address wrapped again) may have checked its indices.
            bounds_checked: generated,
            records_errors: generated,
            origin: None,
            plan: OnceLock::new(),
            fast: OnceLock::new(),
            nogil: AtomicBool::new(false),
            vectorcall_at: OnceLock::new(),
            python_entry: OnceLock::new(),
            thunk: OnceLock::new(),
            adapters: Mutex::new(HashMap::new()),
            user_data_entry: OnceLock::new(),
        })
    }

    /// This callable running generated code it keeps alive (an adapter's entry).
    pub(crate) fn with_code(mut self, code: Arc<CodeMemory>) -> Self {
        self.code = Some(code);
        self
    }

    /// This callable as a compiled kernel: its code, which parameters it writes through,
    /// whether it checks indices (index errors are reported), and whether its code can
    /// record any error in the thread's runtime state (code generation says: it calls an
    /// error helper, or checks the stack around calls).
    pub(crate) fn with_kernel_code(
        self,
        code: Arc<CodeMemory>,
        writes: Vec<bool>,
        bounds_checked: bool,
        records_errors: bool,
    ) -> Self {
        let mut nc = self.with_code(code);
        nc.writes = Some(writes);
        nc.bounds_checked = bounds_checked;
        nc.records_errors = records_errors;
        nc
    }

    /// Constant arguments at raw parameter positions (Cython's hidden parameters).
    pub(crate) fn hidden(&self) -> &[(usize, Slot)] {
        &self.hidden
    }

    /// Whether the code may write through visible parameter `k` (an array argument must
    /// then be writable); unknown for code that is not a kernel's.
    pub(crate) fn may_write(&self, k: usize) -> bool {
        self.writes
            .as_ref()
            .is_none_or(|w| w.get(k).copied().unwrap_or(true))
    }

    /// Whether the code records index errors (a kernel compiled with `boundscheck=True`).
    pub(crate) fn bounds_checked(&self) -> bool {
        self.bounds_checked
    }

    /// Whether a call can leave an error in the kernel runtime state (see `records_errors`).
    pub(crate) fn records_errors(&self) -> bool {
        self.records_errors
    }

    /// Whether calls from Python release the GIL.
    pub(crate) fn nogil(&self) -> bool {
        self.nogil.load(Ordering::Relaxed)
    }

    /// The Python object for this callable: an instance of the subtype that takes calls
    /// by vectorcall.
    pub(crate) fn into_bound(self, py: Python<'_>) -> PyResult<Bound<'_, NativeCallable>> {
        let base = py.get_type::<NativeCallable>();
        let obj = into_object(py, self, &FAST_TYPE, &base, c"nativecall.NativeCallable")?;
        // SAFETY: the subtype derives from NativeCallable.
        Ok(unsafe { obj.cast_into_unchecked() })
    }

    /// Call from Python with positional `args`: scalar signatures through a generated
    /// invoker, the rest through libffi.
    pub(crate) fn call_from_python<'py>(
        &self,
        py: Python<'py>,
        args: call::Args<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(entry) = self.fast.get_or_init(|| FastEntry::for_callable(self)) {
            return call::call_fast(py, self, entry, args);
        }
        let plan = self.plan()?;
        call::call_native(py, self, plan, args)
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
}

#[pymethods]
impl NativeCallable {
    /// Takes the value `into_bound` left for this thread; refuses a call from Python.
    #[new]
    fn __new__() -> PyResult<Self> {
        take_pending::<Self>("NativeCallable")
    }

    /// Wrap a raw code address.
    ///
    /// **Unsafe**: nothing can check that `address` is a function with `signature`,
    /// nor that it stays valid; a wrong address or signature crashes the process
    /// when called. Pass `owner=` to keep whatever owns the code alive.
    #[staticmethod]
    #[pyo3(signature = (address, signature, owner=None, name=None))]
    fn from_address<'py>(
        py: Python<'py>,
        address: usize,
        signature: &Bound<'py, PyAny>,
        owner: Option<Py<PyAny>>,
        name: Option<String>,
    ) -> PyResult<Bound<'py, Self>> {
        let sig = signature_from_object(signature)?;
        let name = name.unwrap_or_else(|| format!("native@{address:#x}"));
        NativeCallable::new(address, sig, name, owner.unwrap_or_else(|| py.None()))?.into_bound(py)
    }

    /// A callable from a PyCapsule: the signature is the capsule's name, or `signature`.
    /// With `cython=True` Cython's hidden parameters are hidden and filled.
    #[staticmethod]
    #[pyo3(signature = (capsule, signature=None, name=None, cython=false, user_data=None, origin=None))]
    fn _from_capsule<'py>(
        capsule: &Bound<'py, PyAny>,
        signature: Option<&Bound<'py, PyAny>>,
        name: Option<String>,
        cython: bool,
        user_data: Option<Py<PyAny>>,
        origin: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        capsule_protocol::from_capsule(capsule, signature, name, cython, user_data, origin)?
            .into_bound(capsule.py())
    }

    /// The same code under another, ABI-equal spelling of its signature.
    pub(crate) fn _respelled<'py>(
        slf: &Bound<'py, Self>,
        signature: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
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
        nc.nogil = AtomicBool::new(me.nogil());
        nc.into_bound(slf.py())
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

    /// Call the native function: scalar signatures through a generated invoker, the
    /// rest through libffi; arguments by position only. (Instances made by nativecall
    /// are taken by vectorcall before this is reached; see [`vectorcall`].)
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(kwargs) = kwargs.filter(|k| !k.is_empty()) {
            let names = kwargs
                .keys()
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>();
            return Err(super::errors::keywords_refused(self, &names));
        }
        let args: Vec<_> = args.iter().map(|a| a.as_ptr()).collect();
        // `args` (the tuple) holds every item alive for the call.
        self.call_from_python(py, &args)
    }

    /// Whether a call from Python looks for an error the code left in the thread's
    /// kernel runtime state (only generated code can leave one).
    #[getter(_records_errors)]
    fn get_records_errors(&self) -> bool {
        self.records_errors
    }

    /// Which entry calls from Python take: `"generated"` (straight-line code for this
    /// signature), `"general"`, or `None` before the first call from Python.
    #[getter(_python_entry)]
    fn get_python_entry(slf: &Bound<'_, Self>) -> Option<&'static str> {
        vectorcall::entry_kind(slf)
    }

    /// Whether calls from Python release the GIL (`nogil=True` on `native` and `jit`).
    #[getter(nogil)]
    fn get_nogil(&self) -> bool {
        self.nogil()
    }

    /// Release the GIL during calls from Python from now on; for `native()` and `jit()`,
    /// on a callable they have just made.
    fn _release_gil(slf: &Bound<'_, Self>) {
        slf.get().nogil.store(true, Ordering::Relaxed);
        // A generated entry holds the GIL: calls go back to the general entry.
        vectorcall::reset_entry(slf);
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
        export::capsule(slf, signature)
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
        export::lowlevelcallable(slf, signature, user_data)
    }

    /// A ctypes function pointer with `argtypes` and `restype` set (it keeps this callable alive).
    #[getter]
    fn ctypes<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        export::ctypes(slf)
    }

    /// A cffi function pointer of the matching C type, made with `ffi` (it keeps this callable alive).
    fn cffi<'py>(slf: &Bound<'py, Self>, ffi: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        export::cffi(slf, ffi)
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
        export::reduce(slf)
    }

    /// The address of code with exactly `signature`, for Numba's wrapper address protocol.
    fn __wrapper_address__(&self) -> PyResult<usize> {
        self.export_address()
    }

    /// The Numba type of this callable (Numba reads `_numba_type_` when it is passed to
    /// `@numba.njit` code as an argument).
    #[getter]
    fn _numba_type_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        export::numba_type(slf)
    }

    /// This callable through Numba's wrapper address protocol, usable as a global (or an
    /// argument) inside `@numba.njit` code.
    #[getter]
    fn numba<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        export::numba(slf)
    }
}
