//! Lowering typed kernels to Cranelift IR, and compiling them into owned code memory.

use std::collections::HashMap;
use std::sync::Arc;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, types as clt, BlockArg, InstBuilder, MemFlagsData, Value};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use crate::abi::{FloatType, Signature, Type};

use super::code::{finish, new_module, CodeMemory};
use super::ir::{BinOp, Builtin, Callee, CmpOp, Expr, Function, MathFn, Span, Stmt, UnaryOp};
use super::lower::{abi_params, pointer_type};
use super::runtime;
use super::thunk::{ArgSource, CountGuard};
use super::typing::{
    binary_type, is_float, is_int, kernel_type_name, promote, CompileError, Typer, Types, I64,
};
use super::JitError;

/// Why a kernel did not compile.
#[derive(Clone, Debug)]
pub enum KernelError {
    /// The source is outside the language or mistyped (points at the source).
    Compile(CompileError),
    /// Code generation failed.
    Jit(JitError),
}

impl From<CompileError> for KernelError {
    fn from(e: CompileError) -> Self {
        KernelError::Compile(e)
    }
}

impl From<JitError> for KernelError {
    fn from(e: JitError) -> Self {
        KernelError::Jit(e)
    }
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelError::Compile(e) => e.fmt(f),
            KernelError::Jit(e) => e.fmt(f),
        }
    }
}

/// A compiled kernel: its entry point, the memory that holds it, its types and C signature.
#[derive(Clone)]
pub struct Compiled {
    /// The entry point, valid while `code` lives.
    pub address: usize,
    /// The code memory.
    pub code: Arc<CodeMemory>,
    /// Every local's type and the return type.
    pub types: Types,
    /// The kernel's C signature.
    pub signature: Signature,
}

/// The C signature of `f` once its return type is known.
pub fn kernel_signature(f: &Function, types: &Types) -> Signature {
    Signature::new(types.ret.clone(), f.params.iter().map(|(_, t)| t.clone()))
}

fn check_value_types(f: &Function) -> Result<(), CompileError> {
    for (name, t) in &f.params {
        let ok = matches!(t, Type::Bool | Type::Pointer { .. } | Type::Array { .. })
            || is_int(t)
            || is_float(t);
        if !ok {
            return Err(CompileError::unsupported(
                Span::default(),
                format!("parameter '{name}' has type {t}, which kernels do not support yet"),
            ));
        }
    }
    Ok(())
}

fn clif_signature(module: &JITModule, sig: &Signature) -> Result<ir::Signature, JitError> {
    let mut s = module.make_signature();
    for t in sig.arg_types() {
        s.params.extend(abi_params(t)?);
    }
    s.returns.extend(abi_params(&sig.ret)?);
    Ok(s)
}

/// A different entry for a kernel: its parameters come from the outer signature's
/// parameters as `sources` say (the adapters of `thunk.rs`, compiled into the kernel
/// itself so a consumer's call reaches the kernel's code with no extra hop).
#[derive(Clone, Debug)]
pub struct Entry {
    /// The signature the consumer calls.
    pub outer: Signature,
    /// Where each kernel parameter comes from.
    pub sources: Vec<ArgSource>,
    /// An element-count check before anything is read.
    pub guard: Option<CountGuard>,
}

/// A translated kernel: its body's function, and for a kernel that makes calls the
/// entry that callers use (see [`entry_for`]).
type Translated = (Context, FuncId, Types, Signature, Option<(Context, FuncId)>);

fn translate(
    module: &mut JITModule,
    f: &Function,
    entry: Option<&Entry>,
) -> Result<Translated, KernelError> {
    translate_as(module, f, entry, false)
}

fn translate_as(
    module: &mut JITModule,
    f: &Function,
    entry: Option<&Entry>,
    ufunc: bool,
) -> Result<Translated, KernelError> {
    check_value_types(f)?;
    let types = Typer::run(f)?;
    let sig = kernel_signature(f, &types);
    if let Some(e) = entry {
        if e.sources.len() != f.params.len() || !e.outer.ret.abi_eq(&sig.ret) {
            return Err(
                JitError::Unsupported(format!("an entry '{}' for '{sig}'", e.outer)).into(),
            );
        }
    }
    let csig = if ufunc {
        if f.params
            .iter()
            .any(|(_, t)| !(is_int(t) || is_float(t) || *t == Type::Bool))
            || !(is_int(&types.ret) || is_float(&types.ret) || types.ret == Type::Bool)
        {
            return Err(JitError::Unsupported(format!(
                "a ufunc loop for '{sig}' (ufuncs take and return numbers)"
            ))
            .into());
        }
        let ptr = pointer_type();
        let mut s = module.make_signature();
        s.params.extend([ir::AbiParam::new(ptr); 4]);
        s
    } else {
        clif_signature(module, entry.map_or(&sig, |e| &e.outer))?
    };
    // A kernel that makes calls checks the stack around each; its body takes this
    // thread's StackState as a last, hidden parameter from a small entry function.
    let guarded = !ufunc && entry.is_none() && makes_calls(&f.body);
    let mut body_sig = csig.clone();
    if guarded {
        body_sig.params.push(ir::AbiParam::new(pointer_type()));
    }
    let id = module
        .declare_anonymous_function(&body_sig)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let mut ctx = module.make_context();
    ctx.func.signature = body_sig;
    let mut fctx = FunctionBuilderContext::new();
    {
        let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let mut g = Gen::new(b, f, &types, module, id);
        g.entry = entry.cloned();
        g.guarded = guarded;
        if ufunc {
            g.ufunc_body()?;
        } else {
            g.body()?;
        }
        g.b.finalize(module.target_config());
    }
    let wrapper = if guarded {
        Some(entry_for(module, id, csig)?)
    } else {
        None
    };
    Ok((ctx, id, types, sig, wrapper))
}

/// The entry of a kernel that makes calls: fetch this thread's StackState once and pass
/// it to the body `body` as its last parameter.
fn entry_for(
    module: &mut JITModule,
    body: FuncId,
    csig: ir::Signature,
) -> Result<(Context, FuncId), KernelError> {
    let id = module
        .declare_anonymous_function(&csig)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let ptr = pointer_type();
    let call_conv = csig.call_conv;
    let mut ctx = module.make_context();
    ctx.func.signature = csig;
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let mut vals = b.block_params(block).to_vec();
    let mut hsig = ir::Signature::new(call_conv);
    hsig.returns.push(ir::AbiParam::new(ptr));
    let href = b.import_signature(hsig);
    let helper = b.ins().iconst(ptr, runtime::stack_state_address() as i64);
    let state = b.ins().call_indirect(href, helper, &[]);
    vals.push(b.inst_results(state)[0]);
    let body_ref = module.declare_func_in_func(body, b.func);
    let call = b.ins().call(body_ref, &vals);
    let rets = b.inst_results(call).to_vec();
    b.ins().return_(&rets);
    b.finalize(module.target_config());
    Ok((ctx, id))
}

/// Define a translated kernel's body and finish with the function callers use.
fn finish_kernel(
    mut module: JITModule,
    id: FuncId,
    ctx: &mut Context,
    wrapper: Option<(Context, FuncId)>,
) -> Result<(usize, Arc<CodeMemory>), KernelError> {
    let Some((mut wctx, wid)) = wrapper else {
        return Ok(finish(module, id, ctx)?);
    };
    module
        .define_function(id, ctx)
        .map_err(|e| JitError::Codegen(format!("{e:?}")))?;
    module.clear_context(ctx);
    Ok(finish(module, wid, &mut wctx)?)
}

/// Whether `body` calls anything but builtins (only such a kernel can recurse).
fn makes_calls(body: &[Stmt]) -> bool {
    fn expr(e: &Expr) -> bool {
        match e {
            Expr::Call(Callee::Builtin(_), args, _) => args.iter().any(expr),
            Expr::Call(..) => true,
            Expr::Unary(_, a, _) | Expr::Shape(a, _, _) | Expr::Ndim(a, _) => expr(a),
            Expr::Binary(_, a, b, _) => expr(a) || expr(b),
            Expr::Compare(a, rest, _) => expr(a) || rest.iter().any(|(_, e)| expr(e)),
            Expr::BoolOp(_, es, _) => es.iter().any(expr),
            Expr::IfExp(c, a, b, _) => expr(c) || expr(a) || expr(b),
            Expr::Index(p, idx, _) => expr(p) || idx.iter().any(expr),
            Expr::Int(..)
            | Expr::Float(..)
            | Expr::Bool(..)
            | Expr::Null(_)
            | Expr::Name(..)
            | Expr::FuncRef(..) => false,
        }
    }
    body.iter().any(|s| match s {
        Stmt::Assign(_, es, _) => es.iter().any(expr),
        Stmt::AugAssign(_, _, e, _) | Stmt::Expr(e, _) => expr(e),
        Stmt::Return(e, _) => e.as_ref().is_some_and(expr),
        Stmt::Store(p, idx, v, _) | Stmt::AugStore(p, idx, _, v, _) => {
            expr(p) || idx.iter().any(expr) || expr(v)
        }
        Stmt::If(c, a, b, _) | Stmt::While(c, a, b, _) => {
            expr(c) || makes_calls(a) || makes_calls(b)
        }
        Stmt::For {
            start,
            stop,
            step,
            body,
            orelse,
            ..
        } => expr(start) || expr(stop) || expr(step) || makes_calls(body) || makes_calls(orelse),
        Stmt::Break(_) | Stmt::Continue(_) | Stmt::Pass => false,
    })
}

