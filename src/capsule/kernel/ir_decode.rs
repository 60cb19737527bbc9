//! Reading the frontend's kernel IR (nested tuples built by `python/nativecall/_jit.py`)
//! into [`crate::jit::ir`], with the nesting limit that keeps typing and code generation
//! from recursing without bound.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::jit::ir::{
    BinOp, Builtin, Callee, CmpOp, Expr, Function, MathFn, NativeTarget, Overloads, PythonVersion,
    Span, Stmt, UnaryOp,
};

use super::KernelCompileFailure;
use crate::capsule::callable::NativeCallable;
use crate::capsule::types::type_from_object;

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
    fn enter(t: &Bound<'_, PyTuple>) -> PyResult<Nesting> {
        let depth = IR_DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let level = Nesting;
        if depth > MAX_IR_DEPTH {
            let (line, col) = match t.len() >= 3 {
                true => span_at(t).map_or((0, 0), |s| (s.line, s.col)),
                false => (0, 0),
            };
            return Err(KernelCompileFailure::new_err((
                "unsupported",
                format!("statements and expressions nest more than {MAX_IR_DEPTH} levels deep"),
                line,
                col,
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

fn tuple<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> PyResult<&'a Bound<'py, PyTuple>> {
    obj.cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err(format!("kernel IR: expected a tuple, got {obj}")))
}

fn tag(t: &Bound<'_, PyTuple>) -> PyResult<String> {
    t.get_item(0)?.extract()
}

fn span_at(t: &Bound<'_, PyTuple>) -> PyResult<Span> {
    let n = t.len();
    Ok(Span {
        line: t.get_item(n - 2)?.extract()?,
        col: t.get_item(n - 1)?.extract()?,
    })
}

fn list<T>(
    obj: &Bound<'_, PyAny>,
    f: impl Fn(&Bound<'_, PyAny>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    let l = obj
        .cast::<PyList>()
        .map_err(|_| PyTypeError::new_err("kernel IR: expected a list"))?;
    l.iter().map(|x| f(&x)).collect()
}

pub(super) fn function_from(obj: &Bound<'_, PyAny>) -> PyResult<Function> {
    let t = tuple(obj)?;
    if tag(t)? != "function" {
        return Err(PyTypeError::new_err(
            "kernel IR: expected ('function', ...)",
        ));
    }
    let name: String = t.get_item(1)?.extract()?;
    let params = list(&t.get_item(2)?, |p| {
        let p = tuple(p)?;
        Ok((
            p.get_item(0)?.extract::<String>()?,
            type_from_object(&p.get_item(1)?)?,
        ))
    })?;
    let ret_obj = t.get_item(3)?;
    let ret = if ret_obj.is_none() {
        None
    } else {
        Some(type_from_object(&ret_obj)?)
    };
    let body = list(&t.get_item(4)?, stmt_from)?;
    let natives = list(&t.get_item(5)?, overloads_from)?;
    let boundscheck: bool = t.get_item(6)?.extract()?;
    // `math` follows the running interpreter's release where releases differ.
    let version = obj.py().version_info();
    Ok(Function {
        name,
        params,
        ret,
        body,
        natives,
        boundscheck,
        python: PythonVersion::new(version.major, version.minor),
    })
}

fn overloads_from(obj: &Bound<'_, PyAny>) -> PyResult<Overloads> {
    let t = tuple(obj)?;
    let name: String = t.get_item(0)?.extract()?;
    let targets = list(&t.get_item(1)?, |nc| {
        let nc = nc
            .cast::<NativeCallable>()
            .map_err(|_| PyTypeError::new_err("kernel IR: a callee must be a NativeCallable"))?;
        let nc = nc.get();
        Ok(NativeTarget {
            name: nc.name.clone(),
            address: nc.address,
            visible: (*nc.signature).clone(),
            raw: (*nc.raw_signature).clone(),
            hidden: nc.hidden_bits(),
            writes: nc.writes.clone(),
        })
    })?;
    Ok(Overloads { name, targets })
}

fn block_from(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Stmt>> {
    list(obj, stmt_from)
}

fn stmt_from(obj: &Bound<'_, PyAny>) -> PyResult<Stmt> {
    let t = tuple(obj)?;
    let _level = Nesting::enter(t)?;
    let g = |i: usize| t.get_item(i);
    Ok(match tag(t)?.as_str() {
        "assign" => Stmt::Assign(g(1)?.extract()?, list(&g(2)?, expr_from)?, span_at(t)?),
        "augassign" => Stmt::AugAssign(
            g(1)?.extract()?,
            binop(&g(2)?)?,
            expr_from(&g(3)?)?,
            span_at(t)?,
        ),
        "store" => Stmt::Store(
            expr_from(&g(1)?)?,
            list(&g(2)?, expr_from)?,
            expr_from(&g(3)?)?,
            span_at(t)?,
        ),
        "augstore" => Stmt::AugStore(
            expr_from(&g(1)?)?,
            list(&g(2)?, expr_from)?,
            binop(&g(3)?)?,
            expr_from(&g(4)?)?,
            span_at(t)?,
        ),
        "if" => Stmt::If(
            expr_from(&g(1)?)?,
            block_from(&g(2)?)?,
            block_from(&g(3)?)?,
            span_at(t)?,
        ),
        "while" => Stmt::While(
            expr_from(&g(1)?)?,
            block_from(&g(2)?)?,
            block_from(&g(3)?)?,
            span_at(t)?,
        ),
        "for" => Stmt::For {
            var: g(1)?.extract()?,
            start: expr_from(&g(2)?)?,
            stop: expr_from(&g(3)?)?,
            step: expr_from(&g(4)?)?,
            body: block_from(&g(5)?)?,
            orelse: block_from(&g(6)?)?,
            span: span_at(t)?,
        },
        "break" => Stmt::Break(span_at(t)?),
        "continue" => Stmt::Continue(span_at(t)?),
        "return" => {
            let v = g(1)?;
            Stmt::Return(
                if v.is_none() {
                    None
                } else {
                    Some(expr_from(&v)?)
                },
                span_at(t)?,
            )
        }
        "expr" => Stmt::Expr(expr_from(&g(1)?)?, span_at(t)?),
        "pass" => Stmt::Pass,
        other => {
            return Err(PyTypeError::new_err(format!(
                "kernel IR: unknown statement '{other}'"
            )))
        }
    })
}

fn binop(obj: &Bound<'_, PyAny>) -> PyResult<BinOp> {
    let s: String = obj.extract()?;
    Ok(match s.as_str() {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "//" => BinOp::FloorDiv,
        "%" => BinOp::Mod,
        "**" => BinOp::Pow,
        "&" => BinOp::BitAnd,
        "|" => BinOp::BitOr,
        "^" => BinOp::BitXor,
        "<<" => BinOp::LShift,
        ">>" => BinOp::RShift,
        other => {
            return Err(PyTypeError::new_err(format!(
                "kernel IR: unknown operator '{other}'"
            )))
        }
    })
}

fn cmpop(obj: &Bound<'_, PyAny>) -> PyResult<CmpOp> {
    let s: String = obj.extract()?;
    Ok(match s.as_str() {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        other => {
            return Err(PyTypeError::new_err(format!(
                "kernel IR: unknown comparison '{other}'"
            )))
        }
    })
}

fn expr_from(obj: &Bound<'_, PyAny>) -> PyResult<Expr> {
    let t = tuple(obj)?;
    let _level = Nesting::enter(t)?;
    let g = |i: usize| t.get_item(i);
    let span = span_at(t)?;
    let bx = |i: usize| -> PyResult<Box<Expr>> { Ok(Box::new(expr_from(&g(i)?)?)) };
    Ok(match tag(t)?.as_str() {
        "int" => Expr::Int(g(1)?.extract()?, span),
        "float" => Expr::Float(g(1)?.extract()?, span),
        "bool" => Expr::Bool(g(1)?.extract()?, span),
        "null" => Expr::Null(span),
        "name" => Expr::Name(g(1)?.extract()?, span),
        "funcref" => Expr::FuncRef(g(1)?.extract()?, span),
        "unary" => {
            let op = match g(1)?.extract::<String>()?.as_str() {
                "-" => UnaryOp::Neg,
                "+" => UnaryOp::Pos,
                "not" => UnaryOp::Not,
                "~" => UnaryOp::Invert,
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "kernel IR: unknown unary '{other}'"
                    )))
                }
            };
            Expr::Unary(op, bx(2)?, span)
        }
        "binary" => Expr::Binary(binop(&g(1)?)?, bx(2)?, bx(3)?, span),
        "compare" => {
            let rest = list(&g(2)?, |pair| {
                let p = tuple(pair)?;
                Ok((cmpop(&p.get_item(0)?)?, expr_from(&p.get_item(1)?)?))
            })?;
            Expr::Compare(bx(1)?, rest, span)
        }
        "boolop" => Expr::BoolOp(g(1)?.extract()?, list(&g(2)?, expr_from)?, span),
        "ifexp" => Expr::IfExp(bx(1)?, bx(2)?, bx(3)?, span),
        "index" => Expr::Index(bx(1)?, list(&g(2)?, expr_from)?, span),
        "shape" => Expr::Shape(bx(1)?, g(2)?.extract()?, span),
        "ndim" => Expr::Ndim(bx(1)?, span),
        "call" => {
            let c = tuple(&g(1)?)?.clone();
            let callee = match tag(&c)?.as_str() {
                "builtin" => Callee::Builtin(match c.get_item(1)?.extract::<String>()?.as_str() {
                    "abs" => Builtin::Abs,
                    "min" => Builtin::Min,
                    "max" => Builtin::Max,
                    "int" => Builtin::Int,
                    "float" => Builtin::Float,
                    "bool" => Builtin::Bool,
                    "len" => Builtin::Len,
                    other => {
                        return Err(PyTypeError::new_err(format!(
                            "kernel IR: unknown builtin '{other}'"
                        )))
                    }
                }),
                "math" => {
                    let n: String = c.get_item(1)?.extract()?;
                    Callee::Builtin(Builtin::Math(
                        MathFn::from_name(&n)
                            .ok_or_else(|| PyTypeError::new_err(format!("kernel IR: math.{n}")))?,
                    ))
                }
                "native" => Callee::Native(c.get_item(1)?.extract()?),
                "local" => Callee::Local(c.get_item(1)?.extract()?),
                "self" => Callee::SelfCall,
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "kernel IR: unknown callee '{other}'"
                    )))
                }
            };
            Expr::Call(callee, list(&g(2)?, expr_from)?, span)
        }
        other => {
            return Err(PyTypeError::new_err(format!(
                "kernel IR: unknown expression '{other}'"
            )))
        }
    })
}
