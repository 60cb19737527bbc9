//! Native types: what crosses a C ABI, with sizes and alignments for this platform.
//!
//! A [`Type`] remembers how it was spelled (`long` and `int64_t` are different
//! values that print differently) while [`Type::abi_eq`] compares what the
//! machine sees (`long` and `int64_t` are the same on LP64 platforms).

use std::fmt;
use std::mem::{align_of, size_of};

use super::signature::Signature;

/// An integer type by its C spelling. Sizes and signedness follow the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntType {
    /// `char` (signedness is the platform's).
    Char,
    /// `signed char`.
    SChar,
    /// `unsigned char`.
    UChar,
    /// `short`.
    Short,
    /// `unsigned short`.
    UShort,
    /// `int` (also `int32_t`, Numba's `int32` and `intc`).
    Int,
    /// `unsigned int` (also `uint32_t`).
    UInt,
    /// `long`.
    Long,
    /// `unsigned long`.
    ULong,
    /// `long long` (Cython's `PY_LONG_LONG`).
    LongLong,
    /// `unsigned long long`.
    ULongLong,
    /// A pointer-sized signed integer: `npy_intp`, `intptr_t`, `Py_ssize_t`, `ssize_t`, Numba's `intp`.
    Intp,
    /// A pointer-sized unsigned integer: `npy_uintp`, `uintptr_t`, Numba's `uintp`.
    UIntp,
    /// `size_t`.
    Size,
    /// `int8_t`.
    I8,
    /// `uint8_t`.
    U8,
    /// `int16_t`.
    I16,
    /// `uint16_t`.
    U16,
    /// `int64_t`.
    I64,
    /// `uint64_t`.
    U64,
}

impl IntType {
    /// The fixed-width integer of `bytes` bytes (1, 2, 4 or 8) and the given signedness,
    /// as buffer formats and array-interface typestrs describe elements.
    pub fn of_size(bytes: usize, signed: bool) -> Option<IntType> {
        Some(match (bytes, signed) {
            (1, true) => IntType::I8,
            (2, true) => IntType::I16,
            (4, true) => IntType::Int,
            (8, true) => IntType::I64,
            (1, false) => IntType::U8,
            (2, false) => IntType::U16,
            (4, false) => IntType::UInt,
            (8, false) => IntType::U64,
            _ => return None,
        })
    }

    /// Width in bits on this platform.
    pub fn bits(self) -> u32 {
        use std::ffi::{c_int, c_long, c_longlong, c_short};
        let bytes = match self {
            IntType::Char | IntType::SChar | IntType::UChar | IntType::I8 | IntType::U8 => 1,
            IntType::Short | IntType::UShort => size_of::<c_short>(),
            IntType::I16 | IntType::U16 => 2,
            IntType::Int | IntType::UInt => size_of::<c_int>(),
            IntType::Long | IntType::ULong => size_of::<c_long>(),
            IntType::LongLong | IntType::ULongLong => size_of::<c_longlong>(),
            IntType::Intp | IntType::UIntp | IntType::Size => size_of::<usize>(),
            IntType::I64 | IntType::U64 => 8,
        };
        bytes as u32 * 8
    }

    /// Whether the type is signed on this platform.
    pub fn signed(self) -> bool {
        match self {
            IntType::Char => std::ffi::c_char::MIN != 0,
            IntType::SChar
            | IntType::Short
            | IntType::Int
            | IntType::Long
            | IntType::LongLong
            | IntType::Intp
            | IntType::I8
            | IntType::I16
            | IntType::I64 => true,
            _ => false,
        }
    }