/// Compile a kernel into fresh code memory.
pub fn compile(f: &Function) -> Result<Compiled, KernelError> {
    compile_entry(f, None)
}

/// Compile a kernel with another entry (see [`Entry`]); the result's `signature` is
/// the kernel's own, its code takes `entry.outer`.
pub fn compile_entry(f: &Function, entry: Option<&Entry>) -> Result<Compiled, KernelError> {
    super::with_room(|| {
        let mut module = new_module()?;
        let (mut ctx, id, types, signature, wrapper) = translate(&mut module, f, entry)?;
        let (address, code) = finish_kernel(module, id, &mut ctx, wrapper)?;
        Ok(Compiled {
            address,
            code,
            types,
            signature,
        })
    })
}

/// Compile a kernel's body as a NumPy ufunc inner loop
/// (`void (char **args, npy_intp const *dimensions, npy_intp const *steps, void *data)`).
pub fn compile_ufunc_loop(f: &Function) -> Result<Compiled, KernelError> {
    super::with_room(|| {
        let mut module = new_module()?;
        let (mut ctx, id, types, signature, wrapper) = translate_as(&mut module, f, None, true)?;
        let (address, code) = finish_kernel(module, id, &mut ctx, wrapper)?;
        Ok(Compiled {
            address,
            code,
            types,
            signature,
        })
    })
}

/// The Cranelift IR a kernel lowers to, before optimisation (for `inspect_ir`).
pub fn clif_text(f: &Function) -> Result<String, KernelError> {
    clif_listing(f, None)
}

/// The Cranelift IR of every function compiled for a kernel with `entry`, before
/// optimisation: its body, then (for a kernel that makes calls) the function callers
/// enter by. Addresses of runtime helpers and native callees, which generated code holds
/// as constants, print as `<name>`, so the text is the same on every run and machine.
pub fn clif_listing(f: &Function, entry: Option<&Entry>) -> Result<String, KernelError> {
    super::with_room(|| {
        let mut module = new_module()?;
        let (ctx, _, _, _, wrapper) = translate(&mut module, f, entry)?;
        let mut text = ctx.func.display().to_string();
        if let Some((wctx, _)) = wrapper {
            text.push('\n');
            text.push_str(&wctx.func.display().to_string());
        }
        let native = |a: usize| {
            f.natives
                .iter()
                .flat_map(|o| &o.targets)
                .find(|t| t.address == a)
                .map(|t| t.name.as_str())
        };
        Ok(name_addresses(&text, |a| {
            runtime::helper_name(a).or_else(|| native(a))
        }))
    })
}

/// `text` with each hexadecimal number that `name` knows as an address (an `iconst`
/// operand, and the comments that repeat it) replaced by `<name>`.
fn name_addresses<'n>(text: &str, name: impl Fn(usize) -> Option<&'n str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..]
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '_'))
            .map_or(&rest[at + 2..], |end| &rest[at + 2..at + 2 + end]);
        let literal = &rest[at..at + 2 + digits.len()];
        match usize::from_str_radix(&digits.replace('_', ""), 16)
            .ok()
            .and_then(&name)
        {
            Some(n) => {
                out.push('<');
                out.push_str(n);
                out.push('>');
            }
            None => out.push_str(literal),
        }
        rest = &rest[at + literal.len()..];
    }
    out.push_str(rest);
    out
}

/// Where a ufunc loop's `return` stores and continues.
#[derive(Clone, Copy)]
struct UfuncLoop {
    latch: ir::Block,
    out_ptr: Value,
    out_step: Value,
    index: Variable,
}

/// An array parameter's descriptor, read once at entry.
#[derive(Clone)]
struct ArrayView {
    base: Value,
    shape: Vec<Value>,
    strides: Vec<Value>,
    dtype: Type,
}

struct Loop {
    head: ir::Block,
    exit: ir::Block,
    broke: bool,
}

struct Gen<'a, 'b> {
    b: FunctionBuilder<'b>,
    f: &'a Function,
    typer: Typer<'a>,
    vars: HashMap<String, (Variable, Type)>,
    ret: Type,
    loops: Vec<Loop>,
    terminated: bool,
    self_ref: ir::FuncRef,
    entry: Option<Entry>,
    arrays: HashMap<String, ArrayView>,
    ufunc: Option<UfuncLoop>,
    ptr: ir::Type,
    call_conv: cranelift_codegen::isa::CallConv,
    /// Whether the body checks the stack around calls (its last parameter is the
    /// thread's StackState, kept in `stack_state`).
    guarded: bool,
    stack_state: Option<Value>,
}

type R<T> = Result<T, KernelError>;

fn clif(t: &Type) -> ir::Type {
    match t {
        Type::Bool => clt::I8,
        Type::Int(i) => ir::Type::int(i.bits() as u16).expect("integer width"),
        Type::Float(FloatType::F32) => clt::F32,
        Type::Float(_) => clt::F64,
        _ => pointer_type(),
    }
}

fn args(vs: &[Value]) -> Vec<BlockArg> {
    vs.iter().map(|v| BlockArg::Value(*v)).collect()
}

impl<'a, 'b> Gen<'a, 'b> {
    fn new(
        b: FunctionBuilder<'b>,
        f: &'a Function,
        types: &Types,
        module: &mut JITModule,
        id: FuncId,
    ) -> Self {
        let self_ref = module.declare_func_in_func(id, b.func);
        let call_conv = module.isa().default_call_conv();
        let typer = Typer::with_types(f, types);
        Gen {
            b,
            f,
            typer,
            vars: HashMap::new(),
            ret: types.ret.clone(),
            loops: Vec::new(),
            terminated: false,
            self_ref,
            entry: None,
            arrays: HashMap::new(),
            ufunc: None,
            ptr: pointer_type(),
            call_conv,
            guarded: false,
            stack_state: None,
        }
        .declare(types)
    }

    fn declare(mut self, types: &Types) -> Self {
        for name in &types.order {
            let t = types.vars[name].clone();
            let var = self.b.declare_var(clif(&t));
            self.vars.insert(name.clone(), (var, t));
        }
        self
    }

    fn iconst(&mut self, ty: ir::Type, v: i64) -> Value {
        let bits = ty.bits();
        let masked = if bits >= 64 {
            v
        } else {
            v & ((1i64 << bits) - 1)
        };
        self.b.ins().iconst(ty, masked)
    }

