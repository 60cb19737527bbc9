//! Python entries: one generated `vectorcallfunc` (PEP 590) per scalar signature, so that
//! a call from Python unboxes its arguments, calls the code and boxes the result in
//! straight-line code, as a Cython `def` does.
//!
//! The entry checks everything its fast paths assume (no keyword arguments, the arity,
//! each argument's exact type, each int's range) and hands the call to the general entry
//! ([`EntryApi::slow`], with the same four arguments) on the first thing that does not
//! hold: there the general converters check again and word every refusal, so messages
//! and semantics are the general path's. The code address is read from the callable
//! object at [`EntrySpec::code_offset`], so one entry serves every callable of its
//! signature; entries are cached for the life of the process, as invokers are.
//!
//! This module knows nothing of Python beyond what [`EntryApi`] gives it: object layout
//! offsets and the addresses of the C API functions and objects the code uses.

use std::collections::HashMap;

use cranelift_codegen::ir::{
    self, condcodes::FloatCC, condcodes::IntCC, types, AbiParam, Block, InstBuilder, MemFlagsData,
    StackSlotData, StackSlotKind, Value,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::Module;
use once_cell::sync::Lazy;
use parking_lot::Mutex;

use std::mem::{offset_of, size_of};

use crate::abi::dlpack::{dltensor_offset as at, DLDataType, DLDevice, DLTensor};
use crate::abi::{FloatType, IntType, Signature, Type};

use super::adapt::clif_signature;
use super::code::{finish_for_process, new_module};
use super::lower::{abi_params, pointer_type};
use super::JitError;

/// How the entry fills one parameter of the code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EntryParam {
    /// A constant (Cython's hidden `__pyx_skip_dispatch`), as the slot's little-endian bytes.
    Hidden(i64),
    /// The next Python argument, converted for this visible type.
    Visible(Type),
    /// The next Python argument, an exact NumPy array described in place as a `DLTensor`
    /// on the entry's stack.
    Array(ArrayParam),
}

/// What an array parameter takes on the fast path: an exact `numpy.ndarray` with these
/// properties (anything else goes to the general entry, which converts or refuses).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArrayParam {
    /// Dimensions.
    pub ndim: u32,
    /// Bytes per element (a power of two).
    pub itemsize: u32,
    /// The NumPy type numbers of the element type (two for 64-bit ints: `long` and
    /// `long long`).
    pub type_nums: Vec<i32>,
    /// The element type as DLPack spells it.
    pub dl_code: u8,
    /// Its bits.
    pub dl_bits: u8,
    /// Whether the parameter is C-contiguous (`[::1]`).
    pub contiguous: bool,
    /// Whether the code may write through it (read-only arrays are refused).
    pub writable: bool,
}

/// Where NumPy keeps what an array parameter reads (offsets from rust-numpy's mirror of
/// NumPy's structs, the same for NumPy 1 and 2).
#[derive(Clone, Copy, Debug)]
pub struct NumpyApi {
    /// `&PyArray_Type`.
    pub ndarray_type: usize,
    /// `PyArrayObject.data`.
    pub data: i32,
    /// `PyArrayObject.nd`.
    pub nd: i32,
    /// `PyArrayObject.dimensions`.
    pub dimensions: i32,
    /// `PyArrayObject.strides`.
    pub strides: i32,
    /// `PyArrayObject.descr`.
    pub descr: i32,
    /// `PyArrayObject.flags`.
    pub flags: i32,
    /// `PyArray_Descr.type_num`.
    pub type_num: i32,
    /// `PyArray_Descr.byteorder`.
    pub byteorder: i32,
}

/// `NPY_ARRAY_C_CONTIGUOUS`.
const NPY_C_CONTIGUOUS: i64 = 0x0001;
/// `NPY_ARRAY_WRITEABLE`.
const NPY_WRITEABLE: i64 = 0x0400;
/// The byte-order character of a NumPy dtype whose bytes are swapped on this machine.
const FOREIGN_ORDER: u8 = if cfg!(target_endian = "little") {
    b'>'
} else {
    b'<'
};
/// `kDLCPU`.
const DL_CPU: i64 = 1;

