//! Ownership of JIT code memory.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::default_libcall_names;
use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::JitError;

static LIVE_MODULES: AtomicUsize = AtomicUsize::new(0);
static LIVE_CODE_BYTES: AtomicUsize = AtomicUsize::new(0);
/// The entry address of every live [`CodeMemory`].
static LIVE_ENTRIES: Lazy<Mutex<HashSet<usize>>> = Lazy::new(Default::default);

/// Whether `address` is the entry of generated code that is alive now (a kernel, an
/// adapted entry or a thunk): such code may record errors in the thread's kernel runtime
/// state, while a function from anywhere else (a C library, Cython) cannot.
pub fn is_generated_entry(address: usize) -> bool {
    LIVE_ENTRIES.lock().contains(&address)
}

/// How many code memories are alive and how many bytes of code they hold.
pub fn code_stats() -> (usize, usize) {
    (
        LIVE_MODULES.load(Ordering::Relaxed),
        LIVE_CODE_BYTES.load(Ordering::Relaxed),
    )
}

/// The host ISA with `opt_level=speed` and the host's CPU features, built once.
static HOST_ISA: Lazy<Result<OwnedTargetIsa, String>> = Lazy::new(|| {
    let mut flags = settings::builder();
    for (k, v) in [
        ("opt_level", "speed"),
        ("is_pic", "false"),
        ("use_colocated_libcalls", "false"),
    ] {
        flags
            .set(k, v)
            .map_err(|e| format!("cranelift flag {k}={v}: {e}"))?;
    }
    // The verifier checks every generated function in debug builds (the test suite's)
    // and wherever NATIVECALL_VERIFY=1; release builds skip it for compile speed.
    let verify =
        cfg!(debug_assertions) || std::env::var_os("NATIVECALL_VERIFY").is_some_and(|v| v == "1");
    flags
        .set("enable_verifier", if verify { "true" } else { "false" })
        .map_err(|e| e.to_string())?;
    let builder = cranelift_native::builder()
        .map_err(|e| format!("this host is not supported by Cranelift: {e}"))?;
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())
});

/// A fresh JIT module for the host.
pub(super) fn new_module() -> Result<JITModule, JitError> {
    let isa = HOST_ISA
        .as_ref()
        .map_err(|e| JitError::Unsupported(e.clone()))?
        .clone();
    Ok(JITModule::new(JITBuilder::with_isa(
        isa,
        default_libcall_names(),
    )))
}

/// Compile the function `ctx` holds as `id`, finalize the module, and hand the code to
/// a [`CodeMemory`]: the entry address and its owner.
pub(super) fn finish(
    mut module: JITModule,
    id: cranelift_module::FuncId,
    ctx: &mut cranelift_codegen::Context,
) -> Result<(usize, std::sync::Arc<CodeMemory>), JitError> {
    use cranelift_module::Module;
    module
        .define_function(id, ctx)
        .map_err(|e| JitError::Codegen(format!("{e:?}")))?;
    let bytes = ctx
        .compiled_code()
        .map(|c| c.code_buffer().len())
        .unwrap_or(0);
    module.clear_context(ctx);
    module
        .finalize_definitions()
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let address = module.get_finalized_function(id) as usize;
    Ok((
        address,
        std::sync::Arc::new(CodeMemory::new(module, bytes, address)),
    ))
}

/// Define the function `ctx` holds (signature `sig`), finalize it, and keep its memory
/// for the life of the process: for code made once per signature and shared by every
/// caller (invokers, Python entries), which is not counted as live generated code.
pub(super) fn finish_for_process(
    mut module: JITModule,
    sig: &cranelift_codegen::ir::Signature,
    ctx: &mut cranelift_codegen::Context,
) -> Result<usize, JitError> {
    use cranelift_module::Module;
    let id = module
        .declare_anonymous_function(sig)
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    module
        .define_function(id, ctx)
        .map_err(|e| JitError::Codegen(format!("{e:?}")))?;
    module.clear_context(ctx);
    module
        .finalize_definitions()
        .map_err(|e| JitError::Codegen(e.to_string()))?;
    let address = module.get_finalized_function(id) as usize;
    // The memory is never freed, so the module that owns it is not kept.
    std::mem::forget(module);
    Ok(address)
}

/// Finalized JIT code; the memory is freed when this is dropped.
///
/// Share it with `Arc`: every function pointer taken from it is valid exactly as
/// long as some clone of that `Arc` is alive.
pub struct CodeMemory {
    module: Mutex<Option<JITModule>>,
    bytes: usize,
    /// The address callers enter the code by.
    entry: usize,
}

// SAFETY: after finalization the module is never used to define or look up code
// again; it is only kept so its memory can be freed, under the mutex, on drop.
unsafe impl Send for CodeMemory {}
// SAFETY: as above; shared access never touches the module.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// Take ownership of a finalized module holding `bytes` of code entered at `entry`.
    pub fn new(module: JITModule, bytes: usize, entry: usize) -> CodeMemory {
        LIVE_MODULES.fetch_add(1, Ordering::Relaxed);
        LIVE_CODE_BYTES.fetch_add(bytes, Ordering::Relaxed);
        LIVE_ENTRIES.lock().insert(entry);
        CodeMemory {
            module: Mutex::new(Some(module)),
            bytes,
            entry,
        }
    }
}

impl Drop for CodeMemory {
    fn drop(&mut self) {
        if let Some(module) = self.module.lock().take() {
            // SAFETY: the last owner is going away, so no pointer into this code is
            // reachable from any NativeCallable, capsule or caller any more.
            unsafe { module.free_memory() };
        }
        LIVE_MODULES.fetch_sub(1, Ordering::Relaxed);
        LIVE_CODE_BYTES.fetch_sub(self.bytes, Ordering::Relaxed);
        LIVE_ENTRIES.lock().remove(&self.entry);
    }
}