    fn body(&mut self) -> R<()> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        self.b.seal_block(entry);
        let mut outer: Vec<Value> = self.b.block_params(entry).to_vec();
        if self.guarded {
            self.stack_state = outer.pop();
        }
        let params = match self.entry.clone() {
            None => outer,
            Some(e) => self.entry_params(&e, &outer),
        };
        for (k, (name, t)) in self.f.params.iter().enumerate() {
            if let Type::Array {
                dtype,
                ndim,
                contiguous,
            } = t
            {
                let view = self.array_view(params[k], dtype, *ndim, *contiguous);
                self.arrays.insert(name.clone(), view);
            }
        }
        self.define_variables(&params);
        self.block(&self.f.body)?;
        if !self.terminated {
            if self.ret == Type::Void {
                self.b.ins().return_(&[]);
            } else {
                let span = last_span(&self.f.body);
                return Err(CompileError::typing(
                    span,
                    format!(
                        "'{}' can reach its end without returning a value ({} expected)",
                        self.f.name,
                        kernel_type_name(&self.ret)
                    ),
                )
                .into());
            }
        }
        Ok(())
    }

    /// The body as a NumPy ufunc inner loop, `void (char **args, npy_intp const *dimensions,
    /// npy_intp const *steps, void *data)`: for each of `dimensions[0]` elements, the
    /// parameters are loaded from `args[k] + i * steps[k]`, the kernel body runs, and each
    /// `return v` stores `v` at the output and moves on to the next element.
    fn ufunc_body(&mut self) -> R<()> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        self.b.seal_block(entry);
        let outer: Vec<Value> = self.b.block_params(entry).to_vec();
        let (args_ptr, dims, steps) = (outer[0], outer[1], outer[2]);
        let flags = MemFlagsData::trusted();
        let n = self.b.ins().load(clt::I64, flags, dims, 0);
        let nin = self.f.params.len();
        let mut ins = Vec::with_capacity(nin);
        for k in 0..=nin {
            let p = self.b.ins().load(self.ptr, flags, args_ptr, (8 * k) as i32);
            let s = self.b.ins().load(clt::I64, flags, steps, (8 * k) as i32);
            ins.push((p, s));
        }
        let (out_ptr, out_step) = ins[nin];
        let index = self.b.declare_var(clt::I64);
        let zero = self.b.ins().iconst(clt::I64, 0);
        self.b.def_var(index, zero);
        let (bodyb, latch, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let any = self.b.ins().icmp(IntCC::SignedGreaterThan, n, zero);
        self.b.ins().brif(any, bodyb, &[], exit, &[]);
        self.b.switch_to_block(bodyb);
        let i = self.b.use_var(index);
        let mut params = Vec::with_capacity(nin);
        for (k, (_, t)) in self.f.params.iter().enumerate() {
            let (p, s) = ins[k];
            let off = self.b.ins().imul(i, s);
            let addr = self.b.ins().iadd(p, off);
            params.push(self.b.ins().load(clif(t), MemFlagsData::new(), addr, 0));
        }
        self.define_variables(&params);
        self.ufunc = Some(UfuncLoop {
            latch,
            out_ptr,
            out_step,
            index,
        });
        self.block(&self.f.body)?;
        if !self.terminated {
            return Err(CompileError::typing(
                last_span(&self.f.body),
                format!(
                    "'{}' can reach its end without returning a value",
                    self.f.name
                ),
            )
            .into());
        }
        self.b.seal_block(latch);
        self.b.switch_to_block(latch);
        let i = self.b.use_var(index);
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.def_var(index, next);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, next, n);
        self.b.ins().brif(more, bodyb, &[], exit, &[]);
        self.b.seal_block(bodyb);
        self.b.seal_block(exit);
        self.b.switch_to_block(exit);
        self.b.ins().return_(&[]);
        Ok(())
    }

    /// Give every parameter its value and every local zero (documented: Python would
    /// raise UnboundLocalError where a local is read before it is assigned).
    fn define_variables(&mut self, params: &[Value]) {
        let mut names: Vec<(String, Variable, Type)> = self
            .vars
            .iter()
            .map(|(n, (v, t))| (n.clone(), *v, t.clone()))
            .collect();
        names.sort_by_key(|(_, v, _)| v.as_u32());
        for (name, var, t) in names {
            let v = match self.f.params.iter().position(|(p, _)| *p == name) {
                Some(k) => params[k],
                None => self.zero(&t),
            };
            self.b.def_var(var, v);
        }
    }

    /// The kernel's parameters, read from an adapted entry's parameters.
    fn entry_params(&mut self, e: &Entry, outer: &[Value]) -> Vec<Value> {
        if let Some(g) = e.guard {
            let count = outer[g.count_param];
            let ty = self.b.func.dfg.value_type(count);
            let min = self.iconst(ty, g.min);
            let ok = self
                .b
                .ins()
                .icmp(IntCC::SignedGreaterThanOrEqual, count, min);
            let (go, bail) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(ok, go, &[], bail, &[]);
            self.b.seal_block(go);
            self.b.seal_block(bail);
            self.b.switch_to_block(bail);
            let rets: Vec<Value> = match clif(&self.ret) {
                _ if self.ret == Type::Void => vec![],
                clt::F64 => vec![self.b.ins().f64const(f64::NAN)],
                clt::F32 => vec![self.b.ins().f32const(f32::NAN)],
                ty => vec![self.b.ins().iconst(ty, 0)],
            };
            self.b.ins().return_(&rets);
            self.b.switch_to_block(go);
        }
        let mut params = Vec::with_capacity(e.sources.len());
        for ((_, t), src) in self.f.params.iter().zip(&e.sources) {
            let ty = clif(t);
            let v = match *src {
                ArgSource::Param(k) => outer[k],
                ArgSource::Const(bits) => match ty {
                    clt::F64 => self.b.ins().f64const(f64::from_bits(bits)),
                    clt::F32 => self.b.ins().f32const(f32::from_bits(bits as u32)),
                    _ => self.iconst(ty, bits as i64),
                },
                ArgSource::Field { param, offset } => {
                    self.b
                        .ins()
                        .load(ty, MemFlagsData::trusted(), outer[param], offset)
                }
                ArgSource::Element { param, index } => {
                    let x = self.b.ins().load(
                        clt::F64,
                        MemFlagsData::new(),
                        outer[param],
                        (index * 8) as i32,
                    );
                    if is_float(t) || *t == Type::Bool {
                        self.convert(x, &Type::F64, t)
                    } else {
                        // quad passes doubles; an int parameter truncates (saturating).
                        let wide = self.b.ins().fcvt_to_sint_sat(clt::I64, x);
                        self.convert(wide, &I64, t)
                    }
                }
            };
            params.push(v);
        }
        params
    }

    fn zero(&mut self, t: &Type) -> Value {
        match clif(t) {
            clt::F32 => self.b.ins().f32const(0.0),
            clt::F64 => self.b.ins().f64const(0.0),
            ty => self.b.ins().iconst(ty, 0),
        }
    }

    fn ty(&self, e: &Expr) -> R<Type> {
        match self.typer.expr(e)? {
            Some(t) => Ok(t),
            None => Err(
                CompileError::typing(e.span(), "cannot infer the type of this expression").into(),
            ),
        }
    }

    // ------------------------------------------------------------------ statements

    fn block(&mut self, body: &[Stmt]) -> R<()> {
        for s in body {
            if self.terminated {
                // Code after return/break/continue never runs; the typer has checked it.
                break;
            }
            self.stmt(s)?;
        }
        Ok(())
    }

    /// Continue in `block` if anything can reach it; otherwise the code after it is dead.
    fn resume_at(&mut self, block: ir::Block, reachable: bool) {
        if reachable {
            self.b.seal_block(block);
            self.b.switch_to_block(block);
            self.terminated = false;
        } else {
            self.terminated = true;
        }
    }

    fn stmt(&mut self, s: &Stmt) -> R<()> {
        match s {
            Stmt::Assign(names, values, _) => {
                let mut vals = Vec::with_capacity(values.len());
                for (n, e) in names.iter().zip(values) {
                    let t = self.vars[n].1.clone();
                    vals.push(self.expr_as(e, &t)?);
                }
                for (n, v) in names.iter().zip(vals) {
                    let var = self.vars[n].0;
                    self.b.def_var(var, v);
                }
            }
            Stmt::AugAssign(n, op, e, span) => {
                let (var, t) = self.vars[n].clone();
                let cur = self.b.use_var(var);
                let (rv, rt) = self.expr(e)?;
                let (v, vt) = self.binary(*op, cur, &t, rv, &rt, *span)?;
                let v = self.convert(v, &vt, &t);
                self.b.def_var(var, v);
            }
            Stmt::Store(p, idx, e, _) => {
                let (addr, elem) = self.element_address(p, idx)?;
                let v = self.expr_as(e, &elem)?;
                self.b.ins().store(MemFlagsData::new(), v, addr, 0);
            }
            Stmt::AugStore(p, idx, op, e, span) => {
                let (addr, elem) = self.element_address(p, idx)?;
                let cur = self.b.ins().load(clif(&elem), MemFlagsData::new(), addr, 0);
                let (rv, rt) = self.expr(e)?;
                let (v, vt) = self.binary(*op, cur, &elem, rv, &rt, *span)?;
                let v = self.convert(v, &vt, &elem);
                self.b.ins().store(MemFlagsData::new(), v, addr, 0);
            }
            Stmt::If(c, then, orelse, _) => {
                let (tb, eb, merge) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.branch(c, tb, eb)?;
                self.b.seal_block(tb);
                self.b.seal_block(eb);
                self.b.switch_to_block(tb);
                self.block(then)?;
                let then_done = self.terminated;
                if !then_done {
                    self.b.ins().jump(merge, &[]);
                }
                self.terminated = false;
                self.b.switch_to_block(eb);
                self.block(orelse)?;
                let else_done = self.terminated;
                if !else_done {
                    self.b.ins().jump(merge, &[]);
                }
                self.resume_at(merge, !(then_done && else_done));
            }
            Stmt::While(c, body, orelse, _) => {
                // Rotated: the condition is tested before the first iteration and again at
                // the bottom of each (`continue` goes there), so an iteration takes one branch.
                let (bodyb, latch, elseb, exit) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                // `while True:` (or any nonzero literal) never reaches its else clause.
                let always =
                    matches!(c, Expr::Bool(true, _)) || matches!(c, Expr::Int(n, _) if *n != 0);
                if always {
                    self.b.ins().jump(bodyb, &[]);
                } else {
                    self.branch(c, bodyb, elseb)?;
                }
                self.b.switch_to_block(bodyb);
                let l = self.loop_body(body, latch, exit)?;
                if always {
                    self.b.ins().jump(bodyb, &[]);
                } else {
                    self.branch(c, bodyb, elseb)?;
                }
                self.b.seal_block(bodyb);
                if always {
                    // Only `break` reaches the exit of `while True`.
                    self.resume_at(exit, l.broke);
                } else {
                    self.b.seal_block(elseb);
                    self.loop_else(elseb, orelse, exit, l.broke)?;
                }
            }
            Stmt::For {
                var,
                start,
                stop,
                step,
                body,
                orelse,
                ..
            } => self.for_range(var, start, stop, step, body, orelse)?,
            Stmt::Break(_) => {
                let l = self.loops.last_mut().expect("typed: break inside a loop");
                l.broke = true;
                let exit = l.exit;
                self.b.ins().jump(exit, &[]);
                self.terminated = true;
            }
            Stmt::Continue(_) => {
                let head = self
                    .loops
                    .last()
                    .expect("typed: continue inside a loop")
                    .head;
                self.b.ins().jump(head, &[]);
                self.terminated = true;
            }
            Stmt::Return(Some(e), _) if self.ufunc.is_some() => {
                let u = self.ufunc.expect("checked");
                let ret = self.ret.clone();
                let v = self.expr_as(e, &ret)?;
                let i = self.b.use_var(u.index);
                let off = self.b.ins().imul(i, u.out_step);
                let addr = self.b.ins().iadd(u.out_ptr, off);
                self.b.ins().store(MemFlagsData::new(), v, addr, 0);
                self.b.ins().jump(u.latch, &[]);
                self.terminated = true;
            }
            Stmt::Return(value, _) => {
                match value {
                    Some(e) => {
                        let ret = self.ret.clone();
                        let v = self.expr_as(e, &ret)?;
                        self.b.ins().return_(&[v]);
                    }
                    None => {
                        self.b.ins().return_(&[]);
                    }
                }
                self.terminated = true;
            }
            Stmt::Expr(e, _) => {
                self.expr(e)?;
            }
            Stmt::Pass => {}
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn for_range(
        &mut self,
        var: &str,
        start: &Expr,
        stop: &Expr,
        step: &Expr,
        body: &[Stmt],
        orelse: &[Stmt],
    ) -> R<()> {
        let (v, vt) = self.vars[var].clone();
        // A literal step of +1 or -1 (the common case) counts the variable itself: it
        // cannot overflow, since it stops at `stop`. Other steps run an exact trip count.
        let unit = match step {
            Expr::Int(1, _) => Some(1i64),
            Expr::Int(-1, _) => Some(-1i64),
            _ => None,
        };
        let start = self.expr_as(start, &I64)?;
        let stop = self.expr_as(stop, &I64)?;
        let step = self.expr_as(step, &I64)?;
        let zero = self.b.ins().iconst(clt::I64, 0);
        let count = match unit {
            Some(_) => zero,
            None => self.trip_count(start, stop, step),
        };
        let (bodyb, latch, elseb, exit) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(bodyb, clt::I64);
        // Rotated like `while`: test before the first iteration and at the bottom.
        let more = |g: &mut Self, k: Value| match unit {
            Some(1) => g.b.ins().icmp(IntCC::SignedLessThan, k, stop),
            Some(_) => g.b.ins().icmp(IntCC::SignedGreaterThan, k, stop),
            None => g.b.ins().icmp(IntCC::UnsignedLessThan, k, count),
        };
        let first = if unit.is_some() { start } else { zero };
        let go = more(self, first);
        self.b.ins().brif(go, bodyb, &args(&[first]), elseb, &[]);
        self.b.switch_to_block(bodyb);
        let k = self.b.block_params(bodyb)[0];
        let value = match unit {
            Some(_) => k,
            None => {
                let offset = self.b.ins().imul(k, step);
                self.b.ins().iadd(start, offset)
            }
        };
        let value = self.convert(value, &I64, &vt);
        self.b.def_var(v, value);
        let l = self.loop_body(body, latch, exit)?;
        let next = self.b.ins().iadd_imm_s(k, unit.unwrap_or(1));
        let go = more(self, next);
        self.b.ins().brif(go, bodyb, &args(&[next]), elseb, &[]);
        self.b.seal_block(bodyb);
        self.b.seal_block(elseb);
        self.loop_else(elseb, orelse, exit, l.broke)
    }

    /// A loop body whose `continue` goes to `latch` and `break` to `exit`; returns with
    /// `latch` sealed and current.
    fn loop_body(&mut self, body: &[Stmt], latch: ir::Block, exit: ir::Block) -> R<Loop> {
        self.loops.push(Loop {
            head: latch,
            exit,
            broke: false,
        });
        self.block(body)?;
        if !self.terminated {
            self.b.ins().jump(latch, &[]);
        }
        let l = self.loops.pop().expect("loop");
        self.b.seal_block(latch);
        self.b.switch_to_block(latch);
        Ok(l)
    }

    /// A loop's `else` clause in `elseb` (sealed by the caller), then on to `exit`, which
    /// is reached if the loop was broken out of or the clause falls through.
    fn loop_else(
        &mut self,
        elseb: ir::Block,
        orelse: &[Stmt],
        exit: ir::Block,
        broke: bool,
    ) -> R<()> {
        self.terminated = false;
        self.b.switch_to_block(elseb);
        self.block(orelse)?;
        let else_done = self.terminated;
        if !else_done {
            self.b.ins().jump(exit, &[]);
        }
        self.resume_at(exit, broke || !else_done);
        Ok(())
    }

    /// The number of iterations of `range(start, stop, step)`, exact for every int64
    /// range (no overflow at the ends): step > 0: start < stop ? (stop - start - 1) / step + 1
    /// : 0, and symmetrically; a zero step runs no iterations.
    fn trip_count(&mut self, start: Value, stop: Value, step: Value) -> Value {
        let zero = self.b.ins().iconst(clt::I64, 0);
        let one = self.b.ins().iconst(clt::I64, 1);
        let up = self.b.ins().icmp(IntCC::SignedGreaterThan, step, zero);
        let down = self.b.ins().icmp(IntCC::SignedLessThan, step, zero);
        let span_up = self.b.ins().isub(stop, start);
        let span_up = self.b.ins().isub(span_up, one);
        let span_down = self.b.ins().isub(start, stop);
        let span_down = self.b.ins().isub(span_down, one);
        let neg_step = self.b.ins().ineg(step);
        let dist = self.b.ins().select(up, span_up, span_down);
        let stride = self.b.ins().select(up, step, neg_step);
        let nonzero = self.b.ins().bor(up, down);
        let safe_stride = self.b.ins().select(nonzero, stride, one);
        let q = self.b.ins().udiv(dist, safe_stride);
        let n = self.b.ins().iadd_imm_s(q, 1);
        let has_up = self.b.ins().icmp(IntCC::SignedLessThan, start, stop);
        let has_down = self.b.ins().icmp(IntCC::SignedGreaterThan, start, stop);
        let has = self.b.ins().select(up, has_up, has_down);
        let has = self.b.ins().band(has, nonzero);
        self.b.ins().select(has, n, zero)
    }

    // ------------------------------------------------------------------ expressions

    fn expr_as(&mut self, e: &Expr, to: &Type) -> R<Value> {
        if let (Expr::FuncRef(i, _), Some(want)) = (e, to.function_signature()) {
            let i = *i;
            let addr = self.f.natives[i]
                .targets
                .iter()
                .find(|t| t.visible.abi_eq(want))
                .map(|t| t.address)
                .expect("typed: a specialisation matches");
            return Ok(self.iconst(self.ptr, addr as i64));
        }
        let (v, t) = self.expr(e)?;
        Ok(self.convert(v, &t, to))
    }

    /// Branch to `t` if `e` is true, else to `f`. Conditions built from `and`, `or`,
    /// `not` and comparisons become branches directly (no boolean is materialised),
    /// which is what lets Cranelift fuse each compare with its branch.
    fn branch(&mut self, e: &Expr, t: ir::Block, f: ir::Block) -> R<()> {
        match e {
            Expr::BoolOp(is_and, values, _) => {
                for (k, v) in values.iter().enumerate() {
                    if k + 1 == values.len() {
                        return self.branch(v, t, f);
                    }
                    let next = self.b.create_block();
                    if *is_and {
                        self.branch(v, next, f)?;
                    } else {
                        self.branch(v, t, next)?;
                    }
                    self.b.seal_block(next);
                    self.b.switch_to_block(next);
                }
                Ok(())
            }
            Expr::Unary(UnaryOp::Not, x, _) => self.branch(x, f, t),
            Expr::Compare(first, rest, _) => {
                let (mut lv, mut lt) = self.expr(first)?;
                for (k, (op, re)) in rest.iter().enumerate() {
                    let (rv, rt) = self.expr(re)?;
                    let c = self.compare(*op, lv, &lt, rv, &rt);
                    if k + 1 == rest.len() {
                        self.b.ins().brif(c, t, &[], f, &[]);
                    } else {
                        let next = self.b.create_block();
                        self.b.ins().brif(c, next, &[], f, &[]);
                        self.b.seal_block(next);
                        self.b.switch_to_block(next);
                    }
                    (lv, lt) = (rv, rt);
                }
                Ok(())
            }
            _ => {
                let (v, ty) = self.expr(e)?;
                let c = self.truthy(v, &ty);
                self.b.ins().brif(c, t, &[], f, &[]);
                Ok(())
            }
        }
    }

    fn truthy(&mut self, v: Value, t: &Type) -> Value {
        if is_float(t) {
            let z = self.zero(t);
            self.b.ins().fcmp(FloatCC::NotEqual, v, z)
        } else if *t == Type::Bool {
            v
        } else {
            self.b.ins().icmp_imm_s(IntCC::NotEqual, v, 0)
        }
    }

    /// Convert a value between kernel types (implicit conversions and the casts).
    fn convert(&mut self, v: Value, from: &Type, to: &Type) -> Value {
        if from.abi_eq(to)
            || (matches!(from, Type::Pointer { .. }) && matches!(to, Type::Pointer { .. }))
        {
            return v;
        }
        let (fc, tc) = (clif(from), clif(to));
        match (from, to) {
            (_, Type::Bool) => self.truthy(v, from),
            (Type::Bool, t) if is_int(t) => {
                if tc.bits() > 8 {
                    self.b.ins().uextend(tc, v)
                } else {
                    v
                }
            }
            (Type::Bool, t) if is_float(t) => {
                let wide = self.b.ins().uextend(clt::I64, v);
                self.b.ins().fcvt_from_sint(tc, wide)
            }
            (Type::Int(fi), Type::Int(_)) => {
                if tc.bits() == fc.bits() {
                    v
                } else if tc.bits() > fc.bits() {
                    if fi.signed() {
                        self.b.ins().sextend(tc, v)
                    } else {
                        self.b.ins().uextend(tc, v)
                    }
                } else {
                    self.b.ins().ireduce(tc, v)
                }
            }
            (Type::Int(fi), t) if is_float(t) => {
                let wide = if fc.bits() < 64 {
                    if fi.signed() {
                        self.b.ins().sextend(clt::I64, v)
                    } else {
                        self.b.ins().uextend(clt::I64, v)
                    }
                } else {
                    v
                };
                if fi.signed() || fc.bits() < 64 {
                    self.b.ins().fcvt_from_sint(tc, wide)
                } else {
                    self.b.ins().fcvt_from_uint(tc, wide)
                }
            }
            (f, t) if is_float(f) && is_float(t) => {
                if tc == clt::F64 {
                    self.b.ins().fpromote(tc, v)
                } else {
                    self.b.ins().fdemote(tc, v)
                }
            }
            (f, t) if is_float(f) && is_int(t) => {
                // Only reachable through int(): truncate toward zero, saturating; NaN gives 0.
                let wide = self.b.ins().fcvt_to_sint_sat(clt::I64, v);
                self.convert(wide, &I64, t)
            }
            _ => v,
        }
    }

    fn expr(&mut self, e: &Expr) -> R<(Value, Type)> {
        Ok(match e {
            Expr::Int(n, _) => (self.b.ins().iconst(clt::I64, *n), I64),
            Expr::Float(x, _) => (self.b.ins().f64const(*x), Type::F64),
            Expr::Bool(x, _) => (self.b.ins().iconst(clt::I8, *x as i64), Type::Bool),
            Expr::Null(_) => (self.b.ins().iconst(self.ptr, 0), Type::void_ptr()),
            Expr::Name(n, _) => {
                let (var, t) = self.vars[n].clone();
                (self.b.use_var(var), t)
            }
            Expr::FuncRef(..) => {
                let t = self.ty(e)?;
                let v = self.expr_as(e, &t)?;
                (v, t)
            }
            Expr::Unary(op, x, _) => {
                let (v, t) = self.expr(x)?;
                match op {
                    UnaryOp::Not => {
                        let c = self.truthy(v, &t);
                        (self.b.ins().bxor_imm_u(c, 1), Type::Bool)
                    }
                    UnaryOp::Pos => {
                        let rt = if t == Type::Bool { I64 } else { t.clone() };
                        (self.convert(v, &t, &rt), rt)
                    }
                    UnaryOp::Neg => {
                        let rt = if t == Type::Bool { I64 } else { t.clone() };
                        let v = self.convert(v, &t, &rt);
                        if is_float(&rt) {
                            (self.b.ins().fneg(v), rt)
                        } else {
                            (self.b.ins().ineg(v), rt)
                        }
                    }
                    UnaryOp::Invert => {
                        let rt = if t == Type::Bool { I64 } else { t.clone() };
                        let v = self.convert(v, &t, &rt);
                        (self.b.ins().bnot(v), rt)
                    }
                }
            }
            Expr::Binary(op, a, b, span) => {
                let (va, ta) = self.expr(a)?;
                let (vb, tb) = self.expr(b)?;
                self.binary(*op, va, &ta, vb, &tb, *span)?
            }
            Expr::Compare(first, rest, _) => {
                let done = self.b.create_block();
                self.b.append_block_param(done, clt::I8);
                let (mut lv, mut lt) = self.expr(first)?;
                for (k, (op, re)) in rest.iter().enumerate() {
                    let (rv, rt) = self.expr(re)?;
                    let c = self.compare(*op, lv, &lt, rv, &rt);
                    if k + 1 == rest.len() {
                        self.b.ins().jump(done, &args(&[c]));
                    } else {
                        let next = self.b.create_block();
                        self.b.ins().brif(c, next, &[], done, &args(&[c]));
                        self.b.seal_block(next);
                        self.b.switch_to_block(next);
                    }
                    (lv, lt) = (rv, rt);
                }
                self.b.seal_block(done);
                self.b.switch_to_block(done);
                (self.b.block_params(done)[0], Type::Bool)
            }
            Expr::BoolOp(is_and, values, _) => {
                let rt = self.ty(e)?;
                let done = self.b.create_block();
                self.b.append_block_param(done, clif(&rt));
                for (k, x) in values.iter().enumerate() {
                    let (v, t) = self.expr(x)?;
                    let out = self.convert(v, &t, &rt);
                    if k + 1 == values.len() {
                        self.b.ins().jump(done, &args(&[out]));
                    } else {
                        let c = self.truthy(v, &t);
                        let next = self.b.create_block();
                        // `a and b`: a falsy `a` is the result; `a or b`: a truthy `a` is.
                        if *is_and {
                            self.b.ins().brif(c, next, &[], done, &args(&[out]));
                        } else {
                            self.b.ins().brif(c, done, &args(&[out]), next, &[]);
                        }
                        self.b.seal_block(next);
                        self.b.switch_to_block(next);
                    }
                }
                self.b.seal_block(done);
                self.b.switch_to_block(done);
                (self.b.block_params(done)[0], rt)
            }
            Expr::IfExp(c, a, b, _) => {
                let rt = self.ty(e)?;
                let (tb, eb, done) = (
                    self.b.create_block(),
                    self.b.create_block(),
                    self.b.create_block(),
                );
                self.b.append_block_param(done, clif(&rt));
                self.branch(c, tb, eb)?;
                self.b.seal_block(tb);
                self.b.seal_block(eb);
                self.b.switch_to_block(tb);
                let va = self.expr_as(a, &rt)?;
                self.b.ins().jump(done, &args(&[va]));
                self.b.switch_to_block(eb);
                let vb = self.expr_as(b, &rt)?;
                self.b.ins().jump(done, &args(&[vb]));
                self.b.seal_block(done);
                self.b.switch_to_block(done);
                (self.b.block_params(done)[0], rt)
            }
            Expr::Index(p, idx, _) => {
                let (addr, elem) = self.element_address(p, idx)?;
                (
                    self.b.ins().load(clif(&elem), MemFlagsData::new(), addr, 0),
                    elem,
                )
            }
            Expr::Call(callee, cargs, span) => self.call(e, callee, cargs, *span)?,
            Expr::Shape(a, k, _) => (self.shape_of(a, *k as usize, None)?, I64),
            Expr::Ndim(a, _) => {
                let nd = match self.ty(a)? {
                    Type::Array { ndim, .. } => ndim,
                    _ => unreachable!("typed: an array"),
                };
                (self.b.ins().iconst(clt::I64, nd as i64), I64)
            }
        })
    }

    fn element_address(&mut self, p: &Expr, idx: &[Expr]) -> R<(Value, Type)> {
        if let Expr::Name(name, _) = p {
            if let Some(view) = self.arrays.get(name).cloned() {
                return self.array_element(&view, idx);
            }
        }
        let (pv, pt) = self.expr(p)?;
        if let Type::Array {
            dtype,
            ndim,
            contiguous,
        } = &pt
        {
            // Any other array expression (`(a if c else b)[i]`): read its descriptor here.
            let view = self.array_view(pv, dtype, *ndim, *contiguous);
            return self.array_element(&view, idx);
        }
        let elem = pt.pointee().cloned().expect("typed: a pointer");
        let (iv, it) = self.expr(&idx[0])?;
        let i = self.convert(iv, &it, &I64);
        let size = elem.size().expect("typed: a sized element") as i64;
        let off = self.b.ins().imul_imm_s(i, size);
        Ok((self.b.ins().iadd(pv, off), elem))
    }

    /// `a[i, j, ...]`: negative indices count from the end (as NumPy's); with
    /// `boundscheck` an index outside the array returns early instead of reading.
    fn array_element(&mut self, view: &ArrayView, idx: &[Expr]) -> R<(Value, Type)> {
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
        Ok((self.b.ins().iadd(view.base, bytes), view.dtype.clone()))
    }

    /// If `cond`, record an index error and return a default value from the kernel.
    fn fail_if(&mut self, cond: Value, info: &[Value]) {
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

    /// Return the kernel's error value (NaN, 0 or nothing) after an error was recorded.
    fn return_error_value(&mut self) {
        let rets: Vec<Value> = match clif(&self.ret) {
            _ if self.ret == Type::Void => vec![],
            clt::F64 => vec![self.b.ins().f64const(f64::NAN)],
            clt::F32 => vec![self.b.ins().f32const(f32::NAN)],
            ty => vec![self.b.ins().iconst(ty, 0)],
        };
        self.b.ins().return_(&rets);
    }

    /// Around a call that may reach this kernel again (directly, or through a function
    /// pointer or native code), in a kernel that checks the stack: `before`, return the
    /// error value if the stack pointer is below this thread's limit (marking the thread
    /// as unwinding and recording a recursion error); after, return it if the thread is
    /// unwinding, so that no caller goes on or recurses again.
    fn guard_call(&mut self, before: bool) {
        let Some(state) = self.stack_state else {
            return;
        };
        let flags = MemFlagsData::trusted();
        let stop = if before {
            let sp = self.b.ins().get_stack_pointer(self.ptr);
            let limit = self
                .b
                .ins()
                .load(self.ptr, flags, state, runtime::STACK_LIMIT_OFFSET);
            self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit)
        } else {
            self.b
                .ins()
                .load(clt::I8, flags, state, runtime::STACK_UNWINDING_OFFSET)
        };
        let (bad, good) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(bad);
        self.b.ins().brif(stop, bad, &[], good, &[]);
        self.b.seal_block(bad);
        self.b.seal_block(good);
        self.b.switch_to_block(bad);
        if before {
            let one = self.b.ins().iconst(clt::I8, 1);
            self.b
                .ins()
                .store(flags, one, state, runtime::STACK_UNWINDING_OFFSET);
            self.b
                .ins()
                .store(flags, one, state, runtime::STACK_ERROR_OFFSET);
        }
        self.return_error_value();
        self.b.switch_to_block(good);
    }

    fn call_void_helper(&mut self, address: usize, vals: &[Value]) {
        let mut sig = ir::Signature::new(self.call_conv);
        sig.params
            .extend(vals.iter().map(|_| ir::AbiParam::new(clt::I64)));
        let sref = self.b.import_signature(sig);
        let callee = self.iconst(self.ptr, address as i64);
        self.b.ins().call_indirect(sref, callee, vals);
    }

    /// Read an array parameter's descriptor once, at entry: data (with byte_offset),
    /// shape, and strides in elements (compact row-major when the producer gave none, or
    /// when the type says C-contiguous: then the producer's strides are not read).
    fn array_view(
        &mut self,
        tensor: Value,
        dtype: &Type,
        ndim: u32,
        contiguous: bool,
    ) -> ArrayView {
        let flags = MemFlagsData::trusted();
        if self.f.boundscheck {
            let got = self.b.ins().load(clt::I32, flags, tensor, 16);
            let got = self.b.ins().sextend(clt::I64, got);
            let want = self.b.ins().iconst(clt::I64, ndim as i64);
            let wrong = self.b.ins().icmp(IntCC::NotEqual, got, want);
            let minus = self.b.ins().iconst(clt::I64, -1);
            self.fail_if(wrong, &[minus, got, want]);
        }
        let data = self.b.ins().load(self.ptr, flags, tensor, 0);
        let byte_offset = self.b.ins().load(clt::I64, flags, tensor, 40);
        let base = self.b.ins().iadd(data, byte_offset);
        let shape_ptr = self.b.ins().load(self.ptr, flags, tensor, 24);
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
                base,
                shape,
                strides,
                dtype: dtype.clone(),
            };
        }
        let strides_ptr = self.b.ins().load(self.ptr, flags, tensor, 32);
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
            base,
            shape,
            strides,
            dtype: dtype.clone(),
        }
    }

    /// Row-major strides, in elements, of an array of `shape`.
    fn compact_strides(&mut self, shape: &[Value]) -> Vec<Value> {
        let mut strides = vec![self.b.ins().iconst(clt::I64, 1); shape.len()];
        for k in (0..shape.len()).rev().skip(1) {
            strides[k] = self.b.ins().imul(strides[k + 1], shape[k + 1]);
        }
        strides
    }

    /// Extent `k` of the array `a`: from a parameter's view, else read from the descriptor
    /// of `tensor` (`a` already evaluated) or of `a` evaluated here (`(a if c else b).shape[0]`).
    fn shape_of(&mut self, a: &Expr, k: usize, tensor: Option<Value>) -> R<Value> {
        if let Expr::Name(n, _) = a {
            if let Some(view) = self.arrays.get(n) {
                return Ok(view.shape[k]);
            }
        }
        let tensor = match tensor {
            Some(t) => t,
            None => self.expr(a)?.0,
        };
        let flags = MemFlagsData::trusted();
        let shape_ptr = self.b.ins().load(self.ptr, flags, tensor, 24);
        Ok(self
            .b
            .ins()
            .load(clt::I64, flags, shape_ptr, (8 * k) as i32))
    }

    fn compare(&mut self, op: CmpOp, a: Value, ta: &Type, b: Value, tb: &Type) -> Value {
        if matches!(ta, Type::Pointer { .. }) {
            let cc = if op == CmpOp::Eq {
                IntCC::Equal
            } else {
                IntCC::NotEqual
            };
            return self.b.ins().icmp(cc, a, b);
        }
        let p = promote(ta, tb).expect("typed: numbers");
        // A 64-bit int against a float compares exactly (converting the int could round).
        match (ta, tb) {
            (Type::Int(i), t) if clif(ta).bits() == 64 && is_float(t) => {
                let x = self.convert(b, tb, &Type::F64);
                return self.compare_int_float(op, a, i.signed(), x);
            }
            (t, Type::Int(i)) if clif(tb).bits() == 64 && is_float(t) => {
                let x = self.convert(a, ta, &Type::F64);
                return self.compare_int_float(op.swapped(), b, i.signed(), x);
            }
            // uint64 against a signed int: a negative one is smaller, else compare unsigned.
            (Type::Int(u), Type::Int(i)) if clif(ta).bits() == 64 && !u.signed() && i.signed() => {
                let s = self.convert(b, tb, &I64);
                return self.compare_signed_unsigned(op.swapped(), s, a);
            }
            (Type::Int(i), Type::Int(u)) if clif(tb).bits() == 64 && !u.signed() && i.signed() => {
                let s = self.convert(a, ta, &I64);
                return self.compare_signed_unsigned(op, s, b);
            }
            _ => {}
        }
        let (a, b) = (self.convert(a, ta, &p), self.convert(b, tb, &p));
        if is_float(&p) {
            self.b.ins().fcmp(float_cc(op), a, b)
        } else {
            let signed = matches!(p, Type::Int(i) if i.signed());
            self.b.ins().icmp(int_cc(op, signed), a, b)
        }
    }

    /// `s op u` for an int64 `s` and a uint64 `u`, exactly (promoting either to the
    /// other's type would wrap).
    fn compare_signed_unsigned(&mut self, op: CmpOp, s: Value, u: Value) -> Value {
        let negative = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, s, 0);
        let by_unsigned = self.b.ins().icmp(int_cc(op, false), s, u);
        let below = self.iconst(
            clt::I8,
            matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Ne) as i64,
        );
        self.b.ins().select(negative, below, by_unsigned)
    }

    /// `i op x` for an int64 (or uint64) `i` and a float64 `x`, exactly, as CPython's
    /// `float_richcompare`: converting `i` rounds, but rounding is monotonic, so where
    /// `float(i) != x` (or `x` is NaN) comparing `float(i)` with `x` gives the answer.
    /// Where `float(i) == x`, `x` is an integer within the int's range, or the first
    /// float past it (2**63, 2**64), and the ints are compared instead. Branch-free.
    fn compare_int_float(&mut self, op: CmpOp, i: Value, signed: bool, x: Value) -> Value {
        let (fi, xi, top) = if signed {
            (
                self.b.ins().fcvt_from_sint(clt::F64, i),
                self.b.ins().fcvt_to_sint_sat(clt::I64, x),
                9223372036854775808.0,
            )
        } else {
            (
                self.b.ins().fcvt_from_uint(clt::F64, i),
                self.b.ins().fcvt_to_uint_sat(clt::I64, x),
                18446744073709551616.0,
            )
        };
        let by_float = self.b.ins().fcmp(float_cc(op), fi, x);
        let by_int = self.b.ins().icmp(int_cc(op, signed), i, xi);
        let top = self.b.ins().f64const(top);
        let past = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, top);
        let below = self.iconst(
            clt::I8,
            matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Ne) as i64,
        );
        let tie = self.b.ins().select(past, below, by_int);
        let rounded_equal = self.b.ins().fcmp(FloatCC::Equal, fi, x);
        self.b.ins().select(rounded_equal, tie, by_float)
    }

    /// Python's `min(a, b)` / `max(a, b)` on floats: `b if b < a else a` (or `>`), without
    /// a branch or a trip through integer registers: the compare and the blend run on
    /// one-lane vectors (`cmpltsd` + `blendvpd` on x86-64), which is what `minsd` does.
    fn float_pick(&mut self, op: CmpOp, a: Value, b: Value, t: &Type) -> Value {
        let vty = if clif(t) == clt::F32 {
            clt::F32X4
        } else {
            clt::F64X2
        };
        let va = self.b.ins().splat(vty, a);
        let vb = self.b.ins().splat(vty, b);
        // Both as `<` (max(a, b) is `b if a < b else a`): the forms Cranelift turns into
        // minpd/maxpd, whose semantics these are exactly.
        let mask = if op == CmpOp::Lt {
            self.b.ins().fcmp(FloatCC::LessThan, vb, va)
        } else {
            self.b.ins().fcmp(FloatCC::LessThan, va, vb)
        };
        let mask = self.b.ins().bitcast(vty, MemFlagsData::new(), mask);
        let picked = self.b.ins().bitselect(mask, vb, va);
        self.b.ins().extractlane(picked, 0)
    }

    fn call_helper(
        &mut self,
        address: usize,
        params: &[ir::Type],
        ret: ir::Type,
        vals: &[Value],
    ) -> Value {
        let mut sig = ir::Signature::new(self.call_conv);
        sig.params
            .extend(params.iter().map(|t| ir::AbiParam::new(*t)));
        sig.returns.push(ir::AbiParam::new(ret));
        let sref = self.b.import_signature(sig);
        let callee = self.iconst(self.ptr, address as i64);
        let call = self.b.ins().call_indirect(sref, callee, vals);
        self.b.inst_results(call)[0]
    }

    fn binary(
        &mut self,
        op: BinOp,
        a: Value,
        ta: &Type,
        b: Value,
        tb: &Type,
        span: Span,
    ) -> R<(Value, Type)> {
        let rt = binary_type(op, ta, tb, span)?;
        if matches!(op, BinOp::LShift | BinOp::RShift) {
            return Ok((self.shift(op, a, ta, b, tb, &rt), rt));
        }
        // Operands are converted to the result type, except `/` on ints (to float64).
        let p = if op == BinOp::Div {
            rt.clone()
        } else {
            promote(ta, tb).expect("numbers")
        };
        let p = if matches!(op, BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor) && rt == Type::Bool {
            Type::Bool
        } else {
            p
        };
        if op == BinOp::Div && !is_float(&promote(ta, tb).expect("numbers")) {
            let q = promote(ta, tb).expect("numbers");
            let (x, y) = (self.convert(a, ta, &q), self.convert(b, tb, &q));
            return Ok((self.int_true_div(x, y, &q), rt));
        }
        let (x, y) = (self.convert(a, ta, &p), self.convert(b, tb, &p));
        let v = if is_float(&p) {
            match op {
                BinOp::Add => self.b.ins().fadd(x, y),
                BinOp::Sub => self.b.ins().fsub(x, y),
                BinOp::Mul => self.b.ins().fmul(x, y),
                BinOp::Div => self.b.ins().fdiv(x, y),
                BinOp::FloorDiv | BinOp::Mod | BinOp::Pow => {
                    let addr = match op {
                        BinOp::FloorDiv => runtime::py_floordiv_address(),
                        BinOp::Mod => runtime::py_fmod_address(),
                        _ => runtime::pow_address(),
                    };
                    let (x64, y64) = (
                        self.convert(x, &p, &Type::F64),
                        self.convert(y, &p, &Type::F64),
                    );
                    let r = self.call_helper(addr, &[clt::F64, clt::F64], clt::F64, &[x64, y64]);
                    self.convert(r, &Type::F64, &p)
                }
                _ => unreachable!("typed: no bit operations on floats"),
            }
        } else {
            let signed = matches!(p, Type::Int(i) if i.signed());
            match op {
                BinOp::Add => self.b.ins().iadd(x, y),
                BinOp::Sub => self.b.ins().isub(x, y),
                BinOp::Mul => self.b.ins().imul(x, y),
                BinOp::BitAnd => self.b.ins().band(x, y),
                BinOp::BitOr => self.b.ins().bor(x, y),
                BinOp::BitXor => self.b.ins().bxor(x, y),
                BinOp::FloorDiv | BinOp::Mod => self.int_divmod(op, x, y, clif(&p), signed),
                BinOp::Pow => {
                    let (x64, y64) = (self.convert(x, &p, &I64), self.convert(y, &p, &I64));
                    let r = self.call_helper(
                        runtime::ipow_address(),
                        &[clt::I64, clt::I64],
                        clt::I64,
                        &[x64, y64],
                    );
                    self.convert(r, &I64, &p)
                }
                BinOp::Div | BinOp::LShift | BinOp::RShift => unreachable!("handled above"),
            }
        };
        Ok((v, rt))
    }

    /// `x / y` on ints of type `t`, correctly rounded as CPython's: one `fdiv` when both
    /// are exact in float64 (always for 32 bits and less, else |v| <= 2**53, tested
    /// inline), the runtime's exact division otherwise.
    fn int_true_div(&mut self, x: Value, y: Value, t: &Type) -> Value {
        let (fx, fy) = (
            self.convert(x, t, &Type::F64),
            self.convert(y, t, &Type::F64),
        );
        if clif(t).bits() < 64 {
            return self.b.ins().fdiv(fx, fy);
        }
        let signed = matches!(t, Type::Int(i) if i.signed());
        let exact = |s: &mut Self, v: Value| {
            // -2**53 <= v <= 2**53 (signed), v <= 2**53 (unsigned).
            let (v, bound) = if signed {
                (s.b.ins().iadd_imm_s(v, 1 << 53), 1i64 << 54)
            } else {
                (v, 1i64 << 53)
            };
            s.b.ins()
                .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, v, bound)
        };
        let (ex, ey) = (exact(self, x), exact(self, y));
        let both = self.b.ins().band(ex, ey);
        let (fast, slow, done) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(done, clt::F64);
        self.b.ins().brif(both, fast, &[], slow, &[]);
        self.b.seal_block(fast);
        self.b.seal_block(slow);
        self.b.switch_to_block(fast);
        let q = self.b.ins().fdiv(fx, fy);
        self.b.ins().jump(done, &args(&[q]));
        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        let helper = if signed {
            runtime::int_true_divide_address()
        } else {
            runtime::uint_true_divide_address()
        };
        let q = self.call_helper(helper, &[clt::I64, clt::I64], clt::F64, &[x, y]);
        self.b.ins().jump(done, &args(&[q]));
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// The value of `v` if it is an integer constant.
    fn const_int(&self, v: Value) -> Option<i64> {
        let ir::ValueDef::Result(inst, _) = self.b.func.dfg.value_def(v) else {
            return None;
        };
        match self.b.func.dfg.insts[inst] {
            ir::InstructionData::UnaryImm {
                opcode: ir::Opcode::Iconst,
                imm,
            } => Some(imm.bits()),
            _ => None,
        }
    }

    /// Python's `//` and `%` on integers; by zero both give 0 (as NumPy), never a trap.
    fn int_divmod(&mut self, op: BinOp, x: Value, y: Value, ty: ir::Type, signed: bool) -> Value {
        // A positive power-of-two constant divisor: Python's floor semantics are exactly
        // an arithmetic shift and a mask, for either sign of `x`.
        if let Some(c) = self
            .const_int(y)
            .filter(|c| *c > 0 && (*c as u64).is_power_of_two())
        {
            if c < (1i64 << (ty.bits() - 1).min(62)) {
                let k = c.trailing_zeros() as i64;
                return if op == BinOp::FloorDiv {
                    if signed {
                        self.b.ins().sshr_imm_u(x, k)
                    } else {
                        self.b.ins().ushr_imm_u(x, k)
                    }
                } else {
                    let m = self.iconst(ty, c - 1);
                    self.b.ins().band(x, m)
                };
            }
        }
        let zero = self.iconst(ty, 0);
        let one = self.iconst(ty, 1);
        let by_zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        if !signed {
            let safe = self.b.ins().select(by_zero, one, y);
            let r = if op == BinOp::FloorDiv {
                self.b.ins().udiv(x, safe)
            } else {
                self.b.ins().urem(x, safe)
            };
            return self.b.ins().select(by_zero, zero, r);
        }
        // MIN // -1 overflows (and traps in hardware): divide by 1 instead, which gives the
        // wrapped result MIN for `//` and 0 for `%`.
        let min = self.iconst(ty, i64::MIN >> (64 - ty.bits()));
        let minus_one = self.iconst(ty, -1);
        let is_min = self.b.ins().icmp(IntCC::Equal, x, min);
        let is_m1 = self.b.ins().icmp(IntCC::Equal, y, minus_one);
        let overflow = self.b.ins().band(is_min, is_m1);
        let bad = self.b.ins().bor(by_zero, overflow);
        let safe = self.b.ins().select(bad, one, y);
        let q = self.b.ins().sdiv(x, safe);
        let r = self.b.ins().srem(x, safe);
        // Floor semantics: a nonzero remainder whose sign differs from the divisor's.
        let r_nonzero = self.b.ins().icmp_imm_s(IntCC::NotEqual, r, 0);
        let sign = self.b.ins().bxor(r, safe);
        let differ = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, sign, 0);
        let adjust = self.b.ins().band(r_nonzero, differ);
        let out = if op == BinOp::FloorDiv {
            let q1 = self.b.ins().isub(q, one);
            self.b.ins().select(adjust, q1, q)
        } else {
            let r1 = self.b.ins().iadd(r, safe);
            self.b.ins().select(adjust, r1, r)
        };
        self.b.ins().select(by_zero, zero, out)
    }

    /// Shifts: a count outside 0..bits gives 0 (or the sign for `>>` of a negative number).
    fn shift(&mut self, op: BinOp, a: Value, ta: &Type, b: Value, tb: &Type, rt: &Type) -> Value {
        let x = self.convert(a, ta, rt);
        let n = self.convert(b, tb, &I64);
        let ty = clif(rt);
        let bits = ty.bits() as i64;
        let in_range = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, n, bits);
        let n = if ty.bits() < 64 {
            self.b.ins().ireduce(ty, n)
        } else {
            n
        };
        let signed = matches!(rt, Type::Int(i) if i.signed());
        let (shifted, fallback) = if op == BinOp::LShift {
            (self.b.ins().ishl(x, n), self.iconst(ty, 0))
        } else if signed {
            (
                self.b.ins().sshr(x, n),
                self.b.ins().sshr_imm_u(x, bits - 1),
            )
        } else {
            (self.b.ins().ushr(x, n), self.iconst(ty, 0))
        };
        self.b.ins().select(in_range, shifted, fallback)
    }

    fn call(&mut self, e: &Expr, callee: &Callee, cargs: &[Expr], span: Span) -> R<(Value, Type)> {
        match callee {
            Callee::Builtin(b) => self.builtin(e, *b, cargs),
            Callee::Native(i) => {
                let mut types = Vec::with_capacity(cargs.len());
                for a in cargs {
                    types.push(self.ty(a)?);
                }
                let k = self.typer.resolve(*i, cargs, &types, span)?;
                let target = self.f.natives[*i].targets[k].clone();
                let mut vals = Vec::with_capacity(cargs.len());
                for (a, p) in cargs.iter().zip(target.visible.arg_types()) {
                    vals.push(self.expr_as(a, p)?);
                }
                // Hidden constants go in at their raw positions.
                let mut raw_vals = Vec::with_capacity(target.raw.params.len());
                let mut it = vals.into_iter();
                for (pos, p) in target.raw.params.iter().enumerate() {
                    match target.hidden.iter().find(|(h, _)| *h == pos) {
                        Some((_, bits)) => {
                            let c = match clif(&p.ty) {
                                clt::F32 => self.b.ins().f32const(f32::from_bits(*bits as u32)),
                                clt::F64 => self.b.ins().f64const(f64::from_bits(*bits)),
                                ty => self.iconst(ty, *bits as i64),
                            };
                            raw_vals.push(c);
                        }
                        None => raw_vals.push(it.next().expect("visible argument")),
                    }
                }
                self.guard_call(true);
                let v = self.indirect_call(target.address, &target.raw, &raw_vals, None)?;
                self.guard_call(false);
                Ok((
                    v.unwrap_or_else(|| self.b.ins().iconst(clt::I8, 0)),
                    target.visible.ret.clone(),
                ))
            }
            Callee::Local(name) => {
                let (var, t) = self.vars[name].clone();
                let sig = t
                    .function_signature()
                    .cloned()
                    .expect("typed: a function pointer");
                let mut vals = Vec::with_capacity(cargs.len());
                for (a, p) in cargs.iter().zip(sig.arg_types()) {
                    vals.push(self.expr_as(a, p)?);
                }
                let fp = self.b.use_var(var);
                self.guard_call(true);
                let v = self.indirect_call(0, &sig, &vals, Some(fp))?;
                self.guard_call(false);
                Ok((
                    v.unwrap_or_else(|| self.b.ins().iconst(clt::I8, 0)),
                    sig.ret.clone(),
                ))
            }
            Callee::SelfCall => {
                if self.entry.is_some() || self.ufunc.is_some() {
                    // The function's own entry is the adapted one or a ufunc loop: recursion
                    // needs a thunk (adapters fall back to one) and ufunc loops refuse it.
                    return Err(CompileError::unsupported(
                        span,
                        "a recursive kernel cannot be a ufunc loop: call a @nativecall.jit kernel \
                         from the vectorized function instead",
                    )
                    .into());
                }
                let params: Vec<Type> = self.f.params.iter().map(|(_, t)| t.clone()).collect();
                let mut vals = Vec::with_capacity(cargs.len());
                for (a, p) in cargs.iter().zip(&params) {
                    vals.push(self.expr_as(a, p)?);
                }
                vals.extend(self.stack_state);
                self.guard_call(true);
                let call = self.b.ins().call(self.self_ref, &vals);
                let v = self.b.inst_results(call).first().copied();
                self.guard_call(false);
                let ret = self.ret.clone();
                Ok((v.unwrap_or_else(|| self.b.ins().iconst(clt::I8, 0)), ret))
            }
        }
    }

    fn indirect_call(
        &mut self,
        address: usize,
        sig: &Signature,
        vals: &[Value],
        fp: Option<Value>,
    ) -> R<Option<Value>> {
        let mut csig = ir::Signature::new(self.call_conv);
        for t in sig.arg_types() {
            csig.params.extend(abi_params(t)?);
        }
        csig.returns.extend(abi_params(&sig.ret)?);
        if csig.params.len() != vals.len() || csig.returns.len() > 1 {
            return Err(JitError::Unsupported(format!(
                "calls to '{sig}' from kernels (complex values)"
            ))
            .into());
        }
        let sref = self.b.import_signature(csig);
        let callee = match fp {
            Some(v) => v,
            None => self.iconst(self.ptr, address as i64),
        };
        let call = self.b.ins().call_indirect(sref, callee, vals);
        Ok(self.b.inst_results(call).first().copied())
    }

    fn builtin(&mut self, e: &Expr, b: Builtin, cargs: &[Expr]) -> R<(Value, Type)> {
        let rt = self.ty(e)?;
        let mut vals = Vec::with_capacity(cargs.len());
        for a in cargs {
            vals.push(self.expr(a)?);
        }
        Ok(match b {
            Builtin::Abs => {
                let (v, t) = &vals[0];
                let v = self.convert(*v, t, &rt);
                let out = if is_float(&rt) {
                    self.b.ins().fabs(v)
                } else if matches!(rt, Type::Int(i) if i.signed()) {
                    let neg = self.b.ins().ineg(v);
                    let is_neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, v, 0);
                    self.b.ins().select(is_neg, neg, v)
                } else {
                    v
                };
                (out, rt)
            }
            Builtin::Min | Builtin::Max => {
                // Python: min(a, b) is b if b < a else a (so a NaN first argument stays).
                let (mut acc, mut at) = vals[0].clone();
                acc = self.convert(acc, &at, &rt);
                at = rt.clone();
                for (v, t) in &vals[1..] {
                    let v = self.convert(*v, t, &rt);
                    let op = if b == Builtin::Min {
                        CmpOp::Lt
                    } else {
                        CmpOp::Gt
                    };
                    acc = if is_float(&rt) {
                        self.float_pick(op, acc, v, &rt)
                    } else {
                        let better = self.compare(op, v, &rt, acc, &at);
                        self.b.ins().select(better, v, acc)
                    };
                }
                (acc, rt)
            }
            Builtin::Len => (self.shape_of(&cargs[0], 0, Some(vals[0].0))?, I64),
            Builtin::Int | Builtin::Float | Builtin::Bool => {
                let (v, t) = &vals[0];
                (self.convert(*v, t, &rt), rt)
            }
            Builtin::Math(m) => {
                if matches!(m, MathFn::Floor | MathFn::Ceil | MathFn::Trunc)
                    && !is_float(&vals[0].1)
                {
                    // Python: an int's floor, ceil and trunc are the int itself.
                    let (v, t) = &vals[0];
                    return Ok((self.convert(*v, t, &rt), rt));
                }
                let xs: Vec<Value> = vals
                    .iter()
                    .map(|(v, t)| self.convert(*v, t, &Type::F64))
                    .collect();
                let x = xs[0];
                let out = match m {
                    MathFn::Sqrt => self.b.ins().sqrt(x),
                    MathFn::Fabs => self.b.ins().fabs(x),
                    MathFn::Copysign => self.b.ins().fcopysign(x, xs[1]),
                    MathFn::Floor | MathFn::Ceil | MathFn::Trunc => {
                        let r = match m {
                            MathFn::Floor => self.b.ins().floor(x),
                            MathFn::Ceil => self.b.ins().ceil(x),
                            _ => self.b.ins().trunc(x),
                        };
                        self.b.ins().fcvt_to_sint_sat(clt::I64, r)
                    }
                    MathFn::Isnan => self.b.ins().fcmp(FloatCC::Unordered, x, x),
                    MathFn::Isinf | MathFn::Isfinite => {
                        let a = self.b.ins().fabs(x);
                        let inf = self.b.ins().f64const(f64::INFINITY);
                        let cc = if m == MathFn::Isinf {
                            FloatCC::Equal
                        } else {
                            FloatCC::LessThan
                        };
                        self.b.ins().fcmp(cc, a, inf)
                    }
                    MathFn::Log if xs.len() == 2 => {
                        let (addr, _) =
                            runtime::math_helper(MathFn::Log, self.f.python).expect("log helper");
                        let num = self.call_helper(addr, &[clt::F64], clt::F64, &[xs[0]]);
                        let den = self.call_helper(addr, &[clt::F64], clt::F64, &[xs[1]]);
                        self.b.ins().fdiv(num, den)
                    }
                    _ => {
                        let (addr, n) = runtime::math_helper(m, self.f.python)
                            .expect("a helper for every other math function");
                        self.call_helper(addr, &vec![clt::F64; n], clt::F64, &xs[..n])
                    }
                };
                (out, rt)
            }
        })
    }
}

