//! Scratch arrays: `np.empty(n)` / `np.zeros(n)` as a local 1-D array of a length known
//! at run time.
//!
//! Each `np.empty` in the body has a variable holding the memory it last allocated
//! (NULL at entry). Allocating frees what the same `np.empty` allocated on an earlier
//! pass (a loop making a buffer per iteration keeps one), and every return (normal,
//! early on an error, or falling off the end) frees them all: a kernel never leaks one
//! and never keeps one past its return, which is why a scratch array (a view) cannot be
//! returned or passed on.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types as clt, InstBuilder};

use super::*;
use crate::jit::ir::{Builtin, Callee, Expr, Number, Span, Stmt};
use crate::jit::typing::I64;

impl Gen<'_, '_> {
    /// Give each `np.empty`/`np.zeros` of the body its variable, NULL at entry (typing lets
    /// them appear only as the value of an assignment to a local).
    pub(super) fn declare_scratch(&mut self) {
        let mut sites = Vec::new();
        scratch_sites(&self.f.body, &mut sites);
        for span in sites {
            let var = self.b.declare_var(self.ptr);
            let null = self.iconst(self.ptr, 0);
            self.b.def_var(var, null);
            self.scratch.push(((span.line, span.col), var));
        }
    }

    /// Free every scratch array (before a return).
    pub(super) fn free_scratch(&mut self) {
        let vars: Vec<Variable> = self.scratch.iter().map(|(_, v)| *v).collect();
        for var in vars {
            let p = self.b.use_var(var);
            self.call_void_helper(runtime::scratch_free_address(), &[p]);
        }
    }

    /// `np.empty(n)` (`zeroed`: `np.zeros(n)`) of `elem` at `span`: a C-contiguous 1-D
    /// view of new memory. A negative `n` or too little memory returns the error value.
    pub(super) fn scratch_value(
        &mut self,
        elem: Number,
        zeroed: bool,
        n: &Expr,
        span: Span,
    ) -> R<KValue> {
        let dtype = elem.ty();
        let count = self.expr_as(n, &I64)?;
        let var = self
            .scratch
            .iter()
            .find(|(at, _)| *at == (span.line, span.col))
            .map(|(_, v)| *v)
            .expect("declared: every np.empty of the body");
        let old = self.b.use_var(var);
        let size = self.iconst(clt::I64, dtype.size().expect("a number") as i64);
        let zeroed = self.iconst(clt::I64, i64::from(zeroed));
        // The runtime records why an allocation failed (a negative length, no memory).
        self.records_errors = true;
        let data = self.call_helper(
            runtime::scratch_alloc_address(),
            &[self.ptr, clt::I64, clt::I64, clt::I64],
            self.ptr,
            &[old, count, size, zeroed],
        );
        self.b.def_var(var, data);
        let failed = self.b.ins().icmp_imm_s(IntCC::Equal, data, 0);
        self.fail_if(failed, None);
        let one = self.iconst(clt::I64, 1);
        let tensor = self.iconst(self.ptr, 0);
        Ok(KValue::Array(ArrayView {
            tensor,
            data,
            shape: vec![count],
            strides: vec![one],
            dtype,
        }))
    }
}

/// The positions of the `np.empty`/`np.zeros` calls assigned in `body`, in order.
fn scratch_sites(body: &[Stmt], out: &mut Vec<Span>) {
    for s in body {
        match s {
            Stmt::Assign(_, values, _) => {
                for v in values {
                    if let Expr::Call(Callee::Builtin(Builtin::Scratch { .. }), _, span) = v {
                        out.push(*span);
                    }
                }
            }
            Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => {
                scratch_sites(a, out);
                scratch_sites(b, out);
            }
            Stmt::For { body, orelse, .. } => {
                scratch_sites(body, out);
                scratch_sites(orelse, out);
            }
            _ => {}
        }
    }
}
