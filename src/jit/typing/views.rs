//! Array views over pointers (`carray`, `farray`), pointer casts, and where a view may go.
//!
//! A view is an array value made in the kernel from a pointer and extents: it has no
//! `DLTensor` behind it, so it is indexed, iterated and measured where it is made or from
//! the local holding it, and never passed on as a descriptor (to a call, through a
//! conditional expression, as a return value or into an array parameter).

use std::collections::{HashMap, HashSet};

use crate::abi::Type;

use super::*;
use crate::jit::ir::{Builtin, Callee, Expr, Span, Stmt};

/// Arrays have at most this many dimensions (NumPy's limit).
const MAX_VIEW_NDIM: usize = 64;

impl Typer<'_> {
    /// The type of `carray(p, shape, dtype)` (`fortran`: `farray`): an array of the
    /// element type of `p` (or `dtype`, which a `void *` needs), one dimension per extent.
    pub(super) fn view_type(
        &self,
        p: &Type,
        shape: &[(Type, Span)],
        dtype: Option<&Type>,
        fortran: bool,
        span: Span,
    ) -> R<Type> {
        let name = if fortran { "farray" } else { "carray" };
        let Type::Pointer { pointee, .. } = p else {
            return Err(CompileError::typing(
                span,
                format!(
                    "{name}() takes a pointer (such as a 'double *' parameter), got {}",
                    kernel_type_name(p)
                ),
            ));
        };
        let elem = match dtype {
            Some(d) if **pointee == Type::Void || pointee.abi_eq(d) => d.clone(),
            Some(d) => {
                return Err(CompileError::typing(
                    span,
                    format!(
                        "{name}() of a {} with dtype {}: the element types differ (cast the pointer first)",
                        kernel_type_name(p),
                        kernel_type_name(d)
                    ),
                ))
            }
            None if **pointee == Type::Void => {
                return Err(CompileError::typing(
                    span,
                    format!(
                        "{name}() of a void * needs the element type: {name}(ptr, n, dtype=np.float64)"
                    ),
                ))
            }
            None => (**pointee).clone(),
        };
        if !is_number(&elem) {
            return Err(CompileError::typing(
                span,
                format!(
                    "{name}() makes arrays of numbers, not of {}",
                    kernel_type_name(&elem)
                ),
            ));
        }
        if shape.is_empty() || shape.len() > MAX_VIEW_NDIM {
            return Err(CompileError::typing(
                span,
                format!(
                    "{name}() takes 1 to {MAX_VIEW_NDIM} extents, got {}",
                    shape.len()
                ),
            ));
        }
        for (t, at) in shape {
            if !(is_int(t) || *t == Type::Bool) {
                return Err(CompileError::typing(
                    *at,
                    format!(
                        "{name}() extents must be integers, got {}",
                        kernel_type_name(t)
                    ),
                ));
            }
        }
        Ok(Type::Array {
            dtype: Box::new(elem),
            ndim: shape.len() as u32,
            contiguous: !fortran || shape.len() == 1,
        })
    }
}

/// The type of `cast(value, to)`: a pointer as another pointer type (or, for the
/// frontend's frozen global arrays, an integer literal `address` as a pointer: users'
/// casts of integer literals are refused before the IR is made).
pub(super) fn cast_type(from: &Type, to: &Type, address: bool, span: Span) -> R<Type> {
    match (from, to) {
        (Type::Pointer { .. }, Type::Pointer { .. }) => Ok(to.clone()),
        (Type::Int(_), Type::Pointer { .. }) if address => Ok(to.clone()),
        (_, Type::Pointer { .. }) => Err(CompileError::typing(
            span,
            format!(
                "cast() converts a pointer to another pointer type, got a {}",
                kernel_type_name(from)
            ),
        )),
        _ => Err(CompileError::typing(
            span,
            format!(
                "cast() makes pointers (such as \"double *\"), not {}",
                kernel_type_name(to)
            ),
        )),
    }
}

