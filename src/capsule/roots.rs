//! Many root finds in one native loop: scipy's `cython_optimize` solvers over arrays.
//!
//! The Python side (`nativecall.optimize`) broadcasts `a`, `b` and the extra arguments
//! with NumPy and casts each extra argument to its field's dtype; this loop fills the
//! callback's user-data struct per element and calls the C solver, without the GIL.

use std::ffi::{c_int, c_void};

use numpy::{
    PyArrayDescrMethods, PyReadonlyArray1, PyReadwriteArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use once_cell::sync::Lazy;
use pyo3::types::PyTuple;

use crate::abi::{self, Signature, Type};

use super::adapt::{cached_entry, pack_into, user_data_layout};
use super::call::Borrows;

use super::callable::NativeCallable;

/// scipy's `zeros_full_output` (`scipy/optimize/cython_optimize/_zeros.pxd`).
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct ZerosFullOutput {
    funcalls: c_int,
    iterations: c_int,
    error_num: c_int,
    root: f64,
}

const _: () = assert!(std::mem::size_of::<ZerosFullOutput>() == 24);
const _: () = assert!(std::mem::offset_of!(ZerosFullOutput, root) == 16);

type Callback = unsafe extern "C" fn(f64, *mut c_void) -> f64;
type Solver = unsafe extern "C" fn(
    Callback,
    f64,
    f64,
    *mut c_void,
    f64,
    f64,
    c_int,
    *mut ZerosFullOutput,
) -> f64;

/// scipy's `_EVALUEERR`: a NaN bracket end, or a NaN from `f` (the root is then NaN).
const VALUE_ERROR: c_int = -3;

/// The callback as the solver sees it: `f` with its user data, noting the first `x`
/// at which it returns NaN (the solver itself would take NaN for a sign change or a
/// step and go on to a wrong "root").
struct NanGuard {
    f: Callback,
    data: *mut c_void,
    nan_at: Option<f64>,
}

unsafe extern "C" fn guarded(x: f64, guard: *mut c_void) -> f64 {
    // SAFETY: the solver passes back the `NanGuard` that `Job::run` gave it, which
    // lives for the whole solve; nothing else touches it meanwhile.
    let g = unsafe { &mut *(guard as *mut NanGuard) };
    // SAFETY: `f` has the checked callback signature and `data` is its user data.
    let y = unsafe { (g.f)(x, g.data) };
    if y.is_nan() && g.nan_at.is_none() {
        g.nan_at = Some(x);
    }
    y
}

const SOLVER_SIGNATURE: &str =
    "double (double (*)(double, void *), double, double, void *, double, double, int, struct zeros_full_output *)";

struct Field {
    data: usize,
    itemsize: usize,
    offset: usize,
}

struct Job {
    solver: usize,
    f: usize,
    a: usize,
    b: usize,
    fields: Vec<Field>,
    struct_size: usize,
    xtol: f64,
    rtol: f64,
    maxiter: c_int,
    roots: usize,
    iterations: usize,
    calls: usize,
    flags: usize,
    nan_at: usize,
    n: usize,
}

// SAFETY: the addresses point into arrays the calling Python frame keeps alive (and
// borrowed) until `run` returns; nothing else writes them meanwhile.
unsafe impl Send for Job {}

impl Job {
    fn run(self) {
        // SAFETY: both signatures were checked against the expected ones before the Job was made.
        let solver: Solver = unsafe { std::mem::transmute::<usize, Solver>(self.solver) };
        let f: Callback = unsafe { std::mem::transmute::<usize, Callback>(self.f) };
        let mut buf = vec![0u64; self.struct_size.div_ceil(8).max(1)];
        // No extra arguments: the callback gets NULL, as a C caller with no data would pass.
        let base = if self.struct_size == 0 {
            std::ptr::null_mut()
        } else {
            buf.as_mut_ptr() as *mut u8
        };
        for i in 0..self.n {
            for fl in &self.fields {
                // SAFETY: each field array has `n` C-contiguous items of `itemsize` bytes, and
                // `offset + itemsize` fits in the struct (checked when the Job was made).
                unsafe {
                    let src = (fl.data as *const u8).add(i * fl.itemsize);
                    let dst = base.add(fl.offset);
                    // Fixed-size copies: a variable-length copy would call memcpy per element.
                    match fl.itemsize {
                        8 => {
                            (dst as *mut u64).write_unaligned((src as *const u64).read_unaligned())
                        }
                        4 => {
                            (dst as *mut u32).write_unaligned((src as *const u32).read_unaligned())
                        }
                        2 => {
                            (dst as *mut u16).write_unaligned((src as *const u16).read_unaligned())
                        }
                        n => std::ptr::copy_nonoverlapping(src, dst, n),
                    }
                }
            }
            // SAFETY: `a` and `b` hold `n` doubles (checked when the Job was made).
            let (a, b) = unsafe {
                (
                    *(self.a as *const f64).add(i),
                    *(self.b as *const f64).add(i),
                )
            };
            // SAFETY: the solver and callback have the signatures checked for the Job, and
            // `base` is the struct the callback reads its extra arguments from.
            let r = unsafe {
                solve_one(
                    solver,
                    f,
                    a,
                    b,
                    base as *mut c_void,
                    self.xtol,
                    self.rtol,
                    self.maxiter,
                )
            };
            // SAFETY: the output arrays hold `n` elements of the stated types (checked).
            unsafe {
                *(self.nan_at as *mut f64).add(i) = r.nan_at;
                *(self.roots as *mut f64).add(i) = r.root;
                *(self.iterations as *mut c_int).add(i) = r.iterations;
                *(self.calls as *mut c_int).add(i) = r.calls;
                *(self.flags as *mut c_int).add(i) = r.flag;
            }
        }
    }
}

/// What one solve gives: scipy's `RootResults` fields and the first `x` where `f` was NaN.
struct OneRoot {
    root: f64,
    iterations: c_int,
    calls: c_int,
    flag: c_int,
    nan_at: f64,
}

/// Solve `f(x, data) = 0` on `[a, b]` with `solver`.
///
/// # Safety
/// `solver` and `f` must be functions of the `Solver` and `Callback` types, and `data`
/// what `f` expects as its user data.
#[allow(clippy::too_many_arguments)]
unsafe fn solve_one(
    solver: Solver,
    f: Callback,
    a: f64,
    b: f64,
    data: *mut c_void,
    xtol: f64,
    rtol: f64,
    maxiter: c_int,
) -> OneRoot {
    let mut out = ZerosFullOutput::default();
    let mut guard = NanGuard {
        f,
        data,
        nan_at: None,
    };
    let root = if a.is_nan() || b.is_nan() {
        out.error_num = VALUE_ERROR;
        f64::NAN
    } else {
        // SAFETY: as the caller promises; the guard lives across the call.
        unsafe {
            solver(
                guarded,
                a,
                b,
                &mut guard as *mut NanGuard as *mut c_void,
                xtol,
                rtol,
                maxiter,
                &mut out,
            )
        }
    };
    if guard.nan_at.is_some() {
        out.error_num = VALUE_ERROR;
    }
    OneRoot {
        root: if out.error_num == -1 || out.error_num == VALUE_ERROR {
            f64::NAN
        } else {
            root
        },
        iterations: iterations_made(&out, root, a, b),
        calls: out.funcalls,
        flag: out.error_num,
        nan_at: guard.nan_at.unwrap_or(f64::NAN),
    }
}

/// The iterations a solve made. scipy's solvers return early (a sign error, a NaN or an
/// exact zero at a bracket end) after the two bracket evaluations but before they set
/// the count, which then holds whatever was on the stack; no iteration was made then.
/// A NaN or a sign error at the bracket is known from the flag; a zero at an end is told
/// from a solve that stopped inside its first iteration (at most one made) by the count
/// itself, so an unset count that happens to read 0 or 1 passes as it is.
fn iterations_made(out: &ZerosFullOutput, root: f64, a: f64, b: f64) -> c_int {
    let at_bracket = out.funcalls <= 2;
    let early = match out.error_num {
        -1 => true,
        VALUE_ERROR => at_bracket,
        0 => at_bracket && (root == a || root == b) && !(0..=1).contains(&out.iterations),
        _ => false,
    };
    if early {
        0
    } else {
        out.iterations
    }
}

/// The parsed signatures checked on every solve.
static SIGNATURES: Lazy<(Signature, Signature)> = Lazy::new(|| {
    (
        abi::parse_signature(SOLVER_SIGNATURE).expect("a valid signature"),
        abi::parse_signature("double (double, void *)").expect("a valid signature"),
    )
});

/// One root of `f(x, *args) = 0` on `[a, b]`: the scalar case of [`_solve_roots`], with
/// no arrays and no compilation after the first call (`f`'s user-data entry is cached
/// with `f`). Returns `(root, iterations, calls, flag, nan_at)` as `_solve_roots` fills
/// them. The GIL stays held: a scalar solve is short, and `f` may be a Python callback.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn _solve_root(
    solver: &Bound<'_, NativeCallable>,
    f: &Bound<'_, NativeCallable>,
    a: f64,
    b: f64,
    args: &Bound<'_, PyTuple>,
    xtol: f64,
    rtol: f64,
    maxiter: c_int,
) -> PyResult<(f64, c_int, c_int, c_int, f64)> {
    let (solver_sig, plain) = &*SIGNATURES;
    let s = solver.get();
    if !(s.signature.abi_eq(solver_sig) && s.hidden().is_empty()) {
        check_signature(s, SOLVER_SIGNATURE, "the solver")?;
    }
    let me = f.get();
    let mut borrows = Borrows::default();
    let (address, data, _entry) = if args.is_empty() && me.signature.abi_eq(plain) {
        (me.export_address()?, Vec::new(), None)
    } else {
        let sig = &me.signature;
        let params: Vec<&Type> = sig.arg_types().collect();
        let double = |t: &Type| t.abi_eq(&Type::F64);
        if !double(&sig.ret)
            || params.is_empty()
            || !double(params[0])
            || params.len() != 1 + args.len()
        {
            return Err(PyTypeError::new_err(format!(
                "f must take x and then the {} extra argument(s) in args and return a double; {} is '{sig}'",
                args.len(),
                me.name
            )));
        }
        let (entry, layout, size) = match me.user_data_entry.get() {
            Some(e) => e,
            None => {
                let (target, sources, layout, size) = user_data_layout(me, 1)?;
                let entry = cached_entry(f, &target, &sources, None)?;
                me.user_data_entry.get_or_init(|| (entry, layout, size))
            }
        };
        let data = match size {
            0 => Vec::new(),
            _ => pack_into(&me.name, 1, layout, *size, args, &mut borrows)?,
        };
        (entry.address, data, Some(entry.clone()))
    };
    let base = if data.is_empty() {
        std::ptr::null_mut()
    } else {
        data.as_ptr() as *mut c_void
    };
    // SAFETY: both signatures were checked above; `_entry` keeps the adapted code alive,
    // and `data` (with `borrows`, for pointer fields) outlives the solve.
    let r = unsafe {
        let solver: Solver = std::mem::transmute::<usize, Solver>(s.address);
        let f: Callback = std::mem::transmute::<usize, Callback>(address);
        solve_one(solver, f, a, b, base, xtol, rtol, maxiter)
    };
    Ok((r.root, r.iterations, r.calls, r.flag, r.nan_at))
}

