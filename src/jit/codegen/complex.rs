//! Complex numbers: their values as two floats, arithmetic as CPython computes it, the
//! `cmath` functions, and how a complex value crosses a call (the C ABI's `_Complex`).

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{self, types as clt, InstBuilder, MemFlagsData, Value};

use crate::abi::{FloatType, Type};

use super::*;
use crate::jit::ir::{BinOp, Builtin, Callee, CmathFn, CmpOp, Expr, UnaryOp};
use crate::jit::lower::abi_params;
use crate::jit::runtime;
use crate::jit::typing::is_complex;

/// The largest constant whole exponent a complex power multiplies out inline (larger ones,
/// and negative ones, go to the runtime's `c_pow`, which follows the same algorithm).
const MAX_POW: i64 = 8;

/// The precision of the parts of complex type `t`.
fn parts_of(t: &Type) -> FloatType {
    match t {
        Type::Complex(FloatType::F32) => FloatType::F32,
        _ => FloatType::F64,
    }
}

impl Gen<'_, '_> {
    /// The value of `e` converted to type `to`: complex numbers and arrays as their parts.
    pub(super) fn value_as(&mut self, e: &Expr, to: &Type) -> R<KValue> {
        Ok(match to {
            Type::Array { .. } => self.value(e)?.0,
            Type::Complex(_) => {
                let (re, im) = self.complex_as(e, parts_of(to))?;
                KValue::Complex { re, im }
            }
            _ => KValue::Scalar(self.expr_as(e, to)?),
        })
    }

    /// Whether `e` has a complex type.
    pub(super) fn is_complex_expr(&self, e: &Expr) -> R<bool> {
        Ok(is_complex(&self.ty(e)?))
    }

    /// Whether the array or pointer `p` holds complex numbers.
    pub(super) fn holds_complex(&self, p: &Expr) -> R<bool> {
        Ok(match self.ty(p)? {
            Type::Array { dtype, .. } => is_complex(&dtype),
            Type::Pointer { pointee, .. } => is_complex(&pointee),
            _ => false,
        })
    }

    /// `e` (a real or complex number) as the parts of a complex number of precision `to`.
    pub(super) fn complex_as(&mut self, e: &Expr, to: FloatType) -> R<(Value, Value)> {
        let t = self.ty(e)?;
        let target = Type::Float(to);
        if is_complex(&t) {
            let (re, im, from) = self.complex_expr(e)?;
            let from = Type::Float(from);
            Ok((
                self.convert(re, &from, &target),
                self.convert(im, &from, &target),
            ))
        } else {
            let (v, t) = self.expr(e)?;
            let re = self.convert(v, &t, &target);
            Ok((re, self.zero(&target)))
        }
    }

    /// A complex-typed expression as its parts and their precision.
    pub(super) fn complex_expr(&mut self, e: &Expr) -> R<(Value, Value, FloatType)> {
        let rt = self.ty(e)?;
        let f = parts_of(&rt);
        let (re, im) = match e {
            Expr::Complex(re, im, _) => (self.b.ins().f64const(*re), self.b.ins().f64const(*im)),
            Expr::Name(n, _) => match self.read(n).0 {
                KValue::Complex { re, im } => (re, im),
                other => unreachable!("typed: '{n}' holds a complex number, not {other:?}"),
            },
            Expr::Unary(op, x, _) => {
                let (re, im) = self.complex_as(x, f)?;
                match op {
                    UnaryOp::Neg => (self.b.ins().fneg(re), self.b.ins().fneg(im)),
                    _ => (re, im),
                }
            }
            Expr::Binary(BinOp::Div, a, b, _) if !is_complex(&self.ty(b)?) => {
                let (ar, ai) = self.complex_as(a, f)?;
                let (bv, bt) = self.expr(b)?;
                let br = self.convert(bv, &bt, &Type::Float(f));
                self.divide_by_real((ar, ai), br, f)
            }
            Expr::Binary(BinOp::Pow, a, b, _) if matches!(**b, Expr::Int(0..=MAX_POW, _)) => {
                let Expr::Int(n, _) = **b else {
                    unreachable!("matched")
                };
                let z = self.complex_as(a, f)?;
                self.complex_whole_power(z, n, f)
            }
            Expr::Binary(op, a, b, _) => {
                let (ar, ai) = self.complex_as(a, f)?;
                let (br, bi) = self.complex_as(b, f)?;
                self.complex_binary(*op, (ar, ai), (br, bi), f)
            }
            Expr::IfExp(c, a, b, _) => {
                let (tb, eb, done) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                let ty = clif(&Type::Float(f));
                self.b.append_block_param(done, ty);
                self.b.append_block_param(done, ty);
                self.branch(c, tb, eb)?;
                self.b.seal_block(tb);
                self.b.seal_block(eb);
                self.b.switch_to_block(tb);
                let (r, i) = self.complex_as(a, f)?;
                self.b.ins().jump(done, &args(&[r, i]));
                self.b.switch_to_block(eb);
                let (r, i) = self.complex_as(b, f)?;
                self.b.ins().jump(done, &args(&[r, i]));
                self.b.seal_block(done);
                self.b.switch_to_block(done);
                let p = self.b.block_params(done);
                (p[0], p[1])
            }
            Expr::Index(p, idx, _) => {
                let (addr, _) = self.element_address(p, idx)?;
                self.load_complex(addr, f)
            }
            Expr::Field { .. } => {
                let addr = self.field_address(e)?;
                self.load_complex(addr, f)
            }
            Expr::Call(Callee::Builtin(b), cargs, _) => self.complex_builtin(*b, cargs, f)?,
            Expr::Call(callee, cargs, span) => {
                let (parts, t) = self.call_parts(callee, cargs, *span)?;
                match self.value_from_abi(&t, &parts) {
                    KValue::Complex { re, im } => (re, im),
                    other => unreachable!("typed: a complex result, not {other:?}"),
                }
            }
            other => unreachable!("typed: no complex value of {other:?}"),
        };
        Ok((re, im, f))
    }

