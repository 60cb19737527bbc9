//! Type inference and checking for kernels.
//!
//! Every local has one type. Types are found by iterating to a fixed point over
//! all assignments: each assignment unifies the variable's type with the value's
//! (int and float unify to float, as in Numba); a pair that does not unify is an
//! error at that assignment. A second pass then checks every expression with the
//! final types.

use std::collections::{HashMap, HashSet};

use crate::abi::{FloatType, IntType, Signature, Type};

use super::ir::{BinOp, Builtin, Callee, CmpOp, Expr, Function, MathFn, Span, Stmt, UnaryOp};

/// Which phase of the language a compile error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A construct outside the kernel language.
    Unsupported,
    /// A type mismatch, or a call whose argument types do not match.
    Typing,
    /// A name that is not defined.
    Name,
}

/// A compile error at a place in the user's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// The phase.
    pub kind: ErrorKind,
    /// What is wrong, naming what was expected and what was found.
    pub message: String,
    /// Where.
    pub span: Span,
}

impl CompileError {
    /// A typing error.
    pub fn typing(span: Span, message: impl Into<String>) -> Self {
        CompileError {
            kind: ErrorKind::Typing,
            message: message.into(),
            span,
        }
    }

    /// An unsupported construct.
    pub fn unsupported(span: Span, message: impl Into<String>) -> Self {
        CompileError {
            kind: ErrorKind::Unsupported,
            message: message.into(),
            span,
        }
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.span.line, self.span.col, self.message
        )
    }
}

impl std::error::Error for CompileError {}

type R<T> = Result<T, CompileError>;

/// `int64`.
pub const I64: Type = Type::Int(IntType::I64);

/// Whether values of `t` are integers (not bool).
pub fn is_int(t: &Type) -> bool {
    matches!(t, Type::Int(_))
}

/// Whether `t` is a real floating-point type kernels compute with.
pub fn is_float(t: &Type) -> bool {
    matches!(t, Type::Float(FloatType::F32 | FloatType::F64))
}

/// Bool, int or float.
pub fn is_numeric(t: &Type) -> bool {
    matches!(t, Type::Bool) || is_int(t) || is_float(t)
}

/// A type as kernels print it (`int64`, `float64`, `float64*`, C spelling otherwise).
pub fn kernel_type_name(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::Int(i) => i.numba_name().into(),
        Type::Float(FloatType::F64) => "float64".into(),
        Type::Float(FloatType::F32) => "float32".into(),
        Type::Pointer { pointee, .. } if is_numeric(pointee) => {
            format!("{}*", kernel_type_name(pointee))
        }
        Type::Array {
            dtype,
            ndim,
            contiguous,
        } => {
            let mut dims = vec![":"; *ndim as usize];
            if *contiguous {
                dims[*ndim as usize - 1] = "::1";
            }
            format!("{}[{}]", kernel_type_name(dtype), dims.join(", "))
        }
        other => other.to_string(),
    }
}

fn bool_as_int(t: &Type) -> Type {
    if *t == Type::Bool {
        I64
    } else {
        t.clone()
    }
}

/// The type both operands of an arithmetic operation are converted to.
pub fn promote(a: &Type, b: &Type) -> Option<Type> {
    let (a, b) = (bool_as_int(a), bool_as_int(b));
    match (&a, &b) {
        (Type::Int(x), Type::Int(y)) => Some(
            if x.bits() > y.bits() || (x.bits() == y.bits() && x.signed()) {
                a.clone()
            } else {
                b.clone()
            },
        ),
        (Type::Float(FloatType::F32), Type::Float(FloatType::F32)) => Some(Type::F32),
        _ if is_numeric(&a) && is_numeric(&b) => Some(Type::F64),
        _ => None,
    }
}

/// The type a variable holding both an `a` and a `b` has (`None`: they cannot share one).
pub fn unify(a: &Type, b: &Type) -> Option<Type> {
    // Every array is a `DLTensor *` to the ABI; in kernels its dtype and ndim matter, and
    // the pair is C-contiguous only when both are (a C-contiguous array is also strided).
    if let (
        Type::Array {
            dtype: x,
            ndim: n,
            contiguous: c,
        },
        Type::Array {
            dtype: y,
            ndim: m,
            contiguous: d,
        },
    ) = (a, b)
    {
        return (x.abi_eq(y) && n == m).then(|| Type::Array {
            dtype: x.clone(),
            ndim: *n,
            contiguous: *c && *d,
        });
    }
    if a.abi_eq(b) {
        return Some(a.clone());
    }
    match (a, b) {
        (Type::Bool, t) | (t, Type::Bool) if is_int(t) || is_float(t) => Some(t.clone()),
        _ if is_numeric(a) && is_numeric(b) => promote(a, b),
        (Type::Pointer { pointee: p, .. }, Type::Pointer { pointee: q, .. }) if p.abi_eq(q) => {
            Some(a.clone())
        }
        _ => None,
    }
}

