//! Array views over pointers (`carray`, `farray`) and NumPy's scalar functions.
//!
//! A view is an [`ArrayView`] built from the pointer and the extents, with strides from
//! the order (row-major for `carray`, column-major for `farray`): no descriptor is read or
//! written and nothing is called, so indexing a view is one load as indexing a pointer.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types as clt, InstBuilder, StackSlotData, StackSlotKind, Value};

use crate::abi::Type;

use super::*;
use crate::abi::dlpack::dltensor_offset as at;
use crate::jit::ir::{Builtin, Callee, CmpOp, Expr, NpFn};
use crate::jit::typing::{is_float, I64};

extern "C" {
    /// The C library's `hypot`, which NumPy's `np.hypot` calls.
    fn hypot(x: f64, y: f64) -> f64;
    /// The C library's `atan2`, which NumPy's `np.arctan2` calls.
    fn atan2(y: f64, x: f64) -> f64;
}

impl Gen<'_, '_> {
    /// The view `carray(p, shape)` (`fortran`: `farray`) of type `t`. Its descriptor part
    /// is NULL: typing keeps a view from going anywhere a descriptor is read.
    pub(super) fn view_value(
        &mut self,
        p: &Expr,
        shape: &[Expr],
        fortran: bool,
        t: &Type,
    ) -> R<KValue> {
        let Type::Array { dtype, .. } = t else {
            unreachable!("typed: a view is an array")
        };
        let (data, _) = self.expr(p)?;
        let mut extents = Vec::with_capacity(shape.len());
        for x in shape {
            extents.push(self.expr_as(x, &I64)?);
        }
        let strides = if fortran {
            let mut s = vec![self.b.ins().iconst(clt::I64, 1); extents.len()];
            for k in 1..extents.len() {
                s[k] = self.b.ins().imul(s[k - 1], extents[k - 1]);
            }
            s
        } else {
            self.compact_strides(&extents)
        };
        let tensor = self.b.ins().iconst(self.ptr, 0);
        Ok(KValue::Array(ArrayView {
            tensor,
            data,
            shape: extents,
            strides,
            dtype: (**dtype).clone(),
        }))
    }

    /// `m[i]` (fewer indices than `m` has dimensions): a view of the rest, at the address
    /// the indices give, with the remaining extents and strides.
    pub(super) fn row_value(&mut self, p: &Expr, idx: &[Expr]) -> R<KValue> {
        let (KValue::Array(view), _) = self.value(p)? else {
            unreachable!("typed: a row of an array")
        };
        let name = match p {
            Expr::Name(n, _) => Some(n.as_str()),
            _ => None,
        };
        let (data, _) = self.array_element(&view, idx, name)?;
        let k = idx.len();
        let tensor = self.iconst(self.ptr, 0);
        Ok(KValue::Array(ArrayView {
            tensor,
            data,
            shape: view.shape[k..].to_vec(),
            strides: view.strides[k..].to_vec(),
            dtype: view.dtype,
        }))
    }

    /// Whether `e` is an array with no descriptor of its own: a view, a scratch array, or
    /// a local holding one (a local array is a view even when it holds a parameter).
    pub(super) fn is_view_expr(&self, e: &Expr) -> bool {
        match e {
            Expr::View(..) | Expr::Call(Callee::Builtin(Builtin::Scratch { .. }), ..) => true,
            Expr::Index(..) => matches!(self.ty(e), Ok(Type::Array { .. })),
            Expr::Name(n, _) => {
                !self.f.params.iter().any(|(p, _)| p == n)
                    && matches!(self.vars.get(n), Some((_, Type::Array { .. })))
            }
            _ => false,
        }
    }