fn check_signature(nc: &NativeCallable, want: &str, what: &str) -> PyResult<()> {
    let want = abi::parse_signature(want).expect("a valid signature");
    if nc.signature.abi_eq(&want) && nc.hidden().is_empty() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "{what} must have the signature '{want}', got {} with '{}'",
            nc.name, nc.signature
        )))
    }
}

/// Solve `f(x, *args) = 0` on `[a[i], b[i]]` for every `i` with a `cython_optimize`
/// solver, writing roots, iteration and call counts, error flags (0, -1 sign error,
/// -2 no convergence, -3 a NaN bracket end or a NaN from `f`) and, in `nan_at`, the
/// first `x` at which `f` returned NaN (else NaN). `fields` are `(array, offset)` for each extra argument,
/// already broadcast, raveled and cast to the field's type.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn _solve_roots(
    py: Python<'_>,
    solver: &Bound<'_, NativeCallable>,
    f: &Bound<'_, NativeCallable>,
    a: PyReadonlyArray1<'_, f64>,
    b: PyReadonlyArray1<'_, f64>,
    fields: Vec<(Bound<'_, PyUntypedArray>, usize, String)>,
    struct_size: usize,
    xtol: f64,
    rtol: f64,
    maxiter: c_int,
    mut roots: PyReadwriteArray1<'_, f64>,
    mut iterations: PyReadwriteArray1<'_, c_int>,
    mut calls: PyReadwriteArray1<'_, c_int>,
    mut flags: PyReadwriteArray1<'_, c_int>,
    mut nan_at: PyReadwriteArray1<'_, f64>,
) -> PyResult<()> {
    check_signature(solver.get(), SOLVER_SIGNATURE, "the solver")?;
    check_signature(f.get(), "double (double, void *)", "the callback")?;
    let n = a.len();
    let slices_ok = b.len() == n
        && roots.len() == n
        && iterations.len() == n
        && calls.len() == n
        && flags.len() == n
        && nan_at.len() == n;
    if !slices_ok {
        return Err(PyValueError::new_err(
            "a, b and the outputs must have the same length",
        ));
    }
    let contiguous = |x: &Bound<'_, PyUntypedArray>| x.is_c_contiguous();
    let mut job_fields = Vec::with_capacity(fields.len());
    for (arr, offset, ty) in &fields {
        let ty: Type =
            abi::parse_type_text(ty).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let size = ty.size().unwrap_or(0);
        let kind = arr.dtype().kind();
        let kind_ok = match ty {
            Type::Float(_) => kind == b'f',
            Type::Int(_) => kind == b'i' || kind == b'u',
            Type::Bool => kind == b'b',
            _ => false,
        };
        if !kind_ok
            || arr.dtype().itemsize() != size
            || arr.len() != n
            || !contiguous(arr)
            || offset + size > struct_size
        {
            return Err(PyTypeError::new_err(format!(
                "extra argument field {ty} at offset {offset}: expected a contiguous array of {n} items of {size} bytes"
            )));
        }
        // SAFETY: a live, C-contiguous NumPy array; its data pointer is valid for `n` items.
        let data = unsafe { (*arr.as_array_ptr()).fields.data } as usize;
        job_fields.push(Field {
            data,
            itemsize: size,
            offset: *offset,
        });
    }
    let a = a
        .as_slice()
        .map_err(|_| PyValueError::new_err("a must be contiguous"))?;
    let b = b
        .as_slice()
        .map_err(|_| PyValueError::new_err("b must be contiguous"))?;
    let job = Job {
        solver: solver.get().address,
        f: f.get().export_address()?,
        a: a.as_ptr() as usize,
        b: b.as_ptr() as usize,
        fields: job_fields,
        struct_size,
        xtol,
        rtol,
        maxiter,
        roots: roots
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("roots must be contiguous"))?
            .as_mut_ptr() as usize,
        iterations: iterations
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("contiguous"))?
            .as_mut_ptr() as usize,
        calls: calls
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("contiguous"))?
            .as_mut_ptr() as usize,
        flags: flags
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("contiguous"))?
            .as_mut_ptr() as usize,
        nan_at: nan_at
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("contiguous"))?
            .as_mut_ptr() as usize,
        n,
    };
    py.detach(move || job.run());
    Ok(())
}
