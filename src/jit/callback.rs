//! Callback entries: generated C functions through which native code calls back into a
//! host-language function (a Python function, for `nativecall.callback`).
//!
//! The entry has the consumer's C signature. It stores each argument, at its own width,
//! into an 8-byte slot of a buffer on its stack, calls the host's dispatcher
//! `dispatch(context, args, result)`, and returns what the dispatcher wrote into the
//! result slot. Everything that touches the host (taking the GIL, making objects, the
//! call, reporting errors) is the dispatcher's: this module knows nothing of Python.

use cranelift_codegen::ir::{self, InstBuilder, StackSlotData, StackSlotKind};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::Module;

use crate::abi::{Signature, Type};

use super::adapt::{clif_signature, entry_block};
use super::code::{finish, new_module};
use super::lower::{abi_params, pointer_type};
use super::thunk::Thunk;
use super::JitError;

/// The dispatcher a callback entry calls: `(context, args, result)`. `args` points at one
/// 8-byte slot per parameter, each holding the argument at its C width in its first
/// bytes; the dispatcher writes the result (at its C width) into the slot at `result`.
/// It must not unwind.
pub type Dispatcher = unsafe extern "C" fn(usize, *const u64, *mut u64);

/// Whether a callback entry can carry `ty` (as a parameter, or as the result when
/// `result` is set): scalars that travel in one register.
pub fn callback_type_supported(ty: &Type, result: bool) -> bool {
    match ty {
        Type::Void => result,
        Type::Bool | Type::Int(_) | Type::Float(_) | Type::Pointer { .. } => true,
        _ => false,
    }
}

/// A C function of signature `sig` that hands its arguments to `dispatch` together with
/// `context` (a constant in the code), and returns the result the dispatcher wrote.
/// `context` must stay valid for as long as the code can be called.
pub fn callback_entry(
    sig: &Signature,
    dispatch: Dispatcher,
    context: usize,
) -> Result<Thunk, JitError> {
    for (i, t) in sig.arg_types().enumerate() {
        if !callback_type_supported(t, false) {
            return Err(JitError::Unsupported(format!(
                "parameter {} of a callback is '{t}'; callbacks take bool, integers, floats and pointers",
                i + 1
            )));
        }
    }
    if !callback_type_supported(&sig.ret, true) {
        return Err(JitError::Unsupported(format!(
            "a callback returning '{}'; callbacks return void, bool, integers, floats or pointers",
            sig.ret
        )));
    }
    let mut module = new_module()?;
    let outer = clif_signature(module.isa().default_call_conv(), sig)?;
    let ptr = pointer_type();
    let mut inner = module.make_signature();
    inner.params.extend([ir::AbiParam::new(ptr); 3]);
    let mut ctx = module.make_context();
    ctx.func.signature = outer.clone();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let params = entry_block(&mut b);
        // Slots 0..n for the arguments, slot n for the result; zeroed first so the
        // dispatcher never reads uninitialised bytes above a narrow value.
        let n = params.len();
        let slot = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (8 * (n + 1)) as u32,
            3,
        ));
        let zero = b.ins().iconst(ir::types::I64, 0);
        for i in 0..=n {
            b.ins().stack_store(ptr, zero, slot, (8 * i) as i32);
        }
        for (i, v) in params.iter().enumerate() {
            b.ins().stack_store(ptr, *v, slot, (8 * i) as i32);
        }
        let args = b.ins().stack_addr(ptr, slot, 0);
        let result = b.ins().stack_addr(ptr, slot, (8 * n) as i32);
        let context = b.ins().iconst(ptr, context as i64);
        let callee = b.ins().iconst(ptr, dispatch as usize as i64);
        let sig_ref = b.import_signature(inner);
        b.ins()
            .call_indirect(sig_ref, callee, &[context, args, result]);
        let rets: Vec<ir::Value> = abi_params(&sig.ret)?
            .iter()
            .map(|r| b.ins().stack_load(ptr, r.value_type, slot, (8 * n) as i32))
            .collect();
        b.ins().return_(&rets);
        b.finalize(module.target_config());
    }
    let id = module
        .declare_anonymous_function(&outer)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let (address, code) = finish(module, id, &mut ctx)?;
    Ok(Thunk { address, code })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::parse_signature;

    /// Records what it was given and answers with the sum of the arguments as doubles.
    unsafe extern "C" fn sum_args(context: usize, args: *const u64, result: *mut u64) {
        // SAFETY: the tests pass the address of a `usize` parameter count as the context,
        // and the entry passes that many slots.
        unsafe {
            let n = *(context as *const usize);
            let x = f64::from_bits(*args);
            let k = *(args.add(1) as *const i32);
            let total = if n == 2 { x + k as f64 } else { x };
            *(result as *mut f64) = total;
        }
    }

    #[test]
    fn a_callback_entry_passes_each_argument_at_its_width_and_returns_the_result() {
        let n: usize = 2;
        let sig = parse_signature("double (double, int)").unwrap();
        let entry = callback_entry(&sig, sum_args, &n as *const usize as usize).unwrap();
        // SAFETY: the entry has exactly this signature and `n` outlives the call.
        let f: extern "C" fn(f64, i32) -> f64 = unsafe { std::mem::transmute(entry.address) };
        assert_eq!(f(1.5, -4), -2.5);
    }

    #[test]
    fn a_callback_entry_refuses_types_that_do_not_travel_in_one_register() {
        let sig = parse_signature("complex128 (double)").unwrap();
        let err = callback_entry(&sig, sum_args, 0).err().unwrap();
        assert!(err.to_string().contains("callbacks return"), "{err}");
    }
}
