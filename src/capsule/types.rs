//! `nativecall.Type` and `nativecall.Signature`: the ABI's types as Python objects.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::abi::{self, FloatType, Type};

use super::errors::{self, signature_error};

/// A native type (`double`, `npy_intp`, `const double *`, `double (*)(double, void *)`).
///
/// `str()` is the canonical C spelling; `==` compares ABI (`long == int64_t` on LP64).
/// Calling a type with argument types builds a signature, as in Numba: `float64(float64, intp)`.
#[pyclass(module = "nativecall", name = "Type", frozen)]
#[derive(Clone)]
pub struct PyNativeType {
    /// The type.
    pub ty: Type,
}

impl PyNativeType {
    /// Wrap a type.
    pub fn new(ty: Type) -> Self {
        PyNativeType { ty }
    }
}

/// A type from a `Type`, or from text parsed as a type.
pub(crate) fn type_from_object(obj: &Bound<'_, PyAny>) -> PyResult<Type> {
    if let Ok(t) = obj.cast::<PyNativeType>() {
        return Ok(t.get().ty.clone());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return abi::parse_type_text(text_of(s)?).map_err(|e| signature_error(obj.py(), &e));
    }
    Err(errors::expected(
        "a nativecall.Type or a type string such as 'double *'",
        obj,
    ))
}

/// `ty` if it nests no deeper than the parser allows, so that every type Python can hold
/// is printed, compared and dropped without deep recursion.
fn within_depth(ty: Type) -> PyResult<Type> {
    let depth = ty.depth();
    if depth > abi::MAX_TYPE_DEPTH {
        return Err(PyValueError::new_err(format!(
            "types nest at most {} levels deep (pointers, parameter lists, arrays), got {depth}",
            abi::MAX_TYPE_DEPTH
        )));
    }
    Ok(ty)
}

fn abi_hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

