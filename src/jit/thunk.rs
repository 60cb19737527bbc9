//! Thunks: small generated functions that call another function with a different signature.

use std::sync::Arc;

use cranelift_codegen::ir::{self, InstBuilder};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::Module;

use crate::abi::Signature;

use super::adapt::{
    check_sources, clif_signature, count_guard, entry_block, lower_args, split_params,
};
pub(super) use super::adapt::{ArgSource, CountGuard};
use super::code::{finish, new_module, CodeMemory};
use super::lower::pointer_type;
use super::JitError;

/// Generated code and its entry point. The address is valid while `code` is alive.
#[derive(Clone)]
pub struct Thunk {
    /// The entry point.
    pub address: usize,
    /// The memory that holds it.
    pub code: Arc<CodeMemory>,
}

/// A function with signature `raw` minus the parameters at the `hidden` positions,
/// which calls `target` (of signature `raw`) passing `value` (its bits, zero-extended)
/// at each hidden position.
pub fn constant_args_thunk(
    target: usize,
    raw: &Signature,
    hidden: &[(usize, u64)],
) -> Result<Thunk, JitError> {
    let visible = Signature {
        ret: raw.ret.clone(),
        params: raw
            .params
            .iter()
            .enumerate()
            .filter(|(i, _)| !hidden.iter().any(|(h, _)| h == i))
            .map(|(_, p)| p.clone())
            .collect(),
    };
    let mut next = 0;
    let sources: Vec<ArgSource> = (0..raw.params.len())
        .map(|i| match hidden.iter().find(|(h, _)| *h == i) {
            Some((_, bits)) => ArgSource::Const(*bits),
            None => {
                next += 1;
                ArgSource::Param(next - 1)
            }
        })
        .collect();
    adapter_thunk(target, raw, &visible, &sources, None)
}

/// A thunk with signature `outer` that calls `target` (signature `inner`), building
/// each of its arguments as `sources` says.
pub fn adapter_thunk(
    target: usize,
    inner: &Signature,
    outer: &Signature,
    sources: &[ArgSource],
    guard: Option<CountGuard>,
) -> Result<Thunk, JitError> {
    check_sources(inner, outer, sources, guard)?;
    let mut module = new_module()?;
    let call_conv = module.isa().default_call_conv();
    let outer_sig = clif_signature(call_conv, outer)?;
    let inner_sig = clif_signature(call_conv, inner)?;
    let mut ctx = module.make_context();
    ctx.func.signature = outer_sig.clone();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let flat = entry_block(&mut b);
        let parts = split_params(outer.arg_types(), &flat)?;
        if let Some(g) = guard {
            count_guard(&mut b, g, &parts);
        }
        let args: Vec<ir::Value> = lower_args(&mut b, inner.arg_types(), sources, &parts)?
            .into_iter()
            .flatten()
            .collect();
        let sig_ref = b.import_signature(inner_sig);
        let callee = b.ins().iconst(pointer_type(), target as i64);
        let call = b.ins().call_indirect(sig_ref, callee, &args);
        let results = b.inst_results(call).to_vec();
        b.ins().return_(&results);
        b.finalize(module.target_config());
    }
    let id = module
        .declare_anonymous_function(&outer_sig)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let (address, code) = finish(module, id, &mut ctx)?;
    Ok(Thunk { address, code })
}
