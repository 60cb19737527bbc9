//! Signature parsing, printing and ABI equivalence, without Python.

use nativecall::abi::{
    add_typedef, parse_signature, parse_type_text, FloatType, IntType, Signature, Type,
    MAX_TYPE_DEPTH,
};

fn canonical(text: &str) -> String {
    match parse_signature(text) {
        Ok(sig) => sig.to_string(),
        Err(e) => panic!("{text:?} did not parse:\n{e}"),
    }
}

fn sig(text: &str) -> Signature {
    parse_signature(text).unwrap_or_else(|e| panic!("{text:?} did not parse:\n{e}"))
}

#[test]
fn scipy_callback_signatures_print_exactly_as_scipy_spells_them() {
    for text in [
        "double (double)",
        "double (double, void *)",
        "double (int, double *)",
        "double (int, double *, void *)",
        "int (double *, npy_intp, double *, void *)",
        "int (double *, npy_intp, double *, npy_intp, void *)",
        "int (npy_intp *, double *, int, int, void *)",
        "double (double, double, void *)",
        "void (void)",
    ] {
        assert_eq!(canonical(text), text);
    }
}

#[test]
fn c_spellings_of_pointer_sized_ints_print_as_npy_intp() {
    assert_eq!(
        canonical("int (double *, intptr_t, double *, void *)"),
        "int (double *, npy_intp, double *, void *)"
    );
    assert_eq!(
        canonical("double(Py_ssize_t,ssize_t)"),
        "double (npy_intp, npy_intp)"
    );
    assert_eq!(
        canonical("double (double x, void* user_data)"),
        "double (double, void *)"
    );
    assert_eq!(
        canonical("unsigned long long int (unsigned, signed char, short int)"),
        "unsigned long long (unsigned int, signed char, short)"
    );
    assert_eq!(
        canonical("long int (long long, size_t, uint64_t, int64_t)"),
        "long (long long, size_t, uint64_t, int64_t)"
    );
    assert_eq!(canonical("double f(double)"), "double (double)");
    assert_eq!(canonical("double ()"), "double (void)");
}

#[test]
fn numba_spellings_print_as_c() {
    assert_eq!(
        canonical("float64(float64, intp)"),
        "double (double, npy_intp)"
    );
    assert_eq!(
        canonical("intc(CPointer(float64), intp, CPointer(float64), voidptr)"),
        "int (double *, npy_intp, double *, void *)"
    );
    assert_eq!(
        canonical("float64(float64*, void*)"),
        "double (double *, void *)"
    );
    assert_eq!(
        canonical("none(int32, uint8, boolean, complex128, float32)"),
        "void (int, uint8_t, bool, double _Complex, float)"
    );
    assert_eq!(
        canonical("float64(float64(float64, voidptr)*, float64)"),
        "double (double (*)(double, void *), double)"
    );
    assert_eq!(
        sig("intc(CPointer(float64), intp, CPointer(float64), voidptr)")
            .numba_string()
            .unwrap(),
        "int32(CPointer(float64), intp, CPointer(float64), voidptr)"
    );
}

#[test]
fn cython_capi_names_drop_parameter_names_and_resolve_typedefs() {
    assert_eq!(
        canonical("double (double, int __pyx_skip_dispatch)"),
        "double (double, int)"
    );
    let s = sig("double (double, int __pyx_skip_dispatch)");
    assert_eq!(s.params[1].name.as_deref(), Some("__pyx_skip_dispatch"));
    assert_eq!(
        canonical("PY_LONG_LONG (double const *, __pyx_t_double_complex)"),
        "long long (const double *, double _Complex)"
    );
    assert_eq!(
        canonical("double (Py_ssize_t, double, int __pyx_skip_dispatch, struct __pyx_fuse_1__pyx_opt_args_5scipy_7special_14cython_special_spherical_jn *__pyx_optional_args)"),
        "double (npy_intp, double, int, struct __pyx_fuse_1__pyx_opt_args_5scipy_7special_14cython_special_spherical_jn *)"
    );
    assert_eq!(
        canonical("double (__pyx_t_5scipy_8optimize_15cython_optimize_6_zeros_callback_type, double, double, void *, double, double, int, __pyx_t_5scipy_8optimize_15cython_optimize_6_zeros_zeros_full_output *)"),
        "double (double (*)(double, void *), double, double, void *, double, double, int, struct zeros_full_output *)"
    );
    assert_eq!(
        canonical("void (char *, __pyx_t_5scipy_6linalg_13cython_lapack_dselect2 *, __pyx_t_5scipy_6linalg_13cython_lapack_z *)"),
        "void (char *, int (*)(double *, double *), double _Complex *)"
    );
}

#[test]
fn every_scipy_capsule_name_round_trips() {
    let names = include_str!("data/scipy_capsule_names.txt");
    let mut count = 0;
    for name in names
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let parsed = sig(name);
        let printed = parsed.to_string();
        let reparsed = sig(&printed);
        assert!(
            parsed.abi_eq(&reparsed),
            "{name:?} printed as {printed:?}, which means something else"
        );
        assert_eq!(
            reparsed.to_string(),
            printed,
            "printing is not a fixed point for {name:?}"
        );
        assert_eq!(
            parsed.params.len(),
            name.matches(',').count() + 1 - usize::from(name.ends_with("()"))
        );
        count += 1;
    }
    assert!(count > 1200, "only {count} names read");
}

