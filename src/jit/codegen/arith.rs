//! Arithmetic operators and comparisons, as CPython computes them.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, types as clt, InstBuilder, MemFlagsData, Value};

use crate::abi::Type;

use super::*;
use crate::jit::ir::{BinOp, CmpOp, Span};
use crate::jit::runtime;
use crate::jit::typing::{binary_type, is_float, promote, I64};

/// The largest |n| for which a float `x ** n` with a constant `n` multiplies instead of
/// calling `pow` (beyond it the chain of products is slower than `pow`).
const MAX_POW_EXPONENT: i64 = 4;

impl Gen<'_, '_> {
    pub(super) fn compare(&mut self, op: CmpOp, a: Value, ta: &Type, b: Value, tb: &Type) -> Value {
        if matches!(ta, Type::Pointer { .. }) {
            let cc = if op == CmpOp::Eq {
                IntCC::Equal
            } else {
                IntCC::NotEqual
            };
            return self.b.ins().icmp(cc, a, b);
        }
        let p = promote(ta, tb).expect("typed: numbers");
        // A 64-bit int against a float compares exactly (converting the int could round).
        match (ta, tb) {
            (Type::Int(i), t) if clif(ta).bits() == 64 && is_float(t) => {
                let x = self.convert(b, tb, &Type::F64);
                return self.compare_int_float(op, a, i.signed(), x);
            }
            (t, Type::Int(i)) if clif(tb).bits() == 64 && is_float(t) => {
                let x = self.convert(a, ta, &Type::F64);
                return self.compare_int_float(op.swapped(), b, i.signed(), x);
            }
            // uint64 against a signed int: a negative one is smaller, else compare unsigned.
            (Type::Int(u), Type::Int(i)) if clif(ta).bits() == 64 && !u.signed() && i.signed() => {
                let s = self.convert(b, tb, &I64);
                return self.compare_signed_unsigned(op.swapped(), s, a);
            }
            (Type::Int(i), Type::Int(u)) if clif(tb).bits() == 64 && !u.signed() && i.signed() => {
                let s = self.convert(a, ta, &I64);
                return self.compare_signed_unsigned(op, s, b);
            }
            _ => {}
        }
        let (a, b) = (self.convert(a, ta, &p), self.convert(b, tb, &p));
        if is_float(&p) {
            self.b.ins().fcmp(float_cc(op), a, b)
        } else {
            let signed = matches!(p, Type::Int(i) if i.signed());
            self.b.ins().icmp(int_cc(op, signed), a, b)
        }
    }

