//! What every generated entry shares: the Cranelift signature of a C signature, the entry
//! block and its parameters split per C value, and the lowering of adapter arguments
//! (constants, user-data fields, `double` array elements, an element-count guard).
//!
//! A kernel's adapted entry (`codegen`), the adapter thunks (`thunk`) and callback entries
//! (`callback`) build their prologues here, so that they check the same things.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlagsData, Value};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;

use crate::abi::{Signature, Type};

use super::lower::{abi_params, float_registers_suffice};
use super::JitError;

/// Where an adapter gets one argument of the function it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgSource {
    /// The adapter's own parameter at this index, passed through unchanged.
    Param(usize),
    /// A constant (its bits, zero-extended).
    Const(u64),
    /// A value of the callee's parameter type, loaded at `offset` bytes from the pointer
    /// in the adapter's parameter `param` (a packed user-data struct).
    Field {
        /// The adapter parameter holding the struct pointer.
        param: usize,
        /// Byte offset of the field.
        offset: i32,
    },
    /// `double` number `index` of the array the adapter's parameter `param` points to,
    /// converted to the callee's parameter type (scipy.integrate.quad's `double *xx`).
    Element {
        /// The adapter parameter holding the `double *`.
        param: usize,
        /// The element index.
        index: usize,
    },
}

/// Refuse to call when an element count is too small: if the adapter's parameter
/// `count_param` is below `min`, return NaN (or 0 for non-float results) instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CountGuard {
    /// The adapter parameter holding the count.
    pub count_param: usize,
    /// The smallest count that is safe.
    pub min: i64,
}