#[test]
fn function_pointers_print_with_c_declarators() {
    let fp = parse_type_text("double (*)(double, void *)").unwrap();
    assert_eq!(fp.to_string(), "double (*)(double, void *)");
    assert_eq!(
        fp.function_signature().unwrap().to_string(),
        "double (double, void *)"
    );
    assert_eq!(parse_type_text("float64(float64, voidptr)*").unwrap(), fp);
    assert_eq!(
        parse_type_text("double (**)(int)").unwrap().to_string(),
        "double (**)(int)"
    );
    // A function returning a function pointer needs the inside-out C declarator.
    let ret_fp = Signature::new(fp.clone(), [Type::Int(IntType::Int)]);
    assert_eq!(ret_fp.to_string(), "double (*(int))(double, void *)");
    assert!(sig(&ret_fp.to_string()).abi_eq(&ret_fp));
    assert_eq!(
        canonical("double (double (*f)(double), double)"),
        "double (double (*)(double), double)"
    );
    assert_eq!(
        canonical("double (double f(double))"),
        "double (double (*)(double))"
    );
}

#[test]
fn const_placement_is_kept_in_print_and_ignored_by_abi_equality() {
    assert_eq!(
        parse_type_text("double const *").unwrap().to_string(),
        "const double *"
    );
    assert_eq!(
        parse_type_text("double * const *").unwrap().to_string(),
        "double *const *"
    );
    assert_eq!(
        parse_type_text("const char **").unwrap().to_string(),
        "const char **"
    );
    assert!(sig("double (const double *)").abi_eq(&sig("double (double *)")));
    assert_ne!(sig("double (const double *)"), sig("double (double *)"));
}

#[test]
fn abi_equality_follows_the_platform() {
    let long_is_64 = std::mem::size_of::<std::ffi::c_long>() == 8;
    assert_eq!(
        sig("long (long)").abi_eq(&sig("npy_intp (int64_t)")),
        long_is_64
    );
    assert!(!sig("int (int)").abi_eq(&sig("long (int)")));
    assert!(sig("int (int32_t)").abi_eq(&sig("intc(int32)")));
    assert!(!sig("double (double)").abi_eq(&sig("float (float)")));
    assert!(!sig("double (double *)").abi_eq(&sig("double (void *)")));
    assert!(!sig("double (float *)").abi_eq(&sig("double (double *)")));
    assert!(!sig("double (double)").abi_eq(&sig("double (double, void *)")));
    assert!(!sig("bool (int)").abi_eq(&sig("uint8_t (int)")));
    assert!(sig("double (double (*)(double, void *))")
        .abi_eq(&sig("float64(float64(float64, voidptr)*)")));
    assert!(!sig("double (double (*)(double, void *))").abi_eq(&sig("double (double (*)(double))")));
    assert!(!sig("double (struct a *)").abi_eq(&sig("double (struct b *)")));
}

#[test]
fn sizes_and_alignments_are_the_platforms() {
    let t = |s: &str| parse_type_text(s).unwrap();
    assert_eq!(t("double").size(), Some(8));
    assert_eq!(t("float").align(), Some(4));
    assert_eq!(t("int8_t").size(), Some(1));
    assert_eq!(t("bool").size(), Some(1));
    assert_eq!(
        t("long").size(),
        Some(std::mem::size_of::<std::ffi::c_long>())
    );
    assert_eq!(t("npy_intp").size(), Some(std::mem::size_of::<isize>()));
    assert_eq!(t("double _Complex").size(), Some(16));
    assert_eq!(t("double _Complex").align(), Some(8));
    assert_eq!(t("float _Complex").size(), Some(8));
    assert_eq!(t("void *").size(), Some(std::mem::size_of::<usize>()));
    assert_eq!(
        t("double (*)(double)").size(),
        Some(std::mem::size_of::<usize>())
    );
    assert_eq!(t("DLTensor *").size(), Some(std::mem::size_of::<usize>()));
    assert_eq!(Type::DLTensor.size(), Some(48));
    assert_eq!(t("void").size(), None);
    assert_eq!(IntType::Char.signed(), std::ffi::c_char::MIN != 0);
    assert_eq!(
        Type::Float(FloatType::LongDouble).to_string(),
        "long double"
    );
}

