//! Reading the frontend's kernel IR (nested tuples built by `python/nativecall/_jit.py`)
//! into [`crate::jit::ir`], checked against the one schema of the IR,
//! `nativecall._ir.SCHEMA`, with the nesting limit that keeps typing and code generation
//! from recursing without bound.
//!
//! The schema is read from Python once per process and checked against this decoder's own
//! tables (every node kind the schema names has a decoder here, and the operators agree).
//! Every node is then checked against it: its tag is a kind of the category its place
//! expects, it has the schema's number of fields, and each field the decoder reads (by
//! name) holds the schema's kind of value. Malformed IR is a `TypeError` saying which
//! field of which node was wrong; it never reaches typing.
//!
//! [`schema`] holds the schema as this decoder reads it, [`node`] the checked view of one
//! node that the decoders below read fields from by name.

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::jit::ir::{
    BinOp, Builtin, Callee, CmathFn, CmpOp, Expr, Function, MathFn, NativeTarget, NpFn, Number,
    Overloads, PythonVersion, Reduction, Stmt, UnaryOp,
};

use super::KernelCompileFailure;
use crate::capsule::callable::NativeCallable;

mod node;
mod schema;

use node::{ir_error, op_named, Node};
use schema::{mismatch, Base, Decode, Decoder, Field};

/// How deeply statements and expressions may nest in kernel IR. Typing and code
/// generation recurse over the tree, so a deeper one is refused here, as a compile error
/// at the statement or expression that goes too deep. The frontend refuses expressions
/// nested more than 100 levels before this (see docs/semantics.md), and Python refuses
/// more than 100 levels of indentation, so its IR stays below this.
const MAX_IR_DEPTH: usize = 250;