/// Whether a value of type `from` may be passed, stored or returned where `to` is expected.
/// Numbers convert freely except float to int (use `int()`); pointers must match
/// (any data pointer converts to `void *`).
pub fn convertible(from: &Type, to: &Type) -> bool {
    if let (
        Type::Array {
            dtype: a,
            ndim: n,
            contiguous: c,
        },
        Type::Array {
            dtype: b,
            ndim: m,
            contiguous: d,
        },
    ) = (from, to)
    {
        // A C-contiguous array passes where any strides are accepted, not the other way.
        return a.abi_eq(b) && n == m && (*c || !*d);
    }
    if matches!(to, Type::Array { .. }) {
        return false;
    }
    if from.abi_eq(to) {
        return true;
    }
    match (from, to) {
        (f, t) if is_numeric(f) && (is_int(t) || is_float(t)) => !(is_float(f) && is_int(t)),
        // Any number converts to bool by its truth value, as C converts to _Bool.
        (f, Type::Bool) => is_numeric(f),
        (Type::Pointer { .. }, Type::Pointer { pointee, .. }) if **pointee == Type::Void => true,
        // As in C, `void *` (NULL included) converts to any pointer.
        (Type::Pointer { pointee, .. }, Type::Pointer { .. }) if **pointee == Type::Void => true,
        (Type::Pointer { pointee: p, .. }, Type::Pointer { pointee: q, .. }) => p.abi_eq(q),
        _ => false,
    }
}

/// Inferred types: every local and the return type.
#[derive(Clone, Debug)]
pub struct Types {
    /// Each parameter's and local's type.
    pub vars: HashMap<String, Type>,
    /// The return type (`Void` for none).
    pub ret: Type,
    /// Local names in order of first assignment (for display).
    pub order: Vec<String>,
    /// The parameters whose memory the kernel writes (arrays stored into).
    pub written: HashSet<String>,
}

/// Infers and checks the types of one kernel.
pub struct Typer<'f> {
    f: &'f Function,
    vars: HashMap<String, Type>,
    order: Vec<String>,
    params: HashSet<&'f str>,
    ret: Option<Type>,
    ret_declared: bool,
    saw_bare_return: bool,
}

impl<'f> Typer<'f> {
    /// Infer the types of `f`, then check every expression.
    pub fn run(f: &'f Function) -> R<Types> {
        let mut t = Typer {
            f,
            vars: f.params.iter().cloned().collect(),
            order: f.params.iter().map(|(n, _)| n.clone()).collect(),
            params: f.params.iter().map(|(n, _)| n.as_str()).collect(),
            ret: f.ret.clone(),
            ret_declared: f.ret.is_some(),
            saw_bare_return: false,
        };
        for _ in 0..64 {
            let before = (t.vars.clone(), t.ret.clone());
            t.infer_block(&f.body)?;
            if (t.vars.clone(), t.ret.clone()) == before {
                break;
            }
        }
        t.check_block(&f.body, 0)?;
        let ret = t.ret.clone().unwrap_or(Type::Void);
        if t.saw_bare_return && ret != Type::Void {
            return Err(CompileError::typing(
                first_bare_return(&f.body).unwrap_or_default(),
                format!(
                    "'return' without a value in a kernel that returns {}",
                    kernel_type_name(&ret)
                ),
            ));
        }
        let written = written_names(f, &t.vars);
        Ok(Types {
            vars: t.vars,
            ret,
            order: t.order,
            written,
        })
    }

    /// A typer that answers [`Typer::expr`] with the types `run` found (for code generation).
    pub fn with_types(f: &'f Function, types: &Types) -> Self {
        Typer {
            f,
            vars: types.vars.clone(),
            order: types.order.clone(),
            params: f.params.iter().map(|(n, _)| n.as_str()).collect(),
            ret: Some(types.ret.clone()),
            ret_declared: true,
            saw_bare_return: false,
        }
    }

    fn var(&self, name: &str, span: Span) -> R<Option<Type>> {
        match self.vars.get(name) {
            Some(t) => Ok(Some(t.clone())),
            None if self.assigned_anywhere(name) => Ok(None),
            None => Err(CompileError {
                kind: ErrorKind::Name,
                message: format!("name '{name}' is not defined"),
                span,
            }),
        }
    }

