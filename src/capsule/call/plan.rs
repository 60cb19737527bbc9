//! libffi call interfaces: one prepared `ffi_cif` per ABI signature, cached for the
//! life of the process, and the call through it.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Arc;

use libffi::middle::{Arg, Cif, CodePtr, Ret, Type as FfiType};
use once_cell::sync::Lazy;
use parking_lot::Mutex;

use crate::abi::{FloatType, Signature, Type};

use super::Slot;

/// A prepared libffi call interface for one signature.
pub(crate) struct CallPlan {
    cif: Cif,
}

// SAFETY: a `Cif` is prepared once and then only read by `ffi_call`, which does not
// mutate it; its type descriptions are owned by the `Cif` and never shared mutably.
unsafe impl Send for CallPlan {}
// SAFETY: as above, concurrent `ffi_call`s only read the prepared `ffi_cif`.
unsafe impl Sync for CallPlan {}

static PLANS: Lazy<Mutex<HashMap<String, Arc<CallPlan>>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

fn ffi_type(ty: &Type) -> Result<FfiType, String> {
    Ok(match ty {
        Type::Void => FfiType::void(),
        Type::Bool => FfiType::u8(),
        Type::Int(i) => match (i.bits(), i.signed()) {
            (8, true) => FfiType::i8(),
            (8, false) => FfiType::u8(),
            (16, true) => FfiType::i16(),
            (16, false) => FfiType::u16(),
            (32, true) => FfiType::i32(),
            (32, false) => FfiType::u32(),
            (64, true) => FfiType::i64(),
            _ => FfiType::u64(),
        },
        Type::Float(FloatType::F32) => FfiType::f32(),
        Type::Float(FloatType::F64) => FfiType::f64(),
        Type::Complex(FloatType::F32) => FfiType::c32(),
        Type::Complex(FloatType::F64) => FfiType::c64(),
        Type::Float(FloatType::LongDouble) | Type::Complex(FloatType::LongDouble) => {
            return Err(format!(
                "'{ty}' values cannot be passed to or from Python without losing precision, so calls with them are refused"
            ))
        }
        Type::Pointer { .. } | Type::Array { .. } => FfiType::pointer(),
        Type::Struct(_) | Type::DLTensor | Type::Function(_) => {
            return Err(format!("'{ty}' cannot be passed by value"))
        }
    })
}

/// The cached call interface for `sig` (an error message if a type cannot be called from Python).
pub(crate) fn plan_for(sig: &Signature) -> Result<Arc<CallPlan>, String> {
    let key = sig.abi_key();
    if let Some(plan) = PLANS.lock().get(&key) {
        return Ok(plan.clone());
    }
    let args = sig
        .arg_types()
        .map(ffi_type)
        .collect::<Result<Vec<_>, _>>()?;
    let ret = ffi_type(&sig.ret)?;
    let cif =
        Cif::try_new(args, ret).map_err(|e| format!("libffi cannot describe '{sig}': {e:?}"))?;
    let plan = Arc::new(CallPlan { cif });
    PLANS.lock().insert(key, plan.clone());
    Ok(plan)
}

/// One prepared call: the plan, the code address and the argument slots.
pub(super) struct NativeCall {
    pub(super) plan: Arc<CallPlan>,
    pub(super) code: usize,
    pub(super) slots: Vec<Slot>,
}

// SAFETY: the call only reads the slots it owns and the prepared plan; the
// addresses inside the slots stay valid because the caller keeps `borrows` and
// the argument objects alive until after the call returns.
unsafe impl Send for NativeCall {}

impl NativeCall {
    pub(super) fn run(self) -> Slot {
        let args: Vec<Arg> = self.slots.iter().map(Arg::new).collect();
        let mut ret = Slot::default();
        // SAFETY: the plan was prepared for this signature, each slot holds a value of the
        // parameter's type, and `ret` is 16 bytes, large enough for every result type.
        unsafe {
            self.plan.cif.call_return_into(
                CodePtr(self.code as *mut c_void),
                &args,
                Ret::new(&mut ret),
            );
        }
        ret
    }
}
