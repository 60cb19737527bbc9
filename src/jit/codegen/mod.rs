//! Lowering typed kernels to Cranelift IR, and compiling them into owned code memory.
//!
//! This module drives a compilation and holds the generator's state ([`Gen`]);
//! `prologue` builds a kernel's entry (parameters, adapted entries, ufunc loops), `stmt`
//! the statements and loops, `expr` expressions and conversions, `arith` operators and
//! comparisons, `array` indexing and array descriptors, `reduce` NumPy's reductions of arrays, `scratch`
//! the arrays kernels allocate, `call` calls and the stack checks
//! around them.

mod arith;
mod array;
mod call;
mod complex;
mod expr;
mod prologue;
mod promote;
mod reduce;
mod scratch;
mod stmt;
mod value;
mod view;

use value::{ArrayView, KValue};

use prologue::{entry_for, makes_calls};

use std::collections::HashMap;
use std::sync::Arc;

use cranelift_codegen::ir::{self, types as clt, BlockArg, InstBuilder, Value};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use crate::abi::{Signature, Type};

use super::adapt::{self, check_sources, clif_signature, ArgSource, CountGuard};
use super::code::{finish, new_module, CodeMemory};
use super::ir::{Expr, Function};
use super::lower::pointer_type;
use super::runtime;
use super::typing::{check_value_types, is_numeric, CompileError, Typer, Types};
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
    /// Whether the code can leave an error in the thread's runtime state (it calls a
    /// runtime error helper, or checks the stack around calls); callers need not look
    /// for one after code that cannot.
    pub records_errors: bool,
}

