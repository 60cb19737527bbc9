//! The first pass: every local's type, iterated to a fixed point; and which arrays a kernel writes.

use std::collections::{HashMap, HashSet};

use crate::abi::Type;

use super::*;
use crate::jit::ir::{Callee, Expr, Function, Span, Stmt};

impl Typer<'_> {
    pub(super) fn var(&self, name: &str, span: Span) -> R<Option<Type>> {
        match self.vars.get(name) {
            Some(t) => Ok(Some(t.clone())),
            None if self.assigned_anywhere(name) => Ok(None),
            None => Err(CompileError {
                kind: ErrorKind::Name,
                message: format!("name '{name}' is not defined"),
                span,
                arg_types: Vec::new(),
            }),
        }
    }

    pub(super) fn assigned_anywhere(&self, name: &str) -> bool {
        fn walk(b: &[Stmt], name: &str) -> bool {
            b.iter().any(|s| match s {
                Stmt::Assign(ns, _, _) => ns.iter().any(|n| n == name),
                Stmt::AugAssign(n, _, _, _) => n == name,
                Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => walk(a, name) || walk(b, name),
                Stmt::For {
                    var, body, orelse, ..
                } => var == name || walk(body, name) || walk(orelse, name),
                _ => false,
            })
        }
        walk(&self.f.body, name)
    }

    pub(super) fn bind(&mut self, name: &str, t: Type, span: Span) -> R<()> {
        if t == Type::Void {
            return Err(CompileError::typing(
                span,
                format!("cannot assign a void result to '{name}'"),
            ));
        }
        if self.params.contains(name) {
            let p = &self.vars[name];
            if !convertible(&t, p) {
                return Err(CompileError::typing(
                    span,
                    format!(
                        "parameter '{name}' is {}, and a {} cannot be assigned to it",
                        kernel_type_name(p),
                        kernel_type_name(&t)
                    ),
                ));
            }
            return Ok(());
        }
        let new = match self.vars.get(name) {
            None => t,
            Some(old) => unify(old, &t).ok_or_else(|| {
                CompileError::typing(
                    span,
                    format!(
                        "variable '{name}' holds {} but is assigned {} here; a variable has one type",
                        kernel_type_name(old),
                        kernel_type_name(&t)
                    ),
                )
            })?,
        };
        if !self.vars.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.vars.insert(name.to_string(), new);
        Ok(())
    }

    pub(super) fn infer_block(&mut self, body: &[Stmt]) -> R<()> {
        for s in body {
            match s {
                Stmt::Assign(names, values, span) => {
                    for (n, v) in names.iter().zip(values) {
                        if let Some(t) = self.expr(v)? {
                            self.bind(n, t, *span)?;
                        }
                    }
                }
                Stmt::AugAssign(n, op, v, span) => {
                    if let (Some(a), Some(b)) = (self.var(n, *span)?, self.expr(v)?) {
                        let t = binary_type(*op, &a, &b, *span)?;
                        self.bind(n, t, *span)?;
                    }
                }
                Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => {
                    self.infer_block(a)?;
                    self.infer_block(b)?;
                }
                Stmt::For {
                    var,
                    start,
                    stop,
                    step,
                    body,
                    orelse,
                    span,
                } => {
                    let mut t = None;
                    for e in [start, stop, step] {
                        match self.expr(e)? {
                            Some(x) if is_int(&x) || x == Type::Bool => {
                                t = Some(match t {
                                    None => bool_as_int(&x),
                                    Some(p) => promote(&p, &x).unwrap_or(I64),
                                })
                            }
                            Some(x) => {
                                return Err(CompileError::typing(
                                    e.span(),
                                    format!(
                                        "range() arguments must be integers, got {}",
                                        kernel_type_name(&x)
                                    ),
                                ))
                            }
                            None => {}
                        }
                    }
                    if let Some(t) = t {
                        self.bind(var, t, *span)?;
                    }
                    self.infer_block(body)?;
                    self.infer_block(orelse)?;
                }
                Stmt::Return(Some(e), span) => {
                    if let Some(t) = self.expr(e)? {
                        if !self.ret_declared {
                            self.ret = Some(match &self.ret {
                                None => t,
                                Some(old) => unify(old, &t).ok_or_else(|| {
                                    CompileError::typing(
                                        *span,
                                        format!(
                                            "this returns {} but another return gives {}",
                                            kernel_type_name(&t),
                                            kernel_type_name(old)
                                        ),
                                    )
                                })?,
                            });
                        }
                    }
                }
                Stmt::Return(None, _) => self.saw_bare_return = true,
                _ => {}
            }
        }
        Ok(())
    }
}

