//! Kernel values in code generation: a value of a kernel type is one Cranelift value or
//! several (the two parts of a complex number; an array's descriptor pointer, data,
//! shape and strides). Locals hold one Cranelift variable per part, so a value of any
//! kind can be assigned, merged at joins and passed on as a whole.

use cranelift_codegen::ir::{self, types as clt, Value};

use crate::abi::{FloatType, Type};
use crate::jit::lower::{pointer_type, value_type};

/// An array's view, read from its descriptor: what indexing needs, as SSA values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ArrayView {
    /// The `DLTensor *` itself (what crosses a call).
    pub tensor: Value,
    /// The address of element 0 (`data + byte_offset`).
    pub data: Value,
    /// The extent of each axis.
    pub shape: Vec<Value>,
    /// The stride of each axis, in elements.
    pub strides: Vec<Value>,
    /// The element type.
    pub dtype: Type,
}

/// One kernel value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum KValue {
    /// A number, bool or pointer: one Cranelift value.
    Scalar(Value),
    /// A complex number: its real and imaginary parts.
    Complex {
        /// The real part.
        re: Value,
        /// The imaginary part.
        im: Value,
    },
    /// An array.
    Array(ArrayView),
}

impl KValue {
    /// The Cranelift types of the parts of a value of kernel type `t`, in the order of
    /// [`KValue::parts`].
    pub(super) fn part_types(t: &Type) -> Vec<ir::Type> {
        match t {
            Type::Complex(FloatType::F32) => vec![clt::F32, clt::F32],
            Type::Complex(_) => vec![clt::F64, clt::F64],
            Type::Array { ndim, .. } => {
                let mut v = vec![pointer_type(), pointer_type()];
                v.extend(std::iter::repeat_n(clt::I64, 2 * *ndim as usize));
                v
            }
            t => vec![value_type(t)],
        }
    }

    /// The Cranelift values that make up this value: a scalar's one; real, imaginary;
    /// tensor, data, each extent, each stride.
    pub(super) fn parts(&self) -> Vec<Value> {
        match self {
            KValue::Scalar(v) => vec![*v],
            KValue::Complex { re, im } => vec![*re, *im],
            KValue::Array(a) => {
                let mut v = vec![a.tensor, a.data];
                v.extend(&a.shape);
                v.extend(&a.strides);
                v
            }
        }
    }

    /// The value of kernel type `t` made of `parts` (as [`KValue::parts`] orders them).
    pub(super) fn from_parts(t: &Type, parts: &[Value]) -> KValue {
        assert_eq!(parts.len(), KValue::part_types(t).len(), "parts of a {t}");
        match t {
            Type::Complex(_) => KValue::Complex {
                re: parts[0],
                im: parts[1],
            },
            Type::Array { dtype, ndim, .. } => {
                let n = *ndim as usize;
                KValue::Array(ArrayView {
                    tensor: parts[0],
                    data: parts[1],
                    shape: parts[2..2 + n].to_vec(),
                    strides: parts[2 + n..].to_vec(),
                    dtype: (**dtype).clone(),
                })
            }
            _ => KValue::Scalar(parts[0]),
        }
    }

    /// The one Cranelift value that stands for this value where a single machine value
    /// is passed (to a call, through a pointer): a scalar itself, an array's descriptor.
    /// Complex numbers have no such value.
    pub(super) fn single(&self) -> Value {
        match self {
            KValue::Scalar(v) => *v,
            KValue::Array(a) => a.tensor,
            KValue::Complex { .. } => unreachable!("typed: a complex value is not one value"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::IntType;
    use cranelift_codegen::ir::Function;

    /// `n` distinct Cranelift values of type `ty`.
    fn values(f: &mut Function, ty: ir::Type, n: usize) -> Vec<Value> {
        let block = f.dfg.make_block();
        (0..n)
            .map(|_| f.dfg.append_block_param(block, ty))
            .collect()
    }

    fn array(ndim: u32) -> Type {
        Type::Array {
            dtype: Box::new(Type::F64),
            ndim,
            contiguous: false,
        }
    }

    #[test]
    fn an_array_value_is_its_descriptor_data_extents_and_strides_in_that_order() {
        let mut f = Function::new();
        let t = array(2);
        assert_eq!(
            KValue::part_types(&t),
            [
                pointer_type(),
                pointer_type(),
                clt::I64,
                clt::I64,
                clt::I64,
                clt::I64
            ]
        );
        let p = values(&mut f, clt::I64, 6);
        let v = KValue::from_parts(&t, &p);
        let KValue::Array(view) = &v else {
            panic!("an array type makes an array value, not {v:?}")
        };
        assert_eq!(
            (view.tensor, view.data, &view.shape[..], &view.strides[..]),
            (p[0], p[1], &p[2..4], &p[4..6])
        );
        assert_eq!(view.dtype, Type::F64);
        assert_eq!(v.parts(), p);
        assert_eq!(v.single(), p[0]);
    }

    #[test]
    fn a_complex_value_is_two_floats_of_its_precision() {
        let mut f = Function::new();
        assert_eq!(
            KValue::part_types(&Type::Complex(FloatType::F32)),
            [clt::F32, clt::F32]
        );
        let t = Type::Complex(FloatType::F64);
        assert_eq!(KValue::part_types(&t), [clt::F64, clt::F64]);
        let p = values(&mut f, clt::F64, 2);
        let v = KValue::from_parts(&t, &p);
        assert_eq!(v, KValue::Complex { re: p[0], im: p[1] });
        assert_eq!(v.parts(), p);
    }

    #[test]
    fn a_scalar_value_is_one_value_of_its_machine_type() {
        let mut f = Function::new();
        let t = Type::Int(IntType::I16);
        assert_eq!(KValue::part_types(&t), [clt::I16]);
        assert_eq!(KValue::part_types(&Type::Bool), [clt::I8]);
        let p = values(&mut f, clt::I16, 1);
        let v = KValue::from_parts(&t, &p);
        assert_eq!(v, KValue::Scalar(p[0]));
        assert_eq!((v.parts(), v.single()), (p.clone(), p[0]));
    }

    #[test]
    #[should_panic(expected = "parts of a")]
    fn a_value_refuses_the_wrong_number_of_parts() {
        let mut f = Function::new();
        let p = values(&mut f, clt::I64, 3);
        KValue::from_parts(&array(2), &p);
    }
}
