//! Invokers: one generated function per C signature that calls code of that signature
//! with its arguments read from memory, so that calls from Python need no libffi.
//!
//! An invoker is `extern "C" fn(code, args, ret)`: argument `i` is read from the
//! 16-byte slot at `args + 16 * i` (a complex number's parts one after the other, as
//! C stores them), `code` is called, and the result is written to `ret` the same way.
//! Cranelift places every value where the platform's C ABI wants it. Invokers depend
//! on the signature only, not on the code they call, so one per ABI signature is
//! generated for the life of the process (as libffi's call interfaces are) and is not
//! counted as live generated code.

use std::collections::HashMap;

use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlagsData};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::Module;
use once_cell::sync::Lazy;
use parking_lot::Mutex;

use crate::abi::Signature;

use super::adapt::clif_signature;
use super::code::{finish_for_process, new_module};
use super::lower::{abi_params, pointer_type};
use super::JitError;

/// Bytes between consecutive arguments in an invoker's argument array.
pub const INVOKE_SLOT_BYTES: usize = 16;

/// An invoker: calls `code` with the arguments in `args`, writes the result to `ret`.
pub type Invoker = unsafe extern "C" fn(code: usize, args: *const u8, ret: *mut u8);

static INVOKERS: Lazy<Mutex<HashMap<String, usize>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// The invoker for code of signature `sig`, generated on first use.
pub fn invoker(sig: &Signature) -> Result<Invoker, JitError> {
    let key = sig.abi_key();
    let known = INVOKERS.lock().get(&key).copied();
    let address = match known {
        Some(a) => a,
        None => {
            let a = generate(sig)?;
            *INVOKERS.lock().entry(key).or_insert(a)
        }
    };
    // SAFETY: `address` is the entry of a finalized function generated below with
    // exactly the `Invoker` signature, and its module is never freed.
    Ok(unsafe { std::mem::transmute::<usize, Invoker>(address) })
}

fn generate(sig: &Signature) -> Result<usize, JitError> {
    let module = new_module()?;
    let target_sig = clif_signature(module.isa().default_call_conv(), sig)?;
    let ptr = pointer_type();
    let mut outer = module.make_signature();
    outer.params.extend([AbiParam::new(ptr); 3]);
    let mut ctx = module.make_context();
    ctx.func.signature = outer.clone();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let &[code, args, ret] = b.block_params(block) else {
            unreachable!("three parameters were declared")
        };
        let mut values = Vec::new();
        for (i, p) in sig.params.iter().enumerate() {
            let mut offset = (i * INVOKE_SLOT_BYTES) as i32;
            for part in abi_params(&p.ty)? {
                let t = part.value_type;
                values.push(b.ins().load(t, MemFlagsData::trusted(), args, offset));
                offset += t.bytes() as i32;
            }
        }
        let sig_ref = b.import_signature(target_sig);
        let call = b.ins().call_indirect(sig_ref, code, &values);
        let results = b.inst_results(call).to_vec();
        let mut offset = 0;
        for r in results {
            let t: ir::Type = b.func.dfg.value_type(r);
            b.ins().store(MemFlagsData::trusted(), r, ret, offset);
            offset += t.bytes() as i32;
        }
        b.ins().return_(&[]);
        b.finalize(module.target_config());
    }
    // Made once per signature for the life of the process (see the module docs).
    finish_for_process(module, &outer, &mut ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" fn mix(a: i8, x: f64, b: u16, y: f32, c: i64) -> f64 {
        a as f64 + x * 10.0 + b as f64 * 100.0 + y as f64 * 1000.0 + c as f64 * 1e4
    }

    extern "C" fn narrow(a: i32) -> i16 {
        (a * 2) as i16
    }

    fn slots(values: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![0u8; values.len() * INVOKE_SLOT_BYTES];
        for (i, v) in values.iter().enumerate() {
            out[i * INVOKE_SLOT_BYTES..i * INVOKE_SLOT_BYTES + v.len()].copy_from_slice(v);
        }
        out
    }

    #[test]
    fn an_invoker_passes_ints_and_floats_of_every_width_in_order() {
        let sig = crate::abi::parse_signature("double (int8, double, uint16, float, int64)")
            .expect("signature");
        let call = invoker(&sig).expect("invoker");
        let args = slots(&[
            &(-3i8).to_ne_bytes(),
            &2.5f64.to_ne_bytes(),
            &7u16.to_ne_bytes(),
            &0.5f32.to_ne_bytes(),
            &4i64.to_ne_bytes(),
        ]);
        let mut ret = [0u8; 16];
        // SAFETY: `mix` has the signature the invoker was generated for.
        unsafe { call(mix as *const () as usize, args.as_ptr(), ret.as_mut_ptr()) };
        let got = f64::from_ne_bytes(ret[..8].try_into().unwrap());
        assert_eq!(got, -3.0 + 25.0 + 700.0 + 500.0 + 40000.0);
    }

    #[test]
    fn an_invoker_stores_a_narrow_result_at_its_own_width() {
        let sig = crate::abi::parse_signature("int16 (int32)").expect("signature");
        let call = invoker(&sig).expect("invoker");
        let args = slots(&[&(-21i32).to_ne_bytes()]);
        let mut ret = [0u8; 16];
        // SAFETY: `narrow` has the signature the invoker was generated for.
        unsafe {
            call(
                narrow as *const () as usize,
                args.as_ptr(),
                ret.as_mut_ptr(),
            )
        };
        assert_eq!(i16::from_ne_bytes([ret[0], ret[1]]), -42);
        assert_eq!(&ret[2..], &[0u8; 14], "nothing written past the result");
    }
}