/// The names whose array memory the kernel writes: stored into, or passed to a callee
/// that writes that parameter (a callee's writes are the caller's; one whose writes are
/// unknown counts as writing every array it is given). Arrays are parameters only, so
/// no local aliases one.
pub(super) fn written_names(f: &Function, vars: &HashMap<String, Type>) -> HashSet<String> {
    let mut w = Writes {
        f,
        vars,
        out: HashSet::new(),
    };
    // Recursive calls write what the kernel writes, so repeat until nothing changes.
    loop {
        let before = w.out.len();
        w.block(&f.body);
        if w.out.len() == before {
            return w.out;
        }
    }
}

struct Writes<'a> {
    f: &'a Function,
    vars: &'a HashMap<String, Type>,
    out: HashSet<String>,
}

impl Writes<'_> {
    /// The array variables `e` may evaluate to.
    pub(super) fn arrays(&self, e: &Expr, into: &mut Vec<String>) {
        match e {
            Expr::Name(n, _) if matches!(self.vars.get(n), Some(Type::Array { .. })) => {
                into.push(n.clone())
            }
            Expr::IfExp(_, a, b, _) => {
                self.arrays(a, into);
                self.arrays(b, into);
            }
            _ => {}
        }
    }

    /// Whether `callee` may write the array passed at visible position `k`.
    pub(super) fn callee_writes(&self, callee: &Callee, k: usize) -> bool {
        match callee {
            Callee::Builtin(_) => false,
            Callee::Local(_) => true,
            Callee::SelfCall => self
                .f
                .params
                .get(k)
                .is_some_and(|(n, _)| self.out.contains(n)),
            Callee::Native(i) => self.f.natives[*i].targets.iter().any(|t| {
                let takes_array = t.visible.arg_types().nth(k).is_some_and(|p| {
                    matches!(p, Type::Array { .. })
                        || matches!(p, Type::Pointer { pointee, .. } if **pointee == Type::DLTensor)
                });
                takes_array
                    && t.writes
                        .as_ref()
                        .is_none_or(|w| w.get(k).copied().unwrap_or(true))
            }),
        }
    }

    pub(super) fn block(&mut self, body: &[Stmt]) {
        for s in body {
            self.stmt(s);
        }
    }

    pub(super) fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Assign(_, values, _) => values.iter().for_each(|e| self.expr(e)),
            Stmt::AugAssign(_, _, e, _) | Stmt::Expr(e, _) | Stmt::Return(Some(e), _) => {
                self.expr(e)
            }
            Stmt::Store(target, index, value, _) | Stmt::AugStore(target, index, _, value, _) => {
                let mut stored = Vec::new();
                self.arrays(target, &mut stored);
                self.out.extend(stored);
                self.expr(target);
                index.iter().for_each(|e| self.expr(e));
                self.expr(value);
            }
            Stmt::If(test, a, b, _) | Stmt::While(test, a, b, _) => {
                self.expr(test);
                self.block(a);
                self.block(b);
            }
            Stmt::For {
                start,
                stop,
                step,
                body,
                orelse,
                ..
            } => {
                self.expr(start);
                self.expr(stop);
                self.expr(step);
                self.block(body);
                self.block(orelse);
            }
            Stmt::Break(_) | Stmt::Continue(_) | Stmt::Return(None, _) | Stmt::Pass => {}
        }
    }

    pub(super) fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Call(callee, args, _) => {
                for (k, a) in args.iter().enumerate() {
                    if self.callee_writes(callee, k) {
                        let mut passed = Vec::new();
                        self.arrays(a, &mut passed);
                        self.out.extend(passed);
                    }
                    self.expr(a);
                }
            }
            Expr::Unary(_, a, _)
            | Expr::Shape(a, _, _)
            | Expr::Ndim(a, _)
            | Expr::Cast(a, _, _) => self.expr(a),
            Expr::Field { base, index, .. } => {
                self.expr(base);
                self.expr(index);
            }
            Expr::View(p, shape, _, _, _) => {
                self.expr(p);
                shape.iter().for_each(|e| self.expr(e));
            }
            Expr::Binary(_, a, b, _) => {
                self.expr(a);
                self.expr(b);
            }
            Expr::Compare(a, rest, _) => {
                self.expr(a);
                rest.iter().for_each(|(_, e)| self.expr(e));
            }
            Expr::BoolOp(_, items, _) => items.iter().for_each(|e| self.expr(e)),
            Expr::IfExp(t, a, b, _) => {
                self.expr(t);
                self.expr(a);
                self.expr(b);
            }
            Expr::Index(a, index, _) => {
                self.expr(a);
                index.iter().for_each(|e| self.expr(e));
            }
            Expr::Int(..)
            | Expr::Float(..)
            | Expr::Complex(..)
            | Expr::Bool(..)
            | Expr::Null(_)
            | Expr::Name(..)
            | Expr::FuncRef(..) => {}
        }
    }
}
