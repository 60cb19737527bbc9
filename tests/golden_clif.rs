//! Golden Cranelift IR for a handful of kernels: each test compares the text a kernel
//! lowers to (before optimisation, helpers named instead of their addresses) with
//! `tests/golden/<name>.clif`, so a change to code generation shows in review as a change
//! to those files. After an intended change, rewrite them with `make golden`
//! (`NATIVECALL_UPDATE_GOLDEN=1 cargo test --test golden_clif`).

use std::path::PathBuf;

use nativecall::abi::{IntType, Signature, Type};
use nativecall::jit::ir::{
    BinOp, Builtin, Callee, CmpOp, Expr, Function, MathFn, PythonVersion, Stmt, UnaryOp,
};
use nativecall::jit::{clif_listing, runtime, ArgSource, CountGuard, Entry};

mod common;
use common::*;

const UPDATE: &str = "NATIVECALL_UPDATE_GOLDEN";

/// Compare `f`'s listing (with `entry`) with `tests/golden/<golden>.clif`, or rewrite the
/// file when `NATIVECALL_UPDATE_GOLDEN` is set.
fn check(golden: &str, f: &Function, entry: Option<&Entry>) {
    let got = clif_listing(f, entry).expect("the kernel compiles");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{golden}.clif"));
    if std::env::var_os(UPDATE).is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with `make golden` ({UPDATE}=1 cargo test --test golden_clif)",
            path.display()
        )
    });
    if want != got {
        panic!(
            "generated code differs from {} (`-` golden, `+` now):\n{}\nIf the change is \
             intended, run `make golden` ({UPDATE}=1 cargo test --test golden_clif) and \
             commit the updated file.",
            path.display(),
            unified_diff(&want, &got, &format!("tests/golden/{golden}.clif"))
        );
    }
}

/// A unified diff (3 lines of context) from `old` to `new`, by longest common subsequence.
fn unified_diff(old: &str, new: &str, label: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // The edit script: (' ' | '-' | '+', old line number, new line number, text).
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', i, j, a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i, j, a[i]));
            i += 1;
        } else {
            ops.push(('+', i, j, b[j]));
            j += 1;
        }
    }
    let mut out = format!("--- a/{label}\n+++ b/{label}\n");
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(3);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 7 {
            end = changed[k];
            k += 1;
        }
        let end = (end + 4).min(ops.len());
        let hunk = &ops[start..end];
        let old_len = hunk.iter().filter(|o| o.0 != '+').count();
        let new_len = hunk.iter().filter(|o| o.0 != '-').count();
        out += &format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            hunk[0].1 + 1,
            hunk[0].2 + 1
        );
        for (tag, _, _, text) in hunk {
            out += &format!("{tag}{text}\n");
        }
    }
    out
}

#[test]
fn a_range_loop_matches_its_golden_clif() {
    let f = sum_squares("sum_squares");
    check("range_loop", &f, None);
}

#[test]
fn min_and_max_on_floats_and_ints_match_their_golden_clif() {
    // return max(lo, min(x, hi)) on float64, then on int64
    for (golden, t) in [("min_max_f64", Type::F64), ("min_max_i64", I64)] {
        let f = kernel(
            "clamp",
            &[("x", t.clone()), ("lo", t.clone()), ("hi", t.clone())],
            Some(t),
            vec![ret(builtin(
                Builtin::Max,
                vec![
                    name("lo"),
                    builtin(Builtin::Min, vec![name("x"), name("hi")]),
                ],
            ))],
        );
        check(golden, &f, None);
    }
}

#[test]
fn floor_division_and_modulo_by_a_power_of_two_match_their_golden_clif() {
    // return a // 8 + a % 8: a shift and a mask, no division
    let f = kernel(
        "divmod8",
        &[("a", I64)],
        Some(I64),
        vec![ret(bin(
            BinOp::Add,
            bin(BinOp::FloorDiv, name("a"), int(8)),
            bin(BinOp::Mod, name("a"), int(8)),
        ))],
    );
    check("divmod_power_of_two", &f, None);
}

#[test]
fn floor_division_and_modulo_by_a_variable_match_their_golden_clif() {
    // return a // b + a % b: guarded against b == 0 and MIN // -1, rounded toward -inf
    let f = kernel(
        "divmod",
        &[("a", I64), ("b", I64)],
        Some(I64),
        vec![ret(bin(
            BinOp::Add,
            bin(BinOp::FloorDiv, name("a"), name("b")),
            bin(BinOp::Mod, name("a"), name("b")),
        ))],
    );
    check("divmod_general", &f, None);
}