#[pymethods]
impl PyNativeType {
    #[new]
    fn py_new(text: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyNativeType::new(type_from_object(text)?))
    }

    fn __str__(&self) -> String {
        self.ty.to_string()
    }

    fn __repr__(&self) -> String {
        format!("nativecall.Type('{}')", self.ty)
    }

    /// ABI equality with another `Type` (anything else is unequal: a string cannot
    /// hash like every spelling of the type it names; compare with `Type(text)`).
    fn __eq__(&self, other: &Bound<'_, Self>) -> bool {
        self.ty.abi_eq(&other.get().ty)
    }

    fn __hash__(&self) -> u64 {
        abi_hash(&self.ty.abi_key())
    }

    /// Size in bytes on this platform (`None` for void, functions and opaque structs).
    #[getter]
    fn size(&self) -> Option<usize> {
        self.ty.size()
    }

    /// Alignment in bytes on this platform.
    #[getter]
    fn alignment(&self) -> Option<usize> {
        self.ty.align()
    }

    /// One of `void`, `bool`, `int`, `float`, `complex`, `pointer`, `struct`, `dltensor`,
    /// `function`, `array`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.ty {
            Type::Void => "void",
            Type::Bool => "bool",
            Type::Int(_) => "int",
            Type::Float(_) => "float",
            Type::Complex(_) => "complex",
            Type::Pointer { .. } => "pointer",
            Type::Struct(_) => "struct",
            Type::DLTensor => "dltensor",
            Type::Function(_) => "function",
            Type::Array { .. } => "array",
        }
    }

    /// The element type of an array type.
    #[getter]
    fn dtype(&self) -> Option<PyNativeType> {
        match &self.ty {
            Type::Array { dtype, .. } => Some(PyNativeType::new((**dtype).clone())),
            _ => None,
        }
    }

    /// The number of dimensions of an array type.
    #[getter]
    fn ndim(&self) -> Option<u32> {
        match &self.ty {
            Type::Array { ndim, .. } => Some(*ndim),
            _ => None,
        }
    }

    /// Whether an array type is C-contiguous (`float64[:, ::1]`); None for other kinds.
    #[getter]
    fn contiguous(&self) -> Option<bool> {
        match &self.ty {
            Type::Array { contiguous, .. } => Some(*contiguous),
            _ => None,
        }
    }

    /// Width in bits of an int, float or complex type.
    #[getter]
    fn bits(&self) -> Option<usize> {
        match &self.ty {
            Type::Int(i) => Some(i.bits() as usize),
            Type::Float(_) | Type::Complex(_) | Type::Bool => self.ty.size().map(|s| s * 8),
            _ => None,
        }
    }

    /// Whether an int type is signed (`None` for other kinds).
    #[getter]
    fn signed(&self) -> Option<bool> {
        match &self.ty {
            Type::Int(i) => Some(i.signed()),
            _ => None,
        }
    }

    /// The pointee of a pointer type.
    #[getter]
    fn pointee(&self) -> Option<PyNativeType> {
        self.ty.pointee().map(|t| PyNativeType::new(t.clone()))
    }

    /// Whether a pointer's pointee is `const`.
    #[getter]
    fn is_const(&self) -> bool {
        matches!(self.ty, Type::Pointer { is_const: true, .. })
    }

    /// The struct name of `struct name` types.
    #[getter]
    fn struct_name(&self) -> Option<String> {
        match &self.ty {
            Type::Struct(n) => Some(n.clone()),
            _ => None,
        }
    }

    /// The signature of a function-pointer (or function) type.
    #[getter]
    fn signature(&self) -> Option<PySignature> {
        match &self.ty {
            Type::Function(sig) => Some(PySignature::new((**sig).clone())),
            t => t.function_signature().map(|s| PySignature::new(s.clone())),
        }
    }

    /// Whether the real/complex type is `long double` based.
    #[getter]
    fn is_long_double(&self) -> bool {
        matches!(
            self.ty,
            Type::Float(FloatType::LongDouble) | Type::Complex(FloatType::LongDouble)
        )
    }

    /// The Numba spelling, or `None` where Numba has none.
    #[getter]
    fn numba(&self) -> Option<String> {
        self.ty.numba_name()
    }

    /// `nativecall.float64[:, :]`: a 2-dimensional array of this type; `float64[:, ::1]`
    /// a C-contiguous one (Numba's spelling). Other slices are refused.
    fn __getitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<PyNativeType> {
        const SPELLING: &str =
            "array types are written float64[:] or float64[:, :], and float64[::1] or \
             float64[:, ::1] for C-contiguous arrays";
        // The step of a `:` or `::1` slice (None for `:`), or an error for anything else.
        let step_of = |k: &Bound<'_, PyAny>| -> PyResult<Option<i64>> {
            let ok = k.is_instance_of::<pyo3::types::PySlice>()
                && k.getattr("start")?.is_none()
                && k.getattr("stop")?.is_none();
            let step = if ok { k.getattr("step")? } else { k.clone() };
            match ok {
                true if step.is_none() => Ok(None),
                true if step.extract::<i64>().ok() == Some(1) => Ok(Some(1)),
                _ => Err(PyTypeError::new_err(format!(
                    "{SPELLING}, got {}",
                    k.repr()?
                ))),
            }
        };
        let keys: Vec<Bound<'_, PyAny>> = match key.cast::<PyTuple>() {
            Ok(t) => t.iter().collect(),
            Err(_) => vec![key.clone()],
        };
        let mut contiguous = false;
        for (k, item) in keys.iter().enumerate() {
            if step_of(item)?.is_some() {
                if k + 1 != keys.len() {
                    return Err(PyTypeError::new_err(format!(
                        "{SPELLING}: '::1' goes on the last dimension only"
                    )));
                }
                contiguous = true;
            }
        }
        let ndim = keys.len() as u32;
        if !matches!(self.ty, Type::Bool | Type::Int(_) | Type::Float(_)) || ndim == 0 {
            return Err(PyTypeError::new_err(format!(
                "cannot make an array of '{}'",
                self.ty
            )));
        }
        Ok(PyNativeType::new(if contiguous {
            Type::c_array(self.ty.clone(), ndim)
        } else {
            Type::array(self.ty.clone(), ndim)
        }))
    }

    /// A pointer to this type (`nativecall.float64.pointer()` is `double *`).
    fn pointer(&self) -> PyResult<PyNativeType> {
        Ok(PyNativeType::new(within_depth(Type::pointer(
            self.ty.clone(),
        ))?))
    }

    /// `float64(float64, intp)` builds the signature `double (double, npy_intp)`.
    #[pyo3(signature = (*args))]
    fn __call__(&self, args: &Bound<'_, PyTuple>) -> PyResult<PySignature> {
        if !self.ty.is_value() && self.ty != Type::Void {
            return Err(PyTypeError::new_err(format!(
                "a function cannot return '{}'",
                self.ty
            )));
        }
        let mut params = Vec::with_capacity(args.len());
        for a in args.iter() {
            let t = type_from_object(&a)?;
            let t = match t {
                Type::Function(_) => Type::pointer(t),
                t if !t.is_value() => {
                    return Err(PyTypeError::new_err(format!(
                        "'{t}' cannot be a parameter type"
                    )));
                }
                t => t,
            };
            params.push(t);
        }
        let sig = abi::Signature::new(self.ty.clone(), params);
        // A signature nests as deep as the function type it describes.
        within_depth(Type::Function(Box::new(sig.clone())))?;
        Ok(PySignature::new(sig))
    }
}