#[test]
fn malformed_signatures_point_at_the_problem() {
    let cases = [
        ("double (double, )", 16, "expected a type"),
        ("double (double", 14, "expected ',' or ')'"),
        ("doubel (double)", 0, "unknown type name 'doubel'"),
        ("double (double) x", 16, "unexpected 'x'"),
        ("double", 6, "is a type, not a function signature"),
        ("double (*)(double)", 0, "got a function pointer type"),
        ("double (double x y)", 17, "expected ',' or ')'"),
        ("unsigned double (int)", 0, "not a C type"),
        ("double (void, int)", 8, "'void' must be the only parameter"),
        ("double (double) $", 16, "unexpected character"),
        ("", 0, "expected a type"),
        ("double (struct foo)", 8, "by value is not supported"),
    ];
    for (text, position, message) in cases {
        let e = parse_signature(text).expect_err(text);
        assert_eq!(e.position, position, "{text:?}: {e}");
        assert!(e.message.contains(message), "{text:?}: {e}");
        let shown = e.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[1].trim_start(), text.trim_start());
        assert_eq!(
            lines[2].find('^').unwrap() - 4,
            position,
            "caret misplaced:\n{shown}"
        );
    }
}

#[test]
fn user_typedefs_extend_the_parser() {
    assert!(parse_signature("my_real_t (my_real_t)").is_err());
    add_typedef("my_real_t", parse_type_text("double").unwrap()).unwrap();
    add_typedef(
        "my_cb_t",
        parse_type_text("double (*)(my_real_t, void *)").unwrap(),
    )
    .unwrap();
    assert_eq!(
        canonical("my_real_t (my_cb_t, my_real_t *)"),
        "double (double (*)(double, void *), double *)"
    );
    assert!(add_typedef("double", Type::F32).is_err());
    assert!(add_typedef("not a name", Type::F32).is_err());
}

#[test]
fn numba_array_spellings_are_dltensor_pointers_at_the_abi() {
    let s = sig("float64(float64[:], int32[:, ::1], uint8[:, :, :, :])");
    assert_eq!(s.to_string(), "double (DLTensor *, DLTensor *, DLTensor *)");
    assert_eq!(s.params[0].ty, Type::array(Type::F64, 1));
    assert_eq!(s.params[1].ty, Type::c_array(Type::Int(IntType::Int), 2));
    assert!(s.abi_eq(&sig("double (DLTensor *, DLTensor *, struct DLTensor *)")));
    let e = parse_signature("float64(void[:])").unwrap_err();
    assert!(e.message.contains("array elements must be numbers"), "{e}");
    assert!(parse_signature("float64(float64[:,])").is_err());
}

#[test]
fn array_steps_other_than_a_last_one_are_refused() {
    for text in [
        "void(float64[::2])",
        "void(float64[::-1])",
        "void(float64[::1, :])",
        "void(float64[::1, ::1])",
        "void(float64[:, ::0])",
        "void(float64[:, ::])",
    ] {
        assert!(parse_signature(text).is_err(), "{text}");
    }
    let e = parse_signature("void(float64[:, ::2])").unwrap_err();
    assert!(e.message.contains("'::1' on the last one"), "{e}");
    assert_eq!(e.position, "void(float64[:, :".len());
    let s = sig("void(float64[::1], int8[:, :, ::1])");
    assert_eq!(s.params[0].ty, Type::c_array(Type::F64, 1));
    assert_eq!(s.params[1].ty, Type::c_array(Type::Int(IntType::I8), 3));
}

#[test]
fn nesting_past_the_depth_limit_is_an_error_at_the_level_that_exceeds_it() {
    let deep = |n: usize| format!("int {}(void)", "*".repeat(n));
    // `int *...*(void)`: the stars and the parameter list are one level each.
    let ok = sig(&deep(MAX_TYPE_DEPTH - 1));
    assert_eq!(Type::Function(Box::new(ok.clone())).depth(), MAX_TYPE_DEPTH);
    assert_eq!(sig(&ok.to_string()), ok);
    let e = parse_signature(&deep(MAX_TYPE_DEPTH)).unwrap_err();
    assert_eq!(e.position, "int ".len() + MAX_TYPE_DEPTH);
    assert!(
        e.message.contains("nest at most 64 levels"),
        "{}",
        e.message
    );
    for text in [
        format!("int {}(void)", "*".repeat(1_000_000)),
        format!(
            "void({}float64{})",
            "CPointer(".repeat(100_000),
            ")".repeat(100_000)
        ),
        format!("{}void{}", "void (*)(".repeat(100_000), ")".repeat(100_000)),
        format!("int f(double x{})", "[]".repeat(100_000)),
        format!("float64(float64){}", "*".repeat(1_000_000)),
        format!(
            "void({}double{})",
            "double(".repeat(100_000),
            ")".repeat(100_000)
        ),
    ] {
        let e = parse_signature(&text).unwrap_err();
        assert!(e.message.contains("nest at most"), "{}", e.message);
        assert!(e.position < 2_000, "{}", e.position);
    }
}

#[test]
fn parameters_nest_from_their_list_and_do_not_add_up() {
    let p = format!("double {}", "*".repeat(MAX_TYPE_DEPTH - 2));
    // Many parameters each just under the limit: siblings, not nesting.
    let text = format!("void ({})", vec![p.as_str(); 50].join(", "));
    assert_eq!(sig(&text).params.len(), 50);
    // The list is one level and the deepest parameter adds its own.
    assert!(parse_signature(&format!("void ({p}, {p}*)")).is_ok());
    let deeper = format!("void ({p}, {p}**)");
    assert!(parse_signature(&deeper).is_err());
}
