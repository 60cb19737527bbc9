//! The array helpers generated code calls: the median (a selection over a copy), the
//! scratch arrays of `np.empty`/`np.zeros`, and the errors they report.
//!
//! Sums, means, variances, minima and maxima are loops in generated code; only the
//! median needs scratch memory and a partial sort, which live here.

use std::cell::Cell;

/// How a reduction helper reads the elements: the element type of the array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum ElementKind {
    /// `float64`.
    F64 = 0,
    /// `float32`.
    F32 = 1,
    /// A signed integer of 1, 2, 4 or 8 bytes (the size is passed beside it).
    Signed = 2,
    /// An unsigned integer (or bool) of 1, 2, 4 or 8 bytes.
    Unsigned = 3,
}

/// Read element `i` of the array at `data` (byte stride `stride`) as a float64.
///
/// # Safety
/// `data + i*stride` must be a readable element of `kind` and `size` bytes.
unsafe fn element(data: *const u8, i: i64, stride: i64, kind: i64, size: i64) -> f64 {
    // SAFETY: the caller's element address; unaligned reads are fine for any array.
    unsafe {
        let p = data.offset((i * stride) as isize);
        match (kind, size) {
            (0, _) => p.cast::<f64>().read_unaligned(),
            (1, _) => p.cast::<f32>().read_unaligned() as f64,
            (2, 1) => p.cast::<i8>().read_unaligned() as f64,
            (2, 2) => p.cast::<i16>().read_unaligned() as f64,
            (2, 4) => p.cast::<i32>().read_unaligned() as f64,
            (2, _) => p.cast::<i64>().read_unaligned() as f64,
            (_, 1) => p.cast::<u8>().read_unaligned() as f64,
            (_, 2) => p.cast::<u16>().read_unaligned() as f64,
            (_, 4) => p.cast::<u32>().read_unaligned() as f64,
            _ => p.cast::<u64>().read_unaligned() as f64,
        }
    }
}

/// `np.median` (`skip_nan` 0) or `np.nanmedian` (1) of the `n` elements at `data`, `stride`
/// bytes apart, of `kind` and `size` bytes: the middle element of a sorted copy (the mean
/// of the two middle ones for an even count, `(0.0 + a + b) / 2` as NumPy's), NaN if any element
/// is NaN (`np.median`) or none is left (an empty array, or all NaN for `np.nanmedian`).
/// The array is never written.
///
/// # Safety
/// The `n` elements must be readable (generated code passes a view's own extent).
pub unsafe extern "C" fn median(
    data: *const u8,
    n: i64,
    stride: i64,
    kind: i64,
    size: i64,
    skip_nan: i64,
) -> f64 {
    // The copy: on the stack for the small windows filters pass, else on the heap.
    let count = n.max(0) as usize;
    let mut small = [0.0f64; 64];
    let mut big = Vec::new();
    let buf: &mut [f64] = if count <= small.len() {
        &mut small[..count]
    } else {
        big.resize(count, 0.0);
        &mut big[..]
    };
    let mut m = 0;
    let mut first_nan: Option<f64> = None;
    for i in 0..n {
        // SAFETY: i < n, the caller's extent.
        let x = unsafe { element(data, i, stride, kind, size) };
        if x.is_nan() {
            if skip_nan == 0 {
                // The array's first NaN, sign and all, as every reduction gives it.
                return x;
            }
            first_nan = first_nan.or(Some(x));
            continue;
        }
        buf[m] = x;
        m += 1;
    }
    let xs = &mut buf[..m];
    if m == 0 {
        // Nothing left: NaN, the array's first one if it held any (np.nanmedian of NaNs).
        return first_nan.unwrap_or(f64::NAN);
    }
    let (_, &mut upper, _) = xs.select_nth_unstable_by(m / 2, f64::total_cmp);
    // NumPy takes the mean of the middle one or two, summing from 0.0 (so a median of
    // -0.0 is 0.0).
    if m % 2 == 1 {
        return 0.0 + upper;
    }
    // The largest of the lower half is the other middle element.
    let lower = xs[..m / 2]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    (0.0 + lower + upper) / 2.0
}

/// The address of [`median`].
pub fn median_address() -> usize {
    median as *const () as usize
}

/// An error an array operation of a kernel records before the kernel returns early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum ArrayError {
    /// `np.min` of an empty array.
    EmptyMinimum = 0,
    /// `np.max` of an empty array.
    EmptyMaximum = 1,
    /// `np.empty(n)`/`np.zeros(n)` with `n < 0`.
    NegativeLength = 2,
    /// `np.empty(n)`/`np.zeros(n)` larger than the memory available.
    OutOfMemory = 3,
}

thread_local! {
    static ARRAY_ERROR: Cell<Option<ArrayError>> = const { Cell::new(None) };
}