    /// The address of a record field (`Expr::Field`): `base + index * stride + offset`.
    pub(super) fn field_address(&mut self, e: &Expr) -> R<Value> {
        let Expr::Field {
            base,
            index,
            stride,
            offset,
            ..
        } = e
        else {
            unreachable!("a field")
        };
        let (p, _) = self.expr(base)?;
        let i = self.expr_as(index, &crate::jit::typing::I64)?;
        let scaled = self.b.ins().imul_imm_s(i, *stride);
        let scaled = self.b.ins().iadd_imm_s(scaled, *offset);
        Ok(self.b.ins().iadd(p, scaled))
    }

    /// A complex number from memory at `addr` (real part first).
    pub(super) fn load_complex(&mut self, addr: Value, f: FloatType) -> (Value, Value) {
        let ty = clif(&Type::Float(f));
        let size = ty.bytes() as i32;
        let re = self.b.ins().load(ty, MemFlagsData::new(), addr, 0);
        let im = self.b.ins().load(ty, MemFlagsData::new(), addr, size);
        (re, im)
    }

    /// Store a complex number (its parts of precision `f`) at `addr`.
    pub(super) fn store_complex(&mut self, addr: Value, (re, im): (Value, Value), f: FloatType) {
        let size = clif(&Type::Float(f)).bytes() as i32;
        self.b.ins().store(MemFlagsData::new(), re, addr, 0);
        self.b.ins().store(MemFlagsData::new(), im, addr, size);
    }

    /// `a op b` on complex numbers of precision `f`, as CPython computes it.
    pub(super) fn complex_binary(
        &mut self,
        op: BinOp,
        (ar, ai): (Value, Value),
        (br, bi): (Value, Value),
        f: FloatType,
    ) -> (Value, Value) {
        match op {
            BinOp::Add => (self.b.ins().fadd(ar, br), self.b.ins().fadd(ai, bi)),
            BinOp::Sub => (self.b.ins().fsub(ar, br), self.b.ins().fsub(ai, bi)),
            BinOp::Mul => {
                // `_Py_c_prod`, with no fused multiply-add (that would round differently).
                let rr = self.b.ins().fmul(ar, br);
                let ii = self.b.ins().fmul(ai, bi);
                let ri = self.b.ins().fmul(ar, bi);
                let ir_ = self.b.ins().fmul(ai, br);
                (self.b.ins().fsub(rr, ii), self.b.ins().fadd(ri, ir_))
            }
            BinOp::Div | BinOp::Pow => {
                let address = if op == BinOp::Div {
                    runtime::c_quot as *const () as usize
                } else {
                    runtime::c_pow as *const () as usize
                };
                let parts = [ar, ai, br, bi].map(|v| self.widen(v, f));
                let (re, im) = self.call_complex_helper(address, &parts);
                (self.narrow(re, f), self.narrow(im, f))
            }
            _ => unreachable!("typed: complex numbers have + - * / ** only"),
        }
    }

