//! DLPack's C structs, as the ABI sees them.
//!
//! The definitions are dlpark's (generated from `dlpack.h`, with size and offset
//! asserts); this module re-exports them so the rest of the ABI names one place, and
//! defines the byte offsets of [`DLTensor`]'s fields that generated code reads, each
//! asserted at compile time against the `#[repr(C)]` struct.

pub use dlpark::ffi::{
    DLDataType, DLDataTypeCode, DLDevice, DLDeviceType, DLManagedTensor, DLManagedTensorVersioned,
    DLPackVersion, DLTensor,
};

/// Byte offsets of [`DLTensor`]'s fields (generated code reads a tensor through them).
pub mod dltensor_offset {
    /// `void *data`.
    pub const DATA: i32 = 0;
    /// `DLDevice device`.
    pub const DEVICE: i32 = 8;
    /// `int32_t ndim`.
    pub const NDIM: i32 = 16;
    /// `DLDataType dtype`.
    pub const DTYPE: i32 = 20;
    /// `int64_t *shape`.
    pub const SHAPE: i32 = 24;
    /// `int64_t *strides` (NULL for compact row-major).
    pub const STRIDES: i32 = 32;
    /// `uint64_t byte_offset`, added to `data`.
    pub const BYTE_OFFSET: i32 = 40;
}

// The layout the rest of the crate relies on (dlpark asserts the same).
const _: () = {
    use dltensor_offset as at;
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<DLTensor>() == 48);
    assert!(align_of::<DLTensor>() == 8);
    assert!(offset_of!(DLTensor, data) == at::DATA as usize);
    assert!(offset_of!(DLTensor, device) == at::DEVICE as usize);
    assert!(offset_of!(DLTensor, ndim) == at::NDIM as usize);
    assert!(offset_of!(DLTensor, dtype) == at::DTYPE as usize);
    assert!(offset_of!(DLTensor, shape) == at::SHAPE as usize);
    assert!(offset_of!(DLTensor, strides) == at::STRIDES as usize);
    assert!(offset_of!(DLTensor, byte_offset) == at::BYTE_OFFSET as usize);
};
