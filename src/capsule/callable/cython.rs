//! Cython's hidden parameters: `__pyx_skip_dispatch` and the optional-argument struct
//! that `cpdef` functions take after their own, filled in so callers never see them.

use std::sync::Arc;

use crate::abi::{Signature, Type};

use super::super::call::Slot;
use super::NativeCallable;

impl NativeCallable {
    /// Hide Cython's trailing `int __pyx_skip_dispatch` (passed as 0) and the
    /// optional-argument struct pointer that may follow it (passed as NULL).
    pub fn hide_cython_parameters(mut self) -> Self {
        let raw = self.raw_signature.clone();
        let mut hidden = Vec::new();
        for (index, p) in raw.params.iter().enumerate().rev() {
            let is_skip =
                p.name.as_deref() == Some("__pyx_skip_dispatch") && matches!(p.ty, Type::Int(_));
            let is_opt = p.name.as_deref() == Some("__pyx_optional_args")
                && matches!(p.ty.pointee(), Some(Type::Struct(_)));
            if is_opt && hidden.is_empty() || is_skip {
                hidden.push((index, Slot::zero()));
            } else {
                break;
            }
            if is_skip {
                break;
            }
        }
        if hidden.is_empty() {
            return self;
        }
        hidden.reverse();
        let visible = raw
            .params
            .iter()
            .enumerate()
            .filter(|(i, _)| !hidden.iter().any(|(h, _)| h == i))
            .map(|(_, p)| p.clone())
            .collect();
        self.signature = Arc::new(Signature {
            ret: raw.ret.clone(),
            params: visible,
        });
        self.hidden = hidden;
        self
    }

    /// The hidden constants as raw bits at their raw positions.
    pub fn hidden_bits(&self) -> Vec<(usize, u64)> {
        self.hidden
            .iter()
            .map(|(i, slot)| {
                (
                    *i,
                    u64::from_ne_bytes(slot.0[..8].try_into().expect("8 bytes")),
                )
            })
            .collect()
    }
}