    /// `z ** n` for a constant `n` from 0 to [`MAX_POW`], by multiplication as CPython's
    /// `c_powu` does it: the product of `1+0j` and the squares of `z` that `n`'s bits select
    /// (multiplying by `1+0j` is kept: it settles signs of zeros and NaNs as CPython's does).
    fn complex_whole_power(&mut self, z: (Value, Value), n: i64, f: FloatType) -> (Value, Value) {
        if n == 0 {
            // `c_powi(z, 0)` is `1 / (1+0j)`: 1+0j for every z.
            return (self.float_const(1.0, f), self.float_const(0.0, f));
        }
        let mut r = (self.float_const(1.0, f), self.float_const(0.0, f));
        let mut p = z;
        let mut mask = 1;
        while n >= mask {
            if n & mask != 0 {
                r = self.complex_binary(BinOp::Mul, r, p, f);
            }
            mask <<= 1;
            if n >= mask {
                p = self.complex_binary(BinOp::Mul, p, p, f);
            }
        }
        r
    }

    /// `a / b` for a real `b`, which Python divides as `complex(b, 0.0)`: `_Py_c_quot`'s
    /// steps with an imaginary part of +0 (`ratio` is `±0`, `denom` is `b`), inline and
    /// with the same results, division by zero and a NaN `b` included.
    fn divide_by_real(
        &mut self,
        (ar, ai): (Value, Value),
        br: Value,
        f: FloatType,
    ) -> (Value, Value) {
        let zero = self.float_const(0.0, f);
        let ratio = self.b.ins().fcopysign(zero, br);
        let t = self.b.ins().fmul(ai, ratio);
        let nr = self.b.ins().fadd(ar, t);
        let t = self.b.ins().fmul(ar, ratio);
        let ni = self.b.ins().fsub(ai, t);
        // By zero: each part over +0 (as NumPy); a NaN `b` gives NaN + NaN j.
        let is_zero = self.b.ins().fcmp(FloatCC::Equal, br, zero);
        let abs_br = self.b.ins().fabs(br);
        let d = self.b.ins().select(is_zero, abs_br, br);
        let nr = self.b.ins().select(is_zero, ar, nr);
        let ni = self.b.ins().select(is_zero, ai, ni);
        let re = self.b.ins().fdiv(nr, d);
        let im = self.b.ins().fdiv(ni, d);
        let nan = self.float_const(f64::NAN, f);
        let is_nan = self.b.ins().fcmp(FloatCC::Unordered, br, br);
        (
            self.b.ins().select(is_nan, nan, re),
            self.b.ins().select(is_nan, nan, im),
        )
    }

    fn widen(&mut self, v: Value, f: FloatType) -> Value {
        self.convert(v, &Type::Float(f), &Type::F64)
    }

    fn narrow(&mut self, v: Value, f: FloatType) -> Value {
        self.convert(v, &Type::F64, &Type::Float(f))
    }

    /// Call a runtime helper taking doubles and returning a `C64` (two doubles).
    fn call_complex_helper(&mut self, address: usize, vals: &[Value]) -> (Value, Value) {
        let mut sig = ir::Signature::new(self.call_conv);
        sig.params
            .extend(vals.iter().map(|_| ir::AbiParam::new(clt::F64)));
        sig.returns.extend([ir::AbiParam::new(clt::F64); 2]);
        let sref = self.b.import_signature(sig);
        let callee = self.iconst(self.ptr, address as i64);
        let call = self.b.ins().call_indirect(sref, callee, vals);
        let r = self.b.inst_results(call);
        (r[0], r[1])
    }

    /// A builtin with a complex result (`complex()`, `z.conjugate()`, `cmath.exp`, ...).
    fn complex_builtin(&mut self, b: Builtin, cargs: &[Expr], f: FloatType) -> R<(Value, Value)> {
        Ok(match b {
            Builtin::Complex => {
                let re = self.expr_as(&cargs[0], &Type::F64)?;
                let im = match cargs.get(1) {
                    Some(x) => self.expr_as(x, &Type::F64)?,
                    None => self.b.ins().f64const(0.0),
                };
                (re, im)
            }
            Builtin::Conj => {
                let (re, im) = self.complex_as(&cargs[0], f)?;
                (re, self.b.ins().fneg(im))
            }
            Builtin::Cmath(CmathFn::Rect, _) => {
                let r = self.expr_as(&cargs[0], &Type::F64)?;
                let phi = self.expr_as(&cargs[1], &Type::F64)?;
                self.call_complex_helper(runtime::c_rect as *const () as usize, &[r, phi])
            }
            Builtin::Cmath(m, _) => {
                let (re, im) = self.complex_as(&cargs[0], FloatType::F64)?;
                self.call_complex_helper(runtime::cmath_helper(m), &[re, im])
            }
            other => unreachable!("typed: {other:?} has no complex result"),
        })
    }