    fn assigned_anywhere(&self, name: &str) -> bool {
        fn walk(b: &[Stmt], name: &str) -> bool {
            b.iter().any(|s| match s {
                Stmt::Assign(ns, _, _) => ns.iter().any(|n| n == name),
                Stmt::AugAssign(n, _, _, _) => n == name,
                Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => walk(a, name) || walk(b, name),
                Stmt::For {
                    var, body, orelse, ..
                } => var == name || walk(body, name) || walk(orelse, name),
                _ => false,
            })
        }
        walk(&self.f.body, name)
    }

    fn bind(&mut self, name: &str, t: Type, span: Span) -> R<()> {
        if t == Type::Void {
            return Err(CompileError::typing(
                span,
                format!("cannot assign a void result to '{name}'"),
            ));
        }
        if matches!(t, Type::Array { .. }) && !self.params.contains(name) {
            return Err(CompileError::unsupported(
                span,
                format!("arrays are parameters only; '{name}' cannot hold one (index the parameter directly)"),
            ));
        }
        if self.params.contains(name) {
            let p = &self.vars[name];
            if !convertible(&t, p) {
                return Err(CompileError::typing(
                    span,
                    format!(
                        "parameter '{name}' is {}, and a {} cannot be assigned to it",
                        kernel_type_name(p),
                        kernel_type_name(&t)
                    ),
                ));
            }
            return Ok(());
        }
        let new = match self.vars.get(name) {
            None => t,
            Some(old) => unify(old, &t).ok_or_else(|| {
                CompileError::typing(
                    span,
                    format!(
                        "variable '{name}' holds {} but is assigned {} here; a variable has one type",
                        kernel_type_name(old),
                        kernel_type_name(&t)
                    ),
                )
            })?,
        };
        if !self.vars.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.vars.insert(name.to_string(), new);
        Ok(())
    }

    fn infer_block(&mut self, body: &[Stmt]) -> R<()> {
        for s in body {
            match s {
                Stmt::Assign(names, values, span) => {
                    for (n, v) in names.iter().zip(values) {
                        if let Some(t) = self.expr(v)? {
                            self.bind(n, t, *span)?;
                        }
                    }
                }
                Stmt::AugAssign(n, op, v, span) => {
                    if let (Some(a), Some(b)) = (self.var(n, *span)?, self.expr(v)?) {
                        let t = binary_type(*op, &a, &b, *span)?;
                        self.bind(n, t, *span)?;
                    }
                }
                Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => {
                    self.infer_block(a)?;
                    self.infer_block(b)?;
                }
                Stmt::For {
                    var,
                    start,
                    stop,
                    step,
                    body,
                    orelse,
                    span,
                } => {
                    let mut t = None;
                    for e in [start, stop, step] {
                        match self.expr(e)? {
                            Some(x) if is_int(&x) || x == Type::Bool => {
                                t = Some(match t {
                                    None => bool_as_int(&x),
                                    Some(p) => promote(&p, &x).unwrap_or(I64),
                                })
                            }
                            Some(x) => {
                                return Err(CompileError::typing(
                                    e.span(),
                                    format!(
                                        "range() arguments must be integers, got {}",
                                        kernel_type_name(&x)
                                    ),
                                ))
                            }
                            None => {}
                        }
                    }
                    if let Some(t) = t {
                        self.bind(var, t, *span)?;
                    }
                    self.infer_block(body)?;
                    self.infer_block(orelse)?;
                }
                Stmt::Return(Some(e), span) => {
                    if let Some(t) = self.expr(e)? {
                        if !self.ret_declared {
                            self.ret = Some(match &self.ret {
                                None => t,
                                Some(old) => unify(old, &t).ok_or_else(|| {
                                    CompileError::typing(
                                        *span,
                                        format!(
                                            "this returns {} but another return gives {}",
                                            kernel_type_name(&t),
                                            kernel_type_name(old)
                                        ),
                                    )
                                })?,
                            });
                        }
                    }
                }
                Stmt::Return(None, _) => self.saw_bare_return = true,
                _ => {}
            }
        }
        Ok(())
    }

    fn known(&self, e: &Expr) -> R<Type> {
        match self.expr(e)? {
            Some(t) => Ok(t),
            None => Err(CompileError::typing(
                e.span(),
                "cannot infer the type of this expression",
            )),
        }
    }

    fn check_truthy(&self, e: &Expr) -> R<()> {
        self.check_truthy_type(e, &self.known(e)?)
    }

    /// `check_truthy` of `e` already typed as `t` (typing it again would make nested
    /// `not`/`and`/`or` take time exponential in their depth).
    fn check_truthy_type(&self, e: &Expr, t: &Type) -> R<()> {
        if is_numeric(t) || matches!(t, Type::Pointer { .. }) {
            Ok(())
        } else {
            Err(CompileError::typing(
                e.span(),
                format!("a {} has no truth value", kernel_type_name(t)),
            ))
        }
    }

