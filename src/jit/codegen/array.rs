//! Indexing pointers and arrays, and reading an array's descriptor.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types as clt, InstBuilder, MemFlagsData, Value};

use crate::abi::Type;

use super::*;
use crate::abi::dlpack::dltensor_offset as at;
use crate::jit::ir::Expr;
use crate::jit::runtime;
use crate::jit::typing::I64;

impl Gen<'_, '_> {
    pub(super) fn element_address(&mut self, p: &Expr, idx: &[Expr]) -> R<(Value, Type)> {
        // An array local's view was read when it was assigned (a parameter's at entry);
        // any other array expression (`(a if c else b)[i]`) has its descriptor read here.
        let (pv, pt) = self.value(p)?;
        let pv = match pv {
            KValue::Array(view) => return self.array_element(&view, idx),
            v => v.single(),
        };
        let elem = pt.pointee().cloned().expect("typed: a pointer");
        let (iv, it) = self.expr(&idx[0])?;
        let i = self.convert(iv, &it, &I64);
        let size = elem.size().expect("typed: a sized element") as i64;
        let off = self.b.ins().imul_imm_s(i, size);
        Ok((self.b.ins().iadd(pv, off), elem))
    }

    /// `a[i, j, ...]`: negative indices count from the end (as NumPy's); with
    /// `boundscheck` an index outside the array returns early instead of reading.
    pub(super) fn array_element(&mut self, view: &ArrayView, idx: &[Expr]) -> R<(Value, Type)> {
        let mut offset = None;
        for (axis, e) in idx.iter().enumerate() {
            let (v, t) = self.expr(e)?;
            let i = self.convert(v, &t, &I64);
            let n = view.shape[axis];
            let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, i, 0);
            let wrapped = self.b.ins().iadd(i, n);
            let k = self.b.ins().select(negative, wrapped, i);
            if self.f.boundscheck {
                let outside = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, k, n);
                let axis = self.b.ins().iconst(clt::I64, axis as i64);
                self.fail_if(outside, &[axis, i, n]);
            }
            let term = self.b.ins().imul(k, view.strides[axis]);
            offset = Some(match offset {
                None => term,
                Some(o) => self.b.ins().iadd(o, term),
            });
        }
        let size = view.dtype.size().expect("a number") as i64;
        let bytes = self
            .b
            .ins()
            .imul_imm_s(offset.expect("at least one index"), size);
        Ok((self.b.ins().iadd(view.data, bytes), view.dtype.clone()))
    }

    /// If `cond`, record an index error and return a default value from the kernel.
    pub(super) fn fail_if(&mut self, cond: Value, info: &[Value]) {
        let (bad, good) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(bad);
        self.b.ins().brif(cond, bad, &[], good, &[]);
        self.b.seal_block(bad);
        self.b.seal_block(good);
        self.b.switch_to_block(bad);
        self.call_void_helper(runtime::index_error_address(), info);
        self.return_error_value();
        self.b.switch_to_block(good);
    }

    /// Read an array parameter's descriptor once, at entry: data (with byte_offset),
    /// shape, and strides in elements (compact row-major when the producer gave none, or
    /// when the type says C-contiguous: then the producer's strides are not read).
    pub(super) fn array_view(
        &mut self,
        tensor: Value,
        dtype: &Type,
        ndim: u32,
        contiguous: bool,
    ) -> ArrayView {
        let flags = MemFlagsData::trusted();
        if self.f.boundscheck {
            let got = self.b.ins().load(clt::I32, flags, tensor, at::NDIM);
            let got = self.b.ins().sextend(clt::I64, got);
            let want = self.b.ins().iconst(clt::I64, ndim as i64);
            let wrong = self.b.ins().icmp(IntCC::NotEqual, got, want);
            let minus = self.b.ins().iconst(clt::I64, -1);
            self.fail_if(wrong, &[minus, got, want]);
        }
        let data = self.b.ins().load(self.ptr, flags, tensor, at::DATA);
        let byte_offset = self.b.ins().load(clt::I64, flags, tensor, at::BYTE_OFFSET);
        let base = self.b.ins().iadd(data, byte_offset);
        let shape_ptr = self.b.ins().load(self.ptr, flags, tensor, at::SHAPE);
        let shape: Vec<Value> = (0..ndim)
            .map(|k| {
                self.b
                    .ins()
                    .load(clt::I64, flags, shape_ptr, (8 * k) as i32)
            })
            .collect();
        if contiguous {
            let strides = self.compact_strides(&shape);
            return ArrayView {
                tensor,
                data: base,
                shape,
                strides,
                dtype: dtype.clone(),
            };
        }
        let strides_ptr = self.b.ins().load(self.ptr, flags, tensor, at::STRIDES);
        let (given, compact, merge) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        for _ in 0..ndim {
            self.b.append_block_param(merge, clt::I64);
        }
        let none = self.b.ins().icmp_imm_s(IntCC::Equal, strides_ptr, 0);
        self.b.ins().brif(none, compact, &[], given, &[]);
        self.b.seal_block(given);
        self.b.seal_block(compact);
        self.b.switch_to_block(given);
        let loaded: Vec<Value> = (0..ndim)
            .map(|k| {
                self.b
                    .ins()
                    .load(clt::I64, flags, strides_ptr, (8 * k) as i32)
            })
            .collect();
        self.b.ins().jump(merge, &args(&loaded));
        self.b.switch_to_block(compact);
        let strides = self.compact_strides(&shape);
        self.b.ins().jump(merge, &args(&strides));
        self.b.seal_block(merge);
        self.b.switch_to_block(merge);
        let strides = self.b.block_params(merge).to_vec();
        ArrayView {
            tensor,
            data: base,
            shape,
            strides,
            dtype: dtype.clone(),
        }
    }

    /// Row-major strides, in elements, of an array of `shape`.
    pub(super) fn compact_strides(&mut self, shape: &[Value]) -> Vec<Value> {
        let mut strides = vec![self.b.ins().iconst(clt::I64, 1); shape.len()];
        for k in (0..shape.len()).rev().skip(1) {
            strides[k] = self.b.ins().imul(strides[k + 1], shape[k + 1]);
        }
        strides
    }

    /// Extent `k` of the array `a`: from a parameter's view, else read from the descriptor
    /// of `tensor` (`a` already evaluated) or of `a` evaluated here (`(a if c else b).shape[0]`).
    pub(super) fn shape_of(&mut self, a: &Expr, k: usize, tensor: Option<Value>) -> R<Value> {
        if matches!(a, Expr::Name(..) | Expr::View(..)) {
            if let (KValue::Array(view), _) = self.value(a)? {
                return Ok(view.shape[k]);
            }
        }
        let tensor = match tensor {
            Some(t) => t,
            None => self.expr(a)?.0,
        };
        let flags = MemFlagsData::trusted();
        let shape_ptr = self.b.ins().load(self.ptr, flags, tensor, at::SHAPE);
        Ok(self
            .b
            .ins()
            .load(clt::I64, flags, shape_ptr, (8 * k) as i32))
    }
}