#[test]
fn int_true_division_matches_its_golden_clif() {
    // return a / b: exact operands divide in double, the rest call int_true_divide
    let f = kernel(
        "ratio",
        &[("a", I64), ("b", I64)],
        Some(Type::F64),
        vec![ret(bin(BinOp::Div, name("a"), name("b")))],
    );
    check("int_true_division", &f, None);
}

#[test]
fn comparing_an_int_with_a_float_matches_its_golden_clif() {
    // return n < x, exactly (not by converting n to double)
    let f = kernel(
        "less",
        &[("n", I64), ("x", Type::F64)],
        Some(Type::Bool),
        vec![ret(Expr::Compare(
            Box::new(name("n")),
            vec![(CmpOp::Lt, name("x"))],
            sp(1),
        ))],
    );
    check("int_float_compare", &f, None);
}

#[test]
fn indexing_strided_and_contiguous_2d_arrays_matches_their_golden_clif() {
    // return a[i, j] on float64[:, :] (reads strides) and float64[:, ::1] (does not)
    for (golden, t) in [
        ("index_2d_strided", Type::array(Type::F64, 2)),
        ("index_2d_contiguous", Type::c_array(Type::F64, 2)),
    ] {
        let f = kernel(
            "at",
            &[("a", t), ("i", I64), ("j", I64)],
            Some(Type::F64),
            vec![ret(index("a", vec![name("i"), name("j")]))],
        );
        check(golden, &f, None);
    }
}

#[test]
fn a_stencil_loop_over_strided_and_contiguous_arrays_matches_its_golden_clif() {
    // s = 0.0
    // for i in range(1, a.shape[0] - 1):
    //     for j in range(1, a.shape[1] - 1):
    //         s += a[i - 1, j] + a[i, j + 1] + a[i, j - 1]
    // return s
    // The indices are known non-negative (no wrap-around select), and each address is
    // `data + i*bs0 + j*bs1` (shared by the three loads) plus a constant multiple of a
    // byte stride.
    for (golden, t) in [
        ("stencil_loop_strided", Type::array(Type::F64, 2)),
        ("stencil_loop_contiguous", Type::c_array(Type::F64, 2)),
    ] {
        let extent = |k| Expr::Shape(Box::new(name("a")), k, sp(1));
        let at = |di: i64, dj: i64| {
            let shift = |v: &str, d: i64| match d {
                0 => name(v),
                d if d > 0 => bin(BinOp::Add, name(v), int(d)),
                d => bin(BinOp::Sub, name(v), int(-d)),
            };
            index("a", vec![shift("i", di), shift("j", dj)])
        };
        let sum = bin(BinOp::Add, bin(BinOp::Add, at(-1, 0), at(0, 1)), at(0, -1));
        let inner = Stmt::For {
            var: "j".into(),
            start: int(1),
            stop: bin(BinOp::Sub, extent(1), int(1)),
            step: int(1),
            body: vec![Stmt::AugAssign("s".into(), BinOp::Add, sum, sp(5))],
            orelse: vec![],
            span: sp(4),
        };
        let f = kernel(
            "stencil",
            &[("a", t)],
            Some(Type::F64),
            vec![
                Stmt::Assign(vec!["s".into()], vec![Expr::Float(0.0, sp(2))], sp(2)),
                Stmt::For {
                    var: "i".into(),
                    start: int(1),
                    stop: bin(BinOp::Sub, extent(0), int(1)),
                    step: int(1),
                    body: vec![inner],
                    orelse: vec![],
                    span: sp(3),
                },
                ret(name("s")),
            ],
        );
        check(golden, &f, None);
    }
}

#[test]
fn constant_powers_match_their_golden_clif() {
    // return x ** 2 + x ** -1 + x ** 0.5: a product, a quotient and a square root, no pow
    // (x ** 3 is not here: its code depends on whether the host has FMA)
    let f = kernel(
        "powers",
        &[("x", Type::F64)],
        Some(Type::F64),
        vec![ret(bin(
            BinOp::Add,
            bin(
                BinOp::Add,
                bin(BinOp::Pow, name("x"), int(2)),
                bin(BinOp::Pow, name("x"), int(-1)),
            ),
            bin(BinOp::Pow, name("x"), Expr::Float(0.5, sp(1))),
        ))],
    );
    check("constant_powers", &f, None);
}

