//! One node of the kernel IR, checked against its kind in the schema, and read field by
//! field by name.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::abi::Type;
use crate::capsule::callable::NativeCallable;
use crate::capsule::types::type_from_object;
use crate::jit::ir::{Callee, Expr, Span, Stmt};

use super::schema::{mismatch, schema, with_article, Base, Decoder, Field, NodeKind};
use super::{expr_from, stmt_from};

/// Where a node or value sits, for messages: `field 'left' of a 'binary' node`.
#[derive(Clone, Copy)]
pub(super) struct Place<'s> {
    tag: &'s str,
    field: &'s str,
    item: Option<usize>,
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(i) = self.item {
            write!(f, "item {i} of ")?;
        }
        write!(
            f,
            "field '{}' of {} node",
            self.field,
            with_article(&format!("'{}'", self.tag))
        )
    }
}

/// `str 'oops'`: a value's type and (shortened) repr, for messages.
fn got(obj: &Bound<'_, PyAny>) -> String {
    let type_name = obj
        .get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string());
    let mut text = obj.repr().map_or_else(|_| "?".into(), |r| r.to_string());
    if text.chars().count() > 60 {
        text = text.chars().take(57).collect::<String>() + "...";
    }
    format!("{type_name} {text}")
}

pub(super) fn ir_error(message: String) -> PyErr {
    PyTypeError::new_err(format!("kernel IR: {message}"))
}

/// A node checked against its kind: a tuple whose tag is a kind of the expected category,
/// with that kind's number of fields.
pub(super) struct Node<'py> {
    pub(super) t: Bound<'py, PyTuple>,
    pub(super) kind: &'static NodeKind,
}

