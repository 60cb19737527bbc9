//! Expressions, branches on conditions, and conversions between kernel types.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, types as clt, InstBuilder, MemFlagsData, Value};

use crate::abi::Type;

use super::*;
use crate::jit::ir::{Builtin, Callee, CmpOp, Expr, UnaryOp};
use crate::jit::typing::{is_float, is_int, I64};

impl Gen<'_, '_> {
    /// `e` as a kernel value: an array's is its view (from a local, or read from the
    /// descriptor of an array expression such as `a if c else b`).
    pub(super) fn value(&mut self, e: &Expr) -> R<(KValue, Type)> {
        if let Expr::Name(n, _) = e {
            return Ok(self.read(n));
        }
        if let Expr::View(p, shape, _, fortran, _) = e {
            let t = self.ty(e)?;
            return Ok((self.view_value(p, shape, *fortran, &t)?, t));
        }
        if let Expr::Index(p, idx, _) = e {
            let t = self.ty(e)?;
            if matches!(t, Type::Array { .. }) {
                return Ok((self.row_value(p, idx)?, t));
            }
        }
        if let Expr::Call(Callee::Builtin(Builtin::Scratch { elem, zeroed }), n, span) = e {
            let t = self.ty(e)?;
            return Ok((self.scratch_value(*elem, *zeroed, &n[0], *span)?, t));
        }
        let (v, t) = self.expr(e)?;
        let value = match &t {
            Type::Array {
                dtype,
                ndim,
                contiguous,
            } => KValue::Array(self.array_view(v, dtype, *ndim, *contiguous)),
            _ => KValue::Scalar(v),
        };
        Ok((value, t))
    }

    pub(super) fn expr_as(&mut self, e: &Expr, to: &Type) -> R<Value> {
        if let (Expr::FuncRef(i, _), Some(want)) = (e, to.function_signature()) {
            let i = *i;
            let addr = self.f.natives[i]
                .targets
                .iter()
                .find(|t| t.visible.abi_eq(want))
                .map(|t| t.address)
                .expect("typed: a specialisation matches");
            return Ok(self.iconst(self.ptr, addr as i64));
        }
        if matches!(to, Type::Array { .. }) && self.is_view_expr(e) {
            return self.view_tensor(e);
        }
        let (v, t) = self.expr(e)?;
        Ok(self.convert(v, &t, to))
    }

    /// Branch to `t` if `e` is true, else to `f`. Conditions built from `and`, `or`,
    /// `not` and comparisons become branches directly (no boolean is materialised),
    /// which is what lets Cranelift fuse each compare with its branch.
    pub(super) fn branch(&mut self, e: &Expr, t: ir::Block, f: ir::Block) -> R<()> {
        match e {
            Expr::BoolOp(is_and, values, _) => {
                for (k, v) in values.iter().enumerate() {
                    if k + 1 == values.len() {
                        return self.branch(v, t, f);
                    }
                    let next = self.b.create_block();
                    if *is_and {
                        self.branch(v, next, f)?;
                    } else {
                        self.branch(v, t, next)?;
                    }
                    self.b.seal_block(next);
                    self.b.switch_to_block(next);
                }
                Ok(())
            }
            Expr::Unary(UnaryOp::Not, x, _) => self.branch(x, f, t),
            Expr::Compare(first, rest, _) if self.compares_complex(first, rest)? => {
                let c = self.complex_compare_chain(first, rest)?;
                self.b.ins().brif(c, t, &[], f, &[]);
                Ok(())
            }
            Expr::Compare(first, rest, _) => {
                let (mut lv, mut lt) = self.expr(first)?;
                for (k, (op, re)) in rest.iter().enumerate() {
                    let (rv, rt) = self.expr(re)?;
                    let c = self.compare(*op, lv, &lt, rv, &rt);
                    if k + 1 == rest.len() {
                        self.b.ins().brif(c, t, &[], f, &[]);
                    } else {
                        let next = self.b.create_block();
                        self.b.ins().brif(c, next, &[], f, &[]);
                        self.b.seal_block(next);
                        self.b.switch_to_block(next);
                    }
                    (lv, lt) = (rv, rt);
                }
                Ok(())
            }
            _ => {
                let c = self.truth(e)?;
                self.b.ins().brif(c, t, &[], f, &[]);
                Ok(())
            }
        }
    }

    /// The truth value of `e` (a number, complex included, or a pointer).
    pub(super) fn truth(&mut self, e: &Expr) -> R<Value> {
        if self.is_complex_expr(e)? {
            let (re, im, f) = self.complex_expr(e)?;
            return Ok(self.complex_truthy(re, im, f));
        }
        let (v, ty) = self.expr(e)?;
        Ok(self.truthy(v, &ty))
    }

