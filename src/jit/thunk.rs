//! Thunks: small generated functions that call another function with a different signature.

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlagsData};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::Module;

use crate::abi::{Signature, Type};

use super::code::{finish, new_module, CodeMemory};
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

pub(super) fn clif_signature(
    module: &impl Module,
    sig: &Signature,
) -> Result<ir::Signature, JitError> {
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

/// Where an adapter thunk gets one argument of the function it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgSource {
    /// The thunk's own parameter at this index, passed through unchanged.
    Param(usize),
    /// A constant (its bits, zero-extended).
    Const(u64),
    /// A value of the callee's parameter type, loaded at `offset` bytes from the pointer
    /// in the thunk's parameter `param` (a packed user-data struct).
    Field {
        /// The thunk parameter holding the struct pointer.
        param: usize,
        /// Byte offset of the field.
        offset: i32,
    },
    /// `double` number `index` of the array the thunk's parameter `param` points to,
    /// converted to the callee's parameter type (scipy.integrate.quad's `double *xx`).
    Element {
        /// The thunk parameter holding the `double *`.
        param: usize,
        /// The element index.
        index: usize,
    },
}

/// Refuse to call when an element count is too small: if the thunk's parameter
/// `count_param` is below `min`, return NaN (or 0 for non-float results) instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CountGuard {
    /// The thunk parameter holding the count.
    pub count_param: usize,
    /// The smallest count that is safe.
    pub min: i64,
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
    if sources.len() != inner.params.len() {
        return Err(JitError::Codegen(format!(
            "{} argument sources for '{inner}'",
            sources.len()
        )));
    }
    if !outer.ret.abi_eq(&inner.ret) {
        return Err(JitError::Unsupported(format!(
            "'{outer}' returns what '{inner}' does not"
        )));
    }
    let mut module = new_module()?;
    let outer_sig = clif_signature(&module, outer)?;
    let inner_sig = clif_signature(&module, inner)?;
    let mut ctx = module.make_context();
    ctx.func.signature = outer_sig.clone();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let flat: Vec<ir::Value> = b.block_params(block).to_vec();
        // The Cranelift values of each outer parameter (complex numbers take two).
        let mut parts: Vec<Vec<ir::Value>> = Vec::new();
        let mut at = 0;
        for p in &outer.params {
            let n = abi_params(&p.ty)?.len();
            parts.push(flat[at..at + n].to_vec());
            at += n;
        }
        if let Some(g) = guard {
            let count = parts[g.count_param][0];
            let ok_block = b.create_block();
            let bail = b.create_block();
            let ty = b.func.dfg.value_type(count);
            let min = b.ins().iconst(ty, g.min);
            let ok = b.ins().icmp(IntCC::SignedGreaterThanOrEqual, count, min);
            b.ins().brif(ok, ok_block, &[], bail, &[]);
            b.seal_block(ok_block);
            b.seal_block(bail);
            b.switch_to_block(bail);
            let rets: Vec<ir::Value> = outer_sig
                .returns
                .iter()
                .map(|r| match r.value_type {
                    t if t == ir::types::F64 => b.ins().f64const(f64::NAN),
                    t if t == ir::types::F32 => b.ins().f32const(f32::NAN),
                    t => b.ins().iconst(t, 0),
                })
                .collect();
            b.ins().return_(&rets);
            b.switch_to_block(ok_block);
        }
        let mut args = Vec::new();
        for (p, src) in inner.params.iter().zip(sources) {
            let want = abi_params(&p.ty)?;
            match *src {
                ArgSource::Param(k) => args.extend(parts[k].iter().copied()),
                ArgSource::Const(bits) => {
                    for part in &want {
                        args.push(constant(&mut b, part, bits)?);
                    }
                }
                ArgSource::Field { param, offset } => {
                    let [part] = want.as_slice() else {
                        return Err(JitError::Unsupported(format!(
                            "'{}' in a user-data struct",
                            p.ty
                        )));
                    };
                    let v = b.ins().load(
                        part.value_type,
                        MemFlagsData::trusted(),
                        parts[param][0],
                        offset,
                    );
                    args.push(v);
                }
                ArgSource::Element { param, index } => {
                    let [part] = want.as_slice() else {
                        return Err(JitError::Unsupported(format!(
                            "'{}' from a double array",
                            p.ty
                        )));
                    };
                    let x = b.ins().load(
                        ir::types::F64,
                        MemFlagsData::new(),
                        parts[param][0],
                        (index * 8) as i32,
                    );
                    args.push(from_f64(&mut b, x, part.value_type, &p.ty));
                }
            }
        }
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

/// A double converted to a parameter's type (quad passes every argument as a double).
fn from_f64(b: &mut FunctionBuilder<'_>, x: ir::Value, want: ir::Type, ty: &Type) -> ir::Value {
    if want == ir::types::F64 {
        x
    } else if want == ir::types::F32 {
        b.ins().fdemote(want, x)
    } else if *ty == Type::Bool {
        let zero = b.ins().f64const(0.0);
        b.ins().fcmp(FloatCC::NotEqual, x, zero)
    } else {
        let wide = b.ins().fcvt_to_sint_sat(ir::types::I64, x);
        if want.bits() < 64 {
            b.ins().ireduce(want, wide)
        } else {
            wide
        }
    }
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
