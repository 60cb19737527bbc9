//! NumPy's reductions of a whole 1-D array (`np.sum(a)`, `a.mean()`, `np.median(a)`).
//!
//! Each is a loop in the generated code over the view's pointer, extent and stride, as
//! Numba compiles them: `sum` is one pass adding in element order, `mean` the sum over
//! the count, `var`/`std` NumPy's two passes (the mean, then the mean squared deviation,
//! ddof=0), `min`/`max` one pass in which a NaN wins. Only the median calls the runtime,
//! which selects over a copy.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types as clt, InstBuilder, MemFlagsData, Value};

use crate::abi::Type;

use super::*;
use crate::jit::ir::{CmpOp, Expr, Reduction};
use crate::jit::runtime::{self, ElementKind};
use crate::jit::typing::is_float;

impl Gen<'_, '_> {
    /// `np.<r>(a)` of the 1-D array expression `a`, as a `rt`.
    pub(super) fn reduction(&mut self, r: Reduction, a: &Expr, rt: &Type) -> R<Value> {
        let (KValue::Array(view), _) = self.value(a)? else {
            unreachable!("typed: a reduction takes an array")
        };
        let n = view.shape[0];
        let elem = view.dtype.clone();
        Ok(match r {
            Reduction::Sum => {
                let zero = self.zero(rt);
                self.fold(&view, &[zero], |g, x| {
                    let v = g.convert(x[0], &elem, rt);
                    vec![if is_float(rt) {
                        g.b.ins().fadd(x[1], v)
                    } else {
                        g.b.ins().iadd(x[1], v)
                    }]
                })[0]
            }
            Reduction::Mean | Reduction::Var | Reduction::Std => {
                let mean = self.mean(&view);
                let out = if r == Reduction::Mean {
                    mean
                } else {
                    let zero = self.b.ins().f64const(0.0);
                    let squares = self.fold(&view, &[zero], |g, x| {
                        let v = g.convert(x[0], &elem, &Type::F64);
                        let d = g.b.ins().fsub(v, mean);
                        let d2 = g.b.ins().fmul(d, d);
                        vec![g.b.ins().fadd(x[1], d2)]
                    })[0];
                    let count = self.b.ins().fcvt_from_sint(clt::F64, n);
                    let var = self.b.ins().fdiv(squares, count);
                    if r == Reduction::Std {
                        self.b.ins().sqrt(var)
                    } else {
                        var
                    }
                };
                self.convert(out, &Type::F64, rt)
            }
            Reduction::Min | Reduction::Max => {
                let empty = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, n, 1);
                let which = self.iconst(clt::I64, i64::from(r == Reduction::Max));
                self.fail_if(empty, Some((runtime::array_error_address(), &[which])));
                let first = self
                    .b
                    .ins()
                    .load(clif(&elem), MemFlagsData::new(), view.data, 0);
                let op = if r == Reduction::Min {
                    CmpOp::Lt
                } else {
                    CmpOp::Gt
                };
                self.fold(&view, &[first], |g, x| {
                    let (v, acc) = (x[0], x[1]);
                    vec![if is_float(&elem) {
                        // NumPy's `acc if (acc < v or isnan(acc)) else v` (`>` for max): a
                        // NaN anywhere is the result, and of equal zeros the later one.
                        let keep = g.compare(op, acc, &elem, v, &elem);
                        let nan = g.b.ins().fcmp(FloatCC::Unordered, acc, acc);
                        let keep = g.b.ins().bor(keep, nan);
                        g.b.ins().select(keep, acc, v)
                    } else {
                        let better = g.compare(op, v, &elem, acc, &elem);
                        g.b.ins().select(better, v, acc)
                    }]
                })[0]
            }
            Reduction::Median | Reduction::Nanmedian => {
                let size = elem.size().expect("a number") as i64;
                let kind = match &elem {
                    Type::Float(_) if clif(&elem) == clt::F64 => ElementKind::F64,
                    Type::Float(_) => ElementKind::F32,
                    Type::Int(i) if i.signed() => ElementKind::Signed,
                    _ => ElementKind::Unsigned,
                };
                let stride = self.b.ins().imul_imm_s(view.strides[0], size);
                let kind = self.iconst(clt::I64, kind as i64);
                let size = self.iconst(clt::I64, size);
                let skip = self.iconst(clt::I64, i64::from(r == Reduction::Nanmedian));
                let m = self.call_helper(
                    runtime::median_address(),
                    &[self.ptr, clt::I64, clt::I64, clt::I64, clt::I64, clt::I64],
                    clt::F64,
                    &[view.data, n, stride, kind, size, skip],
                );
                self.convert(m, &Type::F64, rt)
            }
        })
    }

    /// The mean of the view's elements as float64 (NaN for none: 0/0).
    fn mean(&mut self, view: &ArrayView) -> Value {
        let elem = view.dtype.clone();
        let zero = self.b.ins().f64const(0.0);
        let sum = self.fold(view, &[zero], |g, x| {
            let v = g.convert(x[0], &elem, &Type::F64);
            vec![g.b.ins().fadd(x[1], v)]
        })[0];
        let count = self.b.ins().fcvt_from_sint(clt::F64, view.shape[0]);
        self.b.ins().fdiv(sum, count)
    }

    /// Loop over the elements of the 1-D `view` in order, carrying the values `init`:
    /// `step` gets the element then the carried values and gives the next carried values.
    /// The element address is a pointer the loop steps by the byte stride.
    fn fold(
        &mut self,
        view: &ArrayView,
        init: &[Value],
        mut step: impl FnMut(&mut Self, &[Value]) -> Vec<Value>,
    ) -> Vec<Value> {
        let size = view.dtype.size().expect("a number") as i64;
        let bstride = self.b.ins().imul_imm_s(view.strides[0], size);
        let n = view.shape[0];
        let (header, body, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(header, clt::I64);
        self.b.append_block_param(header, self.ptr);
        for v in init {
            let ty = self.b.func.dfg.value_type(*v);
            self.b.append_block_param(header, ty);
            self.b.append_block_param(exit, ty);
        }
        let zero = self.iconst(clt::I64, 0);
        let mut start = vec![zero, view.data];
        start.extend_from_slice(init);
        self.b.ins().jump(header, &args(&start));
        self.b.switch_to_block(header);
        let params = self.b.block_params(header).to_vec();
        let (i, p, carried) = (params[0], params[1], &params[2..]);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, n);
        self.b.ins().brif(more, body, &[], exit, &args(carried));
        self.b.seal_block(body);
        self.b.switch_to_block(body);
        let x = self
            .b
            .ins()
            .load(clif(&view.dtype), MemFlagsData::new(), p, 0);
        let mut vals = vec![x];
        vals.extend_from_slice(carried);
        let next = step(self, &vals);
        let i1 = self.b.ins().iadd_imm_s(i, 1);
        let p1 = self.b.ins().iadd(p, bstride);
        let mut back = vec![i1, p1];
        back.extend(next);
        self.b.ins().jump(header, &args(&back));
        self.b.seal_block(header);
        self.b.seal_block(exit);
        self.b.switch_to_block(exit);
        self.b.block_params(exit).to_vec()
    }
}