thread_local! {
    static IR_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One level of nesting while reading the IR; leaving it (even by an error) gives it back.
struct Nesting;

impl Nesting {
    fn enter(node: &Node<'_>) -> PyResult<Nesting> {
        let depth = IR_DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let level = Nesting;
        if depth > MAX_IR_DEPTH {
            let span = node.span().unwrap_or_default();
            return Err(KernelCompileFailure::new_err((
                "unsupported",
                format!("statements and expressions nest more than {MAX_IR_DEPTH} levels deep"),
                span.line,
                span.col,
            )));
        }
        Ok(level)
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        IR_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

pub(super) fn function_from(obj: &Bound<'_, PyAny>) -> PyResult<Function> {
    let n = Node::open(obj, Base::Function, None)?;
    let params = n.nodes("params", Base::Param, |p| {
        Ok((p.string("name")?, p.ty("type")?))
    })?;
    let natives = n.nodes("natives", Base::Overloads, overloads_from)?;
    // `math` follows the running interpreter's release where releases differ.
    let version = obj.py().version_info();
    Ok(Function {
        name: n.string("name")?,
        params,
        ret: n.opt_ty("ret")?,
        body: n.stmts("body")?,
        natives,
        boundscheck: n.boolean("boundscheck")?,
        fastmath: n.boolean("fastmath")?,
        python: PythonVersion::new(version.major, version.minor),
    })
}

fn overloads_from(n: &Node<'_>) -> PyResult<Overloads> {
    let targets = n.field("targets", Field::List(Base::Callable))?;
    let targets = targets
        .cast::<PyList>()?
        .iter()
        .map(|nc| {
            let kernel = nc
                .cast::<super::Kernel>()
                .ok()
                .map(|k| k.get().ir().clone());
            let nc = nc.cast::<NativeCallable>()?.get();
            Ok(NativeTarget {
                name: nc.name.clone(),
                address: nc.address,
                visible: (*nc.signature).clone(),
                raw: (*nc.raw_signature).clone(),
                hidden: nc.hidden_bits(),
                writes: nc.writes.clone(),
                kernel,
            })
        })
        .collect::<PyResult<_>>()?;
    Ok(Overloads {
        name: n.string("label")?,
        targets,
    })
}

fn stmt_from(n: &Node<'_>) -> PyResult<Stmt> {
    let _level = Nesting::enter(n)?;
    match n.kind.decoder {
        Decoder::Stmt(decode) => decode(n),
        _ => Err(mismatch(format!(
            "'{}' is not decoded as a statement",
            n.kind.tag
        ))),
    }
}

fn expr_from(n: &Node<'_>) -> PyResult<Expr> {
    let _level = Nesting::enter(n)?;
    match n.kind.decoder {
        Decoder::Expr(decode) => decode(n),
        _ => Err(mismatch(format!(
            "'{}' is not decoded as an expression",
            n.kind.tag
        ))),
    }
}

const STMTS: &[(&str, Decode<Stmt>)] = &[
    ("assign", |n| {
        Ok(Stmt::Assign(
            n.strs("targets")?,
            n.exprs("values")?,
            n.span()?,
        ))
    }),
    ("augassign", |n| {
        let op = n.op("op", Base::BinOp, BINOPS)?;
        Ok(Stmt::AugAssign(
            n.string("target")?,
            op,
            n.expr("value")?,
            n.span()?,
        ))
    }),
    ("store", |n| {
        Ok(Stmt::Store(
            n.expr("base")?,
            n.exprs("indices")?,
            n.expr("value")?,
            n.span()?,
        ))
    }),
    ("augstore", |n| {
        let op = n.op("op", Base::BinOp, BINOPS)?;
        Ok(Stmt::AugStore(
            n.expr("base")?,
            n.exprs("indices")?,
            op,
            n.expr("value")?,
            n.span()?,
        ))
    }),
    ("if", |n| {
        Ok(Stmt::If(
            n.expr("test")?,
            n.stmts("body")?,
            n.stmts("orelse")?,
            n.span()?,
        ))
    }),
    ("while", |n| {
        Ok(Stmt::While(
            n.expr("test")?,
            n.stmts("body")?,
            n.stmts("orelse")?,
            n.span()?,
        ))
    }),
    ("for", |n| {
        Ok(Stmt::For {
            var: n.string("var")?,
            start: n.expr("start")?,
            stop: n.expr("stop")?,
            step: n.expr("step")?,
            body: n.stmts("body")?,
            orelse: n.stmts("orelse")?,
            span: n.span()?,
        })
    }),
    ("break", |n| Ok(Stmt::Break(n.span()?))),
    ("continue", |n| Ok(Stmt::Continue(n.span()?))),
    ("return", |n| {
        Ok(Stmt::Return(n.opt_expr("value")?, n.span()?))
    }),
    ("expr_stmt", |n| Ok(Stmt::Expr(n.expr("value")?, n.span()?))),
    ("pass", |_| Ok(Stmt::Pass)),
];

const EXPRS: &[(&str, Decode<Expr>)] = &[
    ("int", |n| Ok(Expr::Int(n.int("value")?, n.span()?))),
    ("float", |n| Ok(Expr::Float(n.float("value")?, n.span()?))),
    ("complex", |n| {
        Ok(Expr::Complex(n.float("real")?, n.float("imag")?, n.span()?))
    }),
    ("bool", |n| Ok(Expr::Bool(n.boolean("value")?, n.span()?))),
    ("null", |n| Ok(Expr::Null(n.span()?))),
    ("name", |n| Ok(Expr::Name(n.string("id")?, n.span()?))),
    ("funcref", |n| Ok(Expr::FuncRef(n.int("index")?, n.span()?))),
    ("unary", |n| {
        let op = n.op("op", Base::UnaryOp, UNARYOPS)?;
        Ok(Expr::Unary(op, n.boxed("operand")?, n.span()?))
    }),
    ("binary", |n| {
        let op = n.op("op", Base::BinOp, BINOPS)?;
        Ok(Expr::Binary(
            op,
            n.boxed("left")?,
            n.boxed("right")?,
            n.span()?,
        ))
    }),
    ("compare", |n| {
        let ops = n
            .field("ops", Field::List(Base::CmpOp))?
            .extract::<Vec<String>>()?;
        let ops = ops
            .iter()
            .map(|text| op_named(text, CMPOPS).ok_or_else(|| n.unknown("ops", text, "cmpop")))
            .collect::<PyResult<Vec<_>>>()?;
        let comparators = n.exprs("comparators")?;
        if ops.len() != comparators.len() || ops.is_empty() {
            return Err(ir_error(format!(
                "a 'compare' node has {} ops and {} comparators (one or more, as many of each)",
                ops.len(),
                comparators.len()
            )));
        }
        Ok(Expr::Compare(
            n.boxed("left")?,
            ops.into_iter().zip(comparators).collect(),
            n.span()?,
        ))
    }),
    ("boolop", |n| {
        Ok(Expr::BoolOp(
            n.boolean("is_and")?,
            n.exprs("values")?,
            n.span()?,
        ))
    }),
    ("ifexp", |n| {
        Ok(Expr::IfExp(
            n.boxed("test")?,
            n.boxed("body")?,
            n.boxed("orelse")?,
            n.span()?,
        ))
    }),
    ("index", |n| {
        Ok(Expr::Index(
            n.boxed("base")?,
            n.exprs("indices")?,
            n.span()?,
        ))
    }),
    ("shape", |n| {
        Ok(Expr::Shape(n.boxed("array")?, n.int("dim")?, n.span()?))
    }),
    ("ndim", |n| Ok(Expr::Ndim(n.boxed("array")?, n.span()?))),
    ("view", |n| {
        Ok(Expr::View(
            n.boxed("ptr")?,
            n.exprs("shape")?,
            n.opt_ty("dtype")?,
            n.boolean("fortran")?,
            n.span()?,
        ))
    }),
    ("cast", |n| {
        Ok(Expr::Cast(n.boxed("value")?, n.ty("type")?, n.span()?))
    }),
    ("field", |n| {
        Ok(Expr::Field {
            base: n.boxed("base")?,
            index: n.boxed("index")?,
            stride: n.int("stride")?,
            offset: n.int("offset")?,
            ty: n.ty("type")?,
            span: n.span()?,
        })
    }),
    ("call", |n| {
        Ok(Expr::Call(n.callee("callee")?, n.exprs("args")?, n.span()?))
    }),
];

const CALLEES: &[(&str, Decode<Callee>)] = &[
    ("builtin", |n| {
        let name = n.string("name")?;
        op_named(&name, BUILTINS)
            .map(Callee::Builtin)
            .ok_or_else(|| n.unknown("name", &name, "builtin"))
    }),
    ("math", |n| {
        let name = n.string("name")?;
        MathFn::from_name(&name)
            .map(|f| Callee::Builtin(Builtin::Math(f)))
            .ok_or_else(|| n.unknown("name", &name, "math function"))
    }),
    ("numpy", |n| {
        let name = n.string("name")?;
        NpFn::from_name(&name)
            .map(|f| Callee::Builtin(Builtin::Numpy(f)))
            .ok_or_else(|| n.unknown("name", &name, "numpy function"))
    }),
    ("cmath", |n| {
        let name = n.string("name")?;
        let f =
            CmathFn::from_name(&name).ok_or_else(|| n.unknown("name", &name, "cmath function"))?;
        Ok(Callee::Builtin(Builtin::Cmath(f, n.boolean("numpy")?)))
    }),
    ("reduce", |n| {
        let name = n.string("name")?;
        Reduction::from_name(&name)
            .map(|f| Callee::Builtin(Builtin::Reduce(f)))
            .ok_or_else(|| n.unknown("name", &name, "numpy reduction"))
    }),
    ("scratch", |n| {
        let t = n.ty("dtype")?;
        let elem =
            Number::of(&t).ok_or_else(|| n.unknown("dtype", &t.to_string(), "number type"))?;
        Ok(Callee::Builtin(Builtin::Scratch {
            elem,
            zeroed: n.boolean("zeroed")?,
        }))
    }),
    ("native", |n| Ok(Callee::Native(n.int("index")?))),
    ("local", |n| Ok(Callee::Local(n.string("name")?))),
    ("self", |_| Ok(Callee::SelfCall)),
];

const BINOPS: &[(&str, BinOp)] = &[
    ("+", BinOp::Add),
    ("-", BinOp::Sub),
    ("*", BinOp::Mul),
    ("/", BinOp::Div),
    ("//", BinOp::FloorDiv),
    ("%", BinOp::Mod),
    ("**", BinOp::Pow),
    ("&", BinOp::BitAnd),
    ("|", BinOp::BitOr),
    ("^", BinOp::BitXor),
    ("<<", BinOp::LShift),
    (">>", BinOp::RShift),
];

const UNARYOPS: &[(&str, UnaryOp)] = &[
    ("-", UnaryOp::Neg),
    ("+", UnaryOp::Pos),
    ("not", UnaryOp::Not),
    ("~", UnaryOp::Invert),
];

const CMPOPS: &[(&str, CmpOp)] = &[
    ("==", CmpOp::Eq),
    ("!=", CmpOp::Ne),
    ("<", CmpOp::Lt),
    ("<=", CmpOp::Le),
    (">", CmpOp::Gt),
    (">=", CmpOp::Ge),
];

const BUILTINS: &[(&str, Builtin)] = &[
    ("abs", Builtin::Abs),
    ("min", Builtin::Min),
    ("max", Builtin::Max),
    ("int", Builtin::Int),
    ("float", Builtin::Float),
    ("bool", Builtin::Bool),
    ("len", Builtin::Len),
    ("complex", Builtin::Complex),
    ("real", Builtin::Real),
    ("imag", Builtin::Imag),
    ("conjugate", Builtin::Conj),
];
