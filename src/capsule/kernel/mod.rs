//! `nativecall.Kernel`: a compiled `@nativecall.jit` function. The frontend's IR is read
//! into [`crate::jit::ir`] by [`ir_decode`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::jit;
use crate::jit::ir::Function;
use crate::jit::typing::kernel_type_name;

mod ir_decode;

// The decoder reports IR it cannot read as the compiler does.
use super::errors::KernelCompileFailure;

use super::callable::{into_object, take_pending, FastTypeCell, NativeCallable};

static LIVE_KERNELS: AtomicUsize = AtomicUsize::new(0);

/// How many kernels are alive.
pub(crate) fn live_kernels() -> usize {
    LIVE_KERNELS.load(Ordering::Relaxed)
}

/// A kernel compiled from Python source by `@nativecall.jit`: a NativeCallable whose
/// code nativecall generated and owns.
#[pyclass(extends = NativeCallable, module = "nativecall", name = "Kernel", frozen, subclass)]
pub struct Kernel {
    py_func: Py<PyAny>,
    ir: Arc<Function>,
    types: jit::typing::Types,
    compile_seconds: f64,
    recipe: Py<PyAny>,
}

impl Kernel {
    /// The kernel's IR (to compile it again with an adapted entry).
    pub(crate) fn ir(&self) -> &Arc<Function> {
        &self.ir
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        LIVE_KERNELS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The subtype of `Kernel` kernels have: calls by vectorcall (see `callable::vectorcall`).
static FAST_TYPE: FastTypeCell = FastTypeCell::new();

#[pymethods]
impl Kernel {
    /// Takes the value `_compile_kernel` left for this thread; refuses a call from Python.
    #[new]
    fn __new__() -> PyResult<PyClassInitializer<Self>> {
        take_pending::<PyClassInitializer<Self>>("Kernel")
    }

    /// The Python function the kernel was compiled from.
    #[getter]
    fn py_func(&self, py: Python<'_>) -> Py<PyAny> {
        self.py_func.clone_ref(py)
    }

    /// What the kernel was compiled from: `[source, name, signature, boundscheck, captured]`.
    #[getter]
    fn _recipe(&self, py: Python<'_>) -> Py<PyAny> {
        self.recipe.clone_ref(py)
    }

    /// Pickle by recipe: compiled again where it is unpickled.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        super::py_functions::reduce_kernel(slf.py())?.call1((slf,))
    }

    /// Seconds spent typing and generating code.
    #[getter]
    fn compile_seconds(&self) -> f64 {
        self.compile_seconds
    }

    /// The Cranelift IR of the kernel (before optimisation).
    fn inspect_ir(&self) -> PyResult<String> {
        jit::clif_text(&self.ir).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The inferred type of every parameter and local, in order of appearance,
    /// and `"return"`.
    fn inspect_types<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for name in &self.types.order {
            d.set_item(name, kernel_type_name(&self.types.vars[name]))?;
        }
        d.set_item("return", kernel_type_name(&self.types.ret))?;
        Ok(d)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let base = slf.as_super().get();
        format!(
            "<nativecall.Kernel {}: {} at {:#x}>",
            base.name, base.signature, base.address
        )
    }
}

/// Compile frontend IR into a Kernel. `keep` holds every callee object alive.
#[pyfunction]
pub(crate) fn _compile_kernel(
    py: Python<'_>,
    ir: &Bound<'_, PyAny>,
    py_func: Py<PyAny>,
    keep: Py<PyAny>,
    recipe: Py<PyAny>,
) -> PyResult<Py<PyAny>> {
    // Reading recurses over the IR as typing and code generation do: with room, too.
    let ir = ir.clone().unbind();
    let f = py
        .detach(|| jit::with_room(|| Python::attach(|py| ir_decode::function_from(ir.bind(py)))))?;
    let started = Instant::now();
    // A compile error is the frontend's to place in the source (see `errors`).
    let compiled = py.detach(|| jit::compile(&f)).map_err(PyErr::from)?;
    let compile_seconds = started.elapsed().as_secs_f64();
    let writes = f
        .params
        .iter()
        .map(|(n, _)| compiled.types.written.contains(n))
        .collect();
    let nc = NativeCallable::new(
        compiled.address,
        Arc::new(compiled.signature.clone()),
        f.name.clone(),
        keep,
    )?
    .with_kernel_code(
        compiled.code.clone(),
        writes,
        f.boundscheck,
        compiled.records_errors,
    );
    LIVE_KERNELS.fetch_add(1, Ordering::Relaxed);
    let kernel = Kernel {
        py_func,
        ir: Arc::new(f),
        types: compiled.types,
        compile_seconds,
        recipe,
    };
    let init = PyClassInitializer::from(nc).add_subclass(kernel);
    let base = py.get_type::<Kernel>();
    Ok(into_object(py, init, &FAST_TYPE, &base, c"nativecall.Kernel")?.unbind())
}