/// What one entry does: the code's raw signature, how each parameter is filled, where
/// the callable object keeps the code address, and whether the code may leave an error
/// in the thread's kernel runtime state (the entry then calls [`EntryApi::clear`] before
/// and [`EntryApi::check`] after).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EntrySpec {
    /// The code's own signature.
    pub raw: Signature,
    /// How each of the code's parameters is filled.
    pub params: Vec<EntryParam>,
    /// Where the callable object keeps the code address.
    pub code_offset: i32,
    /// Whether the code may record an error in the thread's kernel runtime state.
    pub errors: bool,
}

/// The Python C API as the entry uses it: offsets into objects and addresses of
/// functions and objects (all the interpreter's, fixed for the process).
#[derive(Clone, Copy, Debug)]
pub struct EntryApi {
    /// Offset of `ob_type` in an object.
    pub type_offset: i32,
    /// Offset of a float's value in an exact `float`.
    pub float_value_offset: i32,
    /// Offset of the real part in an exact `complex` (the imaginary part follows).
    pub complex_value_offset: i32,
    /// `&PyFloat_Type`.
    pub float_type: usize,
    /// `&PyComplex_Type`.
    pub complex_type: usize,
    /// `&PyLong_Type`.
    pub long_type: usize,
    /// `Py_True`.
    pub py_true: usize,
    /// `Py_False`.
    pub py_false: usize,
    /// `Py_None`.
    pub py_none: usize,
    /// `PyObject *PyFloat_FromDouble(double)`.
    pub float_from_double: usize,
    /// `PyObject *PyComplex_FromDoubles(double, double)`.
    pub complex_from_doubles: usize,
    /// `long long PyLong_AsLongLongAndOverflow(PyObject *, int *)`.
    pub long_as_long_long_and_overflow: usize,
    /// `PyObject *PyLong_FromLongLong(long long)`.
    pub long_from_long_long: usize,
    /// `PyObject *PyLong_FromUnsignedLongLong(unsigned long long)`.
    pub long_from_unsigned_long_long: usize,
    /// `void Py_IncRef(PyObject *)`.
    pub incref: usize,
    /// The general entry, a `vectorcallfunc`.
    pub slow: usize,
    /// `void clear(PyObject *callable)`: forget errors before the call.
    pub clear: usize,
    /// `int check(PyObject *callable)`: nonzero when the call left an error, now raised.
    pub check: usize,
    /// `int describe(PyObject *obj, DLTensor *tensor, const ArrayParam *param)`: fill
    /// `tensor` for an array object other than an exact NumPy array that `param` takes
    /// as it is (1), or leave it to the general entry (0).
    pub describe: usize,
}

/// Whether a Python entry can serve code whose parameter (or result, `result`) is `ty`.
pub fn entry_serves(ty: &Type, result: bool) -> bool {
    match ty {
        Type::Void => result,
        Type::Bool | Type::Int(_) | Type::Pointer { .. } => true,
        Type::Float(f) => *f != FloatType::LongDouble,
        Type::Complex(f) => *f == FloatType::F64,
        _ => false,
    }
}

type Key = (EntrySpec, usize);

static ENTRIES: Lazy<Mutex<HashMap<Key, usize>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// The entry for `spec`, generated on first use; the address of a `vectorcallfunc`.
/// `numpy` is needed (and only read) when a parameter is an [`EntryParam::Array`].
pub fn python_entry(
    spec: &EntrySpec,
    api: &EntryApi,
    numpy: Option<&NumpyApi>,
) -> Result<usize, JitError> {
    let key = (spec.clone(), api.slow);
    if let Some(a) = ENTRIES.lock().get(&key) {
        return Ok(*a);
    }
    let a = generate(spec, api, numpy)?;
    Ok(*ENTRIES.lock().entry(key).or_insert(a))
}

