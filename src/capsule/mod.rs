//! Everything that touches Python: the `nativecall._native` extension module.
//!
//! - [`types`]: `nativecall.Type` and `nativecall.Signature`.
//! - [`callable`]: `NativeCallable` (`mod`), the PyCapsule protocol (`capsule_protocol`),
//!   Cython's hidden parameters (`cython`) and every export (`export`).
//! - [`call`]: calls through libffi: the cached plans (`plan`), scalar, pointer and
//!   array arguments (`scalar`, `pointer`, `array_arg`).
//! - [`array`]: `nativecall.Array`, owned (`alloc`) or imported (`import`) through DLPack,
//!   `__array_interface__` and buffers.
//! - [`kernel`]: `nativecall.Kernel`, and the decoder of the frontend's IR.
//! - [`ufunc`], [`adapt`], [`callback`], [`roots`]: NumPy ufuncs, adapted entries,
//!   Python functions as C callbacks, and the batched root finder.
//! - [`errors`]: the one place Rust errors become the Python exceptions that
//!   `python/nativecall/_errors.py` defines.
//! - `py_functions`: the Python functions the extension calls, imported once.
//!
//! Element types map to DLPack and NumPy through one table, [`crate::abi::dtype`].
//! Adapters for ctypes, cffi, Numba and scipy objects live in
//! `python/nativecall/_interop.py`: they only read those libraries' own Python attributes
//! and hand this module an address, a signature and an owner.

pub(crate) mod adapt;
pub(crate) mod array;
pub(crate) mod call;
pub(crate) mod callable;
pub(crate) mod callback;
pub(crate) mod errors;
pub(crate) mod kernel;
mod py_functions;
pub(crate) mod roots;
pub(crate) mod types;
pub(crate) mod ufunc;

use pyo3::prelude::*;

use crate::abi;

/// Register `name` as a spelling of `type_text` in every later signature
/// (`nativecall.typedef("my_real", "double")`).
#[pyfunction]
fn typedef(py: Python<'_>, name: &str, type_text: &Bound<'_, PyAny>) -> PyResult<()> {
    let ty = types::type_from_object(type_text)?;
    abi::add_typedef(name, ty).map_err(|e| errors::signature_error(py, &e))
}

/// Live generated code: `{"kernels": n, "code_modules": n, "code_bytes": n}`. Code memory is freed
/// when the last callable, capsule or pointer exported from it is gone, so these
/// fall back when such objects are dropped.
#[pyfunction]
fn stats(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let (modules, bytes) = crate::jit::code_stats();
    let d = pyo3::types::PyDict::new(py);
    d.set_item("kernels", kernel::live_kernels())?;
    d.set_item("code_modules", modules)?;
    d.set_item("code_bytes", bytes)?;
    Ok(d)
}

/// One row of the element-type table: name, DLPack code, bits and lanes, NumPy type
/// number and character, array-interface kind.
type DtypeRow = (&'static str, u8, u8, u16, u8, char, char);

/// The element-type table ([`crate::abi::dtype`]), so tests can check it against NumPy.
#[pyfunction]
fn _dtype_table() -> Vec<DtypeRow> {
    abi::dtype::TABLE
        .iter()
        .map(|d| {
            (
                d.name,
                d.code,
                d.bits,
                d.lanes,
                d.numpy_num,
                d.numpy_char,
                d.kind,
            )
        })
        .collect()
}

/// The `nativecall._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<types::PyNativeType>()?;
    m.add_class::<types::PySignature>()?;
    m.add_class::<callable::NativeCallable>()?;
    m.add_class::<kernel::Kernel>()?;
    m.add_class::<adapt::PackedArgs>()?;
    m.add_class::<array::Array>()?;
    m.add_class::<ufunc::UfuncLoops>()?;
    m.add_function(wrap_pyfunction!(ufunc::_make_ufunc, m)?)?;
    m.add_function(wrap_pyfunction!(ufunc::_ufunc_loops, m)?)?;
    m.add_function(wrap_pyfunction!(array::from_dlpack, m)?)?;
    m.add_function(wrap_pyfunction!(array::asarray, m)?)?;
    m.add_function(wrap_pyfunction!(array::zeros, m)?)?;
    m.add_function(wrap_pyfunction!(array::empty, m)?)?;
    // The exception classes are nativecall._errors' own (see `errors`).
    m.add(
        "KernelCompileFailure",
        py.get_type::<errors::KernelCompileFailure>(),
    )?;
    m.add_function(wrap_pyfunction!(kernel::_compile_kernel, m)?)?;
    m.add_function(wrap_pyfunction!(adapt::_user_data_thunk, m)?)?;
    m.add_function(wrap_pyfunction!(roots::_solve_roots, m)?)?;
    m.add_function(wrap_pyfunction!(roots::_solve_root, m)?)?;
    m.add_class::<callback::CallbackOwner>()?;
    m.add_function(wrap_pyfunction!(callback::callback, m)?)?;
    m.add("SignatureError", py.get_type::<errors::SignatureError>())?;
    m.add_function(wrap_pyfunction!(typedef, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(_dtype_table, m)?)?;
    for name in [
        "void",
        "bool",
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "intp",
        "uintp",
        "intc",
        "uintc",
        "float32",
        "float64",
        "complex64",
        "complex128",
        "voidptr",
    ] {
        let ty = abi::parse_type_text(if name == "bool" { "bool" } else { name })
            .map_err(|e| errors::signature_error(py, &e))?;
        m.add(name, types::PyNativeType::new(ty))?;
    }
    Ok(())
}
