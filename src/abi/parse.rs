//! The signature parser: C style (scipy, ctypes, cffi), Cython `__pyx_capi__` style and Numba style.
//!
//! One recursive-descent grammar reads all three, because they only differ in
//! their names for types and in where parameter names may appear:
//!
//! ```text
//! signature  := type                                   (must be a function type)
//! type       := specifiers postfix*
//! postfix    := '*' | 'const' | '(' '*'+ [name] ')' '(' params ')' | '(' params ')'
//! params     := 'void' | param (',' param)* | ε
//! param      := type [name]
//! specifiers := C keywords (unsigned long long, double _Complex, struct X, ...)
//!             | a typedef name | a Numba name | 'CPointer' '(' type ')'
//! ```
//!
//! Every pointer, parameter list, array and `CPointer` counts one level of nesting on the
//! way in; past [`MAX_TYPE_DEPTH`] levels the text is refused, so neither this parser nor
//! anything that later walks the type recurses without bound.

use std::collections::HashMap;
use std::fmt;

use once_cell::sync::Lazy;
use parking_lot::RwLock;

use super::signature::{Param, Signature};
use super::types::{FloatType, IntType, Type, MAX_TYPE_DEPTH};

/// A malformed signature or type string, with the position of the offending text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureError {
    /// The text that was parsed.
    pub text: String,
    /// Byte offset of the problem in `text`.
    pub position: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let col = self.text[..self.position.min(self.text.len())]
            .chars()
            .count();
        write!(
            f,
            "{}\n    {}\n    {}^",
            self.message,
            self.text,
            " ".repeat(col)
        )
    }
}

impl std::error::Error for SignatureError {}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    Number(u64),
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Punct(c) => write!(f, "'{c}'"),
            Tok::Number(n) => write!(f, "'{n}'"),
            Tok::End => f.write_str("the end of the text"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, SignatureError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(text[start..i].to_string()), start));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let n = text[start..i]
                .parse()
                .map_err(|_| err(text, start, "number too large"))?;
            out.push((Tok::Number(n), start));
        } else if b"()*,[]:".contains(&c) {
            out.push((Tok::Punct(c as char), i));
            i += 1;
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(err(
                text,
                i,
                &format!("unexpected character {ch:?} in a signature"),
            ));
        }
    }
    out.push((Tok::End, text.len()));
    Ok(out)
}

fn err(text: &str, position: usize, message: &str) -> SignatureError {
    SignatureError {
        text: text.to_string(),
        position,
        message: message.to_string(),
    }
}

/// Names every parser knows without a typedef: Numba's type names and the C names
/// that are not keywords. User typedefs are looked up after these.
fn builtin_name(name: &str) -> Option<Type> {
    use IntType::*;
    Some(match name {
        // Numba's names.
        "float64" | "double" | "float_" | "npy_float64" | "npy_double" => Type::F64,
        "float32" | "npy_float32" => Type::F32,
        "complex128"
        | "__pyx_t_double_complex"
        | "_cffi_double_complex_t"
        | "npy_complex128"
        | "npy_cdouble" => Type::Complex(FloatType::F64),
        "complex64"
        | "__pyx_t_float_complex"
        | "_cffi_float_complex_t"
        | "npy_complex64"
        | "npy_cfloat" => Type::Complex(FloatType::F32),
        "int8" | "int8_t" | "npy_int8" | "byte" => Type::Int(I8),
        "uint8" | "uint8_t" | "npy_uint8" | "uchar" => Type::Int(U8),
        "int16" | "int16_t" | "npy_int16" => Type::Int(I16),
        "uint16" | "uint16_t" | "npy_uint16" => Type::Int(U16),
        "int32" | "int32_t" | "npy_int32" | "intc" => Type::Int(Int),
        "uint32" | "uint32_t" | "npy_uint32" | "uintc" => Type::Int(UInt),
        "int64" | "int64_t" | "npy_int64" => Type::Int(I64),
        "uint64" | "uint64_t" | "npy_uint64" => Type::Int(U64),
        "intp" | "npy_intp" | "intptr_t" | "Py_ssize_t" | "ssize_t" | "ptrdiff_t" => {
            Type::Int(Intp)
        }
        "uintp" | "npy_uintp" | "uintptr_t" => Type::Int(UIntp),
        "size_t" | "Py_uhash_t" => Type::Int(Size),
        "PY_LONG_LONG" | "longlong" | "npy_longlong" => Type::Int(LongLong),
        "PY_ULONG_LONG" | "ulonglong" | "npy_ulonglong" => Type::Int(ULongLong),
        "long_" | "npy_long" => Type::Int(Long),
        "ulong" | "npy_ulong" => Type::Int(ULong),
        "bool_" | "boolean" | "bool" | "_Bool" | "npy_bool" => Type::Bool,
        "voidptr" => Type::void_ptr(),
        "none" => Type::Void,
        "DLTensor" => Type::DLTensor,
        _ => return None,
    })
}

