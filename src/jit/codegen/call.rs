//! Calls (native functions, function pointers, the kernel itself, builtins) and the
//! stack checks around calls that may recurse.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, types as clt, InstBuilder, MemFlagsData, Value};

use crate::abi::{Signature, Type};

use super::*;
use crate::jit::adapt::clif_signature;
use crate::jit::ir::{Builtin, Callee, CmpOp, Expr, Function, MathFn, Span, Stmt};
use crate::jit::runtime;
use crate::jit::typing::{is_float, CompileError, Typer, I64};
use crate::jit::JitError;

/// The most statements and expressions a kernel may have (those of the kernels it inlines
/// in turn included) for its callers to generate its body in theirs instead of calling it.
pub(super) const INLINE_NODES: usize = 120;

/// How deeply inlined kernels may nest.
const INLINE_DEPTH: usize = 4;

/// Whether calls to `f.natives[i]` are inlined: each candidate is a kernel small enough
/// (see [`INLINE_NODES`]) that calls nothing but builtins and kernels inlined in turn,
/// so the body it brings can never recurse; it takes and returns no complex numbers.
pub(crate) fn inlines(f: &Function, i: usize) -> bool {
    inline_size(f, i, 0).is_some()
}

/// How many nodes inlining a call to `f.natives[i]` brings (its largest candidate's).
fn inline_size(f: &Function, i: usize, depth: usize) -> Option<usize> {
    let targets = &f.natives.get(i)?.targets;
    if targets.is_empty() || depth >= INLINE_DEPTH {
        return None;
    }
    let mut most = 0;
    for t in targets {
        let g = t.kernel.as_deref()?;
        let complex = |t: &Type| matches!(t, Type::Complex(_));
        if !t.hidden.is_empty() || complex(&t.visible.ret) || t.visible.arg_types().any(complex) {
            return None;
        }
        let mut n = 0;
        for s in &g.body {
            n += stmt_nodes(g, s, depth)?;
        }
        most = most.max(n);
    }
    (most <= INLINE_NODES).then_some(most)
}

/// The nodes of `s` (in `g`, inlined `depth` deep), or `None` if it makes a call that is
/// not inlined.
fn stmt_nodes(g: &Function, s: &Stmt, depth: usize) -> Option<usize> {
    let exprs = s.exprs().into_iter().map(|x| expr_nodes(g, x, depth));
    let blocks = s
        .blocks()
        .into_iter()
        .flatten()
        .map(|s| stmt_nodes(g, s, depth));
    Some(1 + exprs.chain(blocks).sum::<Option<usize>>()?)
}

/// The nodes of `x` (in `g`, inlined `depth` deep), or `None` if it makes a call that is
/// not inlined.
fn expr_nodes(g: &Function, x: &Expr, depth: usize) -> Option<usize> {
    let own = match x {
        // A scratch array is freed at its kernel's returns: a callee making one stays a call.
        Expr::Call(Callee::Builtin(Builtin::Scratch { .. }), ..) => return None,
        Expr::Call(Callee::Builtin(_), ..) => 0,
        Expr::Call(Callee::Native(i), ..) => inline_size(g, *i, depth + 1)?,
        Expr::Call(..) => return None,
        _ => 0,
    };
    let inside = x.children().into_iter().map(|c| expr_nodes(g, c, depth));
    Some(1 + own + inside.sum::<Option<usize>>()?)
}

