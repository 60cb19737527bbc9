//! Indexing pointers and arrays, and reading an array's descriptor.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types as clt, InstBuilder, MemFlagsData, Value};

use crate::abi::Type;

use super::*;
use crate::abi::dlpack::dltensor_offset as at;
use crate::jit::ir::{BinOp, Builtin, Callee, Expr};
use crate::jit::runtime;
use crate::jit::typing::I64;

impl Gen<'_, '_> {
    pub(super) fn element_address(&mut self, p: &Expr, idx: &[Expr]) -> R<(Value, Type)> {
        // An array local's view was read when it was assigned (a parameter's at entry);
        // any other array expression (`(a if c else b)[i]`) has its descriptor read here.
        let (pv, pt) = self.value(p)?;
        let pv = match pv {
            KValue::Array(view) => {
                let name = match p {
                    Expr::Name(n, _) => Some(n.as_str()),
                    _ => None,
                };
                return self.array_element(&view, idx, name);
            }
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
    ///
    /// Each index is split as `v_k + c_k` (a constant `c_k`) and the address summed axis
    /// by axis, `((data + v_0*bs_0) + c_0*bs_0) + v_1*bs_1 + c_1*bs_1 ...` (`bs_k` the
    /// byte stride): in a `for j` loop inside a `for i` loop, the row base `data +
    /// (i + c_0)*bs_0` is loop-invariant (Cranelift hoists it), `j*bs_1` is one value for
    /// every access of the iteration, and a constant last offset folds into the load's
    /// address (`[row + j*8 + 8]`). An index known to be non-negative (see
    /// [`Gen::lower_bound`]) skips the wrap-around select.
    ///
    /// Inside a `for j` loop, `j*bs_k` of array `name` (see [`Gen::scaled_ivs`]) is a
    /// variable the loop steps by `bs_k`, not a product.
    pub(super) fn array_element(
        &mut self,
        view: &ArrayView,
        idx: &[Expr],
        name: Option<&str>,
    ) -> R<(Value, Type)> {
        let size = view.dtype.size().expect("a number") as i64;
        let mut addr = view.data;
        for (axis, e) in idx.iter().enumerate() {
            let n = view.shape[axis];
            let bstride = self.b.ins().imul_imm_s(view.strides[axis], size);
            let known = self.lower_bound(e).is_some_and(|lb| lb >= 0);
            let (var, c) = if known {
                split_constant(e)
            } else {
                (Some(e), 0)
            };
            // The loop's scaled variable stands for `j*bs_k`: the rest of the index (if
            // any) is multiplied out (bounds-checked kernels take the general way).
            let scaled = match (known, name, var) {
                (true, Some(a), Some(var)) if !self.f.boundscheck => self
                    .scaled
                    .get(&(a.to_string(), axis))
                    .cloned()
                    .and_then(|(j, sv)| split_loop_var(var, &j).map(|rest| (rest, sv))),
                _ => None,
            };
            if let Some((rest, sv)) = scaled {
                if let Some(rest) = rest {
                    let (v, t) = self.expr(rest)?;
                    let v = self.convert(v, &t, &I64);
                    let term = self.b.ins().imul(v, bstride);
                    addr = self.b.ins().iadd(addr, term);
                }
                let js = self.b.use_var(sv);
                addr = self.b.ins().iadd(addr, js);
                if c != 0 {
                    let offset = self.b.ins().imul_imm_s(bstride, c);
                    addr = self.b.ins().iadd(addr, offset);
                }
                continue;
            }
            let v = match var {
                Some(var) => {
                    let (v, t) = self.expr(var)?;
                    Some(self.convert(v, &t, &I64))
                }
                None => None,
            };
            let k = if known {
                v
            } else {
                let i = v.expect("the whole index");
                let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, i, 0);
                let wrapped = self.b.ins().iadd(i, n);
                Some(self.b.ins().select(negative, wrapped, i))
            };
            if self.f.boundscheck {
                // The index as written (its constant part added back) against the extent.
                let whole = match (v, c) {
                    (Some(v), 0) => v,
                    (Some(v), c) => self.b.ins().iadd_imm_s(v, c),
                    (None, c) => self.b.ins().iconst(clt::I64, c),
                };
                let checked = if known { whole } else { k.expect("wrapped") };
                let outside = self
                    .b
                    .ins()
                    .icmp(IntCC::UnsignedGreaterThanOrEqual, checked, n);
                let axis = self.b.ins().iconst(clt::I64, axis as i64);
                self.fail_if(
                    outside,
                    Some((runtime::index_error_address(), &[axis, whole, n])),
                );
            }
            if let Some(k) = k {
                let term = self.b.ins().imul(k, bstride);
                addr = self.b.ins().iadd(addr, term);
            }
            if c != 0 {
                let offset = self.b.ins().imul_imm_s(bstride, c);
                addr = self.b.ins().iadd(addr, offset);
            }
        }
        Ok((addr, view.dtype.clone()))
    }

    /// A lower bound of the value of index expression `e` as an exact integer (no int64
    /// wrap-around), where one is known: literals, loop variables whose `range` bounds
    /// them from below (`Gen::lower_bounds`), extents, and sums, differences, products
    /// and floor quotients of those. Where it is >= 0 the index needs no wrap-around: the
    /// value is non-negative, or (if int64 arithmetic wrapped on the way) it is at least
    /// 2**63 in Python, outside any array either way.
    pub(super) fn lower_bound(&self, e: &Expr) -> Option<i128> {
        match e {
            Expr::Int(n, _) => Some(*n as i128),
            Expr::Name(n, _) => self.lower_bounds.get(n).copied(),
            Expr::Shape(..) | Expr::Call(Callee::Builtin(Builtin::Len), ..) => Some(0),
            Expr::Binary(op, a, b, _) => {
                let (x, y) = (self.lower_bound(a)?, self.lower_bound(b)?);
                match op {
                    BinOp::Add => Some(x + y),
                    BinOp::Sub => match **b {
                        Expr::Int(c, _) => Some(x - c as i128),
                        _ => None,
                    },
                    BinOp::Mul if x >= 0 && y >= 0 => Some(x.saturating_mul(y)),
                    BinOp::FloorDiv if x >= 0 && y > 0 => match **b {
                        Expr::Int(..) => Some(x / y),
                        _ => Some(0),
                    },
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// If `cond`, return the kernel's error value, in a cold block that first calls the
    /// runtime helper `record` with its arguments to record why for the thread (`None`
    /// where a runtime function already recorded it).
    pub(super) fn fail_if(&mut self, cond: Value, record: Option<(usize, &[Value])>) {
        let (bad, good) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(bad);
        self.b.ins().brif(cond, bad, &[], good, &[]);
        self.b.seal_block(bad);
        self.b.seal_block(good);
        self.b.switch_to_block(bad);
        if let Some((address, info)) = record {
            self.call_void_helper(address, info);
        }
        self.return_error_value();
        self.b.switch_to_block(good);
    }

    /// Record an error and return the error value unless the array `tensor` describes has
    /// `ndim` dimensions.
    pub(super) fn check_ndim(&mut self, tensor: Value, ndim: u32) {
        let flags = MemFlagsData::trusted();
        let got = self.b.ins().load(clt::I32, flags, tensor, at::NDIM);
        let got = self.b.ins().sextend(clt::I64, got);
        let want = self.b.ins().iconst(clt::I64, ndim as i64);
        let wrong = self.b.ins().icmp(IntCC::NotEqual, got, want);
        let minus = self.b.ins().iconst(clt::I64, -1);
        self.fail_if(
            wrong,
            Some((runtime::index_error_address(), &[minus, got, want])),
        );
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
            self.check_ndim(tensor, ndim);
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

/// `e` as a part that varies and a constant added to it: `j + 1` is `(j, 1)`, `i - 1`
/// `(i, -1)`, `3` `(None, 3)`, anything else itself and 0.
pub(super) fn split_constant(e: &Expr) -> (Option<&Expr>, i64) {
    match e {
        Expr::Int(c, _) => (None, *c),
        Expr::Binary(op @ (BinOp::Add | BinOp::Sub), a, b, _) => match (op, &**a, &**b) {
            (_, x, Expr::Int(c, _)) => {
                let c = if *op == BinOp::Sub {
                    c.checked_neg()
                } else {
                    Some(*c)
                };
                match c {
                    Some(c) => {
                        let (v, d) = split_constant(x);
                        match d.checked_add(c) {
                            Some(s) if v.is_some() => (v, s),
                            _ => (Some(e), 0),
                        }
                    }
                    None => (Some(e), 0),
                }
            }
            (BinOp::Add, Expr::Int(c, _), x) => {
                let (v, d) = split_constant(x);
                match d.checked_add(*c) {
                    Some(s) if v.is_some() => (v, s),
                    _ => (Some(e), 0),
                }
            }
            _ => (Some(e), 0),
        },
        _ => (Some(e), 0),
    }
}

/// `rest` where `e` is the loop variable `j` plus `rest` (`j` itself: `Some(None)`; `i + j`
/// or `j + i`: `Some(Some(i))`), else None.
pub(super) fn split_loop_var<'e>(e: &'e Expr, j: &str) -> Option<Option<&'e Expr>> {
    let is_j = |x: &Expr| matches!(x, Expr::Name(n, _) if n == j);
    match e {
        x if is_j(x) => Some(None),
        Expr::Binary(BinOp::Add, a, b, _) if is_j(b) => Some(Some(a)),
        Expr::Binary(BinOp::Add, a, b, _) if is_j(a) => Some(Some(b)),
        _ => None,
    }
}