/// `PY_VECTORCALL_ARGUMENTS_OFFSET`: a flag in `nargsf`, not part of the count.
const ARGUMENTS_OFFSET: u64 = 1 << 63;

struct Ctx<'a> {
    api: &'a EntryApi,
    numpy: Option<&'a NumpyApi>,
    ptr: ir::Type,
    slow: Block,
    sig_ptr1: ir::SigRef,
}

impl Ctx<'_> {
    /// Go to `slow` unless `cond` holds, continuing in a new block.
    fn require(&self, b: &mut FunctionBuilder<'_>, cond: Value) {
        let next = b.create_block();
        b.ins().brif(cond, next, &[], self.slow, &[]);
        b.seal_block(next);
        b.switch_to_block(next);
    }

    fn addr(&self, b: &mut FunctionBuilder<'_>, a: usize) -> Value {
        b.ins().iconst(self.ptr, a as i64)
    }

    /// Whether `obj`'s type is exactly the one at `ty`.
    fn is_exact(&self, b: &mut FunctionBuilder<'_>, obj: Value, ty: usize) -> Value {
        let t = b
            .ins()
            .load(self.ptr, MemFlagsData::trusted(), obj, self.api.type_offset);
        let want = self.addr(b, ty);
        b.ins().icmp(IntCC::Equal, t, want)
    }

    /// `obj` as the ABI values of `ty` (two for a complex number), or a jump to `slow`.
    fn unbox(&self, b: &mut FunctionBuilder<'_>, obj: Value, ty: &Type) -> Vec<Value> {
        match ty {
            Type::Complex(_) => {
                let ok = self.is_exact(b, obj, self.api.complex_type);
                self.require(b, ok);
                let at = self.api.complex_value_offset;
                let flags = MemFlagsData::trusted();
                let re = b.ins().load(types::F64, flags, obj, at);
                let im = b.ins().load(types::F64, flags, obj, at + 8);
                vec![re, im]
            }
            // An exact int in 0..=2**63-1, or None (NULL); larger addresses and
            // everything else (buffers, ctypes, callables) take the general entry.
            Type::Pointer { .. } => {
                let none = self.addr(b, self.api.py_none);
                let is_none = b.ins().icmp(IntCC::Equal, obj, none);
                let int = b.create_block();
                let join = b.create_block();
                b.append_block_param(join, self.ptr);
                let zero = b.ins().iconst(self.ptr, 0);
                b.ins().brif(is_none, join, &[zero.into()], int, &[]);
                b.seal_block(int);
                b.switch_to_block(int);
                let v = self.unbox_int(b, obj, IntType::I64);
                let ok = b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, v, 0);
                self.require(b, ok);
                b.ins().jump(join, &[v.into()]);
                b.seal_block(join);
                b.switch_to_block(join);
                vec![b.block_params(join)[0]]
            }
            _ => vec![self.unbox_scalar(b, obj, ty)],
        }
    }

    /// `obj` as a value of the one-value type `ty`, or a jump to `slow`.
    fn unbox_scalar(&self, b: &mut FunctionBuilder<'_>, obj: Value, ty: &Type) -> Value {
        match ty {
            Type::Float(f) => {
                let ok = self.is_exact(b, obj, self.api.float_type);
                self.require(b, ok);
                let v = b.ins().load(
                    types::F64,
                    MemFlagsData::trusted(),
                    obj,
                    self.api.float_value_offset,
                );
                if *f == FloatType::F64 {
                    return v;
                }
                // A finite double beyond float's range is refused by the general path.
                let a = b.ins().fabs(v);
                let max = b.ins().f64const(f32::MAX as f64);
                let inf = b.ins().f64const(f64::INFINITY);
                let in_range = b.ins().fcmp(FloatCC::LessThanOrEqual, a, max);
                let infinite = b.ins().fcmp(FloatCC::Equal, a, inf);
                let nan = b.ins().fcmp(FloatCC::Unordered, v, v);
                let ok = b.ins().bor(in_range, infinite);
                let ok = b.ins().bor(ok, nan);
                self.require(b, ok);
                b.ins().fdemote(types::F32, v)
            }
            Type::Int(i) => self.unbox_int(b, obj, *i),
            Type::Bool => {
                let t = self.addr(b, self.api.py_true);
                let f = self.addr(b, self.api.py_false);
                let is_t = b.ins().icmp(IntCC::Equal, obj, t);
                let is_f = b.ins().icmp(IntCC::Equal, obj, f);
                let ok = b.ins().bor(is_t, is_f);
                self.require(b, ok);
                is_t
            }
            other => unreachable!("entries are made only for scalars, not '{other}'"),
        }
    }

    /// `obj` as array parameter `a` wants it, described by a `DLTensor` on the stack (its
    /// address is the value); or a jump to `slow`. An exact NumPy array is read here (its
    /// shape is NumPy's own; its strides, in elements, follow the tensor on the stack);
    /// anything else is offered to [`EntryApi::describe`] (a `nativecall.Array`).
    fn describe_array(
        &self,
        b: &mut FunctionBuilder<'_>,
        obj: Value,
        a: &ArrayParam,
    ) -> Result<Value, JitError> {
        let np = self
            .numpy
            .ok_or_else(|| JitError::Codegen("an array parameter without NumPy".into()))?;
        let flags = MemFlagsData::trusted();
        let strides_at = size_of::<DLTensor>() as i32;
        let size = strides_at as u32 + 8 * a.ndim;
        let slot =
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 3));
        let t = b.ins().stack_addr(self.ptr, slot, 0);
        let numpy_block = b.create_block();
        let other = b.create_block();
        let join = b.create_block();
        let is_numpy = self.is_exact(b, obj, np.ndarray_type);
        b.ins().brif(is_numpy, numpy_block, &[], other, &[]);
        b.seal_block(other);
        b.switch_to_block(other);
        // The parameter's description lives as long as the entry: for the process.
        let param = Box::leak(Box::new(a.clone())) as *const ArrayParam;
        let mut sig = ir::Signature::new(b.func.signature.call_conv);
        sig.params.extend([AbiParam::new(self.ptr); 3]);
        sig.returns.push(AbiParam::new(types::I32));
        let sig = b.import_signature(sig);
        let f = self.addr(b, self.api.describe);
        let param = self.addr(b, param as usize);
        let call = b.ins().call_indirect(sig, f, &[obj, t, param]);
        let described = b.inst_results(call)[0];
        b.ins().brif(described, join, &[], self.slow, &[]);
        b.seal_block(numpy_block);
        b.switch_to_block(numpy_block);
        let nd = b.ins().load(types::I32, flags, obj, np.nd);
        let ok = b.ins().icmp_imm_s(IntCC::Equal, nd, a.ndim as i64);
        self.require(b, ok);
        let descr = b.ins().load(self.ptr, flags, obj, np.descr);
        let type_num = b.ins().load(types::I32, flags, descr, np.type_num);
        let mut ok = b.ins().iconst(types::I8, 0);
        for &t in &a.type_nums {
            let is = b.ins().icmp_imm_s(IntCC::Equal, type_num, t as i64);
            ok = b.ins().bor(ok, is);
        }
        self.require(b, ok);
        let order = b.ins().load(types::I8, flags, descr, np.byteorder);
        let ok = b
            .ins()
            .icmp_imm_s(IntCC::NotEqual, order, FOREIGN_ORDER as i64);
        self.require(b, ok);
        let want = (if a.writable { NPY_WRITEABLE } else { 0 })
            | (if a.contiguous { NPY_C_CONTIGUOUS } else { 0 });
        if want != 0 {
            let have = b.ins().load(types::I32, flags, obj, np.flags);
            let have = b.ins().band_imm_s(have, want);
            let ok = b.ins().icmp_imm_s(IntCC::Equal, have, want);
            self.require(b, ok);
        }
        let byte_strides = b.ins().load(self.ptr, flags, obj, np.strides);
        let shift = a.itemsize.trailing_zeros() as i64;
        for k in 0..a.ndim as i32 {
            let s = b.ins().load(types::I64, flags, byte_strides, 8 * k);
            if shift > 0 {
                // A stride that is not a whole number of elements: the general entry says so.
                let rem = b.ins().band_imm_s(s, a.itemsize as i64 - 1);
                let ok = b.ins().icmp_imm_s(IntCC::Equal, rem, 0);
                self.require(b, ok);
            }
            let e = b.ins().sshr_imm_s(s, shift);
            b.ins().store(flags, e, t, strides_at + 8 * k);
        }
        let store = |b: &mut FunctionBuilder<'_>, ty: ir::Type, v: i64, at: i32| {
            let v = b.ins().iconst(ty, v);
            b.ins().store(flags, v, t, at);
        };
        let data = b.ins().load(self.ptr, flags, obj, np.data);
        b.ins().store(flags, data, t, at::DATA);
        let device_id = at::DEVICE + offset_of!(DLDevice, device_id) as i32;
        store(b, types::I32, DL_CPU, at::DEVICE);
        store(b, types::I32, 0, device_id);
        store(b, types::I32, a.ndim as i64, at::NDIM);
        let dtype = |field: usize| at::DTYPE + field as i32;
        store(
            b,
            types::I8,
            a.dl_code as i64,
            dtype(offset_of!(DLDataType, code)),
        );
        store(
            b,
            types::I8,
            a.dl_bits as i64,
            dtype(offset_of!(DLDataType, bits)),
        );
        store(b, types::I16, 1, dtype(offset_of!(DLDataType, lanes)));
        let dims = b.ins().load(self.ptr, flags, obj, np.dimensions);
        b.ins().store(flags, dims, t, at::SHAPE);
        let strides = b.ins().stack_addr(self.ptr, slot, strides_at);
        b.ins().store(flags, strides, t, at::STRIDES);
        store(b, types::I64, 0, at::BYTE_OFFSET);
        b.ins().jump(join, &[]);
        b.seal_block(join);
        b.switch_to_block(join);
        Ok(t)
    }

    fn unbox_int(&self, b: &mut FunctionBuilder<'_>, obj: Value, i: IntType) -> Value {
        let ok = self.is_exact(b, obj, self.api.long_type);
        self.require(b, ok);
        let overflow =
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 4, 2));
        let at = b.ins().stack_addr(self.ptr, overflow, 0);
        let mut sig = ir::Signature::new(b.func.signature.call_conv);
        sig.params
            .extend([AbiParam::new(self.ptr), AbiParam::new(self.ptr)]);
        sig.returns.push(AbiParam::new(types::I64));
        let sig = b.import_signature(sig);
        let f = self.addr(b, self.api.long_as_long_long_and_overflow);
        let call = b.ins().call_indirect(sig, f, &[obj, at]);
        let v = b.inst_results(call)[0];
        let flag = b.ins().load(types::I32, MemFlagsData::trusted(), at, 0);
        let ok = b.ins().icmp_imm_s(IntCC::Equal, flag, 0);
        self.require(b, ok);
        let (lo, hi) = i.range();
        if lo > i64::MIN as i128 {
            let ok = b
                .ins()
                .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, v, lo as i64);
            self.require(b, ok);
        }
        if hi < i64::MAX as i128 {
            let ok = b
                .ins()
                .icmp_imm_s(IntCC::SignedLessThanOrEqual, v, hi as i64);
            self.require(b, ok);
        }
        if i.bits() < 64 {
            b.ins()
                .ireduce(ir::Type::int(i.bits() as u16).expect("width"), v)
        } else {
            v
        }
    }

    /// A new reference to `obj`, through `Py_IncRef`.
    fn incref(&self, b: &mut FunctionBuilder<'_>, obj: Value) -> Value {
        let f = self.addr(b, self.api.incref);
        b.ins().call_indirect(self.sig_ptr1, f, &[obj]);
        obj
    }

    /// `value` of C type `ty` as a new Python object (NULL with an error set on failure,
    /// as the C API functions return).
    fn boxed(&self, b: &mut FunctionBuilder<'_>, values: &[Value], ty: &Type) -> Value {
        let call1 = |b: &mut FunctionBuilder<'_>, f: usize, arg_ty: ir::Type, v: Value| {
            let mut sig = ir::Signature::new(b.func.signature.call_conv);
            sig.params.push(AbiParam::new(arg_ty));
            sig.returns.push(AbiParam::new(self.ptr));
            let sig = b.import_signature(sig);
            let f = self.addr(b, f);
            let call = b.ins().call_indirect(sig, f, &[v]);
            b.inst_results(call)[0]
        };
        let v = || values[0];
        match ty {
            Type::Complex(_) => {
                let mut sig = ir::Signature::new(b.func.signature.call_conv);
                sig.params.extend([AbiParam::new(types::F64); 2]);
                sig.returns.push(AbiParam::new(self.ptr));
                let sig = b.import_signature(sig);
                let f = self.addr(b, self.api.complex_from_doubles);
                let call = b.ins().call_indirect(sig, f, &[values[0], values[1]]);
                b.inst_results(call)[0]
            }
            Type::Pointer { .. } => {
                call1(b, self.api.long_from_unsigned_long_long, types::I64, v())
            }
            Type::Void => {
                let none = self.addr(b, self.api.py_none);
                self.incref(b, none)
            }
            Type::Float(f) => {
                let d = if *f == FloatType::F32 {
                    b.ins().fpromote(types::F64, v())
                } else {
                    v()
                };
                call1(b, self.api.float_from_double, types::F64, d)
            }
            Type::Int(i) => {
                let wide = if i.bits() == 64 {
                    v()
                } else if i.signed() {
                    b.ins().sextend(types::I64, v())
                } else {
                    b.ins().uextend(types::I64, v())
                };
                let f = if i.signed() {
                    self.api.long_from_long_long
                } else {
                    self.api.long_from_unsigned_long_long
                };
                call1(b, f, types::I64, wide)
            }
            Type::Bool => {
                // C's bool is 0 or 1; any nonzero byte reads as true, as the general path does.
                let t = self.addr(b, self.api.py_true);
                let f = self.addr(b, self.api.py_false);
                let o = b.ins().select(v(), t, f);
                self.incref(b, o)
            }
            other => unreachable!("entries are made only for scalars, not '{other}'"),
        }
    }
}

