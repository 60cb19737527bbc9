//! The type of each expression.

use crate::abi::{Signature, Type};

use super::*;
use crate::jit::ir::{Callee, CmpOp, Expr, Span, UnaryOp};

impl Typer<'_> {
    pub(super) fn index_type(&self, p: &Expr, idx: &[Expr], span: Span) -> R<Type> {
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
            Type::Array {
                dtype,
                ndim,
                contiguous,
            } => {
                if idx.len() < ndim as usize {
                    // `m[i]`: a view of the rest (a row of a 2-D array).
                    return Ok(Type::Array {
                        dtype,
                        ndim: ndim - idx.len() as u32,
                        contiguous,
                    });
                }
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
                if is_number(&pointee) || matches!(*pointee, Type::Pointer { .. }) =>
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

    pub(super) fn array_of(&self, a: &Expr, what: &str) -> R<(Type, u32)> {
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
            Expr::Complex(..) => C128,
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
                    UnaryOp::Neg | UnaryOp::Pos if is_number(&t) => bool_as_int(&t),
                    // `~` of a bool is logical not, as NumPy's `~` of its bool (`~np.isnan(x)`).
                    UnaryOp::Invert if t == Type::Bool => Type::Bool,
                    UnaryOp::Invert if is_int(&t) => t,
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
                    // Complex numbers are equal or not; they have no order (as in Python).
                    let complex = is_complex(&left) || is_complex(&right);
                    let ok = (is_numeric(&left) && is_numeric(&right))
                        || (complex
                            && is_number(&left)
                            && is_number(&right)
                            && matches!(op, CmpOp::Eq | CmpOp::Ne))
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
                    if is_complex(&t) {
                        return Err(CompileError::unsupported(
                            v.span(),
                            "'and'/'or' with a complex operand (compare it: z != 0)",
                        ));
                    }
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
            Expr::View(p, shape, dtype, fortran, span) => {
                let pt = t!(p);
                let mut extents = Vec::with_capacity(shape.len());
                for x in shape {
                    extents.push((t!(x), x.span()));
                }
                self.view_type(&pt, &extents, dtype.as_ref(), *fortran, *span)?
            }
            Expr::Cast(x, to, span) => cast_type(&t!(x), to, matches!(**x, Expr::Int(..)), *span)?,
            Expr::Field {
                base,
                index,
                ty,
                span,
                ..
            } => {
                let (bt, it) = (t!(base), t!(index));
                if !matches!(bt, Type::Pointer { .. }) {
                    return Err(CompileError::typing(
                        base.span(),
                        format!(
                            "a record field is read through a pointer, got {}",
                            kernel_type_name(&bt)
                        ),
                    ));
                }
                if !is_int(&it) {
                    return Err(CompileError::typing(
                        index.span(),
                        format!(
                            "a record index must be an integer, got {}",
                            kernel_type_name(&it)
                        ),
                    ));
                }
                if !is_number(ty) {
                    return Err(CompileError::unsupported(
                        *span,
                        format!("record fields of type {ty} (kernels read numeric fields)"),
                    ));
                }
                ty.clone()
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
                let arg_types: Vec<String> = types.iter().map(kernel_type_name).collect();
                let got = arg_types.join(", ");
                let have = o
                    .targets
                    .iter()
                    .map(|t| format!("'{}'", t.visible))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(CompileError::no_signature(
                    span,
                    format!("no signature of {} accepts ({got}); it has {have}", o.name),
                    arg_types,
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
