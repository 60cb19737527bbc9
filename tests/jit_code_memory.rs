//! Code memory is freed when the last owner goes (the only test in this binary, so the
//! process-wide counters are not disturbed by other tests).

use nativecall::abi::parse_signature;
use nativecall::jit::{code_stats, constant_args_thunk};

extern "C" fn id(x: f64, _skip: i32) -> f64 {
    x
}

#[test]
fn dropping_the_last_owner_frees_the_code() {
    let raw = parse_signature("double (double, int)").unwrap();
    let (modules0, bytes0) = code_stats();
    let thunks: Vec<_> = (0..20)
        .map(|_| constant_args_thunk(id as *const () as usize, &raw, &[(1, 0)]).unwrap())
        .collect();
    let (modules1, bytes1) = code_stats();
    assert_eq!(modules1, modules0 + 20);
    assert!(bytes1 > bytes0, "code bytes not counted");
    let clone = thunks[0].clone();
    drop(thunks);
    assert_eq!(code_stats().0, modules0 + 1, "a clone keeps its code alive");
    // SAFETY: the clone keeps the code alive; visible signature double (double).
    let f: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(clone.address) };
    assert_eq!(f(1.5), 1.5);
    drop(clone);
    assert_eq!(code_stats(), (modules0, bytes0));
}
