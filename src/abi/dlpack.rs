//! DLPack's C structs, as the ABI sees them.
//!
//! The definitions are dlpark's (generated from `dlpack.h`, with size and offset
//! asserts); this module re-exports them so the rest of the ABI names one place.

pub use dlpark::ffi::{
    DLDataType, DLDataTypeCode, DLDevice, DLDeviceType, DLManagedTensor, DLManagedTensorVersioned,
    DLPackVersion, DLTensor,
};

// The layout the rest of the crate relies on (dlpark asserts the same).
const _: () = assert!(std::mem::size_of::<DLTensor>() == 48);
const _: () = assert!(std::mem::align_of::<DLTensor>() == 8);
const _: () = assert!(std::mem::offset_of!(DLTensor, ndim) == 16);
const _: () = assert!(std::mem::offset_of!(DLTensor, shape) == 24);