    /// The C spelling this type prints as.
    pub fn c_name(self) -> &'static str {
        match self {
            IntType::Char => "char",
            IntType::SChar => "signed char",
            IntType::UChar => "unsigned char",
            IntType::Short => "short",
            IntType::UShort => "unsigned short",
            IntType::Int => "int",
            IntType::UInt => "unsigned int",
            IntType::Long => "long",
            IntType::ULong => "unsigned long",
            IntType::LongLong => "long long",
            IntType::ULongLong => "unsigned long long",
            IntType::Intp => "npy_intp",
            IntType::UIntp => "npy_uintp",
            IntType::Size => "size_t",
            IntType::I8 => "int8_t",
            IntType::U8 => "uint8_t",
            IntType::I16 => "int16_t",
            IntType::U16 => "uint16_t",
            IntType::I64 => "int64_t",
            IntType::U64 => "uint64_t",
        }
    }

    /// The Numba spelling of an integer of this width and signedness.
    pub fn numba_name(self) -> &'static str {
        match self {
            IntType::Intp => "intp",
            IntType::UIntp => "uintp",
            _ => match (self.bits(), self.signed()) {
                (8, true) => "int8",
                (8, false) => "uint8",
                (16, true) => "int16",
                (16, false) => "uint16",
                (32, true) => "int32",
                (32, false) => "uint32",
                (64, true) => "int64",
                _ => "uint64",
            },
        }
    }

    /// The smallest and largest value as `i128`, for range checks.
    pub fn range(self) -> (i128, i128) {
        let bits = self.bits();
        if self.signed() {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        }
    }
}

/// A floating-point type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloatType {
    /// `float`.
    F32,
    /// `double`.
    F64,
    /// `long double` (parsed, printed and compared; not every consumer can pass it).
    LongDouble,
}

impl FloatType {
    fn c_name(self) -> &'static str {
        match self {
            FloatType::F32 => "float",
            FloatType::F64 => "double",
            FloatType::LongDouble => "long double",
        }
    }
}

/// A native type.
///
/// `PartialEq` compares spellings; use [`Type::abi_eq`] to ask whether two types
/// are passed the same way on this platform.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `void` (a return type, or the pointee of `void *`).
    Void,
    /// C `bool` / `_Bool` (one byte).
    Bool,
    /// An integer.
    Int(IntType),
    /// A real floating-point number.
    Float(FloatType),
    /// A complex number with parts of the given type (`double _Complex`, Cython's `__pyx_t_double_complex`).
    Complex(FloatType),
    /// A pointer; `is_const` qualifies the pointee (`const double *`).
    Pointer {
        /// What the pointer points to.
        pointee: Box<Type>,
        /// Whether the pointee is `const`.
        is_const: bool,
    },
    /// A struct known only by name (`struct name`); usable behind a pointer.
    Struct(String),
    /// DLPack's `DLTensor` struct; usable behind a pointer.
    DLTensor,
    /// A function type; as a value it is always behind a pointer.
    Function(Box<Signature>),
    /// An array of `ndim` dimensions of `dtype` elements with any strides. At the C ABI
    /// it is a borrowed `DLTensor *` (and prints as one); kernels index it.
    Array {
        /// The element type (a number).
        dtype: Box<Type>,
        /// The number of dimensions.
        ndim: u32,
        /// C-contiguous (Numba's `float64[:, ::1]`): checked when called from Python, and
        /// indexed with strides computed from the shape. C callers must pass such arrays.
        contiguous: bool,
    },
}

/// How many pointer, function and array levels a type may nest, so that parsing, printing,
/// comparing and dropping a type never recurse without bound. C compilers must accept 12
/// declarator levels; real signatures use fewer than 5.
pub const MAX_TYPE_DEPTH: usize = 64;

impl Type {
    /// `double`.
    pub const F64: Type = Type::Float(FloatType::F64);
    /// `float`.
    pub const F32: Type = Type::Float(FloatType::F32);

    /// A pointer to `pointee`.
    pub fn pointer(pointee: Type) -> Type {
        Type::Pointer {
            pointee: Box::new(pointee),
            is_const: false,
        }
    }

    /// `void *`.
    pub fn void_ptr() -> Type {
        Type::pointer(Type::Void)
    }

    /// A pointer to a function with `signature`.
    pub fn function_pointer(signature: Signature) -> Type {
        Type::pointer(Type::Function(Box::new(signature)))
    }