    /// A builtin with a real result whose argument may be complex (`abs`, `.real`,
    /// `.imag`, `cmath.phase`, `cmath.isnan`, `bool`), or `None` if no argument is complex.
    pub(super) fn real_of_complex_builtin(
        &mut self,
        b: Builtin,
        cargs: &[Expr],
    ) -> R<Option<(Value, Type)>> {
        let complex_arg = match cargs.first() {
            Some(a) if cargs.len() == 1 => self.is_complex_expr(a)?,
            _ => false,
        };
        let real_cmath = matches!(
            b,
            Builtin::Cmath(
                CmathFn::Phase | CmathFn::Isnan | CmathFn::Isinf | CmathFn::Isfinite,
                false
            ) | Builtin::Cmath(CmathFn::Phase, true)
        );
        if !(complex_arg || real_cmath) {
            return Ok(None);
        }
        let (re, im, f) = if complex_arg {
            self.complex_expr(&cargs[0])?
        } else {
            let (re, im) = self.complex_as(&cargs[0], FloatType::F64)?;
            (re, im, FloatType::F64)
        };
        let ft = Type::Float(f);
        Ok(Some(match b {
            Builtin::Real => (re, ft),
            Builtin::Imag => (im, ft),
            Builtin::Abs => {
                let (re, im) = (self.widen(re, f), self.widen(im, f));
                let address = runtime::c_abs as *const () as usize;
                let v = self.call_helper(address, &[clt::F64, clt::F64], clt::F64, &[re, im]);
                (v, Type::F64)
            }
            Builtin::Bool => (self.complex_truthy(re, im, f), Type::Bool),
            Builtin::Cmath(CmathFn::Phase, _) => {
                let (re, im) = (self.widen(re, f), self.widen(im, f));
                // CPython's `cmath.phase` is the C library's atan2.
                let address = runtime::c_atan2_address();
                let v = self.call_helper(address, &[clt::F64, clt::F64], clt::F64, &[im, re]);
                (v, Type::F64)
            }
            Builtin::Cmath(m @ (CmathFn::Isnan | CmathFn::Isinf | CmathFn::Isfinite), _) => {
                let test = |g: &mut Self, x: Value| match m {
                    CmathFn::Isnan => g.b.ins().fcmp(FloatCC::Unordered, x, x),
                    _ => {
                        let a = g.b.ins().fabs(x);
                        let inf = g.float_const(f64::INFINITY, f);
                        let cc = if m == CmathFn::Isinf {
                            FloatCC::Equal
                        } else {
                            FloatCC::LessThan
                        };
                        g.b.ins().fcmp(cc, a, inf)
                    }
                };
                let (x, y) = (test(self, re), test(self, im));
                let v = if m == CmathFn::Isfinite {
                    self.b.ins().band(x, y)
                } else {
                    self.b.ins().bor(x, y)
                };
                (v, Type::Bool)
            }
            other => unreachable!("typed: {other:?} of a complex number"),
        }))
    }

    fn float_const(&mut self, x: f64, f: FloatType) -> Value {
        match f {
            FloatType::F32 => self.b.ins().f32const(x as f32),
            _ => self.b.ins().f64const(x),
        }
    }

    /// A complex number is true unless both parts are zero (a NaN part is true).
    pub(super) fn complex_truthy(&mut self, re: Value, im: Value, f: FloatType) -> Value {
        let z = self.float_const(0.0, f);
        let a = self.b.ins().fcmp(FloatCC::NotEqual, re, z);
        let b = self.b.ins().fcmp(FloatCC::NotEqual, im, z);
        self.b.ins().bor(a, b)
    }

    /// `a == b` or `a != b` where one of them is complex, as Python compares: the parts
    /// are equal (a real number's imaginary part is 0, and an int compares exactly).
    pub(super) fn complex_compare(&mut self, op: CmpOp, a: &Expr, b: &Expr) -> R<Value> {
        let (ta, tb) = (self.ty(a)?, self.ty(b)?);
        let eq = if is_complex(&ta) && is_complex(&tb) {
            let (ar, ai) = self.complex_as(a, FloatType::F64)?;
            let (br, bi) = self.complex_as(b, FloatType::F64)?;
            let r = self.b.ins().fcmp(FloatCC::Equal, ar, br);
            let i = self.b.ins().fcmp(FloatCC::Equal, ai, bi);
            self.b.ins().band(r, i)
        } else {
            // One is real: compare it with the real part exactly, and the imaginary part with 0.
            let (c, x) = if is_complex(&ta) { (a, b) } else { (b, a) };
            let (re, im, f) = self.complex_expr(c)?;
            let (xv, xt) = self.expr(x)?;
            let r = self.compare(CmpOp::Eq, re, &Type::Float(f), xv, &xt);
            let zero = self.float_const(0.0, f);
            let i = self.b.ins().fcmp(FloatCC::Equal, im, zero);
            self.b.ins().band(r, i)
        };
        Ok(if op == CmpOp::Ne {
            self.b.ins().bxor_imm_u(eq, 1)
        } else {
            eq
        })
    }

