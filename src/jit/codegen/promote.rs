//! Scalar replacement: a `for` loop that accumulates into one element of a pointer
//! (`result[0] += v`, scipy's `generic_filter` tutorial) keeps that element in a variable
//! for the loop and stores it once after, instead of a load and a store per iteration.
//!
//! That is only sound if nothing else in the loop reads or writes the element's memory.
//! The loop may store through nothing else and call nothing but builtins; each other read
//! is `q[var + c]` (`q` a pointer or 1-D array the loop does not assign), whose addresses
//! over the loop's range are an interval known at entry. The loop is generated twice: the
//! version with the element in a variable runs when the loop runs at least once (the
//! original then stores the element, so storing it after is no new write) and the element
//! lies outside every interval it reads; otherwise the original loop runs.

use std::collections::HashSet;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value};

use crate::abi::Type;

use super::array::{split_constant, split_loop_var};
use super::stmt::assigns;
use super::*;
use crate::jit::ir::{BinOp, Builtin, Callee, Expr, Stmt};
use crate::jit::typing::{is_numeric, Typer, Types, I64};

/// What a loop's scalar replacement needs: the pointer `target` and the constant index of
/// the element kept in a variable, and each other read as (base name, smallest and largest
/// constant added to the loop variable).
struct Plan {
    target: String,
    index: i64,
    elem: Type,
    reads: Vec<(String, i64, i64)>,
}

impl Gen<'_, '_> {
    /// Generate `for var in range(start, stop, step): body` with its accumulated pointer
    /// element in a variable (see the module's documentation), if the loop qualifies;
    /// `false` if it does not (nothing generated).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn promoted_loop(
        &mut self,
        var: &str,
        start: &Expr,
        stop: &Expr,
        step: &Expr,
        body: &[Stmt],
        orelse: &[Stmt],
    ) -> R<bool> {
        let Some(plan) = self.plan(var, start, stop, step, body, orelse) else {
            return Ok(false);
        };
        let name = format!("$promoted{}", self.promoted);
        self.promoted += 1;
        let rewritten: Vec<Stmt> = body.iter().map(|s| rewrite_stmt(s, &plan, &name)).collect();
        let elem_var = self.b.declare_var(clif(&plan.elem));
        self.vars
            .insert(name.clone(), (vec![elem_var], plan.elem.clone()));

        // The entry check: the loop runs, and the element is outside what it reads.
        let first = self.expr_as(start, &I64)?;
        let end = self.expr_as(stop, &I64)?;
        let runs = self.b.ins().icmp(IntCC::SignedLessThan, first, end);
        let last = self.b.ins().iadd_imm_s(end, -1);
        let target = Expr::Name(plan.target.clone(), start.span());
        let index = Expr::Int(plan.index, start.span());
        let (addr, _) = self.element_address(&target, std::slice::from_ref(&index))?;
        let size = plan.elem.size().expect("a number") as i64;
        let addr_end = self.b.ins().iadd_imm_s(addr, size);
        let mut ok = runs;
        for (q, lo, hi) in &plan.reads {
            let (base, bstride, qsize) = match self.read(q) {
                (KValue::Array(view), _) => {
                    let qsize = view.dtype.size().expect("a number") as i64;
                    let bs = self.b.ins().imul_imm_s(view.strides[0], qsize);
                    (view.data, bs, qsize)
                }
                (v, t) => {
                    let qsize = t.pointee().and_then(Type::size).expect("typed: a pointer") as i64;
                    let bs = self.iconst(clt::I64, qsize);
                    (v.single(), bs, qsize)
                }
            };
            let at = |g: &mut Self, k: Value, c: i64| {
                let k = g.b.ins().iadd_imm_s(k, c);
                let off = g.b.ins().imul(k, bstride);
                g.b.ins().iadd(base, off)
            };
            let (a, b) = (at(self, first, *lo), at(self, last, *hi));
            let below = self.b.ins().icmp(IntCC::UnsignedLessThan, a, b);
            let low = self.b.ins().select(below, a, b);
            let high = self.b.ins().select(below, b, a);
            let high = self.b.ins().iadd_imm_s(high, qsize);
            let before = self
                .b
                .ins()
                .icmp(IntCC::UnsignedLessThanOrEqual, addr_end, low);
            let after = self
                .b
                .ins()
                .icmp(IntCC::UnsignedGreaterThanOrEqual, addr, high);
            let apart = self.b.ins().bor(before, after);
            ok = self.b.ins().band(ok, apart);
        }
        let (fast, slow, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(ok, fast, &[], slow, &[]);
        self.b.seal_block(fast);
        self.b.seal_block(slow);

        self.b.switch_to_block(fast);
        let flags = MemFlagsData::new();
        let v = self.b.ins().load(clif(&plan.elem), flags, addr, 0);
        self.b.def_var(elem_var, v);
        let types = Types {
            vars: self
                .vars
                .iter()
                .map(|(n, (_, t))| (n.clone(), t.clone()))
                .collect(),
            ret: self.ret.clone(),
            order: Vec::new(),
            written: HashSet::new(),
        };
        let outer = std::mem::replace(&mut self.typer, Typer::with_types(self.f, &types));
        let done = self.for_range(var, start, stop, step, &rewritten, &[]);
        self.typer = outer;
        done?;
        let reached = !self.terminated;
        if reached {
            let v = self.b.use_var(elem_var);
            self.b.ins().store(flags, v, addr, 0);
            self.b.ins().jump(join, &[]);
        }

        self.terminated = false;
        self.b.switch_to_block(slow);
        self.for_range(var, start, stop, step, body, orelse)?;
        let reached = reached | !self.terminated;
        if !self.terminated {
            self.b.ins().jump(join, &[]);
        }
        self.resume_at(join, reached);
        Ok(true)
    }

    /// The [`Plan`] of a loop that qualifies for scalar replacement.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        var: &str,
        start: &Expr,
        stop: &Expr,
        step: &Expr,
        body: &[Stmt],
        orelse: &[Stmt],
    ) -> Option<Plan> {
        // With bounds checks an index error leaves the loop early, before the store after it.
        if self.f.boundscheck
            || !orelse.is_empty()
            || !matches!(step, Expr::Int(1, _))
            || self.vars.get(var).map(|(_, t)| t) != Some(&I64)
            || assigns(body, var)
            || !pure(start)
            || !pure(stop)
        {
            return None;
        }
        // The element: stored into by a statement of the body itself (so each run of the
        // loop writes it), through a pointer at a constant index.
        let (target, index) = body.iter().find_map(|s| match s {
            Stmt::Store(Expr::Name(p, _), idx, _, _)
            | Stmt::AugStore(Expr::Name(p, _), idx, ..) => match idx.as_slice() {
                [Expr::Int(c, _)] => Some((p.clone(), *c)),
                _ => None,
            },
            _ => None,
        })?;
        let elem = match self.vars.get(&target).map(|(_, t)| t) {
            Some(Type::Pointer { pointee, .. }) if is_numeric(pointee) => (**pointee).clone(),
            _ => return None,
        };
        let mut plan = Plan {
            target,
            index,
            elem,
            reads: Vec::new(),
        };
        let start_bound = self.lower_bound(start);
        let mut walk = Walk {
            g: self,
            var,
            plan: &mut plan,
            start_bound,
        };
        if !walk.block(body) {
            return None;
        }
        let mut names = vec![plan.target.as_str()];
        names.extend(plan.reads.iter().map(|(q, _, _)| q.as_str()));
        if names.iter().any(|n| assigns(body, n)) {
            return None;
        }
        Some(plan)
    }
}