/// A C function signature.
///
/// `Signature(text)` reads C style (`"double (double, void *)"`), Cython
/// `__pyx_capi__` style and Numba style (`"float64(float64, intp)"`). `str()` is
/// the canonical C spelling scipy compares against; `==` is ABI equivalence on
/// this platform between Signatures (a string is never equal: parse it with
/// `Signature(text)` first, since many spellings name one signature).
#[pyclass(module = "nativecall", name = "Signature", frozen)]
#[derive(Clone)]
pub struct PySignature {
    /// The signature.
    pub sig: Arc<abi::Signature>,
}

impl PySignature {
    /// Wrap a signature.
    pub fn new(sig: abi::Signature) -> Self {
        PySignature { sig: Arc::new(sig) }
    }
}

/// A signature from a `Signature`, or from text.
pub(crate) fn signature_from_object(obj: &Bound<'_, PyAny>) -> PyResult<Arc<abi::Signature>> {
    if let Ok(s) = obj.cast::<PySignature>() {
        return Ok(s.get().sig.clone());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return parse_signature(obj.py(), text_of(s)?);
    }
    // Numba's Signature objects, and anything else whose str() is a signature, are
    // not accepted silently: say what is.
    Err(PyTypeError::new_err(format!(
        "expected a signature string such as 'double (double, void *)' or a nativecall.Signature, got {}",
        obj.get_type().name()?
    )))
}

/// The text of a type or signature string; one Python cannot encode (a lone surrogate)
/// spells no type: a `SignatureError`, as any other text that does not parse.
fn text_of<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    s.to_str().map_err(|e| {
        super::errors::SignatureError::new_err(format!(
            "a type or signature must be valid Unicode text: {e}"
        ))
    })
}

/// Parse signature text, raising `nativecall.SignatureError`.
pub(crate) fn parse_signature(py: Python<'_>, text: &str) -> PyResult<Arc<abi::Signature>> {
    abi::parse_signature(text)
        .map(Arc::new)
        .map_err(|e| signature_error(py, &e))
}

#[pymethods]
impl PySignature {
    #[new]
    fn py_new(text: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PySignature {
            sig: signature_from_object(text)?,
        })
    }

    fn __str__(&self) -> String {
        self.sig.to_string()
    }

    fn __repr__(&self) -> String {
        format!("nativecall.Signature('{}')", self.sig)
    }

    /// ABI equality with another `Signature` (anything else is unequal: a string cannot
    /// hash like every spelling of the signature it names; compare with `Signature(text)`).
    fn __eq__(&self, other: &Bound<'_, Self>) -> bool {
        self.sig.abi_eq(&other.get().sig)
    }

    fn __hash__(&self) -> u64 {
        abi_hash(&self.sig.abi_key())
    }

    /// The return type.
    #[getter]
    fn restype(&self) -> PyNativeType {
        PyNativeType::new(self.sig.ret.clone())
    }

    /// The parameter types, as a tuple.
    #[getter]
    fn argtypes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            self.sig.arg_types().map(|t| PyNativeType::new(t.clone())),
        )
    }

    /// Parameter names where the text gave them (Cython does), else `None` each.
    #[getter]
    fn argnames<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.sig.params.iter().map(|p| p.name.clone()))
    }

    /// The Numba spelling (`float64(float64, intp)`), or `None` if a type has no Numba name.
    #[getter]
    fn numba(&self) -> Option<String> {
        self.sig.numba_string()
    }

    /// The function-pointer type with this signature (`double (*)(double, void *)`).
    fn pointer(&self) -> PyResult<PyNativeType> {
        Ok(PyNativeType::new(within_depth(Type::function_pointer(
            (*self.sig).clone(),
        ))?))
    }

    fn __len__(&self) -> usize {
        self.sig.params.len()
    }
}