fn float_cc(op: CmpOp) -> FloatCC {
    match op {
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
    }
}

fn int_cc(op: CmpOp, signed: bool) -> IntCC {
    match (op, signed) {
        (CmpOp::Eq, _) => IntCC::Equal,
        (CmpOp::Ne, _) => IntCC::NotEqual,
        (CmpOp::Lt, true) => IntCC::SignedLessThan,
        (CmpOp::Le, true) => IntCC::SignedLessThanOrEqual,
        (CmpOp::Gt, true) => IntCC::SignedGreaterThan,
        (CmpOp::Ge, true) => IntCC::SignedGreaterThanOrEqual,
        (CmpOp::Lt, false) => IntCC::UnsignedLessThan,
        (CmpOp::Le, false) => IntCC::UnsignedLessThanOrEqual,
        (CmpOp::Gt, false) => IntCC::UnsignedGreaterThan,
        (CmpOp::Ge, false) => IntCC::UnsignedGreaterThanOrEqual,
    }
}

fn last_span(body: &[Stmt]) -> Span {
    match body.last() {
        Some(Stmt::Assign(_, _, s))
        | Some(Stmt::AugAssign(_, _, _, s))
        | Some(Stmt::Store(_, _, _, s))
        | Some(Stmt::AugStore(_, _, _, _, s))
        | Some(Stmt::If(_, _, _, s))
        | Some(Stmt::While(_, _, _, s))
        | Some(Stmt::For { span: s, .. })
        | Some(Stmt::Break(s))
        | Some(Stmt::Continue(s))
        | Some(Stmt::Return(_, s))
        | Some(Stmt::Expr(_, s)) => *s,
        _ => Span::default(),
    }
}