    /// `s op u` for an int64 `s` and a uint64 `u`, exactly (promoting either to the
    /// other's type would wrap).
    pub(super) fn compare_signed_unsigned(&mut self, op: CmpOp, s: Value, u: Value) -> Value {
        let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, s, 0);
        let by_unsigned = self.b.ins().icmp(int_cc(op, false), s, u);
        let below = self.iconst(
            clt::I8,
            matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Ne) as i64,
        );
        self.b.ins().select(negative, below, by_unsigned)
    }

    /// `i op x` for an int64 (or uint64) `i` and a float64 `x`, exactly, as CPython's
    /// `float_richcompare`: converting `i` rounds, but rounding is monotonic, so where
    /// `float(i) != x` (or `x` is NaN) comparing `float(i)` with `x` gives the answer.
    /// Where `float(i) == x`, `x` is an integer within the int's range, or the first
    /// float past it (2**63, 2**64), and the ints are compared instead. Branch-free.
    pub(super) fn compare_int_float(
        &mut self,
        op: CmpOp,
        i: Value,
        signed: bool,
        x: Value,
    ) -> Value {
        let (fi, xi, top) = if signed {
            (
                self.b.ins().fcvt_from_sint(clt::F64, i),
                self.b.ins().fcvt_to_sint_sat(clt::I64, x),
                9223372036854775808.0,
            )
        } else {
            (
                self.b.ins().fcvt_from_uint(clt::F64, i),
                self.b.ins().fcvt_to_uint_sat(clt::I64, x),
                18446744073709551616.0,
            )
        };
        let by_float = self.b.ins().fcmp(float_cc(op), fi, x);
        let by_int = self.b.ins().icmp(int_cc(op, signed), i, xi);
        let top = self.b.ins().f64const(top);
        let past = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, top);
        let below = self.iconst(
            clt::I8,
            matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Ne) as i64,
        );
        let tie = self.b.ins().select(past, below, by_int);
        let rounded_equal = self.b.ins().fcmp(FloatCC::Equal, fi, x);
        self.b.ins().select(rounded_equal, tie, by_float)
    }

    /// Python's `min(a, b)` / `max(a, b)` on floats: `b if b < a else a` (or `>`), without
    /// a branch or a trip through integer registers: the compare and the blend run on
    /// one-lane vectors (`cmpltsd` + `blendvpd` on x86-64), which is what `minsd` does.
    pub(super) fn float_pick(&mut self, op: CmpOp, a: Value, b: Value, t: &Type) -> Value {
        let vty = if clif(t) == clt::F32 {
            clt::F32X4
        } else {
            clt::F64X2
        };
        let va = self.b.ins().splat(vty, a);
        let vb = self.b.ins().splat(vty, b);
        // Both as `<` (max(a, b) is `b if a < b else a`): the forms Cranelift turns into
        // minpd/maxpd, whose semantics these are exactly.
        let mask = if op == CmpOp::Lt {
            self.b.ins().fcmp(FloatCC::LessThan, vb, va)
        } else {
            self.b.ins().fcmp(FloatCC::LessThan, va, vb)
        };
        let mask = self.b.ins().bitcast(vty, MemFlagsData::new(), mask);
        let picked = self.b.ins().bitselect(mask, vb, va);
        self.b.ins().extractlane(picked, 0)
    }

    pub(super) fn call_helper(
        &mut self,
        address: usize,
        params: &[ir::Type],
        ret: ir::Type,
        vals: &[Value],
    ) -> Value {
        let mut sig = ir::Signature::new(self.call_conv);
        sig.params
            .extend(params.iter().map(|t| ir::AbiParam::new(*t)));
        sig.returns.push(ir::AbiParam::new(ret));
        let sref = self.b.import_signature(sig);
        let callee = self.iconst(self.ptr, address as i64);
        let call = self.b.ins().call_indirect(sref, callee, vals);
        self.b.inst_results(call)[0]
    }

    pub(super) fn binary(
        &mut self,
        op: BinOp,
        a: Value,
        ta: &Type,
        b: Value,
        tb: &Type,
        span: Span,
    ) -> R<(Value, Type)> {
        let rt = binary_type(op, ta, tb, span)?;
        if op == BinOp::Pow {
            if let Some(v) = self.pow_by_constant(a, ta, b, tb, &rt) {
                return Ok((v, rt));
            }
        }
        if matches!(op, BinOp::LShift | BinOp::RShift) {
            return Ok((self.shift(op, a, ta, b, tb, &rt), rt));
        }
        // Operands are converted to the result type, except `/` on ints (to float64).
        let p = if op == BinOp::Div {
            rt.clone()
        } else {
            promote(ta, tb).expect("numbers")
        };
        let p = if matches!(op, BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor) && rt == Type::Bool {
            Type::Bool
        } else {
            p
        };
        if op == BinOp::Div && !is_float(&promote(ta, tb).expect("numbers")) {
            let q = promote(ta, tb).expect("numbers");
            let (x, y) = (self.convert(a, ta, &q), self.convert(b, tb, &q));
            return Ok((self.int_true_div(x, y, &q), rt));
        }
        let (mut x, mut y) = (self.convert(a, ta, &p), self.convert(b, tb, &p));
        // `c * x` as `x * c` (and `c + x`): x86 reads a constant from memory only as the
        // second operand, so this saves materialising it in a register (on every
        // iteration, in a loop). The result is the same; with two NaN operands its sign
        // may be either's (docs/semantics.md).
        if matches!(op, BinOp::Add | BinOp::Mul)
            && self.is_float_const(x)
            && !self.is_float_const(y)
        {
            std::mem::swap(&mut x, &mut y);
        }
        let v = if is_float(&p) {
            match op {
                BinOp::Add | BinOp::Sub if self.f.fastmath && self.has_fma => {
                    self.contracted(op, x, y)
                }
                BinOp::Add => self.b.ins().fadd(x, y),
                BinOp::Sub => self.b.ins().fsub(x, y),
                BinOp::Mul => self.b.ins().fmul(x, y),
                BinOp::Div => self.b.ins().fdiv(x, y),
                BinOp::FloorDiv | BinOp::Mod | BinOp::Pow => {
                    let addr = match op {
                        BinOp::FloorDiv => runtime::py_floordiv_address(),
                        BinOp::Mod => runtime::py_fmod_address(),
                        _ => runtime::pow_address(),
                    };
                    let (x64, y64) = (
                        self.convert(x, &p, &Type::F64),
                        self.convert(y, &p, &Type::F64),
                    );
                    let r = self.call_helper(addr, &[clt::F64, clt::F64], clt::F64, &[x64, y64]);
                    self.convert(r, &Type::F64, &p)
                }
                _ => unreachable!("typed: no bit operations on floats"),
            }
        } else {
            let signed = matches!(p, Type::Int(i) if i.signed());
            match op {
                BinOp::Add => self.b.ins().iadd(x, y),
                BinOp::Sub => self.b.ins().isub(x, y),
                BinOp::Mul => self.b.ins().imul(x, y),
                BinOp::BitAnd => self.b.ins().band(x, y),
                BinOp::BitOr => self.b.ins().bor(x, y),
                BinOp::BitXor => self.b.ins().bxor(x, y),
                BinOp::FloorDiv | BinOp::Mod => self.int_divmod(op, x, y, clif(&p), signed),
                BinOp::Pow => {
                    let (x64, y64) = (self.convert(x, &p, &I64), self.convert(y, &p, &I64));
                    let r = self.call_helper(
                        runtime::ipow_address(),
                        &[clt::I64, clt::I64],
                        clt::I64,
                        &[x64, y64],
                    );
                    self.convert(r, &I64, &p)
                }
                BinOp::Div | BinOp::LShift | BinOp::RShift => unreachable!("handled above"),
            }
        };
        Ok((v, rt))
    }

    /// `x + y` or `x - y` under `fastmath`: where an operand is a product `a * b`, one
    /// fused multiply-add (rounded once) instead of the product's rounding and the sum's.
    fn contracted(&mut self, op: BinOp, x: Value, y: Value) -> Value {
        let product = |g: &Self, v: Value| match g.b.func.dfg.value_def(v) {
            ir::ValueDef::Result(inst, _) => match g.b.func.dfg.insts[inst] {
                ir::InstructionData::Binary {
                    opcode: ir::Opcode::Fmul,
                    args,
                } => Some((args[0], args[1])),
                _ => None,
            },
            _ => None,
        };
        match (op, product(self, x), product(self, y)) {
            (BinOp::Add, Some((a, b)), _) => self.b.ins().fma(a, b, y),
            (BinOp::Add, None, Some((a, b))) => self.b.ins().fma(a, b, x),
            (BinOp::Sub, Some((a, b)), _) => {
                let minus_y = self.b.ins().fneg(y);
                self.b.ins().fma(a, b, minus_y)
            }
            (BinOp::Sub, None, Some((a, b))) => {
                let minus_a = self.b.ins().fneg(a);
                self.b.ins().fma(minus_a, b, x)
            }
            (BinOp::Add, None, None) => self.b.ins().fadd(x, y),
            _ => self.b.ins().fsub(x, y),
        }
    }

    /// Branch on `cond` to a fresh fast-path block, which becomes current; returns the
    /// slow-path block and the join block, whose one parameter is the float64 result.
    fn fast_path_if(
        &mut self,
        cond: Value,
    ) -> (cranelift_codegen::ir::Block, cranelift_codegen::ir::Block) {
        let (fast, slow, done) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(done, clt::F64);
        self.b.ins().brif(cond, fast, &[], slow, &[]);
        self.b.seal_block(fast);
        self.b.seal_block(slow);
        self.b.switch_to_block(fast);
        (slow, done)
    }

    /// `x / y` on ints of type `t`, correctly rounded as CPython's: one `fdiv` when both
    /// are exact in float64 (always for 32 bits and less, else |v| <= 2**53, tested
    /// inline), the runtime's exact division otherwise.
    pub(super) fn int_true_div(&mut self, x: Value, y: Value, t: &Type) -> Value {
        let (fx, fy) = (
            self.convert(x, t, &Type::F64),
            self.convert(y, t, &Type::F64),
        );
        if clif(t).bits() < 64 {
            return self.b.ins().fdiv(fx, fy);
        }
        let signed = matches!(t, Type::Int(i) if i.signed());
        let exact = |s: &mut Self, v: Value| {
            // -2**53 <= v <= 2**53 (signed), v <= 2**53 (unsigned).
            let (v, bound) = if signed {
                (s.b.ins().iadd_imm_s(v, 1 << 53), 1i64 << 54)
            } else {
                (v, 1i64 << 53)
            };
            s.b.ins()
                .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, v, bound)
        };
        let (ex, ey) = (exact(self, x), exact(self, y));
        let both = self.b.ins().band(ex, ey);
        let (slow, done) = self.fast_path_if(both);
        let q = self.b.ins().fdiv(fx, fy);
        self.b.ins().jump(done, &args(&[q]));
        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let helper = if signed {
            runtime::int_true_divide_address()
        } else {
            runtime::uint_true_divide_address()
        };
        let q = self.call_helper(helper, &[clt::I64, clt::I64], clt::F64, &[x, y]);
        self.b.ins().jump(done, &args(&[q]));
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// `-v` for a float: its sign bit flipped, as CPython's negation, NaNs included. Not
    /// `fneg`: Cranelift's mid-end rewrites `fneg(x) * fneg(y)` to `x * y`, which gives a
    /// NaN operand's own sign where CPython's product carries the negated one. A constant
    /// operand is negated here, as `fneg` of a constant would have been folded.
    pub(super) fn float_neg(&mut self, v: Value) -> Value {
        if let ir::ValueDef::Result(inst, _) = self.b.func.dfg.value_def(v) {
            match self.b.func.dfg.insts[inst] {
                ir::InstructionData::UnaryIeee64 {
                    opcode: ir::Opcode::F64const,
                    imm,
                } => return self.b.ins().f64const(-imm),
                ir::InstructionData::UnaryIeee32 {
                    opcode: ir::Opcode::F32const,
                    imm,
                } => return self.b.ins().f32const(-imm),
                _ => {}
            }
        }
        let sign = match self.b.func.dfg.value_type(v) {
            clt::F32 => self.b.ins().f32const(-0.0),
            _ => self.b.ins().f64const(-0.0),
        };
        self.b.ins().bxor(v, sign)
    }

    /// The value of `v` if it is an integer constant.
    pub(super) fn const_int(&self, v: Value) -> Option<i64> {
        let ir::ValueDef::Result(inst, _) = self.b.func.dfg.value_def(v) else {
            return None;
        };
        match self.b.func.dfg.insts[inst] {
            ir::InstructionData::UnaryImm {
                opcode: ir::Opcode::Iconst,
                imm,
            } => Some(imm.bits()),
            _ => None,
        }
    }

    /// `x ** y` where the exponent `y` is a constant the code can do without `pow`: for
    /// floats a small integer (multiplications, correctly rounded) or 0.5 (a square root);
    /// for ints a small non-negative integer (multiplications, wrapping as `ipow` does).
    /// None where `pow` (or `ipow`) is still called.
    pub(super) fn pow_by_constant(
        &mut self,
        a: Value,
        ta: &Type,
        b: Value,
        tb: &Type,
        rt: &Type,
    ) -> Option<Value> {
        let exponent = match tb {
            Type::Int(_) => self.const_int(b).map(|n| n as f64),
            t if *t == Type::F64 => self.const_f64(b),
            _ => None,
        }?;
        if is_float(rt) {
            if *rt != Type::F64 {
                return None;
            }
            let x = self.convert(a, ta, &Type::F64);
            if exponent == 0.5 {
                return Some(self.pow_half(x));
            }
            if exponent.fract() != 0.0 || exponent.abs() > MAX_POW_EXPONENT as f64 {
                return None;
            }
            return Some(self.float_powi(x, exponent as i64));
        }
        let n = exponent as i64;
        if !(0..=64).contains(&n) || exponent.fract() != 0.0 {
            return None;
        }
        let x = self.convert(a, ta, rt);
        Some(self.int_powi(x, n as u32, clif(rt)))
    }

    /// Whether `v` is a float constant.
    pub(super) fn is_float_const(&self, v: Value) -> bool {
        let ir::ValueDef::Result(inst, _) = self.b.func.dfg.value_def(v) else {
            return false;
        };
        matches!(
            self.b.func.dfg.insts[inst],
            ir::InstructionData::UnaryIeee64 { .. } | ir::InstructionData::UnaryIeee32 { .. }
        )
    }

    /// The value of `v` if it is a float64 constant.
    pub(super) fn const_f64(&self, v: Value) -> Option<f64> {
        let ir::ValueDef::Result(inst, _) = self.b.func.dfg.value_def(v) else {
            return None;
        };
        match self.b.func.dfg.insts[inst] {
            ir::InstructionData::UnaryIeee64 {
                opcode: ir::Opcode::F64const,
                imm,
            } => Some(f64::from_bits(imm.bits())),
            _ => None,
        }
    }

    /// `x ** n` on ints by repeated squaring, unrolled, wrapping (the same bits as the
    /// runtime's `ipow`: wrapping products do not depend on the order of the factors).
    fn int_powi(&mut self, x: Value, n: u32, ty: ir::Type) -> Value {
        let mut result: Option<Value> = None;
        let (mut base, mut e) = (x, n);
        while e > 0 {
            if e & 1 == 1 {
                result = Some(match result {
                    None => base,
                    Some(r) => self.b.ins().imul(r, base),
                });
            }
            e >>= 1;
            if e > 0 {
                base = self.b.ins().imul(base, base);
            }
        }
        result.unwrap_or_else(|| self.iconst(ty, 1))
    }

    /// `x ** 0.5` as CPython computes it, by `sqrt`: `(-inf) ** 0.5` is inf (sqrt gives
    /// nan) and `(-0.0) ** 0.5` is 0.0 (sqrt gives -0.0; adding 0.0 turns it positive
    /// and leaves every other result, NaNs included, as it is).
    fn pow_half(&mut self, x: Value) -> Value {
        let root = self.b.ins().sqrt(x);
        let zero = self.b.ins().f64const(0.0);
        let root = self.b.ins().fadd(root, zero);
        let minus_inf = self.b.ins().f64const(f64::NEG_INFINITY);
        let inf = self.b.ins().f64const(f64::INFINITY);
        let is_minus_inf = self.b.ins().fcmp(FloatCC::Equal, x, minus_inf);
        self.b.ins().select(is_minus_inf, inf, root)
    }

    /// `x ** n` on float64 for a constant integer `n`, correctly rounded (C's `pow` is
    /// within a little over half an ulp, so the two can differ in the last bit): 0, 1, 2
    /// and -1 exactly as IEEE operations (`1.0`, `x`, `x * x`, `1.0 / x`); other
    /// exponents in double-double arithmetic (with fused multiply-adds) for bases whose
    /// powers stay well inside the normal range, through `pow` for the others (zeros,
    /// infinities, NaNs, huge and tiny bases) and on hosts without FMA.
    fn float_powi(&mut self, x: Value, n: i64) -> Value {
        match n {
            0 => return self.b.ins().f64const(1.0),
            1 => return x,
            2 => return self.b.ins().fmul(x, x),
            -1 => {
                let one = self.b.ins().f64const(1.0);
                return self.b.ins().fdiv(one, x);
            }
            _ => {}
        }
        let call_pow = |g: &mut Self| {
            let y = g.b.ins().f64const(n as f64);
            g.call_helper(
                runtime::pow_address(),
                &[clt::F64, clt::F64],
                clt::F64,
                &[x, y],
            )
        };
        if !self.has_fma {
            return call_pow(self);
        }
        // |x| in [2**-(900/|n|), 2**(900/|n|)]: every partial product and its error term
        // is a normal number, so the error terms are exact.
        let k = 900 / n.unsigned_abs() as i32;
        let a = self.b.ins().fabs(x);
        let lo = self.b.ins().f64const(2f64.powi(-k));
        let hi = self.b.ins().f64const(2f64.powi(k));
        let above = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, a, lo);
        let below = self.b.ins().fcmp(FloatCC::LessThanOrEqual, a, hi);
        let inside = self.b.ins().band(above, below);
        let (slow, done) = self.fast_path_if(inside);
        // (h, l): x ** |n| as an unevaluated sum, multiplied up one factor at a time.
        let (mut h, mut l) = (x, None::<Value>);
        for _ in 1..n.unsigned_abs() {
            let p = self.b.ins().fmul(h, x);
            // (NaNs never reach here, so `fneg`'s rewrites cannot change a sign.)
            let neg_p = self.b.ins().fneg(p);
            let pe = self.b.ins().fma(h, x, neg_p);
            let tail = match l {
                None => pe,
                Some(l) => {
                    let lx = self.b.ins().fmul(l, x);
                    self.b.ins().fadd(pe, lx)
                }
            };
            // |tail| stays within an ulp or so of |p|: (p, tail) is x ** k to about
            // 2**-100 relative, so the last rounding of p + tail is the correct one.
            (h, l) = (p, Some(tail));
        }
        let l = l.expect("|n| >= 2");
        let r = if n > 0 {
            self.b.ins().fadd(h, l)
        } else {
            // 1 / (h + l): r0 = 1/h, corrected by the exact residual 1 - h*r0 minus l*r0.
            let one = self.b.ins().f64const(1.0);
            let r0 = self.b.ins().fdiv(one, h);
            let neg_h = self.b.ins().fneg(h);
            let e = self.b.ins().fma(neg_h, r0, one);
            let lr = self.b.ins().fmul(l, r0);
            let e = self.b.ins().fsub(e, lr);
            self.b.ins().fma(r0, e, r0)
        };
        self.b.ins().jump(done, &args(&[r]));
        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let r = call_pow(self);
        self.b.ins().jump(done, &args(&[r]));
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// Python's `//` and `%` on integers; by zero both give 0 (as NumPy), never a trap.
    pub(super) fn int_divmod(
        &mut self,
        op: BinOp,
        x: Value,
        y: Value,
        ty: ir::Type,
        signed: bool,
    ) -> Value {
        // A positive power-of-two constant divisor: Python's floor semantics are exactly
        // an arithmetic shift and a mask, for either sign of `x`.
        if let Some(c) = self
            .const_int(y)
            .filter(|c| *c > 0 && (*c as u64).is_power_of_two())
        {
            if c < (1i64 << (ty.bits() - 1).min(62)) {
                let k = c.trailing_zeros() as i64;
                return if op == BinOp::FloorDiv {
                    if signed {
                        self.b.ins().sshr_imm_u(x, k)
                    } else {
                        self.b.ins().ushr_imm_u(x, k)
                    }
                } else {
                    let m = self.iconst(ty, c - 1);
                    self.b.ins().band(x, m)
                };
            }
        }
        let zero = self.iconst(ty, 0);
        let one = self.iconst(ty, 1);
        let by_zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        if !signed {
            let safe = self.b.ins().select(by_zero, one, y);
            let r = if op == BinOp::FloorDiv {
                self.b.ins().udiv(x, safe)
            } else {
                self.b.ins().urem(x, safe)
            };
            return self.b.ins().select(by_zero, zero, r);
        }
        // MIN // -1 overflows (and traps in hardware): divide by 1 instead, which gives the
        // wrapped result MIN for `//` and 0 for `%`.
        let min = self.iconst(ty, i64::MIN >> (64 - ty.bits()));
        let minus_one = self.iconst(ty, -1);
        let is_min = self.b.ins().icmp(IntCC::Equal, x, min);
        let is_m1 = self.b.ins().icmp(IntCC::Equal, y, minus_one);
        let overflow = self.b.ins().band(is_min, is_m1);
        let bad = self.b.ins().bor(by_zero, overflow);
        let safe = self.b.ins().select(bad, one, y);
        let q = self.b.ins().sdiv(x, safe);
        let r = self.b.ins().srem(x, safe);
        // Floor semantics: a nonzero remainder whose sign differs from the divisor's.
        let r_nonzero = self.b.ins().icmp_imm_s(IntCC::NotEqual, r, 0);
        let sign = self.b.ins().bxor(r, safe);
        let differ = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, sign, 0);
        let adjust = self.b.ins().band(r_nonzero, differ);
        let out = if op == BinOp::FloorDiv {
            let q1 = self.b.ins().isub(q, one);
            self.b.ins().select(adjust, q1, q)
        } else {
            let r1 = self.b.ins().iadd(r, safe);
            self.b.ins().select(adjust, r1, r)
        };
        self.b.ins().select(by_zero, zero, out)
    }

    /// Shifts: a count outside 0..bits gives 0 (or the sign for `>>` of a negative number).
    pub(super) fn shift(
        &mut self,
        op: BinOp,
        a: Value,
        ta: &Type,
        b: Value,
        tb: &Type,
        rt: &Type,
    ) -> Value {
        let x = self.convert(a, ta, rt);
        let n = self.convert(b, tb, &I64);
        let ty = clif(rt);
        let bits = ty.bits() as i64;
        let in_range = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, n, bits);
        let n = if ty.bits() < 64 {
            self.b.ins().ireduce(ty, n)
        } else {
            n
        };
        let signed = matches!(rt, Type::Int(i) if i.signed());
        let (shifted, fallback) = if op == BinOp::LShift {
            (self.b.ins().ishl(x, n), self.iconst(ty, 0))
        } else if signed {
            (
                self.b.ins().sshr(x, n),
                self.b.ins().sshr_imm_u(x, bits - 1),
            )
        } else {
            (self.b.ins().ushr(x, n), self.iconst(ty, 0))
        };
        self.b.ins().select(in_range, shifted, fallback)
    }
}

pub(super) fn float_cc(op: CmpOp) -> FloatCC {
    match op {
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
    }
}

pub(super) fn int_cc(op: CmpOp, signed: bool) -> IntCC {
    match (op, signed) {
        (CmpOp::Eq, _) => IntCC::Equal,
        (CmpOp::Ne, _) => IntCC::NotEqual,
        (CmpOp::Lt, true) => IntCC::SignedLessThan,
        (CmpOp::Le, true) => IntCC::SignedLessThanOrEqual,
        (CmpOp::Gt, true) => IntCC::SignedGreaterThan,
        (CmpOp::Ge, true) => IntCC::SignedGreaterThanOrEqual,
        (CmpOp::Lt, false) => IntCC::UnsignedLessThan,
        (CmpOp::Le, false) => IntCC::UnsignedLessThanOrEqual,
        (CmpOp::Gt, false) => IntCC::UnsignedGreaterThan,
        (CmpOp::Ge, false) => IntCC::UnsignedGreaterThanOrEqual,
    }
}
