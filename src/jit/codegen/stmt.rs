//! Statements and loops.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, types as clt, InstBuilder, MemFlagsData, Value};

use super::*;
use crate::jit::ir::{Expr, Stmt};
use crate::jit::typing::{always_true, is_complex, I64};

impl Gen<'_, '_> {
    pub(super) fn block(&mut self, body: &[Stmt]) -> R<()> {
        for s in body {
            if self.terminated {
                // Code after return/break/continue never runs; the typer has checked it.
                break;
            }
            self.stmt(s)?;
        }
        Ok(())
    }

    /// Continue in `block` if anything can reach it; otherwise the code after it is dead.
    pub(super) fn resume_at(&mut self, block: ir::Block, reachable: bool) {
        if reachable {
            self.b.seal_block(block);
            self.b.switch_to_block(block);
            self.terminated = false;
        } else {
            self.terminated = true;
        }
    }

    pub(super) fn stmt(&mut self, s: &Stmt) -> R<()> {
        match s {
            Stmt::Assign(names, values, _) => {
                let mut vals = Vec::with_capacity(values.len());
                for (n, e) in names.iter().zip(values) {
                    let t = self.vars[n].1.clone();
                    vals.push(self.value_as(e, &t)?);
                }
                for (n, v) in names.iter().zip(vals) {
                    self.write(n, &v);
                }
            }
            Stmt::AugAssign(n, op, e, _) if is_complex(&self.vars[n].1) => {
                self.complex_aug_assign(n, *op, e)?;
            }
            Stmt::AugAssign(n, op, e, span) => {
                let (var, t) = self.scalar_var(n);
                let cur = self.b.use_var(var);
                let (rv, rt) = self.expr(e)?;
                let (v, vt) = self.binary(*op, cur, &t, rv, &rt, *span)?;
                let v = self.convert(v, &vt, &t);
                self.b.def_var(var, v);
            }
            Stmt::Store(p, idx, e, _) if self.holds_complex(p)? => {
                self.complex_store(p, idx, None, e)?;
            }
            Stmt::Store(p, idx, e, _) => {
                let (addr, elem) = self.element_address(p, idx)?;
                let v = self.expr_as(e, &elem)?;
                self.b.ins().store(MemFlagsData::new(), v, addr, 0);
            }
            Stmt::AugStore(p, idx, op, e, _) if self.holds_complex(p)? => {
                self.complex_store(p, idx, Some(*op), e)?;
            }
            Stmt::AugStore(p, idx, op, e, span) => {
                let (addr, elem) = self.element_address(p, idx)?;
                let cur = self.b.ins().load(clif(&elem), MemFlagsData::new(), addr, 0);
                let (rv, rt) = self.expr(e)?;
                let (v, vt) = self.binary(*op, cur, &elem, rv, &rt, *span)?;
                let v = self.convert(v, &vt, &elem);
                self.b.ins().store(MemFlagsData::new(), v, addr, 0);
            }
            Stmt::If(c, then, orelse, _) => {
                let (tb, eb, merge) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.branch(c, tb, eb)?;
                self.b.seal_block(tb);
                self.b.seal_block(eb);
                self.b.switch_to_block(tb);
                self.block(then)?;
                let then_done = self.terminated;
                if !then_done {
                    self.b.ins().jump(merge, &[]);
                }
                self.terminated = false;
                self.b.switch_to_block(eb);
                self.block(orelse)?;
                let else_done = self.terminated;
                if !else_done {
                    self.b.ins().jump(merge, &[]);
                }
                self.resume_at(merge, !(then_done && else_done));
            }
            Stmt::While(c, body, orelse, _) => {
                // Rotated: the condition is tested before the first iteration and again at
                // the bottom of each (`continue` goes there), so an iteration takes one branch.
                let (bodyb, latch, elseb, exit) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                // `while True:` (or any nonzero literal) never reaches its else clause.
                let always = always_true(c);
                if always {
                    self.b.ins().jump(bodyb, &[]);
                } else {
                    self.branch(c, bodyb, elseb)?;
                }
                self.b.switch_to_block(bodyb);
                let l = self.loop_body(body, latch, exit)?;
                if always {
                    self.b.ins().jump(bodyb, &[]);
                } else {
                    self.branch(c, bodyb, elseb)?;
                }
                self.b.seal_block(bodyb);
                if always {
                    // Only `break` reaches the exit of `while True`.
                    self.resume_at(exit, l.broke);
                } else {
                    self.b.seal_block(elseb);
                    self.loop_else(elseb, orelse, exit, l.broke)?;
                }
            }
            Stmt::For {
                var,
                start,
                stop,
                step,
                body,
                orelse,
                ..
            } => {
                if !self.promoted_loop(var, start, stop, step, body, orelse)? {
                    self.for_range(var, start, stop, step, body, orelse)?
                }
            }
            Stmt::Break(_) => {
                let l = self.loops.last_mut().expect("typed: break inside a loop");
                l.broke = true;
                let exit = l.exit;
                self.b.ins().jump(exit, &[]);
                self.terminated = true;
            }
            Stmt::Continue(_) => {
                let head = self
                    .loops
                    .last()
                    .expect("typed: continue inside a loop")
                    .head;
                self.b.ins().jump(head, &[]);
                self.terminated = true;
            }
            Stmt::Return(value, _) if self.inlined.is_some() => {
                let ret = self.inlined.as_ref().expect("checked").ret.clone();
                let rets = match value {
                    Some(e) => vec![self.expr_as(e, &ret)?],
                    None => vec![],
                };
                let join = self.inlined.as_ref().expect("checked").join;
                self.b.ins().jump(join, &args(&rets));
                self.terminated = true;
            }
            Stmt::Return(Some(e), _) if self.ufunc.is_some() => {
                let u = self.ufunc.expect("checked");
                let ret = self.ret.clone();
                let v = self.expr_as(e, &ret)?;
                let i = self.b.use_var(u.index);
                let off = self.b.ins().imul(i, u.out_step);
                let addr = self.b.ins().iadd(u.out_ptr, off);
                self.b.ins().store(MemFlagsData::new(), v, addr, 0);
                self.b.ins().jump(u.latch, &[]);
                self.terminated = true;
            }
            Stmt::Return(value, _) => {
                match value {
                    Some(e) => {
                        let vals = self.return_parts(e)?;
                        self.free_scratch();
                        self.b.ins().return_(&vals);
                    }
                    None => {
                        self.free_scratch();
                        self.b.ins().return_(&[]);
                    }
                }
                self.terminated = true;
            }
            Stmt::Expr(e, _) if self.is_complex_expr(e)? => {
                self.complex_expr(e)?;
            }
            Stmt::Expr(e, _) => {
                self.expr(e)?;
            }
            Stmt::Pass => {}
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_range(
        &mut self,
        var: &str,
        start: &Expr,
        stop: &Expr,
        step: &Expr,
        body: &[Stmt],
        orelse: &[Stmt],
    ) -> R<()> {
        let (v, vt) = self.scalar_var(var);
        let bound = self.loop_lower_bound(var, &vt, start, stop, step, body);
        // A literal step of +1 or -1 (the common case) counts the variable itself: it
        // cannot overflow, since it stops at `stop`. Other steps run an exact trip count.
        let unit = match step {
            Expr::Int(1, _) => Some(1i64),
            Expr::Int(-1, _) => Some(-1i64),
            _ => None,
        };
        let start = self.expr_as(start, &I64)?;
        let stop = self.expr_as(stop, &I64)?;
        let step = self.expr_as(step, &I64)?;
        let zero = self.b.ins().iconst(clt::I64, 0);
        let count = match unit {
            Some(_) => zero,
            None => self.trip_count(start, stop, step),
        };
        let (bodyb, latch, elseb, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(bodyb, clt::I64);
        // Rotated like `while`: test before the first iteration and at the bottom.
        let more = |g: &mut Self, k: Value| match unit {
            Some(1) => g.b.ins().icmp(IntCC::SignedLessThan, k, stop),
            Some(_) => g.b.ins().icmp(IntCC::SignedGreaterThan, k, stop),
            None => g.b.ins().icmp(IntCC::UnsignedLessThan, k, count),
        };
        let first = if unit.is_some() { start } else { zero };
        // Array addresses that step with the variable: `var * byte stride` as variables.
        let scaled = match (unit, bound) {
            (Some(_), Some(_)) => self.scaled_ivs(var, body, start),
            _ => Vec::new(),
        };
        let go = more(self, first);
        self.b.ins().brif(go, bodyb, &args(&[first]), elseb, &[]);
        self.b.switch_to_block(bodyb);
        let k = self.b.block_params(bodyb)[0];
        let value = match unit {
            Some(_) => k,
            None => {
                let offset = self.b.ins().imul(k, step);
                self.b.ins().iadd(start, offset)
            }
        };
        let value = self.convert(value, &I64, &vt);
        self.b.def_var(v, value);
        let outer = bound.map(|lb| self.lower_bounds.insert(var.to_string(), lb));
        let shadowed: Vec<_> = scaled
            .iter()
            .map(|(key, sv, _)| {
                let old = self.scaled.insert(key.clone(), (var.to_string(), *sv));
                (key.clone(), old)
            })
            .collect();
        let l = self.loop_body(body, latch, exit)?;
        for (key, old) in shadowed {
            match old {
                Some(o) => self.scaled.insert(key, o),
                None => self.scaled.remove(&key),
            };
        }
        for (_, sv, bs) in &scaled {
            let cur = self.b.use_var(*sv);
            let next = if unit == Some(1) {
                self.b.ins().iadd(cur, *bs)
            } else {
                self.b.ins().isub(cur, *bs)
            };
            self.b.def_var(*sv, next);
        }
        match outer {
            Some(Some(lb)) => {
                self.lower_bounds.insert(var.to_string(), lb);
            }
            Some(None) => {
                self.lower_bounds.remove(var);
            }
            None => {}
        }
        let next = self.b.ins().iadd_imm_s(k, unit.unwrap_or(1));
        let go = more(self, next);
        self.b.ins().brif(go, bodyb, &args(&[next]), elseb, &[]);
        self.b.seal_block(bodyb);
        self.b.seal_block(elseb);
        self.loop_else(elseb, orelse, exit, l.broke)
    }

    /// A lower bound of the loop variable `var` of `for var in range(start, stop, step)`
    /// inside its body: `start` for a positive literal step, `stop + 1` for a negative one
    /// (see [`Gen::lower_bound`]); none if the variable is not int64 or the body assigns it.
    #[allow(clippy::too_many_arguments)]
    fn loop_lower_bound(
        &self,
        var: &str,
        vt: &Type,
        start: &Expr,
        stop: &Expr,
        step: &Expr,
        body: &[Stmt],
    ) -> Option<i128> {
        if *vt != I64 || assigns(body, var) {
            return None;
        }
        match step {
            Expr::Int(s, _) if *s > 0 => self.lower_bound(start),
            Expr::Int(s, _) if *s < 0 => self.lower_bound(stop).map(|b| b + 1),
            _ => None,
        }
    }

    /// For a `for var in range(...)` loop with a unit step: each (array parameter, axis)
    /// that the body indexes with `var` (`a[i, var + 1]`, `x[i + var]`), with a variable
    /// set to `start * bs` (the axis' byte stride) that the loop steps by `bs`, so that
    /// the address needs no multiplication (strength reduction). The arrays are
    /// parameters the kernel never assigns, so their strides are the entry's; axes with a
    /// constant stride are left out.
    fn scaled_ivs(
        &mut self,
        var: &str,
        body: &[Stmt],
        start: Value,
    ) -> Vec<((String, usize), Variable, Value)> {
        let mut pairs: Vec<(String, usize)> = Vec::new();
        let mut note = |a: &Expr, idx: &[Expr]| {
            let Expr::Name(a, _) = a else { return };
            for (axis, e) in idx.iter().enumerate() {
                if let (Some(v), _) = super::array::split_constant(e) {
                    if super::array::split_loop_var(v, var).is_some()
                        && !pairs.contains(&(a.clone(), axis))
                    {
                        pairs.push((a.clone(), axis));
                    }
                }
            }
        };
        visit_indexing(body, &mut note);
        let mut out = Vec::new();
        for (a, axis) in pairs {
            // A stride known at compile time (a C-contiguous last axis) is better left to
            // the address mode: `[row + j*8]` costs nothing, a stepped variable an add.
            let param = self.f.params.iter().find_map(|(p, t)| match t {
                Type::Array {
                    ndim, contiguous, ..
                } if *p == a => Some(*contiguous && axis + 1 == *ndim as usize),
                _ => None,
            });
            if param != Some(false) || assigns(&self.f.body, &a) {
                continue;
            }
            let KValue::Array(view) = self.read(&a).0 else {
                continue;
            };
            let size = view.dtype.size().expect("a number") as i64;
            let bs = self.b.ins().imul_imm_s(view.strides[axis], size);
            let sv = self.b.declare_var(clt::I64);
            let init = self.b.ins().imul(start, bs);
            self.b.def_var(sv, init);
            out.push(((a, axis), sv, bs));
        }
        out
    }

    /// A loop body whose `continue` goes to `latch` and `break` to `exit`; returns with
    /// `latch` sealed and current.
    pub(super) fn loop_body(
        &mut self,
        body: &[Stmt],
        latch: ir::Block,
        exit: ir::Block,
    ) -> R<Loop> {
        self.loops.push(Loop {
            head: latch,
            exit,
            broke: false,
        });
        self.block(body)?;
        if !self.terminated {
            self.b.ins().jump(latch, &[]);
        }
        let l = self.loops.pop().expect("loop");
        self.b.seal_block(latch);
        self.b.switch_to_block(latch);
        Ok(l)
    }

    /// A loop's `else` clause in `elseb` (sealed by the caller), then on to `exit`, which
    /// is reached if the loop was broken out of or the clause falls through.
    pub(super) fn loop_else(
        &mut self,
        elseb: ir::Block,
        orelse: &[Stmt],
        exit: ir::Block,
        broke: bool,
    ) -> R<()> {
        self.terminated = false;
        self.b.switch_to_block(elseb);
        self.block(orelse)?;
        let else_done = self.terminated;
        if !else_done {
            self.b.ins().jump(exit, &[]);
        }
        self.resume_at(exit, broke || !else_done);
        Ok(())
    }

    /// The number of iterations of `range(start, stop, step)`, exact for every int64
    /// range (no overflow at the ends): step > 0: start < stop ? (stop - start - 1) / step + 1
    /// : 0, and symmetrically; a zero step runs no iterations.
    pub(super) fn trip_count(&mut self, start: Value, stop: Value, step: Value) -> Value {
        let zero = self.b.ins().iconst(clt::I64, 0);
        let one = self.b.ins().iconst(clt::I64, 1);
        let up = self.b.ins().icmp(IntCC::SignedGreaterThan, step, zero);
        let down = self.b.ins().icmp(IntCC::SignedLessThan, step, zero);
        let span_up = self.b.ins().isub(stop, start);
        let span_up = self.b.ins().isub(span_up, one);
        let span_down = self.b.ins().isub(start, stop);
        let span_down = self.b.ins().isub(span_down, one);
        let neg_step = self.b.ins().ineg(step);
        let dist = self.b.ins().select(up, span_up, span_down);
        let stride = self.b.ins().select(up, step, neg_step);
        let nonzero = self.b.ins().bor(up, down);
        let safe_stride = self.b.ins().select(nonzero, stride, one);
        let q = self.b.ins().udiv(dist, safe_stride);
        let n = self.b.ins().iadd_imm_s(q, 1);
        let has_up = self.b.ins().icmp(IntCC::SignedLessThan, start, stop);
        let has_down = self.b.ins().icmp(IntCC::SignedGreaterThan, start, stop);
        let has = self.b.ins().select(up, has_up, has_down);
        let has = self.b.ins().band(has, nonzero);
        self.b.ins().select(has, n, zero)
    }

    // ------------------------------------------------------------------ expressions
}

/// Whether `body` assigns the local `var` (a nested loop's variable included).
pub(super) fn assigns(body: &[Stmt], var: &str) -> bool {
    body.iter().any(|s| match s {
        Stmt::Assign(names, _, _) => names.iter().any(|n| n == var),
        Stmt::AugAssign(n, ..) => n == var,
        Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => assigns(a, var) || assigns(b, var),
        Stmt::For {
            var: v,
            body,
            orelse,
            ..
        } => v == var || assigns(body, var) || assigns(orelse, var),
        _ => false,
    })
}

/// Call `f` with the array (or pointer) expression and the indices of every indexing in
/// `body`: loads anywhere in expressions, and stores.
fn visit_indexing(body: &[Stmt], f: &mut impl FnMut(&Expr, &[Expr])) {
    fn expr(e: &Expr, f: &mut impl FnMut(&Expr, &[Expr])) {
        if let Expr::Index(p, idx, _) = e {
            f(p, idx);
        }
        for c in e.children() {
            expr(c, f);
        }
    }
    for s in body {
        if let Stmt::Store(p, idx, ..) | Stmt::AugStore(p, idx, ..) = s {
            f(p, idx);
        }
        for e in s.exprs() {
            expr(e, f);
        }
        for b in s.blocks() {
            visit_indexing(b, f);
        }
    }
}