    /// The pointee, if this is a pointer.
    pub fn pointee(&self) -> Option<&Type> {
        match self {
            Type::Pointer { pointee, .. } => Some(pointee),
            _ => None,
        }
    }

    /// An array type (`float64[:, :]` is `Type::array(Type::F64, 2)`).
    pub fn array(dtype: Type, ndim: u32) -> Type {
        Type::Array {
            dtype: Box::new(dtype),
            ndim,
            contiguous: false,
        }
    }

    /// A C-contiguous array type (`float64[:, ::1]` is `Type::c_array(Type::F64, 2)`).
    pub fn c_array(dtype: Type, ndim: u32) -> Type {
        Type::Array {
            dtype: Box::new(dtype),
            ndim,
            contiguous: true,
        }
    }

    /// The signature, if this is a pointer to a function.
    pub fn function_signature(&self) -> Option<&Signature> {
        match self.pointee() {
            Some(Type::Function(sig)) => Some(sig),
            _ => None,
        }
    }

    /// How many pointer, function and array levels this type nests: 0 for `double`,
    /// 2 for `double **` and for `double (*)(int *)`. Never more than [`MAX_TYPE_DEPTH`]
    /// for a type that the parser or the `nativecall.Type` constructors built.
    pub fn depth(&self) -> usize {
        match self {
            Type::Pointer { pointee: inner, .. } | Type::Array { dtype: inner, .. } => {
                1 + inner.depth()
            }
            Type::Function(sig) => {
                1 + sig
                    .arg_types()
                    .chain([&sig.ret])
                    .map(Type::depth)
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Whether values of this type can be passed and returned by value.
    pub fn is_value(&self) -> bool {
        !matches!(
            self,
            Type::Void | Type::Struct(_) | Type::DLTensor | Type::Function(_)
        )
    }

    /// Size in bytes on this platform, `None` for void, functions and opaque structs.
    pub fn size(&self) -> Option<usize> {
        Some(match self {
            Type::Void | Type::Struct(_) | Type::Function(_) => return None,
            Type::Bool => 1,
            Type::Int(i) => i.bits() as usize / 8,
            Type::Float(f) => float_size(*f),
            Type::Complex(f) => 2 * float_size(*f),
            Type::Pointer { .. } | Type::Array { .. } => size_of::<usize>(),
            Type::DLTensor => size_of::<super::dlpack::DLTensor>(),
        })
    }

    /// Alignment in bytes on this platform, `None` where [`Type::size`] is `None`.
    pub fn align(&self) -> Option<usize> {
        Some(match self {
            Type::Void | Type::Struct(_) | Type::Function(_) => return None,
            Type::Complex(f) | Type::Float(f) => float_align(*f),
            Type::Pointer { .. } | Type::Array { .. } => align_of::<usize>(),
            Type::DLTensor => align_of::<super::dlpack::DLTensor>(),
            other => other.size().unwrap_or(1),
        })
    }

    /// Whether `self` and `other` are the same type as far as the machine can tell
    /// on this platform: `long` equals `int64_t` on LP64, `int` never equals `long` there,
    /// and `const` is ignored. Pointers are equal when their pointees are.
    pub fn abi_eq(&self, other: &Type) -> bool {
        self.abi_key() == other.abi_key()
    }

    /// A string that two types share exactly when they are [`Type::abi_eq`]; hash this.
    pub fn abi_key(&self) -> String {
        let mut out = String::new();
        self.write_abi_key(&mut out);
        out
    }

    pub(crate) fn write_abi_key(&self, out: &mut String) {
        match self {
            Type::Void => out.push('v'),
            Type::Bool => out.push('b'),
            Type::Int(i) => {
                out.push(if i.signed() { 'i' } else { 'u' });
                out.push_str(&i.bits().to_string());
            }
            Type::Float(f) => out.push_str(float_key(*f)),
            Type::Complex(f) => {
                out.push('c');
                out.push_str(float_key(*f));
            }
            Type::Pointer { pointee, .. } => {
                out.push_str("p(");
                pointee.write_abi_key(out);
                out.push(')');
            }
            Type::Struct(name) => {
                out.push_str("s:");
                out.push_str(name);
                out.push(';');
            }
            Type::DLTensor => out.push_str("DLTensor"),
            Type::Function(sig) => sig.write_abi_key(out),
            // An array travels as a `DLTensor *`.
            Type::Array { .. } => out.push_str("p(DLTensor)"),
        }
    }

    /// The Numba spelling of this type (`float64`, `CPointer(float64)`, `voidptr`),
    /// or `None` where Numba has no equivalent.
    pub fn numba_name(&self) -> Option<String> {
        Some(match self {
            Type::Void => "void".into(),
            Type::Bool => "boolean".into(),
            Type::Int(i) => i.numba_name().into(),
            Type::Float(FloatType::F32) => "float32".into(),
            Type::Float(FloatType::F64) => "float64".into(),
            Type::Complex(FloatType::F32) => "complex64".into(),
            Type::Complex(FloatType::F64) => "complex128".into(),
            Type::Pointer { pointee, .. } => match &**pointee {
                Type::Void | Type::Struct(_) | Type::DLTensor => "voidptr".into(),
                Type::Function(_) => "voidptr".into(),
                other => format!("CPointer({})", other.numba_name()?),
            },
            _ => return None,
        })
    }

    /// Write the C declaration of `declarator` with this type (`double *x`, `double (*f)(int)`).
    pub(crate) fn c_declaration(&self, declarator: &str, is_const: bool) -> String {
        let base = |name: &str| {
            let name = if is_const {
                format!("const {name}")
            } else {
                name.to_string()
            };
            if declarator.is_empty() {
                name
            } else {
                format!("{name} {declarator}")
            }
        };
        match self {
            Type::Void => base("void"),
            Type::Bool => base("bool"),
            Type::Int(i) => base(i.c_name()),
            Type::Float(f) => base(f.c_name()),
            Type::Complex(f) => base(&format!("{} _Complex", f.c_name())),
            Type::Struct(name) => base(&format!("struct {name}")),
            Type::DLTensor => base("DLTensor"),
            Type::Array { .. } => Type::pointer(Type::DLTensor).c_declaration(declarator, is_const),
            Type::Pointer {
                pointee,
                is_const: pointee_const,
            } => {
                let inner = if is_const {
                    format!("*const {declarator}")
                } else {
                    format!("*{declarator}")
                };
                let inner = inner.trim_end().to_string();
                let inner = if matches!(**pointee, Type::Function(_)) {
                    format!("({inner})")
                } else {
                    inner
                };
                pointee.c_declaration(&inner, *pointee_const)
            }
            Type::Function(sig) => {
                let params = sig.c_params();
                sig.ret
                    .c_declaration(&format!("{declarator}({params})"), false)
            }
        }
    }
}

fn float_size(f: FloatType) -> usize {
    match f {
        FloatType::F32 => 4,
        FloatType::F64 => 8,
        FloatType::LongDouble => LONG_DOUBLE_SIZE,
    }
}

fn float_align(f: FloatType) -> usize {
    match f {
        FloatType::F32 => 4,
        FloatType::F64 => align_of::<f64>(),
        FloatType::LongDouble => LONG_DOUBLE_SIZE.min(16),
    }
}

fn float_key(f: FloatType) -> &'static str {
    match f {
        FloatType::F32 => "f32",
        FloatType::F64 => "f64",
        // Where `long double` is `double` (MSVC, 32-bit ARM) the two are the same ABI type.
        FloatType::LongDouble if LONG_DOUBLE_SIZE == 8 => "f64",
        FloatType::LongDouble => "f80",
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const LONG_DOUBLE_SIZE: usize = if cfg!(windows) { 8 } else { 16 };
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const LONG_DOUBLE_SIZE: usize = 8;

impl fmt::Display for Type {
    /// The canonical C spelling: `double`, `npy_intp`, `const double *`, `double (*)(double, void *)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.c_declaration("", false))
    }
}
