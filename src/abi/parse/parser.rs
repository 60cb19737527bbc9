//! The recursive-descent grammar: types, C declarators, Numba-style postfixes and
//! parameter lists (the specifiers are in `specifiers.rs`).

use super::super::signature::{Param, Signature};
use super::super::types::{Type, MAX_TYPE_DEPTH};
use super::lex::{tokenize, Tok};
use super::names::is_keyword;
use super::{err, SignatureError};

/// A C declarator, outermost first.
enum Decl {
    Name(Option<String>),
    Pointer(bool, Box<Decl>),
    Function(Vec<Param>, usize, Box<Decl>),
    Array(u32, bool, usize, Box<Decl>),
}

pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    toks: Vec<(Tok, usize)>,
    at: usize,
    /// Nesting levels on the way to the current token (see [`Parser::nest`]).
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Result<Self, SignatureError> {
        Ok(Parser {
            text,
            toks: tokenize(text)?,
            at: 0,
            depth: 0,
        })
    }

    pub(super) fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    pub(super) fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.at + k).min(self.toks.len() - 1)].0
    }

    pub(super) fn pos(&self) -> usize {
        self.toks[self.at].1
    }

    pub(super) fn bump(&mut self) -> Tok {
        let t = self.toks[self.at].0.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    pub(super) fn error<T>(&self, message: String) -> Result<T, SignatureError> {
        Err(err(self.text, self.pos(), &message))
    }

    /// Count `levels` more levels of nesting for the text at byte `at`; refuse the text
    /// past [`MAX_TYPE_DEPTH`]. Siblings (parameters) do not add up: see [`Parser::params`].
    pub(super) fn nest(&mut self, levels: usize, at: usize) -> Result<(), SignatureError> {
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

    pub(super) fn expect(&mut self, c: char) -> Result<(), SignatureError> {
        if *self.peek() == Tok::Punct(c) {
            self.bump();
            Ok(())
        } else {
            self.error(format!("expected '{c}', got {}", self.peek()))
        }
    }

    pub(super) fn eat_punct(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    pub(super) fn eat_ident(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Tok::Ident(s) if s == name) {
            self.bump();
            true
        } else {
            false
        }
    }
}

impl Parser<'_> {
    /// A type: specifiers, then a C declarator, then Numba-style postfixes
    /// (`float64(float64, voidptr)*`). `name` receives a declarator name if one appears.
    pub(super) fn type_with_name(
        &mut self,
        name: &mut Option<String>,
    ) -> Result<Type, SignatureError> {
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
                if !matches!(
                    ty,
                    Type::Bool | Type::Int(_) | Type::Float(_) | Type::Complex(_)
                ) {
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

    pub(super) fn function(
        &self,
        ret: Type,
        params: Vec<Param>,
        at: usize,
    ) -> Result<Type, SignatureError> {
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

    pub(super) fn type_(&mut self) -> Result<Type, SignatureError> {
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
    pub(super) fn params(&mut self) -> Result<Vec<Param>, SignatureError> {
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

    pub(super) fn finish(&mut self) -> Result<(), SignatureError> {
        if *self.peek() != Tok::End {
            return self.error(format!("unexpected {} after the signature", self.peek()));
        }
        Ok(())
    }
}
