//! A kernel's entry: its parameters (from an adapted entry or a ufunc loop's arrays), and
//! the small function that hands a kernel that makes calls its thread's stack state.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, types as clt, InstBuilder, MemFlagsData, Value};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use crate::abi::Type;

use super::*;
use crate::jit::adapt::{self};
use crate::jit::ir::{Callee, Expr, Function, Stmt};

use super::call::inlines;
use crate::jit::lower::pointer_type;
use crate::jit::runtime;
use crate::jit::typing::{check_returns, falls_through};
use crate::jit::JitError;

/// The entry of a kernel that makes calls: fetch this thread's StackState once and pass
/// it to the body `body` as its last parameter.
pub(super) fn entry_for(
    module: &mut JITModule,
    body: FuncId,
    csig: ir::Signature,
) -> Result<(Context, FuncId), KernelError> {
    let id = module
        .declare_anonymous_function(&csig)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let ptr = pointer_type();
    let call_conv = csig.call_conv;
    let mut ctx = module.make_context();
    ctx.func.signature = csig;
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
    let mut vals = adapt::entry_block(&mut b);
    let mut hsig = ir::Signature::new(call_conv);
    hsig.returns.push(ir::AbiParam::new(ptr));
    let href = b.import_signature(hsig);
    let helper = b.ins().iconst(ptr, runtime::stack_state_address() as i64);
    let state = b.ins().call_indirect(href, helper, &[]);
    vals.push(b.inst_results(state)[0]);
    let body_ref = module.declare_func_in_func(body, b.func);
    let call = b.ins().call(body_ref, &vals);
    let rets = b.inst_results(call).to_vec();
    b.ins().return_(&rets);
    b.finalize(module.target_config());
    Ok((ctx, id))
}

/// Whether `body` (of `f`) calls anything but builtins and kernels it inlines (only such
/// a kernel can recurse).
pub(super) fn makes_calls(f: &Function, body: &[Stmt]) -> bool {
    body.iter().any(|s| {
        s.exprs().into_iter().any(|e| expr_calls(f, e))
            || s.blocks().into_iter().any(|b| makes_calls(f, b))
    })
}

/// Whether `e` (in `f`) calls anything but builtins and kernels it inlines.
fn expr_calls(f: &Function, e: &Expr) -> bool {
    match e {
        Expr::Call(Callee::Native(i), ..) if !inlines(f, *i) => true,
        Expr::Call(Callee::Builtin(_) | Callee::Native(_), ..) => {
            e.children().into_iter().any(|c| expr_calls(f, c))
        }
        Expr::Call(..) => true,
        _ => e.children().into_iter().any(|c| expr_calls(f, c)),
    }
}

impl Gen<'_, '_> {
    pub(super) fn body(&mut self) -> R<()> {
        let mut outer = adapt::entry_block(&mut self.b);
        if self.guarded {
            self.stack_state = outer.pop();
        }
        let params = match self.entry.clone() {
            None => outer,
            Some(e) => self.entry_params(&e, &outer)?,
        };
        // An array parameter's descriptor is read once, here; indexing uses its view. A
        // complex parameter comes as its parts (see `Gen::abi_parts`).
        let types = self.f.params.iter().map(|(_, t)| t);
        let parts = adapt::split_params(types, &params)?;
        let mut values: Vec<KValue> = Vec::with_capacity(parts.len());
        for ((_, t), p) in self.f.params.iter().zip(&parts) {
            let v = self.value_from_abi(t, p);
            values.push(v);
        }
        let params: Vec<Value> = parts.iter().map(|p| p[0]).collect();
        for (k, (_, t)) in self.f.params.iter().enumerate() {
            if let Type::Array {
                dtype,
                ndim,
                contiguous,
            } = t
            {
                let view = self.array_view(params[k], dtype, *ndim, *contiguous);
                values[k] = KValue::Array(view);
            }
        }
        self.define_variables(&values);
        self.declare_scratch();
        self.block(&self.f.body)?;
        debug_assert_eq!(!self.terminated, falls_through(&self.f.body));
        check_returns(self.f, &self.ret, false)?;
        if !self.terminated {
            self.free_scratch();
            self.b.ins().return_(&[]);
        }
        Ok(())
    }