/// Whether evaluating `e` twice is the same as once (no calls, no memory reads).
fn pure(e: &Expr) -> bool {
    match e {
        Expr::Int(..) | Expr::Name(..) | Expr::Shape(..) => true,
        Expr::Call(Callee::Builtin(crate::jit::ir::Builtin::Len), a, _) => a.iter().all(pure),
        Expr::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul, a, b, _) => pure(a) && pure(b),
        _ => false,
    }
}

/// The check of a loop body for its [`Plan`]: every read and write it makes.
struct Walk<'p, 'g, 'a, 'b> {
    g: &'g Gen<'a, 'b>,
    var: &'p str,
    plan: &'p mut Plan,
    start_bound: Option<i128>,
}

impl Walk<'_, '_, '_, '_> {
    fn block(&mut self, body: &[Stmt]) -> bool {
        body.iter().all(|s| self.stmt(s))
    }

    fn stmt(&mut self, s: &Stmt) -> bool {
        match s {
            Stmt::Store(p, idx, v, _) | Stmt::AugStore(p, idx, _, v, _) => {
                self.is_element(p, idx) && self.expr(v)
            }
            Stmt::Return(..) => false,
            _ => {
                s.exprs().into_iter().all(|e| self.expr(e))
                    && s.blocks().into_iter().all(|b| self.block(b))
            }
        }
    }

    /// Whether `p[idx]` is the element kept in a variable.
    fn is_element(&self, p: &Expr, idx: &[Expr]) -> bool {
        matches!((p, idx), (Expr::Name(n, _), [Expr::Int(c, _)])
            if *n == self.plan.target && *c == self.plan.index)
    }

    fn expr(&mut self, e: &Expr) -> bool {
        match e {
            Expr::Index(p, idx, _) => self.is_element(p, idx) || self.read(p, idx),
            // A reduction reads a whole array and a record field memory this plan does not
            // bound; calls and views may read anything.
            Expr::Call(Callee::Builtin(b), ..) if !matches!(b, Builtin::Reduce(_)) => {
                e.children().into_iter().all(|c| self.expr(c))
            }
            Expr::Call(..) | Expr::View(..) | Expr::Field { .. } => false,
            _ => e.children().into_iter().all(|c| self.expr(c)),
        }
    }

