//! Array reductions that need more than a loop: the median (a selection over a copy)
//! and the error an empty `np.min`/`np.max` reports.
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
/// of the two middle ones for an even count, `(a + b) / 2` as NumPy's), NaN if any element
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
    let mut xs = Vec::with_capacity(n.max(0) as usize);
    for i in 0..n {
        // SAFETY: i < n, the caller's extent.
        let x = unsafe { element(data, i, stride, kind, size) };
        if x.is_nan() {
            if skip_nan == 0 {
                return f64::NAN;
            }
            continue;
        }
        xs.push(x);
    }
    let m = xs.len();
    if m == 0 {
        return f64::NAN;
    }
    let (_, &mut upper, _) = xs.select_nth_unstable_by(m / 2, f64::total_cmp);
    if m % 2 == 1 {
        return upper;
    }
    // The largest of the lower half is the other middle element.
    let lower = xs[..m / 2]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    (lower + upper) / 2.0
}

/// The address of [`median`].
pub fn median_address() -> usize {
    median as *const () as usize
}

thread_local! {
    static EMPTY_REDUCTION: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Called by a kernel before it returns early from `np.min` (`which` 0) or `np.max` (1)
/// of an empty array, which has no identity: recorded for the calling thread.
pub extern "C" fn empty_reduction(which: i64) {
    EMPTY_REDUCTION.with(|e| e.set(Some(which)));
}

/// The address of [`empty_reduction`].
pub fn empty_reduction_address() -> usize {
    empty_reduction as *const () as usize
}

/// Take (and clear) the empty reduction this thread's last kernel call recorded: the
/// NumPy name of the operation (`"minimum"` or `"maximum"`).
pub fn take_empty_reduction() -> Option<&'static str> {
    EMPTY_REDUCTION
        .with(|e| e.take())
        .map(|w| if w == 0 { "minimum" } else { "maximum" })
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
    fn the_median_reads_integers_through_a_stride_without_writing() {
        let xs: [i32; 6] = [9, -1, 7, -1, 8, -1];
        // SAFETY: every other element of the array, 3 of them.
        let m = unsafe { median(xs.as_ptr().cast(), 3, 8, 2, 4, 0) };
        assert_eq!(m, 8.0);
        assert_eq!(xs, [9, -1, 7, -1, 8, -1]);
    }
}