/// The C signature of `f` once its return type is known.
pub fn kernel_signature(f: &Function, types: &Types) -> Signature {
    Signature::new(types.ret.clone(), f.params.iter().map(|(_, t)| t.clone()))
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

/// A translated kernel: its body's function, its types and signature, for a kernel that
/// makes calls the entry that callers use (see [`entry_for`]), and whether the code can
/// record a runtime error (see [`Compiled::records_errors`]).
struct Translated {
    ctx: Context,
    id: FuncId,
    types: Types,
    signature: Signature,
    wrapper: Option<(Context, FuncId)>,
    records_errors: bool,
}

fn translate(
    module: &mut JITModule,
    f: &Function,
    entry: Option<&Entry>,
    ufunc: bool,
) -> Result<Translated, KernelError> {
    check_value_types(f)?;
    let types = Typer::run(f)?;
    let sig = kernel_signature(f, &types);
    if let Some(e) = entry {
        check_sources(&sig, &e.outer, &e.sources, e.guard)?;
    }
    let csig = if ufunc {
        if f.params.iter().any(|(_, t)| !is_numeric(t)) || !is_numeric(&types.ret) {
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
        clif_signature(
            module.isa().default_call_conv(),
            entry.map_or(&sig, |e| &e.outer),
        )?
    };
    // A kernel that makes calls checks the stack around each; its body takes this
    // thread's StackState as a last, hidden parameter from a small entry function.
    let guarded = !ufunc && entry.is_none() && makes_calls(f, &f.body);
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
    let records_errors = {
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
        g.records_errors || guarded
    };
    let wrapper = if guarded {
        Some(entry_for(module, id, csig)?)
    } else {
        None
    };
    Ok(Translated {
        ctx,
        id,
        types,
        signature: sig,
        wrapper,
        records_errors,
    })
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

/// Compile a kernel into fresh code memory.
pub fn compile(f: &Function) -> Result<Compiled, KernelError> {
    compile_entry(f, None)
}

/// Compile a kernel with another entry (see [`Entry`]); the result's `signature` is
/// the kernel's own, its code takes `entry.outer`.
pub fn compile_entry(f: &Function, entry: Option<&Entry>) -> Result<Compiled, KernelError> {
    compile_as(f, entry, false)
}

/// Compile a kernel's body as a NumPy ufunc inner loop
/// (`void (char **args, npy_intp const *dimensions, npy_intp const *steps, void *data)`).
pub fn compile_ufunc_loop(f: &Function) -> Result<Compiled, KernelError> {
    compile_as(f, None, true)
}

/// Compile `f` with `entry`, or as a ufunc loop, into fresh code memory.
fn compile_as(f: &Function, entry: Option<&Entry>, ufunc: bool) -> Result<Compiled, KernelError> {
    super::with_room(|| {
        let mut module = new_module()?;
        let mut t = translate(&mut module, f, entry, ufunc)?;
        let (address, code) = finish_kernel(module, t.id, &mut t.ctx, t.wrapper)?;
        Ok(Compiled {
            address,
            code,
            types: t.types,
            signature: t.signature,
            records_errors: t.records_errors,
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
        let t = translate(&mut module, f, entry, false)?;
        let mut text = t.ctx.func.display().to_string();
        if let Some((wctx, _)) = t.wrapper {
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

/// Where the body of a kernel inlined into its caller (see [`Gen::inline`]) goes on at a
/// `return`: `join`, which takes the returned value (of type `ret`) as its parameter.
struct Inlined {
    join: ir::Block,
    ret: Type,
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
    /// Each local's Cranelift variables, one per part of its value (see [`KValue`]).
    vars: HashMap<String, (Vec<Variable>, Type)>,
    ret: Type,
    loops: Vec<Loop>,
    terminated: bool,
    self_ref: ir::FuncRef,
    entry: Option<Entry>,
    ufunc: Option<UfuncLoop>,
    ptr: ir::Type,
    call_conv: cranelift_codegen::isa::CallConv,
    /// Whether the body checks the stack around calls (its last parameter is the
    /// thread's StackState, kept in `stack_state`).
    guarded: bool,
    stack_state: Option<Value>,
    /// Whether the body calls a runtime helper that records an error for the thread
    /// (see [`Compiled::records_errors`]).
    records_errors: bool,
    /// Whether the host has fused multiply-add (exact error terms for powers).
    has_fma: bool,
    /// A lower bound of each loop variable whose `range` gives one and that its loop
    /// body does not assign (see [`Gen::lower_bound`]), while its loop body is generated.
    lower_bounds: HashMap<String, i128>,
    /// For (array parameter, axis) pairs indexed by the variable `j` of an enclosing
    /// `for j` loop: `j` and the variable holding `j * byte stride` (see [`Gen::scaled_ivs`]).
    scaled: HashMap<(String, usize), (String, Variable)>,
    /// While the body of an inlined kernel is generated, where its `return` goes.
    inlined: Option<Inlined>,
    /// How many loops keep a pointer element in a variable (see `promote`).
    promoted: usize,
    /// For each `np.empty`/`np.zeros` in the body (by its position), the variable holding
    /// the memory it last allocated (NULL before): freed at every return.
    scratch: Vec<((u32, u32), Variable)>,
}

type R<T> = Result<T, KernelError>;

use crate::jit::lower::value_type as clif;

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
        let has_fma = module
            .isa()
            .isa_flags()
            .iter()
            .any(|f| f.name == "has_fma" && f.as_bool() == Some(true));
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
            ufunc: None,
            ptr: pointer_type(),
            call_conv,
            guarded: false,
            records_errors: false,
            stack_state: None,
            has_fma,
            lower_bounds: HashMap::new(),
            scaled: HashMap::new(),
            inlined: None,
            promoted: 0,
            scratch: Vec::new(),
        }
        .declare(types)
    }

    fn declare(mut self, types: &Types) -> Self {
        self.vars = self.variables(types);
        self
    }

    /// Fresh Cranelift variables for each local of `types`, one per part of its value.
    fn variables(&mut self, types: &Types) -> HashMap<String, (Vec<Variable>, Type)> {
        let mut out = HashMap::with_capacity(types.order.len());
        for name in &types.order {
            let t = types.vars[name].clone();
            let vars = KValue::part_types(&t)
                .into_iter()
                .map(|ty| self.b.declare_var(ty))
                .collect();
            out.insert(name.clone(), (vars, t));
        }
        out
    }

    /// The value of local `name`, and its type.
    fn read(&mut self, name: &str) -> (KValue, Type) {
        let (vars, t) = self.vars[name].clone();
        let parts: Vec<Value> = vars.iter().map(|v| self.b.use_var(*v)).collect();
        (KValue::from_parts(&t, &parts), t)
    }

    /// Assign `v` to local `name`.
    fn write(&mut self, name: &str, v: &KValue) {
        let vars = self.vars[name].0.clone();
        for (var, part) in vars.into_iter().zip(v.parts()) {
            self.b.def_var(var, part);
        }
    }

    /// The variable of local `name`, which holds a scalar, and its type.
    fn scalar_var(&self, name: &str) -> (Variable, Type) {
        let (vars, t) = &self.vars[name];
        let [var] = vars.as_slice() else {
            unreachable!("typed: '{name}' holds a scalar")
        };
        (*var, t.clone())
    }

    fn iconst(&mut self, ty: ir::Type, v: i64) -> Value {
        adapt::iconst(&mut self.b, ty, v)
    }

    fn zero(&mut self, t: &Type) -> Value {
        self.zero_of(clif(t))
    }

    /// Zero of Cranelift type `ty`.
    fn zero_of(&mut self, ty: ir::Type) -> Value {
        match ty {
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

    /// Return the kernel's error value (NaN, 0 or nothing) after an error was recorded.
    /// In the body of an inlined kernel, that kernel's error value goes to its caller,
    /// as its `return` would have given it.
    fn return_error_value(&mut self) {
        match &self.inlined {
            Some(frame) => {
                let join = frame.join;
                let rets: Vec<Value> = match &frame.ret {
                    Type::Void => vec![],
                    t => vec![adapt::error_value(&mut self.b, clif(t))],
                };
                self.b.ins().jump(join, &args(&rets));
            }
            None => {
                self.free_scratch();
                adapt::return_error_value(&mut self.b);
            }
        }
    }
}