/// Typedefs that scipy's Cython modules use in their exported signatures, plus
/// whatever users add through [`add_typedef`].
static TYPEDEFS: Lazy<RwLock<HashMap<String, Type>>> = Lazy::new(|| {
    let mut table = HashMap::new();
    let zeros = "__pyx_t_5scipy_8optimize_15cython_optimize_6_zeros_";
    table.insert(
        format!("{zeros}callback_type"),
        parse_type_text("double (*)(double, void *)").unwrap(),
    );
    table.insert(
        format!("{zeros}zeros_full_output"),
        Type::Struct("zeros_full_output".into()),
    );
    for module in ["6linalg_11cython_blas_", "6linalg_13cython_lapack_"] {
        let prefix = format!("__pyx_t_5scipy_{module}");
        table.insert(format!("{prefix}s"), Type::F32);
        table.insert(format!("{prefix}d"), Type::F64);
        table.insert(format!("{prefix}c"), Type::Complex(FloatType::F32));
        table.insert(format!("{prefix}z"), Type::Complex(FloatType::F64));
        // `ctypedef bint dselect2(d*, d*)`: function types, used as `dselect2 *`.
        for (name, ty, arity) in [
            ("cselect1", "float _Complex", 1),
            ("cselect2", "float _Complex", 2),
            ("dselect2", "double", 2),
            ("dselect3", "double", 3),
            ("sselect2", "float", 2),
            ("sselect3", "float", 3),
            ("zselect1", "double _Complex", 1),
            ("zselect2", "double _Complex", 2),
        ] {
            let args = vec![format!("{ty} *"); arity].join(", ");
            table.insert(
                format!("{prefix}{name}"),
                parse_type_text(&format!("int ({args})")).unwrap(),
            );
        }
    }
    RwLock::new(table)
});

/// Register `name` as another spelling of `ty` for every later parse
/// (what `nativecall.typedef(name, type_text)` calls).
pub fn add_typedef(name: &str, ty: Type) -> Result<(), SignatureError> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || is_keyword(name) || builtin_name(name).is_some() {
        return Err(err(
            name,
            0,
            "a typedef name must be a new C identifier (not a keyword or a built-in type name)",
        ));
    }
    TYPEDEFS.write().insert(name.to_string(), ty);
    Ok(())
}

fn lookup_typedef(name: &str) -> Option<Type> {
    builtin_name(name).or_else(|| TYPEDEFS.read().get(name).cloned())
}

fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "const"
            | "volatile"
            | "restrict"
            | "__restrict"
            | "__restrict__"
            | "signed"
            | "unsigned"
            | "short"
            | "long"
            | "int"
            | "char"
            | "float"
            | "double"
            | "void"
            | "_Complex"
            | "complex"
            | "struct"
            | "union"
            | "enum"
            | "CPointer"
    )
}

/// A C declarator, outermost first.
enum Decl {
    Name(Option<String>),
    Pointer(bool, Box<Decl>),
    Function(Vec<Param>, usize, Box<Decl>),
    Array(u32, bool, usize, Box<Decl>),
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    at: usize,
    /// Nesting levels on the way to the current token (see [`Parser::nest`]).
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Result<Self, SignatureError> {
        Ok(Parser {
            text,
            toks: tokenize(text)?,
            at: 0,
            depth: 0,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.at + k).min(self.toks.len() - 1)].0
    }

    fn pos(&self) -> usize {
        self.toks[self.at].1
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.at].0.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn error<T>(&self, message: String) -> Result<T, SignatureError> {
        Err(err(self.text, self.pos(), &message))
    }

    /// Count `levels` more levels of nesting for the text at byte `at`; refuse the text
    /// past [`MAX_TYPE_DEPTH`]. Siblings (parameters) do not add up: see [`Parser::params`].
    fn nest(&mut self, levels: usize, at: usize) -> Result<(), SignatureError> {
        self.depth += levels;
        if self.depth > MAX_TYPE_DEPTH {
            return Err(err(
                self.text,
                at,
                &format!(
                    "types nest at most {MAX_TYPE_DEPTH} levels deep (pointers, parameter lists, arrays)"
                ),
            ));
        }
        Ok(())
    }

