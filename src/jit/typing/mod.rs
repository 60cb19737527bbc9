//! Type inference and checking for kernels.
//!
//! Every local has one type. Types are found by iterating to a fixed point over
//! all assignments: each assignment unifies the variable's type with the value's
//! (int and float unify to float, as in Numba); a pair that does not unify is an
//! error at that assignment. A second pass then checks every expression with the
//! final types.
//!
//! [`lattice`] holds the types and how they combine, `infer` the fixed-point pass,
//! `check` the second pass and the checks of a whole function, `expr` the type of each
//! expression, `builtins` the builtin functions' signatures.

mod builtins;
mod check;
mod expr;
mod infer;
pub mod lattice;
mod views;

use builtins::builtin_type;
use check::{check_args, first_bare_return};
use infer::written_names;
use lattice::bool_as_int;
use views::cast_type;

pub use check::{always_true, check_returns, check_value_types, falls_through};
pub use lattice::{
    binary_type, convertible, is_complex, is_float, is_int, is_number, is_numeric,
    kernel_type_name, promote, unify, C128, I64,
};

use std::collections::{HashMap, HashSet};

use crate::abi::Type;

use super::ir::{Function, Span};

/// Which phase of the language a compile error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A construct outside the kernel language.
    Unsupported,
    /// A type mismatch, or a call whose argument types do not match.
    Typing,
    /// A name that is not defined.
    Name,
    /// A call whose argument types no signature of the callee accepts (a typing error
    /// to the user; [`CompileError::arg_types`] names the argument types, so that a
    /// frontend can compile the callee for them).
    NoSignature,
}

/// A compile error at a place in the user's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// The phase.
    pub kind: ErrorKind,
    /// What is wrong, naming what was expected and what was found.
    pub message: String,
    /// Where.
    pub span: Span,
    /// For [`ErrorKind::NoSignature`]: the call's argument types, in the kernel language's
    /// spelling (`float64`, `float64[:, :]`); empty otherwise.
    pub arg_types: Vec<String>,
}

impl CompileError {
    /// A typing error.
    pub fn typing(span: Span, message: impl Into<String>) -> Self {
        CompileError {
            kind: ErrorKind::Typing,
            message: message.into(),
            span,
            arg_types: Vec::new(),
        }
    }

    /// An unsupported construct.
    pub fn unsupported(span: Span, message: impl Into<String>) -> Self {
        CompileError {
            kind: ErrorKind::Unsupported,
            message: message.into(),
            span,
            arg_types: Vec::new(),
        }
    }

    /// A call that no signature of the callee accepts, with the argument types it has.
    pub fn no_signature(span: Span, message: impl Into<String>, arg_types: Vec<String>) -> Self {
        CompileError {
            kind: ErrorKind::NoSignature,
            message: message.into(),
            span,
            arg_types,
        }
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.span.line, self.span.col, self.message
        )
    }
}

impl std::error::Error for CompileError {}

type R<T> = Result<T, CompileError>;

/// Inferred types: every local and the return type.
#[derive(Clone, Debug)]
pub struct Types {
    /// Each parameter's and local's type.
    pub vars: HashMap<String, Type>,
    /// The return type (`Void` for none).
    pub ret: Type,
    /// Local names in order of first assignment (for display).
    pub order: Vec<String>,
    /// The parameters whose memory the kernel writes (arrays stored into).
    pub written: HashSet<String>,
}

/// Infers and checks the types of one kernel.
pub struct Typer<'f> {
    f: &'f Function,
    vars: HashMap<String, Type>,
    order: Vec<String>,
    params: HashSet<&'f str>,
    ret: Option<Type>,
    ret_declared: bool,
    saw_bare_return: bool,
}

impl<'f> Typer<'f> {
    /// Infer the types of `f`, then check every expression.
    pub fn run(f: &'f Function) -> R<Types> {
        let mut t = Typer {
            f,
            vars: f.params.iter().cloned().collect(),
            order: f.params.iter().map(|(n, _)| n.clone()).collect(),
            params: f.params.iter().map(|(n, _)| n.as_str()).collect(),
            ret: f.ret.clone(),
            ret_declared: f.ret.is_some(),
            saw_bare_return: false,
        };
        for _ in 0..64 {
            let before = (t.vars.clone(), t.ret.clone());
            t.infer_block(&f.body)?;
            if (t.vars.clone(), t.ret.clone()) == before {
                break;
            }
        }
        t.check_block(&f.body, 0)?;
        t.check_view_uses()?;
        let ret = t.ret.clone().unwrap_or(Type::Void);
        if t.saw_bare_return && ret != Type::Void {
            return Err(CompileError::typing(
                first_bare_return(&f.body).unwrap_or_default(),
                format!(
                    "'return' without a value in a kernel that returns {}",
                    kernel_type_name(&ret)
                ),
            ));
        }
        let written = written_names(f, &t.vars);
        Ok(Types {
            vars: t.vars,
            ret,
            order: t.order,
            written,
        })
    }

    /// A typer that answers [`Typer::expr`] with the types `run` found (for code generation).
    pub fn with_types(f: &'f Function, types: &Types) -> Self {
        Typer {
            f,
            vars: types.vars.clone(),
            order: types.order.clone(),
            params: f.params.iter().map(|(n, _)| n.as_str()).collect(),
            ret: Some(types.ret.clone()),
            ret_declared: true,
            saw_bare_return: false,
        }
    }
}
