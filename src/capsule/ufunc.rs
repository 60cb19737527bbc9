//! `@nativecall.vectorize`: real NumPy ufuncs whose inner loops Cranelift generates.
//!
//! Each listed signature's kernel is compiled again as a ufunc inner loop (the kernel
//! body inside the element loop, no call per element) and handed to NumPy's own
//! `PyUFunc_FromFuncAndData`; broadcasting, `out=`, `where=`, dtype dispatch and
//! `reduce`/`accumulate` are NumPy's.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;

use numpy::npyffi::{PyUFuncGenericFunction, PyUFuncObject, PY_UFUNC_API};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::abi::{dtype, Type};
use crate::jit::{compile_ufunc_loop, CodeMemory};

use super::errors;
use super::kernel::Kernel;

/// What a nativecall ufunc's loops need while the ufunc lives (NumPy keeps pointers to
/// these arrays); the ufunc holds this object in its `obj` slot.
#[pyclass(module = "nativecall", name = "UfuncLoops", frozen)]
pub struct UfuncLoops {
    funcs: Box<[PyUFuncGenericFunction]>,
    data: Box<[usize]>,
    types: Box<[c_char]>,
    name: CString,
    doc: CString,
    _code: Vec<Arc<CodeMemory>>,
    kernels: Vec<Py<Kernel>>,
    /// How to make the ufunc again (for pickling); it lives and dies with the ufunc.
    recipe: Option<Py<PyAny>>,
}

// SAFETY: the boxed arrays are written once before the ufunc exists and only read after.
unsafe impl Send for UfuncLoops {}
// SAFETY: as above.
unsafe impl Sync for UfuncLoops {}

#[pymethods]
impl UfuncLoops {
    /// The kernels, one per loop, in NumPy's dispatch order.
    #[getter]
    fn kernels(&self, py: Python<'_>) -> Vec<Py<Kernel>> {
        self.kernels.iter().map(|k| k.clone_ref(py)).collect()
    }

    /// What `_make_ufunc` was given to remake the ufunc (`None` if nothing).
    #[getter]
    fn recipe(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.recipe.as_ref().map(|r| r.clone_ref(py))
    }
}

/// The loops of a ufunc that `_make_ufunc` made, else `None` (NumPy's own ufuncs, and
/// any other object). NumPy ufuncs cannot be weakly referenced, so what belongs to one
/// is found through its `obj` slot, which the ufunc releases when it dies.
#[pyfunction]
pub(crate) fn _ufunc_loops<'py>(
    obj: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, UfuncLoops>>> {
    let py = obj.py();
    let ufunc_type = super::py_functions::numpy_ufunc(py)?;
    if !obj.is_instance(ufunc_type)? {
        return Ok(None);
    }
    // SAFETY: `obj` is a live numpy.ufunc, so it is a PyUFuncObject; `obj` is either
    // NULL or a reference the ufunc owns for as long as `obj` lives.
    let slot = unsafe { (*(obj.as_ptr() as *mut PyUFuncObject)).fields.obj };
    if slot.is_null() {
        return Ok(None);
    }
    // SAFETY: a live object (see above); borrowed, so take a new reference.
    let held = unsafe { Bound::from_borrowed_ptr(py, slot) };
    Ok(held.cast_into::<UfuncLoops>().ok())
}

/// NumPy's type number for a ufunc loop's argument or result (ufunc loops take and
/// return real numbers and bools).
fn npy_type(t: &Type) -> Option<c_char> {
    dtype::of_type(t)
        .filter(|d| d.kind != 'c')
        .map(|d| d.numpy_num as c_char)
}

/// A `numpy.ufunc` named `name` with one loop per kernel (all of the same arity).
/// `identity` is `None`, 0 or 1 (what `reduce` starts from); `recipe` is kept with the
/// loops for as long as the ufunc lives (see [`_ufunc_loops`]).
#[pyfunction]
#[pyo3(signature = (name, doc, kernels, identity=None, recipe=None))]
pub(crate) fn _make_ufunc<'py>(
    py: Python<'py>,
    name: &str,
    doc: &str,
    kernels: Vec<Bound<'py, Kernel>>,
    identity: Option<i64>,
    recipe: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(first) = kernels.first() else {
        return Err(PyValueError::new_err(
            "vectorize needs at least one signature",
        ));
    };
    // Problems of the function's signatures are typing errors at its first line.
    let typing = |m: String| errors::kernel_failure("typing", m, 1, 0);
    let nin = first.as_super().get().signature.params.len();
    if nin == 0 {
        return Err(typing("a ufunc takes at least one argument".into()));
    }
    let identity = match identity {
        None => -1,   // PyUFunc_None
        Some(0) => 0, // PyUFunc_Zero
        Some(1) => 1, // PyUFunc_One
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "identity must be None, 0 or 1, got {other}"
            )))
        }
    };
    let mut funcs = Vec::new();
    let mut types = Vec::new();
    let mut code = Vec::new();
    for k in &kernels {
        let sig = k.as_super().get().signature.clone();
        if sig.params.len() != nin {
            return Err(typing(format!(
                "every signature of a ufunc takes {nin} arguments; '{sig}' does not"
            )));
        }
        for t in sig.arg_types().chain([&sig.ret]) {
            types.push(npy_type(t).ok_or_else(|| {
                typing(format!(
                    "ufunc loops take and return numbers; '{sig}' has '{}'",
                    crate::jit::typing::kernel_type_name(t)
                ))
            })?);
        }
        let ir = k.get().ir().clone();
        // Code generation failing is a compile error too, as for any kernel.
        let compiled = py.detach(|| compile_ufunc_loop(&ir)).map_err(PyErr::from)?;
        // SAFETY: the loop has exactly the ufunc inner-loop signature (compile_ufunc_loop).
        let f = unsafe {
            std::mem::transmute::<
                usize,
                unsafe extern "C" fn(*mut *mut c_char, *mut isize, *mut isize, *mut c_void),
            >(compiled.address)
        };
        funcs.push(Some(f));
        code.push(compiled.code);
    }
    let loops = Bound::new(
        py,
        UfuncLoops {
            data: vec![0usize; funcs.len()].into_boxed_slice(),
            funcs: funcs.into_boxed_slice(),
            types: types.into_boxed_slice(),
            name: CString::new(name).map_err(|_| PyValueError::new_err("a NUL in the name"))?,
            doc: CString::new(doc).unwrap_or_default(),
            _code: code,
            kernels: kernels.iter().map(|k| k.clone().unbind()).collect(),
            recipe,
        },
    )?;
    let l = loops.get();
    // SAFETY: the arrays live in `loops`, which the ufunc keeps alive through its `obj`
    // slot; NumPy only reads them.
    unsafe {
        let ufunc = PY_UFUNC_API.PyUFunc_FromFuncAndData(
            py,
            l.funcs.as_ptr() as *mut PyUFuncGenericFunction,
            l.data.as_ptr() as *mut *mut c_void,
            l.types.as_ptr() as *mut c_char,
            l.funcs.len() as c_int,
            nin as c_int,
            1,
            identity,
            l.name.as_ptr(),
            l.doc.as_ptr(),
            0,
        );
        if ufunc.is_null() {
            return Err(PyErr::fetch(py));
        }
        let u = ufunc as *mut PyUFuncObject;
        (*u).fields.obj = loops.clone().into_ptr();
        Ok(Bound::from_owned_ptr(py, ufunc))
    }
}
