//! The per-thread state kernels that make calls read to check the stack.

use std::cell::Cell;

/// What the kernels running on one thread share to check the stack. Generated code gets a
/// pointer to it once per call from outside (see [`stack_state`]) and reads and writes
/// the fields directly; the offsets are asserted below.
#[repr(C)]
pub struct StackState {
    /// The lowest stack address at which a kernel may still make a call.
    pub limit: Cell<usize>,
    /// 1 while kernels return from a call that found the stack nearly full.
    pub unwinding: Cell<u8>,
    /// 1 once that happened, until the Python caller takes it.
    pub error: Cell<u8>,
}

/// Offsets generated code uses.
pub const STACK_LIMIT_OFFSET: i32 = 0;
/// See [`STACK_LIMIT_OFFSET`].
pub const STACK_UNWINDING_OFFSET: i32 = 8;
/// See [`STACK_LIMIT_OFFSET`].
pub const STACK_ERROR_OFFSET: i32 = 9;
const _: () = {
    assert!(std::mem::offset_of!(StackState, limit) == STACK_LIMIT_OFFSET as usize);
    assert!(std::mem::offset_of!(StackState, unwinding) == STACK_UNWINDING_OFFSET as usize);
    assert!(std::mem::offset_of!(StackState, error) == STACK_ERROR_OFFSET as usize);
};

thread_local! {
    static STACK_STATE: StackState = const {
        StackState {
            limit: Cell::new(0),
            unwinding: Cell::new(0),
            error: Cell::new(0),
        }
    };
}

/// Stack kept free below a kernel's frame for what it calls (C functions, helpers).
const STACK_RESERVE: usize = 256 * 1024;

/// The lowest address of this thread's stack and its size, if the platform says.
#[cfg(target_os = "linux")]
fn thread_stack() -> Option<(usize, usize)> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read, and
    // destroyed once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        ok.then_some((addr as usize, size))
    }
}

#[cfg(target_os = "macos")]
fn thread_stack() -> Option<(usize, usize)> {
    // SAFETY: both calls only read the current thread's attributes.
    unsafe {
        let me = libc::pthread_self();
        let top = libc::pthread_get_stackaddr_np(me) as usize;
        let size = libc::pthread_get_stacksize_np(me);
        Some((top - size, size))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn thread_stack() -> Option<(usize, usize)> {
    None
}

/// The limit for a thread whose stack pointer is near `sp`: the bottom of its stack plus
/// a reserve (a quarter of a small stack). Where the platform cannot say, 1 MiB below `sp`.
fn stack_limit(sp: usize) -> usize {
    let limit = match thread_stack() {
        Some((low, size)) if low < sp && sp <= low + size => low + STACK_RESERVE.min(size / 4),
        _ => sp.saturating_sub(1024 * 1024),
    };
    limit.max(1)
}

/// Called once per call from outside by every kernel that makes calls (only those can
/// recurse): this thread's [`StackState`], its limit found on first use. A call from
/// outside starts afresh, so any earlier unwinding is over.
pub extern "C" fn stack_state() -> *const StackState {
    let probe = 0u8;
    let sp = std::ptr::addr_of!(probe) as usize;
    STACK_STATE.with(|s| {
        if s.limit.get() == 0 {
            s.limit.set(stack_limit(sp));
        }
        s.unwinding.set(0);
        s as *const StackState
    })
}

/// The address of [`stack_state`].
pub fn stack_state_address() -> usize {
    stack_state as *const () as usize
}

/// Take (and clear) whether a kernel on this thread found the stack nearly full since
/// the last take.
pub fn take_recursion_error() -> bool {
    STACK_STATE.with(|s| {
        s.unwinding.set(0);
        s.error.replace(0) != 0
    })
}