    /// A `DLTensor` describing the view `e`, for a call passing it to an array parameter:
    /// built in a stack slot of this frame (with its shape and strides after it), so it
    /// lives as long as the call. CPU memory, no byte offset, strides in elements.
    pub(super) fn view_tensor(&mut self, e: &Expr) -> R<Value> {
        let (KValue::Array(view), _) = self.value(e)? else {
            unreachable!("typed: a view is an array")
        };
        let ndim = view.shape.len() as u32;
        let dtype = crate::abi::dtype::of_type(&view.dtype).expect("typed: arrays hold numbers");
        let (shape_at, strides_at): (i32, i32) = (48, 48 + 8 * ndim as i32);
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            48 + 16 * ndim,
            3,
        ));
        let base = self.b.ins().stack_addr(self.ptr, slot, 0);
        let flags = cranelift_codegen::ir::MemFlagsData::trusted();
        self.b.ins().store(flags, view.data, base, at::DATA);
        let cpu = self.iconst(clt::I32, 1);
        let zero32 = self.iconst(clt::I32, 0);
        self.b.ins().store(flags, cpu, base, at::DEVICE);
        self.b.ins().store(flags, zero32, base, at::DEVICE + 4);
        let nd = self.iconst(clt::I32, ndim as i64);
        self.b.ins().store(flags, nd, base, at::NDIM);
        let code = self.iconst(clt::I8, dtype.code as i64);
        let bits = self.iconst(clt::I8, dtype.bits as i64);
        let lanes = self.iconst(clt::I16, dtype.lanes as i64);
        self.b.ins().store(flags, code, base, at::DTYPE);
        self.b.ins().store(flags, bits, base, at::DTYPE + 1);
        self.b.ins().store(flags, lanes, base, at::DTYPE + 2);
        let shape = self.b.ins().iadd_imm_s(base, i64::from(shape_at));
        let strides = self.b.ins().iadd_imm_s(base, i64::from(strides_at));
        self.b.ins().store(flags, shape, base, at::SHAPE);
        self.b.ins().store(flags, strides, base, at::STRIDES);
        let zero = self.iconst(clt::I64, 0);
        self.b.ins().store(flags, zero, base, at::BYTE_OFFSET);
        for k in 0..ndim as usize {
            let off = 8 * k as i32;
            self.b
                .ins()
                .store(flags, view.shape[k], base, shape_at + off);
            self.b
                .ins()
                .store(flags, view.strides[k], base, strides_at + off);
        }
        Ok(base)
    }

    /// `np.floor`, `np.minimum`, ... of `vals`, giving a `rt`.
    pub(super) fn numpy_call(&mut self, f: NpFn, vals: &[(Value, Type)], rt: &Type) -> Value {
        let xs: Vec<Value> = vals.iter().map(|(v, t)| self.convert(*v, t, rt)).collect();
        let x = xs[0];
        match f {
            NpFn::Floor => self.b.ins().floor(x),
            NpFn::Ceil => self.b.ins().ceil(x),
            NpFn::Trunc => self.b.ins().trunc(x),
            NpFn::Hypot | NpFn::Arctan2 => {
                type F2 = unsafe extern "C" fn(f64, f64) -> f64;
                let address = if f == NpFn::Hypot {
                    hypot as F2 as usize
                } else {
                    atan2 as F2 as usize
                };
                self.call_helper(address, &[clt::F64, clt::F64], clt::F64, &xs)
            }
            NpFn::Minimum | NpFn::Maximum => {
                // NumPy: `a if (a < b or isnan(a)) else b` (`>` for maximum): a NaN
                // operand wins, and of two equal zeros the second is the result.
                let op = if f == NpFn::Minimum {
                    CmpOp::Lt
                } else {
                    CmpOp::Gt
                };
                let (a, b) = (xs[0], xs[1]);
                let mut first = self.compare(op, a, rt, b, rt);
                if is_float(rt) {
                    let nan = self.b.ins().fcmp(FloatCC::Unordered, a, a);
                    first = self.b.ins().bor(first, nan);
                }
                self.b.ins().select(first, a, b)
            }
            NpFn::Sign => {
                let zero = self.zero(rt);
                let pos = self.compare(CmpOp::Gt, x, rt, zero, rt);
                let neg = self.compare(CmpOp::Lt, x, rt, zero, rt);
                if is_float(rt) {
                    // 1.0, -1.0, +0.0 for either zero, and NaN itself.
                    let (one, minus) = if *rt == Type::F64 {
                        (self.b.ins().f64const(1.0), self.b.ins().f64const(-1.0))
                    } else {
                        (self.b.ins().f32const(1.0), self.b.ins().f32const(-1.0))
                    };
                    let nan = self.b.ins().fcmp(FloatCC::Unordered, x, x);
                    let rest = self.b.ins().select(nan, x, zero);
                    let rest = self.b.ins().select(neg, minus, rest);
                    self.b.ins().select(pos, one, rest)
                } else {
                    let ty = clif(rt);
                    let (p, n) = if ty == clt::I8 {
                        (pos, neg)
                    } else {
                        (self.b.ins().uextend(ty, pos), self.b.ins().uextend(ty, neg))
                    };
                    self.b.ins().isub(p, n)
                }
            }
        }
    }
}
