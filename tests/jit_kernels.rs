//! The kernel compiler from hand-built IR, without Python: typing, semantics, errors.
//! (Debug builds run Cranelift's verifier on every function compiled here.)

use nativecall::abi::Type;
use nativecall::jit::ir::{BinOp, Builtin, Callee, CmpOp, Expr, MathFn, Span, Stmt};
use nativecall::jit::typing::ErrorKind;
use nativecall::jit::{compile, KernelError};

mod common;
use common::*;

#[test]
fn float_arithmetic_compiles_and_runs() {
    let f = func(
        &[("a", Type::F64), ("b", Type::F64)],
        None,
        vec![ret(bin(
            BinOp::Add,
            name("a"),
            bin(BinOp::Mul, name("b"), Expr::Float(2.0, sp(1))),
        ))],
    );
    let k = compile(&f).unwrap();
    assert_eq!(k.signature.to_string(), "double (double, double)");
    // SAFETY: the kernel has signature double (double, double).
    let g: extern "C" fn(f64, f64) -> f64 = unsafe { std::mem::transmute(k.address) };
    assert_eq!(g(1.0, 3.0), 7.0);
}

#[test]
fn int_floor_division_and_modulo_follow_python_and_never_trap() {
    for op in [BinOp::FloorDiv, BinOp::Mod] {
        let f = func(
            &[("a", I64), ("b", I64)],
            Some(I64),
            vec![ret(bin(op, name("a"), name("b")))],
        );
        let k = compile(&f).unwrap();
        // SAFETY: int64_t (int64_t, int64_t).
        let g: extern "C" fn(i64, i64) -> i64 = unsafe { std::mem::transmute(k.address) };
        for (a, b) in [
            (7, 2),
            (-7, 2),
            (7, -2),
            (-7, -2),
            (0, 5),
            (i64::MIN, -1),
            (i64::MIN, 1),
            (5, 0),
            (-5, 0),
        ] {
            let want = if b == 0 {
                0
            } else if op == BinOp::FloorDiv {
                a.wrapping_div(b)
                    - i64::from(a.wrapping_rem(b) != 0 && (a.wrapping_rem(b) < 0) != (b < 0))
            } else {
                let r = a.wrapping_rem(b);
                if r != 0 && (r < 0) != (b < 0) {
                    r + b
                } else {
                    r
                }
            };
            assert_eq!(g(a, b), want, "{a} {op:?} {b}");
        }
    }
}

#[test]
fn a_for_loop_with_locals_sums_a_range() {
    let f = sum_squares("k");
    let k = compile(&f).unwrap();
    // SAFETY: int64_t (int64_t, int64_t, int64_t).
    let g: extern "C" fn(i64, i64, i64) -> i64 = unsafe { std::mem::transmute(k.address) };
    for (a, b, s) in [
        (0, 10, 1),
        (10, 0, -3),
        (3, 3, 1),
        (-5, 7, 4),
        (i64::MAX - 3, i64::MAX, 2),
    ] {
        let want = python_range(a, b, s)
            .into_iter()
            .fold(0i64, |acc, i| acc.wrapping_add(i.wrapping_mul(i)));
        assert_eq!(g(a, b, s), want, "range({a}, {b}, {s})");
    }
}

fn python_range(a: i64, b: i64, s: i64) -> Vec<i64> {
    let mut out = vec![];
    let mut i = a as i128;
    while (s > 0 && i < b as i128) || (s < 0 && i > b as i128) {
        out.push(i as i64);
        i += s as i128;
    }
    out
}

#[test]
fn chained_comparisons_and_math_calls() {
    // return 0.0 <= x < 1.0 and math.sqrt(x) > 0.5
    let cmp = Expr::Compare(
        Box::new(Expr::Float(0.0, sp(1))),
        vec![(CmpOp::Le, name("x")), (CmpOp::Lt, Expr::Float(1.0, sp(1)))],
        sp(1),
    );
    let sqrt = Expr::Call(
        Callee::Builtin(Builtin::Math(MathFn::Sqrt)),
        vec![name("x")],
        sp(1),
    );
    let gt = Expr::Compare(
        Box::new(sqrt),
        vec![(CmpOp::Gt, Expr::Float(0.5, sp(1)))],
        sp(1),
    );
    let f = func(
        &[("x", Type::F64)],
        None,
        vec![ret(Expr::BoolOp(true, vec![cmp, gt], sp(1)))],
    );
    let k = compile(&f).unwrap();
    assert_eq!(k.signature.to_string(), "bool (double)");
    // SAFETY: bool (double).
    let g: extern "C" fn(f64) -> bool = unsafe { std::mem::transmute(k.address) };
    assert!(g(0.5));
    assert!(!g(0.1));
    assert!(!g(1.5));
    assert!(!g(f64::NAN));
}

#[test]
fn a_variable_mixing_int_and_float_becomes_float() {
    // x = 1; if flag: x = 2.5; return x
    let f = func(
        &[("flag", Type::Bool)],
        None,
        vec![
            Stmt::Assign(vec!["x".into()], vec![int(1)], sp(2)),
            Stmt::If(
                name("flag"),
                vec![Stmt::Assign(
                    vec!["x".into()],
                    vec![Expr::Float(2.5, sp(3))],
                    sp(3),
                )],
                vec![],
                sp(3),
            ),
            ret(name("x")),
        ],
    );
    let k = compile(&f).unwrap();
    assert_eq!(k.types.vars["x"], Type::F64);
    // SAFETY: double (bool).
    let g: extern "C" fn(bool) -> f64 = unsafe { std::mem::transmute(k.address) };
    assert_eq!(g(false), 1.0);
    assert_eq!(g(true), 2.5);
}