#[test]
fn a_recursive_kernel_with_its_stack_check_matches_its_golden_clif() {
    // if n < 2: return n; return fib(n - 1) + fib(n - 2)
    let call = |k| {
        Expr::Call(
            Callee::SelfCall,
            vec![bin(BinOp::Sub, name("n"), int(k))],
            sp(3),
        )
    };
    let f = kernel(
        "fib",
        &[("n", I64)],
        Some(I64),
        vec![
            Stmt::If(
                Expr::Compare(Box::new(name("n")), vec![(CmpOp::Lt, int(2))], sp(2)),
                vec![ret(name("n"))],
                vec![],
                sp(2),
            ),
            ret(bin(BinOp::Add, call(1), call(2))),
        ],
    );
    check("recursive_stack_check", &f, None);
}

/// `weight(a, i)`: `x = a[i]; if x < 0.0: return -x; return 2.0 * x` (two returns, an
/// array parameter), and `total(a)`, which sums it over `a` in a loop.
fn weight_and_total() -> (Function, Function) {
    let arr = Type::array(Type::F64, 1);
    let weight = kernel(
        "weight",
        &[("a", arr.clone()), ("i", I64)],
        Some(Type::F64),
        vec![
            Stmt::Assign(vec!["x".into()], vec![index("a", vec![name("i")])], sp(2)),
            Stmt::If(
                Expr::Compare(
                    Box::new(name("x")),
                    vec![(CmpOp::Lt, Expr::Float(0.0, sp(3)))],
                    sp(3),
                ),
                vec![ret(Expr::Unary(UnaryOp::Neg, Box::new(name("x")), sp(3)))],
                vec![],
                sp(3),
            ),
            ret(bin(BinOp::Mul, Expr::Float(2.0, sp(4)), name("x"))),
        ],
    );
    let total = kernel(
        "total",
        &[("a", arr)],
        Some(Type::F64),
        vec![
            Stmt::Assign(vec!["s".into()], vec![Expr::Float(0.0, sp(2))], sp(2)),
            Stmt::For {
                var: "i".into(),
                start: int(0),
                stop: Expr::Shape(Box::new(name("a")), 0, sp(3)),
                step: int(1),
                body: vec![Stmt::AugAssign(
                    "s".into(),
                    BinOp::Add,
                    call_native(0, vec![name("a"), name("i")]),
                    sp(4),
                )],
                orelse: vec![],
                span: sp(3),
            },
            ret(name("s")),
        ],
    );
    (weight, total)
}

#[test]
fn a_kernel_calling_a_small_kernel_inlines_it_as_its_golden_clif_shows() {
    // The loop has no call and no stack check: `weight`'s body is in it, reading the
    // caller's view of `a` (no descriptor loads), both returns jumping to one join block.
    let (weight, mut total) = weight_and_total();
    let (callee, _code) = kernel_callee(weight);
    total.natives.push(callee);
    check("inlined_call", &total, None);
}

#[test]
fn a_loop_accumulating_in_a_pointer_element_keeps_it_in_a_register_as_its_golden_clif_shows() {
    // result[0] = 0.0
    // for i in range(n): result[0] += values[i]
    // return 1
    // Entry: the loop runs and result[0] lies outside values[0..n]; then the loop adds into
    // a block parameter and result[0] is stored once after it. Otherwise the original loop.
    let ptr = Type::pointer(Type::F64);
    let element = |p: &str, i: Expr| (Expr::Name(p.into(), sp(1)), vec![i]);
    let (result, zero) = element("result", int(0));
    let f = kernel(
        "accumulate",
        &[("values", ptr.clone()), ("n", I64), ("result", ptr)],
        Some(I64),
        vec![
            Stmt::Store(result.clone(), zero.clone(), Expr::Float(0.0, sp(2)), sp(2)),
            Stmt::For {
                var: "i".into(),
                start: int(0),
                stop: name("n"),
                step: int(1),
                body: vec![Stmt::AugStore(
                    result,
                    zero,
                    BinOp::Add,
                    index("values", vec![name("i")]),
                    sp(4),
                )],
                orelse: vec![],
                span: sp(3),
            },
            ret(int(1)),
        ],
    );
    check("promoted_accumulator", &f, None);
}

