//! Builders of kernel IR shared by the Rust test files (`mod common;` in each). Not every
//! file uses every builder, hence `dead_code` is allowed here.
#![allow(dead_code)]

use std::sync::Arc;

use nativecall::abi::{IntType, Type};
use nativecall::jit::ir::{
    BinOp, Builtin, Callee, Expr, Function, NativeTarget, Overloads, PythonVersion, Span, Stmt,
};
use nativecall::jit::{compile, Compiled};

/// `int64`.
pub const I64: Type = Type::Int(IntType::I64);

/// A source position on `line`.
pub fn sp(line: u32) -> Span {
    Span { line, col: 4 }
}
/// A name.
pub fn name(n: &str) -> Expr {
    Expr::Name(n.into(), sp(1))
}
/// An int literal.
pub fn int(v: i64) -> Expr {
    Expr::Int(v, sp(1))
}
/// `a op b`.
pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::Binary(op, Box::new(a), Box::new(b), sp(1))
}
/// A call of builtin `b`.
pub fn builtin(b: Builtin, args: Vec<Expr>) -> Expr {
    Expr::Call(Callee::Builtin(b), args, sp(1))
}
/// `a[idx...]`.
pub fn index(a: &str, idx: Vec<Expr>) -> Expr {
    Expr::Index(Box::new(name(a)), idx, sp(1))
}
/// `return e`.
pub fn ret(e: Expr) -> Stmt {
    Stmt::Return(Some(e), sp(2))
}
/// A kernel named `fname`, with no native callees, no bounds checks, typed as CPython 3.12.
pub fn kernel(
    fname: &str,
    params: &[(&str, Type)],
    ret_ty: Option<Type>,
    body: Vec<Stmt>,
) -> Function {
    Function {
        name: fname.into(),
        params: params
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect(),
        ret: ret_ty,
        body,
        natives: vec![],
        boundscheck: false,
        fastmath: false,
        python: PythonVersion::new(3, 12),
    }
}
/// [`kernel`] named `k`.
pub fn func(params: &[(&str, Type)], ret_ty: Option<Type>, body: Vec<Stmt>) -> Function {
    kernel("k", params, ret_ty, body)
}

/// `s = 0; for i in range(a, b, step): s += i * i; return s`, named `fname`.
pub fn sum_squares(fname: &str) -> Function {
    kernel(
        fname,
        &[("a", I64), ("b", I64), ("step", I64)],
        Some(I64),
        vec![
            Stmt::Assign(vec!["s".into()], vec![int(0)], sp(2)),
            Stmt::For {
                var: "i".into(),
                start: name("a"),
                stop: name("b"),
                step: name("step"),
                body: vec![Stmt::AugAssign(
                    "s".into(),
                    BinOp::Add,
                    bin(BinOp::Mul, name("i"), name("i")),
                    sp(4),
                )],
                orelse: vec![],
                span: sp(3),
            },
            ret(name("s")),
        ],
    )
}

/// `callee` compiled, and the native callee a kernel's `natives` lists for it (with its
/// IR, as the frontend gives a kernel): keep the `Compiled` alive while its code is used.
pub fn kernel_callee(callee: Function) -> (Overloads, Compiled) {
    let compiled = compile(&callee).expect("the callee compiles");
    let target = NativeTarget {
        name: callee.name.clone(),
        address: compiled.address,
        visible: compiled.signature.clone(),
        raw: compiled.signature.clone(),
        hidden: vec![],
        writes: Some(
            callee
                .params
                .iter()
                .map(|(n, _)| compiled.types.written.contains(n))
                .collect(),
        ),
        kernel: Some(Arc::new(callee)),
    };
    let overloads = Overloads {
        name: target.name.clone(),
        targets: vec![target],
    };
    (overloads, compiled)
}

/// A call of `natives[i]`.
pub fn call_native(i: usize, args: Vec<Expr>) -> Expr {
    Expr::Call(Callee::Native(i), args, sp(1))
}