#[test]
fn type_errors_point_at_the_source() {
    // p: double*; p = 1.5  -> cannot assign
    let f = func(
        &[("p", Type::pointer(Type::F64))],
        Some(Type::F64),
        vec![
            Stmt::Assign(
                vec!["p".into()],
                vec![Expr::Float(1.5, Span { line: 7, col: 8 })],
                Span { line: 7, col: 4 },
            ),
            ret(Expr::Float(0.0, sp(8))),
        ],
    );
    let Err(KernelError::Compile(e)) = compile(&f) else {
        panic!("expected a compile error")
    };
    assert_eq!(e.kind, ErrorKind::Typing);
    assert_eq!((e.span.line, e.span.col), (7, 4));
    assert!(
        e.message.contains("parameter 'p' is float64*"),
        "{}",
        e.message
    );

    let f = func(&[("x", Type::F64)], Some(Type::F64), vec![ret(name("y"))]);
    let Err(KernelError::Compile(e)) = compile(&f) else {
        panic!("expected a compile error")
    };
    assert_eq!(e.kind, ErrorKind::Name);

    let f = func(&[("x", Type::F64)], Some(I64), vec![ret(name("x"))]);
    let Err(KernelError::Compile(e)) = compile(&f) else {
        panic!("expected a compile error")
    };
    assert!(e.message.contains("use int()"), "{}", e.message);

    let f = func(
        &[("x", Type::F64)],
        Some(Type::F64),
        vec![Stmt::If(name("x"), vec![ret(name("x"))], vec![], sp(2))],
    );
    let Err(KernelError::Compile(e)) = compile(&f) else {
        panic!("expected a compile error")
    };
    assert!(
        e.message.contains("can reach its end without returning"),
        "{}",
        e.message
    );
}

#[test]
fn runaway_recursion_returns_the_error_value_and_records_a_recursion_error() {
    // def k(n): return 0 if n == 0 else k(n - 1) + 1
    let f = func(
        &[("n", I64)],
        Some(I64),
        vec![
            Stmt::If(
                Expr::Compare(Box::new(name("n")), vec![(CmpOp::Eq, int(0))], sp(1)),
                vec![ret(int(0))],
                vec![],
                sp(1),
            ),
            ret(bin(
                BinOp::Add,
                Expr::Call(
                    Callee::SelfCall,
                    vec![bin(BinOp::Sub, name("n"), int(1))],
                    sp(1),
                ),
                int(1),
            )),
        ],
    );
    let k = compile(&f).unwrap();
    // SAFETY: the kernel has signature int64_t (int64_t).
    let g: extern "C" fn(i64) -> i64 = unsafe { std::mem::transmute(k.address) };
    use nativecall::jit::runtime::take_recursion_error;
    take_recursion_error();
    assert_eq!(g(1000), 1000);
    assert!(!take_recursion_error());
    // Far deeper than any thread's stack: each frame returns 0 as soon as the one below did.
    assert_eq!(g(1 << 40), 0);
    assert!(take_recursion_error());
    assert_eq!(g(10), 10);
    // A thread with a small stack gets its own, lower, limit.
    let small = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            (
                g(1000),
                take_recursion_error(),
                g(1 << 40),
                take_recursion_error(),
            )
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(small, (1000, false, 0, true));
}

/// A one-dimensional DLTensor over `data` (compact, on the CPU).
fn tensor_1d(data: &mut [f64], shape: &mut [i64; 1]) -> nativecall::abi::dlpack::DLTensor {
    // SAFETY: DLTensor is a C struct of pointers and integers, for which zero is valid.
    let mut t: nativecall::abi::dlpack::DLTensor = unsafe { std::mem::zeroed() };
    t.data = data.as_mut_ptr().cast();
    t.ndim = 1;
    t.shape = shape.as_mut_ptr();
    t
}

#[test]
fn an_array_parameter_assigned_another_array_indexes_and_measures_the_new_one() {
    // def k(a, b, c):
    //     if c: a = b
    //     return a[0] + a.shape[0]
    let arr = Type::Array {
        dtype: Box::new(Type::F64),
        ndim: 1,
        contiguous: false,
    };
    let shape0 = Expr::Shape(Box::new(name("a")), 0, sp(3));
    let f = func(
        &[("a", arr.clone()), ("b", arr), ("c", I64)],
        Some(Type::F64),
        vec![
            Stmt::If(
                name("c"),
                vec![Stmt::Assign(vec!["a".into()], vec![name("b")], sp(2))],
                vec![],
                sp(2),
            ),
            ret(bin(BinOp::Add, index("a", vec![int(0)]), shape0)),
        ],
    );
    let k = compile(&f).expect("compiles");
    type T = nativecall::abi::dlpack::DLTensor;
    let g: extern "C" fn(*const T, *const T, i64) -> f64 =
        unsafe { std::mem::transmute(k.address) };
    let (mut x, mut y) = ([1.0, 2.0], [10.0, 20.0, 30.0]);
    let (mut xs, mut ys) = ([2i64], [3i64]);
    let (tx, ty) = (tensor_1d(&mut x, &mut xs), tensor_1d(&mut y, &mut ys));
    assert_eq!(g(&tx, &ty, 0), 1.0 + 2.0);
    assert_eq!(g(&tx, &ty, 1), 10.0 + 3.0);
}