#[test]
fn a_kernel_entered_as_quads_integrand_matches_its_golden_clif() {
    // f(x, y) = x * y, called by scipy.integrate.quad as double (int n, double *xx)
    let f = kernel(
        "f",
        &[("x", Type::F64), ("y", Type::F64)],
        Some(Type::F64),
        vec![ret(bin(BinOp::Mul, name("x"), name("y")))],
    );
    let entry = Entry {
        outer: Signature::parse("double (int, double *)").unwrap(),
        sources: vec![
            ArgSource::Element { param: 1, index: 0 },
            ArgSource::Element { param: 1, index: 1 },
        ],
        guard: Some(CountGuard {
            count_param: 0,
            min: 2,
        }),
    };
    check("adapter_quad", &f, Some(&entry));
}

#[test]
fn a_kernel_entered_as_an_ndimage_filter_matches_its_golden_clif() {
    // range_filter(values, n, out, w): out[0] = w * (max - min); return 1, called by
    // scipy.ndimage.generic_filter with w from user_data
    let dptr = Type::pointer(Type::F64);
    let f = kernel(
        "range_filter",
        &[
            ("values", dptr.clone()),
            ("n", Type::Int(IntType::Intp)),
            ("out", dptr),
            ("w", Type::F64),
        ],
        Some(Type::Int(IntType::Int)),
        vec![
            Stmt::Assign(
                vec!["lo".into(), "hi".into()],
                vec![index("values", vec![int(0)]), index("values", vec![int(0)])],
                sp(2),
            ),
            Stmt::For {
                var: "i".into(),
                start: int(1),
                stop: name("n"),
                step: int(1),
                body: vec![
                    Stmt::Assign(
                        vec!["lo".into()],
                        vec![builtin(
                            Builtin::Min,
                            vec![name("lo"), index("values", vec![name("i")])],
                        )],
                        sp(4),
                    ),
                    Stmt::Assign(
                        vec!["hi".into()],
                        vec![builtin(
                            Builtin::Max,
                            vec![name("hi"), index("values", vec![name("i")])],
                        )],
                        sp(5),
                    ),
                ],
                orelse: vec![],
                span: sp(3),
            },
            Stmt::Store(
                name("out"),
                vec![int(0)],
                bin(
                    BinOp::Mul,
                    name("w"),
                    bin(BinOp::Sub, name("hi"), name("lo")),
                ),
                sp(6),
            ),
            ret(int(1)),
        ],
    );
    let entry = Entry {
        outer: Signature::parse("int (double *, npy_intp, double *, void *)").unwrap(),
        sources: vec![
            ArgSource::Param(0),
            ArgSource::Param(1),
            ArgSource::Param(2),
            ArgSource::Field {
                param: 3,
                offset: 0,
            },
        ],
        guard: None,
    };
    check("adapter_ndimage", &f, Some(&entry));
}

#[test]
fn listings_name_helpers_instead_of_printing_their_addresses() {
    // A kernel calling libm, a CPython helper and the index-error reporter: none of their
    // addresses may reach the golden text.
    let f = kernel(
        "named",
        &[("p", Type::array(Type::F64, 1)), ("x", Type::F64)],
        Some(Type::F64),
        vec![ret(bin(
            BinOp::Add,
            builtin(Builtin::Math(MathFn::Exp), vec![index("p", vec![int(0)])]),
            bin(BinOp::Mod, name("x"), Expr::Float(3.0, sp(1))),
        ))],
    );
    let mut checked = f.clone();
    checked.boundscheck = true;
    let text = clif_listing(&checked, None).unwrap();
    for helper in ["<exp>", "<py_fmod>", "<index_error>"] {
        assert!(text.contains(helper), "{helper} missing from:\n{text}");
    }
    let digits = text.replace('_', "");
    let (exp, _) = runtime::math_helper(MathFn::Exp, PythonVersion::new(3, 12)).unwrap();
    for address in [
        exp,
        runtime::py_fmod_address(),
        runtime::index_error_address(),
    ] {
        assert!(
            !digits.contains(&format!("{address:x}")),
            "{address:#x} printed in:\n{text}"
        );
    }
}