fn generate(spec: &EntrySpec, api: &EntryApi, numpy: Option<&NumpyApi>) -> Result<usize, JitError> {
    let module = new_module()?;
    let call_conv = module.isa().default_call_conv();
    let code_sig = clif_signature(call_conv, &spec.raw)?;
    let ptr = pointer_type();
    let mut outer = module.make_signature();
    outer.params.extend([AbiParam::new(ptr); 4]);
    outer.returns.push(AbiParam::new(ptr));
    let mut ctx = module.make_context();
    ctx.func.signature = outer.clone();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let start = b.create_block();
        let slow = b.create_block();
        b.set_cold_block(slow);
        b.append_block_params_for_function_params(start);
        b.switch_to_block(start);
        b.seal_block(start);
        let &[callable, args, nargsf, kwnames] = b.block_params(start) else {
            unreachable!("four parameters were declared")
        };
        let mut s1 = ir::Signature::new(call_conv);
        s1.params.push(AbiParam::new(ptr));
        let sig_ptr1 = b.import_signature(s1);
        let c = Ctx {
            api,
            numpy,
            ptr,
            slow,
            sig_ptr1,
        };
        let no_keywords = b.ins().icmp_imm_s(IntCC::Equal, kwnames, 0);
        c.require(&mut b, no_keywords);
        let visible = spec
            .params
            .iter()
            .filter(|p| !matches!(p, EntryParam::Hidden(_)))
            .count();
        let n = b.ins().band_imm_s(nargsf, !ARGUMENTS_OFFSET as i64);
        let arity = b.ins().icmp_imm_s(IntCC::Equal, n, visible as i64);
        c.require(&mut b, arity);

        let mut values = Vec::new();
        let mut next = 0;
        for (param, p) in spec.params.iter().zip(&spec.raw.params) {
            let clif = abi_params(&p.ty)?[0].value_type;
            match param {
                EntryParam::Hidden(bits) => {
                    let v = if clif.is_int() {
                        let mask = u64::MAX >> (64 - clif.bits());
                        b.ins().iconst(clif, (*bits as u64 & mask) as i64)
                    } else {
                        return Err(JitError::Unsupported(format!(
                            "a hidden '{}' parameter in a Python entry",
                            p.ty
                        )));
                    };
                    values.push(v);
                }
                EntryParam::Visible(_) | EntryParam::Array(_) => {
                    let obj = b.ins().load(
                        ptr,
                        MemFlagsData::trusted(),
                        args,
                        (next * ptr.bytes() as usize) as i32,
                    );
                    next += 1;
                    match param {
                        EntryParam::Array(a) => values.push(c.describe_array(&mut b, obj, a)?),
                        EntryParam::Visible(ty) => values.extend(c.unbox(&mut b, obj, ty)),
                        EntryParam::Hidden(_) => unreachable!("matched above"),
                    }
                }
            }
        }
        let code = b
            .ins()
            .load(ptr, MemFlagsData::trusted(), callable, spec.code_offset);
        if spec.errors {
            let f = c.addr(&mut b, api.clear);
            b.ins().call_indirect(sig_ptr1, f, &[callable]);
        }
        let code_sig = b.import_signature(code_sig);
        let call = b.ins().call_indirect(code_sig, code, &values);
        let results = b.inst_results(call).to_vec();
        if spec.errors {
            let mut s = ir::Signature::new(call_conv);
            s.params.push(AbiParam::new(ptr));
            s.returns.push(AbiParam::new(types::I32));
            let s = b.import_signature(s);
            let f = c.addr(&mut b, api.check);
            let call = b.ins().call_indirect(s, f, &[callable]);
            let failed = b.inst_results(call)[0];
            let ok = b.create_block();
            let fail = b.create_block();
            b.set_cold_block(fail);
            b.ins().brif(failed, fail, &[], ok, &[]);
            b.seal_block(fail);
            b.switch_to_block(fail);
            let null = b.ins().iconst(ptr, 0);
            b.ins().return_(&[null]);
            b.seal_block(ok);
            b.switch_to_block(ok);
        }
        let obj = c.boxed(&mut b, &results, &spec.raw.ret);
        b.ins().return_(&[obj]);

        b.seal_block(slow);
        b.switch_to_block(slow);
        let mut s = ir::Signature::new(call_conv);
        s.params.extend([AbiParam::new(ptr); 4]);
        s.returns.push(AbiParam::new(ptr));
        let s = b.import_signature(s);
        let f = c.addr(&mut b, api.slow);
        let call = b
            .ins()
            .call_indirect(s, f, &[callable, args, nargsf, kwnames]);
        let r = b.inst_results(call)[0];
        b.ins().return_(&[r]);
        b.finalize(module.target_config());
    }
    // Made once per signature for the life of the process (see the module docs).
    finish_for_process(module, &outer, &mut ctx)
}
