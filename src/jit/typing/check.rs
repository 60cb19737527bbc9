//! The second pass, with the final types: every statement and expression is checked.

use crate::abi::{Signature, Type};

use super::*;
use crate::jit::ir::{Expr, Function, Span, Stmt};

impl Typer<'_> {
    pub(super) fn known(&self, e: &Expr) -> R<Type> {
        match self.expr(e)? {
            Some(t) => Ok(t),
            None => Err(CompileError::typing(
                e.span(),
                "cannot infer the type of this expression",
            )),
        }
    }

    pub(super) fn check_truthy(&self, e: &Expr) -> R<()> {
        self.check_truthy_type(e, &self.known(e)?)
    }

    /// `check_truthy` of `e` already typed as `t` (typing it again would make nested
    /// `not`/`and`/`or` take time exponential in their depth).
    pub(super) fn check_truthy_type(&self, e: &Expr, t: &Type) -> R<()> {
        if is_number(t) || matches!(t, Type::Pointer { .. }) {
            Ok(())
        } else {
            Err(CompileError::typing(
                e.span(),
                format!("a {} has no truth value", kernel_type_name(t)),
            ))
        }
    }

    pub(super) fn check_block(&self, body: &[Stmt], loops: usize) -> R<()> {
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
                    if let Type::Array { ndim, .. } = &elem {
                        // Fewer indices than dimensions name a row, which is not an element.
                        let given = i.len();
                        return Err(CompileError::typing(
                            *span,
                            format!(
                                "a store needs an index per dimension: {given} given for {} \
                                 dimensions; assign a whole row with a slice (m[i][:] = x)",
                                given + *ndim as usize
                            ),
                        ));
                    }
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
}

pub(super) fn first_bare_return(body: &[Stmt]) -> Option<Span> {
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

pub(super) fn check_args(
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

/// Refuse parameters of types kernels cannot take yet (before anything else is typed).
pub fn check_value_types(f: &Function) -> R<()> {
    for (name, t) in &f.params {
        let ok = matches!(t, Type::Bool | Type::Pointer { .. } | Type::Array { .. })
            || is_int(t)
            || is_float(t)
            || is_complex(t);
        if !ok {
            return Err(CompileError::unsupported(
                Span::default(),
                format!("parameter '{name}' has type {t}, which kernels do not support yet"),
            ));
        }
    }
    Ok(())
}

/// Whether control can reach the end of `body`: after a `return`, `break` or `continue`
/// nothing runs; an `if` ends if either branch does; a loop ends through a `break` or,
/// unless its condition is a true literal (`while True:`), through its `else` clause.
/// Code generation follows the same rules as it emits the body.
pub fn falls_through(body: &[Stmt]) -> bool {
    block_falls_through(body, &mut false)
}

/// [`falls_through`] of `body`, setting `broke` if a `break` of the innermost loop runs.
fn block_falls_through(body: &[Stmt], broke: &mut bool) -> bool {
    body.iter().all(|s| match s {
        Stmt::Return(..) | Stmt::Continue(_) => false,
        Stmt::Break(_) => {
            *broke = true;
            false
        }
        Stmt::If(_, then, orelse, _) => {
            let a = block_falls_through(then, broke);
            let b = block_falls_through(orelse, broke);
            a || b
        }
        Stmt::While(c, body, orelse, _) => {
            let always = always_true(c);
            let mut inner = false;
            block_falls_through(body, &mut inner);
            inner || (!always && block_falls_through(orelse, broke))
        }
        Stmt::For { body, orelse, .. } => {
            let mut inner = false;
            block_falls_through(body, &mut inner);
            let ends = block_falls_through(orelse, broke);
            inner || ends
        }
        Stmt::Assign(..)
        | Stmt::AugAssign(..)
        | Stmt::Store(..)
        | Stmt::AugStore(..)
        | Stmt::Expr(..)
        | Stmt::Pass => true,
    })
}

/// Whether a loop condition is a true literal (`while True:`, `while 1:`): such a loop
/// never reaches its `else` clause.
pub fn always_true(c: &Expr) -> bool {
    matches!(c, Expr::Bool(true, _)) || matches!(c, Expr::Int(n, _) if *n != 0)
}

/// Refuse a kernel that returns a value (or is a ufunc loop, `ufunc`) if it can reach its
/// end without returning one.
pub fn check_returns(f: &Function, ret: &Type, ufunc: bool) -> R<()> {
    if !falls_through(&f.body) || (*ret == Type::Void && !ufunc) {
        return Ok(());
    }
    let expected = if ufunc {
        String::new()
    } else {
        format!(" ({} expected)", kernel_type_name(ret))
    };
    Err(CompileError::typing(
        last_span(&f.body),
        format!(
            "'{}' can reach its end without returning a value{expected}",
            f.name
        ),
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s() -> Span {
        Span::default()
    }

    fn ret() -> Stmt {
        Stmt::Return(Some(Expr::Int(1, s())), s())
    }

    fn while_(c: Expr, body: Vec<Stmt>, orelse: Vec<Stmt>) -> Stmt {
        Stmt::While(c, body, orelse, s())
    }

    #[test]
    fn a_body_falls_through_unless_every_path_returns_or_loops_forever() {
        let cond = Expr::Name("c".into(), s());
        assert!(falls_through(&[Stmt::Pass]));
        assert!(!falls_through(&[ret(), Stmt::Pass]));
        assert!(falls_through(&[Stmt::If(
            cond.clone(),
            vec![ret()],
            vec![],
            s()
        )]));
        assert!(!falls_through(&[Stmt::If(
            cond.clone(),
            vec![ret()],
            vec![ret()],
            s()
        )]));
        // `while True:` ends only through a break; its else clause never runs.
        let forever = Expr::Bool(true, s());
        assert!(!falls_through(&[while_(forever.clone(), vec![], vec![])]));
        assert!(falls_through(&[while_(
            forever.clone(),
            vec![Stmt::Break(s())],
            vec![]
        )]));
        // A break after a return is never reached; one in an inner loop ends that loop.
        assert!(!falls_through(&[while_(
            forever.clone(),
            vec![ret(), Stmt::Break(s())],
            vec![]
        )]));
        assert!(!falls_through(&[while_(
            forever.clone(),
            vec![while_(cond.clone(), vec![Stmt::Break(s())], vec![])],
            vec![]
        )]));
        // Any other loop ends through its else clause, unless that returns.
        assert!(falls_through(&[while_(cond.clone(), vec![], vec![])]));
        assert!(!falls_through(&[while_(cond.clone(), vec![], vec![ret()])]));
        assert!(falls_through(&[while_(
            cond,
            vec![Stmt::Break(s())],
            vec![ret()]
        )]));
    }
}
