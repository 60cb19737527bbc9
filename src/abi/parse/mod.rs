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

//!
//! The parts: [`lex`] splits the text into tokens, [`names`] knows the type names (builtin
//! and user typedefs), `parser` is the grammar's declarators and parameter lists, and
//! `specifiers` the C declaration specifiers.

use std::fmt;

use super::signature::Signature;
use super::types::Type;

mod lex;
mod names;
mod parser;
mod specifiers;

pub use names::add_typedef;
use parser::Parser;

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

fn err(text: &str, position: usize, message: &str) -> SignatureError {
    SignatureError {
        text: text.to_string(),
        position,
        message: message.to_string(),
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