    /// The Cranelift values that carry `v` (of type `t`) to C code, as [`abi_params`]
    /// lays them out: a `float _Complex` on x86-64 is both parts in one register.
    pub(super) fn abi_parts(&mut self, v: &KValue, t: &Type) -> R<Vec<Value>> {
        let n = abi_params(t).map_err(KernelError::Jit)?.len();
        Ok(match v {
            KValue::Complex { re, im } if n == 1 => {
                // Two floats packed into the low and high halves of one double.
                let flags = MemFlagsData::new();
                let r = self.b.ins().bitcast(clt::I32, flags, *re);
                let i = self.b.ins().bitcast(clt::I32, flags, *im);
                let r = self.b.ins().uextend(clt::I64, r);
                let i = self.b.ins().uextend(clt::I64, i);
                let i = self.b.ins().ishl_imm_u(i, 32);
                let both = self.b.ins().bor(r, i);
                vec![self.b.ins().bitcast(clt::F64, flags, both)]
            }
            v => v.parts(),
        })
    }

    /// The kernel value of type `t` that C code passed as `parts` (see [`Gen::abi_parts`]).
    pub(super) fn value_from_abi(&mut self, t: &Type, parts: &[Value]) -> KValue {
        match (t, parts) {
            (Type::Complex(_), [packed]) => {
                let flags = MemFlagsData::new();
                let both = self.b.ins().bitcast(clt::I64, flags, *packed);
                let hi = self.b.ins().ushr_imm_u(both, 32);
                let r = self.b.ins().ireduce(clt::I32, both);
                let i = self.b.ins().ireduce(clt::I32, hi);
                KValue::Complex {
                    re: self.b.ins().bitcast(clt::F32, flags, r),
                    im: self.b.ins().bitcast(clt::F32, flags, i),
                }
            }
            (Type::Complex(_), _) => KValue::from_parts(t, parts),
            _ => KValue::Scalar(parts[0]),
        }
    }

    /// The values passing argument `e` as a parameter of type `p`.
    pub(super) fn arg_parts(&mut self, e: &Expr, p: &Type) -> R<Vec<Value>> {
        if is_complex(p) {
            let v = self.value_as(e, p)?;
            self.abi_parts(&v, p)
        } else {
            Ok(vec![self.expr_as(e, p)?])
        }
    }

    /// `z op= e` on a complex local.
    pub(super) fn complex_aug_assign(&mut self, name: &str, op: BinOp, e: &Expr) -> R<()> {
        let t = self.vars[name].1.clone();
        let f = parts_of(&t);
        let (cur, _) = self.read(name);
        let KValue::Complex { re, im } = cur else {
            unreachable!("typed: '{name}' is complex")
        };
        let rhs = self.complex_as(e, f)?;
        let (re, im) = self.complex_binary(op, (re, im), rhs, f);
        self.write(name, &KValue::Complex { re, im });
        Ok(())
    }

    /// `p[i] = e` / `p[i] op= e` into an array or pointer of complex numbers.
    pub(super) fn complex_store(
        &mut self,
        p: &Expr,
        idx: &[Expr],
        op: Option<BinOp>,
        e: &Expr,
    ) -> R<()> {
        let (addr, elem) = self.element_address(p, idx)?;
        let f = parts_of(&elem);
        let rhs = self.complex_as(e, f)?;
        let v = match op {
            None => rhs,
            Some(op) => {
                let cur = self.load_complex(addr, f);
                self.complex_binary(op, cur, rhs, f)
            }
        };
        self.store_complex(addr, v, f);
        Ok(())
    }

    /// The values a `return e` of a complex (or any other) result hands back.
    pub(super) fn return_parts(&mut self, e: &Expr) -> R<Vec<Value>> {
        let ret = self.ret.clone();
        if is_complex(&ret) {
            let v = self.value_as(e, &ret)?;
            self.abi_parts(&v, &ret)
        } else {
            Ok(vec![self.expr_as(e, &ret)?])
        }
    }
}