    /// The body as a NumPy ufunc inner loop, `void (char **args, npy_intp const *dimensions,
    /// npy_intp const *steps, void *data)`: for each of `dimensions[0]` elements, the
    /// parameters are loaded from `args[k] + i * steps[k]`, the kernel body runs, and each
    /// `return v` stores `v` at the output and moves on to the next element.
    pub(super) fn ufunc_body(&mut self) -> R<()> {
        let outer = adapt::entry_block(&mut self.b);
        let (args_ptr, dims, steps) = (outer[0], outer[1], outer[2]);
        let flags = MemFlagsData::trusted();
        let n = self.b.ins().load(clt::I64, flags, dims, 0);
        let nin = self.f.params.len();
        let mut ins = Vec::with_capacity(nin);
        for k in 0..=nin {
            let p = self.b.ins().load(self.ptr, flags, args_ptr, (8 * k) as i32);
            let s = self.b.ins().load(clt::I64, flags, steps, (8 * k) as i32);
            ins.push((p, s));
        }
        let (out_ptr, out_step) = ins[nin];
        let index = self.b.declare_var(clt::I64);
        let zero = self.b.ins().iconst(clt::I64, 0);
        self.b.def_var(index, zero);
        let (bodyb, latch, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let any = self.b.ins().icmp(IntCC::SignedGreaterThan, n, zero);
        self.b.ins().brif(any, bodyb, &[], exit, &[]);
        self.b.switch_to_block(bodyb);
        let i = self.b.use_var(index);
        let mut params = Vec::with_capacity(nin);
        for (k, (_, t)) in self.f.params.iter().enumerate() {
            let (p, s) = ins[k];
            let off = self.b.ins().imul(i, s);
            let addr = self.b.ins().iadd(p, off);
            params.push(self.b.ins().load(clif(t), MemFlagsData::new(), addr, 0));
        }
        let values: Vec<KValue> = params.into_iter().map(KValue::Scalar).collect();
        self.define_variables(&values);
        self.declare_scratch();
        self.ufunc = Some(UfuncLoop {
            latch,
            out_ptr,
            out_step,
            index,
        });
        self.block(&self.f.body)?;
        debug_assert_eq!(!self.terminated, falls_through(&self.f.body));
        check_returns(self.f, &self.ret, true)?;
        self.b.seal_block(latch);
        self.b.switch_to_block(latch);
        let i = self.b.use_var(index);
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.def_var(index, next);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, next, n);
        self.b.ins().brif(more, bodyb, &[], exit, &[]);
        self.b.seal_block(bodyb);
        self.b.seal_block(exit);
        self.b.switch_to_block(exit);
        self.free_scratch();
        self.b.ins().return_(&[]);
        Ok(())
    }

    /// Give every parameter its value and every local zero (documented: Python would
    /// raise UnboundLocalError where a local is read before it is assigned).
    pub(super) fn define_variables(&mut self, params: &[KValue]) {
        let mut names: Vec<(String, Variable, Type)> = self
            .vars
            .iter()
            .map(|(n, (v, t))| (n.clone(), v[0], t.clone()))
            .collect();
        names.sort_by_key(|(_, v, _)| v.as_u32());
        for (name, _, t) in names {
            let v = match self.f.params.iter().position(|(p, _)| *p == name) {
                Some(k) => params[k].clone(),
                None => {
                    let parts: Vec<Value> = KValue::part_types(&t)
                        .into_iter()
                        .map(|ty| self.zero_of(ty))
                        .collect();
                    KValue::from_parts(&t, &parts)
                }
            };
            self.write(&name, &v);
        }
    }

    /// The kernel's parameters, read from an adapted entry's parameters.
    pub(super) fn entry_params(&mut self, e: &Entry, outer: &[Value]) -> R<Vec<Value>> {
        // The kernel's parameters as they would arrive in its own C signature (complex
        // ones as their parts), flattened.
        let parts = adapt::split_params(e.outer.arg_types(), outer)?;
        if let Some(g) = e.guard {
            adapt::count_guard(&mut self.b, g, &parts);
        }
        let types = self.f.params.iter().map(|(_, t)| t);
        let args = adapt::lower_args(&mut self.b, types, &e.sources, &parts)?;
        Ok(args.into_iter().flatten().collect())
    }
}