/// The Cranelift signature of C signature `sig` with calling convention `call_conv`.
/// Complex values are split into parts, which matches the C ABI only while every part
/// travels in a register; a signature where one would not is refused.
pub(super) fn clif_signature(
    call_conv: CallConv,
    sig: &Signature,
) -> Result<ir::Signature, JitError> {
    let mut s = ir::Signature::new(call_conv);
    for t in sig.arg_types() {
        s.params.extend(abi_params(t)?);
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

/// Check that an adapter with signature `outer` can build the arguments of `inner` as
/// `sources` say: one source per parameter, each naming a parameter `outer` has, and
/// the same result.
pub(super) fn check_sources(
    inner: &Signature,
    outer: &Signature,
    sources: &[ArgSource],
    guard: Option<CountGuard>,
) -> Result<(), JitError> {
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
    let named = sources.iter().filter_map(|s| match *s {
        ArgSource::Param(k) | ArgSource::Field { param: k, .. } => Some(k),
        ArgSource::Element { param, .. } => Some(param),
        ArgSource::Const(_) => None,
    });
    for k in named.chain(guard.map(|g| g.count_param)) {
        if k >= outer.params.len() {
            return Err(JitError::Codegen(format!(
                "an argument source names parameter {k} of '{outer}'"
            )));
        }
    }
    Ok(())
}

/// Start the function `b` builds: its entry block, with one value per Cranelift
/// parameter (in order), current and sealed.
pub(super) fn entry_block(b: &mut FunctionBuilder<'_>) -> Vec<Value> {
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    b.block_params(block).to_vec()
}

/// The Cranelift values of each C parameter of type `types` (complex numbers take two),
/// from the front of `flat`.
pub(super) fn split_params<'t>(
    types: impl IntoIterator<Item = &'t Type>,
    flat: &[Value],
) -> Result<Vec<Vec<Value>>, JitError> {
    let mut parts = Vec::new();
    let mut at = 0;
    for t in types {
        let n = abi_params(t)?.len();
        let Some(values) = flat.get(at..at + n) else {
            return Err(JitError::Codegen(
                "fewer Cranelift parameters than C parameters".into(),
            ));
        };
        parts.push(values.to_vec());
        at += n;
    }
    Ok(parts)
}

/// An integer constant of type `ty`, `v` cut to its width.
pub(super) fn iconst(b: &mut FunctionBuilder<'_>, ty: ir::Type, v: i64) -> Value {
    let bits = ty.bits();
    let masked = if bits >= 64 {
        v
    } else {
        v & ((1i64 << bits) - 1)
    };
    b.ins().iconst(ty, masked)
}

/// Return NaN (0 for other results, nothing for `void`) from the function `b` builds.
pub(super) fn return_error_value(b: &mut FunctionBuilder<'_>) {
    let returns: Vec<ir::Type> = b
        .func
        .signature
        .returns
        .iter()
        .map(|r| r.value_type)
        .collect();
    let rets: Vec<Value> = returns.into_iter().map(|t| error_value(b, t)).collect();
    b.ins().return_(&rets);
}

/// The error value of Cranelift type `t`: NaN for floats, 0 otherwise.
pub(super) fn error_value(b: &mut FunctionBuilder<'_>, t: ir::Type) -> Value {
    match t {
        ir::types::F64 => b.ins().f64const(f64::NAN),
        ir::types::F32 => b.ins().f32const(f32::NAN),
        t => b.ins().iconst(t, 0),
    }
}

/// Emit `guard`: return the error value (see [`return_error_value`]) unless the count in
/// the parameter `parts[guard.count_param]` is at least `guard.min`.
pub(super) fn count_guard(b: &mut FunctionBuilder<'_>, guard: CountGuard, parts: &[Vec<Value>]) {
    let count = parts[guard.count_param][0];
    let ty = b.func.dfg.value_type(count);
    let min = iconst(b, ty, guard.min);
    let ok = b.ins().icmp(IntCC::SignedGreaterThanOrEqual, count, min);
    let (go, bail) = (b.create_block(), b.create_block());
    b.ins().brif(ok, go, &[], bail, &[]);
    b.seal_block(go);
    b.seal_block(bail);
    b.switch_to_block(bail);
    return_error_value(b);
    b.switch_to_block(go);
}

/// The Cranelift values of each argument of type `types`, built as `sources` say from the
/// adapter's parameters `parts` (see [`split_params`]; [`check_sources`] has checked
/// that the sources name parameters there are).
pub(super) fn lower_args<'t>(
    b: &mut FunctionBuilder<'_>,
    types: impl IntoIterator<Item = &'t Type>,
    sources: &[ArgSource],
    parts: &[Vec<Value>],
) -> Result<Vec<Vec<Value>>, JitError> {
    let mut args = Vec::with_capacity(sources.len());
    for (ty, src) in types.into_iter().zip(sources) {
        let want = abi_params(ty)?;
        let values = match *src {
            ArgSource::Param(k) => parts[k].clone(),
            ArgSource::Const(bits) => want.iter().map(|p| constant(b, p, bits)).collect(),
            ArgSource::Field { param, offset } => {
                let [part] = want.as_slice() else {
                    return Err(JitError::Unsupported(format!(
                        "'{ty}' in a user-data struct"
                    )));
                };
                let v = b.ins().load(
                    part.value_type,
                    MemFlagsData::trusted(),
                    parts[param][0],
                    offset,
                );
                vec![v]
            }
            ArgSource::Element { param, index } => {
                let [part] = want.as_slice() else {
                    return Err(JitError::Unsupported(format!("'{ty}' from a double array")));
                };
                let x = b.ins().load(
                    ir::types::F64,
                    MemFlagsData::new(),
                    parts[param][0],
                    (index * 8) as i32,
                );
                vec![from_f64(b, x, part.value_type, ty)]
            }
        };
        args.push(values);
    }
    Ok(args)
}

/// A double converted to a parameter's type (quad passes every argument as a double):
/// an integer truncates toward zero, saturating (NaN gives 0).
fn from_f64(b: &mut FunctionBuilder<'_>, x: Value, want: ir::Type, ty: &Type) -> Value {
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

/// The constant with bits `bits` as a value of `part`'s type.
fn constant(b: &mut FunctionBuilder<'_>, part: &AbiParam, bits: u64) -> Value {
    match part.value_type {
        ir::types::F32 => b.ins().f32const(f32::from_bits(bits as u32)),
        ir::types::F64 => b.ins().f64const(f64::from_bits(bits)),
        t => iconst(b, t, bits as i64),
    }
}
