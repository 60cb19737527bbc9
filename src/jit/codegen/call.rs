//! Calls (native functions, function pointers, the kernel itself, builtins) and the
//! stack checks around calls that may recurse.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, types as clt, InstBuilder, MemFlagsData, Value};

use crate::abi::{Signature, Type};

use super::*;
use crate::jit::adapt::clif_signature;
use crate::jit::ir::{Builtin, Callee, CmpOp, Expr, MathFn, Span};
use crate::jit::runtime;
use crate::jit::typing::{is_float, CompileError, I64};
use crate::jit::JitError;

impl Gen<'_, '_> {
    /// Around a call that may reach this kernel again (directly, or through a function
    /// pointer or native code), in a kernel that checks the stack: `before`, return the
    /// error value if the stack pointer is below this thread's limit (marking the thread
    /// as unwinding and recording a recursion error); after, return it if the thread is
    /// unwinding, so that no caller goes on or recurses again.
    pub(super) fn guard_call(&mut self, before: bool) {
        let Some(state) = self.stack_state else {
            return;
        };
        let flags = MemFlagsData::trusted();
        let stop = if before {
            let sp = self.b.ins().get_stack_pointer(self.ptr);
            let limit = self
                .b
                .ins()
                .load(self.ptr, flags, state, runtime::STACK_LIMIT_OFFSET);
            self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit)
        } else {
            self.b
                .ins()
                .load(clt::I8, flags, state, runtime::STACK_UNWINDING_OFFSET)
        };
        let (bad, good) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(bad);
        self.b.ins().brif(stop, bad, &[], good, &[]);
        self.b.seal_block(bad);
        self.b.seal_block(good);
        self.b.switch_to_block(bad);
        if before {
            let one = self.b.ins().iconst(clt::I8, 1);
            self.b
                .ins()
                .store(flags, one, state, runtime::STACK_UNWINDING_OFFSET);
            self.b
                .ins()
                .store(flags, one, state, runtime::STACK_ERROR_OFFSET);
        }
        self.return_error_value();
        self.b.switch_to_block(good);
    }

    pub(super) fn call_void_helper(&mut self, address: usize, vals: &[Value]) {
        let mut sig = ir::Signature::new(self.call_conv);
        sig.params
            .extend(vals.iter().map(|_| ir::AbiParam::new(clt::I64)));
        let sref = self.b.import_signature(sig);
        let callee = self.iconst(self.ptr, address as i64);
        self.b.ins().call_indirect(sref, callee, vals);
    }
    pub(super) fn call(
        &mut self,
        e: &Expr,
        callee: &Callee,
        cargs: &[Expr],
        span: Span,
    ) -> R<(Value, Type)> {
        match callee {
            Callee::Builtin(b) => self.builtin(e, *b, cargs),
            Callee::Native(i) => {
                let mut types = Vec::with_capacity(cargs.len());
                for a in cargs {
                    types.push(self.ty(a)?);
                }
                let k = self.typer.resolve(*i, cargs, &types, span)?;
                let target = self.f.natives[*i].targets[k].clone();
                let mut vals = Vec::with_capacity(cargs.len());
                for (a, p) in cargs.iter().zip(target.visible.arg_types()) {
                    vals.push(self.expr_as(a, p)?);
                }
                // Hidden constants go in at their raw positions.
                let mut raw_vals = Vec::with_capacity(target.raw.params.len());
                let mut it = vals.into_iter();
                for (pos, p) in target.raw.params.iter().enumerate() {
                    match target.hidden.iter().find(|(h, _)| *h == pos) {
                        Some((_, bits)) => {
                            let c = match clif(&p.ty) {
                                clt::F32 => self.b.ins().f32const(f32::from_bits(*bits as u32)),
                                clt::F64 => self.b.ins().f64const(f64::from_bits(*bits)),
                                ty => self.iconst(ty, *bits as i64),
                            };
                            raw_vals.push(c);
                        }
                        None => raw_vals.push(it.next().expect("visible argument")),
                    }
                }
                self.guard_call(true);
                let v = self.indirect_call(target.address, &target.raw, &raw_vals, None)?;
                self.guard_call(false);
                Ok((
                    v.unwrap_or_else(|| self.b.ins().iconst(clt::I8, 0)),
                    target.visible.ret.clone(),
                ))
            }
            Callee::Local(name) => {
                let (var, t) = self.scalar_var(name);
                let sig = t
                    .function_signature()
                    .cloned()
                    .expect("typed: a function pointer");
                let mut vals = Vec::with_capacity(cargs.len());
                for (a, p) in cargs.iter().zip(sig.arg_types()) {
                    vals.push(self.expr_as(a, p)?);
                }
                let fp = self.b.use_var(var);
                self.guard_call(true);
                let v = self.indirect_call(0, &sig, &vals, Some(fp))?;
                self.guard_call(false);
                Ok((
                    v.unwrap_or_else(|| self.b.ins().iconst(clt::I8, 0)),
                    sig.ret.clone(),
                ))
            }
            Callee::SelfCall => {
                if self.entry.is_some() || self.ufunc.is_some() {
                    // The function's own entry is the adapted one or a ufunc loop: recursion
                    // needs a thunk (adapters fall back to one) and ufunc loops refuse it.
                    return Err(CompileError::unsupported(
                        span,
                        "a recursive kernel cannot be a ufunc loop: call a @nativecall.jit kernel \
                         from the vectorized function instead",
                    )
                    .into());
                }
                let params: Vec<Type> = self.f.params.iter().map(|(_, t)| t.clone()).collect();
                let mut vals = Vec::with_capacity(cargs.len());
                for (a, p) in cargs.iter().zip(&params) {
                    vals.push(self.expr_as(a, p)?);
                }
                vals.extend(self.stack_state);
                self.guard_call(true);
                let call = self.b.ins().call(self.self_ref, &vals);
                let v = self.b.inst_results(call).first().copied();
                self.guard_call(false);
                let ret = self.ret.clone();
                Ok((v.unwrap_or_else(|| self.b.ins().iconst(clt::I8, 0)), ret))
            }
        }
    }

    pub(super) fn indirect_call(
        &mut self,
        address: usize,
        sig: &Signature,
        vals: &[Value],
        fp: Option<Value>,
    ) -> R<Option<Value>> {
        let csig = clif_signature(self.call_conv, sig)?;
        if csig.params.len() != vals.len() || csig.returns.len() > 1 {
            return Err(JitError::Unsupported(format!(
                "calls to '{sig}' from kernels (complex values)"
            ))
            .into());
        }
        let sref = self.b.import_signature(csig);
        let callee = match fp {
            Some(v) => v,
            None => self.iconst(self.ptr, address as i64),
        };
        let call = self.b.ins().call_indirect(sref, callee, vals);
        Ok(self.b.inst_results(call).first().copied())
    }

    pub(super) fn builtin(&mut self, e: &Expr, b: Builtin, cargs: &[Expr]) -> R<(Value, Type)> {
        let rt = self.ty(e)?;
        if let Builtin::Reduce(r) = b {
            return Ok((self.reduction(r, &cargs[0], &rt)?, rt));
        }
        if let Builtin::Scratch { .. } = b {
            // Only as a local's value (typing): its descriptor part is NULL.
            let _ = self.value(e)?;
            return Ok((self.iconst(self.ptr, 0), rt));
        }
        let mut vals = Vec::with_capacity(cargs.len());
        for a in cargs {
            vals.push(self.expr(a)?);
        }
        Ok(match b {
            Builtin::Abs => {
                let (v, t) = &vals[0];
                let v = self.convert(*v, t, &rt);
                let out = if is_float(&rt) {
                    self.b.ins().fabs(v)
                } else if matches!(rt, Type::Int(i) if i.signed()) {
                    let neg = self.b.ins().ineg(v);
                    let is_neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, v, 0);
                    self.b.ins().select(is_neg, neg, v)
                } else {
                    v
                };
                (out, rt)
            }
            Builtin::Min | Builtin::Max => {
                // Python: min(a, b) is b if b < a else a (so a NaN first argument stays).
                let (mut acc, mut at) = vals[0].clone();
                acc = self.convert(acc, &at, &rt);
                at = rt.clone();
                for (v, t) in &vals[1..] {
                    let v = self.convert(*v, t, &rt);
                    let op = if b == Builtin::Min {
                        CmpOp::Lt
                    } else {
                        CmpOp::Gt
                    };
                    acc = if is_float(&rt) {
                        self.float_pick(op, acc, v, &rt)
                    } else {
                        let better = self.compare(op, v, &rt, acc, &at);
                        self.b.ins().select(better, v, acc)
                    };
                }
                (acc, rt)
            }
            Builtin::Len => (self.shape_of(&cargs[0], 0, Some(vals[0].0))?, I64),
            Builtin::Int | Builtin::Float | Builtin::Bool => {
                let (v, t) = &vals[0];
                (self.convert(*v, t, &rt), rt)
            }
            Builtin::Numpy(f) => (self.numpy_call(f, &vals, &rt), rt),
            Builtin::Reduce(_) | Builtin::Scratch { .. } => {
                unreachable!("typed: arrays, made by Gen::value")
            }
            Builtin::Math(m) => {
                if matches!(m, MathFn::Floor | MathFn::Ceil | MathFn::Trunc)
                    && !is_float(&vals[0].1)
                {
                    // Python: an int's floor, ceil and trunc are the int itself.
                    let (v, t) = &vals[0];
                    return Ok((self.convert(*v, t, &rt), rt));
                }
                let xs: Vec<Value> = vals
                    .iter()
                    .map(|(v, t)| self.convert(*v, t, &Type::F64))
                    .collect();
                let x = xs[0];
                let out = match m {
                    MathFn::Sqrt => self.b.ins().sqrt(x),
                    MathFn::Fabs => self.b.ins().fabs(x),
                    MathFn::Copysign => self.b.ins().fcopysign(x, xs[1]),
                    MathFn::Floor | MathFn::Ceil | MathFn::Trunc => {
                        let r = match m {
                            MathFn::Floor => self.b.ins().floor(x),
                            MathFn::Ceil => self.b.ins().ceil(x),
                            _ => self.b.ins().trunc(x),
                        };
                        self.b.ins().fcvt_to_sint_sat(clt::I64, r)
                    }
                    MathFn::Isnan => self.b.ins().fcmp(FloatCC::Unordered, x, x),
                    MathFn::Isinf | MathFn::Isfinite => {
                        let a = self.b.ins().fabs(x);
                        let inf = self.b.ins().f64const(f64::INFINITY);
                        let cc = if m == MathFn::Isinf {
                            FloatCC::Equal
                        } else {
                            FloatCC::LessThan
                        };
                        self.b.ins().fcmp(cc, a, inf)
                    }
                    MathFn::Log if xs.len() == 2 => {
                        let (addr, _) =
                            runtime::math_helper(MathFn::Log, self.f.python).expect("log helper");
                        let num = self.call_helper(addr, &[clt::F64], clt::F64, &[xs[0]]);
                        let den = self.call_helper(addr, &[clt::F64], clt::F64, &[xs[1]]);
                        self.b.ins().fdiv(num, den)
                    }
                    _ => {
                        let (addr, n) = runtime::math_helper(m, self.f.python)
                            .expect("a helper for every other math function");
                        self.call_helper(addr, &vec![clt::F64; n], clt::F64, &xs[..n])
                    }
                };
                (out, rt)
            }
        })
    }
}