    /// Whether a comparison chain compares a complex number.
    fn compares_complex(&self, first: &Expr, rest: &[(CmpOp, Expr)]) -> R<bool> {
        if self.is_complex_expr(first)? {
            return Ok(true);
        }
        for (_, e) in rest {
            if self.is_complex_expr(e)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A comparison chain with complex operands (`==`, `!=` only): each link, and-ed
    /// (every operand is evaluated; they are numbers).
    fn complex_compare_chain(&mut self, first: &Expr, rest: &[(CmpOp, Expr)]) -> R<Value> {
        let mut left = first;
        let mut acc: Option<Value> = None;
        for (op, right) in rest {
            let c = if self.is_complex_expr(left)? || self.is_complex_expr(right)? {
                self.complex_compare(*op, left, right)?
            } else {
                let (lv, lt) = self.expr(left)?;
                let (rv, rt) = self.expr(right)?;
                self.compare(*op, lv, &lt, rv, &rt)
            };
            acc = Some(match acc {
                None => c,
                Some(a) => self.b.ins().band(a, c),
            });
            left = right;
        }
        Ok(acc.expect("a comparison has a link"))
    }

    pub(super) fn truthy(&mut self, v: Value, t: &Type) -> Value {
        if is_float(t) {
            let z = self.zero(t);
            self.b.ins().fcmp(FloatCC::NotEqual, v, z)
        } else if *t == Type::Bool {
            v
        } else {
            self.b.ins().icmp_imm_s(IntCC::NotEqual, v, 0)
        }
    }

    /// Convert a value between kernel types (implicit conversions and the casts).
    pub(super) fn convert(&mut self, v: Value, from: &Type, to: &Type) -> Value {
        if from.abi_eq(to)
            || (matches!(from, Type::Pointer { .. }) && matches!(to, Type::Pointer { .. }))
        {
            return v;
        }
        let (fc, tc) = (clif(from), clif(to));
        match (from, to) {
            (_, Type::Bool) => self.truthy(v, from),
            (Type::Bool, t) if is_int(t) => {
                if tc.bits() > 8 {
                    self.b.ins().uextend(tc, v)
                } else {
                    v
                }
            }
            (Type::Bool, t) if is_float(t) => {
                let wide = self.b.ins().uextend(clt::I64, v);
                self.b.ins().fcvt_from_sint(tc, wide)
            }
            (Type::Int(fi), Type::Int(_)) => {
                if tc.bits() == fc.bits() {
                    v
                } else if tc.bits() > fc.bits() {
                    if fi.signed() {
                        self.b.ins().sextend(tc, v)
                    } else {
                        self.b.ins().uextend(tc, v)
                    }
                } else {
                    self.b.ins().ireduce(tc, v)
                }
            }
            (Type::Int(fi), t) if is_float(t) => {
                let wide = if fc.bits() < 64 {
                    if fi.signed() {
                        self.b.ins().sextend(clt::I64, v)
                    } else {
                        self.b.ins().uextend(clt::I64, v)
                    }
                } else {
                    v
                };
                if fi.signed() || fc.bits() < 64 {
                    self.b.ins().fcvt_from_sint(tc, wide)
                } else {
                    self.b.ins().fcvt_from_uint(tc, wide)
                }
            }
            (f, t) if is_float(f) && is_float(t) => {
                if tc == clt::F64 {
                    self.b.ins().fpromote(tc, v)
                } else {
                    self.b.ins().fdemote(tc, v)
                }
            }
            (f, t) if is_float(f) && is_int(t) => {
                // Only reachable through int(): truncate toward zero, saturating; NaN gives 0.
                let wide = self.b.ins().fcvt_to_sint_sat(clt::I64, v);
                self.convert(wide, &I64, t)
            }
            _ => v,
        }
    }

    pub(super) fn expr(&mut self, e: &Expr) -> R<(Value, Type)> {
        Ok(match e {
            Expr::Int(n, _) => (self.b.ins().iconst(clt::I64, *n), I64),
            Expr::Float(x, _) => (self.b.ins().f64const(*x), Type::F64),
            Expr::Complex(..) => unreachable!("typed: complex values are read by complex_expr"),
            Expr::Bool(x, _) => (self.b.ins().iconst(clt::I8, *x as i64), Type::Bool),
            Expr::Null(_) => (self.b.ins().iconst(self.ptr, 0), Type::void_ptr()),
            Expr::Name(n, _) => {
                let (v, t) = self.read(n);
                (v.single(), t)
            }
            Expr::FuncRef(..) => {
                let t = self.ty(e)?;
                let v = self.expr_as(e, &t)?;
                (v, t)
            }
            Expr::Unary(UnaryOp::Not, x, _) => {
                let c = self.truth(x)?;
                (self.b.ins().bxor_imm_u(c, 1), Type::Bool)
            }
            Expr::Unary(op, x, _) => {
                let (v, t) = self.expr(x)?;
                match op {
                    UnaryOp::Not => unreachable!("handled above"),
                    UnaryOp::Pos => {
                        let rt = if t == Type::Bool { I64 } else { t.clone() };
                        (self.convert(v, &t, &rt), rt)
                    }
                    UnaryOp::Neg => {
                        let rt = if t == Type::Bool { I64 } else { t.clone() };
                        let v = self.convert(v, &t, &rt);
                        if is_float(&rt) {
                            (self.float_neg(v), rt)
                        } else {
                            (self.b.ins().ineg(v), rt)
                        }
                    }
                    UnaryOp::Invert if t == Type::Bool => (self.b.ins().bxor_imm_u(v, 1), t),
                    UnaryOp::Invert => {
                        let rt = if t == Type::Bool { I64 } else { t.clone() };
                        let v = self.convert(v, &t, &rt);
                        (self.b.ins().bnot(v), rt)
                    }
                }
            }
            Expr::Binary(op, a, b, span) => {
                let (va, ta) = self.expr(a)?;
                let (vb, tb) = self.expr(b)?;
                self.binary(*op, va, &ta, vb, &tb, *span)?
            }
            Expr::Compare(first, rest, _) if self.compares_complex(first, rest)? => {
                (self.complex_compare_chain(first, rest)?, Type::Bool)
            }
            Expr::Compare(first, rest, _) => {
                let done = self.b.create_block();
                self.b.append_block_param(done, clt::I8);
                let (mut lv, mut lt) = self.expr(first)?;
                for (k, (op, re)) in rest.iter().enumerate() {
                    let (rv, rt) = self.expr(re)?;
                    let c = self.compare(*op, lv, &lt, rv, &rt);
                    if k + 1 == rest.len() {
                        self.b.ins().jump(done, &args(&[c]));
                    } else {
                        let next = self.b.create_block();
                        self.b.ins().brif(c, next, &[], done, &args(&[c]));
                        self.b.seal_block(next);
                        self.b.switch_to_block(next);
                    }
                    (lv, lt) = (rv, rt);
                }
                self.b.seal_block(done);
                self.b.switch_to_block(done);
                (self.b.block_params(done)[0], Type::Bool)
            }
            Expr::BoolOp(is_and, values, _) => {
                let rt = self.ty(e)?;
                let done = self.b.create_block();
                self.b.append_block_param(done, clif(&rt));
                for (k, x) in values.iter().enumerate() {
                    let (v, t) = self.expr(x)?;
                    let out = self.convert(v, &t, &rt);
                    if k + 1 == values.len() {
                        self.b.ins().jump(done, &args(&[out]));
                    } else {
                        let c = self.truthy(v, &t);
                        let next = self.b.create_block();
                        // `a and b`: a falsy `a` is the result; `a or b`: a truthy `a` is.
                        if *is_and {
                            self.b.ins().brif(c, next, &[], done, &args(&[out]));
                        } else {
                            self.b.ins().brif(c, done, &args(&[out]), next, &[]);
                        }
                        self.b.seal_block(next);
                        self.b.switch_to_block(next);
                    }
                }
                self.b.seal_block(done);
                self.b.switch_to_block(done);
                (self.b.block_params(done)[0], rt)
            }
            Expr::IfExp(c, a, b, _) => {
                let rt = self.ty(e)?;
                let (tb, eb, done) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.append_block_param(done, clif(&rt));
                self.branch(c, tb, eb)?;
                self.b.seal_block(tb);
                self.b.seal_block(eb);
                self.b.switch_to_block(tb);
                let va = self.expr_as(a, &rt)?;
                self.b.ins().jump(done, &args(&[va]));
                self.b.switch_to_block(eb);
                let vb = self.expr_as(b, &rt)?;
                self.b.ins().jump(done, &args(&[vb]));
                self.b.seal_block(done);
                self.b.switch_to_block(done);
                (self.b.block_params(done)[0], rt)
            }
            Expr::Index(..) if matches!(self.ty(e)?, Type::Array { .. }) => {
                // Only `len(m[i])` evaluates a row as one value (typing allows no other).
                let (v, t) = self.value(e)?;
                (v.single(), t)
            }
            Expr::Index(p, idx, _) => {
                let (addr, elem) = self.element_address(p, idx)?;
                (
                    self.b.ins().load(clif(&elem), MemFlagsData::new(), addr, 0),
                    elem,
                )
            }
            Expr::Call(callee, cargs, span) => self.call(e, callee, cargs, *span)?,
            Expr::Shape(a, k, _) => (self.shape_of(a, *k as usize, None)?, I64),
            Expr::View(..) => {
                // Only `len(carray(...))` evaluates a view as one value (typing allows no other).
                let (v, t) = self.value(e)?;
                (v.single(), t)
            }
            Expr::Cast(x, to, _) => (self.expr(x)?.0, to.clone()),
            Expr::Field { ty, .. } => {
                let addr = self.field_address(e)?;
                let v = self.b.ins().load(clif(ty), MemFlagsData::new(), addr, 0);
                (v, ty.clone())
            }
            Expr::Ndim(a, _) => {
                let nd = match self.ty(a)? {
                    Type::Array { ndim, .. } => ndim,
                    _ => unreachable!("typed: an array"),
                };
                (self.b.ins().iconst(clt::I64, nd as i64), I64)
            }
        })
    }
}