    fn expect(&mut self, c: char) -> Result<(), SignatureError> {
        if *self.peek() == Tok::Punct(c) {
            self.bump();
            Ok(())
        } else {
            self.error(format!("expected '{c}', got {}", self.peek()))
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_ident(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Tok::Ident(s) if s == name) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Declaration specifiers: C keywords in any order, or one type name. Returns the
    /// type and whether it was `const`.
    fn specifiers(&mut self) -> Result<(Type, bool), SignatureError> {
        let start = self.pos();
        let (mut signed, mut unsigned, mut short, mut long, mut int, mut char_) =
            (false, false, false, 0, false, false);
        let (mut float, mut double, mut void, mut complex, mut is_const) =
            (false, false, false, false, false);
        let mut named: Option<Type> = None;
        let mut any = false;
        while let Tok::Ident(word) = self.peek().clone() {
            let has_keyword_type =
                signed || unsigned || short || long > 0 || int || char_ || float || double || void;
            match word.as_str() {
                "const" => is_const = true,
                "volatile" | "restrict" | "__restrict" | "__restrict__" => {}
                "signed" => signed = true,
                "unsigned" => unsigned = true,
                "short" => short = true,
                "long" => long += 1,
                "int" => int = true,
                "char" => char_ = true,
                "float" => float = true,
                "double" => double = true,
                "void" => void = true,
                "_Complex" | "complex" => complex = true,
                "struct" | "union" | "enum" => {
                    let kw_pos = self.pos();
                    self.bump();
                    let Tok::Ident(tag) = self.peek().clone() else {
                        return self.error(format!(
                            "expected a name after '{word}', got {}",
                            self.peek()
                        ));
                    };
                    if named.is_some() || has_keyword_type {
                        return Err(err(self.text, kw_pos, "two types in one declaration"));
                    }
                    named = Some(match (word.as_str(), tag.as_str()) {
                        ("enum", _) => Type::Int(IntType::Int),
                        // cffi and C headers spell it `struct DLTensor`.
                        (_, "DLTensor") => Type::DLTensor,
                        _ => Type::Struct(tag),
                    });
                }
                "CPointer" => {
                    if named.is_some() || has_keyword_type {
                        return self.error("two types in one declaration".into());
                    }
                    self.nest(1, self.pos())?;
                    self.bump();
                    self.expect('(')?;
                    let inner = self.type_()?;
                    named = Some(Type::pointer(inner));
                    self.expect(')')?;
                    any = true;
                    continue;
                }
                _ => {
                    // A type name is only a type where no type has been seen yet; after
                    // one it is a parameter name (`int __pyx_skip_dispatch`).
                    if named.is_some() || has_keyword_type || complex {
                        break;
                    }
                    match lookup_typedef(&word) {
                        Some(t) => {
                            self.nest(t.depth(), self.pos())?;
                            named = Some(t);
                        }
                        None => {
                            return self.error(format!(
                                "unknown type name '{word}' (register it with nativecall.typedef('{word}', '<C type>'))"
                            ))
                        }
                    }
                }
            }
            any = true;
            self.bump();
        }
        if !any {
            return self.error(format!("expected a type, got {}", self.peek()));
        }
        let has_keyword_type =
            signed || unsigned || short || long > 0 || int || char_ || float || double || void;
        if let Some(t) = named {
            if has_keyword_type {
                return Err(err(self.text, start, "two types in one declaration"));
            }
            if complex {
                return match t {
                    Type::Float(f) => Ok((Type::Complex(f), is_const)),
                    _ => Err(err(
                        self.text,
                        start,
                        "_Complex needs float, double or long double",
                    )),
                };
            }
            return Ok((t, is_const));
        }
        if !has_keyword_type {
            return Err(err(
                self.text,
                start,
                "expected a type, got only qualifiers",
            ));
        }
        let bad = || {
            err(
                self.text,
                start,
                "this combination of type keywords is not a C type",
            )
        };
        if signed && unsigned {
            return Err(bad());
        }
        let ty = if void {
            if signed || unsigned || short || long > 0 || int || char_ || float || double || complex
            {
                return Err(bad());
            }
            Type::Void
        } else if float || double {
            if signed
                || unsigned
                || short
                || int
                || char_
                || (float && double)
                || (float && long > 0)
                || long > 1
            {
                return Err(bad());
            }
            let f = if float {
                FloatType::F32
            } else if long == 1 {
                FloatType::LongDouble
            } else {
                FloatType::F64
            };
            if complex {
                Type::Complex(f)
            } else {
                Type::Float(f)
            }
        } else {
            if complex {
                return Err(bad());
            }
            use IntType::*;
            let it = if char_ {
                if short || long > 0 || int {
                    return Err(bad());
                }
                match (signed, unsigned) {
                    (true, _) => SChar,
                    (_, true) => UChar,
                    _ => Char,
                }
            } else if short {
                if long > 0 {
                    return Err(bad());
                }
                if unsigned {
                    UShort
                } else {
                    Short
                }
            } else {
                match (long, unsigned) {
                    (0, false) => Int,
                    (0, true) => UInt,
                    (1, false) => Long,
                    (1, true) => ULong,
                    (2, false) => LongLong,
                    (2, true) => ULongLong,
                    _ => return Err(bad()),
                }
            };
            Type::Int(it)
        };
        Ok((ty, is_const))
    }

    /// A type: specifiers, then a C declarator, then Numba-style postfixes
    /// (`float64(float64, voidptr)*`). `name` receives a declarator name if one appears.
    fn type_with_name(&mut self, name: &mut Option<String>) -> Result<Type, SignatureError> {
        let (base, is_const) = self.specifiers()?;
        let decl = self.declarator()?;
        let mut ty = self.apply(base, is_const, decl, name)?;
        loop {
            match self.peek() {
                Tok::Punct('*') => {
                    self.nest(1, self.pos())?;
                    self.bump();
                    ty = Type::pointer(ty);
                }
                Tok::Punct('(') => {
                    let at = self.pos();
                    self.nest(1, at)?;
                    self.bump();
                    let params = self.params()?;
                    ty = self.function(ty, params, at)?;
                }
                _ => break,
            }
        }
        Ok(ty)
    }

    /// A C declarator, read outside in; [`Parser::apply`] turns it into a type inside out.
    fn declarator(&mut self) -> Result<Decl, SignatureError> {
        if *self.peek() == Tok::Punct('*') {
            self.nest(1, self.pos())?;
            self.bump();
            let mut is_const = false;
            loop {
                if self.eat_ident("const") {
                    is_const = true;
                } else if !(self.eat_ident("volatile")
                    || self.eat_ident("restrict")
                    || self.eat_ident("__restrict"))
                {
                    break;
                }
            }
            return Ok(Decl::Pointer(is_const, Box::new(self.declarator()?)));
        }
        let mut direct = match self.peek().clone() {
            Tok::Punct('(') if *self.peek_at(1) == Tok::Punct('*') => {
                self.bump();
                let inner = self.declarator()?;
                self.expect(')')?;
                inner
            }
            Tok::Ident(n) if !is_keyword(&n) => {
                self.bump();
                Decl::Name(Some(n))
            }
            _ => Decl::Name(None),
        };
        loop {
            let at = self.pos();
            if matches!(self.peek(), Tok::Punct('(' | '[')) {
                self.nest(1, at)?;
            }
            if self.eat_punct('(') {
                direct = Decl::Function(self.params()?, at, Box::new(direct));
            } else if self.eat_punct('[') {
                if *self.peek() == Tok::Punct(':') {
                    // Numba's array spelling: `float64[:]`, and `int32[:, ::1]` for
                    // C-contiguous (`::1` on the last dimension only; no other steps).
                    let mut ndim = 0u32;
                    let mut step_at = None;
                    loop {
                        self.expect(':')?;
                        let here = self.pos();
                        if self.eat_punct(':') {
                            if *self.peek() != Tok::Number(1) || step_at.is_some() {
                                return Err(err(
                                    self.text,
                                    here,
                                    "array dimensions are ':', or '::1' on the last one for a \
                                     C-contiguous array (float64[:, ::1])",
                                ));
                            }
                            self.bump();
                            step_at = Some(here);
                        }
                        ndim += 1;
                        if self.eat_punct(']') {
                            break;
                        }
                        if let Some(here) = step_at {
                            return Err(err(
                                self.text,
                                here,
                                "'::1' (C-contiguous) goes on the last dimension only (float64[:, ::1])",
                            ));
                        }
                        self.expect(',')?;
                    }
                    let contiguous = step_at.is_some();
                    direct = Decl::Array(ndim, contiguous, at, Box::new(direct));
                    continue;
                }
                // `double x[]` in a parameter list is `double *x`.
                if let Tok::Number(_) = self.peek() {
                    self.bump();
                }
                self.expect(']')?;
                direct = Decl::Pointer(false, Box::new(direct));
            } else {
                return Ok(direct);
            }
        }
    }

    /// The type a declarator gives to `ty` (`is_const` qualifies `ty` itself).
    fn apply(
        &self,
        ty: Type,
        is_const: bool,
        decl: Decl,
        name: &mut Option<String>,
    ) -> Result<Type, SignatureError> {
        match decl {
            Decl::Name(n) => {
                *name = n;
                Ok(ty)
            }
            Decl::Pointer(pointer_const, inner) => self.apply(
                Type::Pointer {
                    pointee: Box::new(ty),
                    is_const,
                },
                pointer_const,
                *inner,
                name,
            ),
            Decl::Function(params, fn_at, inner) => {
                let f = self.function(ty, params, fn_at)?;
                self.apply(f, false, *inner, name)
            }
            Decl::Array(ndim, contiguous, at, inner) => {
                if !matches!(ty, Type::Bool | Type::Int(_) | Type::Float(_)) {
                    return Err(err(
                        self.text,
                        at,
                        &format!("array elements must be numbers, not '{ty}'"),
                    ));
                }
                let array = if contiguous {
                    Type::c_array(ty, ndim)
                } else {
                    Type::array(ty, ndim)
                };
                self.apply(array, false, *inner, name)
            }
        }
    }

    fn function(&self, ret: Type, params: Vec<Param>, at: usize) -> Result<Type, SignatureError> {
        if matches!(ret, Type::Function(_)) {
            return Err(err(
                self.text,
                at,
                "a function cannot return a function (return a pointer to one)",
            ));
        }
        if !ret.is_value() && ret != Type::Void {
            return Err(err(
                self.text,
                at,
                &format!("a function cannot return '{ret}' by value"),
            ));
        }
        Ok(Type::Function(Box::new(Signature { ret, params })))
    }

    fn type_(&mut self) -> Result<Type, SignatureError> {
        let mut name = None;
        let at = self.pos();
        let ty = self.type_with_name(&mut name)?;
        if let Some(n) = name {
            return Err(err(
                self.text,
                at,
                &format!("unexpected name '{n}' in a type"),
            ));
        }
        Ok(ty)
    }

    /// Parameters after the opening '(' up to and including ')'. Each parameter nests from
    /// the depth of the list; the deepest one sets the depth after it.
    fn params(&mut self) -> Result<Vec<Param>, SignatureError> {
        let mut params = Vec::new();
        let start = self.depth;
        let mut deepest = start;
        if self.eat_punct(')') {
            return Ok(params);
        }
        if matches!(self.peek(), Tok::Ident(w) if w == "void")
            && *self.peek_at(1) == Tok::Punct(')')
        {
            self.bump();
            self.bump();
            return Ok(params);
        }
        loop {
            let at = self.pos();
            let mut name = None;
            self.depth = start;
            let ty = self.type_with_name(&mut name)?;
            deepest = deepest.max(self.depth);
            let ty = match ty {
                // A parameter of function type is a function pointer, as in C.
                Type::Function(_) => Type::pointer(ty),
                Type::Void => return Err(err(self.text, at, "'void' must be the only parameter")),
                Type::Struct(ref s) => {
                    return Err(err(
                        self.text,
                        at,
                        &format!("struct {s} by value is not supported; pass a pointer"),
                    ))
                }
                Type::DLTensor => {
                    return Err(err(
                        self.text,
                        at,
                        "DLTensor is passed by pointer: 'DLTensor *'",
                    ))
                }
                t => t,
            };
            params.push(Param { ty, name });
            match self.peek() {
                Tok::Punct(',') => {
                    self.bump();
                }
                Tok::Punct(')') => {
                    self.bump();
                    self.depth = deepest;
                    return Ok(params);
                }
                other => {
                    return self.error(format!(
                        "expected ',' or ')' in a parameter list, got {other}"
                    ))
                }
            }
        }
    }

    fn finish(&mut self) -> Result<(), SignatureError> {
        if *self.peek() != Tok::End {
            return self.error(format!("unexpected {} after the signature", self.peek()));
        }
        Ok(())
    }
}

/// Parse a function signature.
pub fn parse_signature(text: &str) -> Result<Signature, SignatureError> {
    let mut p = Parser::new(text)?;
    let mut name = None;
    let ty = p.type_with_name(&mut name)?;
    p.finish()?;
    match ty {
        Type::Function(sig) => Ok(*sig),
        Type::Pointer { pointee, .. } if matches!(*pointee, Type::Function(_)) => Err(err(
            text,
            0,
            "expected a function signature such as 'double (double, void *)', got a function pointer type",
        )),
        other => Err(err(
            text,
            text.len(),
            &format!("expected a parameter list: '{other}' is a type, not a function signature"),
        )),
    }
}

/// Parse a type (`double`, `const double *`, `double (*)(double, void *)`, `CPointer(float64)`).
pub fn parse_type_text(text: &str) -> Result<Type, SignatureError> {
    let mut p = Parser::new(text)?;
    let ty = p.type_()?;
    p.finish()?;
    Ok(ty)
}