impl<'a> Gen<'a, '_> {
    /// `callee(cargs)`, a call that [`inlines`] says is inlined: the arguments are
    /// evaluated and converted as for a call, then the callee's body is generated here
    /// with its own locals (parameters bound to the arguments, the others zero), its
    /// `return`s going to a join block that takes the returned value. An error inside it
    /// (an index outside an array, a wrong ndim) records the error and gives the callee's
    /// error value to the caller, which goes on as after a call.
    fn inline(&mut self, callee: &'a Function, cargs: &[Expr]) -> R<(Value, Type)> {
        let types = Typer::run(callee)?;
        let mut vals = Vec::with_capacity(cargs.len());
        // Which arguments are the caller's own array parameters, whose descriptor (the
        // caller's DLTensor) says how many dimensions they have; every other view (a
        // `carray`, a scratch array, a row) has them by construction and no descriptor.
        let mut described = Vec::with_capacity(cargs.len());
        for (a, (_, p)) in cargs.iter().zip(&callee.params) {
            described.push(match a {
                Expr::Name(n, _) => {
                    self.f
                        .params
                        .iter()
                        .any(|(q, t)| q == n && matches!(t, Type::Array { .. }))
                        && !super::stmt::assigns(&self.f.body, n)
                }
                _ => false,
            });
            vals.push(match p {
                // The caller's view of the array: its descriptor is not read again.
                Type::Array { .. } => self.value(a)?.0,
                _ => KValue::Scalar(self.expr_as(a, p)?),
            });
        }
        // A parameter the callee never assigns keeps its argument's lower bound.
        let bounds = callee
            .params
            .iter()
            .zip(cargs)
            .filter(|((n, t), _)| *t == I64 && !super::stmt::assigns(&callee.body, n))
            .filter_map(|((n, _), a)| Some((n.clone(), self.lower_bound(a)?)))
            .collect();
        let join = self.b.create_block();
        let ret = types.ret.clone();
        if ret != Type::Void {
            self.b.append_block_param(join, clif(&ret));
        }
        // The caller's views were read without an ndim check: the callee checks them.
        let check_ndim = callee.boundscheck && !self.f.boundscheck;
        let vars = self.variables(&types);
        let caller = (
            std::mem::replace(&mut self.f, callee),
            std::mem::replace(&mut self.typer, Typer::with_types(callee, &types)),
            std::mem::replace(&mut self.vars, vars),
            std::mem::replace(&mut self.ret, ret.clone()),
            std::mem::take(&mut self.loops),
            std::mem::replace(&mut self.lower_bounds, bounds),
            std::mem::take(&mut self.scaled),
            self.inlined.replace(Inlined {
                join,
                ret: ret.clone(),
            }),
        );
        let body = self.inline_body(&vals, &described, check_ndim, join);
        (
            self.f,
            self.typer,
            self.vars,
            self.ret,
            self.loops,
            self.lower_bounds,
            self.scaled,
            self.inlined,
        ) = caller;
        body?;
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        self.terminated = false;
        let v = match ret {
            Type::Void => self.b.ins().iconst(clt::I8, 0),
            _ => self.b.block_params(join)[0],
        };
        Ok((v, ret))
    }

    /// The inlined callee's body, on its own locals bound to `vals`; it ends in `join`.
    /// With `check_ndim`, the arrays `described` by a descriptor have their ndim checked.
    fn inline_body(
        &mut self,
        vals: &[KValue],
        described: &[bool],
        check_ndim: bool,
        join: ir::Block,
    ) -> R<()> {
        if check_ndim {
            for ((v, (_, t)), d) in vals.iter().zip(&self.f.params).zip(described) {
                if let (KValue::Array(view), Type::Array { ndim, .. }, true) = (v, t, d) {
                    self.check_ndim(view.tensor, *ndim);
                }
            }
        }
        self.define_variables(vals);
        self.block(&self.f.body)?;
        if !self.terminated {
            debug_assert_eq!(self.ret, Type::Void, "typed: only a void kernel ends");
            self.b.ins().jump(join, &[]);
        }
        Ok(())
    }

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

    /// A call of a runtime helper that records an error for the thread (an index out of
    /// range, an empty reduction); the kernel then [records errors](Gen::records_errors).
    pub(super) fn call_void_helper(&mut self, address: usize, vals: &[Value]) {
        self.records_errors = true;
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
        if let Callee::Builtin(b) = callee {
            return self.builtin(e, *b, cargs);
        }
        // A call evaluated for one value: a complex result's first part is never used
        // (complex results are read by `complex_expr`).
        let (parts, t) = self.call_parts(callee, cargs, span)?;
        let v = match parts.first() {
            Some(v) => *v,
            None => self.b.ins().iconst(clt::I8, 0),
        };
        Ok((v, t))
    }

    /// A call to a native function, a function pointer or the kernel itself: the values
    /// of its result as the C ABI returns them (none for `void`, two for a complex
    /// number in float registers), and the result type.
    pub(super) fn call_parts(
        &mut self,
        callee: &Callee,
        cargs: &[Expr],
        span: Span,
    ) -> R<(Vec<Value>, Type)> {
        match callee {
            Callee::Builtin(_) => unreachable!("builtins are not calls"),
            Callee::Native(i) => {
                let mut types = Vec::with_capacity(cargs.len());
                for a in cargs {
                    types.push(self.ty(a)?);
                }
                let k = self.typer.resolve(*i, cargs, &types, span)?;
                let f: &'a Function = self.f;
                if inlines(f, *i) {
                    let callee = f.natives[*i].targets[k].kernel.as_deref();
                    let (v, t) = self.inline(callee.expect("an inlined kernel"), cargs)?;
                    // Complex results are not inlined (see `inline_size`): one part or none.
                    let parts = if t == Type::Void { Vec::new() } else { vec![v] };
                    return Ok((parts, t));
                }
                let target = self.f.natives[*i].targets[k].clone();
                let mut vals = Vec::with_capacity(cargs.len());
                for (a, p) in cargs.iter().zip(target.visible.arg_types()) {
                    vals.push(self.arg_parts(a, p)?);
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
                        None => raw_vals.extend(it.next().expect("visible argument")),
                    }
                }
                self.guard_call(true);
                let v = self.indirect_call(target.address, &target.raw, &raw_vals, None)?;
                self.guard_call(false);
                Ok((v, target.visible.ret.clone()))
            }
            Callee::Local(name) => {
                let (var, t) = self.scalar_var(name);
                let sig = t
                    .function_signature()
                    .cloned()
                    .expect("typed: a function pointer");
                let mut vals = Vec::with_capacity(cargs.len());
                for (a, p) in cargs.iter().zip(sig.arg_types()) {
                    vals.extend(self.arg_parts(a, p)?);
                }
                let fp = self.b.use_var(var);
                self.guard_call(true);
                let v = self.indirect_call(0, &sig, &vals, Some(fp))?;
                self.guard_call(false);
                Ok((v, sig.ret.clone()))
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
                    vals.extend(self.arg_parts(a, p)?);
                }
                vals.extend(self.stack_state);
                self.guard_call(true);
                let call = self.b.ins().call(self.self_ref, &vals);
                let v = self.b.inst_results(call).to_vec();
                self.guard_call(false);
                let ret = self.ret.clone();
                Ok((v, ret))
            }
        }
    }

    pub(super) fn indirect_call(
        &mut self,
        address: usize,
        sig: &Signature,
        vals: &[Value],
        fp: Option<Value>,
    ) -> R<Vec<Value>> {
        let csig = clif_signature(self.call_conv, sig)?;
        if csig.params.len() != vals.len() {
            return Err(JitError::Codegen(format!(
                "{} values for the parameters of '{sig}'",
                vals.len()
            ))
            .into());
        }
        let sref = self.b.import_signature(csig);
        let callee = match fp {
            Some(v) => v,
            None => self.iconst(self.ptr, address as i64),
        };
        let call = self.b.ins().call_indirect(sref, callee, vals);
        Ok(self.b.inst_results(call).to_vec())
    }

    pub(super) fn builtin(&mut self, e: &Expr, b: Builtin, cargs: &[Expr]) -> R<(Value, Type)> {
        if let Some(done) = self.real_of_complex_builtin(b, cargs)? {
            return Ok(done);
        }
        let rt = self.ty(e)?;
        let b = match b {
            // A NumPy function of real numbers is the math function of its name.
            Builtin::Cmath(m, true) => Builtin::Math(m.math().expect("typed: a real function")),
            Builtin::Real | Builtin::Conj => {
                let (v, t) = self.expr(&cargs[0])?;
                return Ok((self.convert(v, &t, &rt), rt));
            }
            Builtin::Imag => {
                self.expr(&cargs[0])?;
                return Ok((self.zero(&rt), rt));
            }
            b => b,
        };
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
            Builtin::Complex
            | Builtin::Real
            | Builtin::Imag
            | Builtin::Conj
            | Builtin::Cmath(..) => {
                unreachable!("typed: {b:?} with a real result is handled above")
            }
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