    fn check_block(&self, body: &[Stmt], loops: usize) -> R<()> {
        for s in body {
            match s {
                Stmt::Assign(names, values, span) => {
                    for (n, v) in names.iter().zip(values) {
                        let t = self.known(v)?;
                        let target = self.vars.get(n).cloned().unwrap_or(Type::Void);
                        if !convertible(&t, &target) {
                            return Err(CompileError::typing(
                                *span,
                                format!(
                                    "cannot assign {} to '{n}' ({})",
                                    kernel_type_name(&t),
                                    kernel_type_name(&target)
                                ),
                            ));
                        }
                    }
                }
                Stmt::AugAssign(n, op, v, span) => {
                    let a = self.var(n, *span)?.unwrap_or(Type::Void);
                    binary_type(*op, &a, &self.known(v)?, *span)?;
                }
                Stmt::Store(p, i, v, span) => {
                    let elem = self.index_type(p, i, *span)?;
                    let t = self.known(v)?;
                    if !convertible(&t, &elem) {
                        return Err(CompileError::typing(
                            v.span(),
                            format!(
                                "cannot store {} into a {} element",
                                kernel_type_name(&t),
                                kernel_type_name(&elem)
                            ),
                        ));
                    }
                    if let Type::Pointer { is_const: true, .. } = self.known(p)? {
                        return Err(CompileError::typing(
                            *span,
                            "cannot store through a const pointer",
                        ));
                    }
                }
                Stmt::AugStore(p, i, op, v, span) => {
                    let elem = self.index_type(p, i, *span)?;
                    let t = binary_type(*op, &elem, &self.known(v)?, *span)?;
                    if !convertible(&t, &elem) {
                        return Err(CompileError::typing(
                            *span,
                            format!(
                                "the result ({}) cannot be stored into a {} element",
                                kernel_type_name(&t),
                                kernel_type_name(&elem)
                            ),
                        ));
                    }
                }
                Stmt::If(c, a, b, _) => {
                    self.check_truthy(c)?;
                    self.check_block(a, loops)?;
                    self.check_block(b, loops)?;
                }
                Stmt::While(c, a, b, _) => {
                    self.check_truthy(c)?;
                    self.check_block(a, loops + 1)?;
                    self.check_block(b, loops)?;
                }
                Stmt::For {
                    start,
                    stop,
                    step,
                    body,
                    orelse,
                    ..
                } => {
                    for e in [start, stop, step] {
                        self.known(e)?;
                    }
                    if let Expr::Int(0, s) = step {
                        return Err(CompileError::typing(*s, "range() step must not be zero"));
                    }
                    self.check_block(body, loops + 1)?;
                    self.check_block(orelse, loops)?;
                }
                Stmt::Break(span) | Stmt::Continue(span) if loops == 0 => {
                    return Err(CompileError::typing(
                        *span,
                        "'break' or 'continue' outside a loop",
                    ));
                }
                Stmt::Return(Some(e), span) => {
                    let t = self.known(e)?;
                    let ret = self.ret.clone().unwrap_or(Type::Void);
                    if ret == Type::Void {
                        return Err(CompileError::typing(
                            *span,
                            "this kernel returns void; 'return' takes no value",
                        ));
                    }
                    if !convertible(&t, &ret) {
                        return Err(CompileError::typing(
                            e.span(),
                            format!(
                                "the kernel returns {}, and a {} cannot be converted to it (use int() to truncate)",
                                kernel_type_name(&ret),
                                kernel_type_name(&t)
                            ),
                        ));
                    }
                }
                Stmt::Expr(e, _) => {
                    self.expr(e)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn index_type(&self, p: &Expr, idx: &[Expr], span: Span) -> R<Type> {
        let pt = self.known(p)?;
        for i in idx {
            let it = self.known(i)?;
            if !is_int(&it) {
                return Err(CompileError::typing(
                    i.span(),
                    format!("an index must be an integer, got {}", kernel_type_name(&it)),
                ));
            }
        }
        match pt {
            Type::Array { dtype, ndim, .. } => {
                if idx.len() != ndim as usize {
                    return Err(CompileError::typing(
                        span,
                        format!(
                            "a {ndim}-dimensional array takes {ndim} indices, got {} (slices are not supported)",
                            idx.len()
                        ),
                    ));
                }
                Ok(*dtype)
            }
            _ if idx.len() != 1 => Err(CompileError::typing(
                span,
                "a pointer takes one index: p[i]",
            )),
            Type::Pointer { pointee, .. }
                if is_numeric(&pointee) || matches!(*pointee, Type::Pointer { .. }) =>
            {
                Ok(*pointee)
            }
            Type::Pointer { pointee, .. } => Err(CompileError::typing(
                span,
                format!(
                    "cannot index a pointer to {pointee}; cast it to a typed pointer parameter"
                ),
            )),
            other => Err(CompileError::typing(
                p.span(),
                format!("a {} cannot be indexed", kernel_type_name(&other)),
            )),
        }
    }

    fn array_of(&self, a: &Expr, what: &str) -> R<(Type, u32)> {
        match self.known(a)? {
            Type::Array { dtype, ndim, .. } => Ok((*dtype, ndim)),
            other => Err(CompileError::typing(
                a.span(),
                format!("{what} needs an array, got {}", kernel_type_name(&other)),
            )),
        }
    }

    /// The type of `e`, or `None` if it depends on a variable not typed yet.
    pub fn expr(&self, e: &Expr) -> R<Option<Type>> {
        macro_rules! t {
            ($e:expr) => {
                match self.expr($e)? {
                    Some(t) => t,
                    None => return Ok(None),
                }
            };
        }
        Ok(Some(match e {
            Expr::Int(..) => I64,
            Expr::Float(..) => Type::F64,
            Expr::Bool(..) => Type::Bool,
            Expr::Null(_) => Type::void_ptr(),
            Expr::Name(n, span) => match self.var(n, *span)? {
                Some(t) => t,
                None => return Ok(None),
            },
            Expr::FuncRef(i, span) => {
                let o = &self.f.natives[*i];
                match o.targets.as_slice() {
                    [one] => Type::function_pointer(one.visible.clone()),
                    _ => {
                        return Err(CompileError::typing(
                            *span,
                            format!(
                                "'{}' has {} specialisations; only a call can choose one",
                                o.name,
                                o.targets.len()
                            ),
                        ))
                    }
                }
            }
            Expr::Unary(op, x, span) => {
                let t = t!(x);
                match op {
                    UnaryOp::Not => {
                        self.check_truthy_type(x, &t)?;
                        Type::Bool
                    }
                    UnaryOp::Neg | UnaryOp::Pos if is_numeric(&t) => bool_as_int(&t),
                    UnaryOp::Invert if is_int(&t) || t == Type::Bool => bool_as_int(&t),
                    _ => {
                        return Err(CompileError::typing(
                            *span,
                            format!("unary {op:?} is not defined for {}", kernel_type_name(&t))
                                .replace("Neg", "-")
                                .replace("Pos", "+")
                                .replace("Invert", "~"),
                        ))
                    }
                }
            }
            Expr::Binary(op, a, b, span) => {
                let (ta, tb) = (t!(a), t!(b));
                binary_type(*op, &ta, &tb, *span)?
            }
            Expr::Compare(first, rest, span) => {
                let mut left = t!(first);
                for (op, e) in rest {
                    let right = t!(e);
                    let ok = (is_numeric(&left) && is_numeric(&right))
                        || (matches!(op, CmpOp::Eq | CmpOp::Ne)
                            && matches!(
                                (&left, &right),
                                (Type::Pointer { .. }, Type::Pointer { .. })
                            ));
                    if !ok {
                        return Err(CompileError::typing(
                            *span,
                            format!(
                                "cannot compare {} with {}",
                                kernel_type_name(&left),
                                kernel_type_name(&right)
                            ),
                        ));
                    }
                    left = right;
                }
                Type::Bool
            }
            Expr::BoolOp(_, values, span) => {
                let mut acc: Option<Type> = None;
                for v in values {
                    let t = t!(v);
                    self.check_truthy_type(v, &t)?;
                    acc = Some(match acc {
                        None => t,
                        Some(a) => unify(&a, &t).ok_or_else(|| {
                            CompileError::typing(
                                *span,
                                format!(
                                    "'and'/'or' gives one of its operands, and {} and {} have no common type",
                                    kernel_type_name(&a),
                                    kernel_type_name(&t)
                                ),
                            )
                        })?,
                    });
                }
                acc.unwrap_or(Type::Bool)
            }
            Expr::IfExp(c, a, b, span) => {
                self.check_truthy(c)?;
                let (ta, tb) = (t!(a), t!(b));
                unify(&ta, &tb).ok_or_else(|| {
                    CompileError::typing(
                        *span,
                        format!(
                            "the branches give {} and {}, which have no common type",
                            kernel_type_name(&ta),
                            kernel_type_name(&tb)
                        ),
                    )
                })?
            }
            Expr::Index(p, idx, span) => {
                t!(p);
                for i in idx {
                    t!(i);
                }
                self.index_type(p, idx, *span)?
            }
            Expr::Shape(a, k, span) => {
                t!(a);
                let (_, ndim) = self.array_of(a, "'.shape'")?;
                if *k >= ndim {
                    return Err(CompileError::typing(
                        *span,
                        format!("shape[{k}] of a {ndim}-dimensional array"),
                    ));
                }
                I64
            }
            Expr::Ndim(a, _) => {
                t!(a);
                self.array_of(a, "'.ndim'")?;
                I64
            }
            Expr::Call(callee, args, span) => {
                let mut types = Vec::with_capacity(args.len());
                for a in args {
                    types.push(t!(a));
                }
                match callee {
                    Callee::Builtin(b) => builtin_type(*b, &types, *span)?,
                    Callee::Native(i) => {
                        let k = self.resolve(*i, args, &types, *span)?;
                        self.f.natives[*i].targets[k].visible.ret.clone()
                    }
                    Callee::Local(name) => {
                        let t = match self.var(name, *span)? {
                            Some(t) => t,
                            None => return Ok(None),
                        };
                        let Some(sig) = t.function_signature().cloned() else {
                            return Err(CompileError::typing(
                                *span,
                                format!("'{name}' is a {}, not a function", kernel_type_name(&t)),
                            ));
                        };
                        check_args(name, &sig, args, &types, *span, self)?;
                        sig.ret
                    }
                    Callee::SelfCall => {
                        let Some(ret) = self.f.ret.clone() else {
                            return Err(CompileError::typing(
                                *span,
                                format!(
                                    "a recursive call to '{}' needs a declared return type",
                                    self.f.name
                                ),
                            ));
                        };
                        let sig = Signature::new(
                            ret.clone(),
                            self.f.params.iter().map(|(_, t)| t.clone()),
                        );
                        check_args(&self.f.name, &sig, args, &types, *span, self)?;
                        ret
                    }
                }
            }
        }))
    }

    /// Which candidate of a native callee the arguments select: the one with the most
    /// exactly matching argument types among those every argument converts to.
    pub fn resolve(&self, index: usize, args: &[Expr], types: &[Type], span: Span) -> R<usize> {
        let o = &self.f.natives[index];
        let mut best: Option<(usize, usize)> = None;
        for (k, t) in o.targets.iter().enumerate() {
            let params: Vec<&Type> = t.visible.arg_types().collect();
            if params.len() != types.len() {
                continue;
            }
            let mut exact = 0;
            let mut ok = true;
            for ((a, ty), p) in args.iter().zip(types).zip(&params) {
                // Arrays are all `DLTensor *` at the ABI: their dtype, ndim and contiguity
                // must convert both ways to match exactly.
                let same = match (ty, *p) {
                    (Type::Array { .. }, _) | (_, Type::Array { .. }) => {
                        convertible(ty, p) && convertible(p, ty)
                    }
                    _ => ty.abi_eq(p),
                };
                if same {
                    exact += 1;
                } else if !(convertible(ty, p) || self.funcref_fits(a, p)) {
                    ok = false;
                    break;
                }
            }
            if ok && best.is_none_or(|(_, e)| exact > e) {
                best = Some((k, exact));
            }
        }
        match best {
            Some((k, _)) => Ok(k),
            None if o.targets.len() == 1 => {
                // One signature: say which argument is wrong.
                check_args(&o.name, &o.targets[0].visible, args, types, span, self)?;
                Ok(0)
            }
            None => {
                let got = types
                    .iter()
                    .map(kernel_type_name)
                    .collect::<Vec<_>>()
                    .join(", ");
                let have = o
                    .targets
                    .iter()
                    .map(|t| format!("'{}'", t.visible))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(CompileError::typing(
                    span,
                    format!("no signature of {} accepts ({got}); it has {have}", o.name),
                ))
            }
        }
    }

    /// Whether `arg` names a native function with a specialisation of function-pointer type `p`.
    pub fn funcref_fits(&self, arg: &Expr, p: &Type) -> bool {
        match (arg, p.function_signature()) {
            (Expr::FuncRef(i, _), Some(want)) => self.f.natives[*i]
                .targets
                .iter()
                .any(|t| t.visible.abi_eq(want)),
            _ => false,
        }
    }
}

/// The names whose array memory the kernel writes: stored into, or passed to a callee
/// that writes that parameter (a callee's writes are the caller's; one whose writes are
/// unknown counts as writing every array it is given). Arrays are parameters only, so
/// no local aliases one.
fn written_names(f: &Function, vars: &HashMap<String, Type>) -> HashSet<String> {
    let mut w = Writes {
        f,
        vars,
        out: HashSet::new(),
    };
    // Recursive calls write what the kernel writes, so repeat until nothing changes.
    loop {
        let before = w.out.len();
        w.block(&f.body);
        if w.out.len() == before {
            return w.out;
        }
    }
}

struct Writes<'a> {
    f: &'a Function,
    vars: &'a HashMap<String, Type>,
    out: HashSet<String>,
}

impl Writes<'_> {
    /// The array variables `e` may evaluate to.
    fn arrays(&self, e: &Expr, into: &mut Vec<String>) {
        match e {
            Expr::Name(n, _) if matches!(self.vars.get(n), Some(Type::Array { .. })) => {
                into.push(n.clone())
            }
            Expr::IfExp(_, a, b, _) => {
                self.arrays(a, into);
                self.arrays(b, into);
            }
            _ => {}
        }
    }

    /// Whether `callee` may write the array passed at visible position `k`.
    fn callee_writes(&self, callee: &Callee, k: usize) -> bool {
        match callee {
            Callee::Builtin(_) => false,
            Callee::Local(_) => true,
            Callee::SelfCall => self
                .f
                .params
                .get(k)
                .is_some_and(|(n, _)| self.out.contains(n)),
            Callee::Native(i) => self.f.natives[*i].targets.iter().any(|t| {
                let takes_array = t.visible.arg_types().nth(k).is_some_and(|p| {
                    matches!(p, Type::Array { .. })
                        || matches!(p, Type::Pointer { pointee, .. } if **pointee == Type::DLTensor)
                });
                takes_array
                    && t.writes
                        .as_ref()
                        .is_none_or(|w| w.get(k).copied().unwrap_or(true))
            }),
        }
    }

    fn block(&mut self, body: &[Stmt]) {
        for s in body {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Assign(_, values, _) => values.iter().for_each(|e| self.expr(e)),
            Stmt::AugAssign(_, _, e, _) | Stmt::Expr(e, _) | Stmt::Return(Some(e), _) => {
                self.expr(e)
            }
            Stmt::Store(target, index, value, _) | Stmt::AugStore(target, index, _, value, _) => {
                let mut stored = Vec::new();
                self.arrays(target, &mut stored);
                self.out.extend(stored);
                self.expr(target);
                index.iter().for_each(|e| self.expr(e));
                self.expr(value);
            }
            Stmt::If(test, a, b, _) | Stmt::While(test, a, b, _) => {
                self.expr(test);
                self.block(a);
                self.block(b);
            }
            Stmt::For {
                start,
                stop,
                step,
                body,
                orelse,
                ..
            } => {
                self.expr(start);
                self.expr(stop);
                self.expr(step);
                self.block(body);
                self.block(orelse);
            }
            Stmt::Break(_) | Stmt::Continue(_) | Stmt::Return(None, _) | Stmt::Pass => {}
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Call(callee, args, _) => {
                for (k, a) in args.iter().enumerate() {
                    if self.callee_writes(callee, k) {
                        let mut passed = Vec::new();
                        self.arrays(a, &mut passed);
                        self.out.extend(passed);
                    }
                    self.expr(a);
                }
            }
            Expr::Unary(_, a, _) | Expr::Shape(a, _, _) | Expr::Ndim(a, _) => self.expr(a),
            Expr::Binary(_, a, b, _) => {
                self.expr(a);
                self.expr(b);
            }
            Expr::Compare(a, rest, _) => {
                self.expr(a);
                rest.iter().for_each(|(_, e)| self.expr(e));
            }
            Expr::BoolOp(_, items, _) => items.iter().for_each(|e| self.expr(e)),
            Expr::IfExp(t, a, b, _) => {
                self.expr(t);
                self.expr(a);
                self.expr(b);
            }
            Expr::Index(a, index, _) => {
                self.expr(a);
                index.iter().for_each(|e| self.expr(e));
            }
            Expr::Int(..)
            | Expr::Float(..)
            | Expr::Bool(..)
            | Expr::Null(_)
            | Expr::Name(..)
            | Expr::FuncRef(..) => {}
        }
    }
}

fn first_bare_return(body: &[Stmt]) -> Option<Span> {
    body.iter().find_map(|s| match s {
        Stmt::Return(None, span) => Some(*span),
        Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => {
            first_bare_return(a).or_else(|| first_bare_return(b))
        }
        Stmt::For { body, orelse, .. } => {
            first_bare_return(body).or_else(|| first_bare_return(orelse))
        }
        _ => None,
    })
}

fn check_args(
    name: &str,
    sig: &Signature,
    args: &[Expr],
    types: &[Type],
    span: Span,
    typer: &Typer<'_>,
) -> R<()> {
    if sig.params.len() != types.len() {
        return Err(CompileError::typing(
            span,
            format!(
                "{name}() takes {} arguments ({sig}), got {}",
                sig.params.len(),
                types.len()
            ),
        ));
    }
    for (k, ((a, t), p)) in args.iter().zip(types).zip(sig.arg_types()).enumerate() {
        if !(convertible(t, p) || typer.funcref_fits(a, p)) {
            return Err(CompileError::typing(
                a.span(),
                format!(
                    "argument {} of {name} ({sig}) must be {}, got {}",
                    k + 1,
                    match p {
                        Type::Array { .. } => kernel_type_name(p),
                        _ => p.to_string(),
                    },
                    kernel_type_name(t)
                ),
            ));
        }
    }
    Ok(())
}

/// The result type of `a op b`.
pub fn binary_type(op: BinOp, a: &Type, b: &Type, span: Span) -> R<Type> {
    let err = || {
        let hint = if matches!(a, Type::Pointer { .. }) || matches!(b, Type::Pointer { .. }) {
            " (pointer arithmetic is not supported; index with p[i])"
        } else {
            ""
        };
        Err(CompileError::typing(
            span,
            format!(
                "'{}' is not defined for {} and {}{hint}",
                op.symbol(),
                kernel_type_name(a),
                kernel_type_name(b)
            ),
        ))
    };
    if !(is_numeric(a) && is_numeric(b)) {
        return err();
    }
    let p = promote(a, b).expect("numeric types promote");
    Ok(match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::FloorDiv | BinOp::Mod | BinOp::Pow => p,
        BinOp::Div => {
            if is_float(&p) {
                p
            } else {
                Type::F64
            }
        }
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
            if *a == Type::Bool && *b == Type::Bool {
                Type::Bool
            } else if is_float(&p) {
                return err();
            } else {
                p
            }
        }
        BinOp::LShift | BinOp::RShift => {
            if is_float(a) || is_float(b) {
                return err();
            }
            bool_as_int(a)
        }
    })
}

