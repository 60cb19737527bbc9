//! The kernel IR schema as the decoder holds it: `nativecall._ir.SCHEMA`, read once per
//! process and checked against the decoder's own tables.

use std::collections::HashMap;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::jit::ir::{Callee, Expr, Stmt};

use super::node::Node;
use super::{BINOPS, CALLEES, CMPOPS, EXPRS, STMTS, UNARYOPS};

/// What one value in a node holds: a node of a category, or a plain value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Base {
    Function,
    Param,
    Overloads,
    Stmt,
    Expr,
    Callee,
    Str,
    Int,
    Float,
    Bool,
    Type,
    Callable,
    BinOp,
    UnaryOp,
    CmpOp,
}

const BASES: &[(&str, Base)] = &[
    ("function", Base::Function),
    ("param", Base::Param),
    ("overloads", Base::Overloads),
    ("stmt", Base::Stmt),
    ("expr", Base::Expr),
    ("callee", Base::Callee),
    ("str", Base::Str),
    ("int", Base::Int),
    ("float", Base::Float),
    ("bool", Base::Bool),
    ("type", Base::Type),
    ("callable", Base::Callable),
    ("binop", Base::BinOp),
    ("unaryop", Base::UnaryOp),
    ("cmpop", Base::CmpOp),
];

impl Base {
    pub(super) fn name(self) -> &'static str {
        BASES
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("?", |(n, _)| n)
    }

    pub(super) fn is_node(self) -> bool {
        matches!(
            self,
            Base::Function | Base::Param | Base::Overloads | Base::Stmt | Base::Expr | Base::Callee
        )
    }
}

/// A field's kind as the schema spells it: `expr`, `type?` (or None), `[stmt]` (a list).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Field {
    One(Base),
    Optional(Base),
    List(Base),
}

impl Field {
    fn parse(text: &str) -> Option<Field> {
        let base = |t: &str| BASES.iter().find(|(n, _)| *n == t).map(|(_, b)| *b);
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            base(inner).map(Field::List)
        } else if let Some(inner) = text.strip_suffix('?') {
            base(inner).map(Field::Optional)
        } else {
            base(text).map(Field::One)
        }
    }

    /// "an expr node", "a list of str", for messages.
    pub(super) fn describe(self) -> String {
        let one = |b: Base| match (b.is_node(), b) {
            (true, _) => format!("{} node", b.name()),
            (false, Base::Int) => "int".to_string(),
            (false, Base::Type) => "nativecall.Type".to_string(),
            (false, Base::Callable) => "NativeCallable".to_string(),
            (false, _) => b.name().to_string(),
        };
        match self {
            Field::One(b) => with_article(&one(b)),
            Field::Optional(b) => format!("{} or None", with_article(&one(b))),
            Field::List(b) => format!("a list of {}{}", one(b), if b.is_node() { "s" } else { "" }),
        }
    }
}

pub(super) fn with_article(noun: &str) -> String {
    // "an 'if' node", "an int", "a 'unary' node".
    let vowel = noun
        .trim_start_matches('\'')
        .starts_with(['a', 'e', 'i', 'o']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

pub(super) type Decode<T> = for<'py> fn(&Node<'py>) -> PyResult<T>;

/// How the nodes of each category become [`crate::jit::ir`] values.
#[derive(Clone, Copy)]
pub(super) enum Decoder {
    Stmt(Decode<Stmt>),
    Expr(Decode<Expr>),
    Callee(Decode<Callee>),
    /// `function`, `param` and `overloads`: one kind each, read where they occur.
    Header,
}

/// One node kind of the schema.
pub(super) struct NodeKind {
    pub(super) tag: String,
    pub(super) category: Base,
    pub(super) fields: Vec<(String, Field)>,
    /// The field names, for messages.
    pub(super) names: String,
    pub(super) decoder: Decoder,
}

pub(super) struct Schema {
    pub(super) kinds: HashMap<String, NodeKind>,
}

static SCHEMA: PyOnceLock<Schema> = PyOnceLock::new();

pub(super) fn schema(py: Python<'_>) -> PyResult<&'static Schema> {
    SCHEMA.get_or_try_init(py, || load_schema(py))
}

pub(super) fn mismatch(message: String) -> PyErr {
    PyRuntimeError::new_err(format!(
        "nativecall._ir.SCHEMA and the compiled kernel IR decoder disagree ({message}); \
         rebuild the extension"
    ))
}

/// `nativecall._ir.SCHEMA`, checked against the decoder's tables (`STMTS`, `EXPRS`,
/// `CALLEES`, the operators).
fn load_schema(py: Python<'_>) -> PyResult<Schema> {
    let module = py.import("nativecall._ir")?;
    let table = module.getattr("SCHEMA")?;
    let table = table.cast::<PyDict>()?;
    let mut kinds = HashMap::new();
    for (tag, entry) in table.iter() {
        let tag: String = tag.extract()?;
        let (category, fields): (String, Vec<(String, String)>) = entry.extract()?;
        let category = match Field::parse(&category) {
            Some(Field::One(b)) if b.is_node() => b,
            _ => {
                return Err(mismatch(format!(
                    "'{tag}' is in no known category: {category}"
                )))
            }
        };
        let fields = fields
            .into_iter()
            .map(|(name, kind)| match Field::parse(&kind) {
                Some(f) => Ok((name, f)),
                None => Err(mismatch(format!(
                    "'{tag}' field '{name}' has the unknown kind '{kind}'"
                ))),
            })
            .collect::<PyResult<Vec<_>>>()?;
        let decoder = match category {
            Base::Stmt => STMTS
                .iter()
                .find(|(t, _)| *t == tag)
                .map(|(_, d)| Decoder::Stmt(*d)),
            Base::Expr => EXPRS
                .iter()
                .find(|(t, _)| *t == tag)
                .map(|(_, d)| Decoder::Expr(*d)),
            Base::Callee => CALLEES
                .iter()
                .find(|(t, _)| *t == tag)
                .map(|(_, d)| Decoder::Callee(*d)),
            other => (other.name() == tag).then_some(Decoder::Header),
        };
        let decoder = decoder.ok_or_else(|| {
            mismatch(format!(
                "the {} node '{tag}' has no decoder",
                category.name()
            ))
        })?;
        let names = fields
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let kind = NodeKind {
            tag: tag.clone(),
            category,
            fields,
            names,
            decoder,
        };
        kinds.insert(tag, kind);
    }
    for tag in STMTS
        .iter()
        .map(|(t, _)| *t)
        .chain(EXPRS.iter().map(|(t, _)| *t))
        .chain(CALLEES.iter().map(|(t, _)| *t))
        .chain(["function", "param", "overloads"])
    {
        if !kinds.contains_key(tag) {
            return Err(mismatch(format!(
                "the decoder reads '{tag}' nodes, which the schema does not define"
            )));
        }
    }
    for (name, ops) in [
        ("BINOPS", BINOPS.iter().map(|(t, _)| *t).collect::<Vec<_>>()),
        ("UNARYOPS", UNARYOPS.iter().map(|(t, _)| *t).collect()),
        ("CMPOPS", CMPOPS.iter().map(|(t, _)| *t).collect()),
    ] {
        let theirs: Vec<String> = module.getattr(name)?.extract()?;
        if theirs != ops {
            return Err(mismatch(format!("{name}: {theirs:?} against {ops:?}")));
        }
    }
    Ok(Schema { kinds })
}
