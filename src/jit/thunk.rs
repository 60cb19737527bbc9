//! Thunks: small generated functions that call another function with a different signature.

use std::sync::Arc;

use cranelift_codegen::ir::{self, AbiParam, InstBuilder};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::Module;

use crate::abi::{Signature, Type};

use super::code::{new_module, CodeMemory};
use super::lower::{abi_params, float_registers_suffice, pointer_type};
use super::JitError;

/// Generated code and its entry point. The address is valid while `code` is alive.
#[derive(Clone)]
pub struct Thunk {
    /// The entry point.
    pub address: usize,
    /// The memory that holds it.
    pub code: Arc<CodeMemory>,
}

fn clif_signature(module: &impl Module, sig: &Signature) -> Result<ir::Signature, JitError> {
    let mut s = module.make_signature();
    for p in &sig.params {
        s.params.extend(abi_params(&p.ty)?);
    }
    s.returns.extend(abi_params(&sig.ret)?);
    let has_complex = sig
        .arg_types()
        .chain([&sig.ret])
        .any(|t| matches!(t, Type::Complex(_)));
    let in_registers = float_registers_suffice(&s.params) && s.returns.len() <= 2;
    if has_complex && !in_registers {
        return Err(JitError::Unsupported(format!(
            "complex values in '{sig}' would not all travel in registers"
        )));
    }
    Ok(s)
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
    let mut module = new_module()?;
    let outer = clif_signature(&module, &visible)?;
    let inner = clif_signature(&module, raw)?;
    let mut ctx = module.make_context();
    ctx.func.signature = outer.clone();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let incoming: Vec<ir::Value> = b.block_params(block).to_vec();
        let mut incoming = incoming.into_iter();
        let mut args = Vec::new();
        for (index, p) in raw.params.iter().enumerate() {
            let parts = abi_params(&p.ty)?;
            match hidden.iter().find(|(h, _)| *h == index) {
                Some((_, bits)) => {
                    for part in &parts {
                        args.push(constant(&mut b, part, *bits)?);
                    }
                }
                None => args.extend(incoming.by_ref().take(parts.len())),
            }
        }
        let sig_ref = b.import_signature(inner);
        let callee = b.ins().iconst(pointer_type(), target as i64);
        let call = b.ins().call_indirect(sig_ref, callee, &args);
        let results = b.inst_results(call).to_vec();
        b.ins().return_(&results);
        b.finalize(module.target_config());
    }
    let id = module
        .declare_anonymous_function(&outer)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    module
        .define_function(id, &mut ctx)
        .map_err(|e| JitError::Codegen(format!("{e:?}")))?;
    let bytes = ctx
        .compiled_code()
        .map(|c| c.code_buffer().len())
        .unwrap_or(0);
    module.clear_context(&mut ctx);
    module
        .finalize_definitions()
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let address = module.get_finalized_function(id) as usize;
    Ok(Thunk {
        address,
        code: Arc::new(CodeMemory::new(module, bytes)),
    })
}

fn constant(
    b: &mut FunctionBuilder<'_>,
    part: &AbiParam,
    bits: u64,
) -> Result<ir::Value, JitError> {
    let t = part.value_type;
    Ok(if t.is_float() {
        if t == ir::types::F32 {
            b.ins().f32const(f32::from_bits(bits as u32))
        } else {
            b.ins().f64const(f64::from_bits(bits))
        }
    } else {
        b.ins().iconst(t, bits as i64)
    })
}