impl Typer<'_> {
    /// Check that every array view (a `carray`/`farray` expression, or a local that is not
    /// a parameter and holds an array) is only indexed, iterated, measured or assigned to
    /// a local, and that no view of a `const` pointer is stored into.
    pub(super) fn check_view_uses(&self) -> R<()> {
        let mut c = ViewUses {
            typer: self,
            vars: &self.vars,
            params: &self.params,
            read_only: HashSet::new(),
        };
        // A local that holds a view of a const pointer anywhere is read-only everywhere.
        c.find_read_only(&self.f.body)?;
        c.block(&self.f.body)
    }
}

struct ViewUses<'a> {
    typer: &'a Typer<'a>,
    vars: &'a HashMap<String, Type>,
    params: &'a HashSet<&'a str>,
    read_only: HashSet<String>,
}

impl ViewUses<'_> {
    /// Whether `e` is a view of a `const` pointer (or a local holding one).
    fn is_read_only(&self, e: &Expr) -> R<bool> {
        Ok(match e {
            Expr::View(p, ..) => {
                matches!(self.typer.known(p)?, Type::Pointer { is_const: true, .. })
            }
            Expr::Name(n, _) => self.read_only.contains(n),
            Expr::Index(p, ..) => self.is_view(e) && self.is_read_only(p)?,
            _ => false,
        })
    }

    fn find_read_only(&mut self, body: &[Stmt]) -> R<()> {
        loop {
            let before = self.read_only.len();
            self.walk_assignments(body)?;
            if self.read_only.len() == before {
                return Ok(());
            }
        }
    }

    fn walk_assignments(&mut self, body: &[Stmt]) -> R<()> {
        for s in body {
            match s {
                Stmt::Assign(names, values, _) => {
                    for (n, v) in names.iter().zip(values) {
                        if self.is_read_only(v)? {
                            self.read_only.insert(n.clone());
                        }
                    }
                }
                Stmt::If(_, a, b, _) | Stmt::While(_, a, b, _) => {
                    self.walk_assignments(a)?;
                    self.walk_assignments(b)?;
                }
                Stmt::For { body, orelse, .. } => {
                    self.walk_assignments(body)?;
                    self.walk_assignments(orelse)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn is_view(&self, e: &Expr) -> bool {
        match e {
            Expr::View(..) | Expr::Call(Callee::Builtin(Builtin::Scratch { .. }), ..) => true,
            // `m[i]` of a 2-D array: a row.
            Expr::Index(..) => matches!(self.typer.known(e), Ok(Type::Array { .. })),
            Expr::Name(n, _) => {
                !self.params.contains(n.as_str())
                    && matches!(self.vars.get(n), Some(Type::Array { .. }))
            }
            _ => false,
        }
    }

    fn refuse(&self, e: &Expr, what: &str) -> R<()> {
        let label = match e {
            Expr::Name(n, _) => format!("the array view '{n}'"),
            Expr::Call(..) => "a scratch array (np.empty/np.zeros)".to_string(),
            Expr::Index(..) => "a row of an array (m[i])".to_string(),
            _ => "an array view (carray/farray)".to_string(),
        };
        Err(CompileError::unsupported(
            e.span(),
            format!(
                "{label} cannot be {what}; a view is indexed, iterated (for v in a), measured \
                 (len, .shape, .ndim), reduced (np.sum, a.mean(), ...) or assigned to a local"
            ),
        ))
    }

    /// Check the view `a` passed as argument `k` of a call of `callee`: a kernel (or native
    /// function) taking an array there gets a descriptor built for the call; anything else
    /// (a pointer, a function pointer's parameter) is refused, as is a read-only view
    /// passed where the callee may write.
    fn passed_to(&self, callee: &Callee, k: usize, a: &Expr) -> R<()> {
        let targets: Vec<(&Type, Option<bool>)> = match callee {
            Callee::Native(i) => self.typer.f.natives[*i]
                .targets
                .iter()
                .filter_map(|t| {
                    let p = t.visible.arg_types().nth(k)?;
                    let writes = t.writes.as_ref().map(|w| w.get(k).copied().unwrap_or(true));
                    Some((p, writes))
                })
                .collect(),
            Callee::SelfCall => self
                .typer
                .f
                .params
                .get(k)
                .map(|(_, t)| (t, None))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        if targets.is_empty() || !targets.iter().all(|(p, _)| matches!(p, Type::Array { .. })) {
            return self.refuse(a, "passed to a function that does not take an array there");
        }
        if self.is_read_only(a)? && targets.iter().any(|(_, w)| *w != Some(false)) {
            return Err(CompileError::typing(
                a.span(),
                "a view of a const pointer cannot be passed to a function that may write its array",
            ));
        }
        Ok(())
    }

    fn block(&self, body: &[Stmt]) -> R<()> {
        body.iter().try_for_each(|s| self.stmt(s))
    }

    fn stmt(&self, s: &Stmt) -> R<()> {
        match s {
            Stmt::Assign(names, values, _) => {
                for (n, v) in names.iter().zip(values) {
                    if self.params.contains(n.as_str()) && self.is_view(v) {
                        return self.refuse(v, &format!("assigned to the parameter '{n}'"));
                    }
                    self.expr(v, true)?;
                }
                Ok(())
            }
            Stmt::AugAssign(_, _, e, _) | Stmt::Expr(e, _) => self.expr(e, false),
            Stmt::Return(Some(e), _) => {
                if self.is_view(e) {
                    return self.refuse(e, "returned");
                }
                self.expr(e, false)
            }
            Stmt::Store(p, idx, v, span) | Stmt::AugStore(p, idx, _, v, span) => {
                if self.is_read_only(p)? {
                    return Err(CompileError::typing(
                        *span,
                        "cannot store through a view of a const pointer",
                    ));
                }
                self.expr(p, true)?;
                idx.iter().try_for_each(|e| self.expr(e, false))?;
                self.expr(v, false)
            }
            Stmt::If(c, a, b, _) | Stmt::While(c, a, b, _) => {
                self.expr(c, false)?;
                self.block(a)?;
                self.block(b)
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
                    self.expr(e, false)?;
                }
                self.block(body)?;
                self.block(orelse)
            }
            Stmt::Break(_) | Stmt::Continue(_) | Stmt::Return(None, _) | Stmt::Pass => Ok(()),
        }
    }

    /// Check `e`, which may itself be a view where `allowed`.
    fn expr(&self, e: &Expr, allowed: bool) -> R<()> {
        if !allowed && self.is_view(e) {
            return self.refuse(e, "used here");
        }
        match e {
            Expr::Call(callee, args, _) => {
                let len = matches!(callee, Callee::Builtin(Builtin::Len | Builtin::Reduce(_)));
                for (k, a) in args.iter().enumerate() {
                    let view = self.is_view(a);
                    if matches!(a, Expr::Call(..)) && view {
                        return self.refuse(a, "used before it is assigned to a local");
                    }
                    if !len && view {
                        self.passed_to(callee, k, a)?;
                    }
                    self.expr(a, len || view)?;
                }
                Ok(())
            }
            Expr::Index(p, idx, _) => {
                self.expr(p, true)?;
                idx.iter().try_for_each(|i| self.expr(i, false))
            }
            Expr::Shape(a, _, _) | Expr::Ndim(a, _) => self.expr(a, true),
            Expr::View(p, shape, _, _, _) => {
                self.expr(p, false)?;
                shape.iter().try_for_each(|x| self.expr(x, false))
            }
            Expr::Unary(_, a, _) | Expr::Cast(a, _, _) => self.expr(a, false),
            Expr::Field { base, index, .. } => {
                self.expr(base, false)?;
                self.expr(index, false)
            }
            Expr::Binary(_, a, b, _) => {
                self.expr(a, false)?;
                self.expr(b, false)
            }
            Expr::Compare(a, rest, _) => {
                self.expr(a, false)?;
                rest.iter().try_for_each(|(_, x)| self.expr(x, false))
            }
            Expr::BoolOp(_, items, _) => items.iter().try_for_each(|x| self.expr(x, false)),
            Expr::IfExp(t, a, b, _) => {
                self.expr(t, false)?;
                self.expr(a, false)?;
                self.expr(b, false)
            }
            Expr::Int(..)
            | Expr::Float(..)
            | Expr::Complex(..)
            | Expr::Bool(..)
            | Expr::Null(_)
            | Expr::Name(..)
            | Expr::FuncRef(..) => Ok(()),
        }
    }
}