/// Called by a kernel before it returns early from an array operation that failed
/// (`code` an [`ArrayError`]): recorded for the calling thread.
pub extern "C" fn array_error(code: i64) {
    let e = match code {
        0 => ArrayError::EmptyMinimum,
        1 => ArrayError::EmptyMaximum,
        2 => ArrayError::NegativeLength,
        _ => ArrayError::OutOfMemory,
    };
    ARRAY_ERROR.with(|c| c.set(Some(e)));
}

/// The address of [`array_error`].
pub fn array_error_address() -> usize {
    array_error as *const () as usize
}

/// Take (and clear) the array error this thread's last kernel call recorded.
pub fn take_array_error() -> Option<ArrayError> {
    ARRAY_ERROR.with(|c| c.take())
}

extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn calloc(count: usize, size: usize) -> *mut u8;
    fn free(p: *mut u8);
}

/// The memory of a scratch array of `count` elements of `size` bytes (`zeroed`: all
/// zero bytes), after freeing `old` (the array the same `np.empty` made on an earlier
/// pass, or NULL). NULL (with the error recorded) for a negative count or when memory
/// runs out; at least one byte is allocated, so an empty array is not NULL.
///
/// # Safety
/// `old` is NULL or a pointer this function returned and nothing freed since.
pub unsafe extern "C" fn scratch_alloc(
    old: *mut u8,
    count: i64,
    size: i64,
    zeroed: i64,
) -> *mut u8 {
    // SAFETY: the caller's contract on `old`; free(NULL) does nothing.
    unsafe { free(old) };
    if count < 0 {
        array_error(ArrayError::NegativeLength as i64);
        return std::ptr::null_mut();
    }
    let Some(bytes) = (count as u64)
        .checked_mul(size as u64)
        .filter(|b| *b <= isize::MAX as u64)
    else {
        array_error(ArrayError::OutOfMemory as i64);
        return std::ptr::null_mut();
    };
    let bytes = (bytes as usize).max(1);
    // SAFETY: plain C allocation of a positive size.
    let p = unsafe {
        if zeroed != 0 {
            calloc(bytes, 1)
        } else {
            malloc(bytes)
        }
    };
    if p.is_null() {
        array_error(ArrayError::OutOfMemory as i64);
    }
    p
}

/// Free a scratch array (NULL: nothing).
///
/// # Safety
/// `p` is NULL or a pointer [`scratch_alloc`] returned and nothing freed since.
pub unsafe extern "C" fn scratch_free(p: *mut u8) {
    // SAFETY: the caller's contract.
    unsafe { free(p) }
}

/// The address of [`scratch_alloc`].
pub fn scratch_alloc_address() -> usize {
    scratch_alloc as *const () as usize
}

/// The address of [`scratch_free`].
pub fn scratch_free_address() -> usize {
    scratch_free as *const () as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn median_of(xs: &[f64], skip_nan: i64) -> f64 {
        // SAFETY: the slice's own elements.
        unsafe { median(xs.as_ptr().cast(), xs.len() as i64, 8, 0, 8, skip_nan) }
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median_of(&[4.0, 1.0, 3.0, 2.0], 0), 2.5);
        assert_eq!(median_of(&[5.0, 1.0, 3.0], 0), 3.0);
    }

    #[test]
    fn a_nan_makes_the_median_nan_but_not_the_nanmedian() {
        assert!(median_of(&[1.0, f64::NAN, 3.0], 0).is_nan());
        assert_eq!(median_of(&[1.0, f64::NAN, 3.0], 1), 2.0);
        assert!(median_of(&[f64::NAN], 1).is_nan());
        assert!(median_of(&[], 0).is_nan());
    }

    #[test]
    fn a_scratch_array_of_a_negative_length_is_an_error_not_memory() {
        take_array_error();
        // SAFETY: NULL old memory.
        let p = unsafe { scratch_alloc(std::ptr::null_mut(), -1, 8, 0) };
        assert!(p.is_null());
        assert_eq!(take_array_error(), Some(ArrayError::NegativeLength));
        // SAFETY: as above; a zeroed array of three float64s.
        let p = unsafe { scratch_alloc(std::ptr::null_mut(), 3, 8, 1) };
        // SAFETY: the 24 bytes just allocated.
        let zeros = unsafe { std::slice::from_raw_parts(p.cast::<f64>(), 3) };
        assert_eq!(zeros, [0.0; 3]);
        // SAFETY: reallocating frees `p`, which is not used after.
        let q = unsafe { scratch_alloc(p, 0, 8, 0) };
        assert!(!q.is_null());
        assert_eq!(take_array_error(), None);
        // SAFETY: q came from scratch_alloc.
        unsafe { scratch_free(q) };
    }

    #[test]
    fn the_median_reads_integers_through_a_stride_without_writing() {
        let xs: [i32; 6] = [9, -1, 7, -1, 8, -1];
        // SAFETY: every other element of the array, 3 of them.
        let m = unsafe { median(xs.as_ptr().cast(), 3, 8, 2, 4, 0) };
        assert_eq!(m, 8.0);
        assert_eq!(xs, [9, -1, 7, -1, 8, -1]);
    }
}