    /// Record the read `q[var + c]` of a pointer or 1-D array other than the target;
    /// `false` for any other read.
    fn read(&mut self, p: &Expr, idx: &[Expr]) -> bool {
        let (Expr::Name(q, _), [i]) = (p, idx) else {
            return false;
        };
        let (Some(v), c) = split_constant(i) else {
            return false;
        };
        if *q == self.plan.target || !matches!(split_loop_var(v, self.var), Some(None)) {
            return false;
        }
        match self.g.vars.get(q).map(|(_, t)| t) {
            Some(Type::Pointer { .. }) => {}
            // An array index must be known non-negative (no wrap-around from the end).
            Some(Type::Array { ndim: 1, .. })
                if self.start_bound.is_some_and(|lb| lb + c as i128 >= 0) => {}
            _ => return false,
        }
        match self.plan.reads.iter_mut().find(|(n, _, _)| n == q) {
            Some((_, lo, hi)) => {
                *lo = (*lo).min(c);
                *hi = (*hi).max(c);
            }
            None => self.plan.reads.push((q.clone(), c, c)),
        }
        true
    }
}

/// `s` with every access of the plan's element replaced by the local `name`.
fn rewrite_stmt(s: &Stmt, plan: &Plan, name: &str) -> Stmt {
    let e = |x: &Expr| rewrite_expr(x, plan, name);
    let block = |b: &[Stmt]| b.iter().map(|s| rewrite_stmt(s, plan, name)).collect();
    let element = |p: &Expr, idx: &[Expr]| {
        matches!((p, idx), (Expr::Name(n, _), [Expr::Int(c, _)])
            if *n == plan.target && *c == plan.index)
    };
    match s {
        Stmt::Store(p, idx, v, sp) if element(p, idx) => {
            Stmt::Assign(vec![name.to_string()], vec![e(v)], *sp)
        }
        Stmt::AugStore(p, idx, op, v, sp) if element(p, idx) => {
            Stmt::AugAssign(name.to_string(), *op, e(v), *sp)
        }
        Stmt::Assign(n, es, sp) => Stmt::Assign(n.clone(), es.iter().map(e).collect(), *sp),
        Stmt::AugAssign(n, op, v, sp) => Stmt::AugAssign(n.clone(), *op, e(v), *sp),
        Stmt::Store(p, idx, v, sp) => Stmt::Store(e(p), idx.iter().map(e).collect(), e(v), *sp),
        Stmt::AugStore(p, idx, op, v, sp) => {
            Stmt::AugStore(e(p), idx.iter().map(e).collect(), *op, e(v), *sp)
        }
        Stmt::If(c, a, b, sp) => Stmt::If(e(c), block(a), block(b), *sp),
        Stmt::While(c, a, b, sp) => Stmt::While(e(c), block(a), block(b), *sp),
        Stmt::For {
            var,
            start,
            stop,
            step,
            body,
            orelse,
            span,
        } => Stmt::For {
            var: var.clone(),
            start: e(start),
            stop: e(stop),
            step: e(step),
            body: block(body),
            orelse: block(orelse),
            span: *span,
        },
        Stmt::Expr(x, sp) => Stmt::Expr(e(x), *sp),
        Stmt::Return(x, sp) => Stmt::Return(x.as_ref().map(e), *sp),
        Stmt::Break(sp) => Stmt::Break(*sp),
        Stmt::Continue(sp) => Stmt::Continue(*sp),
        Stmt::Pass => Stmt::Pass,
    }
}

/// `x` with every read of the plan's element replaced by the local `name`.
fn rewrite_expr(x: &Expr, plan: &Plan, name: &str) -> Expr {
    let e = |x: &Expr| Box::new(rewrite_expr(x, plan, name));
    let all = |xs: &[Expr]| xs.iter().map(|x| rewrite_expr(x, plan, name)).collect();
    match x {
        Expr::Index(p, idx, sp) => match (&**p, idx.as_slice()) {
            (Expr::Name(n, _), [Expr::Int(c, _)]) if *n == plan.target && *c == plan.index => {
                Expr::Name(name.to_string(), *sp)
            }
            _ => Expr::Index(e(p), all(idx), *sp),
        },
        Expr::Unary(op, a, sp) => Expr::Unary(*op, e(a), *sp),
        Expr::Binary(op, a, b, sp) => Expr::Binary(*op, e(a), e(b), *sp),
        Expr::Compare(a, rest, sp) => Expr::Compare(
            e(a),
            rest.iter()
                .map(|(op, x)| (*op, rewrite_expr(x, plan, name)))
                .collect(),
            *sp,
        ),
        Expr::BoolOp(and, es, sp) => Expr::BoolOp(*and, all(es), *sp),
        Expr::IfExp(c, a, b, sp) => Expr::IfExp(e(c), e(a), e(b), *sp),
        Expr::Call(callee, a, sp) => Expr::Call(callee.clone(), all(a), *sp),
        Expr::Shape(a, k, sp) => Expr::Shape(e(a), *k, *sp),
        Expr::Ndim(a, sp) => Expr::Ndim(e(a), *sp),
        Expr::Cast(a, t, sp) => Expr::Cast(e(a), t.clone(), *sp),
        Expr::View(p, shape, t, f, sp) => Expr::View(e(p), all(shape), t.clone(), *f, *sp),
        other => other.clone(),
    }
}