fn builtin_type(b: Builtin, args: &[Type], span: Span) -> R<Type> {
    let name = match b {
        Builtin::Abs => "abs",
        Builtin::Min => "min",
        Builtin::Max => "max",
        Builtin::Int => "int",
        Builtin::Float => "float",
        Builtin::Bool => "bool",
        Builtin::Len => "len",
        Builtin::Math(_) => "math function",
    };
    let arity = |n: usize| -> R<()> {
        if args.len() == n {
            Ok(())
        } else {
            Err(CompileError::typing(
                span,
                format!(
                    "{name}() takes {n} argument{}, got {}",
                    if n == 1 { "" } else { "s" },
                    args.len()
                ),
            ))
        }
    };
    let numeric = |t: &Type| -> R<()> {
        if is_numeric(t) {
            Ok(())
        } else {
            Err(CompileError::typing(
                span,
                format!("{name}() needs a number, got {}", kernel_type_name(t)),
            ))
        }
    };
    Ok(match b {
        Builtin::Abs => {
            arity(1)?;
            numeric(&args[0])?;
            bool_as_int(&args[0])
        }
        Builtin::Min | Builtin::Max => {
            if args.len() < 2 {
                return Err(CompileError::unsupported(
                    span,
                    format!("{name}() needs at least two numbers in a kernel"),
                ));
            }
            let mut acc = args[0].clone();
            numeric(&acc)?;
            for t in &args[1..] {
                numeric(t)?;
                acc = unify(&acc, t).expect("numbers unify");
            }
            acc
        }
        Builtin::Len => {
            arity(1)?;
            if !matches!(args[0], Type::Array { .. }) {
                return Err(CompileError::typing(
                    span,
                    format!(
                        "len() of a {} (kernels take len() of arrays)",
                        kernel_type_name(&args[0])
                    ),
                ));
            }
            I64
        }
        Builtin::Int => {
            arity(1)?;
            numeric(&args[0])?;
            I64
        }
        Builtin::Float => {
            arity(1)?;
            numeric(&args[0])?;
            Type::F64
        }
        Builtin::Bool => {
            arity(1)?;
            if !(is_numeric(&args[0]) || matches!(args[0], Type::Pointer { .. })) {
                return Err(CompileError::typing(
                    span,
                    format!("bool() of a {}", kernel_type_name(&args[0])),
                ));
            }
            Type::Bool
        }
        Builtin::Math(m) => {
            let n = m.arity();
            let ok = args.len() == n || (m == MathFn::Log && args.len() == 2);
            if !ok {
                return Err(CompileError::typing(
                    span,
                    format!("math.{m:?}() takes {n} argument(s), got {}", args.len())
                        .to_lowercase(),
                ));
            }
            for t in args {
                numeric(t)?;
            }
            match m {
                // Of an int: the int itself (uint64 keeps values past int64's range).
                MathFn::Floor | MathFn::Ceil | MathFn::Trunc if is_int(&bool_as_int(&args[0])) => {
                    bool_as_int(&args[0])
                }
                MathFn::Floor | MathFn::Ceil | MathFn::Trunc => I64,
                MathFn::Isnan | MathFn::Isinf | MathFn::Isfinite => Type::Bool,
                _ => Type::F64,
            }
        }
    })
}
