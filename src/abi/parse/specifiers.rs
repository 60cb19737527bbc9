//! C declaration specifiers (`unsigned long long`, `const double`, `struct X`,
//! `double _Complex`), or one type name.

use super::super::types::{FloatType, IntType, Type};
use super::lex::Tok;
use super::names::lookup_typedef;
use super::parser::Parser;
use super::{err, SignatureError};

impl Parser<'_> {
    /// Declaration specifiers: C keywords in any order, or one type name. Returns the
    /// type and whether it was `const`.
    pub(super) fn specifiers(&mut self) -> Result<(Type, bool), SignatureError> {
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
}
