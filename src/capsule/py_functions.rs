//! The functions of nativecall's own Python modules that the extension calls (adapters
//! for ctypes, cffi, scipy and Numba objects; pickling), each imported once and kept.
//!
//! No call path imports a module: the first use looks the function up, later uses
//! take it from the cell.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

macro_rules! python_functions {
    ($($(#[$doc:meta])* $name:ident = $module:literal, $attr:literal;)*) => {$(
        $(#[$doc])*
        pub(crate) fn $name(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
            static FUNCTION: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            FUNCTION.import(py, $module, $attr)
        }
    )*};
}

python_functions! {
    /// `pointer_argument(obj, type, what) -> (address, keep)`: a ctypes, cffi or Numba
    /// object passed for a pointer parameter.
    pointer_argument = "nativecall._interop", "pointer_argument";
    /// `user_data_address(obj) -> int`: user data read the way scipy.LowLevelCallable reads it.
    user_data_address = "nativecall._interop", "user_data_address";
    /// `make_lowlevelcallable(capsule, user_data)`: a `scipy.LowLevelCallable`.
    make_lowlevelcallable = "nativecall._interop", "make_lowlevelcallable";
    /// `to_ctypes(nc, address)`: a ctypes function pointer.
    to_ctypes = "nativecall._interop", "to_ctypes";
    /// `to_cffi(nc, ffi, address)`: a cffi function pointer.
    to_cffi = "nativecall._interop", "to_cffi";
    /// `reduce_native_callable(nc)`: how a NativeCallable pickles.
    reduce_native_callable = "nativecall._pickle", "reduce_native_callable";
    /// `reduce_kernel(kernel)`: how a Kernel pickles.
    reduce_kernel = "nativecall._pickle", "reduce_kernel";
    /// `numba_type(nc)`: the Numba type of a NativeCallable.
    numba_type = "nativecall._numba", "numba_type";
    /// `adapter(nc)`: a NativeCallable through Numba's wrapper address protocol.
    numba_adapter = "nativecall._numba", "adapter";
    /// `numpy.dtype` (loaded when an array is made with a NumPy dtype, not before).
    numpy_dtype = "numpy", "dtype";
    /// `numpy.ufunc`, the type.
    numpy_ufunc = "numpy", "ufunc";
}