impl<'py> Node<'py> {
    pub(super) fn open(
        obj: &Bound<'py, PyAny>,
        expected: Base,
        place: Option<Place<'_>>,
    ) -> PyResult<Node<'py>> {
        let at = || place.map_or_else(|| "the root".to_string(), |p| p.to_string());
        // Messages only: nothing is formatted for a well-formed node.
        let wanted = || Field::One(expected).describe();
        let tag = obj
            .cast::<PyTuple>()
            .ok()
            .and_then(|t| t.get_item(0).ok())
            .and_then(|tag| tag.cast_into::<PyString>().ok());
        let Some(tag) = tag else {
            return Err(ir_error(format!(
                "{} holds {} (a tuple starting with its tag), got {}",
                at(),
                wanted(),
                got(obj)
            )));
        };
        let tag = tag.to_cow()?;
        let kind = schema(obj.py())?.kinds.get(tag.as_ref()).ok_or_else(|| {
            ir_error(format!(
                "{} holds {}, got the unknown tag '{tag}'",
                at(),
                wanted()
            ))
        })?;
        if kind.category != expected {
            return Err(ir_error(format!(
                "{} holds {}, got the {} node '{tag}'",
                at(),
                wanted(),
                kind.category.name()
            )));
        }
        let t = obj.cast::<PyTuple>()?.clone();
        if t.len() != kind.fields.len() + 1 {
            return Err(ir_error(format!(
                "{} node has {} fields, the schema says {} ({})",
                with_article(&format!("'{tag}'")),
                t.len() - 1,
                kind.fields.len(),
                kind.names
            )));
        }
        Ok(Node { t, kind })
    }

    fn place<'s>(&'s self, field: &'s str, item: Option<usize>) -> Place<'s> {
        Place {
            tag: &self.kind.tag,
            field,
            item,
        }
    }

    /// The value of field `name`, which the decoder reads as `wanted`: checks that the
    /// schema agrees, and that a plain value (or each item of a list of them) is one.
    pub(super) fn field(&self, name: &str, wanted: Field) -> PyResult<Bound<'py, PyAny>> {
        let kind = self.kind;
        let Some(i) = kind.fields.iter().position(|(n, _)| n == name) else {
            return Err(mismatch(format!(
                "the decoder reads field '{name}' of '{}', which has {}",
                kind.tag, kind.names
            )));
        };
        let declared = kind.fields[i].1;
        if declared != wanted {
            return Err(mismatch(format!(
                "'{}' field '{name}' is {} in the schema, the decoder reads {}",
                kind.tag,
                declared.describe(),
                wanted.describe()
            )));
        }
        let value = self.t.get_item(i + 1)?;
        let ok = match declared {
            Field::One(b) => b.is_node() || is_plain(&value, b),
            Field::Optional(b) => value.is_none() || b.is_node() || is_plain(&value, b),
            Field::List(b) => match value.cast::<PyList>() {
                Err(_) => false,
                Ok(items) if !b.is_node() => {
                    for (j, item) in items.iter().enumerate() {
                        if !is_plain(&item, b) {
                            return Err(ir_error(format!(
                                "{} is {}, got {}",
                                self.place(name, Some(j)),
                                Field::One(b).describe(),
                                got(&item)
                            )));
                        }
                    }
                    true
                }
                Ok(_) => true,
            },
        };
        if !ok {
            return Err(ir_error(format!(
                "{} holds {}, got {}",
                self.place(name, None),
                declared.describe(),
                got(&value)
            )));
        }
        Ok(value)
    }

    /// A context for an extraction that failed (an int too big for its field, say).
    pub(super) fn failed(&self, name: &str, e: PyErr) -> PyErr {
        let why = e.value(self.t.py()).to_string();
        ir_error(format!("{}: {why}", self.place(name, None)))
    }

    pub(super) fn span(&self) -> PyResult<Span> {
        let line = self.int("line")?;
        let col = self.int("col")?;
        Ok(Span { line, col })
    }

    pub(super) fn string(&self, name: &str) -> PyResult<String> {
        self.field(name, Field::One(Base::Str))?.extract()
    }

    pub(super) fn int<T: TryFrom<i64>>(&self, name: &str) -> PyResult<T> {
        let value = self.field(name, Field::One(Base::Int))?;
        let v: i64 = value.extract().map_err(|e| self.failed(name, e))?;
        T::try_from(v).map_err(|_| {
            ir_error(format!(
                "{} is out of range for {}: {v}",
                self.place(name, None),
                std::any::type_name::<T>()
            ))
        })
    }

    pub(super) fn float(&self, name: &str) -> PyResult<f64> {
        self.field(name, Field::One(Base::Float))?.extract()
    }

    pub(super) fn boolean(&self, name: &str) -> PyResult<bool> {
        self.field(name, Field::One(Base::Bool))?.extract()
    }

    pub(super) fn strs(&self, name: &str) -> PyResult<Vec<String>> {
        self.field(name, Field::List(Base::Str))?.extract()
    }

    pub(super) fn ty(&self, name: &str) -> PyResult<Type> {
        let value = self.field(name, Field::One(Base::Type))?;
        type_from_object(&value).map_err(|e| self.failed(name, e))
    }

    pub(super) fn opt_ty(&self, name: &str) -> PyResult<Option<Type>> {
        let value = self.field(name, Field::Optional(Base::Type))?;
        if value.is_none() {
            return Ok(None);
        }
        type_from_object(&value)
            .map(Some)
            .map_err(|e| self.failed(name, e))
    }

    /// The nodes of a list field, each checked as a node of `base` and decoded by `f`.
    pub(super) fn nodes<T>(
        &self,
        name: &str,
        base: Base,
        f: impl Fn(&Node<'py>) -> PyResult<T>,
    ) -> PyResult<Vec<T>> {
        let list = self.field(name, Field::List(base))?;
        let list = list.cast::<PyList>()?;
        list.iter()
            .enumerate()
            .map(|(j, item)| f(&Node::open(&item, base, Some(self.place(name, Some(j))))?))
            .collect()
    }

    pub(super) fn expr(&self, name: &str) -> PyResult<Expr> {
        let value = self.field(name, Field::One(Base::Expr))?;
        expr_from(&Node::open(
            &value,
            Base::Expr,
            Some(self.place(name, None)),
        )?)
    }

    pub(super) fn boxed(&self, name: &str) -> PyResult<Box<Expr>> {
        self.expr(name).map(Box::new)
    }

    pub(super) fn opt_expr(&self, name: &str) -> PyResult<Option<Expr>> {
        let value = self.field(name, Field::Optional(Base::Expr))?;
        if value.is_none() {
            return Ok(None);
        }
        Node::open(&value, Base::Expr, Some(self.place(name, None)))
            .and_then(|n| expr_from(&n))
            .map(Some)
    }

    pub(super) fn exprs(&self, name: &str) -> PyResult<Vec<Expr>> {
        self.nodes(name, Base::Expr, expr_from)
    }

    pub(super) fn stmts(&self, name: &str) -> PyResult<Vec<Stmt>> {
        self.nodes(name, Base::Stmt, stmt_from)
    }

    pub(super) fn callee(&self, name: &str) -> PyResult<Callee> {
        let value = self.field(name, Field::One(Base::Callee))?;
        let node = Node::open(&value, Base::Callee, Some(self.place(name, None)))?;
        match node.kind.decoder {
            Decoder::Callee(decode) => decode(&node),
            _ => Err(mismatch(format!(
                "'{}' is not decoded as a callee",
                node.kind.tag
            ))),
        }
    }

    /// An operator's text, looked up in `table`.
    pub(super) fn op<T: Copy>(&self, name: &str, base: Base, table: &[(&str, T)]) -> PyResult<T> {
        let text: String = self.field(name, Field::One(base))?.extract()?;
        op_named(&text, table).ok_or_else(|| self.unknown(name, &text, base.name()))
    }

    pub(super) fn unknown(&self, name: &str, text: &str, what: &str) -> PyErr {
        ir_error(format!(
            "{} is an unknown {what}: '{text}'",
            self.place(name, None)
        ))
    }
}

pub(super) fn op_named<T: Copy>(text: &str, table: &[(&str, T)]) -> Option<T> {
    table.iter().find(|(t, _)| *t == text).map(|(_, op)| *op)
}

/// Whether `value` is a plain (not node) value of kind `base`; an int field takes no bool.
fn is_plain(value: &Bound<'_, PyAny>, base: Base) -> bool {
    match base {
        Base::Str | Base::BinOp | Base::UnaryOp | Base::CmpOp => value.is_instance_of::<PyString>(),
        Base::Int => value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>(),
        Base::Float => value.is_instance_of::<PyFloat>(),
        Base::Bool => value.is_instance_of::<PyBool>(),
        Base::Callable => value.is_instance_of::<NativeCallable>(),
        // A Type or a type's text: `type_from_object` says what is wrong with either.
        Base::Type => true,
        _ => false,
    }
}
